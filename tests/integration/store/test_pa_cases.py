"""PA cases in the database (SQLite and PostgreSQL): opening a case opens a task per missing item,
transitions are checked and audited, and publishing a stricter rule version flags exactly the
cases whose checklist it changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from integration.domain.evidence import ClinicalEvidence, from_json
from integration.mapping.loader import MappingDocument, load_document
from integration.paths import fixtures_dir, mappings_dir
from integration.priorauth.assess import assess
from integration.priorauth.cases import CaseState, TransitionError
from integration.priorauth.order import order_from_fhir
from integration.priorauth.references import PaReferences, load_pa_references
from integration.store.database import make_engine, session_factory, upgrade
from integration.store.pa_cases import PaCaseStore

DAY = date(2026, 11, 15)
NOW = datetime(2026, 11, 15, 14, 0, tzinfo=UTC)
CIGNA_DUPIXENT = mappings_dir() / "payers" / "cigna" / "dupixent-atopic-dermatitis.yaml"


@pytest.fixture(scope="module")
def refs() -> PaReferences:
    return load_pa_references()


@pytest.fixture
def store(database_url: str) -> Iterator[PaCaseStore]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield PaCaseStore(session_factory(engine))
    engine.dispose()


def evidence_of(slug: str) -> ClinicalEvidence:
    path = fixtures_dir() / "patients" / f"{slug}.evidence.json"
    evidence: ClinicalEvidence = from_json(ClinicalEvidence, json.loads(path.read_text()))
    return evidence


def order_of(slug: str, order_id: str) -> dict[str, Any]:
    bundle = json.loads((fixtures_dir() / "patients" / f"{slug}.json").read_text())
    for entry in bundle["entry"]:
        if entry["resource"]["id"] == order_id:
            resource: dict[str, Any] = entry["resource"]
            return resource
    raise KeyError(order_id)


DUPIXENT = order_of("atopic-dermatitis-dupixent", "atopic-dermatitis-dupixent-medreq-dupixent")


def open_case(
    store: PaCaseStore,
    refs: PaReferences,
    evidence: ClinicalEvidence,
    payer: str,
    order: dict[str, Any] = DUPIXENT,
) -> str:
    assessment = assess(
        evidence, order_from_fhir(order), refs.library, refs.lookups, DAY, payer_id=payer
    )
    return store.open_case(
        patient_id="p",
        order=order,
        assessment=assessment,
        evidence=evidence,
        prescriber=None,
        actor="Practitioner/coordinator-1",
        now=NOW,
    )


def stricter_version(tmp_path: Path, *, min_days: int, effective_from: str) -> MappingDocument:
    """The Cigna Dupixent rule, next version, with a longer steroid trial."""
    data = yaml.safe_load(CIGNA_DUPIXENT.read_text())
    data["version"] += 1
    data["effective_from"] = effective_from
    for criterion in data["criteria"]:
        if criterion["id"] == "topical-corticosteroid-trial":
            criterion["rule"]["therapy"]["min_days"] = min_days
    path = tmp_path / "dupixent-atopic-dermatitis.v2.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_document(path, mappings_dir())


def test_a_case_opens_in_draft_with_a_task_per_missing_item(
    store: PaCaseStore, refs: PaReferences
) -> None:
    case_id = open_case(store, refs, evidence_of("atopic-dermatitis-dupixent"), "cigna")
    case = store.case(case_id)
    assert case is not None and case.state == "draft"
    assert (case.rule_id, case.rule_version) == ("cigna-dupixent-atopic-dermatitis", 1)
    tasks = store.tasks(case_id=case_id)
    # the fixture practitioner has no specialty in the chart: the coordinator supplies it
    assert [(t.criterion_id, t.owner_role, t.due) for t in tasks] == [
        ("prescriber", "coordinator", "2026-11-17")
    ]
    assert store.tasks(owner_role="coordinator")[0].case_id == case_id
    assert store.tasks(owner_role="clinician") == []


def test_transitions_are_checked_and_audited(store: PaCaseStore, refs: PaReferences) -> None:
    case_id = open_case(store, refs, evidence_of("atopic-dermatitis-dupixent"), "cigna")
    store.transition(
        case_id, CaseState.READY_FOR_REVIEW, actor="Practitioner/c1", reason="complete", now=NOW
    )
    with pytest.raises(
        TransitionError, match=r"from ready-for-review expected one of .*got approved"
    ):
        store.transition(case_id, CaseState.APPROVED, actor="Practitioner/c1", reason="x", now=NOW)
    store.transition(
        case_id, CaseState.SUBMITTED, actor="Practitioner/c1", reason="sent by ePA", now=NOW
    )
    events = store.events(case_id)
    assert [(e.kind, e.from_state, e.to_state, e.actor) for e in events] == [
        ("opened", None, "draft", "Practitioner/coordinator-1"),
        ("transition", "draft", "ready-for-review", "Practitioner/c1"),
        ("transition", "ready-for-review", "submitted", "Practitioner/c1"),
    ]
    assert events[2].reason == "sent by ePA"
    assert store.case(case_id).state == "submitted"  # type: ignore[union-attr]


def test_publishing_a_stricter_steroid_trial_flags_exactly_the_cases_it_changes(
    store: PaCaseStore, refs: PaReferences, tmp_path: Path
) -> None:
    short_trial = evidence_of("atopic-dermatitis-dupixent")  # triamcinolone 8 weeks
    tcs = next(t for t in short_trial.therapies if t.drug_class == "topical-corticosteroid")
    long_trial = replace(
        short_trial,
        therapies=tuple(
            replace(t, start="2025-08-01") if t is tcs else t for t in short_trial.therapies
        ),
    )  # the same steroid for 165 days
    changed = open_case(store, refs, short_trial, "cigna")
    unaffected = open_case(store, refs, long_trial, "cigna")
    other_payer = open_case(store, refs, short_trial, "unitedhealthcare")
    closed = open_case(store, refs, short_trial, "cigna")
    store.transition(
        closed, CaseState.CLOSED, actor="Practitioner/c1", reason="patient declined", now=NOW
    )
    skyrizi = order_of("psoriasis-skyrizi", "psoriasis-skyrizi-medreq-skyrizi")
    other_drug = open_case(store, refs, evidence_of("psoriasis-skyrizi"), "cigna", skyrizi)

    # a version that starts after the cases' date of service governs none of them
    later = refs.library.compile(
        stricter_version(tmp_path, min_days=84, effective_from="2026-12-01")
    )
    assert (
        store.reevaluate(later, refs.library.with_rule(later), refs.lookups, actor="admin", now=NOW)
        == []
    )

    doc = stricter_version(tmp_path, min_days=84, effective_from="2026-11-01")
    rule = refs.library.compile(doc)
    flagged = store.reevaluate(
        rule, refs.library.with_rule(rule), refs.lookups, actor="admin", now=NOW
    )

    assert [f.case_id for f in flagged] == [changed]
    (change,) = flagged[0].changes
    assert (change.what, change.before, change.after) == (
        "criterion topical-corticosteroid-trial",
        "met",
        "unmet",
    )
    case = store.case(changed)
    assert case is not None and case.rule_version == 2
    assert case.flag == (
        "cigna-dupixent-atopic-dermatitis v2 changes this case: "
        "criterion topical-corticosteroid-trial: met -> unmet"
    )
    event = store.events(changed)[-1]
    assert (event.kind, event.actor) == ("rule-change", "admin")
    assert event.detail["previous_version"] == 1
    assert "56 days, needs 84" in json.dumps(json.loads(case.assessment_json))
    for untouched in (unaffected, other_payer, closed, other_drug):
        row = store.case(untouched)
        assert row is not None and row.flag is None
        assert [e.kind for e in store.events(untouched)][-1] in ("opened", "transition")
