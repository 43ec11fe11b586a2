"""Excision (11400-11646), repair (12001-13160) and adjacent tissue transfer (14000-14302).

- Excision: the code follows the site group and the EXCISED diameter (the documented one, else
  lesion diameter + 2 x narrowest margin; bands 0.5/1.0/2.0/3.0/4.0 cm); malignant pathology codes
  116xx, benign or premalignant 114xx. Pending or uncertain pathology: a warning, the code stays.
  A missing diameter or margin is a documentation gap, never a guess.
- Repair: repairs of the same complexity in the same anatomic group on one date are added up and
  billed as one code for the total length. A simple repair is part of an excision (or shave,
  biopsy, destruction) at the same site; intermediate and complex repairs are billed separately.
- Adjacent tissue transfer includes the excision of the lesion at its site and any repair of that
  defect.

Sources: CMS NCCI Policy Manual for Medicare Services, Chapter III (excision, repair, adjacent
tissue transfer); AMA CPT Professional 2026, Integumentary guidelines (paraphrased).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from integration.coding.engine import Family, LoadContext
from integration.coding.model import WorkClaim, WorkLine
from integration.coding.procedures import (
    CodeTables,
    add_line,
    att_codes,
    cm,
    excised_diameter,
    excision_code,
    has_facts,
    line_numbers,
    ordered,
    procedure_tables,
    recode,
    repair_codes,
    repair_group,
    rule_source,
    units_text,
)


def load(ctx: LoadContext) -> CodeTables:
    return procedure_tables(ctx)


def _gap(work: WorkClaim, t: CodeTables, ln: WorkLine, what: str, missing: Sequence[str]) -> None:
    rule = "excision_repair.documentation-gap"
    work.add(
        rule,
        "warning" if has_facts(ln.facts) else "info",
        f"{line_numbers([ln])}: {ln.code} depends on {what}; the documentation given does not "
        f"state {' or '.join(missing)}, so the code can't be checked (ask the provider, don't "
        "estimate)",
        ordered([ln]),
        source=rule_source(t, rule),
    )


_MISSING = {
    "lesion_diameter_cm": "the lesion diameter (or the excised diameter)",
    "margin_cm": "the narrowest margin",
}


def _excision(work: WorkClaim, t: CodeTables, ln: WorkLine) -> None:
    role = t.excision_role(ln.code)
    if role is None:
        return
    billed_malignant, _group = role
    if not has_facts(ln.facts):
        _gap(work, t, ln, "the site, the excised diameter and the pathology", ["any of them"])
        return
    pathology = ln.facts.pathology
    malignant = billed_malignant
    if pathology == "malignant":
        malignant = True
    elif pathology in ("benign", "premalignant"):
        malignant = False
    else:
        rule = "excision_repair.pathology-pending"
        state = "pending" if pathology is None else pathology
        work.add(
            rule,
            "warning",
            f"{line_numbers([ln])}: pathology for the excision billed as {ln.code} is {state}; "
            f"benign (114xx) vs malignant (116xx) follows the final pathology report; the code "
            "stays as billed until it is known",
            ordered([ln]),
            source=rule_source(t, rule),
        )
    if malignant != billed_malignant:
        _pathology_finding(work, t, ln, malignant)
    site = t.sites.site(ln.facts.site)
    diameter, missing = excised_diameter(ln.facts)
    if site is None or diameter is None:
        gaps = ([] if site is not None else ["the site"]) + ([_MISSING[missing]] if missing else [])
        _gap(work, t, ln, "the site and the excised diameter (lesion + 2 x margin)", gaps)
        return
    want = excision_code(t, site, diameter, malignant)
    if want == ln.code:
        return
    rule = "excision_repair.excision-size-site"
    how = (
        f"documented excised diameter {cm(diameter)} cm"
        if ln.facts.excised_diameter_cm is not None
        else f"lesion {cm(ln.facts.lesion_diameter_cm or Decimal(0))} cm + 2 x "
        f"{cm(ln.facts.margin_cm or Decimal(0))} cm margin = excised diameter {cm(diameter)} cm"
    )
    group = t.sites.group_label("excision", site.excision_group)
    work.add(
        rule,
        "error",
        f"{line_numbers([ln])}: {ln.code} does not match the excision documented on the "
        f"{site.label} ({group}): {how}, which is {want}",
        ordered([ln]),
        source=rule_source(t, rule),
        fix=f"Recoded {ln.code} to {want}.",
    )
    recode(work, ln, want)


def _pathology_finding(work: WorkClaim, t: CodeTables, ln: WorkLine, malignant: bool) -> None:
    """Move an excision code to the same band and group of the family its pathology calls for."""
    role = t.excision_role(ln.code)
    if role is None:
        return
    source = t.excision_benign if malignant else t.excision_malignant
    target = t.excision_malignant if malignant else t.excision_benign
    old = ln.code
    new = target.codes[role[1]][source.codes[role[1]].index(old)]
    kind, billed = ("malignant", "benign") if malignant else ("benign", "malignant")
    rule = "excision_repair.excision-pathology"
    work.add(
        rule,
        "error",
        f"{line_numbers([ln])}: pathology is {ln.facts.pathology} but {old} is a {billed} "
        f"lesion excision code; {kind} lesion excisions are {'116xx' if malignant else '114xx'} "
        f"({old} -> {new} for the same site group and size band)",
        ordered([ln]),
        source=rule_source(t, rule),
        fix=f"Recoded {old} to {new}.",
    )
    recode(work, ln, new)


def _same_site(a: WorkLine, b: WorkLine) -> bool | None:
    """True/False when both sites are documented, None when either is not."""
    if a.facts.site is None or b.facts.site is None:
        return None
    return a.facts.site == b.facts.site


def _att(work: WorkClaim, t: CodeTables, ln: WorkLine, others: list[WorkLine]) -> None:
    for other in others:
        if not other.active or other is ln:
            continue
        is_excision = t.excision_role(other.code) is not None
        is_repair = t.repair_role(other.code) is not None
        if not (is_excision or is_repair):
            continue
        what = "excision of the lesion" if is_excision else "repair of the defect"
        rule = (
            "excision_repair.att-includes-excision"
            if is_excision
            else "excision_repair.att-includes-repair"
        )
        same = _same_site(ln, other)
        if same is False:
            continue
        if same is None:
            work.add(
                rule,
                "warning",
                f"{line_numbers([ln, other])}: adjacent tissue transfer {ln.code} includes the "
                f"{what} at its site; the documentation given does not say whether {other.code} "
                "is at the same site. Remove it if it is",
                ordered([ln, other]),
                source=rule_source(t, rule),
            )
            continue
        work.add(
            rule,
            "error",
            f"{line_numbers([ln, other])}: adjacent tissue transfer {ln.code} on the "
            f"{ln.facts.site} includes the {what} at the same site; {other.code} is not billed "
            "separately",
            ordered([ln, other]),
            source=rule_source(t, rule),
            fix=f"Removed {other.code}.",
        )
        other.removed = True
    site = t.sites.site(ln.facts.site)
    area = ln.facts.defect_area_sq_cm
    if site is None or area is None or site.repair_complex_group is None:
        missing = [
            name
            for name, ok in (
                ("a site specific enough for the code", site and site.repair_complex_group),
                ("the defect area in sq cm", area is not None),
            )
            if not ok
        ]
        _gap(work, t, ln, "the site and the defect area", missing)
        return
    want = att_codes(t, site.repair_complex_group, area)
    if ln.code == want[0][0] or ln.code == t.att_any_site[1]:
        return
    rule = "excision_repair.att-size-site"
    old = ln.code
    work.add(
        rule,
        "error",
        f"{line_numbers([ln])}: {old} does not match an adjacent tissue transfer of "
        f"{cm(area)} sq cm on the {site.label}; that is {want[0][0]}",
        ordered([ln]),
        source=rule_source(t, rule),
        fix=f"Recoded {old} to {want[0][0]}.",
    )
    recode(work, ln, want[0][0], Decimal(1))


def _simple_included(
    work: WorkClaim, t: CodeTables, repair: WorkLine, procedures: list[WorkLine]
) -> bool:
    for proc in procedures:
        if not proc.active or _same_site(repair, proc) is False:
            continue
        rule = "excision_repair.simple-repair-included"
        where = f" on the {repair.facts.site}" if repair.facts.site else ""
        work.add(
            rule,
            "error",
            f"{line_numbers([repair, proc])}: simple repair {repair.code}{where} is part of the "
            f"excision/removal {proc.code} it closes and is not billed separately (intermediate "
            "and complex repairs are). If it closed a separate wound, put it back with that "
            "site documented",
            ordered([repair, proc]),
            source=rule_source(t, rule),
            fix=f"Removed {repair.code}.",
        )
        repair.removed = True
        return True
    return False


def _repairs(work: WorkClaim, t: CodeTables, lines: list[WorkLine]) -> None:
    buckets: dict[tuple[str, str], list[WorkLine]] = defaultdict(list)
    addons: dict[str, list[WorkLine]] = defaultdict(list)
    for ln in lines:
        role = t.repair_role(ln.code)
        if role is None or not ln.active:
            continue
        complexity, group, is_addon = role
        if is_addon:
            addons[group].append(ln)
            continue
        site = t.sites.site(ln.facts.site)
        if site is not None and (documented := repair_group(site, complexity)) is not None:
            group = documented
        buckets[(complexity, group)].append(ln)
    for (complexity, group), bucket in buckets.items():
        lengths = [ln.facts.repair_length_cm for ln in bucket]
        if any(length is None for length in lengths):
            for ln in bucket:
                if ln.facts.repair_length_cm is None:
                    _gap(work, t, ln, "the repair's length", ["the repair length in cm"])
            continue
        total = sum((length for length in lengths if length is not None), Decimal(0))
        extra_lines = addons.pop(group, []) if complexity == "complex" else []
        want = repair_codes(t, complexity, group, total)
        if want is None:
            rule = "excision_repair.complex-repair-too-short"
            work.add(
                rule,
                "error",
                f"{line_numbers(bucket)}: a complex repair of {cm(total)} cm: complex repair "
                "codes start at 1.1 cm; the provider must say which simple or intermediate "
                "repair code applies",
                ordered(bucket),
                source=rule_source(t, rule),
            )
            continue
        have = sorted((ln.code, ln.units) for ln in bucket + extra_lines)
        if have == sorted((c, Decimal(u)) for c, u in want):
            continue
        label = t.sites.group_label(f"repair_{complexity}", group)
        parts = " + ".join(
            f"{cm(ln.facts.repair_length_cm or Decimal(0))} cm ({ln.code})" for ln in bucket
        )
        wanted = " + ".join(f"{c} x{u}" for c, u in want)
        rule = (
            "excision_repair.repair-sum" if len(bucket) > 1 else "excision_repair.repair-size-site"
        )
        if len(bucket) > 1:
            message = (
                f"{line_numbers(bucket + extra_lines)}: {complexity} repairs in the same "
                f"anatomic group ({label}) are billed as one code for their total length: "
                f"{parts} add up to {cm(total)} cm, which is {wanted}"
            )
        else:
            message = (
                f"{line_numbers(bucket + extra_lines)}: a {complexity} repair of {cm(total)} cm "
                f"in the {label} group is {wanted}, not "
                + " + ".join(f"{ln.code} x{units_text(ln.units)}" for ln in bucket + extra_lines)
            )
        work.add(
            rule,
            "error",
            message,
            ordered(bucket + extra_lines),
            source=rule_source(t, rule),
            fix=f"Billed {wanted} for the {complexity} repairs.",
        )
        recode(work, bucket[0], want[0][0], Decimal(want[0][1]))
        for ln in bucket[1:]:
            ln.removed = True
        if len(want) > 1:
            code, units = want[1]
            if extra_lines:
                recode(work, extra_lines[0], code, Decimal(units))
                for ln in extra_lines[1:]:
                    ln.removed = True
            else:
                add_line(work, bucket[0], code, Decimal(units))
        else:
            for ln in extra_lines:
                ln.removed = True
    for group, orphan in addons.items():
        if any(ln.active for ln in orphan):
            rule = "excision_repair.repair-size-site"
            work.add(
                rule,
                "error",
                f"{line_numbers(orphan)}: {', '.join(ln.code for ln in orphan)} adds length to a "
                f"complex repair ({t.sites.group_label('repair_complex', group)}) but no first "
                "complex repair code of that group is billed",
                ordered(orphan),
                source=rule_source(t, rule),
            )


def _check_date(work: WorkClaim, t: CodeTables, lines: list[WorkLine]) -> None:
    att_set = t.att_codes_all()
    atts = [ln for ln in lines if ln.code in att_set and ln.code != t.att_any_site[1]]
    for ln in atts:
        _att(work, t, ln, lines)
    for ln in lines:
        if ln.active and t.excision_role(ln.code) is not None:
            _excision(work, t, ln)
    procedures = [
        ln
        for ln in lines
        if ln.active
        and (
            t.excision_role(ln.code) is not None
            or t.biopsy_role(ln.code) is not None
            or t.is_shave(ln.code)
        )
    ]
    for ln in lines:
        role = t.repair_role(ln.code)
        if ln.active and role is not None and role[0] == "simple":
            _simple_included(work, t, ln, procedures)
    _repairs(work, t, [ln for ln in lines if ln.active])


def check(work: WorkClaim, t: CodeTables) -> None:
    att_set = t.att_codes_all()
    if not any(
        t.excision_role(ln.code) or t.repair_role(ln.code) or ln.code in att_set
        for ln in work.active()
    ):
        return
    by_date: dict[date | None, list[WorkLine]] = defaultdict(list)
    for ln in work.active():
        by_date[ln.service_date].append(ln)
    for lines in by_date.values():
        _check_date(work, t, lines)


FAMILY: Family[CodeTables] = Family("excision_repair", load, check)
