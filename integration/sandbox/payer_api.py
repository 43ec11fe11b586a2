"""The sandbox payer, beside the sandbox EHR: answers prior-authorization requests over real HTTP
on every channel derm-rcm sends by, deciding each from data (`payer_rules`, the ePA question
sets). A test double: no real payer's policy, and no state beyond this process.

    POST /payer/fhir/Claim/$submit   Da Vinci PAS request Bundle  -> ClaimResponse Bundle
    POST /payer/x12/278              X12 278 request (005010X217) -> 278 response
    POST /payer/ncpdp                NCPDP SCRIPT ePA message     -> its response message

Each channel's appeal and cancellation is decided by the same table (rules with `request:
appeal` / `request: cancel`): a PAS Claim update (status cancelled, or item certificationType 2),
a 278 with BHT02 01 / UM02 3 (cancel) or UM02 1 / 2 (appeal), an NCPDP PAAppealRequest or
PACancelRequest.

A 278 that can't be read is answered as a clearinghouse would: a 999 rejecting it with the
located problems (IK3/IK4), or, when not even its envelope can be read, HTTP 400 with the
problems as text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Response, request

from integration.domain.priorauth import FollowUp
from integration.priorauth import ncpdp
from integration.priorauth.channels.pas import (
    REVIEW_ACTION,
    REVIEW_ACTION_CODE,
    X12_306,
    X12_886,
    follow_up_kind,
)
from integration.sandbox.outcome import FhirError, fhir_response
from integration.sandbox.payer_rules import Decision, PayerDecisions, PayerRequest
from integration.sandbox.question_sets import Outcome as EpaOutcome
from integration.sandbox.question_sets import QuestionSetLibrary
from integration.sandbox.question_sets import decide as decide_epa
from integration.x12.envelope import EnvelopeParams, SequentialControlNumbers
from integration.x12.t278_005010x217 import Attachment as X12Attachment
from integration.x12.t278_005010x217 import (
    DatePeriod,
    Request278,
    Response278,
    ServiceDelivery,
    read_278_request,
    write_278_response,
)
from integration.x12.t278_005010x217 import Decision as X12Decision
from integration.x12.t278_005010x217 import Header as X12Header
from integration.x12.t999_005010x231a1 import build_999, write_999

ICD10_SYSTEMS = ("http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10")

#: our outcome -> X12 306 review action (HCR01)
_ACTION = {"approved": "A1", "denied": "A3", "pended": "A4", "cancelled": "C"}


def _invalid(where: str, what: str) -> FhirError:
    return FhirError(400, "invalid", f"{where}: {what}", expression=where)


def _day(value: Any) -> date | None:
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def pas_request(bundle: Any, today: date) -> tuple[PayerRequest, Mapping[str, Any]]:
    """What a PAS `$submit` Bundle asks for, and its Claim; FhirError (400, located) if it
    isn't a preauthorization request."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        got = bundle.get("resourceType") if isinstance(bundle, dict) else type(bundle).__name__
        raise _invalid("Bundle", f"expected a Bundle, got {got!r}")
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        raise _invalid("Bundle.entry", "expected the Claim as the first entry, got no entries")
    resources: list[dict[str, Any]] = [
        e["resource"]
        for e in entries
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]
    first = entries[0].get("resource") if isinstance(entries[0], dict) else None
    if not isinstance(first, dict) or first.get("resourceType") != "Claim":
        got = first.get("resourceType") if isinstance(first, dict) else None
        raise _invalid("Bundle.entry[0].resource", f"expected a Claim, got {got!r}")
    claim = first
    if claim.get("use") != "preauthorization":
        raise _invalid("Claim.use", f"expected 'preauthorization', got {claim.get('use')!r}")
    items = claim.get("item")
    if not isinstance(items, list) or not items:
        raise _invalid("Claim.item", "expected at least one requested service, got none")
    codes: list[str] = []
    quantity: Decimal | None = None
    served: date | None = None
    for i, item in enumerate(items):
        for coding in (item.get("productOrService") or {}).get("coding", []):
            if coding.get("code"):
                codes.append(str(coding["code"]))
        if "quantity" in item:
            try:
                quantity = (quantity or Decimal(0)) + Decimal(str(item["quantity"]["value"]))
            except (InvalidOperation, KeyError, TypeError):
                raise _invalid(
                    f"Claim.item[{i}].quantity.value",
                    f"expected a number, got {item.get('quantity')!r}",
                ) from None
        served = served or _day(item.get("servicedDate"))
    if not codes:
        raise _invalid("Claim.item[0].productOrService", "expected a coded service, got none")
    diagnoses = [
        str(coding["code"])
        for d in claim.get("diagnosis", [])
        for coding in (d.get("diagnosisCodeableConcept") or {}).get("coding", [])
        if coding.get("system") in ICD10_SYSTEMS and coding.get("code")
    ]
    attachments = sum(1 for r in resources if r.get("resourceType") == "DocumentReference")
    attachments += sum(1 for s in claim.get("supportingInfo", []) if "valueAttachment" in s)
    member = next(
        (
            r.get("subscriberId")
            for r in resources
            if r.get("resourceType") == "Coverage" and r.get("subscriberId")
        ),
        None,
    )
    kind = follow_up_kind(claim)
    return (
        PayerRequest(
            request=kind.value if kind else "initial",
            channel="pas",
            codes=tuple(codes),
            diagnoses=tuple(diagnoses),
            quantity=quantity,
            service_date=served or _day(claim.get("created")) or today,
            attachments=attachments,
            member_id=member,
        ),
        claim,
    )


def claim_response_bundle(
    claim: Mapping[str, Any], decision: Decision, *, response_id: str, now: datetime
) -> dict[str, Any]:
    """A PAS response Bundle: the ClaimResponse first, its review action on the item."""
    action: list[dict[str, Any]] = [
        {
            "url": REVIEW_ACTION_CODE,
            "valueCodeableConcept": {
                "coding": [{"system": X12_306, "code": _ACTION[decision.outcome]}]
            },
        }
    ]
    if decision.auth_number:
        action.append({"url": "number", "valueString": decision.auth_number})
    if decision.reason_code:
        action.append(
            {
                "url": "reasonCode",
                "valueCodeableConcept": {
                    "coding": [{"system": X12_886, "code": decision.reason_code}]
                },
            }
        )
    response: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": response_id,
        "identifier": [{"system": "urn:trnorg:sandbox-payer", "value": response_id}],
        "status": "active",
        "type": claim.get("type")
        or {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/claim-type",
                    "code": "professional",
                }
            ]
        },
        "use": "preauthorization",
        "patient": claim.get("patient") or {"display": "not given"},
        "created": now.isoformat(timespec="seconds"),
        "insurer": {"display": "derm-rcm sandbox payer"},
        "request": {"reference": f"Claim/{claim.get('id')}"}
        if claim.get("id")
        else {"display": "the request"},
        "outcome": "queued" if decision.outcome == "pended" else "complete",
        "disposition": decision.reason,
        "item": [
            {
                "itemSequence": 1,
                "adjudication": [
                    {
                        "extension": [{"url": REVIEW_ACTION, "extension": action}],
                        "category": {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/adjudication",
                                    "code": "submitted",
                                }
                            ]
                        },
                    }
                ],
            }
        ],
    }
    if decision.auth_number:
        response["preAuthRef"] = decision.auth_number
    if decision.start and decision.end:
        response["preAuthPeriod"] = {
            "start": decision.start.isoformat(),
            "end": decision.end.isoformat(),
        }
    if decision.ask:
        response["processNote"] = [
            {"number": i, "type": "display", "text": text}
            for i, text in enumerate(decision.ask, start=1)
        ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": now.isoformat(timespec="seconds"),
        "entry": [{"fullUrl": f"urn:uuid:{response_id}", "resource": response}],
    }


_X12_ACTION = {"approved": "A1", "denied": "A3", "pended": "A4", "cancelled": "C"}
_X12_DELIMITERS = str.maketrans({"*": "-", ":": " -", "^": " ", "~": "-", ">": " "})


def _x12_text(text: str) -> str:
    """Free text made safe for X12 elements: no delimiter characters."""
    return " ".join(text.translate(_X12_DELIMITERS).split())


def x12_request(request_278: Request278, today: date) -> PayerRequest:
    """What a 278 asks for: its service lines' codes and units, diagnoses, PWK documents."""
    event = request_278.event
    assert event is not None  # the reader reports a 278 without 2000E as a problem
    codes = tuple(s.procedure.code for s in event.services if s.procedure is not None)
    quantities = [
        s.professional.quantity
        for s in event.services
        if s.professional is not None and s.professional.quantity is not None
    ]
    when = event.date("AAH") or event.date("472")
    certification = event.review.certification_type if event.review else ""
    kind = "initial"
    if request_278.header.purpose == "01" or certification == "3":
        kind = FollowUp.CANCEL.value
    elif certification in ("1", "2"):
        kind = FollowUp.APPEAL.value
    return PayerRequest(
        request=kind,
        channel="x12-278",
        codes=codes,
        diagnoses=tuple(d.code for d in event.diagnoses),
        quantity=max(quantities) if quantities else None,
        service_date=when.start if when else today,
        attachments=len(event.attachments),
        member_id=request_278.subscriber.id if request_278.subscriber else None,
    )


def x12_response(
    request_278: Request278, asked: PayerRequest, decision: Decision, now: datetime
) -> Response278:
    """The answer: the request echoed (TRN type 2), one HCR on the event and its lines, the
    certified period (DTP 007) and units (HSD) on an approval, a PWK per document asked for."""
    event = request_278.event
    assert event is not None
    code = _X12_ACTION[decision.outcome]
    if decision.outcome == "approved" and asked.quantity and decision.units != asked.quantity:
        code = "A6"  # modified: fewer units than asked
    hcr = X12Decision(code, decision.auth_number or "", decision.reason_code or "")
    dates = event.dates
    delivery = None
    if decision.start and decision.end:
        dates = (*dates, DatePeriod("007", decision.start, decision.end))
    if decision.units is not None:
        delivery = ServiceDelivery(quantity_qualifier="UN", quantity=decision.units)
    return Response278(
        header=X12Header(
            reference_id=request_278.header.reference_id, created=now, transaction_type="18"
        ),
        umo=request_278.umo,
        requester=request_278.requester,
        subscriber=request_278.subscriber,
        dependent=request_278.dependent,
        event=replace(
            event,
            traces=tuple(replace(t, type_code="2") for t in event.traces),
            decision=hcr,
            dates=dates,
            delivery=delivery,
            attachments=tuple(
                X12Attachment("OZ", "EL", description=_x12_text(a)[:80]) for a in decision.ask
            ),
            message=_x12_text(decision.reason)[:264],
            services=tuple(replace(s, decision=hcr) for s in event.services),
        ),
    )


#: how long a sandbox ePA approval lasts (the question sets don't say)
EPA_APPROVAL_DAYS = 365


def _epa_header(asked: ncpdp.Header, now: datetime, n: int) -> ncpdp.Header:
    return ncpdp.Header(
        to=asked.from_,
        from_=asked.to,
        message_id=f"sbx-{n:06d}",
        sent_time=now,
        relates_to_message_id=asked.message_id,
        prescriber_order_number=asked.prescriber_order_number,
    )


def _epa_asked(
    message: ncpdp.PAAppealRequest | ncpdp.PACancelRequest, kind: FollowUp, today: date
) -> PayerRequest:
    med = message.medication
    return PayerRequest(
        channel="ncpdp-epa",
        codes=tuple(c for c in (med.product_code,) if c) or (med.description[:11].upper(),),
        diagnoses=med.diagnoses,
        quantity=med.quantity.value,
        service_date=today,
        request=kind.value,
    )


#: the id of the follow-up question set a pend sends: the first set's id and this
FOLLOW_UP_SUFFIX = "-follow-up"


def _answered(answer: ncpdp.QuestionAnswer) -> bool:
    return bool(
        answer.choice_ids
        or (answer.free_text or "").strip()
        or answer.numeric is not None
        or answer.date is not None
    )


def _epa_follow_up_answer(
    message: ncpdp.PARequest,
    library: QuestionSetLibrary,
    now: datetime,
    header: ncpdp.Header,
    decisions: PayerDecisions | None,
) -> ncpdp.PAResponse:
    """A PARequest answering the follow-up set a pend sent, on the same PACaseID: decided by
    the decision table's `request: follow-up` rules on which questions were answered."""
    base = message.question_set_id.removesuffix(FOLLOW_UP_SUFFIX)
    definition = next((d for d in library.definitions if d.question_set.id == base), None)
    if definition is None or decisions is None:
        raise ValueError(
            f"PARequest/QuestionSetID: not a follow-up set this payer sent, "
            f"got {message.question_set_id!r}"
        )
    med = message.medication
    said = decisions.decide(
        PayerRequest(
            channel="ncpdp-epa",
            codes=tuple(c for c in (med.product_code,) if c) or (definition.id[:11].upper(),),
            diagnoses=med.diagnoses,
            quantity=med.quantity.value,
            service_date=now.date(),
            request="follow-up",
            answered=tuple(a.question_id for a in message.answers if _answered(a)),
        )
    )
    if said.outcome == "approved":
        decision = ncpdp.PADecision(
            status=ncpdp.ResponseStatus.APPROVED,
            authorization_number=said.auth_number,
            effective_date=said.start,
            expiration_date=said.end,
            quantity=med.quantity,
            note=said.reason,
        )
    elif said.outcome == "denied":
        decision = ncpdp.PADecision(
            status=ncpdp.ResponseStatus.DENIED,
            reason_code=said.reason_code,
            reason_text=said.reason,
            appeal_supported=True,
        )
    else:
        decision = ncpdp.PADecision(
            status=ncpdp.ResponseStatus.PENDED,
            reason_text=said.reason,
            deadline_for_reply=now.date() + timedelta(days=7),
        )
    return ncpdp.PAResponse(
        header=header,
        pa_reference_id=message.pa_reference_id,
        pa_case_id=message.pa_case_id,
        decision=decision,
    )


def epa_answer(
    message: ncpdp.EpaMessage,
    library: QuestionSetLibrary,
    now: datetime,
    n: int,
    decisions: PayerDecisions | None = None,
) -> ncpdp.EpaMessage:
    """The sandbox payer's answer to one ePA message; FhirError-free: raises ValueError with
    what is wrong for a message it doesn't answer."""
    header = _epa_header(message.header, now, n)
    reference = message.pa_reference_id
    case_id = "SBXC" + hashlib.sha256(reference.encode()).hexdigest()[:10].upper()
    if isinstance(message, ncpdp.PAInitiationRequest):
        med = message.medication
        found = library.for_drug([med.product_code or ""], [med.description])
        if found is None:
            return ncpdp.PAInitiationResponse(
                header=header,
                pa_reference_id=reference,
                status=ncpdp.InitiationStatus.CLOSED,
                reason_code="NR",
                note="Prior authorization is not required for this drug by the sandbox payer",
            )
        return ncpdp.PAInitiationResponse(
            header=header,
            pa_reference_id=reference,
            status=ncpdp.InitiationStatus.OPEN,
            pa_case_id=case_id,
            deadline_for_reply=now.date() + timedelta(days=14),
            question_set=found.question_set,
        )
    if isinstance(message, ncpdp.PARequest) and message.question_set_id.endswith(FOLLOW_UP_SUFFIX):
        return _epa_follow_up_answer(message, library, now, header, decisions)
    if isinstance(message, ncpdp.PARequest):
        definition = next(
            (d for d in library.definitions if d.question_set.id == message.question_set_id),
            None,
        )
        if definition is None:
            raise ValueError(
                f"PARequest/QuestionSetID: not a question set this payer sent, "
                f"got {message.question_set_id!r}"
            )
        decided = decide_epa(definition, message.answers)
        if decided.outcome is EpaOutcome.APPROVE:
            number = "SBXPA" + hashlib.sha256(message.pa_case_id.encode()).hexdigest()[:10].upper()
            decision = ncpdp.PADecision(
                status=ncpdp.ResponseStatus.APPROVED,
                authorization_number=number,
                effective_date=now.date(),
                expiration_date=now.date() + timedelta(days=EPA_APPROVAL_DAYS - 1),
                quantity=message.medication.quantity,
                note=decided.reason,
            )
        elif decided.outcome is EpaOutcome.DENY:
            decision = ncpdp.PADecision(
                status=ncpdp.ResponseStatus.DENIED,
                reason_code=decided.reason_code,
                reason_text=decided.reason,
                appeal_supported=True,
            )
        else:
            decision = ncpdp.PADecision(
                status=ncpdp.ResponseStatus.PENDED,
                reason_text=decided.reason,
                deadline_for_reply=now.date() + timedelta(days=7),
                question_set=ncpdp.QuestionSet(
                    id=f"{message.question_set_id}{FOLLOW_UP_SUFFIX}",
                    title="More information",
                    questions=decided.follow_up_questions,
                )
                if decided.follow_up_questions
                else None,
            )
        return ncpdp.PAResponse(
            header=header,
            pa_reference_id=reference,
            pa_case_id=message.pa_case_id,
            decision=decision,
        )
    if isinstance(message, ncpdp.PACancelRequest):
        if decisions is None:
            raise ValueError("PACancelRequest: this payer has no decision table for cancels")
        said = decisions.decide(_epa_asked(message, FollowUp.CANCEL, now.date()))
        cancelled = said.outcome == "cancelled"
        return ncpdp.PACancelResponse(
            header=header,
            pa_reference_id=reference,
            pa_case_id=message.pa_case_id,
            status=ncpdp.CancelStatus.APPROVED if cancelled else ncpdp.CancelStatus.DENIED,
            reason_code=None if cancelled else said.reason_code,
            note=said.reason,
        )
    if isinstance(message, ncpdp.PAAppealRequest):
        if decisions is None:
            raise ValueError("PAAppealRequest: this payer has no decision table for appeals")
        said = decisions.decide(_epa_asked(message, FollowUp.APPEAL, now.date()))
        status = {
            "approved": ncpdp.ResponseStatus.APPROVED,
            "denied": ncpdp.ResponseStatus.DENIED,
            "pended": ncpdp.ResponseStatus.PENDED,
        }.get(said.outcome, ncpdp.ResponseStatus.CLOSED)
        approved = status is ncpdp.ResponseStatus.APPROVED
        return ncpdp.PAAppealResponse(
            header=header,
            pa_reference_id=reference,
            pa_case_id=message.pa_case_id,
            appeal_case_id="SBXAP" + hashlib.sha256(reference.encode()).hexdigest()[:10].upper(),
            decision=ncpdp.PADecision(
                status=status,
                authorization_number=said.auth_number if approved else None,
                effective_date=said.start if approved else None,
                expiration_date=said.end if approved else None,
                reason_code=None if approved else said.reason_code,
                reason_text=None if approved else said.reason,
                note=said.reason if approved else None,
            ),
        )
    raise ValueError(
        f"Message/Body: expected a request the payer answers, got {ncpdp.message_name(message)}"
    )


def payer_blueprint(
    decisions: PayerDecisions, question_sets: QuestionSetLibrary | None = None
) -> Blueprint:
    question_sets = question_sets or QuestionSetLibrary.load()
    bp = Blueprint("sandbox_payer", __name__, url_prefix="/payer")
    received: list[str] = []

    @bp.post("/fhir/Claim/$submit")
    def pas_submit() -> Response:
        try:
            bundle = json.loads(request.get_data())
        except ValueError as exc:
            raise _invalid("body", f"expected JSON, got {exc}") from None
        now = datetime.now(UTC)
        asked, claim = pas_request(bundle, now.date())
        decision = decisions.decide(asked)
        received.append("pas")
        response_id = f"sbx-{decisions.auth_number(asked)[-10:].lower()}-{len(received)}"
        body = claim_response_bundle(claim, decision, response_id=response_id, now=now)
        return fhir_response(body, 200)

    @bp.post("/ncpdp")
    def ncpdp_message() -> Response:
        try:
            message = ncpdp.parse(request.get_data())
            received.append("ncpdp-epa")
            answer = epa_answer(message, question_sets, datetime.now(UTC), len(received), decisions)
        except (ncpdp.NcpdpError, ValueError) as exc:
            return Response(f"{exc}\n", 400, mimetype="text/plain")
        return Response(ncpdp.to_xml(answer), 200, mimetype="application/xml")

    @bp.post("/x12/278")
    def x12_278() -> Response:
        text = request.get_data().decode("ascii", errors="replace")
        requests_278, problems = read_278_request(text)
        if problems or len(requests_278) != 1:
            acks = build_999(text, problems)
            if acks:
                ack = acks[0]
                now = datetime.now(UTC)
                received.append("x12-278-rejected")
                number = len(received)
                sender = ack.envelope.interchange.sender_id if ack.envelope else "DERMRCM"
                body = write_999(
                    ack,
                    EnvelopeParams(
                        sender_qualifier="ZZ",
                        sender_id="SANDBOXPAYER",
                        receiver_qualifier="ZZ",
                        receiver_id=sender,
                        usage_indicator="T",
                    ),
                    lambda: now,
                    SequentialControlNumbers(interchange=number, group=number, transaction=1),
                    segment_suffix="\n",
                )
                return Response(body, 200, mimetype="application/edi-x12")
            found = [p.render() for p in problems] or [
                f"expected one 278 request, got {len(requests_278)}"
            ]
            return Response("\n".join(found) + "\n", 400, mimetype="text/plain")
        now = datetime.now(UTC)
        asked = x12_request(requests_278[0], now.date())
        decision = decisions.decide(asked)
        received.append("x12-278")
        answer = x12_response(requests_278[0], asked, decision, now)
        number = len(received)
        body = write_278_response(
            answer,
            EnvelopeParams(
                sender_qualifier="ZZ",
                sender_id="SANDBOXPAYER",
                receiver_qualifier="ZZ",
                receiver_id=(
                    requests_278[0].envelope.interchange.sender_id
                    if requests_278[0].envelope
                    else "DERMRCM"
                ),
                usage_indicator="T",
            ),
            lambda: now,
            SequentialControlNumbers(interchange=number, group=number, transaction=1),
            segment_suffix="\n",
        )
        return Response(body, 200, mimetype="application/edi-x12")

    return bp
