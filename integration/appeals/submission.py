"""Send a signed appeal to the payer, or record that a person sent it.

What goes where:

- An appeal of a **PA denial** (`DenialItem.source == "pa"`) goes out through the PA case's own
  channel with the existing follow-up code, `integration.priorauth.submit.Submitter.appeal`:
  an NCPDP SCRIPT ePA `PAAppealRequest` on the payer's PACaseID, a 278 with UM02 2, or a PAS
  Claim update. The reason sent is the signed letter's text (`Letter.text()`: the ePA `PANote`,
  the 278/PAS reason). The signed PDF (the appeal's stored document of the signed version, or
  one rendered from the signed letter and kept) travels as an attachment where the channel
  carries documents (PAS: a DocumentReference in the `$submit` Bundle; 278: one more PWK). The
  ePA `PAAppealRequest` written by `integration.priorauth.ncpdp` carries no attachment (the
  codec has no attachment element; `epa_follow_up` refuses documents), so for ePA the PDF is
  reported as not carried: fax it, or send the X12 275 package.
  Every message is stored on the PA case before it is sent and as it arrives (`pa_message`),
  the case moves denied -> appealed -> the payer's decision, and the appeal is recorded as
  submitted by that channel. When the payer decides at once, the decision is recorded on the
  appeal too: an approval is "overturned", a denial "upheld" (the denial is open again for a
  next level); a pend leaves the appeal submitted.
  The payer's reference for the appeal is the ePA `AppealCaseID` of the `PAAppealResponse`
  (read back from the stored message), else the channel's reference for the case: kept on the
  appeal (`appeal.payer_reference`), returned in `dermrcm appeal submit`'s JSON, and in the PA
  case's stored messages and audit trail.
- An appeal of an **835 denial**: channel fax, portal, mail or x12-275 records that it was sent
  (the PDF is the package). Channel `payer` (or `ncpdp`) is refused until a claims-appeal API
  exists: send the PDF by fax or portal, or the X12 275 package.
- An unsigned appeal is refused (a clinician signs first), and so is one already sent.

No PHI in logs: appeal ids, denial ids, case ids, channels and outcomes only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from integration.appeals.letter import Letter
from integration.denials.items import DenialItem
from integration.domain.priorauth import Channel, FollowUp, Outcome
from integration.priorauth import ncpdp
from integration.priorauth.channels.transport import ChannelError
from integration.priorauth.submit import Attachment, Submitted, Submitter
from integration.store.appeals import AppealError, AppealStore, AppealView
from integration.store.pa_submissions import SubmissionError

log = logging.getLogger(__name__)

#: what `--channel` may say: `ncpdp` (the PA case's ePA), `payer` (the PA case's own channel),
#: or how a person sent it
CHANNELS: tuple[str, ...] = ("ncpdp", "payer", "fax", "portal", "mail", "x12-275")
#: sent by a person; derm-rcm records it
#: sent by a person (or the X12 275 of `dermrcm appeal package` through the clearinghouse)
RECORDED: tuple[str, ...] = ("fax", "portal", "mail", "x12-275")
#: the payer's decision on an appeal -> the appeal's outcome (others leave it submitted)
OUTCOME_OF: dict[Outcome, str] = {Outcome.APPROVED: "overturned", Outcome.DENIED: "upheld"}
PDF_TITLE = "Appeal letter (signed)"
NOT_FOR_835 = (
    "an 835 denial's appeal is not sent to the payer from derm-rcm (no claims-appeal API yet): "
    "send the PDF by fax or portal, or the X12 275 package, and record it with --channel "
    "fax|portal|mail|x12-275"
)


class SendRefused(Exception):
    """The appeal can't be sent as it stands; the message says where and what. Nothing was
    sent and nothing recorded."""


class PayerUnreachable(Exception):
    """The payer couldn't be reached (or refused the message): recorded on the PA case, the
    appeal still signed; send again."""


class DenialLookup(Protocol):
    def get(self, denial_id: int) -> DenialItem | None: ...


class RenderPdf(Protocol):
    def __call__(self, letter: Letter, *, signed_by: str | None, signed_at: Any) -> bytes: ...


def _render_letter_pdf(letter: Letter, *, signed_by: str | None, signed_at: Any) -> bytes:
    from integration.appeals.pdf import render_letter_pdf

    return render_letter_pdf(letter, signed_by=signed_by, signed_at=signed_at)


@dataclass(frozen=True, slots=True)
class SentAppeal:
    """What happened: the channel recorded on the appeal, and for a PA denial the PA case's
    state and the payer's answer."""

    appeal_id: str
    denial_id: int
    channel: str  # as recorded on the appeal: fax | portal | mail | ncpdp-epa | pas | x12-278
    status: str  # the appeal's status now: submitted | decided
    outcome: str | None = None  # overturned | upheld, when the payer decided at once
    pa_case_id: str | None = None
    pa_state: str | None = None
    payer_outcome: str | None = None  # approved | denied | pended | ...
    payer_said: str | None = None
    payer_reference: str | None = None  # ePA AppealCaseID, else the case's payer reference
    auth_number: str | None = None
    document_id: int | None = None  # the signed PDF kept with the appeal
    sent_documents: tuple[str, ...] = ()  # titles of what went with it
    not_carried: tuple[str, ...] = ()  # what the channel couldn't carry, and what to do

    def to_json(self) -> dict[str, Any]:
        return {
            "appeal_id": self.appeal_id,
            "denial_id": self.denial_id,
            "channel": self.channel,
            "status": self.status,
            "outcome": self.outcome,
            "pa_case_id": self.pa_case_id,
            "pa_state": self.pa_state,
            "payer_outcome": self.payer_outcome,
            "payer_said": self.payer_said,
            "payer_reference": self.payer_reference,
            "auth_number": self.auth_number,
            "document_id": self.document_id,
            "sent_documents": list(self.sent_documents),
            "not_carried": list(self.not_carried),
        }


def signed_pdf(
    appeals: AppealStore, appeal: AppealView, render: RenderPdf | None = None
) -> tuple[int, bytes]:
    """(document id, bytes) of the signed version's PDF: the one kept with the appeal (made on
    the appeal screen with the chart's attachments, or by `dermrcm appeal package`), else the
    signed letter rendered now (letter only) and kept."""
    version = appeals.latest(appeal.id)
    kept = [d for d in appeals.documents(appeal.id) if d.version == version.version]
    pdfs = [d for d in kept if d.kind == "pdf"]
    if pdfs:
        content = appeals.document(pdfs[-1].id)
        if content is not None:
            return pdfs[-1].id, content
    made = (render or _render_letter_pdf)(
        version.letter,
        signed_by=appeal.signed_by,
        signed_at=appeal.signed_at.date() if appeal.signed_at else None,
    )
    return appeals.store_document(appeal.id, version.version, made), made


def _appeal_case_id(submitter: Submitter, case_id: str) -> str | None:
    """The AppealCaseID of the last PAAppealResponse stored on the case, if the payer gave one."""
    for m in reversed(submitter.store.messages(case_id)):
        if m.direction == "in" and m.kind == "PAAppealResponse":
            try:
                answer = ncpdp.parse(m.body.encode("utf-8"))
            except ncpdp.NcpdpError:
                return None
            if isinstance(answer, ncpdp.PAAppealResponse):
                return answer.appeal_case_id
            return None
    return None


def send_appeal(
    appeal_id: str,
    channel: str,
    *,
    appeals: AppealStore,
    denials: DenialLookup,
    actor: str,
    now: datetime,
    submitter: Submitter | None = None,
    attachments: Sequence[Attachment] = (),
    render: RenderPdf | None = None,
) -> SentAppeal:
    """Send the signed appeal by `channel` (one of CHANNELS) or record that it was sent.

    SendRefused: not signed, already sent, unknown channel, `payer`/`ncpdp` for an 835 denial,
    `ncpdp` for a case that went by another channel, no `submitter` to send with, or the PA case
    can't be appealed as it stands (its message says why). PayerUnreachable: the send failed
    (recorded on the PA case; the appeal is still signed, send again)."""
    if channel not in CHANNELS:
        raise SendRefused(f"channel: expected one of {', '.join(CHANNELS)}, got {channel!r}")
    appeal = appeals.get(appeal_id)
    if appeal is None:
        raise SendRefused(f"appeal {appeal_id}: no such appeal")
    if appeal.status != "signed":
        if appeal.status == "draft":
            raise SendRefused(
                f"appeal {appeal_id}: expected a signed letter to send, got a draft; a clinician "
                "signs it first (the pre-sign check runs then)"
            )
        sent = f" by {appeal.channel}" if appeal.channel else ""
        raise SendRefused(
            f"appeal {appeal_id}: expected a signed letter to send, got {appeal.status}{sent}"
        )
    denial = denials.get(appeal.denial_id)
    if denial is None:
        raise SendRefused(f"appeal {appeal_id}: its denial {appeal.denial_id} is gone")
    if channel in RECORDED:
        if attachments:
            raise SendRefused(
                f"--attach: a {channel} appeal is sent by a person, nothing is attached here; "
                "add the documents to the fax or portal upload"
            )
        return _record(appeals, appeal, channel)
    if denial.source != "pa" or not denial.pa_case_id:
        raise SendRefused(f"appeal {appeal_id}: channel {channel}: {NOT_FOR_835}")
    if submitter is None:
        raise SendRefused(
            f"appeal {appeal_id}: channel {channel}: no payer endpoint to send to; set "
            "DERMRCM_PAYER_URL or pass --payer-url"
        )
    return _send_pa(
        appeals, appeal, denial, channel, submitter, actor, now, tuple(attachments), render
    )


def _record(appeals: AppealStore, appeal: AppealView, channel: str) -> SentAppeal:
    try:
        appeals.submit(appeal.id, channel)
    except AppealError as exc:
        raise SendRefused(str(exc)) from None
    version = appeals.latest(appeal.id).version
    kept = [d for d in appeals.documents(appeal.id) if d.version == version and d.kind == "pdf"]
    log.info("appeal recorded as sent appeal_id=%s channel=%s", appeal.id, channel)
    return SentAppeal(
        appeal_id=appeal.id,
        denial_id=appeal.denial_id,
        channel=channel,
        status="submitted",
        document_id=kept[-1].id if kept else None,
        not_carried=()
        if kept
        else ("no PDF of the signed letter is kept: make one on the appeal screen",),
    )


def _send_pa(
    appeals: AppealStore,
    appeal: AppealView,
    denial: DenialItem,
    channel: str,
    submitter: Submitter,
    actor: str,
    now: datetime,
    extra: tuple[Attachment, ...],
    render: RenderPdf | None,
) -> SentAppeal:
    case_id = denial.pa_case_id
    assert case_id is not None
    try:
        case = submitter.store.check_follow_up(case_id, FollowUp.APPEAL)
    except SubmissionError as exc:
        raise SendRefused(f"appeal {appeal.id}: PA {exc}") from None
    sent_by = Channel(case.channel) if case.channel else None
    if channel == "ncpdp" and sent_by is not Channel.NCPDP_EPA:
        raise SendRefused(
            f"appeal {appeal.id}: channel ncpdp: PA case {case_id} went to the payer by "
            f"{sent_by or 'no channel'}, not NCPDP ePA; use --channel payer (its own channel)"
            + (" or fax/portal" if sent_by in (Channel.PORTAL, Channel.FAX, None) else "")
        )
    if sent_by is None or sent_by in (Channel.PORTAL, Channel.FAX):
        raise SendRefused(
            f"appeal {appeal.id}: PA case {case_id} went to the payer by "
            f"{sent_by or 'no channel'}, which derm-rcm doesn't send; send the PDF that way and "
            "record it with --channel fax|portal"
        )
    if sent_by is Channel.NCPDP_EPA and extra:
        raise SendRefused(
            f"appeal {appeal.id}: --attach: the ePA PAAppealRequest carries no documents; fax "
            "them, or send the X12 275 package"
        )
    letter = appeals.latest(appeal.id).letter
    reason = letter.text().strip()
    if not reason:
        raise SendRefused(f"appeal {appeal.id}: the signed letter has no text to send")
    document_id, pdf = signed_pdf(appeals, appeal, render)
    carried: tuple[Attachment, ...] = ()
    not_carried: tuple[str, ...] = ()
    if sent_by is Channel.NCPDP_EPA:
        not_carried = (
            f"{PDF_TITLE} (document {document_id}): the ePA PAAppealRequest carries the letter's "
            "text only; fax the PDF, or send the X12 275 package",
        )
    else:
        carried = (Attachment(PDF_TITLE, "application/pdf", pdf), *extra)
    try:
        done = submitter.appeal(case_id, reason=reason, actor=actor, now=now, attachments=carried)
    except SubmissionError as exc:
        raise SendRefused(f"appeal {appeal.id}: {exc}") from None
    except ChannelError as exc:
        raise PayerUnreachable(
            f"appeal {appeal.id}: PA case {case_id}: {exc} (recorded on the case; the appeal is "
            "still signed: send again)"
        ) from None
    return _after_send(appeals, appeal, submitter, done, document_id, carried, not_carried, now)


def _after_send(
    appeals: AppealStore,
    appeal: AppealView,
    submitter: Submitter,
    done: Submitted,
    document_id: int,
    carried: tuple[Attachment, ...],
    not_carried: tuple[str, ...],
    now: datetime,
) -> SentAppeal:
    """Record the send on the appeal, and the payer's decision when it made one."""
    response = done.response
    reference = (
        _appeal_case_id(submitter, done.case_id) if done.channel is Channel.NCPDP_EPA else None
    ) or response.payer_reference
    try:
        appeals.submit(appeal.id, done.channel.value, payer_reference=reference)
    except AppealError as exc:
        # the payer has it (stored on the PA case); say so rather than pretend it wasn't sent
        raise SendRefused(
            f"appeal {appeal.id}: sent to the payer by {done.channel} (PA case {done.case_id} is "
            f"{done.state}), but not recorded on the appeal: {exc}"
        ) from None
    outcome = OUTCOME_OF.get(response.outcome)
    status = "submitted"
    if outcome is not None:
        try:
            appeals.record_outcome(
                appeal.id, outcome, Decimal("0.00"), now.date(), f"payer via {done.channel}"
            )
            status = "decided"
        except AppealError as exc:
            log.warning(
                "appeal decision not recorded appeal_id=%s outcome=%s: %s", appeal.id, outcome, exc
            )
            outcome = None
    log.info(
        "appeal sent appeal_id=%s pa_case_id=%s channel=%s payer_outcome=%s",
        appeal.id,
        done.case_id,
        done.channel,
        response.outcome,
    )
    return SentAppeal(
        appeal_id=appeal.id,
        denial_id=appeal.denial_id,
        channel=done.channel.value,
        status=status,
        outcome=outcome,
        pa_case_id=done.case_id,
        pa_state=done.state.value,
        payer_outcome=response.outcome.value,
        payer_said=response.reason,
        payer_reference=reference,
        auth_number=response.auth_number,
        document_id=document_id,
        sent_documents=tuple(a.title for a in carried),
        not_carried=not_carried,
    )
