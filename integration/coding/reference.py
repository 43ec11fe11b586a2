"""The NCCI reference tables the scrubber loads: every quarter imported into the database with
`dermrcm refdata import-ncci` / `import-mue`, as the in-memory index of `integration.coding.ncci`.

`load_reference()` returns {"ncci-ptp": PtpTable, "mue": MueTable}, leaving out a table never
imported (and both when the database has not been migrated yet); the NCCI and MUE rule families
then say once per claim that the tables are not loaded.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from integration.store.coding_reference import NcciReferenceStore
from integration.store.database import current_tables, make_engine, session_factory


def load_reference(engine: Engine | None = None) -> dict[str, Any]:
    """The imported NCCI PTP and MUE tables from `engine` (else the database of `Settings()`)."""
    own = engine is None
    if engine is None:
        from integration.settings import Settings

        engine = make_engine(Settings().database_url)
    try:
        if "ncci_reference_import" not in current_tables(engine):
            return {}
        store = NcciReferenceStore(session_factory(engine))
        out: dict[str, Any] = {}
        ptp = store.ptp_table()
        if ptp is not None:
            out["ncci-ptp"] = ptp
        mue = store.mue_table()
        if mue is not None:
            out["mue"] = mue
        return out
    finally:
        if own:
            engine.dispose()
