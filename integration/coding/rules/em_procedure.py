"""An E/M visit on the day of a procedure: modifier 25 or 57, or no separate payment.

A procedure with a 000 or 010 global period (a minor procedure) includes the evaluation that
led to it. An E/M the same day is paid only when it is significant and separately identifiable
(modifier 25); the documentation says so in `encounter.separately_identifiable_em`. For a 090-day
procedure the visit where the decision for surgery is made carries 57. Runs after the cosmetic
family: a procedure moved to self-pay no longer justifies a 25 on the insurance claim.
Sources: mappings/coding/em-procedure.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from integration.coding.engine import Family, LoadContext
from integration.coding.model import RuleSource, WorkClaim, WorkLine
from integration.coding.rules.global_period import GlobalDays, code_set, load_global_days


@dataclass(frozen=True, slots=True)
class EmRules:
    table: GlobalDays
    minor: frozenset[str]
    major: frozenset[str]
    other_services: frozenset[str]  # not 0/10/90-day procedures, but a 25 is right with them
    source: RuleSource
    rules: Mapping[str, RuleSource]

    def cite(self, rule: str) -> RuleSource:
        return self.rules.get(rule, self.source)


def load(ctx: LoadContext) -> EmRules:
    data = ctx.document("em-procedure.yaml")
    return EmRules(
        table=load_global_days(ctx),
        minor=frozenset(data["minor_globals"]),
        major=frozenset(data["major_globals"]),
        other_services=code_set(data.get("other_services", [])),
        source=RuleSource.from_json(data["source"]),
        rules={k: RuleSource.from_json(v) for k, v in data["rules"].items()},
    )


def _codes(lines: list[WorkLine]) -> str:
    return ", ".join(f"{ln.code} (line {ln.origin})" for ln in lines)


def _same_day(em: WorkLine, lines: list[WorkLine]) -> list[WorkLine]:
    return [
        ln
        for ln in lines
        if em.service_date is None or ln.service_date is None or ln.service_date == em.service_date
    ]


def check(work: WorkClaim, rules: EmRules) -> None:
    table = rules.table
    ems = [ln for ln in work.active() if table.is_em(ln.code)]
    if not ems:
        return
    others = [ln for ln in work.active() if not table.is_em(ln.code)]
    documented = work.encounter.separately_identifiable_em
    for em in ems:
        same_day = _same_day(em, others)
        minor = [ln for ln in same_day if table.of(ln.code) in rules.minor]
        major = [ln for ln in same_day if table.of(ln.code) in rules.major]
        where = f"Line {em.origin}: {em.code}"
        if minor:
            _with_minor(work, rules, em, minor, documented, where)
        elif em.has_modifier("25") and not major:
            if any(ln.code in rules.other_services for ln in same_day):
                continue
            em.drop_modifier("25")
            work.add(
                "em_procedure.modifier-25-without-procedure",
                "error",
                f"{where}-25: no procedure is billed on this claim for the same day, so modifier "
                "25 (separately identifiable E/M on a procedure day) does not apply.",
                [em],
                source=rules.cite("modifier-25-without-procedure"),
                fix=f"Removed modifier 25 from {em.code} (line {em.origin}).",
            )
        if major and not em.has_modifier("57"):
            work.add(
                "em_procedure.decision-for-surgery",
                "info",
                f"{where} is on the day of {_codes(major)}, which has a 90-day global period: the "
                "visit is part of the surgery's payment unless it is the visit where the decision "
                "for surgery was made; then bill it with modifier 57 (not 25).",
                [em, *major],
                source=rules.cite("decision-for-surgery"),
            )


def _with_minor(
    work: WorkClaim,
    rules: EmRules,
    em: WorkLine,
    minor: list[WorkLine],
    documented: bool | None,
    where: str,
) -> None:
    procs = _codes(minor)
    if documented is False:
        em.removed = True
        work.add(
            "em_procedure.not-separately-identifiable",
            "error",
            f"{where} is billed with {procs} (0- or 10-day global) but the documentation does not "
            "show a significant, separately identifiable E/M: the evaluation that led to the "
            "procedure is included in the procedure's payment.",
            [em, *minor],
            source=rules.cite("not-separately-identifiable"),
            fix=f"Removed {em.code} (line {em.origin}).",
        )
        return
    if documented is None:
        work.add(
            "em_procedure.documentation-gap",
            "warning",
            f"{where} is billed with {procs} (0- or 10-day global): it is payable only with "
            "modifier 25 and documentation of a significant, separately identifiable E/M (a "
            "problem beyond the decision to do the procedure). The request does not say whether "
            "the note shows one.",
            [em, *minor],
            source=rules.cite("documentation-gap"),
        )
        return
    if em.has_modifier("25"):
        return
    if em.add_modifier("25"):
        work.add(
            "em_procedure.modifier-25",
            "error",
            f"{where} is billed with {procs} (0- or 10-day global) and the documentation shows a "
            "significant, separately identifiable E/M, but the E/M lacks modifier 25.",
            [em, *minor],
            source=rules.cite("modifier-25"),
            fix=f"Appended modifier 25 to {em.code} (line {em.origin}).",
        )
    else:
        work.add(
            "em_procedure.modifier-25",
            "error",
            f"{where} needs modifier 25 (billed with {procs}) but already carries four "
            f"modifiers ({', '.join(em.modifiers)}).",
            [em, *minor],
            source=rules.cite("modifier-25"),
        )


FAMILY: Family[EmRules] = Family("em_procedure", load, check)
