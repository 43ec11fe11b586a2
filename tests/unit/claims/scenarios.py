"""Synthetic dermatology claims for the claim-submission loop (invented people, ids and amounts;
CPT/HCPCS and ICD-10-CM appear as codes only). Which rule of
mappings/sandbox/clearinghouse-adjudication.yaml each one meets is said beside it."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from integration.x12.envelope import EnvelopeParams
from integration.x12.t837_005010x222a1 import (
    Address,
    BillingProvider,
    Claim,
    Claim837Transaction,
    Contact,
    DatePeriod,
    Demographics,
    Diagnosis,
    Header837,
    Party,
    Procedure,
    ProviderInfo,
    Reference,
    ServiceLine,
    SubscriberInfo,
    SubscriberLoop,
)

PARAMS = EnvelopeParams(
    sender_qualifier="ZZ",
    sender_id="DERMRCM",
    receiver_qualifier="ZZ",
    receiver_id="SANDBOXCH",
    usage_indicator="T",
)
SERVICE_DAY = date(2026, 11, 17)
NOW = datetime(2026, 12, 1, 9, 30)


def clock() -> datetime:
    return NOW


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
    last_or_organization="SANDBOX CLEARINGHOUSE",
    id_qualifier="46",
    id="SANDBOXCH",
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
PAYER = Party(
    entity_code="PR",
    entity_type="2",
    last_or_organization="SANDBOX HEALTH PLAN",
    id_qualifier="PI",
    id="SBX01",
)


def subscriber(number: int) -> Party:
    return Party(
        entity_code="IL",
        entity_type="1",
        last_or_organization="TESTPATIENT",
        first=f"SYNTH{number}",
        id_qualifier="MI",
        id=f"SBX9000000{number:02d}",
        address=Address(("1 TEST STREET",), "SPRINGFIELD", "IL", "62701"),
        demographics=Demographics(date(1970, 1, 1), "F"),
    )


def line(
    number: int,
    code: str,
    charge: str,
    *,
    modifiers: tuple[str, ...] = (),
    pointers: tuple[int, ...] = (1,),
) -> ServiceLine:
    return ServiceLine(
        line_number=number,
        procedure=Procedure.hcpcs(code, *modifiers),
        charge=Decimal(charge),
        quantity=Decimal(1),
        pointers=pointers,
        dates=(DatePeriod("472", SERVICE_DAY),),
    )


def claim(control: str, lines: tuple[ServiceLine, ...], *diagnoses: str) -> Claim:
    return Claim(
        patient_control_number=control,
        total_charge=sum((s.charge for s in lines), Decimal(0)),
        facility_code="11",
        diagnoses=(
            Diagnosis.principal(diagnoses[0]),
            *(Diagnosis.other(d) for d in diagnoses[1:]),
        ),
        services=lines,
    )


def transaction(claim: Claim, number: int = 1) -> Claim837Transaction:
    """One claim of one subscriber, the shape `dermrcm x12 parse` prints per claim."""
    return Claim837Transaction(
        header=Header837(reference_id=f"DRCM-{claim.patient_control_number}", created=NOW),
        submitter=SUBMITTER,
        receiver=RECEIVER,
        billing_providers=(
            BillingProvider(
                provider=BILLING,
                specialty=ProviderInfo("BI", "207N00000X"),
                subscribers=(
                    SubscriberLoop(
                        info=SubscriberInfo(
                            payer_responsibility="P", relationship="18", claim_filing="CI"
                        ),
                        subscriber=subscriber(number),
                        payer=PAYER,
                        claims=(claim,),
                    ),
                ),
            ),
        ),
    )


# otherwise: paid in full
PAID = claim("DRCM-T-1001", (line(1, "11102", "200.00"), line(2, "11103", "90.00")), "D48.5")
# office-visit-contracted-rate: allowed 80 %, CO-45 20.00
REDUCED = claim("DRCM-T-1002", (line(1, "99213", "100.00"),), "L57.0")
# benign-lesion-destruction-not-necessary: CO-50
DENIED = claim("DRCM-T-1003", (line(1, "17110", "180.00"),), "L82.1")
# destruction-reprocessed: 150.00 paid, reversed, 105.00 paid
REPROCESSED = claim("DRCM-T-1004", (line(1, "17000", "150.00"),), "L57.0")
# unspecified-illness-principal: 277CA A7
EDIT_REJECTED = claim("DRCM-T-1005", (line(1, "11102", "200.00"),), "R69")
# CLM02 is not the sum of SV102: the 837P reader reports it, the 999 rejects the set
INVALID = replace(
    claim("DRCM-T-1006", (line(1, "11102", "200.00"),), "D48.5"), total_charge=Decimal("999.00")
)
