"""PA need and checklist for one order: pure. The evidence, the order and the library in; an
Assessment out, every criterion with the evidence behind it or what is missing and who owns it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from integration.domain.evidence import ClinicalEvidence, Owner
from integration.domain.priorauth import (
    Assessment,
    CriterionResult,
    OrderFact,
    PayerMatch,
    Prescriber,
    Status,
)
from integration.rules.language import AreaLookup, Context, PotencyLookup, Verdict, combine
from integration.rules.library import Criterion, PayerRule, RuleLibrary


@dataclass(frozen=True, slots=True)
class Lookups:
    """The vocabularies the rule language reads besides the evidence."""

    potency: PotencyLookup
    areas: AreaLookup


def _order_label(order: OrderFact) -> str:
    return order.text or ", ".join(c.code for c in order.codes) or order.source


def choose_rule(
    library: RuleLibrary,
    payer: PayerMatch,
    order: OrderFact,
    evidence: ClinicalEvidence,
    day: date,
) -> tuple[PayerRule | None, str]:
    """The payer's rule for the order in force on the day, and why none when there isn't one.
    A payer with one rule per indication (e.g. adalimumab for psoriasis and for hidradenitis)
    is disambiguated by the chart's diagnoses."""
    ids = library.rules_for(payer.id, order)
    if not ids:
        return None, f"no rule for {_order_label(order)!r} from {payer.name} in the library"
    in_force = [r for r in (library.in_force(i, day) for i in ids) if r is not None]
    if not in_force:
        return None, f"no version of {', '.join(ids)} is in force on {day.isoformat()}"
    if len(in_force) == 1:
        return in_force[0], ""
    fitting = [r for r in in_force if r.fits_condition(evidence.diagnoses, order)]
    if len(fitting) == 1:
        return fitting[0], ""
    shown = ", ".join(r.id for r in (fitting or in_force))
    return None, f"several rules could apply ({shown}); the chart's diagnoses don't pick one"


def _result(criterion: Criterion, verdict: Verdict) -> CriterionResult:
    owner: Owner | None = None
    if verdict.status is Status.MISSING:
        owner = criterion.owner or (verdict.needs[0].owner if verdict.needs else Owner.CLINICIAN)
    elif verdict.status is Status.UNMET:
        owner = criterion.owner or Owner.CLINICIAN
    return CriterionResult(
        id=criterion.id,
        text=criterion.text,
        status=verdict.status,
        evidence=verdict.evidence,
        detail=verdict.detail,
        owner=owner,
        missing=tuple(dict.fromkeys(n.what for n in verdict.needs))
        if verdict.status is Status.MISSING
        else (),
    )


def evaluate_criteria(criteria: tuple[Criterion, ...], ctx: Context) -> tuple[CriterionResult, ...]:
    return tuple(_result(c, c.node.evaluate(ctx)) for c in criteria)


def assess(
    evidence: ClinicalEvidence,
    order: OrderFact,
    library: RuleLibrary,
    lookups: Lookups,
    day: date,
    *,
    prescriber: Prescriber | None = None,
    attested: Mapping[str, str] | None = None,
    payer_id: str | None = None,
    rule: PayerRule | None = None,
    reauthorization: bool = False,
) -> Assessment:
    """PA need and checklist. The payer is the chart's current Coverage (or `payer_id`); the
    rule the one in force on `day` (or `rule`, when re-evaluating against a given version).
    For a `reauthorization` the checklist is the rule's reauthorization criteria (unknown when
    the rule doesn't give them)."""
    if payer_id is not None:
        payer: PayerMatch | None = library.payer(payer_id, evidence.coverage)
        reason = ""
    else:
        choice = library.payer_for(evidence.coverage)
        payer, reason = choice.match, choice.reason
    if payer is None:
        return Assessment(order=order, date=day.isoformat(), pa_required=None, reason=reason)
    if rule is None:
        rule, reason = choose_rule(library, payer, order, evidence, day)
    if rule is None:
        return Assessment(
            order=order, date=day.isoformat(), pa_required=None, reason=reason, payer=payer
        )
    chosen = rule
    ctx = Context(
        evidence=evidence,
        order=order,
        service_date=day,
        potency=lookups.potency,
        areas=lookups.areas,
        prescriber=prescriber,
        ordered=chosen.is_ordered,
        condition=chosen.condition,
        attested=attested or {},
    )
    pa_required = chosen.pa_required
    notes: list[str] = []
    if chosen.pa_when is not None:
        verdict = chosen.pa_when.evaluate(ctx)
        pa_required = {Status.MET: True, Status.UNMET: False}.get(verdict.status)
        notes.append(f"PA required when: {chosen.pa_text or 'see the rule'} ({verdict.detail})")
    if pa_required is None:
        reason = (
            f"{payer.name}'s rule does not say whether PA is required for {chosen.service_label}"
        )
    elif pa_required:
        reason = f"{payer.name} requires prior authorization for {chosen.service_label}"
    else:
        reason = f"{payer.name} does not require prior authorization for {chosen.service_label}"
    if not chosen.verified:
        notes.append("rule not yet verified against the payer's own document")
    if chosen.note:
        notes.append(chosen.note)
    criteria = chosen.reauth_criteria if reauthorization else chosen.criteria
    if reauthorization:
        reason = f"reauthorization: {reason}"
        if criteria is None:
            notes.append("the rule does not give its reauthorization criteria")
    results = evaluate_criteria(criteria, ctx) if criteria is not None else ()
    return Assessment(
        order=order,
        date=day.isoformat(),
        pa_required=pa_required,
        reason=reason,
        payer=payer,
        rule=chosen.ref(),
        benefit=chosen.benefit,
        channel=library.channel_for(chosen),
        criteria=results,
        criteria_known=criteria is not None,
        overall=combine([r.status for r in results]) if criteria is not None else None,
        documentation=chosen.documentation,
        approval=chosen.approval,
        notes=tuple(notes),
    )
