"""Mohs micrographic surgery (17311-17315) and what may be billed with it.

- 17311 first stage on head/neck/hands/feet/genitalia, 17312 each further stage; 17313 first
  stage on trunk/arms/legs, 17314 each further stage; 17315 each block beyond 5 in any stage.
  Add-ons only with their primary. The stage and block counts come from the documentation: on a
  first-stage line `mohs_stage` 1 and `mohs_blocks` its blocks; on an additional-stage line
  `mohs_stage` is the LAST stage it covers (stages 2..N are N-1 units) and, when it covers one
  stage, `mohs_blocks` that stage's blocks.
- The Mohs surgeon acts as pathologist: 88305 for the same tissue is not billed separately; a
  separate diagnostic biopsy of different tissue is kept with a warning.
- A biopsy the same day as Mohs of the same lesion is billed (modifier 59) only when there is no
  prior pathology: `prior_pathology` false adds 59, true removes the biopsy, not documented is a
  warning for the coder to confirm.
- Repairs, flaps and grafts of the Mohs defect are billed on top (nothing here removes them).
- LCD appropriate use (L34961 and others; thresholds from a secondary summary): info when the
  tumour is below the size that supports Mohs at its site, warning for actinic keratosis.

Sources: CMS NCCI Policy Manual for Medicare Services, Chapter III (Mohs micrographic surgery);
AMA CPT Professional 2026, Integumentary guidelines (paraphrased); Medicare Mohs LCDs as
summarised in ../shared/research/lcd.md.
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
    line_numbers,
    ordered,
    procedure_tables,
    recode,
    rule_source,
    units_text,
)


def load(ctx: LoadContext) -> CodeTables:
    return procedure_tables(ctx)


def _site_family(work: WorkClaim, t: CodeTables, ln: WorkLine) -> None:
    role = t.mohs_role(ln.code)
    site = t.sites.site(ln.facts.site)
    if role is None or role[1] == "block" or site is None or site.mohs_group == role[0]:
        return
    first, additional = t.mohs_families[site.mohs_group]
    want = first if role[1] == "first" else additional
    old = ln.code
    rule = "mohs.site-family"
    work.add(
        rule,
        "error",
        f"{line_numbers([ln])}: {old} is for another anatomic area than the documented site "
        f"({site.label}); Mohs there is {first} for the first stage and {additional} for each "
        f"further stage, so {old} -> {want}",
        ordered([ln]),
        source=rule_source(t, rule),
        fix=f"Recoded {old} to {want}.",
    )
    recode(work, ln, want)


def _stages(work: WorkClaim, t: CodeTables, lines: list[WorkLine]) -> None:
    for first, additional in t.mohs_families.values():
        firsts = [ln for ln in lines if ln.code == first]
        adds = [ln for ln in lines if ln.code == additional]
        if adds and not firsts:
            rule = "mohs.addon-without-primary"
            work.add(
                rule,
                "error",
                f"{line_numbers(adds)}: {additional} (each further Mohs stage) is billed without "
                f"{first} (the first stage) on the same date; the add-on is paid only with its "
                "primary",
                ordered(adds),
                source=rule_source(t, rule),
            )
            continue
        first_units = sum((ln.units for ln in firsts), Decimal(0))
        if first_units != 1 or len(adds) != 1:
            continue  # several tumours: stages can't be tied to one from the codes alone
        add = adds[0]
        last = add.facts.mohs_stage
        if last is None or last < 2 or add.units == last - 1:
            continue
        want = Decimal(last - 1)
        rule = "mohs.stage-count"
        work.add(
            rule,
            "error",
            f"{line_numbers([add])}: the documentation records {last} Mohs stages, so the "
            f"stages after the first are {additional} x{units_text(want)}, not "
            f"x{units_text(add.units)}",
            ordered([add]),
            source=rule_source(t, rule),
            fix=f"Billed {additional} x{units_text(want)}.",
        )
        recode(work, add, additional, want)


def _blocks(work: WorkClaim, t: CodeTables, lines: list[WorkLine]) -> None:
    stage_lines = [ln for ln in lines if (r := t.mohs_role(ln.code)) and r[1] != "block"]
    block_lines = [ln for ln in lines if ln.code == t.mohs_block_addon]
    firsts = [ln for ln in stage_lines if (r := t.mohs_role(ln.code)) and r[1] == "first"]
    per = t.mohs_blocks_per_stage
    addon = t.mohs_block_addon
    if block_lines and not firsts:
        rule = "mohs.addon-without-primary"
        work.add(
            rule,
            "error",
            f"{line_numbers(block_lines)}: {addon} (blocks beyond {per} in a stage) is billed "
            "without a first-stage Mohs code (17311 or 17313) on the same date",
            ordered(block_lines),
            source=rule_source(t, rule),
        )
        return
    if not stage_lines:
        return
    known = all(ln.facts.mohs_blocks is not None and ln.units == 1 for ln in stage_lines)
    billed = sum((ln.units for ln in block_lines), Decimal(0))
    if not known:
        if block_lines:
            rule = "mohs.documentation-gap"
            work.add(
                rule,
                "warning",
                f"{line_numbers(block_lines)}: {addon} x{units_text(billed)} needs the number of "
                f"tissue blocks in each stage (beyond {per}); the documentation given does not "
                "state it for every stage, so it can't be checked",
                ordered(block_lines),
                source=rule_source(t, rule),
            )
        return
    counts = [ln.facts.mohs_blocks or 0 for ln in stage_lines]
    want = Decimal(sum(max(0, n - per) for n in counts))
    if want == billed:
        return
    rule = "mohs.blocks"
    listed = ", ".join(str(n) for n in counts)
    work.add(
        rule,
        "error",
        f"{line_numbers(stage_lines + block_lines)}: the stages have {listed} blocks; each block "
        f"beyond {per} in a stage is {addon}, so {addon} x{units_text(want)} "
        f"(billed x{units_text(billed)})",
        ordered(stage_lines + block_lines),
        source=rule_source(t, rule),
        fix=f"Billed {addon} x{units_text(want)}." if want else f"Removed {addon}.",
    )
    if want == 0:
        for ln in block_lines:
            ln.removed = True
    elif block_lines:
        recode(work, block_lines[0], addon, want)
        for ln in block_lines[1:]:
            ln.removed = True
    else:
        add_line(work, stage_lines[-1], addon, want)


def _pathology(
    work: WorkClaim, t: CodeTables, mohs: list[WorkLine], others: list[WorkLine]
) -> None:
    mohs_sites = {ln.facts.site for ln in mohs}
    for ln in others:
        if ln.code not in t.mohs_pathology:
            continue
        separate = ln.facts.site is not None and None not in mohs_sites
        separate = separate and ln.facts.site not in mohs_sites
        if separate:
            rule = "mohs.separate-pathology"
            work.add(
                rule,
                "warning",
                f"{line_numbers([ln])}: {ln.code} on the same date as Mohs surgery is kept "
                f"because it is documented on different tissue ({ln.facts.site}); the Mohs "
                "surgeon's own pathology of the Mohs tissue is not billed separately. Confirm it "
                "is a separate diagnostic biopsy (modifier 59/XS)",
                ordered([ln]),
                source=rule_source(t, rule),
            )
            continue
        rule = "mohs.pathology-bundled"
        work.add(
            rule,
            "error",
            f"{line_numbers([ln, *mohs])}: {ln.code} for the Mohs tissue is part of the Mohs "
            f"codes ({', '.join(sorted({m.code for m in mohs}))}): the Mohs surgeon examines the "
            "tissue as pathologist, so it is not billed separately",
            ordered([ln]),
            source=rule_source(t, rule),
            fix=f"Removed {ln.code}.",
        )
        ln.removed = True


def _biopsy_same_day(
    work: WorkClaim, t: CodeTables, mohs: list[WorkLine], others: list[WorkLine]
) -> None:
    mohs_sites = {ln.facts.site for ln in mohs}
    for ln in others:
        if t.biopsy_role(ln.code) is None:
            continue
        if ln.facts.site is not None and None not in mohs_sites and ln.facts.site not in mohs_sites:
            continue  # another lesion: the modifier rules handle 59/XS
        has_59 = ln.has_modifier("59", "XS")
        rule = "mohs.biopsy-same-day"
        if ln.facts.prior_pathology is True:
            ln.removed = True
            work.add(
                rule,
                "error",
                f"{line_numbers([ln])}: biopsy {ln.code} on the same day as Mohs surgery of a "
                "lesion that already has a pathology diagnosis (documented) is part of the Mohs "
                "procedure and not separately billable",
                ordered([ln]),
                source=rule_source(t, rule),
                fix=f"Removed {ln.code} (line {ln.origin}): included in the Mohs surgery.",
            )
            continue
        if ln.facts.prior_pathology is False:
            if not has_59 and ln.add_modifier("59"):
                work.add(
                    rule,
                    "error",
                    f"{line_numbers([ln])}: biopsy {ln.code} on the same day as Mohs surgery "
                    "made the diagnosis (the documentation says the lesion had no prior "
                    "pathology), so it is billable with modifier 59",
                    ordered([ln]),
                    source=rule_source(t, rule),
                    fix=f"Added 59 to {ln.code} (line {ln.origin}).",
                )
            continue
        work.add(
            rule,
            "warning",
            f"{line_numbers([ln])}: biopsy {ln.code} on the same day as Mohs surgery "
            f"{'of the same site' if ln.facts.site in mohs_sites else '(site not documented)'} is "
            "billable only when the lesion has no prior pathology (a same-day diagnostic "
            "biopsy with frozen section deciding the Mohs), with modifier 59"
            + ("" if has_59 else "; it has no modifier 59")
            + ". Confirm there was no earlier biopsy of this lesion",
            ordered([ln]),
            source=rule_source(t, rule),
        )


def _appropriate_use(work: WorkClaim, t: CodeTables, ln: WorkLine) -> None:
    role = t.mohs_role(ln.code)
    if role is None or role[1] != "first":
        return
    lesion = ln.facts.lesion_type or ""
    if lesion in t.mohs_excluded_lesions:
        rule = "mohs.appropriate-use"
        work.add(
            rule,
            "warning",
            f"{line_numbers([ln])}: Mohs surgery {ln.code} for {lesion.replace('-', ' ')}: the "
            "Mohs LCDs and appropriate-use criteria exclude it",
            ordered([ln]),
            source=rule_source(t, rule),
        )
        return
    site = t.sites.site(ln.facts.site)
    size = ln.facts.lesion_diameter_cm
    if site is None or size is None or site.mohs_min_size_cm is None:
        return
    if size >= site.mohs_min_size_cm:
        return
    rule = "mohs.appropriate-use"
    work.add(
        rule,
        "info",
        f"{line_numbers([ln])}: a {cm(size)} cm tumour on the {site.label} is below the "
        f"{cm(site.mohs_min_size_cm)} cm at which size and site alone support Mohs there "
        f"(appropriate-use area {site.mohs_auc_area or '?'}); document another reason "
        "(aggressive histology, recurrence, poorly defined borders, immunosuppression, prior "
        "radiation) or expect a medical-necessity review",
        ordered([ln]),
        source=rule_source(t, rule),
    )


def _check_date(work: WorkClaim, t: CodeTables, lines: list[WorkLine]) -> None:
    mohs = [ln for ln in lines if t.mohs_role(ln.code) is not None]
    if not mohs:
        return
    if work.encounter.mohs_surgeon_is_pathologist is False:
        rule = "mohs.surgeon-pathologist"
        work.add(
            rule,
            "warning",
            f"{line_numbers(mohs)}: Mohs codes require the same physician to act as surgeon and "
            "pathologist; the encounter documents that they were different",
            ordered(mohs),
            source=rule_source(t, rule),
        )
    for ln in mohs:
        _site_family(work, t, ln)
    _stages(work, t, mohs)
    _blocks(work, t, mohs)
    others = [ln for ln in lines if ln.active and t.mohs_role(ln.code) is None]
    stage_lines = [ln for ln in mohs if (r := t.mohs_role(ln.code)) and r[1] != "block"]
    _pathology(work, t, stage_lines, others)
    _biopsy_same_day(work, t, stage_lines, others)
    for ln in mohs:
        _appropriate_use(work, t, ln)


def check(work: WorkClaim, t: CodeTables) -> None:
    if not any(t.mohs_role(ln.code) for ln in work.active()):
        return
    by_date: dict[date | None, list[WorkLine]] = defaultdict(list)
    for ln in work.active():
        by_date[ln.service_date].append(ln)
    for lines in by_date.values():
        _check_date(work, t, lines)


FAMILY: Family[CodeTables] = Family("mohs", load, check)
