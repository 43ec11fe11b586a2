"""The imported CMS NCCI tables (practitioner PTP edits, MUEs), one set of rows per quarter.

`replace` writes one kind and quarter in a single database transaction: the quarter's old rows
are deleted and the new ones inserted before the commit, so a reader sees the old quarter or the
new one, never half of either; a failure leaves the old quarter in place. Other quarters are kept
beside it (the date of service picks among them). `tables` reads every quarter back into the
in-memory index the scrubber uses (`integration.coding.ncci`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

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
from integration.store.models import NcciMue, NcciPtpEdit, NcciReferenceImport

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
