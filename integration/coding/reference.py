"""The CMS reference tables the scrubber loads: every NCCI quarter imported into the database
with `dermrcm refdata import-ncci` / `import-mue`, as the in-memory index of
`integration.coding.ncci`, and every LCD billing article version imported with
`dermrcm refdata import-lcd` (`integration.coding.lcd_import.LcdArticleTable`).

`load_reference()` returns {"ncci-ptp": PtpTable, "mue": MueTable, "lcd-articles":
LcdArticleTable}, leaving out a table never imported (and all when the database has not been
migrated yet); the NCCI and MUE rule families then say once per claim that the tables are not
loaded, and the LCD family falls back to its (unverified) yaml diagnosis groups.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from integration.store.coding_reference import LcdArticleStore, NcciReferenceStore
from integration.store.database import current_tables, make_engine, session_factory


def load_reference(engine: Engine | None = None) -> dict[str, Any]:
    """The imported NCCI PTP, MUE and LCD article tables from `engine` (else the database of
    `Settings()`)."""
    own = engine is None
    if engine is None:
        from integration.settings import Settings

        engine = make_engine(Settings().database_url)
    try:
        tables = current_tables(engine)
        out: dict[str, Any] = {}
        if "ncci_reference_import" in tables:
            store = NcciReferenceStore(session_factory(engine))
            ptp = store.ptp_table()
            if ptp is not None:
                out["ncci-ptp"] = ptp
            mue = store.mue_table()
            if mue is not None:
                out["mue"] = mue
        if "lcd_article_import" in tables:
            articles = LcdArticleStore(session_factory(engine)).table()
            if articles is not None:
                out["lcd-articles"] = articles
        return out
    finally:
        if own:
            engine.dispose()
