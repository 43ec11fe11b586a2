"""The imported CMS NCCI tables (practitioner PTP edits, MUEs), one set of rows per quarter,
and the imported LCD billing article ICD-10 lists, one set of rows per article version.

`replace` writes one kind and quarter in a single database transaction: the quarter's old rows
are deleted and the new ones inserted before the commit, so a reader sees the old quarter or the
new one, never half of either; a failure leaves the old quarter in place. Other quarters are kept
beside it (the date of service picks among them). `tables` reads every quarter back into the
in-memory index the scrubber uses (`integration.coding.ncci`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from integration.coding.lcd_import import (
    ArticleCode,
    ArticleInfo,
    ArticleLink,
    ArticleList,
    LcdArticleTable,
)
from integration.coding.ncci import (
    Kind,
    MueEdit,
    MueQuarter,
    MueTable,
    ParsedFile,
    PtpEdit,
    PtpQuarter,
    PtpTable,
    index_ptp,
    parse_quarter,
)
from integration.store.models import (
    LcdArticleCode,
    LcdArticleImport,
    NcciMue,
    NcciPtpEdit,
    NcciReferenceImport,
)

_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class ImportRecord:
    kind: str
    quarter: str
    version: str
    files: tuple[str, ...]
    sha256: tuple[str, ...]
    rows: int
    imported_at: datetime
    replaced: bool = False  # an earlier import of the same kind and quarter was replaced

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "quarter": self.quarter,
            "version": self.version,
            "files": list(self.files),
            "sha256": list(self.sha256),
            "rows": self.rows,
            "imported_at": self.imported_at.isoformat(),
            "replaced": self.replaced,
        }


def _record(row: NcciReferenceImport, replaced: bool = False) -> ImportRecord:
    return ImportRecord(
        kind=row.kind,
        quarter=row.quarter,
        version=row.version,
        files=tuple(row.files.split("|")) if row.files else (),
        sha256=tuple(row.sha256.split("|")) if row.sha256 else (),
        rows=row.rows,
        imported_at=row.imported_at,
        replaced=replaced,
    )


def _chunks(items: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class NcciReferenceStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def replace(
        self,
        kind: Kind,
        quarter: str,
        files: Sequence[ParsedFile],
        sha256: Sequence[str],
        *,
        version: str = "",
        now: datetime | None = None,
    ) -> ImportRecord:
        """Store `files` as the `kind` table of `quarter`, replacing that quarter atomically."""
        quarter = parse_quarter(quarter)
        if kind == "ncci-ptp":
            rows: list[dict[str, Any]] = [
                {
                    "column1": e.column1,
                    "column2": e.column2,
                    "modifier_indicator": e.modifier_indicator,
                    "effective": e.effective,
                    "deletion": e.deletion,
                    "rationale": e.rationale,
                    "prior_1996": e.prior_1996,
                }
                for f in files
                for e in f.ptp
            ]
            table: Any = NcciPtpEdit.__table__
        elif kind == "mue":
            merged: dict[str, MueEdit] = {}
            for f in files:
                for m in f.mue:
                    merged[m.code] = m
            rows = [
                {"code": m.code, "units": m.units, "mai": m.mai, "rationale": m.rationale}
                for m in merged.values()
            ]
            table = NcciMue.__table__
        else:
            raise ValueError(f"kind: expected ncci-ptp or mue, got {kind!r}")
        if not rows:
            raise ValueError(f"{kind} {quarter}: no rows to import")
        with self.sessions.begin() as session:
            old = session.scalars(
                select(NcciReferenceImport).where(
                    NcciReferenceImport.kind == kind, NcciReferenceImport.quarter == quarter
                )
            ).one_or_none()
            replaced = old is not None
            if old is not None:
                session.execute(delete(table).where(table.c.import_id == old.id))
                session.delete(old)
                session.flush()
            record = NcciReferenceImport(
                kind=kind,
                quarter=quarter,
                version=version,
                files="|".join(f.name for f in files),
                sha256="|".join(sha256),
                rows=len(rows),
                imported_at=now or datetime.now(UTC),
            )
            session.add(record)
            session.flush()
            for chunk in _chunks([{**r, "import_id": record.id} for r in rows]):
                session.execute(insert(table), chunk)
            return _record(record, replaced)

    def imports(self) -> list[ImportRecord]:
        with self.sessions() as session:
            found = session.scalars(
                select(NcciReferenceImport).order_by(
                    NcciReferenceImport.kind, NcciReferenceImport.quarter
                )
            ).all()
            return [_record(r) for r in found]

    def ptp_table(self) -> PtpTable | None:
        """Every imported PTP quarter, or None when none was imported."""
        with self.sessions() as session:
            quarters: list[PtpQuarter] = []
            for imp in session.scalars(
                select(NcciReferenceImport).where(NcciReferenceImport.kind == "ncci-ptp")
            ).all():
                result = session.execute(
                    select(
                        NcciPtpEdit.column1,
                        NcciPtpEdit.column2,
                        NcciPtpEdit.modifier_indicator,
                        NcciPtpEdit.effective,
                        NcciPtpEdit.deletion,
                        NcciPtpEdit.rationale,
                        NcciPtpEdit.prior_1996,
                    )
                    .where(NcciPtpEdit.import_id == imp.id)
                    .order_by(NcciPtpEdit.id)
                )
                edits = (PtpEdit(*row) for row in result)
                quarters.append(
                    PtpQuarter(
                        quarter=imp.quarter,
                        version=imp.version,
                        files=tuple(imp.files.split("|")),
                        edits=index_ptp(edits),
                    )
                )
        return PtpTable(quarters) if quarters else None

    def mue_table(self) -> MueTable | None:
        with self.sessions() as session:
            quarters: list[MueQuarter] = []
            for imp in session.scalars(
                select(NcciReferenceImport).where(NcciReferenceImport.kind == "mue")
            ).all():
                result = session.execute(
                    select(NcciMue.code, NcciMue.units, NcciMue.mai, NcciMue.rationale).where(
                        NcciMue.import_id == imp.id
                    )
                )
                quarters.append(
                    MueQuarter(
                        quarter=imp.quarter,
                        files=tuple(imp.files.split("|")),
                        edits={row[0]: MueEdit(*row) for row in result},
                    )
                )
        return MueTable(quarters) if quarters else None


# -- LCD billing article ICD-10 lists --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArticleImportRecord:
    article_id: str
    version: int
    effective: date | None
    ending: date | None
    files: tuple[str, ...]
    sha256: tuple[str, ...]
    covered: int
    noncovered: int
    imported_at: datetime
    replaced: bool = False  # an earlier import of the same article version was replaced

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "lcd-article",
            "article_id": self.article_id,
            "version": self.version,
            "effective": self.effective.isoformat() if self.effective else None,
            "ending": self.ending.isoformat() if self.ending else None,
            "files": list(self.files),
            "sha256": list(self.sha256),
            "covered": self.covered,
            "noncovered": self.noncovered,
            "imported_at": self.imported_at.isoformat(),
            "replaced": self.replaced,
        }


@dataclass(frozen=True, slots=True)
class ArticleVersionImport:
    """What to store for one article version: its codes, its dates (when article.csv was among
    the files) and the files (name, sha256) its rows came from."""

    article_id: str
    version: int
    codes: Sequence[ArticleCode]
    info: ArticleInfo | None
    files: Sequence[tuple[str, str]]
    lcds: Sequence[str] | None = None  # related LCDs, when article_related_documents was given


class LcdArticleStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def replace(
        self, items: Sequence[ArticleVersionImport], *, now: datetime | None = None
    ) -> list[ArticleImportRecord]:
        """Store each article version, replacing an earlier import of the same article version
        (its codes, covered and non-covered, all of them; its dates only when `info` is given,
        else the stored dates are kept); all of `items` in one transaction (all or nothing).
        Other versions are kept."""
        at = now or datetime.now(UTC)
        out: list[ArticleImportRecord] = []
        with self.sessions.begin() as session:
            for item in items:
                merged: dict[tuple[str, bool], ArticleCode] = {}
                for c in item.codes:
                    if (c.article_id, c.version) != (item.article_id, item.version):
                        raise ValueError(
                            f"{item.article_id} version {item.version}: a code of "
                            f"{c.article_id} version {c.version} among its rows"
                        )
                    merged[(c.code, c.covered)] = c
                if not merged:
                    raise ValueError(f"{item.article_id} version {item.version}: no codes")
                old = session.scalars(
                    select(LcdArticleImport).where(
                        LcdArticleImport.article_id == item.article_id,
                        LcdArticleImport.version == item.version,
                    )
                ).one_or_none()
                if old is not None:
                    session.execute(
                        delete(LcdArticleCode).where(LcdArticleCode.import_id == old.id)
                    )
                    session.delete(old)
                    session.flush()
                dates = (item.info.effective, item.info.ending) if item.info else None
                if dates is None and old is not None:  # no article.csv this time: keep its dates
                    dates = (old.effective, old.ending)
                lcds = "|".join(item.lcds) if item.lcds is not None else None
                if lcds is None:  # no article_related_documents this time: keep the links
                    lcds = old.lcds if old is not None else ""
                record = LcdArticleImport(
                    article_id=item.article_id,
                    version=item.version,
                    effective=dates[0] if dates else None,
                    ending=dates[1] if dates else None,
                    files="|".join(name for name, _ in item.files),
                    sha256="|".join(digest for _, digest in item.files),
                    rows=len(merged),
                    imported_at=at,
                    lcds=lcds,
                )
                session.add(record)
                session.flush()
                rows = [
                    {
                        "import_id": record.id,
                        "code": c.code,
                        "code_group": c.group,
                        "covered": c.covered,
                    }
                    for c in merged.values()
                ]
                for chunk in _chunks(rows):
                    session.execute(insert(LcdArticleCode), chunk)
                out.append(
                    _article_record(
                        record,
                        covered=sum(1 for c in merged.values() if c.covered),
                        replaced=old is not None,
                    )
                )
        return out

    def link(self, links: Iterable[ArticleLink]) -> int:
        """Record the related LCDs of article versions imported earlier (an
        article_related_documents.csv imported on its own); the versions updated. Links of
        versions not imported are left out: they have no lists to use."""
        by_key: dict[tuple[str, int], list[str]] = {}
        for link in links:
            have = by_key.setdefault((link.article_id, link.version), [])
            if link.lcd_id not in have:
                have.append(link.lcd_id)
        updated = 0
        with self.sessions.begin() as session:
            for (article_id, version), lcds in by_key.items():
                row = session.scalars(
                    select(LcdArticleImport).where(
                        LcdArticleImport.article_id == article_id,
                        LcdArticleImport.version == version,
                    )
                ).one_or_none()
                if row is not None:
                    row.lcds = "|".join(lcds)
                    updated += 1
        return updated

    def imports(self) -> list[ArticleImportRecord]:
        with self.sessions() as session:
            found = session.scalars(
                select(LcdArticleImport).order_by(
                    LcdArticleImport.article_id, LcdArticleImport.version
                )
            ).all()
            out = []
            for row in found:
                covered = session.scalar(
                    select(func.count())
                    .select_from(LcdArticleCode)
                    .where(LcdArticleCode.import_id == row.id, LcdArticleCode.covered.is_(True))
                )
                out.append(_article_record(row, covered=int(covered or 0)))
            return out

    def table(self) -> LcdArticleTable | None:
        """Every imported article version, or None when none was imported."""
        lists: list[ArticleList] = []
        with self.sessions() as session:
            for imp in session.scalars(select(LcdArticleImport)).all():
                covered: dict[str, int] = {}
                noncovered: dict[str, int] = {}
                for code, group, is_covered in session.execute(
                    select(
                        LcdArticleCode.code, LcdArticleCode.code_group, LcdArticleCode.covered
                    ).where(LcdArticleCode.import_id == imp.id)
                ):
                    (covered if is_covered else noncovered)[code.replace(".", "")] = group
                imported_at = imp.imported_at
                if imported_at.tzinfo is None:  # SQLite keeps no zone; we wrote UTC
                    imported_at = imported_at.replace(tzinfo=UTC)
                lists.append(
                    ArticleList(
                        article_id=imp.article_id,
                        version=imp.version,
                        effective=imp.effective,
                        ending=imp.ending,
                        imported_at=imported_at,
                        files=tuple(imp.files.split("|")) if imp.files else (),
                        covered=covered,
                        noncovered=noncovered,
                        lcds=tuple(imp.lcds.split("|")) if imp.lcds else (),
                    )
                )
        return LcdArticleTable(lists) if lists else None


def _article_record(
    row: LcdArticleImport, *, covered: int, replaced: bool = False
) -> ArticleImportRecord:
    return ArticleImportRecord(
        article_id=row.article_id,
        version=row.version,
        effective=row.effective,
        ending=row.ending,
        files=tuple(row.files.split("|")) if row.files else (),
        sha256=tuple(row.sha256.split("|")) if row.sha256 else (),
        covered=covered,
        noncovered=row.rows - covered,
        imported_at=row.imported_at,
        replaced=replaced,
    )
