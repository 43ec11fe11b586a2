"""Prior-authorization cases in the database: open, move between states (audited), tasks, and
re-evaluation when a payer publishes a new rule version.

A case moved to denied becomes a denial item on the worklist in the same transaction
(`add_pa_denial`: once per case, by its dedupe key "pa:<case id>"), so a PA denial can be
appealed like an 835 denial; `DenialStore.sync_pa_denials` catches up cases denied elsewhere."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from integration.domain.evidence import ClinicalEvidence, from_json, to_json_value
from integration.domain.priorauth import Assessment, Prescriber
from integration.priorauth.assess import Lookups, assess
from integration.priorauth.cases import (
    OPEN_OR_ACTIVE,
    CaseState,
    Change,
    changes,
    check_transition,
    tasks_for,
)
from integration.priorauth.order import order_from_fhir
from integration.rules.library import PayerRule, RuleLibrary
from integration.store.models import PaCase, PaCaseEvent, PaTask

if TYPE_CHECKING:
    from integration.store.denials import DenialStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Flagged:
    case_id: str
    rule: str
    changes: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class CaseEvent:
    at: datetime
    actor: str
    kind: str
    from_state: str | None
    to_state: str | None
    reason: str
    detail: Any


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def add_pa_denial(session: Session, case: PaCase, denials: DenialStore, actor: str) -> list[int]:
    """The worklist's denial item for a case now denied, in the caller's transaction; the new
    id, or none when the case has its item already (dedupe key "pa:<case id>")."""
    return denials.add_items(session, [denials.pa_item(case)], actor)


class PaCaseStore:
    def __init__(self, sessions: sessionmaker[Session], denials: DenialStore | None = None) -> None:
        """`denials`: the worklist a denied case goes to (default: one on the same sessions,
        made when a case is first denied: it loads its deadline and next-step rules)."""
        self._sessions = sessions
        self._denials = denials

    def _worklist(self) -> DenialStore:
        if self._denials is None:
            from integration.store.denials import DenialStore

            self._denials = DenialStore(self._sessions)
        return self._denials

    def open_case(
        self,
        *,
        patient_id: str,
        order: Mapping[str, Any],
        assessment: Assessment,
        evidence: ClinicalEvidence,
        prescriber: Prescriber | None,
        actor: str,
        now: datetime,
        reauth_of: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> str:
        """A new case in draft, with a task for each missing criterion; returns its id. A
        reauthorization names the approved case it renews (`reauth_of`); `context` adds to what
        the case keeps beside its evidence (e.g. the response to therapy)."""
        case_id = str(uuid.uuid4())
        decided = assessment.to_json()
        with self._sessions.begin() as session:
            session.add(
                PaCase(
                    id=case_id,
                    patient_id=patient_id,
                    order_ref=assessment.order.source,
                    order_json=_dumps(order),
                    payer_id=assessment.payer.id if assessment.payer else None,
                    rule_id=assessment.rule.id if assessment.rule else None,
                    rule_version=assessment.rule.version if assessment.rule else None,
                    service_date=assessment.date,
                    state=CaseState.DRAFT.value,
                    evidence_json=_dumps(evidence.to_json()),
                    assessment_json=_dumps(decided),
                    context_json=_dumps(
                        {
                            **(context or {}),
                            "prescriber": to_json_value(prescriber) if prescriber else None,
                            "attested": {},
                        }
                    ),
                    flag=None,
                    created_at=now,
                    updated_at=now,
                    kind="reauthorization" if reauth_of else "initial",
                    reauth_of=reauth_of,
                )
            )
            session.flush()
            session.add(
                PaCaseEvent(
                    case_id=case_id,
                    at=now,
                    actor=actor,
                    kind="opened",
                    from_state=None,
                    to_state=CaseState.DRAFT.value,
                    reason=assessment.reason + (f" (renews case {reauth_of})" if reauth_of else ""),
                    detail_json=None,
                )
            )
            for task in tasks_for(decided, now.date()):
                session.add(
                    PaTask(
                        case_id=case_id,
                        criterion_id=task.criterion_id,
                        what=task.what,
                        owner_role=task.owner.value,
                        due=task.due.isoformat(),
                        status="open",
                        created_at=now,
                    )
                )
        log.info("pa case %s opened (rule %s)", case_id, decided["rule"] and decided["rule"]["id"])
        return case_id

    def transition(
        self, case_id: str, target: CaseState, *, actor: str, reason: str, now: datetime
    ) -> None:
        """Move a case; TransitionError if its state doesn't allow it. Audited."""
        with self._sessions.begin() as session:
            case = session.get(PaCase, case_id, with_for_update=True)
            if case is None:
                raise KeyError(f"case: no case {case_id!r}")
            check_transition(CaseState(case.state), target)
            session.add(
                PaCaseEvent(
                    case_id=case_id,
                    at=now,
                    actor=actor,
                    kind="transition",
                    from_state=case.state,
                    to_state=target.value,
                    reason=reason,
                    detail_json=None,
                )
            )
            case.state = target.value
            case.updated_at = now
            if target is CaseState.DENIED:
                session.flush()
                add_pa_denial(session, case, self._worklist(), actor)

    def case(self, case_id: str) -> PaCase | None:
        with self._sessions() as session:
            return session.get(PaCase, case_id)

    def events(self, case_id: str) -> list[CaseEvent]:
        with self._sessions() as session:
            rows = session.scalars(
                select(PaCaseEvent).where(PaCaseEvent.case_id == case_id).order_by(PaCaseEvent.id)
            )
            return [
                CaseEvent(
                    r.at,
                    r.actor,
                    r.kind,
                    r.from_state,
                    r.to_state,
                    r.reason,
                    json.loads(r.detail_json) if r.detail_json else None,
                )
                for r in rows
            ]

    def tasks(self, *, owner_role: str | None = None, case_id: str | None = None) -> list[PaTask]:
        """Open tasks, soonest due first: a work queue per role, or one case's tasks."""
        query = select(PaTask).where(PaTask.status == "open")
        if owner_role is not None:
            query = query.where(PaTask.owner_role == owner_role)
        if case_id is not None:
            query = query.where(PaTask.case_id == case_id)
        with self._sessions() as session:
            return list(session.scalars(query.order_by(PaTask.due, PaTask.id)))

    def cases(self, states: Iterable[CaseState] | None = None) -> list[PaCase]:
        query = select(PaCase)
        if states is not None:
            query = query.where(PaCase.state.in_([s.value for s in states]))
        with self._sessions() as session:
            return list(session.scalars(query.order_by(PaCase.created_at, PaCase.id)))

    def reevaluate(
        self,
        rule: PayerRule,
        library: RuleLibrary,
        lookups: Lookups,
        *,
        actor: str,
        now: datetime,
    ) -> list[Flagged]:
        """Re-apply `rule` (a newly published version, already in `library`) to every open or
        active case of its payer whose order it covers and whose date of service it governs.
        Each case whose checklist changes is flagged, with what changed, in one transaction."""
        flagged: list[Flagged] = []
        with self._sessions.begin() as session:
            rows = session.scalars(
                select(PaCase)
                .where(PaCase.payer_id == rule.payer)
                .where(PaCase.state.in_([s.value for s in OPEN_OR_ACTIVE]))
                .order_by(PaCase.created_at, PaCase.id)
                .with_for_update()
            )
            for case in rows:
                day = date.fromisoformat(case.service_date)
                order = order_from_fhir(json.loads(case.order_json))
                if not rule.covers(order) or library.in_force(rule.id, day) is not rule:
                    continue
                context = json.loads(case.context_json)
                evidence = from_json(ClinicalEvidence, json.loads(case.evidence_json))
                prescriber = context.get("prescriber")
                after = assess(
                    evidence,
                    order,
                    library,
                    lookups,
                    day,
                    prescriber=from_json(Prescriber, prescriber) if prescriber else None,
                    attested=context.get("attested") or {},
                    payer_id=rule.payer,
                    rule=rule,
                    reauthorization=case.kind == "reauthorization",
                ).to_json()
                before = json.loads(case.assessment_json)
                found = changes(before, after)
                if not found:
                    continue
                label = f"{rule.id} v{rule.version}"
                summary = "; ".join(f"{c.what}: {c.before} -> {c.after}" for c in found)
                session.add(
                    PaCaseEvent(
                        case_id=case.id,
                        at=now,
                        actor=actor,
                        kind="rule-change",
                        from_state=case.state,
                        to_state=case.state,
                        reason=f"{label} published: {summary}",
                        detail_json=_dumps(
                            {
                                "rule": {"id": rule.id, "version": rule.version},
                                "previous_version": case.rule_version,
                                "changes": [to_json_value(c) for c in found],
                                "previous_assessment": before,
                            }
                        ),
                    )
                )
                case.assessment_json = _dumps(after)
                case.rule_id, case.rule_version = rule.id, rule.version
                case.flag = f"{label} changes this case: {summary}"
                case.updated_at = now
                flagged.append(Flagged(case.id, label, tuple(found)))
        log.info("rule %s v%s re-applied: %d case(s) flagged", rule.id, rule.version, len(flagged))
        return flagged
