"""ePA "more information" on the same case, over real HTTP (SQLite and PostgreSQL): the sandbox
payer pends a Dupixent request asking a follow-up question set; the resubmission answers that
set from the chart in a PARequest on the same PACaseID (no second PAInitiationRequest), each
answer with its sources, and the payer decides on it."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from click.testing import CliRunner

from integration.priorauth.cases import CaseState
from integration.priorauth.references import PaReferences
from integration.priorauth.submit import UnansweredError
from tests.integration.priorauth.test_submission import (
    DERM,
    DUPIXENT_2_PENS,
    NOW,
    _base,
    _order,
    _ready_case,
    _submitter,
)
from tests.support.servers import Sandbox

#: a prescriber the chart gives no dermatology, allergy or immunology specialty: the sandbox
#: can't approve on the first question set and pends asking its follow-up questions
GENERALIST = replace(DERM, specialties=("family-medicine",))


def test_more_information_is_answered_on_the_same_pa_case_and_approved(
    stores: Any, refs: PaReferences, payer: Sandbox
) -> None:
    cases, subs, _ = stores
    order = _order("dupixent", **DUPIXENT_2_PENS)
    case_id = _ready_case(
        stores, refs, "atopic-dermatitis-dupixent", order, "cigna", prescriber=GENERALIST
    )
    submitter = _submitter(subs, _base(payer))

    first = submitter.submit(case_id, actor="coordinator", now=NOW, allow_unanswered=True)

    assert first.state is CaseState.MORE_INFO
    assert [(m.question_id, m.owner) for m in first.unanswered] == [
        ("ad-prescriber", "coordinator")
    ]
    assert "When was the topical corticosteroid course started?" in first.response.ask
    pa_case_id = first.response.payer_reference
    assert pa_case_id
    before = len(subs.messages(case_id))

    second = submitter.submit(case_id, actor="coordinator", now=NOW, allow_unanswered=True)

    assert second.state is CaseState.APPROVED
    # the free-text follow-up no chart holds went unanswered, and the result says so
    assert [m.question_id for m in second.unanswered] == ["ad-tcs-response"]
    case = cases.case(case_id)
    assert case is not None and case.auth_number and case.approved_to
    assert case.payer_reference == pa_case_id
    again = subs.messages(case_id)[before:]
    assert [(m.direction, m.kind) for m in again] == [
        ("out", "PARequest answers+sources"),
        ("out", "PARequest"),
        ("in", "PAResponse"),
    ]
    request = again[1].body
    assert f"<PACaseID>{pa_case_id}</PACaseID>" in request
    assert "-follow-up</QuestionSetID>" in request
    answers = {a["question_id"]: a for a in json.loads(again[0].body)}
    assert set(answers) == {"ad-tcs-response", "ad-tcs-start"}
    start = answers["ad-tcs-start"]
    assert start["answered"] and start["on"] and start["sources"]
    therapies = {t["source"] for t in json.loads(case.evidence_json)["therapies"]}
    assert set(start["sources"]) <= therapies
    # what the payer asked is answered; the trail shows both rounds
    assert [t.what for t in cases.tasks(case_id=case_id) if t.criterion_id is None] == []
    trail = [(e.from_state, e.to_state) for e in cases.events(case_id)][-4:]
    assert trail == [
        ("ready-for-review", "submitted"),
        ("submitted", "more-information-requested"),
        ("more-information-requested", "submitted"),
        ("submitted", "approved"),
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_questions_the_chart_cannot_answer_stop_the_send_and_are_listed_with_their_owner(
    stores: Any,
    refs: PaReferences,
    payer: Sandbox,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from integration.cli import main

    cases, subs, _ = stores
    order = _order("dupixent", **DUPIXENT_2_PENS)
    case_id = _ready_case(
        stores, refs, "atopic-dermatitis-dupixent", order, "cigna", prescriber=GENERALIST
    )

    with pytest.raises(UnansweredError) as refused:
        _submitter(subs, _base(payer)).submit(
            case_id, actor="coordinator", now=NOW, allow_unanswered=False
        )

    assert [(m.question_id, m.owner) for m in refused.value.missing] == [
        ("ad-prescriber", "coordinator")
    ]
    assert "PractitionerRole.specialty" in refused.value.missing[0].missing
    case = cases.case(case_id)
    assert case is not None and case.state == "ready-for-review"
    kinds = [m.kind for m in subs.messages(case_id)]
    assert "PARequest" not in kinds  # the answers were never sent
    assert cases.events(case_id)[-1].kind == "submit-held"
    tasks = [(t.owner_role, t.what) for t in cases.tasks(case_id=case_id) if t.criterion_id is None]
    assert tasks == [
        ("coordinator", "payer question unanswered: " + refused.value.missing[0].missing)
    ]

    # the CLI says the same, and sends when told to
    monkeypatch.setenv("DATABASE_URL", database_url)
    held = CliRunner().invoke(main, ["pa", "submit", case_id, "--payer-url", _base(payer)])
    assert held.exit_code == 1
    assert "missing (coordinator): ad-prescriber:" in held.output
    sent = CliRunner().invoke(
        main, ["pa", "submit", case_id, "--payer-url", _base(payer), "--allow-unanswered"]
    )
    assert sent.exit_code == 0, sent.output
    assert sent.output.startswith("more-information-requested by ncpdp-epa")
    assert "sent unanswered (coordinator): ad-prescriber:" in sent.output
