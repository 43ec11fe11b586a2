"""Destruction coding (17000-17286).

- Premalignant lesions (e.g. actinic keratoses): 17000 for the first lesion plus 17003 for each of
  the 2nd to 14th, or 17004 alone (one unit) for 15 or more; 17004 never with 17000/17003.
- Benign lesions other than skin tags (e.g. warts): 17110 for up to 14, 17111 for 15 or more, one
  unit per session; skin tags are removed with 11200/11201, not 17110.
- Malignant lesions: 17260-17286 by the lesion's diameter (bands 0.5/1.0/2.0/3.0/4.0 cm) and site
  group (trunk/arms/legs; scalp/neck/hands/feet/genitalia; face/ears/eyelids/nose/lips/mucosa).

Sources: CMS NCCI Policy Manual for Medicare Services, Chapter III (destruction); AMA CPT
Professional 2026, Integumentary guidelines (paraphrased).
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
    cm,
    has_facts,
    line_numbers,
    malignant_destruction_code,
    ordered,
    procedure_tables,
    recode,
    rule_source,
    units_text,
)


def load(ctx: LoadContext) -> CodeTables:
    return procedure_tables(ctx)


def _premalignant(work: WorkClaim, t: CodeTables, lines: list[WorkLine]) -> None:
    first, addon, max_lesions, fifteen = t.premalignant
    firsts = [ln for ln in lines if ln.code == first]
    addons = [ln for ln in lines if ln.code == addon]
    alone = [ln for ln in lines if ln.code == fifteen]
    if alone and (firsts or addons):
        rule = "destruction.17004-with-17000"
        dropped = firsts + addons
        billed = " + ".join(f"{ln.code} x{units_text(ln.units)}" for ln in dropped)
        work.add(
            rule,
            "error",
            f"{line_numbers(alone + dropped)}: {fifteen} (15 or more premalignant lesions) is "
            f"billed alone, never with {first}/{addon}; {billed} is dropped and {fifteen} billed "
            "x1",
            ordered(alone + dropped),
            source=rule_source(t, rule),
            fix=f"Removed {billed}; {fifteen} x1 covers all the lesions.",
        )
        for ln in dropped:
            ln.removed = True
        for other in alone[1:]:
            other.removed = True
        recode(work, alone[0], fifteen, Decimal(1))
        return
    if alone and (alone[0].units > 1 or len(alone) > 1):
        rule = "destruction.premalignant-count"
        total = sum((ln.units for ln in alone), Decimal(0))
        work.add(
            rule,
            "error",
            f"{line_numbers(alone)}: {fifteen} x{units_text(total)}; {fifteen} covers 15 or more "
            "lesions in one unit",
            ordered(alone),
            source=rule_source(t, rule),
            fix=f"Billed {fifteen} x1.",
        )
        for other in alone[1:]:
            other.removed = True
        recode(work, alone[0], fifteen, Decimal(1))
        return
    if addons and not firsts:
        rule = "destruction.addon-without-primary"
        work.add(
            rule,
            "error",
            f"{line_numbers(addons)}: {addon} (each of the 2nd to 14th premalignant lesions) is "
            f"billed without {first} for the first lesion; the coder must confirm how many "
            "lesions were destroyed",
            ordered(addons),
            source=rule_source(t, rule),
        )
        return
    if not firsts:
        return
    n_first = sum((ln.units for ln in firsts), Decimal(0))
    n_addon = sum((ln.units for ln in addons), Decimal(0))
    total = n_first + n_addon
    rule = "destruction.premalignant-count"
    involved = firsts + addons
    billed = " with ".join(
        part
        for part in (
            f"{first} x{units_text(n_first)}",
            f"{addon} x{units_text(n_addon)}" if addons else "",
        )
        if part
    )
    if total > max_lesions:
        work.add(
            rule,
            "error",
            f"{line_numbers(involved)}: {billed} means {units_text(total)} lesions; 15 or more "
            f"are billed as {fifteen} x1 alone",
            ordered(involved),
            source=rule_source(t, rule),
            fix=f"Replaced {billed} with {fifteen} x1.",
        )
        recode(work, firsts[0], fifteen, Decimal(1))
        for ln in involved[1:]:
            ln.removed = True
        return
    if n_first > 1 or len(firsts) > 1:
        extra = n_first - 1
        work.add(
            rule,
            "error",
            f"{line_numbers(involved)}: {first} x{units_text(n_first)}; {first} is billed once "
            f"for the first lesion and each further lesion (up to 14 in all) as {addon}, so "
            f"{units_text(total)} lesions are {first} x1 + {addon} x{units_text(total - 1)}",
            ordered(involved),
            source=rule_source(t, rule),
            fix=f"Billed {first} x1 and {addon} x{units_text(total - 1)}.",
        )
        recode(work, firsts[0], first, Decimal(1))
        for ln in firsts[1:]:
            ln.removed = True
        if addons:
            recode(work, addons[0], addon, addons[0].units + extra)
        else:
            add_line(work, firsts[0], addon, extra)


def _benign(work: WorkClaim, t: CodeTables, lines: list[WorkLine]) -> None:
    up_to, fifteen, threshold = t.benign
    tag_types = t.skin_tags[4]
    for ln in lines:
        if (ln.facts.lesion_type or "") in tag_types:
            rule = "destruction.skin-tags"
            work.add(
                rule,
                "error",
                f"{line_numbers([ln])}: {ln.code} is for benign lesions other than skin tags; the "
                f"documentation says skin tags, which are billed as {t.skin_tags[0]} (first "
                f"{t.skin_tags[1]}) and {t.skin_tags[2]} (each further {t.skin_tags[3]})",
                ordered([ln]),
                source=rule_source(t, rule),
            )
    counted = [ln for ln in lines if (ln.facts.lesion_type or "") not in tag_types]
    if not counted:
        return
    documented = [ln.facts.lesion_count for ln in counted if ln.facts.lesion_count is not None]
    count = sum(documented) if len(documented) == len(counted) else None
    billed = " + ".join(f"{ln.code} x{units_text(ln.units)}" for ln in counted)
    if count is not None:
        want = fifteen if count >= threshold else up_to
        why = f"the documentation counts {count} lesions"
    elif any(ln.code == fifteen for ln in counted):
        want, why = fifteen, f"{fifteen} is billed, so 15 or more lesions"
    else:
        units = sum((ln.units for ln in counted), Decimal(0))
        want = fifteen if units >= threshold else up_to
        why = f"{units_text(units)} units read as {units_text(units)} lesions"
    if len(counted) == 1 and counted[0].code == want and counted[0].units == 1:
        return
    rule = "destruction.benign-count"
    work.add(
        rule,
        "error",
        f"{line_numbers(counted)}: {billed}; {up_to} covers up to 14 benign lesions and {fifteen} "
        f"15 or more, one unit per session; {why}, so {want} x1",
        ordered(counted),
        source=rule_source(t, rule),
        fix=f"Billed {want} x1 for the session.",
    )
    recode(work, counted[0], want, Decimal(1))
    for ln in counted[1:]:
        ln.removed = True


def _malignant(work: WorkClaim, t: CodeTables, ln: WorkLine) -> None:
    site = t.sites.site(ln.facts.site)
    diameter = ln.facts.lesion_diameter_cm
    if site is None or diameter is None:
        missing = [
            name
            for name, value in (("the site", site), ("the lesion diameter", diameter))
            if value is None
        ]
        rule = "destruction.documentation-gap"
        work.add(
            rule,
            "warning" if has_facts(ln.facts) else "info",
            f"{line_numbers([ln])}: {ln.code} depends on the site and the lesion's diameter; the "
            f"documentation given does not state {' or '.join(missing)}, so the code can't be "
            "checked",
            ordered([ln]),
            source=rule_source(t, rule),
        )
        return
    want = malignant_destruction_code(t, site, diameter)
    if want == ln.code:
        return
    rule = "destruction.malignant-size-site"
    old = ln.code
    group = t.sites.group_label("excision", site.excision_group)
    work.add(
        rule,
        "error",
        f"{line_numbers([ln])}: {old} does not match a malignant lesion of {cm(diameter)} cm on "
        f"the {site.label} ({group}); that is {want}",
        ordered([ln]),
        source=rule_source(t, rule),
        fix=f"Recoded {old} to {want}.",
    )
    recode(work, ln, want)


def check(work: WorkClaim, t: CodeTables) -> None:
    first, addon, _max, fifteen = t.premalignant
    up_to, fifteen_benign, _threshold = t.benign
    premalignant: dict[date | None, list[WorkLine]] = defaultdict(list)
    benign: dict[date | None, list[WorkLine]] = defaultdict(list)
    for ln in list(work.active()):
        if ln.code in (first, addon, fifteen):
            premalignant[ln.service_date].append(ln)
        elif ln.code in (up_to, fifteen_benign):
            benign[ln.service_date].append(ln)
        elif t.malignant_destruction_role(ln.code) is not None:
            _malignant(work, t, ln)
    for lines in premalignant.values():
        _premalignant(work, t, lines)
    for lines in benign.values():
        _benign(work, t, lines)


FAMILY: Family[CodeTables] = Family("destruction", load, check)
