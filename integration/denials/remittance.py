"""Posting an 835 remittance against the claims we submitted: pure matching and arithmetic.

- A remittance claim (CLP) matches our claim by CLP01 (our patient control number); when no
  claim has that number, by CLP07 (the payer's claim control number we already know).
- A service line (SVC) matches one of the claim's lines by procedure, modifiers and service
  date. The procedure we submitted is SVC06 when the payer changed it, else SVC01. A line whose
  remittance modifiers are a strict subset of ours (the payer dropped one) still matches, and is
  flagged; a line without a date matches on procedure and modifiers when that is unambiguous.
- Adjustments are summed by CAS group (CO, OA, PI, PR); a reversal (CLP02 = 22) reverses the
  earlier posting of the same claim (its amounts come negative from the payer and are posted as
  sent, so the net of original + reversal + correction is what the payer finally paid).
- PLB provider adjustments are recorded as they are; they are not tied to our claims.

Nothing here touches a database: `integration.store.remittances` stores what this computes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from integration.x12.t835_005010x221a1 import Adjustment, ClaimPayment, ServicePayment
from integration.x12.x221_codes import ClaimStatus

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class SubmittedLine:
    line_number: int
    procedure: str
    modifiers: tuple[str, ...]
    service_date: date
    charge: Decimal
    units: Decimal
    id: int | None = None


@dataclass(frozen=True, slots=True)
class SubmittedClaim:
    patient_control_number: str
    payer_id: str
    total_charge: Decimal
    lines: tuple[SubmittedLine, ...]
    payer_claim_number: str | None = None
    status: str = "submitted"
    id: int | None = None


@dataclass(frozen=True, slots=True)
class LineMatch:
    """A remittance service line and the submitted line it pays (None: queued for a person)."""

    service: ServicePayment
    procedure: str
    modifiers: tuple[str, ...]
    service_date: date | None
    line: SubmittedLine | None
    dropped_modifiers: tuple[str, ...] = ()  # ours, missing from the remittance

    @property
    def flagged(self) -> bool:
        return bool(self.dropped_modifiers)


@dataclass(frozen=True, slots=True)
class ClaimMatch:
    payment: ClaimPayment
    claim: SubmittedClaim | None  # None: no claim of ours, queued for a person
    matched_by: str | None  # "patient_control_number" | "payer_claim_number" | None
    lines: tuple[LineMatch, ...]

    @property
    def unmatched_lines(self) -> tuple[LineMatch, ...]:
        return tuple(m for m in self.lines if m.line is None)

    @property
    def flagged_lines(self) -> tuple[LineMatch, ...]:
        return tuple(m for m in self.lines if m.flagged)


def find_claim(
    payment: ClaimPayment,
    by_control_number: SubmittedClaim | None,
    by_payer_number: SubmittedClaim | None,
) -> tuple[SubmittedClaim | None, str | None]:
    """Our claim for `payment`, given the candidates found by CLP01 and by CLP07."""
    if by_control_number is not None:
        return by_control_number, "patient_control_number"
    if by_payer_number is not None and payment.payer_claim_control_number:
        return by_payer_number, "payer_claim_number"
    return None, None


def claim_service_date(payment: ClaimPayment) -> date | None:
    for qualifier in ("232", "050"):
        for d in payment.dates:
            if d.qualifier == qualifier:
                return d.start
    return None


def submitted_procedure(service: ServicePayment) -> tuple[str, tuple[str, ...]]:
    """What we billed: SVC06 when the payer changed the code, else SVC01."""
    procedure = service.original_procedure or service.procedure
    return procedure.code, procedure.modifiers


def match_lines(payment: ClaimPayment, lines: Sequence[SubmittedLine]) -> tuple[LineMatch, ...]:
    """Each SVC of `payment` against our `lines` (each of ours used at most once)."""
    free = list(lines)
    fallback_day = claim_service_date(payment)
    out: list[LineMatch] = []
    for service in payment.services:
        code, mods = submitted_procedure(service)
        day = service.service_date or fallback_day
        found, dropped = _best_line(code, mods, service.service_date, day, free)
        if found is not None:
            free.remove(found)
        out.append(LineMatch(service, code, mods, day, found, dropped))
    return tuple(out)


def _best_line(
    code: str,
    mods: tuple[str, ...],
    own_day: date | None,
    day: date | None,
    free: Sequence[SubmittedLine],
) -> tuple[SubmittedLine | None, tuple[str, ...]]:
    same_code = [
        line
        for line in free
        if line.procedure == code and (day is None or line.service_date == day)
    ]
    if own_day is None and day is not None and not same_code:
        same_code = [line for line in free if line.procedure == code]
    exact = [line for line in same_code if set(line.modifiers) == set(mods)]
    if exact:
        return exact[0], ()
    subset = [line for line in same_code if set(mods) < set(line.modifiers)]
    if len(subset) >= 1:
        line = subset[0]
        return line, tuple(m for m in line.modifiers if m not in mods)
    return None, ()


def match_claim(
    payment: ClaimPayment,
    by_control_number: SubmittedClaim | None,
    by_payer_number: SubmittedClaim | None = None,
) -> ClaimMatch:
    claim, how = find_claim(payment, by_control_number, by_payer_number)
    if claim is None:
        return ClaimMatch(payment, None, None, tuple(_unmatched_lines(payment)))
    return ClaimMatch(payment, claim, how, match_lines(payment, claim.lines))


def _unmatched_lines(payment: ClaimPayment) -> Iterable[LineMatch]:
    fallback = claim_service_date(payment)
    for service in payment.services:
        code, mods = submitted_procedure(service)
        yield LineMatch(service, code, mods, service.service_date or fallback, None)


def by_group(adjustments: Iterable[Adjustment]) -> dict[str, Decimal]:
    """Adjustment totals per CAS group (CO, OA, PI, PR), in first-seen order."""
    totals: dict[str, Decimal] = {}
    for a in adjustments:
        totals[a.group] = totals.get(a.group, ZERO) + a.amount
    return totals


def claim_status_after(payment: ClaimPayment) -> str:
    """Our claim's status once this remittance claim is posted."""
    if payment.status == ClaimStatus.REVERSAL:
        return "reversed"
    if payment.status == ClaimStatus.DENIED or (payment.paid == ZERO and payment.charge > ZERO):
        return "denied"
    if payment.status == ClaimStatus.NOT_OUR_CLAIM_FORWARDED:
        return "forwarded"
    return "paid"


def is_reversal(payment: ClaimPayment) -> bool:
    return payment.status == ClaimStatus.REVERSAL


@dataclass(frozen=True, slots=True)
class NetPosting:
    """What the payer finally paid on a claim, over every posting (original, reversal, ...)."""

    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    adjustments: dict[str, Decimal]


def net(payments: Iterable[ClaimPayment]) -> NetPosting:
    charge = paid = patient = ZERO
    groups: dict[str, Decimal] = {}
    for p in payments:
        charge += p.charge
        paid += p.paid
        patient += p.patient_responsibility or ZERO
        for group, amount in by_group(p.all_adjustments).items():
            groups[group] = groups.get(group, ZERO) + amount
    return NetPosting(charge, paid, patient, groups)
