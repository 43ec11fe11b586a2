"""Biopsy coding (11102-11107): one primary code per date of service, of the highest technique
performed (incisional > punch > tangential); every other biopsied lesion is an add-on of its own
technique. A second primary becomes the add-on of its technique; a primary billed with more than
one unit is split into the primary x1 and its add-on for the rest; an add-on with no primary is an
error a person must resolve. A line whose documented technique differs from its code is recoded.

Sources: CMS NCCI Policy Manual for Medicare Services, Chapter III (biopsy); AMA CPT Professional
2026, Integumentary guidelines (paraphrased). Tables: mappings/coding/procedure-codes.yaml.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from integration.coding.engine import Family, LoadContext
from integration.coding.model import WorkClaim, WorkLine
from integration.coding.procedures import (
    CodeTables,
    add_line,
    line_numbers,
    ordered,
    procedure_tables,
    recode,
    rule_source,
    units_text,
)


def load(ctx: LoadContext) -> CodeTables:
    return procedure_tables(ctx)


def _technique_mismatch(work: WorkClaim, t: CodeTables, line: WorkLine) -> None:
    role = t.biopsy_role(line.code)
    documented = line.facts.technique
    if role is None or documented is None or documented == role[0]:
        return
    codes = t.biopsy_codes(documented)
    if codes is None:
        return
    new = codes[0] if role[1] else codes[1]
    old = line.code
    recode(work, line, new)
    rule = "biopsy.technique-mismatch"
    work.add(
        rule,
        "error",
        f"{line_numbers([line])}: {old} is a {role[0]} biopsy code but the documentation says "
        f"the biopsy was {documented}; the {documented} code is {new}",
        ordered([line]),
        source=rule_source(t, rule),
        fix=f"Recoded {old} to {new}.",
    )


def _check_date(work: WorkClaim, t: CodeTables, lines: list[WorkLine]) -> None:
    primaries = [ln for ln in lines if (r := t.biopsy_role(ln.code)) is not None and r[1]]
    addons = [ln for ln in lines if (r := t.biopsy_role(ln.code)) is not None and not r[1]]
    if not primaries:
        codes = ", ".join(f"{ln.code} x{units_text(ln.units)}" for ln in addons)
        rule = "biopsy.addon-without-primary"
        work.add(
            rule,
            "error",
            f"{line_numbers(addons)}: biopsy add-on code(s) {codes} billed without a first-lesion "
            "biopsy code (11102, 11104 or 11106) on the same date; an add-on is paid only with "
            "its primary. Check whether the first lesion's code is missing or on another claim",
            ordered(addons),
            source=rule_source(t, rule),
        )
        return

    def technique(ln: WorkLine) -> str:
        role = t.biopsy_role(ln.code)
        return role[0] if role else ""

    top = min((technique(ln) for ln in lines), key=t.biopsy_rank)
    primary_code, top_addon = t.biopsy_codes(top) or ("", "")
    keeper = next((ln for ln in primaries if technique(ln) == top), None)
    promoted = keeper is None
    if keeper is None:
        keeper = next(ln for ln in addons if technique(ln) == top)
    rule = "biopsy.primary-technique"
    converted: list[str] = []
    changed: list[WorkLine] = []
    for ln in primaries:
        if ln is keeper:
            continue
        addon = (t.biopsy_codes(technique(ln)) or ("", ""))[1]
        converted.append(f"{line_numbers([ln])} {ln.code} -> {addon} x{units_text(ln.units)}")
        recode(work, ln, addon)
        changed.append(ln)
    if promoted:
        old = keeper.code
        converted.append(f"{line_numbers([keeper])} {old} -> {primary_code} x1")
        extra = keeper.units - 1
        recode(work, keeper, primary_code, Decimal(1))
        if extra > 0:
            add_line(work, keeper, top_addon, extra)
            converted[-1] += f" plus {top_addon} x{units_text(extra)}"
        changed.append(keeper)
    if changed:
        work.add(
            rule,
            "error",
            f"{line_numbers([keeper, *changed])}: only one primary biopsy code is billed per date, "
            f"the one of the highest technique performed ({top}, {primary_code}); every other "
            f"lesion is an add-on of its own technique: {'; '.join(converted)}",
            ordered([keeper, *changed]),
            source=rule_source(t, rule),
            fix=f"Kept {primary_code} x1 as the primary and recoded the other biopsies as add-ons.",
        )
    if keeper.units > 1:
        extra = keeper.units - 1
        rule = "biopsy.primary-units"
        work.add(
            rule,
            "error",
            f"{line_numbers([keeper])}: {keeper.code} x{units_text(keeper.units)} bills the first-"
            f"lesion code for {units_text(keeper.units)} lesions; it is billed once, the other "
            f"{units_text(extra)} as {top_addon} x{units_text(extra)}",
            ordered([keeper]),
            source=rule_source(t, rule),
            fix=f"Split into {keeper.code} x1 and {top_addon} x{units_text(extra)}.",
        )
        recode(work, keeper, keeper.code, Decimal(1))
        add_line(work, keeper, top_addon, extra)


def check(work: WorkClaim, t: CodeTables) -> None:
    by_date: dict[date | None, list[WorkLine]] = defaultdict(list)
    for ln in work.active():
        if t.biopsy_role(ln.code) is not None:
            _technique_mismatch(work, t, ln)
            by_date[ln.service_date].append(ln)
    for lines in by_date.values():
        _check_date(work, t, lines)


FAMILY: Family[CodeTables] = Family("biopsy", load, check)
