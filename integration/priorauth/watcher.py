"""The reauthorization watcher as a service: every `interval` it opens a reauthorization case
for each approval ending within the window (`renewals.open_reauthorizations`), reading the
charts as a SMART backend service (`integration.fhir.backend_auth`). `dermrcm run` starts it;
`dermrcm pa reauth` is the same round, once, from the command line.

A round that can't reach the EHR, or a chart that can't be read, is logged (case ids and error
kinds only) and tried again next round; an approval is renewed once however often it runs."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session, sessionmaker

from integration.fhir.client import FhirClient
from integration.fhir.pa_check import PaCheck, pa_check
from integration.mapping.evidence_maps import EvidenceMaps
from integration.priorauth.references import PaReferences
from integration.priorauth.renewals import (
    REAUTH_WINDOW_DAYS,
    Renewal,
    RenewalFailure,
    open_reauthorizations,
)
from integration.store.models import PaCase
from integration.store.pa_cases import PaCaseStore
from integration.store.pa_submissions import PaSubmissionStore

log = logging.getLogger(__name__)

ACTOR = "reauth-watcher"


def chart_check(
    client: FhirClient, refs: PaReferences, maps: EvidenceMaps
) -> Callable[[PaCase, date], PaCheck]:
    """check(case, date of service): the case's order assessed as a reauthorization against
    the chart as it is now."""

    def check(case: PaCase, service: date) -> PaCheck:
        return pa_check(
            client,
            case.patient_id,
            json.loads(case.order_json),
            service,
            refs,
            maps,
            payer_id=case.payer_id,
            reauthorization=True,
        )

    return check


@dataclass
class Round:
    """What one round did."""

    opened: list[Renewal] = field(default_factory=list)
    failed: list[RenewalFailure] = field(default_factory=list)
    error: str | None = None


class ReauthWatcher:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        client: Callable[[], FhirClient],
        refs: Callable[[], PaReferences],
        maps: EvidenceMaps,
        *,
        interval_seconds: float,
        window_days: int = REAUTH_WINDOW_DAYS,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._refs = refs
        self._maps = maps
        self.interval = interval_seconds
        self.window_days = window_days
        self._today = today
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0
        self.last: Round | None = None

    def run_once(self) -> Round:
        done = Round()
        try:
            client = self._client()
        except Exception as exc:  # the EHR's token endpoint or discovery: try next round
            done.error = f"{type(exc).__name__}: {exc}"
            log.warning("reauth watcher: no FHIR client this round: %s", type(exc).__name__)
            self._finish(done)
            return done
        try:
            done.opened = open_reauthorizations(
                PaCaseStore(self._sessions),
                PaSubmissionStore(self._sessions),
                chart_check(client, self._refs(), self._maps),
                today=self._today(),
                actor=ACTOR,
                now=datetime.now(UTC),
                window_days=self.window_days,
                failures=done.failed,
            )
        finally:
            client.close()
        self._finish(done)
        return done

    def _finish(self, done: Round) -> None:
        self.rounds += 1
        self.last = done
        log.info(
            "reauth watcher round %d: %d case(s) opened, %d chart(s) not read%s",
            self.rounds,
            len(done.opened),
            len(done.failed),
            " (EHR unreachable)" if done.error else "",
        )

    def _loop(self) -> None:
        """A round at start, then one every interval until stopped."""
        while True:
            try:
                self.run_once()
            except Exception:  # a bug must not kill the service; logged with its traceback
                log.exception("reauth watcher round failed")
            if self._stop.wait(self.interval):
                return

    def start(self) -> ReauthWatcher:
        self._thread = threading.Thread(target=self._loop, name="reauth-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
