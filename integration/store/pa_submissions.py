"""What was sent to the payer for a case and what came back: every message stored (outbound
before it is sent, inbound as soon as it arrives), and the payer's answer applied to the case in
one audited transaction."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from integration.domain.evidence import Owner, to_json_value
from integration.domain.priorauth import FollowUp, Outcome, PayerResponse
from integration.priorauth.cases import TASK_DAYS, CaseState, check_transition
from integration.store.denials import DenialStore
from integration.store.models import PaCase, PaCaseEvent, PaMessage, PaPacketVersion, PaTask
from integration.store.pa_cases import add_pa_denial

log = logging.getLogger(__name__)

#: the case state each payer answer moves a submitted case to
OUTCOME_STATES = {
    Outcome.APPROVED: CaseState.APPROVED,
    Outcome.DENIED: CaseState.DENIED,
    Outcome.PENDED: CaseState.PENDED,
    Outcome.MORE_INFO: CaseState.MORE_INFO,
    Outcome.NOT_REQUIRED: CaseState.CLOSED,
    Outcome.CLOSED: CaseState.CLOSED,
}

#: states a case may be (re)submitted from
SUBMITTABLE = frozenset({CaseState.READY_FOR_REVIEW, CaseState.MORE_INFO})


#: states each follow-up may be sent from: an appeal answers a denial; a cancellation withdraws
#: a request still with the payer, or an approval
FOLLOW_UP_FROM = {
    FollowUp.APPEAL: frozenset({CaseState.DENIED}),
    FollowUp.CANCEL: frozenset(
        {CaseState.SUBMITTED, CaseState.PENDED, CaseState.MORE_INFO, CaseState.APPROVED}
    ),
}


_ARTICLED = {FollowUp.APPEAL: "an appeal", FollowUp.CANCEL: "a cancellation"}


class SubmissionError(ValueError):
    """A case that can't be submitted as it stands, with why."""


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    channel: str
    direction: str
    kind: str
    content_type: str
    body: str
    correlation: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class SignedPacket:
    version: int
    narrative: str
    attestations: dict[str, str]
    signed_by: str
    signed_at: datetime


class PaSubmissionStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def _to_worklist(self, session: Session, case: PaCase, actor: str) -> None:
        """A case the payer denied becomes a denial item of the worklist, in this transaction
        (once: a case denied again after an appeal keeps its item)."""
        session.flush()
        add_pa_denial(session, case, DenialStore(self._sessions), actor)

    def record(
        self,
        case_id: str,
        *,
        channel: str,
        direction: str,
        kind: str,
        content_type: str,
        body: bytes,
        correlation: str | None,
        now: datetime,
    ) -> int:
        """Store one message (committed before the caller sends it or reads it); its id."""
        text = body.decode("utf-8")
        with self._sessions.begin() as session:
            row = PaMessage(
                case_id=case_id,
                channel=channel,
                direction=direction,
                kind=kind,
                content_type=content_type,
                body=text,
                sha256=hashlib.sha256(body).hexdigest(),
                correlation=correlation,
                created_at=now,
            )
            session.add(row)
            session.flush()
            message_id = row.id
        log.info("pa case %s: %s %s stored (%d bytes)", case_id, direction, kind, len(body))
        return message_id

    def messages(self, case_id: str) -> list[StoredMessage]:
        with self._sessions() as session:
            rows = session.scalars(
                select(PaMessage).where(PaMessage.case_id == case_id).order_by(PaMessage.id)
            )
            return [
                StoredMessage(
                    r.id,
                    r.channel,
                    r.direction,
                    r.kind,
                    r.content_type,
                    r.body,
                    r.correlation,
                    r.created_at,
                )
                for r in rows
            ]

    def signed_packet(self, case_id: str) -> SignedPacket | None:
        """The latest signed version of the case's packet, if a clinician has signed one."""
        with self._sessions() as session:
            row = session.scalars(
                select(PaPacketVersion)
                .where(PaPacketVersion.case_id == case_id)
                .where(PaPacketVersion.signed_by.is_not(None))
                .order_by(PaPacketVersion.version.desc())
                .limit(1)
            ).first()
            if row is None or row.signed_at is None or row.signed_by is None:
                return None
            return SignedPacket(
                row.version,
                row.narrative,
                json.loads(row.attestations_json),
                row.signed_by,
                row.signed_at,
            )

    def check_submittable(self, case_id: str) -> PaCase:
        """The case, if it may be sent now: SubmissionError saying why not otherwise."""
        with self._sessions() as session:
            case = session.get(PaCase, case_id)
        if case is None:
            raise SubmissionError(f"case: no case {case_id!r}")
        state = CaseState(case.state)
        if state not in SUBMITTABLE:
            raise SubmissionError(
                f"case {case_id}: state is {state}; only a case that is "
                "ready-for-review (signed) or more-information-requested can be sent"
            )
        if self.signed_packet(case_id) is None:
            raise SubmissionError(
                f"case {case_id}: no signed packet; the clinician must review and sign it first"
            )
        return case

    def held(
        self,
        case_id: str,
        channel: str,
        why: str,
        missing: list[tuple[str, Owner]],
        *,
        actor: str,
        now: datetime,
    ) -> None:
        """A send stopped before the request went (the payer's questions the chart can't
        answer): recorded on the case, state unchanged, a task per missing item for its owner
        (done when the case is next sent)."""
        with self._sessions.begin() as session:
            case = session.get(PaCase, case_id)
            session.add(
                PaCaseEvent(
                    case_id=case_id,
                    at=now,
                    actor=actor,
                    kind="submit-held",
                    from_state=case.state if case else None,
                    to_state=case.state if case else None,
                    reason=f"{channel}: {why}",
                    detail_json=None,
                )
            )
            already = set(
                session.scalars(
                    select(PaTask.what)
                    .where(PaTask.case_id == case_id)
                    .where(PaTask.status == "open")
                )
            )
            for what, owner in missing:
                if f"payer question unanswered: {what}" in already:
                    continue
                session.add(
                    PaTask(
                        case_id=case_id,
                        criterion_id=None,
                        what=f"payer question unanswered: {what}",
                        owner_role=owner.value,
                        due=(now.date() + timedelta(days=TASK_DAYS[owner])).isoformat(),
                        status="open",
                        created_at=now,
                    )
                )
        log.info("pa case %s: send held, %d payer question(s) unanswered", case_id, len(missing))

    def check_follow_up(self, case_id: str, kind: FollowUp) -> PaCase:
        """The case, if `kind` may be sent from its state: SubmissionError saying why not."""
        with self._sessions() as session:
            case = session.get(PaCase, case_id)
        if case is None:
            raise SubmissionError(f"case: no case {case_id!r}")
        state = CaseState(case.state)
        allowed = FOLLOW_UP_FROM[kind]
        if state not in allowed:
            raise SubmissionError(
                f"case {case_id}: state: expected {' or '.join(sorted(allowed))} "
                f"for {_ARTICLED[kind]}, got {state}"
            )
        return case

    def apply_follow_up(
        self,
        case_id: str,
        kind: FollowUp,
        channel: str,
        response: PayerResponse,
        *,
        reason: str,
        actor: str,
        now: datetime,
    ) -> CaseState:
        """An appeal or cancellation sent (by `actor`, for `reason`) and the payer's answer, in
        one transaction; returns the case's state.

        Appeal: denied -> appealed (the actor), then the payer's decision: approved or denied
        moves the case, a pend leaves it appealed with a task to follow up. Cancel: the payer's
        confirmation closes the case (the actor's transition, the payer's answer in its detail);
        a refusal leaves the state as it was, recorded."""
        with self._sessions.begin() as session:
            case = session.get(PaCase, case_id, with_for_update=True)
            if case is None:
                raise SubmissionError(f"case: no case {case_id!r}")
            current = CaseState(case.state)
            if current not in FOLLOW_UP_FROM[kind]:
                raise SubmissionError(f"case {case_id}: state is {current}; no {kind} sent")
            detail = json.dumps(to_json_value(response), sort_keys=True)
            said = response.reason or response.outcome.value
            # what the payer asked before is answered (or moot) once this is sent
            session.execute(
                update(PaTask)
                .where(PaTask.case_id == case_id)
                .where(PaTask.criterion_id.is_(None))
                .where(PaTask.status == "open")
                .values(status="done")
            )

            def event(
                who: str, what: str, before: CaseState, after: CaseState, why: str, data: str | None
            ) -> None:
                session.add(
                    PaCaseEvent(
                        case_id=case_id,
                        at=now,
                        actor=who,
                        kind=what,
                        from_state=before.value,
                        to_state=after.value,
                        reason=why,
                        detail_json=data,
                    )
                )

            target = current
            if kind is FollowUp.CANCEL:
                if response.outcome is Outcome.CLOSED:
                    target = CaseState.CLOSED
                    check_transition(current, target)
                    event(
                        actor,
                        "transition",
                        current,
                        target,
                        f"cancelled by {channel}: {reason} (payer: {said})",
                        detail,
                    )
                else:
                    event("payer", "cancel-refused", current, current, f"payer: {said}", detail)
                    session.add(_task(case_id, f"cancel refused ({said})", now))
            else:
                check_transition(current, CaseState.APPEALED)
                event(
                    actor,
                    "transition",
                    current,
                    CaseState.APPEALED,
                    f"appealed by {channel}: {reason}",
                    None,
                )
                target = APPEAL_STATES.get(response.outcome, CaseState.APPEALED)
                if response.auth_number:
                    said = f"{said} (authorization {response.auth_number})"
                event("payer", "transition", CaseState.APPEALED, target, f"payer: {said}", detail)
                if target is CaseState.APPEALED:
                    session.add(_task(case_id, f"appeal pended ({said}): check its status", now))
                elif target is CaseState.DENIED:
                    session.add(_task(case_id, f"appeal denied ({said}): close the case", now))
                if response.outcome is Outcome.APPROVED:
                    case.auth_number = response.auth_number
                    case.approved_from = response.start
                    case.approved_to = response.end
                    case.approved_units = response.units
                case.decision_reason = response.reason
            case.state = target.value
            case.updated_at = now
            if target is CaseState.DENIED:
                self._to_worklist(session, case, actor)
        log.info("pa case %s: %s sent by %s, now %s", case_id, kind, channel, target)
        return target

    def failed(
        self,
        case_id: str,
        channel: str,
        error: str,
        *,
        actor: str,
        now: datetime,
        what: str = "submit",
    ) -> None:
        """A send that didn't complete: recorded on the case, its state unchanged."""
        with self._sessions.begin() as session:
            case = session.get(PaCase, case_id)
            session.add(
                PaCaseEvent(
                    case_id=case_id,
                    at=now,
                    actor=actor,
                    kind=f"{what}-failed",
                    from_state=case.state if case else None,
                    to_state=case.state if case else None,
                    reason=f"{channel}: {error}",
                    detail_json=None,
                )
            )

    def apply(
        self,
        case_id: str,
        channel: str,
        response: PayerResponse,
        *,
        actor: str,
        now: datetime,
    ) -> CaseState:
        """Submitted, then the payer's answer: both transitions, the decision, and the follow-up
        tasks, in one transaction. Returns the state the case is now in."""
        target = OUTCOME_STATES[response.outcome]
        with self._sessions.begin() as session:
            case = session.get(PaCase, case_id, with_for_update=True)
            if case is None:
                raise SubmissionError(f"case: no case {case_id!r}")
            current = CaseState(case.state)
            if current not in SUBMITTABLE:
                raise SubmissionError(f"case {case_id}: state is {current}; not sent")
            check_transition(current, CaseState.SUBMITTED)
            check_transition(CaseState.SUBMITTED, target)
            # what the last request for more information asked is answered by this submission
            session.execute(
                update(PaTask)
                .where(PaTask.case_id == case_id)
                .where(PaTask.criterion_id.is_(None))
                .where(PaTask.status == "open")
                .values(status="done")
            )
            session.add(
                PaCaseEvent(
                    case_id=case_id,
                    at=now,
                    actor=actor,
                    kind="transition",
                    from_state=current.value,
                    to_state=CaseState.SUBMITTED.value,
                    reason=f"sent by {channel}",
                    detail_json=None,
                )
            )
            said = response.reason or response.outcome.value
            if response.auth_number:
                said = f"{said} (authorization {response.auth_number})"
            session.add(
                PaCaseEvent(
                    case_id=case_id,
                    at=now,
                    actor="payer",
                    kind="transition",
                    from_state=CaseState.SUBMITTED.value,
                    to_state=target.value,
                    reason=f"payer: {said}",
                    detail_json=json.dumps(to_json_value(response), sort_keys=True),
                )
            )
            case.state = target.value
            case.channel = channel
            case.payer_reference = response.payer_reference or case.payer_reference
            case.decision_reason = response.reason
            if target is CaseState.DENIED:
                self._to_worklist(session, case, actor)
            if response.outcome is Outcome.APPROVED:
                case.auth_number = response.auth_number
                case.approved_from = response.start
                case.approved_to = response.end
                case.approved_units = response.units
            case.updated_at = now
            for what, owner, days in _follow_ups(response):
                session.add(
                    PaTask(
                        case_id=case_id,
                        criterion_id=None,
                        what=what,
                        owner_role=owner.value,
                        due=(now.date() + timedelta(days=days)).isoformat(),
                        status="open",
                        created_at=now,
                    )
                )
        log.info("pa case %s: sent by %s, payer answered %s", case_id, channel, target)
        return target

    def approvals_expiring(self, today: date, within_days: int) -> list[PaCase]:
        """Approved cases whose approval ends within `within_days` of `today` (or has ended),
        with no reauthorization case opened for them yet."""
        horizon = (today + timedelta(days=within_days)).isoformat()
        with self._sessions() as session:
            renewed = select(PaCase.reauth_of).where(PaCase.reauth_of.is_not(None))
            return list(
                session.scalars(
                    select(PaCase)
                    .where(PaCase.state == CaseState.APPROVED.value)
                    .where(PaCase.approved_to.is_not(None))
                    .where(PaCase.approved_to <= horizon)
                    .where(PaCase.id.not_in(renewed))
                    .order_by(PaCase.approved_to, PaCase.id)
                )
            )


#: the case state an appealed case moves to on the payer's answer (a pend leaves it appealed)
APPEAL_STATES = {
    Outcome.APPROVED: CaseState.APPROVED,
    Outcome.DENIED: CaseState.DENIED,
    Outcome.CLOSED: CaseState.CLOSED,
    Outcome.NOT_REQUIRED: CaseState.CLOSED,
}


def _task(case_id: str, what: str, now: datetime) -> PaTask:
    """A task for the coordinator, due by the coordinator's usual days."""
    return PaTask(
        case_id=case_id,
        criterion_id=None,
        what=what,
        owner_role=Owner.COORDINATOR.value,
        due=(now.date() + timedelta(days=TASK_DAYS[Owner.COORDINATOR])).isoformat(),
        status="open",
        created_at=now,
    )


def _follow_ups(response: PayerResponse) -> list[tuple[str, Owner, int]]:
    coordinator = TASK_DAYS[Owner.COORDINATOR]
    if response.outcome is Outcome.MORE_INFO:
        return [(f"payer asks for: {a}", Owner.COORDINATOR, coordinator) for a in response.ask]
    if response.outcome is Outcome.PENDED:
        return [("pended by the payer: check its status", Owner.COORDINATOR, coordinator)]
    if response.outcome is Outcome.DENIED:
        why = response.reason or "no reason given"
        return [(f"denied ({why}): appeal or close", Owner.COORDINATOR, coordinator)]
    return []
