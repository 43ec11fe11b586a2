"""Synthetic dermatology 278 scenarios (invented people and ids; CPT/HCPCS/ICD-10/NDC are real
codes used as codes). Each request has a matching response from the sandbox payer."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from integration.x12.envelope import EnvelopeParams, SequentialControlNumbers
from integration.x12.t278_005010x217 import (
    Attachment,
    DatePeriod,
    Decision,
    Demographics,
    Diagnosis,
    Header,
    Party,
    PatientEvent,
    Procedure,
    ProfessionalService,
    ProviderInfo,
    Request278,
    Response278,
    Review,
    ServiceDelivery,
    ServiceLevel,
    Trace,
)

CLINIC_PARAMS = EnvelopeParams(
    sender_qualifier="ZZ",
    sender_id="DERMRCM",
    receiver_qualifier="ZZ",
    receiver_id="SANDBOXPAYER",
    usage_indicator="T",
    ack_requested=True,
)
PAYER_PARAMS = EnvelopeParams(
    sender_qualifier="ZZ",
    sender_id="SANDBOXPAYER",
    receiver_qualifier="ZZ",
    receiver_id="DERMRCM",
    usage_indicator="T",
)


def clock() -> datetime:
    return datetime(2026, 3, 2, 9, 30)


def control_numbers() -> SequentialControlNumbers:
    return SequentialControlNumbers(interchange=1001, group=1001, transaction=1)


UMO = Party(
    entity_code="X3",
    entity_type="2",
    last_or_organization="SANDBOX HEALTH PLAN",
    id_qualifier="PI",
    id="SBX01",
)
REQUESTER = Party(
    entity_code="1P",
    entity_type="1",
    last_or_organization="RIVERA",
    first="ANA",
    id_qualifier="XX",
    id="1234567893",
    provider=ProviderInfo("PE", "207N00000X"),
)
SUBSCRIBER = Party(
    entity_code="IL",
    entity_type="1",
    last_or_organization="DOE",
    first="JORDAN",
    id_qualifier="MI",
    id="SBX123456789",
    demographics=Demographics(date(1961, 7, 14), "F"),
)
CREATED = datetime(2026, 3, 2, 9, 15)


def _request(reference: str, event: PatientEvent) -> Request278:
    return Request278(
        header=Header(reference_id=reference, created=CREATED),
        umo=UMO,
        requester=REQUESTER,
        subscriber=SUBSCRIBER,
        event=event,
    )


MOHS = _request(
    "PA-MOHS-1",
    PatientEvent(
        traces=(Trace("1", "MOHS-TRACE-1", "9DERMRCM01"),),
        review=Review(
            request_category="HS",
            certification_type="I",
            service_type="2",
            facility_code="11",
            facility_qualifier="B",
        ),
        dates=(DatePeriod("AAH", date(2026, 3, 16)),),
        diagnoses=(Diagnosis.principal("C44.311"),),
        services=(
            ServiceLevel(
                review=Review(request_category="HS", certification_type="I", service_type="2"),
                professional=ProfessionalService(
                    procedure=Procedure.hcpcs("17311"), unit="UN", quantity=Decimal("3")
                ),
            ),
        ),
    ),
)

NBUVB = _request(
    "PA-NBUVB-1",
    PatientEvent(
        traces=(Trace("1", "NBUVB-TRACE-1", "9DERMRCM01"),),
        review=Review(
            request_category="HS",
            certification_type="I",
            service_type="1",
            facility_code="11",
            facility_qualifier="B",
        ),
        dates=(DatePeriod("AAH", date(2026, 3, 9), date(2026, 6, 5)),),
        diagnoses=(Diagnosis.principal("L40.0"),),
        delivery=ServiceDelivery(
            quantity_qualifier="VS",
            quantity=Decimal("36"),
            period_qualifier="34",
            period_count=Decimal("3"),
        ),
        services=(
            ServiceLevel(
                review=Review(request_category="HS", certification_type="I", service_type="1"),
                professional=ProfessionalService(
                    procedure=Procedure.hcpcs("96900"), unit="UN", quantity=Decimal("36")
                ),
            ),
        ),
    ),
)

USTEKINUMAB = _request(
    "PA-J3357-1",
    PatientEvent(
        traces=(Trace("1", "J3357-TRACE-1", "9DERMRCM01"),),
        review=Review(
            request_category="HS",
            certification_type="I",
            service_type="1",
            facility_code="11",
            facility_qualifier="B",
        ),
        dates=(DatePeriod("AAH", date(2026, 3, 23), date(2026, 9, 22)),),
        diagnoses=(Diagnosis.principal("L40.0"), Diagnosis.other("L40.50")),
        attachments=(Attachment("09", "FX", "ATT-J3357-1"),),
        services=(
            ServiceLevel(
                review=Review(request_category="HS", certification_type="I", service_type="1"),
                professional=ProfessionalService(
                    procedure=Procedure.hcpcs("J3357"), unit="UN", quantity=Decimal("90")
                ),
            ),
            ServiceLevel(
                review=Review(request_category="HS", certification_type="I", service_type="1"),
                professional=ProfessionalService(
                    procedure=Procedure.ndc("57894-0061-03"), unit="UN", quantity=Decimal("1")
                ),
            ),
        ),
    ),
)


def answer(
    request: Request278,
    decision: Decision,
    *,
    dates: tuple[DatePeriod, ...] = (),
    message: str = "",
) -> Response278:
    """The sandbox payer's response: echoes the request, TRN type 2, one decision everywhere."""
    event = request.event
    assert event is not None
    echoed = tuple(replace(t, type_code="2") for t in event.traces)
    services = tuple(replace(s, decision=decision) for s in event.services)
    return Response278(
        header=Header(
            reference_id=request.header.reference_id,
            created=datetime(2026, 3, 2, 9, 45),
            transaction_type="18",
        ),
        umo=request.umo,
        requester=request.requester,
        subscriber=request.subscriber,
        dependent=request.dependent,
        event=replace(
            event,
            traces=echoed,
            decision=decision,
            dates=event.dates + dates,
            attachments=(),
            message=message,
            services=services,
        ),
    )


MOHS_APPROVED = answer(
    MOHS,
    Decision("A1", "AUTH-MOHS-0001"),
    dates=(
        DatePeriod("102", date(2026, 3, 2)),
        DatePeriod("007", date(2026, 3, 2), date(2026, 5, 31)),
    ),
)
NBUVB_DENIED = answer(
    NBUVB,
    Decision("A3", "", "0B"),
    message="Topical therapy trial of 4 weeks not documented",
)
USTEKINUMAB_PENDED = answer(
    USTEKINUMAB,
    Decision("A4", "PEND-J3357-1"),
    message="Pended for clinical review - send PASI, BSA and prior systemic therapy",
)

REQUESTS = {"mohs-17311": MOHS, "nbuvb-96900": NBUVB, "ustekinumab-j3357-ndc": USTEKINUMAB}
RESPONSES = {
    "mohs-17311-approved-a1": MOHS_APPROVED,
    "nbuvb-96900-denied-a3": NBUVB_DENIED,
    "ustekinumab-j3357-pended-a4": USTEKINUMAB_PENDED,
}
