"""NCCI procedure-to-procedure (PTP) edits on the claim's active lines, per date of service.

For each pair of active lines on the same day whose codes form an edit in force (column 1 code,
column 2 code, from the imported CMS practitioner PTP file of the quarter covering the date):

- modifier indicator 0: the column 2 code is never paid with the column 1 code, whatever the
  modifier: the column 2 line is removed (error, fix).
- modifier indicator 1: both are paid only with an NCCI-associated modifier that the record
  supports. Present: an info finding that the modifier bypasses the edit and must be documented.
  Absent, and the documentation puts the two services at different sites: XS is added to the
  column 2 line (error, fix). Absent otherwise: error, no fix (a person decides: document a
  distinct service and add the modifier, or remove the column 2 line). When the column 2 code is
  an E/M service, only 25 / 57 / 24 on the E/M line bypass the edit (59 and the X modifiers are
  not used on E/M services) and we never add one: whether the E/M is significant and separately
  identifiable is the coder's call (the em_procedure family handles modifier 25).
- modifier indicator 9: the edit does not apply (deleted retroactively): nothing to do.

Source: CMS, NCCI Policy Manual for Medicare Services, Chapter I (General Correct Coding
Policies), "Modifiers and Modifier Indicators", with the PTP file's version and the edit's own
rationale. 27 is an NCCI-associated modifier for hospital outpatient claims only, so it is not
accepted on these practitioner claims.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from integration.coding.engine import Family, LoadContext
from integration.coding.model import RuleSource, WorkClaim, WorkLine
from integration.coding.ncci import PtpEdit, PtpQuarter, PtpTable
from integration.mapping.loader import MappingError

MANUAL_URL = (
    "https://www.cms.gov/medicare/coding-billing/national-correct-coding-initiative-ncci-edits/"
    "medicare-ncci-policy-manual"
)
MANUAL = "CMS NCCI Policy Manual for Medicare Services, Chapter I, General Correct Coding Policies"
NOT_LOADED = RuleSource(
    title=MANUAL,
    url="https://www.cms.gov/medicare/coding-billing/national-correct-coding-initiative-ncci-edits",
    note="NCCI PTP and MUE tables are imported by the user from CMS each quarter",
)

# What each NCCI-associated modifier tells the payer, for the documentation reminder.
_MEANING: Mapping[str, str] = {
    "59": "a distinct procedural service (different session, site, lesion or encounter)",
    "XE": "a separate encounter",
    "XS": "a separate site or organ structure",
    "XP": "a separate practitioner",
    "XU": "an unusual service that does not overlap the main one",
    "24": "an unrelated E/M service in the postoperative period",
    "25": "a significant, separately identifiable E/M service",
    "57": "the decision for surgery",
    "58": "a staged or related procedure in the global period",
    "78": "an unplanned return to the operating room in the global period",
    "79": "an unrelated procedure in the global period",
    "91": "a repeat clinical laboratory test",
}
_ANATOMIC = frozenset(
    {"E1", "E2", "E3", "E4", "FA", "LT", "RT", "TA", "LC", "LD", "LM", "RC", "RI"}
    | {f"F{i}" for i in range(1, 10)}
    | {f"T{i}" for i in range(1, 10)}
)
_PROCEDURE_BYPASS = frozenset({"59", "XE", "XS", "XP", "XU", "58", "78", "79", "91"})
_EM_BYPASS = frozenset({"25", "57", "24"})


@dataclass(frozen=True, slots=True)
class PayerPolicy:
    """Which payers take the X modifiers (mappings/coding/modifiers.yaml `payers`): a payer
    whose policy is "not-accepted" gets 59 where we would add XS."""

    no_x_payer_ids: frozenset[str] = frozenset()
    no_x_filings: frozenset[str] = frozenset()
    default_no_x: bool = False

    def distinct_site_modifier(self, work: WorkClaim) -> str:
        payer = work.payer
        if payer.id in self.no_x_payer_ids or payer.claim_filing in self.no_x_filings:
            return "59"
        return "59" if self.default_no_x else "XS"


@dataclass(frozen=True, slots=True)
class PtpData:
    table: PtpTable | None
    mue_loaded: bool
    payers: PayerPolicy = PayerPolicy()


def _payer_policy(ctx: LoadContext) -> PayerPolicy:
    try:
        doc = ctx.document("modifiers.yaml")
    except (OSError, MappingError):
        return PayerPolicy()
    ids: set[str] = set()
    filings: set[str] = set()
    default_no_x = False
    for payer in doc.get("payers", []):
        if payer.get("x_modifiers") != "not-accepted":
            continue
        match = payer.get("match", {})
        ids.update(str(v) for v in match.get("payer_ids", []))
        filings.update(str(v) for v in match.get("claim_filing", []))
        default_no_x = default_no_x or bool(match.get("default"))
    return PayerPolicy(frozenset(ids), frozenset(filings), default_no_x)


def load(ctx: LoadContext) -> PtpData:
    table = ctx.reference.get("ncci-ptp")
    if table is not None and not isinstance(table, PtpTable):
        raise TypeError(f"reference 'ncci-ptp': expected a PtpTable, got {type(table).__name__}")
    return PtpData(
        table=table, mue_loaded=ctx.reference.get("mue") is not None, payers=_payer_policy(ctx)
    )


def is_em(code: str) -> bool:
    return len(code) == 5 and code.isdigit() and 99202 <= int(code) <= 99499


def _name(line: WorkLine) -> str:
    return f"line {line.origin}" if line.origin is not None else f"the added {line.code} line"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _source(edit: PtpEdit, quarter: PtpQuarter) -> RuleSource:
    facts = (
        f"column 1 {edit.column1}, column 2 {edit.column2}, "
        f"modifier indicator {edit.modifier_indicator}"
        + (f", effective {edit.effective.isoformat()}" if edit.effective else "")
        + (f", deleted {edit.deletion.isoformat()}" if edit.deletion else "")
    )
    rationale = f"; edit rationale: {edit.rationale}" if edit.rationale else ""
    return RuleSource(
        title=f"{MANUAL}: Modifiers and Modifier Indicators",
        url=MANUAL_URL,
        document_id=quarter.label,
        note=facts + rationale,
    )


def _bypass(col1: WorkLine, col2: WorkLine) -> tuple[str, WorkLine] | None:
    """The NCCI-associated modifier (and its line) that bypasses the edit, if any."""
    if is_em(col2.code):
        for mod in col2.modifiers:
            if mod in _EM_BYPASS:
                return mod, col2
        return None
    for line in (col2, col1):
        for mod in line.modifiers:
            if mod in _PROCEDURE_BYPASS:
                return mod, line
    anatomic1 = {m for m in col1.modifiers if m in _ANATOMIC}
    anatomic2 = {m for m in col2.modifiers if m in _ANATOMIC}
    if anatomic2 and anatomic1 != anatomic2:
        return sorted(anatomic2)[0], col2
    if anatomic1 and anatomic1 != anatomic2:
        return sorted(anatomic1)[0], col1
    return None


def _different_sites(a: WorkLine, b: WorkLine) -> bool | None:
    """True when the documentation puts the two services at different sites, False when the
    same, None when it does not say for both lines."""
    sa, sb = a.facts.site, b.facts.site
    la, lb = a.facts.laterality, b.facts.laterality
    if sa is not None and sb is not None and sa != sb:
        return True
    if la is not None and lb is not None and {la, lb} == {"left", "right"}:
        return True
    if sa is not None and sb is not None:
        return False
    return None


def _check_pair(
    work: WorkClaim,
    col1: WorkLine,
    col2: WorkLine,
    edit: PtpEdit,
    quarter: PtpQuarter,
    payers: PayerPolicy,
) -> None:
    day = col1.service_date.isoformat() if col1.service_date else "the same day"
    pair = f"{col1.code} ({_name(col1)}) and {col2.code} ({_name(col2)}) on {day}"
    source = _source(edit, quarter)
    rule = "ncci_ptp.pair"
    if edit.modifier_indicator == "0":
        mods = [m for m in col2.modifiers + col1.modifiers if m in _MEANING or m in _ANATOMIC]
        ignored = (
            f" Modifier {', '.join(dict.fromkeys(mods))} does not change that." if mods else ""
        )
        col2.removed = True
        work.add(
            rule,
            "error",
            f"{pair}: NCCI PTP edit {edit.column1}/{edit.column2} has modifier "
            f"indicator 0, so {col2.code} is never paid with {col1.code} on the same day by "
            f"the same practitioner.{ignored} Removed {_name(col2)}.",
            [col1, col2],
            source=source,
            fix=f"Removed {_name(col2)} ({col2.code}): bundled into {col1.code} (NCCI PTP, "
            "modifier indicator 0).",
        )
        return
    if edit.modifier_indicator != "1":
        return
    found = _bypass(col1, col2)
    if found is not None:
        mod, line = found
        meaning = _MEANING.get(mod, "different anatomic sites")
        work.add(
            rule,
            "info",
            f"{pair} form NCCI PTP edit {edit.column1}/{edit.column2} (modifier "
            f"indicator 1); modifier {mod} on {_name(line)} bypasses it. The record must "
            f"document {meaning}.",
            [col1, col2],
            source=source,
        )
        return
    if is_em(col2.code):
        work.add(
            rule,
            "error",
            f"{pair}: NCCI PTP edit {edit.column1}/{edit.column2} bundles the "
            f"E/M service {col2.code} into {col1.code} unless it carries modifier 25 for a "
            f"significant, separately identifiable E/M service. Add 25 to {_name(col2)} only "
            "if the note documents one; otherwise remove the E/M line.",
            [col1, col2],
            source=source,
        )
        return
    sites = _different_sites(col1, col2)
    distinct = payers.distinct_site_modifier(work)
    if sites and col2.add_modifier(distinct):
        where = (
            f"{col1.facts.site or col1.facts.laterality} and "
            f"{col2.facts.site or col2.facts.laterality}"
        )
        if col1.facts.site == col2.facts.site:
            where = f"{col1.facts.laterality} and {col2.facts.laterality}"
        work.add(
            rule,
            "error",
            f"{pair}: NCCI PTP edit {edit.column1}/{edit.column2} (modifier "
            f"indicator 1) denies {col2.code} without an NCCI-associated modifier. The "
            f"documentation puts them at different sites ({where}), so {distinct} was added "
            f"to {_name(col2)}.",
            [col1, col2],
            source=source,
            fix=f"Added {distinct} to {_name(col2)} ({col2.code}): separate site from {col1.code}.",
        )
        return
    if sites:
        gap = f" {_cap(_name(col2))} has no room for another modifier (4 already)."
    elif sites is None:
        gap = " The documentation does not give both sites, so we cannot tell."
    else:
        gap = f" The documentation puts both at the same site ({col1.facts.site})."
    work.add(
        rule,
        "error",
        f"{pair}: NCCI PTP edit {edit.column1}/{edit.column2} (modifier "
        f"indicator 1) denies {col2.code} unless an NCCI-associated modifier shows a distinct "
        f"service (XS separate site, XE separate encounter, XP, XU or 59).{gap} Add the "
        f"modifier the note supports, or remove {_name(col2)}.",
        [col1, col2],
        source=source,
    )


def check(work: WorkClaim, data: PtpData) -> None:
    table = data.table
    if table is None:
        missing = "NCCI PTP and MUE tables" if not data.mue_loaded else "NCCI PTP tables"
        work.add(
            "ncci_ptp.tables-not-loaded",
            "info",
            f"NCCI/MUE tables not loaded: run dermrcm refdata import-ncci/import-mue "
            f"({missing} missing, so this claim was not checked against them).",
            source=NOT_LOADED,
        )
        return
    by_day: dict[date | None, list[WorkLine]] = {}
    for line in work.active():
        by_day.setdefault(line.service_date, []).append(line)
    for day, lines in by_day.items():
        if len(lines) < 2:
            continue
        quarter = table.quarter_for(day)
        edits = quarter.edits
        for col1 in lines:
            for col2 in lines:
                if col1 is col2 or col1.code == col2.code or not col1.active or not col2.active:
                    continue
                candidates = edits.get((col1.code, col2.code))
                if candidates is None:
                    continue
                edit = next((e for e in candidates if e.in_force(day)), None)
                if edit is not None:
                    _check_pair(work, col1, col2, edit, quarter, data.payers)


FAMILY: Family[PtpData] = Family("ncci_ptp", load, check)
