"""Synthetic dermatology 837P claims (invented people, ids and amounts; CPT/HCPCS/ICD-10/NDC are
real codes used as codes only). Each is one transaction set from the clinic to the sandbox payer;
fixtures/x12/837p/ holds what `write_837p` makes of them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from integration.x12.envelope import EnvelopeParams, SequentialControlNumbers
from integration.x12.t837_005010x222a1 import (
    Address,
    Adjustment,
    AdjustmentReason,
    Amount,
    Attachment,
    BillingProvider,
    Claim,
    Claim837Transaction,
    Contact,
    DatePeriod,
    Demographics,
    Diagnosis,
    DrugIdentification,
    Header837,
    LineAdjudication,
    Note,
    OtherInsurance,
    OtherSubscriber,
    Party,
    PatientLoop,
    Procedure,
    ProviderInfo,
    Reference,
    ServiceLine,
    SubscriberInfo,
    SubscriberLoop,
)

CLINIC_PARAMS = EnvelopeParams(
    sender_qualifier="ZZ",
    sender_id="DERMRCM",
    receiver_qualifier="ZZ",
    receiver_id="SANDBOXPAYER",
    usage_indicator="T",
    ack_requested=True,
)


def clock() -> datetime:
    return datetime(2026, 3, 2, 9, 30)


def control_numbers() -> SequentialControlNumbers:
    return SequentialControlNumbers(interchange=2001, group=2001, transaction=1)


SERVICE_DAY = date(2026, 2, 17)
HEADER = Header837(reference_id="DRCM-BATCH-0001", created=datetime(2026, 3, 2, 9, 30))
SUBMITTER = Party(
    entity_code="41",
    entity_type="2",
    last_or_organization="SANDBOX DERMATOLOGY GROUP",
    id_qualifier="46",
    id="DERMRCM01",
    contacts=(Contact("IC", "BILLING DESK", (("TE", "5555550100"),)),),
)
RECEIVER = Party(
    entity_code="40",
    entity_type="2",
    last_or_organization="SANDBOX HEALTH PLAN",
    id_qualifier="46",
    id="SBX01",
)
BILLING = Party(
    entity_code="85",
    entity_type="2",
    last_or_organization="SANDBOX DERMATOLOGY GROUP",
    id_qualifier="XX",
    id="1234567893",
    address=Address(("100 EXAMPLE WAY",), "SPRINGFIELD", "IL", "627010001"),
    references=(Reference("EI", "990000001"),),
)
SUBSCRIBER = Party(
    entity_code="IL",
    entity_type="1",
    last_or_organization="DOE",
    first="JORDAN",
    id_qualifier="MI",
    id="SBX123456789",
    address=Address(("1 TEST STREET",), "SPRINGFIELD", "IL", "62701"),
    demographics=Demographics(date(1961, 7, 14), "F"),
)
PAYER = Party(
    entity_code="PR",
    entity_type="2",
    last_or_organization="SANDBOX HEALTH PLAN",
    id_qualifier="PI",
    id="SBX01",
)
RENDERING = Party(
    entity_code="82",
    entity_type="1",
    last_or_organization="RIVERA",
    first="ANA",
    id_qualifier="XX",
    id="1245319599",
    provider=ProviderInfo("PE", "207N00000X"),
)
PRIMARY = SubscriberInfo(payer_responsibility="P", relationship="18", claim_filing="CI")


def service_day() -> tuple[DatePeriod, ...]:
    return (DatePeriod("472", SERVICE_DAY),)


def line(
    number: int,
    code: str,
    charge: str,
    *,
    modifiers: tuple[str, ...] = (),
    units: str = "1",
    pointers: tuple[int, ...] = (1,),
) -> ServiceLine:
    return ServiceLine(
        line_number=number,
        procedure=Procedure.hcpcs(code, *modifiers),
        charge=Decimal(charge),
        quantity=Decimal(units),
        pointers=pointers,
        dates=service_day(),
    )


def claim(control: str, lines: tuple[ServiceLine, ...], diagnoses: tuple[str, ...]) -> Claim:
    return Claim(
        patient_control_number=control,
        total_charge=sum((s.charge for s in lines), Decimal(0)),
        facility_code="11",
        diagnoses=(
            Diagnosis.principal(diagnoses[0]),
            *(Diagnosis.other(d) for d in diagnoses[1:]),
        ),
        providers=(RENDERING,),
        services=lines,
    )


def transaction(*claims: Claim, info: SubscriberInfo = PRIMARY) -> Claim837Transaction:
    return Claim837Transaction(
        header=HEADER,
        submitter=SUBMITTER,
        receiver=RECEIVER,
        billing_providers=(
            BillingProvider(
                provider=BILLING,
                specialty=ProviderInfo("BI", "207N00000X"),
                subscribers=(
                    SubscriberLoop(
                        info=info, subscriber=SUBSCRIBER, payer=PAYER, claims=tuple(claims)
                    ),
                ),
            ),
        ),
    )


# An office visit with modifier 25 on the day of biopsies (11102, then 11103 x 2 units); three
# diagnoses, pointed at per line.
BIOPSY = claim(
    "DRCM-BX-1001",
    (
        line(1, "99213", "150.00", modifiers=("25",), pointers=(1, 2, 3)),
        line(2, "11102", "180.00", pointers=(2,)),
        line(3, "11103", "190.00", units="2", pointers=(2, 3)),
    ),
    ("L57.0", "D48.5", "L82.1"),
)
BIOPSY = replace(BIOPSY, notes=(Note("ADD", "SHAVE BIOPSIES LEFT FOREARM AND BACK"),))

# Mohs surgery (17311, 17312) and a repair (13132); the payer's prior authorization number
# (REF*G1) and the operative note sent electronically (PWK).
MOHS = replace(
    claim(
        "DRCM-MOHS-2001",
        (
            line(1, "17311", "1200.00"),
            line(2, "17312", "650.00"),
            line(3, "13132", "480.00"),
        ),
        ("C44.311",),
    ),
    references=(Reference("G1", "AUTH-MOHS-0001"),),
    attachments=(Attachment("09", "EL", "ATT-MOHS-0001"),),
)

# A biologic (J3357 x 45 units) with its NDC, quantity and unit (2410), and its administration.
BIOLOGIC = claim(
    "DRCM-BIO-3001",
    (
        replace(
            line(1, "J3357", "2700.00", units="45"),
            drug=DrugIdentification(ndc="57894006103", quantity=Decimal("0.5"), unit="ML"),
        ),
        line(2, "96372", "40.00"),
    ),
    ("L40.0",),
)

# The biopsy claim replaced (frequency 7) and voided (frequency 8), naming the payer's claim.
CORRECTED = replace(
    BIOPSY,
    frequency="7",
    references=(Reference("F8", "SBXCLM000123"),),
    services=(
        *BIOPSY.services[:2],
        line(3, "11103", "95.00", units="1", pointers=(2, 3)),
    ),
    total_charge=Decimal("425.00"),
)
VOID = replace(BIOPSY, frequency="8", references=(Reference("F8", "SBXCLM000123"),))

# Secondary claim: the primary payer's adjudication at claim level (2320 CAS, AMT*D) and per
# line (2430 SVD, CAS, DTP*573); the claim goes to the secondary payer in 2010BB.
PRIMARY_PAYER = Party(
    entity_code="PR",
    entity_type="2",
    last_or_organization="EXAMPLE PRIMARY PLAN",
    id_qualifier="PI",
    id="PRIM01",
)
ADJUDICATED = date(2026, 2, 27)


def adjudicated(
    service: ServiceLine, paid: str, adjustments: tuple[Adjustment, ...]
) -> ServiceLine:
    return replace(
        service,
        adjudications=(
            LineAdjudication(
                payer_id="PRIM01",
                paid=Decimal(paid),
                procedure=service.procedure,
                paid_units=service.quantity,
                adjustments=adjustments,
                adjudication_date=ADJUDICATED,
            ),
        ),
    )


SECONDARY = replace(
    claim(
        "DRCM-BX-1002",
        (
            adjudicated(
                line(1, "11102", "180.00"),
                "96.00",
                (
                    Adjustment("CO", (AdjustmentReason("45", Decimal("60.00")),)),
                    Adjustment("PR", (AdjustmentReason("2", Decimal("24.00")),)),
                ),
            ),
            adjudicated(
                line(2, "11103", "190.00", units="2"),
                "64.00",
                (
                    Adjustment("CO", (AdjustmentReason("45", Decimal("110.00"), Decimal("2")),)),
                    Adjustment("PR", (AdjustmentReason("2", Decimal("16.00")),)),
                ),
            ),
        ),
        ("D48.5",),
    ),
    other_subscribers=(
        OtherSubscriber(
            info=SubscriberInfo(
                payer_responsibility="P",
                relationship="18",
                group_number="GRP-0042",
                claim_filing="CI",
            ),
            amounts=(Amount("D", Decimal("160.00")),),
            coverage=OtherInsurance("Y", "P", "Y"),
            parties=(replace(SUBSCRIBER, address=None, demographics=None), PRIMARY_PAYER),
        ),
    ),
)

# A dependent patient (2000C) under the subscriber.
DEPENDENT = Party(
    entity_code="QC",
    entity_type="1",
    last_or_organization="DOE",
    first="SAM",
    address=Address(("1 TEST STREET",), "SPRINGFIELD", "IL", "62701"),
    demographics=Demographics(date(2012, 5, 3), "M"),
)

TRANSACTIONS: dict[str, Claim837Transaction] = {
    "biopsy-99213-25-11102-11103": transaction(BIOPSY),
    "mohs-17311-17312-13132-prior-auth": transaction(MOHS),
    "biologic-j3357-ndc": transaction(BIOLOGIC),
    "corrected-frequency-7": transaction(CORRECTED),
    "void-frequency-8": transaction(VOID),
    "secondary-2320-2430": transaction(
        SECONDARY,
        info=SubscriberInfo(payer_responsibility="S", relationship="18", claim_filing="CI"),
    ),
}
DEPENDENT_TRANSACTION = replace(
    transaction(BIOPSY),
    billing_providers=(
        replace(
            transaction(BIOPSY).billing_providers[0],
            subscribers=(
                SubscriberLoop(
                    info=SubscriberInfo(payer_responsibility="P", claim_filing="CI"),
                    subscriber=SUBSCRIBER,
                    payer=PAYER,
                    patients=(PatientLoop(relationship="19", patient=DEPENDENT, claims=(BIOPSY,)),),
                ),
            ),
        ),
    ),
)
TRANSACTIONS["dependent-2000c-biopsy"] = DEPENDENT_TRANSACTION
