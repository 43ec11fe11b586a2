"""Send a signed case to its payer by the case's channel and apply the answer.

Each outbound message is stored before it is sent and each answer as soon as it arrives; a
send that fails leaves the case where it was, with the failure on its audit trail, so nothing is
lost and sending again is safe. Portal and fax cases are not sent from here: the coordinator
uploads or faxes the packet and records what the payer said (`dermrcm pa decide`).

After the decision, `Submitter.appeal` (from denied) and `Submitter.cancel` (from submitted,
pended, more-information-requested or approved) send the follow-up by the case's channel, stored
the same way: an ePA PAAppealRequest / PACancelRequest on the payer's PACaseID, a 278 with UM02 2
(appeal) or BHT02 01 + UM02 3 (cancel) on the case's trace, a PAS Claim update by `$submit`
(see `channels.pas.follow_up_bundle`). A portal or fax case's follow-up is recorded by hand
(`record_follow_up`)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from integration.domain.evidence import ClinicalEvidence, Owner, from_json
from integration.domain.priorauth import (
    Assessment,
    Channel,
    FollowUp,
    Outcome,
    PayerResponse,
    Prescriber,
)
from integration.priorauth import ncpdp
from integration.priorauth.cases import CaseState
from integration.priorauth.channels import epa, pas, x278
from integration.priorauth.channels.request_facts import MissingForRequest
from integration.priorauth.channels.transport import ChannelError, PayerTransport
from integration.priorauth.epa_answers import Answer
from integration.priorauth.packet import (
    Attestation,
    ClinicianReview,
    build_packet_bundle,
    render_packet_pdf,
)
from integration.store.models import PaCase
from integration.store.pa_submissions import PaSubmissionStore, SignedPacket, SubmissionError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Attachment:
    """A document the coordinator adds (what a payer asked for): title, type, bytes."""

    title: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Practice:
    """The requesting practice, as the 278 and ePA messages name it."""

    name: str
    npi: str


@dataclass(frozen=True, slots=True)
class Outbound:
    """What a channel needs to build its messages for one case."""

    case: PaCase
    assessment: Assessment
    evidence: ClinicalEvidence
    signed: SignedPacket
    attachments: tuple[Attachment, ...]
    practice: Practice
    now: datetime
    ncpdp_xsd: Path | None = None
    #: the payer's earlier answers on this case by kind (bodies, oldest first), for a
    #: resubmission that continues the payer's case (an ePA follow-up question set)
    replies: Mapping[str, tuple[bytes, ...]] = field(default_factory=dict)
    #: ePA: send even when questions on the route are unanswered (they are listed)
    allow_unanswered: bool = False
    #: ePA: the stored PAInitiationRequest and the payer's open PAInitiationResponse of an
    #: earlier send that stopped before its PARequest (held for unanswered questions): the
    #: next send answers that question set on that PACaseID instead of initiating again
    open_initiation: tuple[bytes, bytes] | None = None


Record = Callable[[str, str, str, bytes, str | None], None]
"""record(direction, kind, content_type, body, correlation): store a message now."""


class ChannelFlow(Protocol):
    def __call__(
        self, out: Outbound, base_url: str, transport: PayerTransport, record: Record
    ) -> PayerResponse: ...


def packet_pdf(out: Outbound) -> bytes:
    """The signed packet as the payer will see it."""
    return render_packet_pdf(
        out.assessment,
        out.evidence,
        attestation=Attestation(
            clinician=out.signed.signed_by,
            signed=out.signed.signed_at.date(),
            practitioner_ref=out.signed.signed_by,
        ),
        created=out.now,
        packet_id=out.case.id,
        review=ClinicianReview(
            out.signed.narrative, out.signed.attestations, version=out.signed.version
        ),
    )


def pas_flow(
    out: Outbound, base_url: str, transport: PayerTransport, record: Record
) -> PayerResponse:
    """Da Vinci PAS: one `Claim/$submit` with the packet PDF and any added documents."""
    bundle = build_packet_bundle(
        out.assessment,
        out.evidence,
        packet_id=out.case.id,
        created=out.now,
        patient_ref=f"Patient/{out.case.patient_id}",
        practitioner_ref=out.signed.signed_by,
        pdf=packet_pdf(out),
    )
    _add_documents(bundle, out)
    body = pas.request_body(bundle)
    correlation = str(bundle["id"])
    record("out", "Claim/$submit", pas.CONTENT_TYPE, body, correlation)
    reply = transport.post(
        base_url.rstrip("/") + pas.SUBMIT_PATH, body, pas.CONTENT_TYPE, pas.CONTENT_TYPE
    )
    record("in", "ClaimResponse", reply.content_type or pas.CONTENT_TYPE, reply.body, correlation)
    return pas.read_response(reply.status, reply.body)


def _add_documents(bundle: dict[str, Any], out: Outbound) -> None:
    import base64

    claim_url = bundle["entry"][0]["fullUrl"]
    for i, doc in enumerate(out.attachments, start=1):
        doc_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{out.case.id}/attachment/{i}/{doc.title}"))
        bundle["entry"].append(
            {
                "fullUrl": f"urn:uuid:{doc_id}",
                "resource": {
                    "resourceType": "DocumentReference",
                    "id": doc_id,
                    "status": "current",
                    "subject": {"reference": f"Patient/{out.case.patient_id}"},
                    "description": doc.title,
                    "content": [
                        {
                            "attachment": {
                                "contentType": doc.content_type,
                                "data": base64.b64encode(doc.data).decode("ascii"),
                                "title": doc.title,
                            }
                        }
                    ],
                    "context": {"related": [{"reference": claim_url}]},
                },
            }
        )


def x278_flow(
    out: Outbound, base_url: str, transport: PayerTransport, record: Record
) -> PayerResponse:
    """X12 278: the request with a PWK per document (the signed packet, then any added)."""
    try:
        request = x278.build_request(
            case_id=out.case.id,
            assessment=out.assessment,
            evidence=out.evidence,
            practice_name=out.practice.name,
            practice_npi=out.practice.npi,
            documents=1 + len(out.attachments),
            now=out.now,
        )
    except MissingForRequest as exc:
        raise SubmissionError(f"case {out.case.id}: the 278 can't be built: {exc}") from None
    payer = out.assessment.payer.id.upper() if out.assessment.payer else "PAYER"
    body = x278.write_request(
        request, sender_id=out.practice.npi, receiver_id=payer, clock=lambda: out.now
    )
    correlation = request.header.reference_id
    record("out", "278", x278.CONTENT_TYPE, body, correlation)
    reply = transport.post(base_url.rstrip("/") + x278.PATH, body, x278.CONTENT_TYPE, "*/*")
    record("in", "278", reply.content_type or x278.CONTENT_TYPE, reply.body, correlation)
    return x278.read_response(reply.status, reply.body)


def epa_flow(
    out: Outbound, base_url: str, transport: PayerTransport, record: Record
) -> PayerResponse:
    """NCPDP SCRIPT ePA: initiation, the question set answered from the chart, the request. A
    case the payer pended asking a follow-up question set goes on on the same PACaseID: the
    follow-up set answered from the chart in a PARequest, no new initiation."""
    context = json.loads(out.case.context_json)
    prescriber = context.get("prescriber")
    case = epa.EpaCase(
        case_id=out.case.id,
        assessment=out.assessment,
        evidence=out.evidence,
        prescriber=from_json(Prescriber, prescriber) if prescriber else None,
        practice_npi=out.practice.npi,
        now=out.now,
        allow_unanswered=out.allow_unanswered,
    )
    url = base_url.rstrip("/") + epa.PATH

    def send(kind: str, message: ncpdp.EpaMessage) -> ncpdp.EpaMessage:
        body = epa.encode(message, out.ncpdp_xsd)
        record("out", kind, epa.CONTENT_TYPE, body, message.header.message_id)
        reply = transport.post(url, body, epa.CONTENT_TYPE, epa.CONTENT_TYPE)
        answer = epa.decode(reply)
        record(
            "in",
            ncpdp.message_name(answer),
            reply.content_type or epa.CONTENT_TYPE,
            reply.body,
            message.header.message_id,
        )
        return answer

    def record_sources(body: bytes, pa_case_id: str) -> None:
        record("out", epa.SOURCES_KIND, "application/json", body, pa_case_id)

    pending = (
        epa.pending_follow_up(out.replies.get("PAResponse", ()))
        if out.case.state == CaseState.MORE_INFO.value
        else None
    )
    try:
        if pending is not None:
            return epa.run_follow_up(case, pending, send, record_sources)
        resumed = epa.resumable(out.open_initiation) if out.open_initiation else None
        return epa.run(case, send, record_sources, resumed=resumed)
    except MissingForRequest as exc:
        raise SubmissionError(f"case {out.case.id}: the ePA can't be built: {exc}") from None
    except epa.Unanswered as exc:
        raise UnansweredError(out.case.id, exc) from None


@dataclass(frozen=True, slots=True)
class FollowUpRequest:
    """An appeal or cancellation: what, why, and the payer's numbers for the case."""

    kind: FollowUp
    reason: str
    payer_reference: str | None
    auth_number: str | None


class FollowUpFlow(Protocol):
    def __call__(
        self,
        out: Outbound,
        follow: FollowUpRequest,
        base_url: str,
        transport: PayerTransport,
        record: Record,
    ) -> PayerResponse: ...


def pas_follow_up(
    out: Outbound,
    follow: FollowUpRequest,
    base_url: str,
    transport: PayerTransport,
    record: Record,
) -> PayerResponse:
    """The case's `$submit` Bundle as a PAS Claim update (`pas.follow_up_bundle`)."""
    bundle = build_packet_bundle(
        out.assessment,
        out.evidence,
        packet_id=out.case.id,
        created=out.now,
        patient_ref=f"Patient/{out.case.patient_id}",
        practitioner_ref=out.signed.signed_by,
        pdf=packet_pdf(out),
    )
    _add_documents(bundle, out)
    suffix = f"{follow.kind}-{out.now:%Y%m%d%H%M%S}"
    update = pas.follow_up_bundle(bundle, follow.kind, reason=follow.reason, suffix=suffix)
    body = pas.request_body(update)
    correlation = str(update["id"])
    record("out", f"Claim/$submit {follow.kind}", pas.CONTENT_TYPE, body, correlation)
    reply = transport.post(
        base_url.rstrip("/") + pas.SUBMIT_PATH, body, pas.CONTENT_TYPE, pas.CONTENT_TYPE
    )
    record("in", "ClaimResponse", reply.content_type or pas.CONTENT_TYPE, reply.body, correlation)
    return pas.read_response(reply.status, reply.body)


def x278_follow_up(
    out: Outbound,
    follow: FollowUpRequest,
    base_url: str,
    transport: PayerTransport,
    record: Record,
) -> PayerResponse:
    """The case's 278 as an appeal (UM02 2) or a cancellation (BHT02 01, UM02 3), naming the
    payer's numbers in REF; an appeal carries a PWK per document as a request does."""
    try:
        first = x278.build_request(
            case_id=out.case.id,
            assessment=out.assessment,
            evidence=out.evidence,
            practice_name=out.practice.name,
            practice_npi=out.practice.npi,
            documents=1 + len(out.attachments),
            now=out.now,
        )
    except MissingForRequest as exc:
        raise SubmissionError(f"case {out.case.id}: the 278 can't be built: {exc}") from None
    request = x278.follow_up_request(
        first,
        follow.kind,
        auth_number=follow.auth_number,
        payer_reference=follow.payer_reference,
    )
    payer = out.assessment.payer.id.upper() if out.assessment.payer else "PAYER"
    body = x278.write_request(
        request, sender_id=out.practice.npi, receiver_id=payer, clock=lambda: out.now
    )
    correlation = request.header.reference_id
    record("out", f"278 {follow.kind}", x278.CONTENT_TYPE, body, correlation)
    reply = transport.post(base_url.rstrip("/") + x278.PATH, body, x278.CONTENT_TYPE, "*/*")
    record("in", "278", reply.content_type or x278.CONTENT_TYPE, reply.body, correlation)
    return x278.read_response(reply.status, reply.body)


def epa_follow_up(
    out: Outbound,
    follow: FollowUpRequest,
    base_url: str,
    transport: PayerTransport,
    record: Record,
) -> PayerResponse:
    """PAAppealRequest or PACancelRequest on the payer's PACaseID (kept as the case's payer
    reference from the PAResponse)."""
    if not follow.payer_reference:
        raise SubmissionError(
            f"case {out.case.id}: no PACaseID from the payer on this case; an ePA {follow.kind} "
            "names the payer's case"
        )
    if out.attachments:
        raise SubmissionError(
            f"case {out.case.id}: attachments: the ePA {follow.kind} here carries none; send "
            "the documents by fax and appeal without --attach"
        )
    context = json.loads(out.case.context_json)
    prescriber = context.get("prescriber")
    case = epa.EpaCase(
        case_id=out.case.id,
        assessment=out.assessment,
        evidence=out.evidence,
        prescriber=from_json(Prescriber, prescriber) if prescriber else None,
        practice_npi=out.practice.npi,
        now=out.now,
    )
    try:
        message: ncpdp.EpaMessage = (
            epa.appeal_request(case, follow.payer_reference, follow.reason)
            if follow.kind is FollowUp.APPEAL
            else epa.cancel_request(case, follow.payer_reference, follow.reason)
        )
    except MissingForRequest as exc:
        raise SubmissionError(f"case {out.case.id}: the ePA can't be built: {exc}") from None
    body = epa.encode(message, out.ncpdp_xsd)
    kind = ncpdp.message_name(message)
    record("out", kind, epa.CONTENT_TYPE, body, message.header.message_id)
    reply = transport.post(
        base_url.rstrip("/") + epa.PATH, body, epa.CONTENT_TYPE, epa.CONTENT_TYPE
    )
    answer = epa.decode(reply)
    record(
        "in",
        ncpdp.message_name(answer),
        reply.content_type or epa.CONTENT_TYPE,
        reply.body,
        message.header.message_id,
    )
    if follow.kind is FollowUp.APPEAL:
        return epa.appeal_decision(answer)
    return epa.cancel_decision(answer)


FOLLOW_UP_FLOWS: dict[Channel, FollowUpFlow] = {
    Channel.PAS: pas_follow_up,
    Channel.X12_278: x278_follow_up,
    Channel.NCPDP_EPA: epa_follow_up,
}

FLOWS: dict[Channel, ChannelFlow] = {
    Channel.PAS: pas_flow,
    Channel.X12_278: x278_flow,
    Channel.NCPDP_EPA: epa_flow,
}


@dataclass(frozen=True, slots=True)
class Missing:
    """A payer question the chart could not answer: what is missing and who supplies it."""

    question_id: str
    missing: str
    owner: Owner


def _missing(answers: Sequence[Answer]) -> tuple[Missing, ...]:
    return tuple(
        Missing(a.question_id, a.missing or "an answer", a.owner or Owner.COORDINATOR)
        for a in answers
    )


class UnansweredError(SubmissionError):
    """The payer's questions the chart leaves unanswered: not sent (pass allow_unanswered to
    send anyway); `missing` lists each with its owner."""

    def __init__(self, case_id: str, found: epa.Unanswered) -> None:
        self.missing = _missing(found.answers)
        self.pa_case_id = found.pa_case_id
        listed = "; ".join(f"{m.question_id}: {m.missing} ({m.owner})" for m in self.missing)
        super().__init__(
            f"case {case_id}: {len(self.missing)} ePA question(s) the chart can't answer, "
            f"not sent: {listed}; supply them, or send anyway with --allow-unanswered"
        )


@dataclass(frozen=True, slots=True)
class Submitted:
    case_id: str
    channel: Channel
    state: CaseState
    response: PayerResponse
    #: ePA questions sent unanswered (allow_unanswered), with what is missing and who owns it
    unanswered: tuple[Missing, ...] = ()


class Submitter:
    def __init__(
        self,
        store: PaSubmissionStore,
        transport: PayerTransport,
        base_url: str,
        practice: Practice,
        flows: dict[Channel, ChannelFlow] | None = None,
        ncpdp_xsd: Path | None = None,
    ) -> None:
        self.ncpdp_xsd = ncpdp_xsd
        self.store = store
        self.transport = transport
        self.base_url = base_url
        self.practice = practice
        self.flows = flows if flows is not None else FLOWS

    def submit(
        self,
        case_id: str,
        *,
        actor: str,
        now: datetime,
        attachments: Sequence[Attachment] = (),
        channel: Channel | None = None,
        allow_unanswered: bool = True,
    ) -> Submitted:
        """Send the case and apply the payer's answer. SubmissionError if the case can't be
        sent (not signed, wrong state, a channel not sent from here); UnansweredError (one)
        when ePA questions on the route are unanswered and `allow_unanswered` is false: the
        PARequest is not sent, the case stays as it was with a task per missing answer for its
        owner; ChannelError if the send failed (recorded on the case, state unchanged).

        Questions sent unanswered are always listed in `Submitted.unanswered`. The default
        (send them) keeps earlier callers working; `dermrcm pa submit` refuses unless
        --allow-unanswered."""
        case = self.store.check_submittable(case_id)
        signed = self.store.signed_packet(case_id)
        assert signed is not None  # check_submittable refused otherwise
        assessment = from_json(Assessment, json.loads(case.assessment_json))
        chosen = channel or (Channel(case.channel) if case.channel else assessment.channel)
        if chosen is None:
            raise SubmissionError(
                f"case {case_id}: no channel (the payer rule names none); pass --channel"
            )
        flow = self.flows.get(chosen)
        if flow is None:
            raise SubmissionError(
                f"case {case_id}: channel {chosen} is not sent from derm-rcm; send the packet "
                "by portal or fax and record the payer's answer with `dermrcm pa decide`"
            )
        out = Outbound(
            case=case,
            assessment=assessment,
            evidence=from_json(ClinicalEvidence, json.loads(case.evidence_json)),
            signed=signed,
            attachments=tuple(attachments),
            practice=self.practice,
            now=now,
            ncpdp_xsd=self.ncpdp_xsd,
            replies=self._replies(case_id),
            allow_unanswered=allow_unanswered,
            open_initiation=self._open_initiation(case_id),
        )
        sources: list[bytes] = []

        def record(
            direction: str, kind: str, content_type: str, body: bytes, correlation: str | None
        ) -> None:
            if kind == epa.SOURCES_KIND:
                sources.append(body)
            self.store.record(
                case_id,
                channel=chosen.value,
                direction=direction,
                kind=kind,
                content_type=content_type,
                body=body,
                correlation=correlation,
                now=now,
            )

        try:
            response = flow(out, self.base_url, self.transport, record)
        except ChannelError as exc:
            self.store.failed(case_id, chosen.value, str(exc), actor=actor, now=now)
            raise
        except UnansweredError as exc:
            self.store.held(
                case_id,
                chosen.value,
                str(exc),
                [(m.missing, m.owner) for m in exc.missing],
                actor=actor,
                now=now,
            )
            raise
        state = self.store.apply(case_id, chosen.value, response, actor=actor, now=now)
        sent_unanswered: tuple[Missing, ...] = ()
        if sources:
            answers = [from_json(Answer, a) for a in json.loads(sources[-1])]
            sent_unanswered = _missing([a for a in answers if not a.answered])
        return Submitted(case_id, chosen, state, response, sent_unanswered)

    def _open_initiation(self, case_id: str) -> tuple[bytes, bytes] | None:
        """The last ePA initiation (request, response) not followed by a PARequest."""
        request: bytes | None = None
        opened: tuple[bytes, bytes] | None = None
        for m in self.store.messages(case_id):
            if m.direction == "out" and m.kind == "PAInitiationRequest":
                request, opened = m.body.encode("utf-8"), None
            elif m.direction == "in" and m.kind == "PAInitiationResponse" and request:
                opened = (request, m.body.encode("utf-8"))
            elif m.direction == "out" and m.kind in ("PARequest", "PACancelRequest"):
                request, opened = None, None
        return opened

    def _replies(self, case_id: str) -> dict[str, tuple[bytes, ...]]:
        found: dict[str, list[bytes]] = {}
        for m in self.store.messages(case_id):
            if m.direction == "in":
                found.setdefault(m.kind, []).append(m.body.encode("utf-8"))
        return {kind: tuple(bodies) for kind, bodies in found.items()}

    def appeal(
        self,
        case_id: str,
        *,
        reason: str,
        actor: str,
        now: datetime,
        attachments: Sequence[Attachment] = (),
    ) -> Submitted:
        """Appeal a denied case by its channel and apply the payer's answer (approved, denied,
        or pended: the case stays appealed). SubmissionError if the case isn't denied or its
        channel isn't sent from here (record it with `record_follow_up`); ChannelError if the
        send failed (recorded, state unchanged)."""
        return self._follow_up(case_id, FollowUp.APPEAL, reason, actor, now, attachments)

    def cancel(self, case_id: str, *, reason: str, actor: str, now: datetime) -> Submitted:
        """Withdraw a case the payer has (submitted, pended, more information requested) or an
        approval; the payer's confirmation closes it, a refusal leaves it as it was."""
        return self._follow_up(case_id, FollowUp.CANCEL, reason, actor, now, ())

    def _follow_up(
        self,
        case_id: str,
        kind: FollowUp,
        reason: str,
        actor: str,
        now: datetime,
        attachments: Sequence[Attachment],
    ) -> Submitted:
        if not reason.strip():
            raise SubmissionError(f"case {case_id}: reason: expected why, got nothing")
        case = self.store.check_follow_up(case_id, kind)
        if not case.channel:
            raise SubmissionError(f"case {case_id}: channel: the case was never sent")
        channel = Channel(case.channel)
        flow = FOLLOW_UP_FLOWS.get(channel)
        if flow is None:
            raise SubmissionError(
                f"case {case_id}: channel {channel} is not sent from derm-rcm; send the {kind} "
                "by portal or fax and record the payer's answer (--outcome)"
            )
        signed = self.store.signed_packet(case_id)
        if signed is None:
            raise SubmissionError(f"case {case_id}: no signed packet to send with the {kind}")
        out = Outbound(
            case=case,
            assessment=from_json(Assessment, json.loads(case.assessment_json)),
            evidence=from_json(ClinicalEvidence, json.loads(case.evidence_json)),
            signed=signed,
            attachments=tuple(attachments),
            practice=self.practice,
            now=now,
            ncpdp_xsd=self.ncpdp_xsd,
        )
        follow = FollowUpRequest(kind, reason, case.payer_reference, case.auth_number)

        def record(
            direction: str, what: str, content_type: str, body: bytes, correlation: str | None
        ) -> None:
            self.store.record(
                case_id,
                channel=channel.value,
                direction=direction,
                kind=what,
                content_type=content_type,
                body=body,
                correlation=correlation,
                now=now,
            )

        try:
            response = flow(out, follow, self.base_url, self.transport, record)
        except ChannelError as exc:
            self.store.failed(case_id, channel.value, str(exc), actor=actor, now=now, what=kind)
            raise
        state = self.store.apply_follow_up(
            case_id, kind, channel.value, response, reason=reason, actor=actor, now=now
        )
        return Submitted(case_id, channel, state, response)


def record_follow_up(
    store: PaSubmissionStore,
    case_id: str,
    kind: FollowUp,
    *,
    channel: Channel,
    reason: str,
    outcome: Outcome,
    actor: str,
    now: datetime,
    payer_said: str | None = None,
    auth_number: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> CaseState:
    """A portal or fax appeal or cancellation and the payer's answer, recorded by hand."""
    if channel not in (Channel.PORTAL, Channel.FAX):
        raise SubmissionError(
            f"channel: expected portal or fax for a recorded {kind}, got {channel}"
        )
    store.check_follow_up(case_id, kind)
    response = PayerResponse(outcome, payer_said, None, auth_number, start, end)
    return store.apply_follow_up(
        case_id, kind, channel.value, response, reason=reason, actor=actor, now=now
    )
