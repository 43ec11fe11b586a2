"""The reauthorization watcher as `dermrcm run` starts it (SQLite and PostgreSQL): it reads the
chart from the sandbox EHR over real HTTP as a SMART backend service (signed client assertion,
system scopes), opens one reauthorization case for an approval ending within 30 days, and
survives an EHR it cannot reach (nothing opened, tried again next round)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey

from integration.domain.evidence import ClinicalEvidence, from_json
from integration.domain.priorauth import Outcome, PayerResponse
from integration.fhir.backend_auth import BackendServicesToken, load_or_create_key, public_jwks
from integration.fhir.client import FhirClient
from integration.mapping.evidence_maps import load_evidence_maps
from integration.paths import fixtures_dir
from integration.priorauth.assess import assess
from integration.priorauth.cases import CaseState
from integration.priorauth.order import order_from_fhir
from integration.priorauth.references import PaReferences, load_pa_references
from integration.priorauth.watcher import ReauthWatcher
from integration.sandbox.config import BackendClient
from integration.store.database import make_engine, session_factory, upgrade
from integration.store.pa_cases import PaCaseStore
from integration.store.pa_submissions import PaSubmissionStore
from tests.support.servers import Sandbox, start_fixture_sandbox

PATIENT = "atopic-dermatitis-dupixent-patient"
ORDER_ID = "atopic-dermatitis-dupixent-medreq-dupixent"
BACKEND = "derm-rcm-backend"
OPENED = datetime(2026, 11, 15, 14, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> ECKey:
    return load_or_create_key(tmp_path_factory.mktemp("keys") / "backend_key.pem")


@pytest.fixture(scope="module")
def ehr(key: ECKey) -> Iterator[Sandbox]:
    started = start_fixture_sandbox(
        None, backend_clients=(BackendClient(BACKEND, public_jwks(key)),)
    )
    with started.server:
        yield started


@pytest.fixture(scope="module")
def refs() -> PaReferences:
    return load_pa_references()


@pytest.fixture
def sessions(database_url: str) -> Iterator[Any]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()


def _order() -> dict[str, Any]:
    bundle = json.loads(
        (fixtures_dir() / "patients" / "atopic-dermatitis-dupixent.json").read_text()
    )
    order: dict[str, Any] = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["id"] == ORDER_ID
    )
    return order


def _approved_case(sessions: Any, refs: PaReferences, until: str) -> str:
    cases, subs = PaCaseStore(sessions), PaSubmissionStore(sessions)
    path = fixtures_dir() / "patients" / "atopic-dermatitis-dupixent.evidence.json"
    evidence = from_json(ClinicalEvidence, json.loads(path.read_text()))
    order = _order()
    assessment = assess(
        evidence,
        order_from_fhir(order),
        refs.library,
        refs.lookups,
        date(2026, 11, 15),
        payer_id="cigna",
    )
    case_id = cases.open_case(
        patient_id=PATIENT,
        order=order,
        assessment=assessment,
        evidence=evidence,
        prescriber=None,
        actor="coordinator",
        now=OPENED,
    )
    cases.transition(case_id, CaseState.READY_FOR_REVIEW, actor="c", reason="signed", now=OPENED)
    subs.apply(
        case_id,
        "ncpdp-epa",
        PayerResponse(Outcome.APPROVED, "met", auth_number="PA9", start="2026-11-20", end=until),
        actor="coordinator",
        now=OPENED,
    )
    return case_id


def _watcher(sessions: Any, refs: PaReferences, fhir_base: str, key: ECKey) -> ReauthWatcher:
    def client() -> FhirClient:
        source = BackendServicesToken(fhir_base, BACKEND, key, scope="system/*.rs", timeout=5)
        return FhirClient(fhir_base, token=source.token, refresh=source.refresh)

    return ReauthWatcher(
        sessions,
        client,
        lambda: refs,
        load_evidence_maps(),
        interval_seconds=3600,
        today=lambda: date(2027, 10, 25),
    )


def test_the_watcher_opens_one_reauthorization_from_the_live_chart(
    sessions: Any, refs: PaReferences, ehr: Sandbox, key: ECKey
) -> None:
    expiring = _approved_case(sessions, refs, "2027-11-19")
    later = _approved_case(sessions, refs, "2028-03-01")
    watcher = _watcher(sessions, refs, ehr.fhir, key)

    first = watcher.run_once()
    assert first.error is None and first.failed == []
    assert [r.renews for r in first.opened] == [expiring]
    renewal = first.opened[0]
    case = PaCaseStore(sessions).case(renewal.case_id)
    assert case is not None
    assert (case.kind, case.reauth_of, case.patient_id) == ("reauthorization", expiring, PATIENT)
    assert renewal.service_date == date(2027, 11, 20)
    # the checklist was read from the EHR now: its evidence points at the chart's resources
    evidence = json.loads(case.evidence_json)
    assert evidence["patient"]["source"].startswith(f"Patient/{PATIENT}")
    events = PaCaseStore(sessions).events(renewal.case_id)
    assert events[0].actor == "reauth-watcher"

    assert watcher.run_once().opened == []  # renewed once, however often it runs
    assert later not in [r.renews for r in first.opened]


def test_an_unreachable_ehr_is_a_logged_round_not_a_crash(
    sessions: Any, refs: PaReferences, key: ECKey, tmp_path: Path
) -> None:
    expiring = _approved_case(sessions, refs, "2027-11-19")
    watcher = _watcher(sessions, refs, "http://127.0.0.1:9/fhir", key)
    done = watcher.run_once()
    assert done.opened == []
    [failure] = done.failed
    assert failure.renews == expiring
    assert failure.error.startswith("discovery http://127.0.0.1:9/fhir/.well-known/")
    assert watcher.rounds == 1
    # the thread runs a round at start and stops when asked
    watcher.start()
    watcher.stop()
    assert watcher.rounds >= 2
