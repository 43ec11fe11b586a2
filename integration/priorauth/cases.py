"""Case states, the transitions allowed between them, the tasks a checklist opens, and what a
re-evaluation changed. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from integration.domain.evidence import Owner


class CaseState(StrEnum):
    DRAFT = "draft"
    READY_FOR_REVIEW = "ready-for-review"
    SUBMITTED = "submitted"
    PENDED = "pended"
    MORE_INFO = "more-information-requested"
    APPROVED = "approved"
    DENIED = "denied"
    APPEALED = "appealed"
    CLOSED = "closed"


S = CaseState
TRANSITIONS: Mapping[CaseState, frozenset[CaseState]] = {
    S.DRAFT: frozenset({S.READY_FOR_REVIEW, S.CLOSED}),
    S.READY_FOR_REVIEW: frozenset({S.DRAFT, S.SUBMITTED, S.CLOSED}),
    S.SUBMITTED: frozenset({S.PENDED, S.MORE_INFO, S.APPROVED, S.DENIED, S.CLOSED}),
    S.PENDED: frozenset({S.MORE_INFO, S.APPROVED, S.DENIED, S.CLOSED}),
    S.MORE_INFO: frozenset({S.SUBMITTED, S.CLOSED}),
    S.APPROVED: frozenset({S.CLOSED}),
    S.DENIED: frozenset({S.APPEALED, S.CLOSED}),
    S.APPEALED: frozenset({S.APPROVED, S.DENIED, S.CLOSED}),
    S.CLOSED: frozenset(),
}

#: cases a new rule version is re-applied to: still being worked, or an approval in force
OPEN_OR_ACTIVE = frozenset(
    {S.DRAFT, S.READY_FOR_REVIEW, S.SUBMITTED, S.PENDED, S.MORE_INFO, S.APPEALED, S.APPROVED}
)

#: days a task for a missing item is given, by who owns it
TASK_DAYS: Mapping[Owner, int] = {Owner.FRONT_DESK: 1, Owner.COORDINATOR: 2, Owner.CLINICIAN: 3}


class TransitionError(ValueError):
    """A state change the case's current state doesn't allow."""


def check_transition(current: CaseState, target: CaseState) -> None:
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (the case is closed)"
        raise TransitionError(f"state: from {current} expected one of {allowed}, got {target}")


@dataclass(frozen=True, slots=True)
class TaskDraft:
    criterion_id: str | None
    what: str
    owner: Owner
    due: date


def tasks_for(assessment: Mapping[str, Any], today: date) -> list[TaskDraft]:
    """One task per missing criterion (what is missing, for its owner), from Assessment JSON."""
    tasks = []
    for criterion in assessment.get("criteria", []):
        if criterion["status"] != "missing":
            continue
        owner = Owner(criterion["owner"] or Owner.CLINICIAN)
        what = "; ".join(criterion["missing"]) or criterion["text"]
        tasks.append(
            TaskDraft(criterion["id"], what, owner, today + timedelta(days=TASK_DAYS[owner]))
        )
    return tasks


@dataclass(frozen=True, slots=True)
class Change:
    what: str
    before: Any
    after: Any


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """What differs between two Assessment JSONs that a coordinator must know: PA need, and each
    criterion's status (a criterion only in one of them counts as changed)."""
    out = []
    if before.get("pa_required") != after.get("pa_required"):
        out.append(Change("pa_required", before.get("pa_required"), after.get("pa_required")))
    old = {c["id"]: c["status"] for c in before.get("criteria", [])}
    new = {c["id"]: c["status"] for c in after.get("criteria", [])}
    for cid in [*old, *(k for k in new if k not in old)]:
        if old.get(cid) != new.get(cid):
            out.append(Change(f"criterion {cid}", old.get(cid), new.get(cid)))
    return out
