"""NCPDP SCRIPT ePA for a case: PAInitiationRequest, the payer's question set answered from the
chart (each answer with its sources, kept beside the message), PARequest, and the PAResponse
read back as a PayerResponse.

What the messages need and the chart lacks (the patient's date of birth, the prescriber's NPI,
the quantity ordered, the member id) stops the send with what is missing: never filled in."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from integration.domain.evidence import ClinicalEvidence, to_json_value
from integration.domain.priorauth import Assessment, Outcome, PayerResponse, Prescriber
from integration.priorauth import ncpdp
from integration.priorauth.channels.request_facts import (
    MissingForRequest,
    coverage_of,
    order_diagnoses,
)
from integration.priorauth.channels.transport import ChannelError, Reply
from integration.priorauth.epa_answers import Answer, answer_questions, build_pa_request, route

PATH = "/ncpdp"
#: the stored message that keeps a PARequest's answers with their sources
SOURCES_KIND = "PARequest answers+sources"
CONTENT_TYPE = "application/xml"
_GENDER = {"female": "F", "male": "M"}
NDC_SYSTEMS = ("http://hl7.org/fhir/sid/ndc",)

Send = Callable[[str, ncpdp.EpaMessage], ncpdp.EpaMessage]
"""send(kind, message) -> the payer's answer (stored both ways by the caller)."""


@dataclass(frozen=True, slots=True)
class EpaCase:
    case_id: str
    assessment: Assessment
    evidence: ClinicalEvidence
    prescriber: Prescriber | None
    practice_npi: str
    now: datetime
    #: send a PARequest that leaves questions on the route unanswered (listed, never silent)
    allow_unanswered: bool = False


class Unanswered(Exception):
    """Questions on the payer's route the chart can't answer, with what is missing and who
    should supply it; the PARequest was not sent."""

    def __init__(self, pa_case_id: str, answers: tuple[Answer, ...]) -> None:
        self.pa_case_id = pa_case_id
        self.answers = answers
        listed = "; ".join(
            f"{a.question_id}: {a.missing or 'no answer'} ({a.owner or 'coordinator'})"
            for a in answers
        )
        super().__init__(f"PACaseID {pa_case_id}: {len(answers)} question(s) unanswered: {listed}")


def unanswered(question_set: ncpdp.QuestionSet, answers: list[Answer]) -> tuple[Answer, ...]:
    """The answers on the route a prescriber walks that the chart left unanswered."""
    by_id = {a.question_id: a for a in answers}
    return tuple(
        by_id[qid]
        for qid in route(question_set, answers)
        if qid in by_id and not by_id[qid].answered
    )


def _check_answered(
    case: EpaCase, question_set: ncpdp.QuestionSet, answers: list[Answer], pa_case_id: str
) -> None:
    missing = unanswered(question_set, answers)
    if missing and not case.allow_unanswered:
        raise Unanswered(pa_case_id, missing)


def _header(case: EpaCase, relates_to: str | None = None) -> ncpdp.Header:
    payer = case.assessment.payer.id if case.assessment.payer else "payer"
    return ncpdp.Header(
        to=payer,
        from_=case.practice_npi,
        message_id=uuid.uuid4().hex,
        sent_time=case.now,
        relates_to_message_id=relates_to,
        prescriber_order_number=case.assessment.order.source.split("/")[-1][:35],
    )


def initiation_request(case: EpaCase) -> ncpdp.PAInitiationRequest:
    """MissingForRequest naming what the chart lacks."""
    evidence, order = case.evidence, case.assessment.order
    patient = evidence.patient
    if patient is None or patient.name_parts() is None or not patient.birth_date:
        raise MissingForRequest("patient name and date of birth: not in the chart")
    prescriber = case.prescriber
    if prescriber is None or not prescriber.npi:
        raise MissingForRequest(
            "prescriber NPI: the ordering practitioner's record has no "
            "identifier with system http://hl7.org/fhir/sid/us-npi"
        )
    if order.quantity is None:
        raise MissingForRequest(
            f"{order.source}: quantity: the order gives none (MedicationRequest.dispenseRequest)"
        )
    coverage = coverage_of(case.assessment, evidence)
    if coverage is None or not coverage.member_id:
        raise MissingForRequest("member id: no current coverage with a member id in the chart")
    parts = patient.name_parts()
    if parts is None:
        raise MissingForRequest("patient name: not in the chart")
    family, given = parts
    *p_given, p_family = (prescriber.name or "unknown").split()
    ndc = next((c.code for c in order.codes if c.system in NDC_SYSTEMS), None)
    payer = case.assessment.payer
    return ncpdp.PAInitiationRequest(
        header=_header(case),
        pa_reference_id=case.case_id,
        patient=ncpdp.Patient(
            last_name=family,
            first_name=" ".join(given) or None,
            gender=_GENDER.get(patient.gender or "", "U"),
            birth_date=date.fromisoformat(patient.birth_date[:10]),
        ),
        prescriber=ncpdp.Prescriber(
            npi=prescriber.npi, last_name=p_family, first_name=" ".join(p_given) or None
        ),
        medication=ncpdp.MedicationPrescribed(
            description=order.text,
            quantity=ncpdp.Quantity(Decimal(str(order.quantity))),
            product_code=ndc,
            product_code_qualifier=ncpdp.NDC_QUALIFIER if ndc else None,
            diagnoses=tuple(order_diagnoses(case.assessment, evidence)),
        ),
        benefits=ncpdp.BenefitsCoordination(
            payer_id=payer.id if payer else "unknown",
            payer_name=payer.name if payer else None,
            cardholder_id=coverage.member_id,
        ),
    )


def answers_json(answers: list[Answer]) -> bytes:
    """The answers with their sources (what the XML can't carry), stored beside the PARequest."""
    return json.dumps(
        [to_json_value(a) for a in answers], ensure_ascii=False, sort_keys=True, default=_iso
    ).encode()


def _iso(value: object) -> str:
    """Dates in answers (a date question's answer) as ISO 8601."""
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"answer value of type {type(value).__name__} is not JSON")


Initiation = tuple[ncpdp.PAInitiationRequest, ncpdp.PAInitiationResponse]


def resumable(stored: tuple[bytes, bytes]) -> Initiation | None:
    """A stored initiation (request, response) to go on with: the payer's response left the
    case open with a PACaseID and a question set. None when it can't be used (closed, or a
    stored body that no longer parses): the send then initiates again."""
    try:
        request, response = ncpdp.parse(stored[0]), ncpdp.parse(stored[1])
    except ncpdp.NcpdpError:
        return None
    if not isinstance(request, ncpdp.PAInitiationRequest) or not isinstance(
        response, ncpdp.PAInitiationResponse
    ):
        return None
    if response.status is not ncpdp.InitiationStatus.OPEN:
        return None
    if response.question_set is None or response.pa_case_id is None:
        return None
    return request, response


def run(
    case: EpaCase,
    send: Send,
    record_sources: Callable[[bytes, str], None],
    *,
    resumed: Initiation | None = None,
) -> PayerResponse:
    """Initiation, answers, request: the payer's decision. With `resumed`, the payer's open
    case from an earlier initiation is answered instead of initiating again."""
    opened: ncpdp.EpaMessage
    if resumed is not None:
        started, opened = resumed
    else:
        started = initiation_request(case)
        opened = send("PAInitiationRequest", started)
    if not isinstance(opened, ncpdp.PAInitiationResponse):
        raise ChannelError(
            f"ePA: expected a PAInitiationResponse, got {ncpdp.message_name(opened)}"
        )
    if opened.status is ncpdp.InitiationStatus.CLOSED:
        note = opened.note or "case closed by the payer"
        outcome = Outcome.NOT_REQUIRED if "not required" in note.lower() else Outcome.CLOSED
        return PayerResponse(outcome, note, opened.reason_code, where="PAInitiationResponse")
    if opened.question_set is None or opened.pa_case_id is None:
        raise ChannelError("PAInitiationResponse/Open: expected PACaseID and a question set")
    answers = answer_questions(
        opened.question_set, case.evidence, case.assessment, prescriber=case.prescriber
    )
    record_sources(answers_json(answers), opened.pa_case_id)
    _check_answered(case, opened.question_set, answers, opened.pa_case_id)
    request = build_pa_request(
        opened,
        answers,
        request=started,
        header=_header(case, relates_to=opened.header.message_id),
    )
    decided = send("PARequest", request)
    if not isinstance(decided, ncpdp.PAResponse):
        raise ChannelError(f"ePA: expected a PAResponse, got {ncpdp.message_name(decided)}")
    return _decision(decided)


def pending_follow_up(replies: Sequence[bytes]) -> ncpdp.PAResponse | None:
    """The payer's last PAResponse (`replies`: the case's stored PAResponse bodies, oldest
    first), when it pended asking a follow-up question set on a PACaseID; else None."""
    if not replies:
        return None
    try:
        last = ncpdp.parse(replies[-1])
    except ncpdp.NcpdpError as exc:
        raise ChannelError(f"stored PAResponse: {exc}") from None
    if (
        isinstance(last, ncpdp.PAResponse)
        and last.decision.status is ncpdp.ResponseStatus.PENDED
        and last.decision.question_set is not None
    ):
        return last
    return None


def run_follow_up(
    case: EpaCase,
    pending: ncpdp.PAResponse,
    send: Send,
    record_sources: Callable[[bytes, str], None],
) -> PayerResponse:
    """More information on the same case: the follow-up question set of `pending` answered
    from the chart and sent as a PARequest on its PACaseID (no new initiation)."""
    follow_up = pending.decision.question_set
    assert follow_up is not None  # pending_follow_up returns only a pend with a set
    started = initiation_request(case)
    answers = answer_questions(
        follow_up, case.evidence, case.assessment, prescriber=case.prescriber
    )
    record_sources(answers_json(answers), pending.pa_case_id)
    _check_answered(case, follow_up, answers, pending.pa_case_id)
    opened = ncpdp.PAInitiationResponse(
        header=pending.header,
        pa_reference_id=pending.pa_reference_id,
        status=ncpdp.InitiationStatus.OPEN,
        pa_case_id=pending.pa_case_id,
        question_set=follow_up,
    )
    request = build_pa_request(
        opened,
        answers,
        request=started,
        header=_header(case, relates_to=pending.header.message_id),
    )
    decided = send("PARequest", request)
    if not isinstance(decided, ncpdp.PAResponse):
        raise ChannelError(f"ePA: expected a PAResponse, got {ncpdp.message_name(decided)}")
    return _decision(decided)


def _decision(response: ncpdp.PAResponse) -> PayerResponse:
    d = response.decision
    status = ncpdp.ResponseStatus
    outcome = {
        status.APPROVED: Outcome.APPROVED,
        status.DENIED: Outcome.DENIED,
        status.PENDED: Outcome.PENDED,
        status.CLOSED: Outcome.CLOSED,
    }[d.status]
    ask = tuple(q.text for q in d.question_set.questions) if d.question_set else ()
    if outcome is Outcome.PENDED and ask:
        outcome = Outcome.MORE_INFO
    return PayerResponse(
        outcome=outcome,
        reason=d.reason_text or d.note,
        reason_code=d.reason_code,
        auth_number=d.authorization_number,
        start=d.effective_date.isoformat() if d.effective_date else None,
        end=d.expiration_date.isoformat() if d.expiration_date else None,
        units=format(d.quantity.value.normalize(), "f") if d.quantity else None,
        payer_reference=response.pa_case_id,
        ask=ask,
        where=f"PAResponse/Response/{d.status.value}",
    )


def encode(message: ncpdp.EpaMessage, xsd: Path | None) -> bytes:
    """The XML, checked against the XSD the setting names (if any) before it is sent."""
    body = ncpdp.to_xml(message)
    if xsd is not None:
        problems = ncpdp.validate(body, xsd)
        if problems:
            raise ChannelError(
                f"{ncpdp.message_name(message)} fails {xsd.name}: " + "; ".join(problems[:5])
            )
    return body


def decode(reply: Reply) -> ncpdp.EpaMessage:
    if reply.status >= 400:
        text = reply.body.decode("utf-8", errors="replace")[:300]
        raise ChannelError(f"ePA: the payer refused the message (HTTP {reply.status}): {text}")
    try:
        return ncpdp.parse(reply.body)
    except ncpdp.NcpdpError as exc:
        raise ChannelError(f"ePA answer: {exc}") from None


#: PACancelRequest/ReasonCode sent when the practice withdraws a request. NCPDP's code list is
#: licensed and was not checked: "BW" is the value the public ONC test data shows; a payer's
#: list may differ.
CANCEL_REASON_CODE = "BW"


def appeal_request(case: EpaCase, pa_case_id: str, reason: str) -> ncpdp.PAAppealRequest:
    """PAAppealRequest on the payer's PACaseID, the reason as PANote; MissingForRequest as for
    the initiation (the same patient, prescriber and drug are named)."""
    started = initiation_request(case)
    return ncpdp.PAAppealRequest(
        header=_header(case),
        pa_reference_id=case.case_id,
        pa_case_id=pa_case_id,
        patient=started.patient,
        prescriber=started.prescriber,
        medication=started.medication,
        reason=reason,
    )


def cancel_request(case: EpaCase, pa_case_id: str, reason: str) -> ncpdp.PACancelRequest:
    started = initiation_request(case)
    return ncpdp.PACancelRequest(
        header=_header(case),
        pa_reference_id=case.case_id,
        pa_case_id=pa_case_id,
        patient=started.patient,
        prescriber=started.prescriber,
        medication=started.medication,
        reason_code=CANCEL_REASON_CODE,
        note=reason,
    )


def appeal_decision(response: ncpdp.EpaMessage) -> PayerResponse:
    """The payer's answer to an appeal (a PAAppealResponse's decision)."""
    if not isinstance(response, ncpdp.PAAppealResponse):
        raise ChannelError(f"ePA: expected a PAAppealResponse, got {ncpdp.message_name(response)}")
    decided = _decision(
        ncpdp.PAResponse(
            header=response.header,
            pa_reference_id=response.pa_reference_id,
            pa_case_id=response.pa_case_id,
            decision=response.decision,
        )
    )
    return replace(
        decided,
        payer_reference=response.pa_case_id,
        where=f"PAAppealResponse/Response/{response.decision.status.value}",
    )


def cancel_decision(response: ncpdp.EpaMessage) -> PayerResponse:
    """PACancelResponse: Approved closes the case; Denied leaves it as it was."""
    if not isinstance(response, ncpdp.PACancelResponse):
        raise ChannelError(f"ePA: expected a PACancelResponse, got {ncpdp.message_name(response)}")
    approved = response.status is ncpdp.CancelStatus.APPROVED
    return PayerResponse(
        outcome=Outcome.CLOSED if approved else Outcome.DENIED,
        reason=response.note or ("cancelled" if approved else "the payer refused to cancel"),
        reason_code=response.reason_code,
        payer_reference=response.pa_case_id,
        where=f"PACancelResponse/Response/{response.status.value}",
    )
