"""X12 278 (005010X217) for a case: the request built from the case's order, chart evidence and
signed packet, and the payer's 278 response read back as a PayerResponse.

The request names the practice as requester (2010B, its NPI), the patient as subscriber with the
member id of the chart's current coverage, the order's codes as service lines, its diagnoses
(the order's reasons, else the chart's active ICD-10 diagnoses, at most 12), and one PWK per
document that goes with it (the signed packet and anything added). The response's HCR decides;
PWK segments in a response are what the payer asks for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from integration.domain.evidence import ClinicalEvidence
from integration.domain.priorauth import Assessment, FollowUp, Outcome, PayerResponse
from integration.priorauth.channels.pas import ACTIONS
from integration.priorauth.channels.request_facts import (
    MissingForRequest,
    coverage_of,
    order_diagnoses,
)
from integration.priorauth.channels.transport import ChannelError
from integration.x12.delimiters import read_delimiters
from integration.x12.envelope import EnvelopeParams, SequentialControlNumbers
from integration.x12.errors import X12Error
from integration.x12.segments import iter_segments
from integration.x12.t278_005010x217 import (
    Attachment,
    DatePeriod,
    Demographics,
    Diagnosis,
    Header,
    Party,
    PatientEvent,
    Procedure,
    ProfessionalService,
    Reference,
    Request278,
    Response278,
    Review,
    ServiceLevel,
    Trace,
    read_278_response,
    write_278_request,
)
from integration.x12.t999_005010x231a1 import read_999

PATH = "/x12/278"
CONTENT_TYPE = "application/edi-x12"
_GENDER = {"female": "F", "male": "M"}
#: UM03 service type: 2 surgical for the Mohs codes, else 1 medical care
_SURGICAL = ("1731",)


def _diagnoses(assessment: Assessment, evidence: ClinicalEvidence) -> tuple[Diagnosis, ...]:
    unique = order_diagnoses(assessment, evidence)
    return tuple(
        Diagnosis.principal(c) if i == 0 else Diagnosis.other(c) for i, c in enumerate(unique)
    )


def build_request(
    *,
    case_id: str,
    assessment: Assessment,
    evidence: ClinicalEvidence,
    practice_name: str,
    practice_npi: str,
    documents: int,
    now: datetime,
) -> Request278:
    """The 278 request; MissingForRequest saying what the chart lacks."""
    order = assessment.order
    coverage = coverage_of(assessment, evidence)
    if coverage is None or not coverage.member_id:
        raise MissingForRequest("member id: no current coverage with a member id in the chart")
    patient = evidence.patient
    parts = patient.name_parts() if patient is not None else None
    if patient is None or parts is None:
        raise MissingForRequest("patient name: not in the chart")
    family, given = parts
    codes = [c.code for c in order.codes if c.code]
    if not codes:
        raise MissingForRequest(f"{order.source}: the order carries no code")
    served = date.fromisoformat((order.occurrence or assessment.date)[:10])
    quantity = Decimal(str(order.quantity)) if order.quantity is not None else None
    service_type = "2" if any(c.startswith(_SURGICAL) for c in codes) else "1"
    review = Review(request_category="HS", certification_type="I", service_type=service_type)
    diagnoses = _diagnoses(assessment, evidence)
    if not diagnoses:
        raise MissingForRequest("diagnosis: no ICD-10-CM code on the order or in the chart")
    trace = case_id.replace("-", "")[:30].upper()
    return Request278(
        header=Header(reference_id=trace, created=now),
        umo=Party(
            entity_code="X3",
            entity_type="2",
            last_or_organization=(assessment.payer.name if assessment.payer else "PAYER")[:60],
            id_qualifier="PI",
            id=(assessment.payer.id if assessment.payer else "UNKNOWN").upper()[:80],
        ),
        requester=Party(
            entity_code="1P",
            entity_type="2",
            last_or_organization=practice_name[:60],
            id_qualifier="XX",
            id=practice_npi,
        ),
        subscriber=Party(
            entity_code="IL",
            entity_type="1",
            last_or_organization=family,
            first=" ".join(given),
            id_qualifier="MI",
            id=coverage.member_id,
            demographics=Demographics(
                date.fromisoformat(patient.birth_date) if patient.birth_date else None,
                _GENDER.get(patient.gender or "", "U"),
            ),
        ),
        event=PatientEvent(
            traces=(Trace("1", trace, "1" + practice_npi[:9]),),
            review=Review(
                request_category="HS",
                certification_type="I",
                service_type=service_type,
                facility_code="11",
                facility_qualifier="B",
            ),
            dates=(DatePeriod("AAH", served),),
            diagnoses=diagnoses,
            attachments=tuple(
                Attachment("77", "EL", f"{trace[:20]}-{i}") for i in range(1, documents + 1)
            ),
            services=tuple(
                ServiceLevel(
                    review=review,
                    professional=ProfessionalService(
                        procedure=Procedure.hcpcs(code), unit="UN", quantity=quantity
                    ),
                )
                for code in codes
            ),
        ),
    )


#: UM02 certification type for a request sent after the decision (X12 1322): 2 appeal -
#: standard, 3 cancel. A cancellation also carries BHT02 01 (TR3 005010X217, BHT).
CERTIFICATION_TYPES = {FollowUp.APPEAL: "2", FollowUp.CANCEL: "3"}
PURPOSE_CANCELLATION = "01"


def follow_up_request(
    request: Request278,
    kind: FollowUp,
    *,
    auth_number: str | None,
    payer_reference: str | None,
) -> Request278:
    """The case's request re-sent as an appeal or a cancellation: the same patient event and
    trace (TRN, the number the payer answered on), UM02 2 or 3 on the event and each line,
    BHT02 01 on a cancellation, and the payer's numbers in 2000E REF: BB the authorization
    (when approved), NT the payer's review reference."""
    event = request.event
    assert event is not None  # build_request always makes one
    certification = CERTIFICATION_TYPES[kind]
    refs = []
    if auth_number:
        refs.append(Reference("BB", auth_number[:50]))
    if payer_reference and payer_reference != auth_number:
        refs.append(Reference("NT", payer_reference[:50]))

    def recertify(review: Review | None) -> Review | None:
        return None if review is None else replace(review, certification_type=certification)

    return replace(
        request,
        header=replace(
            request.header, purpose=PURPOSE_CANCELLATION if kind is FollowUp.CANCEL else ""
        ),
        event=replace(
            event,
            review=recertify(event.review),
            references=tuple(refs),
            services=tuple(replace(s, review=recertify(s.review)) for s in event.services),
        ),
    )


def write_request(
    request: Request278, *, sender_id: str, receiver_id: str, clock: Callable[[], datetime]
) -> bytes:
    moment = clock()
    number = int(moment.timestamp()) % 1_000_000_000 or 1
    params = EnvelopeParams(
        sender_qualifier="ZZ",
        sender_id=sender_id[:15],
        receiver_qualifier="ZZ",
        receiver_id=receiver_id[:15],
        usage_indicator="T",
    )
    try:
        text = write_278_request(
            request,
            params,
            clock,
            SequentialControlNumbers(interchange=number, group=number, transaction=1),
            segment_suffix="\n",
        )
    except X12Error as exc:
        raise ChannelError("278 request: " + "; ".join(p.render() for p in exc.problems)) from None
    return text.encode("ascii", errors="strict")


def read_response(status: int, body: bytes) -> PayerResponse:
    """The decision in a 278 response (the patient event's HCR, else the first service's)."""
    text = body.decode("ascii", errors="replace")
    if status >= 400:
        raise ChannelError(f"278: the payer refused the request (HTTP {status}): {text[:300]}")
    if _set_id(text) == "999":
        raise ChannelError(_rejection(text))
    responses, problems = read_278_response(text)
    if problems:
        raise ChannelError("278 response: " + "; ".join(p.render() for p in problems[:5]))
    if len(responses) != 1 or responses[0].event is None:
        raise ChannelError(
            f"278 response: expected one transaction with a patient event, got {len(responses)}"
        )
    return _decision(responses[0])


def _set_id(text: str) -> str | None:
    """ST01 of the first transaction, without reading the rest."""
    try:
        delimiters = read_delimiters(text)
    except X12Error:
        return None
    for segment in iter_segments(text, delimiters):
        if segment.id == "ST":
            return segment.get(1)
    return None


def _rejection(text: str) -> str:
    """What a 999 answering our 278 says: its status and each segment and element it names."""
    acks, problems = read_999(text)
    if problems or not acks:
        found = "; ".join(p.render() for p in problems[:3]) or "no 999 in it"
        return f"278: the payer answered with a 999 that can't be read: {found}"
    notes: list[str] = []
    statuses: list[str] = []
    for ack in acks:
        for txn in ack.transactions:
            statuses.append(f"{txn.transaction_set_id} {txn.control_number}: IK5 {txn.status}")
            for seg in txn.segments:
                where = f"{seg.loop_id} {seg.segment_id}".strip() + f" (position {seg.position})"
                codes = [f"IK304 {seg.error_code}"] if seg.error_code else []
                codes += [
                    f"element {e.position.element}: IK403 {e.error_code}"
                    + (f" {e.bad_value!r}" if e.bad_value else "")
                    for e in seg.elements
                ]
                notes.append(f"{where}: {', '.join(codes)}")
    said = "; ".join(statuses) or f"AK9 {acks[0].status}"
    detail = ("; ".join(notes[:5])) if notes else "no segment named"
    return f"278: the payer's 999 rejected the request ({said}): {detail}"


def _decision(response: Response278) -> PayerResponse:
    event = response.event
    assert event is not None
    decision = event.decision or next((s.decision for s in event.services if s.decision), None)
    where = "2000E HCR" if event.decision else "2000F HCR"
    if decision is None:
        rejects = [v for v in (*response.umo_validations, *event.validations) if not v.valid]
        if rejects:
            codes = ", ".join(v.reject_reason for v in rejects)
            raise ChannelError(f"278 response AAA: the payer rejected the request ({codes})")
        raise ChannelError("278 response 2000E: expected an HCR decision, found none")
    outcome = ACTIONS.get(decision.action_code)
    if outcome is None:
        raise ChannelError(
            f"278 response {where}01: expected one of {', '.join(ACTIONS)}, "
            f"got {decision.action_code!r}"
        )
    ask = tuple(a.description for a in event.attachments if a.description)
    if outcome is Outcome.PENDED and ask:
        outcome = Outcome.MORE_INFO
    period = event.date("007") or event.date("AAH")
    units = event.delivery.quantity if event.delivery else None
    trace = next((t.number for t in event.traces), None)
    return PayerResponse(
        outcome=outcome,
        reason=event.message or None,
        reason_code=decision.reason_code or None,
        auth_number=decision.review_number or None if outcome is Outcome.APPROVED else None,
        start=period.start.isoformat() if period and outcome is Outcome.APPROVED else None,
        end=period.end.isoformat()
        if period and period.end and outcome is Outcome.APPROVED
        else None,
        units=None if units is None else format(units.normalize(), "f"),
        payer_reference=decision.review_number or trace,
        ask=ask,
        where=where,
    )
