"""The reauthorization watcher (SQLite and PostgreSQL): an approval ending within 30 days gets one
reauthorization case, checked against the rule's reauthorization criteria and pre-filled with the
response to therapy, each score with its sources; an approval further out gets none."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from integration.domain.evidence import ClinicalEvidence, Measure, from_json
from integration.domain.priorauth import Outcome, PayerResponse
from integration.fhir.pa_check import PaCheck
from integration.paths import fixtures_dir
from integration.priorauth.assess import assess
from integration.priorauth.cases import CaseState
from integration.priorauth.order import order_from_fhir
from integration.priorauth.references import PaReferences, load_pa_references
from integration.priorauth.renewals import open_reauthorizations
from integration.store.database import make_engine, session_factory, upgrade
from integration.store.models import PaCase
from integration.store.pa_cases import PaCaseStore
from integration.store.pa_submissions import PaSubmissionStore

OPENED = datetime(2026, 11, 15, 14, 0, tzinfo=UTC)
TODAY = date(2027, 2, 20)


@pytest.fixture(scope="module")
def refs() -> PaReferences:
    return load_pa_references()


@pytest.fixture
def stores(database_url: str) -> Iterator[tuple[PaCaseStore, PaSubmissionStore]]:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    yield PaCaseStore(sessions), PaSubmissionStore(sessions)
    engine.dispose()


def _evidence() -> ClinicalEvidence:
    path = fixtures_dir() / "patients" / "atopic-dermatitis-dupixent.evidence.json"
    evidence: ClinicalEvidence = from_json(ClinicalEvidence, json.loads(path.read_text()))
    return evidence


def _order() -> dict[str, Any]:
    order: dict[str, Any] = json.loads((fixtures_dir() / "orders" / "dupixent.json").read_text())
    return order


def _now_chart() -> ClinicalEvidence:
    """The chart three months into Dupixent: a new EASI and BSA, much better."""
    before = _evidence()
    easi = Measure(Decimal("5.2"), None, "2027-02-10", "Observation/easi-after", "EASI")
    bsa = Measure(Decimal("6"), "%", "2027-02-10", "Observation/bsa-after", "BSA")
    measures = dict(before.measures)
    measures["EASI"] = (easi, *before.measures["EASI"])
    measures["BSA"] = (bsa, *before.measures["BSA"])
    return replace(before, as_of=TODAY.isoformat(), measures=measures)


def _approved(stores: tuple[PaCaseStore, PaSubmissionStore], refs: PaReferences, until: str) -> str:
    cases, subs = stores
    evidence = _evidence()
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
        patient_id="atopic-dermatitis-dupixent",
        order=order,
        assessment=assessment,
        evidence=evidence,
        prescriber=None,
        actor="coordinator",
        now=OPENED,
    )
    cases.transition(case_id, CaseState.READY_FOR_REVIEW, actor="c", reason="r", now=OPENED)
    subs.apply(
        case_id,
        "ncpdp-epa",
        PayerResponse(
            Outcome.APPROVED, "criteria met", auth_number="PA123", start="2026-11-20", end=until
        ),
        actor="coordinator",
        now=OPENED,
    )
    return case_id


def _check(refs: PaReferences) -> Any:
    chart = _now_chart()

    def check(case: PaCase, day: date) -> PaCheck:
        order = order_from_fhir(json.loads(case.order_json))
        assessment = assess(
            chart,
            order,
            refs.library,
            refs.lookups,
            day,
            payer_id=case.payer_id,
            reauthorization=True,
        )
        return PaCheck(assessment, chart, order, None)

    return check


def test_an_approval_ending_within_30_days_gets_one_prefilled_reauthorization_case(
    stores: tuple[PaCaseStore, PaSubmissionStore], refs: PaReferences
) -> None:
    cases, subs = stores
    expiring = _approved(stores, refs, "2027-03-19")
    later = _approved(stores, refs, "2027-05-19")

    renewals = open_reauthorizations(
        cases, subs, _check(refs), today=TODAY, actor="reauth-watcher", now=OPENED
    )

    assert [r.renews for r in renewals] == [expiring]
    assert later not in [r.renews for r in renewals]
    renewal = renewals[0]
    assert renewal.service_date == date(2027, 3, 20)
    case = cases.case(renewal.case_id)
    assert case is not None
    assert (case.kind, case.reauth_of, case.state) == ("reauthorization", expiring, "draft")
    context = json.loads(case.context_json)
    assert context["renews"]["auth_number"] == "PA123"
    easi = next(c for c in context["response_to_therapy"] if c["key"] == "EASI")
    assert (easi["baseline"]["value"], easi["current"]["value"]) == (26.8, 5.2)
    assert easi["percent"] == 81
    assert easi["sources"] == [easi["baseline"]["source"], "Observation/easi-after"]
    # the checklist is Cigna's reauthorization criteria: the clinician attests the response
    checklist = json.loads(case.assessment_json)
    assert checklist["reason"].startswith("reauthorization: ")
    assert [(c["id"], c["status"], c["owner"]) for c in checklist["criteria"]] == [
        ("response", "missing", "clinician")
    ]
    assert [t.owner_role for t in cases.tasks(case_id=renewal.case_id)] == ["clinician"]

    # run again: nothing new
    again = open_reauthorizations(
        cases, subs, _check(refs), today=TODAY, actor="reauth-watcher", now=OPENED
    )
    assert again == []
