"""The reauthorization watcher: an approval ending within the window gets a reauthorization case,
its checklist the rule's reauthorization criteria read from the chart as it is now, pre-filled
with the response to therapy (each score before the approval against the newest since)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from integration.domain.evidence import ClinicalEvidence, from_json, to_json_value
from integration.fhir.pa_check import PaCheck
from integration.priorauth.reauth import ScoreChange, score_changes
from integration.store.models import PaCase
from integration.store.pa_cases import PaCaseStore
from integration.store.pa_submissions import PaSubmissionStore

log = logging.getLogger(__name__)

#: days before an approval ends that its reauthorization case opens
REAUTH_WINDOW_DAYS = 30

#: check(case, date of service) -> the chart read now, assessed as a reauthorization
Check = Callable[[PaCase, date], PaCheck]


@dataclass(frozen=True, slots=True)
class Renewal:
    renews: str
    case_id: str
    service_date: date
    changes: tuple[ScoreChange, ...]


@dataclass(frozen=True, slots=True)
class RenewalFailure:
    """An approval whose chart could not be read this round (tried again next round)."""

    renews: str
    error: str


def open_reauthorizations(
    cases: PaCaseStore,
    submissions: PaSubmissionStore,
    check: Check,
    *,
    today: date,
    actor: str,
    now: datetime,
    window_days: int = REAUTH_WINDOW_DAYS,
    failures: list[RenewalFailure] | None = None,
) -> list[Renewal]:
    """One reauthorization case per approval ending within `window_days` (once: an approval
    already renewed is skipped). The new case's date of service is the day after the approval
    ends (or today, if it has already ended). With `failures`, a chart that can't be read is
    recorded there and the others go on; without, the error is raised."""
    opened = []
    for case in submissions.approvals_expiring(today, window_days):
        assert case.approved_to is not None  # approvals_expiring selects on it
        service = max(date.fromisoformat(case.approved_to) + timedelta(days=1), today)
        started = date.fromisoformat(case.approved_from or case.service_date)
        try:
            result = check(case, service)
        except Exception as exc:
            if failures is None:
                raise
            log.warning("pa case %s: reauthorization check failed: %s", case.id, type(exc).__name__)
            failures.append(RenewalFailure(case.id, str(exc)))
            continue
        before = from_json(ClinicalEvidence, json.loads(case.evidence_json))
        changes = score_changes(started, today, before, result.evidence)
        case_id = cases.open_case(
            patient_id=case.patient_id,
            order=json.loads(case.order_json),
            assessment=result.assessment,
            evidence=result.evidence,
            prescriber=result.prescriber,
            actor=actor,
            now=now,
            reauth_of=case.id,
            context={
                "renews": {
                    "case": case.id,
                    "auth_number": case.auth_number,
                    "approved_from": case.approved_from,
                    "approved_to": case.approved_to,
                },
                "response_to_therapy": [
                    {**to_json_value(c), "sources": list(c.sources)} for c in changes
                ],
            },
        )
        log.info("pa case %s: reauthorization case %s opened", case.id, case_id)
        opened.append(Renewal(case.id, case_id, service, changes))
    return opened
