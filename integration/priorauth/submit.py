"""Send a signed case to its payer by the case's channel and apply the answer.

Each outbound message is stored before it is sent and each answer as soon as it arrives; a
send that fails leaves the case where it was, with the failure on its audit trail, so nothing is
lost and sending again is safe. Portal and fax cases are not sent from here: the coordinator
uploads or faxes the packet and records what the payer said (`dermrcm pa decide`)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from integration.domain.evidence import ClinicalEvidence, from_json
from integration.domain.priorauth import Assessment, Channel, PayerResponse, Prescriber
from integration.priorauth import ncpdp
from integration.priorauth.cases import CaseState
from integration.priorauth.channels import epa, pas, x278
from integration.priorauth.channels.transport import ChannelError, PayerTransport
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
    except x278.MissingForRequest as exc:
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
    """NCPDP SCRIPT ePA: initiation, the question set answered from the chart, the request."""
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
        record("out", "PARequest answers+sources", "application/json", body, pa_case_id)

    try:
        return epa.run(case, send, record_sources)
    except x278.MissingForRequest as exc:
        raise SubmissionError(f"case {out.case.id}: the ePA can't be built: {exc}") from None


FLOWS: dict[Channel, ChannelFlow] = {
    Channel.PAS: pas_flow,
    Channel.X12_278: x278_flow,
    Channel.NCPDP_EPA: epa_flow,
}


@dataclass(frozen=True, slots=True)
class Submitted:
    case_id: str
    channel: Channel
    state: CaseState
    response: PayerResponse


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
    ) -> Submitted:
        """Send the case and apply the payer's answer. SubmissionError if the case can't be
        sent (not signed, wrong state, a channel not sent from here); ChannelError if the send
        failed (recorded on the case, state unchanged)."""
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
        )

        def record(
            direction: str, kind: str, content_type: str, body: bytes, correlation: str | None
        ) -> None:
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
        state = self.store.apply(case_id, chosen.value, response, actor=actor, now=now)
        return Submitted(case_id, chosen, state, response)
