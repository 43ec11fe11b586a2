"""Global surgical periods: a service inside an earlier procedure's global period needs 58, 78
or 79 (a procedure) or 24 (an E/M), else it is part of the global package.

Global days per code are data (mappings/coding/global-periods.yaml, from the GLOB DAYS column of
the CMS PFS Relative Value File). Day counting (Medicare Claims Processing Manual, Chapter 12,
§40.1): a 010 global covers the day of the procedure and the 10 days after it; a 090 global the
day before, the day of the procedure and the 90 days after it. Only earlier procedures by the
same provider (or group and specialty) count. The history holds no note on why the patient came
back, so the choice between 58, 78 and 79 is always left to the coder.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from integration.coding.engine import Family, LoadContext
from integration.coding.model import (
    RETURN_REASONS,
    PriorProcedure,
    RuleSource,
    WorkClaim,
    WorkLine,
)

POSTOP_MODIFIERS = ("58", "78", "79")
POSTOP_MEANING = {
    "58": "58 (staged or more extensive procedure, planned at the first one)",
    "78": "78 (unplanned return to the operating/procedure room for a complication)",
    "79": "79 (unrelated procedure)",
}


def expand_codes(spec: str) -> Iterator[str]:
    """The codes of "11400" or of an inclusive numeric range "11400-11446"."""
    if "-" not in spec:
        yield spec
        return
    first, last = spec.split("-", 1)
    if first[:-4] != last[:-4] or not first[-4:].isdigit() or not last[-4:].isdigit():
        raise ValueError(f"code range {spec!r}: expected FIRST-LAST of one code kind")
    prefix = first[:-4]
    width = len(first) - len(prefix)
    start, end = int(first[len(prefix) :]), int(last[len(prefix) :])
    if end < start:
        raise ValueError(f"code range {spec!r}: expected FIRST <= LAST")
    for n in range(start, end + 1):
        yield f"{prefix}{n:0{width}d}"


def code_set(specs: list[str]) -> frozenset[str]:
    return frozenset(code for spec in specs for code in expand_codes(spec))


@dataclass(frozen=True, slots=True)
class GlobalDays:
    """Global days per code, the E/M codes, and the rules' citations."""

    days: Mapping[str, str]  # code -> 000 / 010 / 090 / ZZZ / XXX
    unverified: frozenset[str]
    em_codes: frozenset[str]
    source: RuleSource
    rules: Mapping[str, RuleSource]

    def of(self, code: str) -> str | None:
        return self.days.get(code)

    def is_em(self, code: str) -> bool:
        return code in self.em_codes

    def cite(self, rule: str) -> RuleSource:
        return self.rules.get(rule, self.source)


def load_global_days(ctx: LoadContext) -> GlobalDays:
    data = ctx.document("global-periods.yaml")
    days: dict[str, str] = {}
    unverified: set[str] = set()
    for entry in data["codes"]:
        for code in expand_codes(entry["codes"]):
            if code in days:
                raise ValueError(f"global-periods.yaml: code {code} listed twice")
            days[code] = entry["global"]
            if entry.get("unverified"):
                unverified.add(code)
    return GlobalDays(
        days=days,
        unverified=frozenset(unverified),
        em_codes=frozenset(data["em_codes"]),
        source=RuleSource.from_json(data["source"]),
        rules={k: RuleSource.from_json(v) for k, v in data.get("rules", {}).items()},
    )


def global_window(procedure_day: date, days: str) -> tuple[date, date] | None:
    """First and last day of the global period of a procedure done on `procedure_day`, or None
    when the code has no period of its own (ZZZ, XXX, unknown). 000: the day itself; 010: the day
    and the 10 days after; 090: the day before, the day and the 90 days after."""
    if days == "000":
        return procedure_day, procedure_day
    if days == "010":
        return procedure_day, procedure_day + timedelta(days=10)
    if days == "090":
        return procedure_day - timedelta(days=1), procedure_day + timedelta(days=90)
    return None


def postop_day(prior: PriorProcedure, day: date, table: GlobalDays) -> int | None:
    """How many days after `prior` the service on `day` falls, when it is inside the prior
    procedure's postoperative period (after the procedure day, through its last day); else None."""
    glob = table.of(prior.code)
    window = None if glob is None else global_window(prior.service_date, glob)
    if window is None or not prior.service_date < day <= window[1]:
        return None
    return (day - prior.service_date).days


@dataclass(frozen=True, slots=True)
class _Hit:
    prior: PriorProcedure
    days: str
    day_number: int


def _open_globals(line: WorkLine, work: WorkClaim, table: GlobalDays) -> list[_Hit]:
    if line.service_date is None:
        return []
    hits: list[_Hit] = []
    for prior in work.request.history:
        if not prior.same_provider:
            continue
        n = postop_day(prior, line.service_date, table)
        if n is not None:
            hits.append(_Hit(prior, table.days[prior.code], n))
    return hits


def _preop_of(line: WorkLine, work: WorkClaim, table: GlobalDays) -> list[PriorProcedure]:
    """Major (090) procedures in the history done the day after this line's date."""
    if line.service_date is None:
        return []
    return [
        p
        for p in work.request.history
        if p.same_provider
        and table.of(p.code) == "090"
        and p.service_date - timedelta(days=1) == line.service_date
    ]


def _describe(hit: _Hit) -> str:
    period = {"010": "10-day", "090": "90-day"}.get(hit.days, f"{hit.days}-day")
    return (
        f"{hit.prior.code} on {hit.prior.service_date.isoformat()} ({period} global; "
        f"this is postoperative day {hit.day_number})"
    )


def check(work: WorkClaim, table: GlobalDays) -> None:
    for line in list(work.active()):
        glob = table.of(line.code)
        hits = _open_globals(line, work, table)
        where = f"Line {line.origin}: {line.code}"
        if table.is_em(line.code):
            for prior in _preop_of(line, work, table):
                if not line.has_modifier("57"):
                    work.add(
                        "global_period.preop-day",
                        "info",
                        f"{where} is the day before the major procedure {prior.code} on "
                        f"{prior.service_date.isoformat()}: a pre-operative visit is part of its "
                        "90-day global package unless it is the visit where the decision for "
                        "surgery was made (then append 57).",
                        [line],
                        source=table.cite("preop-day"),
                    )
            if not hits:
                continue
            inside = "; ".join(_describe(h) for h in hits)
            unrelated = work.encounter.em_unrelated_to_surgery
            if unrelated is True and not line.has_modifier("24") and line.add_modifier("24"):
                work.add(
                    "global_period.em-in-global",
                    "error",
                    f"{where} falls inside the global period of {inside}; the documentation "
                    "says the visit was for a problem unrelated to the surgery, which the claim "
                    "must show with modifier 24.",
                    [line],
                    source=table.cite("em-in-global"),
                    fix=f"Added 24 to {line.code} (line {line.origin}).",
                )
                continue
            if line.has_modifier("24") and unrelated is not False:
                if unrelated is None and not work.encounter.em_evidence:
                    work.add(
                        "global_period.em-in-global",
                        "warning",
                        f"{where}-24 falls inside the global period of {inside}. Modifier 24 "
                        "needs documentation that the visit was for a problem unrelated to the "
                        "surgery; the request gives none.",
                        [line],
                        source=table.cite("em-in-global"),
                    )
                continue
            line.removed = True
            said = (
                " The documentation says it was the surgery's follow-up, so modifier 24 does not "
                "apply."
                if unrelated is False
                else " If the visit was for an unrelated problem, bill it with modifier 24 and "
                "document why."
            )
            work.add(
                "global_period.em-in-global",
                "error",
                f"{where} falls inside the global period of {inside}; a related follow-up visit "
                f"is included in the surgery's payment.{said}",
                [line],
                source=table.cite("em-in-global"),
                fix=f"Removed {line.code} (line {line.origin}): included in the global package "
                f"of {hits[0].prior.code}.",
            )
            continue
        if glob not in ("000", "010", "090"):
            continue  # add-ons follow their primary; XXX services have no global period
        present = [m for m in POSTOP_MODIFIERS if line.has_modifier(m)]
        reason = line.facts.return_reason
        documented = RETURN_REASONS.get(reason) if reason is not None else None
        if hits and documented is not None and present != [documented]:
            inside = "; ".join(_describe(h) for h in hits)
            for m in present:
                line.drop_modifier(m)
            added = line.add_modifier(documented)
            was = f" instead of {', '.join(present)}" if present else ""
            work.add(
                "global_period.in-global",
                "error",
                f"{where} falls inside the global period of {inside}; the documentation gives "
                f"the reason ({reason}: {POSTOP_MEANING[documented]}), so the line needs "
                f"{documented}{was}.",
                [line],
                source=table.cite("in-global"),
                fix=(
                    f"Put {documented} on {line.code} (line {line.origin}){was}." if added else None
                ),
            )
        elif hits and not present:
            inside = "; ".join(_describe(h) for h in hits)
            options = ", ".join(POSTOP_MEANING[m] for m in POSTOP_MODIFIERS)
            work.add(
                "global_period.in-global",
                "error",
                f"{where} falls inside the global period of {inside}; without a modifier the "
                f"payer treats it as part of that surgery. The documentation must say which "
                f"applies: {options}.",
                [line],
                source=table.cite("in-global"),
            )
        elif present and not hits:
            work.add(
                "global_period.modifier-without-global",
                "warning",
                f"{where}-{present[0]}: the patient history shows no earlier procedure by the same "
                f"provider whose global period includes {line.service_date}; {present[0]} only "
                "applies inside a global period. Check the history before removing it.",
                [line],
                source=table.cite("modifier-without-global"),
            )


FAMILY: Family[GlobalDays] = Family("global_period", load_global_days, check)
