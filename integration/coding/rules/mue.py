"""Medically unlikely edits (MUE): the most units of a code one practitioner reports for one
patient on one date of service, from the imported CMS practitioner services MUE file of the
quarter covering the date. What happens above the MUE depends on its adjudication indicator:

- MAI 1, line edit: each claim line is checked alone; a line with more units than the MUE is
  denied whole. Error, no fix: a person decides whether the units are wrong or the extra units
  belong on another line with the modifier that shows why (e.g. a different site).
- MAI 2, date of service edit, policy: the day's units of the code on all lines together are
  capped at the MUE (more is never correct coding, and appeals are not paid). Error, fixed by
  cutting the units, from the last line back, down to the MUE.
- MAI 3, date of service edit, clinical: the day's units above the MUE are denied but may be paid
  on appeal with documentation of medical necessity. Warning, no fix.

Source: CMS, Medically Unlikely Edits (practitioner services table) and the NCCI Policy Manual
for Medicare Services, Chapter I, General Correct Coding Policies, "Medically Unlikely Edits".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from integration.coding.engine import Family, LoadContext
from integration.coding.model import RuleSource, WorkClaim, WorkLine
from integration.coding.ncci import MueEdit, MueQuarter, MueTable
from integration.coding.rules.ncci_ptp import NOT_LOADED

MUE_URL = (
    "https://www.cms.gov/medicare/coding-billing/national-correct-coding-initiative-ncci-edits/"
    "medicare-ncci-medically-unlikely-edits"
)


@dataclass(frozen=True, slots=True)
class MueData:
    table: MueTable | None
    ptp_loaded: bool


def load(ctx: LoadContext) -> MueData:
    table = ctx.reference.get("mue")
    if table is not None and not isinstance(table, MueTable):
        raise TypeError(f"reference 'mue': expected a MueTable, got {type(table).__name__}")
    return MueData(table=table, ptp_loaded=ctx.reference.get("ncci-ptp") is not None)


def _source(edit: MueEdit, quarter: MueQuarter) -> RuleSource:
    rationale = f"; MUE rationale: {edit.rationale}" if edit.rationale else ""
    return RuleSource(
        title=(
            f"CMS Medically Unlikely Edits, practitioner services: MAI {edit.mai} "
            f"({edit.mai_description})"
        ),
        url=MUE_URL,
        document_id=quarter.label,
        note=f"{edit.code}: MUE {edit.units}{rationale}; NCCI Policy Manual for Medicare "
        "Services, Chapter I, Medically Unlikely Edits",
    )


def _units(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


def _count(value: Decimal) -> str:
    return f"{_units(value)} unit{'' if value == 1 else 's'}"


def _where(lines: list[WorkLine]) -> str:
    numbers = [str(ln.origin) for ln in lines if ln.origin is not None]
    added = len(lines) - len(numbers)
    parts = []
    if numbers:
        parts.append(("line " if len(numbers) == 1 else "lines ") + ", ".join(numbers))
    if added:
        parts.append(f"{added} added line{'s' if added > 1 else ''}")
    return " and ".join(parts)


def _day(day: date | None) -> str:
    return day.isoformat() if day else "the date of service"


def _line_edit(work: WorkClaim, lines: list[WorkLine], edit: MueEdit, q: MueQuarter) -> None:
    for line in lines:
        if line.units <= edit.units:
            continue
        work.add(
            "mue.line",
            "error",
            f"{_where([line]).capitalize()}: {line.code} x {_units(line.units)} is more than "
            f"its MUE of {edit.units} per line (MAI 1, line edit), so the whole line would be "
            f"denied. Correct the units, or if the record documents more (e.g. separate "
            f"sites), report the extra units on their own line with the modifier that shows "
            f"why.",
            [line],
            source=_source(edit, q),
        )


def _day_edit(
    work: WorkClaim, lines: list[WorkLine], edit: MueEdit, q: MueQuarter, day: date | None
) -> None:
    total = sum((ln.units for ln in lines), Decimal(0))
    if total <= edit.units:
        return
    limit = Decimal(edit.units)
    head = (
        f"{edit.code}: {_units(total)} units on {_day(day)} ({_where(lines)}) are more than "
        f"its MUE of {edit.units} per day"
    )
    if edit.mai == 3:
        work.add(
            "mue.date-of-service",
            "warning",
            f"{head} (MAI 3, date of service edit: clinical). Units above {edit.units} are "
            "denied, but may be paid on appeal when the record documents the medical necessity "
            "of every unit.",
            lines,
            source=_source(edit, q),
        )
        return
    excess = total - limit
    changes: list[str] = []
    for line in reversed(lines):
        if excess <= 0:
            break
        cut = min(excess, line.units)
        before = line.units
        line.units -= cut
        excess -= cut
        if line.units <= 0:
            line.removed = True
            changes.append(f"{_where([line])} removed ({_count(before)})")
        else:
            changes.append(f"{_where([line])}: {_units(before)} -> {_units(line.units)}")
    changes.reverse()
    work.add(
        "mue.date-of-service",
        "error",
        f"{head} (MAI 2, date of service edit: policy); more than {edit.units} is never correct "
        f"coding for one day and is not paid on appeal. Capped at {edit.units}.",
        lines,
        source=_source(edit, q),
        fix=f"Capped {edit.code} at {_count(limit)} for {_day(day)} ({'; '.join(changes)}).",
    )


def check(work: WorkClaim, data: MueData) -> None:
    table = data.table
    if table is None:
        if data.ptp_loaded:  # else the ncci_ptp family already said both are missing
            work.add(
                "mue.tables-not-loaded",
                "info",
                "NCCI/MUE tables not loaded: run dermrcm refdata import-ncci/import-mue "
                "(MUE tables missing, so units were not checked against them).",
                source=NOT_LOADED,
            )
        return
    groups: dict[tuple[date | None, str], list[WorkLine]] = {}
    for line in work.active():
        groups.setdefault((line.service_date, line.code), []).append(line)
    for (day, code), lines in groups.items():
        found = table.edit(code, day)
        if found is None:
            continue
        edit, quarter = found
        if edit.mai == 1:
            _line_edit(work, lines, edit, quarter)
        else:
            _day_edit(work, lines, edit, quarter, day)


FAMILY: Family[MueData] = Family("mue", load, check)
