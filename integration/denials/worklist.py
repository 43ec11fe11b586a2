"""Denial items from a posted 835 claim (pure: no database, no I/O).

A line is a denial item when one of its CAS adjustments has a denial category
(mappings/denials/carc-categories.yaml); CO-45 (contractual) has none, so a line reduced only by
its contract is not a denial. Patient-responsibility adjustments (PR-1/2/3) on a line the payer
paid part of are ordinary cost sharing, billed on the patient's statement: not an item; a line
the payer paid nothing on, with only patient responsibility (e.g. PR-1, all to the deductible),
is an item whose next step is to bill the patient. Claim-level CAS with a denial category
becomes one claim item. Reversals (CLP02 22) make no items.

The adjustment that decides the category is the largest one whose category is not
patient-responsibility (else the largest patient-responsibility one).

Amount at stake: the sum of the line's denial-category adjustments (not charge minus paid, which
also counts the CO-45 contractual write-down, an amount no appeal recovers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from integration.denials.categories import DenialCategories
from integration.denials.deadlines import DeadlineRules
from integration.denials.items import DenialAdjustment, DenialItem
from integration.denials.next_steps import NextStepRules
from integration.denials.remittance import claim_service_date, submitted_procedure
from integration.x12.t835_005010x221a1 import Adjustment, ClaimPayment, PaymentHeader

ZERO = Decimal(0)
PATIENT = "patient-responsibility"


@dataclass(frozen=True, slots=True)
class PostedLine:
    """One SVC as posted (its line posting row id) with its CAS triplets (categories set)."""

    number: int  # SVC position in the CLP, from 1
    line_posting_id: int | None
    procedure: str
    modifiers: tuple[str, ...]
    service_date: date | None
    charge: Decimal
    paid: Decimal
    adjustments: tuple[DenialAdjustment, ...]
    rarcs: tuple[str, ...] = ()  # LQ*HE


@dataclass(frozen=True, slots=True)
class PostedClaim:
    """One CLP as posted, with what the deadline rules need (CLP06, the payer)."""

    file_id: int | None
    trace_number: str
    payer_id: str
    payer_name: str
    remit_date: date | None  # BPR16, else DTM*405
    claim_posting_id: int | None
    claim_id: int | None
    patient_ref: str | None
    patient_control_number: str
    payer_claim_number: str
    status_code: str  # CLP02
    filing_indicator: str  # CLP06
    charge: Decimal
    paid: Decimal
    adjustments: tuple[DenialAdjustment, ...]  # claim-level CAS
    rarcs: tuple[str, ...] = ()  # MOA remark codes
    lines: tuple[PostedLine, ...] = ()


def deciding_adjustment(
    adjustments: Sequence[DenialAdjustment], paid: Decimal
) -> DenialAdjustment | None:
    """The adjustment whose category the item takes, or None: not a denial (see module doc)."""
    denials = [a for a in adjustments if a.category is not None and a.amount > ZERO]
    if not denials:
        return None
    payer_side = [a for a in denials if a.category != PATIENT]
    if payer_side:
        return max(payer_side, key=lambda a: a.amount)
    if paid > ZERO:
        return None  # cost sharing on a paid line
    return max(denials, key=lambda a: a.amount)


def amount_at_stake(adjustments: Sequence[DenialAdjustment]) -> Decimal:
    """The sum of the denial-category adjustments (CO-45 and other uncategorized excluded)."""
    return sum((a.amount for a in adjustments if a.category is not None), ZERO)


def _unique(codes: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c for c in codes if c))


def derive_items(
    claim: PostedClaim,
    next_steps: NextStepRules,
    deadlines: DeadlineRules,
    *,
    authorization_on_file: bool | None = None,
    authorization_number: str | None = None,
    plan_type: str | None = None,
    line_authorizations: Mapping[int, tuple[bool | None, str | None]] | None = None,
) -> list[DenialItem]:
    """The denial items of one posted 835 claim (id None; the store assigns ids).

    Whether an approved PA covers the service: `line_authorizations` by SVC position (from 1),
    else `authorization_on_file` / `authorization_number` for the whole claim."""
    if claim.status_code == "22":
        return []
    deadline = deadlines.deadline(
        level=1,
        notice_date=claim.remit_date,
        filing_indicator=claim.filing_indicator or None,
        payer_id=claim.payer_id,
        plan_type=plan_type,
    )
    base = (
        f"835 file {claim.file_id if claim.file_id is not None else '-'} · TRN {claim.trace_number}"
        f" · CLP {claim.patient_control_number}"
    )
    items: list[DenialItem] = []

    def item(
        decider: DenialAdjustment,
        adjustments: tuple[DenialAdjustment, ...],
        rarcs: tuple[str, ...],
        origin: str,
        line: PostedLine | None,
    ) -> DenialItem:
        assert decider.category is not None
        on_file, number = authorization_on_file, authorization_number
        if line is not None and line_authorizations and line.number in line_authorizations:
            on_file, number = line_authorizations[line.number]
        step = next_steps.decide(
            category=decider.category,
            group=decider.group,
            reason=decider.reason,
            rarcs=rarcs,
            procedure=line.procedure if line else None,
            modifiers=line.modifiers if line else (),
            authorization_on_file=on_file,
            authorization_number=number,
        )
        return DenialItem(
            id=None,
            source="835",
            payer_id=claim.payer_id,
            payer_name=claim.payer_name,
            category=decider.category,
            group_code=decider.group,
            reason_code=decider.reason,
            rarcs=rarcs,
            adjustments=adjustments,
            amount=amount_at_stake(adjustments),
            next_step=step.next_step,
            next_step_reason=step.reason,
            deadline=deadline.due,
            deadline_basis=deadline.basis,
            status="open",
            queue=step.queue,
            origin=origin,
            remit_date=claim.remit_date,
            claim_id=claim.claim_id,
            claim_posting_id=claim.claim_posting_id,
            line_posting_id=line.line_posting_id if line else None,
            patient_ref=claim.patient_ref,
            patient_control_number=claim.patient_control_number,
            payer_claim_number=claim.payer_claim_number or None,
            procedure=line.procedure if line else None,
            modifiers=line.modifiers if line else (),
            service_date=line.service_date if line else None,
        )

    decider = deciding_adjustment(claim.adjustments, claim.paid)
    if decider is not None:
        cas = " ".join(f"{a.group}-{a.reason}" for a in claim.adjustments if a.category)
        items.append(
            item(decider, claim.adjustments, _unique(claim.rarcs), f"{base} · CAS {cas}", None)
        )
    for line in claim.lines:
        decider = deciding_adjustment(line.adjustments, line.paid)
        if decider is None:
            continue
        rarcs = _unique((*line.rarcs, *claim.rarcs))
        cas = " ".join(f"{a.group}-{a.reason}" for a in line.adjustments if a.category)
        mods = f":{':'.join(line.modifiers)}" if line.modifiers else ""
        origin = f"{base} · SVC {line.number} {line.procedure}{mods} · CAS {cas}"
        if rarcs:
            origin += f" · LQ {' '.join(rarcs)}"
        items.append(item(decider, line.adjustments, rarcs, origin, line))
    return items


def _adjustments(
    found: Sequence[Adjustment], categories: DenialCategories
) -> tuple[DenialAdjustment, ...]:
    return tuple(
        DenialAdjustment(
            group=a.group,
            reason=a.reason,
            amount=a.amount,
            quantity=None if a.quantity is None else format(a.quantity, "f"),
            category=categories.of_carc(a.reason),
        )
        for a in found
    )


def posted_claim_from_835(
    header: PaymentHeader,
    cp: ClaimPayment,
    categories: DenialCategories,
    *,
    file_id: int | None = None,
    patient_ref: str | None = None,
    claim_id: int | None = None,
) -> PostedClaim:
    """A remittance claim as `derive_items` takes it, straight from the 835 model (no posting
    ids): for tests, previews and the CLI's dry runs."""
    fallback = claim_service_date(cp)
    lines = []
    for n, service in enumerate(cp.services, start=1):
        code, mods = submitted_procedure(service)
        lines.append(
            PostedLine(
                number=n,
                line_posting_id=None,
                procedure=code,
                modifiers=tuple(mods),
                service_date=service.service_date or fallback,
                charge=service.charge,
                paid=service.paid,
                adjustments=_adjustments(service.adjustments, categories),
                rarcs=tuple(r.code for r in service.remarks if r.qualifier == "HE"),
            )
        )
    return PostedClaim(
        file_id=file_id,
        trace_number=header.trace_number,
        payer_id=header.payer_id,
        payer_name=header.payer.name,
        remit_date=header.payment.payment_date or header.production_date,
        claim_posting_id=None,
        claim_id=claim_id,
        patient_ref=patient_ref,
        patient_control_number=cp.patient_control_number,
        payer_claim_number=cp.payer_claim_control_number,
        status_code=cp.status,
        filing_indicator=cp.filing_indicator,
        charge=cp.charge,
        paid=cp.paid,
        adjustments=_adjustments(cp.adjustments, categories),
        rarcs=cp.outpatient.remark_codes if cp.outpatient else (),
        lines=tuple(lines),
    )
