"""Synthetic 835 models for dermatology (no real patients, payers or providers): used by the 835
writer goldens, the hypothesis round trips and the posting-ledger tests."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal

from integration.x12.envelope import EnvelopeParams, SequentialControlNumbers
from integration.x12.t278_005010x217 import (
    Address,
    Contact,
    DatePeriod,
    Party,
    Procedure,
    Reference,
    Trace,
)
from integration.x12.t835_005010x221a1 import (
    AdjustmentReason,
    AdjustmentSegment,
    Amount,
    ClaimPayment,
    HeaderNumber,
    Organization,
    Payment,
    PaymentHeader,
    ProviderAdjustment,
    ProviderAdjustmentItem,
    Remark,
    Remittance835,
    ServicePayment,
)

PAYER_PARAMS = EnvelopeParams(
    sender_qualifier="ZZ",
    sender_id="SANDBOXPAYER",
    receiver_qualifier="ZZ",
    receiver_id="DERMRCM",
    usage_indicator="T",
)


def clock() -> datetime:
    return datetime(2026, 3, 20, 6, 0)


def control_numbers(start: int = 501) -> SequentialControlNumbers:
    return SequentialControlNumbers(interchange=start, group=start, transaction=start)


def d(text: str) -> Decimal:
    return Decimal(text)


def cas(group: str, *triplets: tuple[str, str]) -> AdjustmentSegment:
    return AdjustmentSegment(group, tuple(AdjustmentReason(r, d(a)) for r, a in triplets))


def line(
    code: str,
    modifiers: tuple[str, ...],
    charge: str,
    paid: str,
    day: date,
    adjustments: tuple[AdjustmentSegment, ...] = (),
    control: str = "",
    remarks: tuple[str, ...] = (),
) -> ServicePayment:
    return ServicePayment(
        procedure=Procedure("HC", code, modifiers),
        charge=d(charge),
        paid=d(paid),
        units=d("1"),
        dates=(DatePeriod("472", day),),
        cas=adjustments,
        references=(Reference("6R", control),) if control else (),
        amounts=(Amount("B6", d(paid)),) if d(paid) else (),
        remarks=tuple(Remark("HE", r) for r in remarks),
    )


def claim(
    pcn: str,
    status: str,
    charge: str,
    paid: str,
    patient_resp: str,
    payer_claim: str,
    services: tuple[ServicePayment, ...],
    claim_cas: tuple[AdjustmentSegment, ...] = (),
) -> ClaimPayment:
    return ClaimPayment(
        patient_control_number=pcn,
        status=status,
        charge=d(charge),
        paid=d(paid),
        patient_responsibility=d(patient_resp),
        filing_indicator="12",
        payer_claim_control_number=payer_claim,
        facility_code="11",
        frequency="1",
        cas=claim_cas,
        parties=(
            Party(
                entity_code="QC",
                entity_type="1",
                last_or_organization="SYNTHETIC",
                first="PATIENT",
                id_qualifier="MI",
                id="SYN0001",
            ),
            Party(
                entity_code="82",
                entity_type="1",
                last_or_organization="DERMDOC",
                first="TEST",
                id_qualifier="XX",
                id="1234567893",
            ),
        ),
        dates=(DatePeriod("050", date(2026, 3, 1)),),
        services=services,
    )


def header(trace: str, amount: str, payer_id: str = "1999999999") -> PaymentHeader:
    return PaymentHeader(
        payment=Payment(
            handling_code="I",
            amount=d(amount),
            credit_debit="C",
            method="ACH",
            format_code="CCP",
            bank=(
                "01",
                "999999992",
                "DA",
                "123456",
                payer_id,
                "",
                "01",
                "999988880",
                "DA",
                "98765",
            ),
            payment_date=date(2026, 3, 20),
        ),
        trace=Trace("1", trace, payer_id),
        references=(Reference("EV", "DERMRCM"),),
        dates=(DatePeriod("405", date(2026, 3, 19)),),
        payer=Organization(
            entity_code="PR",
            name="SANDBOX HEALTH PLAN",
            address=Address(("1 TEST WAY",), "SPRINGFIELD", "IL", "62701"),
            references=(Reference("2U", "SBX01"),),
            contacts=(Contact("BL", "EDI SUPPORT", (("TE", "8005550100"),)),),
        ),
        payee=Organization(
            entity_code="PE",
            name="SYNTHETIC DERMATOLOGY CLINIC",
            id_qualifier="XX",
            id="1234567893",
            references=(Reference("TJ", "999999999"),),
        ),
    )


BIOPSY_DAY = date(2026, 2, 10)
MOHS_DAY = date(2026, 2, 12)

PAID_CLAIM = claim(
    "DRM-1001",
    "1",
    "350.00",
    "200.00",
    "50.00",
    "PCN0001",
    (
        line(
            "99213",
            ("25",),
            "150.00",
            "80.00",
            BIOPSY_DAY,
            (cas("CO", ("45", "40.00")), cas("PR", ("2", "30.00"))),
            "DRM-1001-1",
        ),
        line(
            "11102",
            (),
            "200.00",
            "120.00",
            BIOPSY_DAY,
            (cas("CO", ("45", "60.00")), cas("PR", ("2", "20.00"))),
            "DRM-1001-2",
        ),
    ),
)
DENIED_CLAIM = claim(
    "DRM-1002",
    "4",
    "900.00",
    "0",
    "0",
    "PCN0002",
    (
        line(
            "17311",
            (),
            "900.00",
            "0",
            MOHS_DAY,
            (cas("CO", ("197", "900.00")),),
            "DRM-1002-1",
            ("N54",),
        ),
    ),
)
INTEREST = ProviderAdjustment(
    provider_id="1234567893",
    fiscal_period_date=date(2026, 12, 31),
    items=(ProviderAdjustmentItem("L6", "DRM-1001", d("-1.50")),),
)


def remittance(
    trace: str = "EFT0000001",
    claims: tuple[ClaimPayment, ...] = (PAID_CLAIM, DENIED_CLAIM),
    plb: tuple[ProviderAdjustment, ...] = (INTEREST,),
) -> Remittance835:
    total = sum((c.paid for c in claims), Decimal(0)) - sum(
        (i.amount for p in plb for i in p.items), Decimal(0)
    )
    return Remittance835(
        header=header(trace, format(total, "f")),
        groups=(HeaderNumber(number="1", claims=claims),),
        provider_adjustments=plb,
    )


def negated(segment: AdjustmentSegment) -> AdjustmentSegment:
    return AdjustmentSegment(
        segment.group,
        tuple(AdjustmentReason(r.reason, -r.amount, r.quantity) for r in segment.reasons),
    )


def reversal_of(original: ClaimPayment) -> ClaimPayment:
    """The payer's reversal (CLP02 22) of `original`: every amount with the opposite sign."""
    return dataclasses.replace(
        original,
        status="22",
        charge=-original.charge,
        paid=-original.paid,
        patient_responsibility=-(original.patient_responsibility or Decimal(0)),
        cas=tuple(negated(s) for s in original.cas),
        services=tuple(
            dataclasses.replace(
                s,
                charge=-s.charge,
                paid=-s.paid,
                cas=tuple(negated(c) for c in s.cas),
                amounts=(),
            )
            for s in original.services
        ),
    )


CORRECTED_CLAIM = claim(
    "DRM-1001",
    "1",
    "350.00",
    "210.00",
    "50.00",
    "PCN0001",
    (
        line(
            "99213",
            ("25",),
            "150.00",
            "85.00",
            BIOPSY_DAY,
            (cas("CO", ("45", "35.00")), cas("PR", ("2", "30.00"))),
            "DRM-1001-1",
        ),
        line(
            "11102",
            (),
            "200.00",
            "125.00",
            BIOPSY_DAY,
            (cas("CO", ("45", "55.00")), cas("PR", ("2", "20.00"))),
            "DRM-1001-2",
        ),
    ),
)
