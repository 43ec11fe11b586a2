"""The clinician's review of a PA case in the database (SQLite and PostgreSQL): versions are only
added, only the latest is signed and only once, the signature's hash covers what was signed,
and attesting an `attestation` criterion re-assesses the case and closes its task.

Fixture: psoriasis-skyrizi (fixtures/patients/psoriasis-skyrizi.json) under UnitedHealthcare's
Skyrizi rule (mappings/payers/unitedhealthcare/skyrizi-plaque-psoriasis.yaml), whose `severity`
criterion is an attestation only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from integration.domain.evidence import ClinicalEvidence, from_json
from integration.paths import fixtures_dir
from integration.priorauth.assess import assess
from integration.priorauth.order import order_from_fhir
from integration.priorauth.references import PaReferences, load_pa_references
from integration.store.database import make_engine, session_factory, upgrade
from integration.store.pa_cases import PaCaseStore
from integration.store.pa_reviews import PaReviewStore, ReviewError, UnknownCase, content_hash

DAY = date(2026, 11, 15)
NOW = datetime(2026, 11, 15, 14, 0, tzinfo=UTC)
SLUG = "psoriasis-skyrizi"
CLINICIAN = "Practitioner/psoriasis-skyrizi-practitioner"


@pytest.fixture(scope="module")
def refs() -> PaReferences:
    return load_pa_references()


@pytest.fixture
def stores(database_url: str, refs: PaReferences) -> Iterator[tuple[PaCaseStore, PaReviewStore]]:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    yield PaCaseStore(sessions), PaReviewStore(sessions, lambda: refs)
    engine.dispose()


def _order(slug: str, order_id: str) -> dict[str, Any]:
    bundle = json.loads((fixtures_dir() / "patients" / f"{slug}.json").read_text())
    for entry in bundle["entry"]:
        if entry["resource"]["id"] == order_id:
            resource: dict[str, Any] = entry["resource"]
            return resource
    raise KeyError(order_id)


def open_skyrizi_case(cases: PaCaseStore, refs: PaReferences) -> str:
    path = fixtures_dir() / "patients" / f"{SLUG}.evidence.json"
    evidence: ClinicalEvidence = from_json(ClinicalEvidence, json.loads(path.read_text()))
    order = _order(SLUG, f"{SLUG}-medreq-skyrizi")
    assessment = assess(
        evidence,
        order_from_fhir(order),
        refs.library,
        refs.lookups,
        DAY,
        payer_id="unitedhealthcare",
    )
    return cases.open_case(
        patient_id=f"{SLUG}-patient",
        order=order,
        assessment=assessment,
        evidence=evidence,
        prescriber=None,
        actor="Practitioner/coordinator-1",
        now=NOW,
    )


@pytest.fixture
def case_id(stores: tuple[PaCaseStore, PaReviewStore], refs: PaReferences) -> str:
    return open_skyrizi_case(stores[0], refs)


def criterion(cases: PaCaseStore, case_id: str, criterion_id: str) -> dict[str, Any]:
    case = cases.case(case_id)
    assert case is not None
    found: dict[str, Any] = next(
        c for c in json.loads(case.assessment_json)["criteria"] if c["id"] == criterion_id
    )
    return found


def test_versions_accumulate_and_are_never_rewritten(
    stores: tuple[PaCaseStore, PaReviewStore], case_id: str
) -> None:
    _cases, reviews = stores
    assert reviews.latest(case_id) is None and reviews.versions(case_id) == []
    assert reviews.save_version(case_id, "first draft", {}, CLINICIAN, NOW) == 1
    later = NOW + timedelta(minutes=5)
    assert (
        reviews.save_version(case_id, "second draft", {"severity": "PASI 15.6"}, CLINICIAN, later)
        == 2
    )
    versions = reviews.versions(case_id)
    assert [(v.version, v.narrative, dict(v.attestations)) for v in versions] == [
        (1, "first draft", {}),
        (2, "second draft", {"severity": "PASI 15.6"}),
    ]
    assert versions[1].created_at == later
    latest = reviews.latest(case_id)
    assert latest is not None and latest.version == 2 and not latest.is_signed
    assert reviews.signed(case_id) is None


def test_sign_once_only_the_latest_and_edit_after_sign_adds_an_unsigned_version(
    stores: tuple[PaCaseStore, PaReviewStore], case_id: str
) -> None:
    cases, reviews = stores
    reviews.save_version(case_id, "draft", {}, CLINICIAN, NOW)
    reviews.save_version(case_id, "Skyrizi is medically necessary.", {}, CLINICIAN, NOW)
    with pytest.raises(ReviewError, match=r"only the latest version \(2\) can be signed, got 1"):
        reviews.sign(case_id, 1, CLINICIAN, NOW)
    with pytest.raises(ReviewError, match="expected the signed-in clinician's FHIR Practitioner"):
        reviews.sign(case_id, 2, "Patient/someone", NOW)

    signed = reviews.sign(case_id, 2, CLINICIAN, NOW)
    assert (signed.signed_by, signed.signed_at) == (CLINICIAN, NOW)
    case = cases.case(case_id)
    assert case is not None and case.state == "ready-for-review"
    assert signed.content_sha256 == content_hash(
        "Skyrizi is medically necessary.", {}, json.loads(case.assessment_json)
    )
    assert reviews.verify(case_id, 2) is True
    with pytest.raises(ReviewError, match="already signed by Practitioner/psoriasis-skyrizi"):
        reviews.sign(case_id, 2, CLINICIAN, NOW)

    assert reviews.save_version(case_id, "amended", {}, CLINICIAN, NOW) == 3
    kept = reviews.signed(case_id)
    assert kept is not None and kept.version == 2 and kept.narrative.startswith("Skyrizi")
    latest = reviews.latest(case_id)
    assert latest is not None and latest.version == 3 and not latest.is_signed

    events = [(e.kind, e.from_state, e.to_state, e.actor) for e in cases.events(case_id)]
    assert ("signed", "draft", "draft", CLINICIAN) in events
    assert ("transition", "draft", "ready-for-review", CLINICIAN) in events
    # signing a later version leaves the state alone (only draft moves)
    reviews.sign(case_id, 3, CLINICIAN, NOW)
    case = cases.case(case_id)
    assert case is not None and case.state == "ready-for-review"


def test_the_content_hash_changes_with_the_narrative(
    stores: tuple[PaCaseStore, PaReviewStore], refs: PaReferences
) -> None:
    cases, reviews = stores
    hashes = []
    for narrative in ("Moderate to severe psoriasis.", "Moderate-to-severe psoriasis."):
        case_id = open_skyrizi_case(cases, refs)
        reviews.save_version(case_id, narrative, {}, CLINICIAN, NOW)
        hashes.append(reviews.sign(case_id, 1, CLINICIAN, NOW).content_sha256)
    assert hashes[0] and hashes[1] and hashes[0] != hashes[1]


def test_an_empty_narrative_is_not_signed(
    stores: tuple[PaCaseStore, PaReviewStore], case_id: str
) -> None:
    _cases, reviews = stores
    with pytest.raises(ReviewError, match="no packet review version to sign"):
        reviews.sign(case_id, 1, CLINICIAN, NOW)
    reviews.save_version(case_id, "  ", {}, CLINICIAN, NOW)
    with pytest.raises(ReviewError, match="narrative: expected the medical necessity statement"):
        reviews.sign(case_id, 1, CLINICIAN, NOW)


def test_attesting_flips_a_missing_attestation_criterion_to_met_and_closes_its_task(
    stores: tuple[PaCaseStore, PaReviewStore], case_id: str
) -> None:
    cases, reviews = stores
    case = cases.case(case_id)
    assert case is not None
    assert "severity" in reviews.attestation_criteria(case)
    assert criterion(cases, case_id, "severity")["status"] == "missing"
    assert [t.criterion_id for t in cases.tasks(owner_role="clinician", case_id=case_id)] == [
        "severity",
        "prior-therapy",
    ]

    assert reviews.attest(case_id, "severity", CLINICIAN, CLINICIAN, NOW) is True

    severity = criterion(cases, case_id, "severity")
    assert severity["status"] == "met"
    assert severity["evidence"] == [CLINICIAN]
    assert [t.criterion_id for t in cases.tasks(owner_role="clinician", case_id=case_id)] == [
        "prior-therapy"
    ]
    case = cases.case(case_id)
    assert case is not None
    assert json.loads(case.context_json)["attested"] == {"severity": CLINICIAN}
    event = cases.events(case_id)[-1]
    assert (event.kind, event.actor) == ("attested", CLINICIAN)
    assert event.reason == f"criterion severity attested by {CLINICIAN}: missing -> met"
    # the other criteria are what they were
    assert criterion(cases, case_id, "prescriber")["status"] == "missing"
    # attesting again changes nothing
    assert reviews.attest(case_id, "severity", CLINICIAN, CLINICIAN, NOW) is False


def test_only_attestation_criteria_can_be_attested(
    stores: tuple[PaCaseStore, PaReviewStore], case_id: str
) -> None:
    _cases, reviews = stores
    with pytest.raises(ReviewError, match=r"attestation criteria \(severity, .*got 'diagnosis'"):
        reviews.attest(case_id, "diagnosis", CLINICIAN, CLINICIAN, NOW)
    with pytest.raises(ReviewError, match="got 'no-such-criterion'"):
        reviews.save_version(case_id, "x", {"no-such-criterion": "note"}, CLINICIAN, NOW)
    with pytest.raises(ReviewError, match="expected a FHIR Practitioner reference"):
        reviews.attest(case_id, "severity", "Patient/p", "Patient/p", NOW)
    with pytest.raises(UnknownCase):
        reviews.save_version("no-such-case", "x", {}, CLINICIAN, NOW)
