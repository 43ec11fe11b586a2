"""Answering the sandbox payer's ePA question sets from fixture charts (evidence and assessment
built in-process from fixtures/patients/*, as test_packet does): every answer cites facts the
chart's evidence holds, what the chart lacks stays unanswered with an owner, nothing is guessed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import pytest

from integration.domain.evidence import ClinicalEvidence, Owner
from integration.domain.priorauth import Assessment, Prescriber
from integration.evidence.assemble import assemble_evidence
from integration.evidence.chart import ChartData
from integration.evidence.fhir_json import parse_resources
from integration.mapping.evidence_maps import load_evidence_maps
from integration.paths import fixtures_dir
from integration.priorauth.assess import assess
from integration.priorauth.epa_answers import (
    Answer,
    answer_questions,
    build_pa_request,
    load_epa_question_maps,
    route,
)
from integration.priorauth.ncpdp import (
    BenefitsCoordination,
    Choice,
    Header,
    InitiationStatus,
    MedicationPrescribed,
    PAInitiationRequest,
    PAInitiationResponse,
    Patient,
    Quantity,
    Question,
    QuestionSet,
    QuestionType,
    parse,
    to_xml,
)
from integration.priorauth.ncpdp import Prescriber as EpaPrescriber
from integration.priorauth.order import order_from_fhir
from integration.priorauth.references import load_pa_references
from integration.sandbox.question_sets import QuestionSetDef, QuestionSetLibrary
from tests.support.fixture_facts import plain

DAY = date(2026, 11, 15)
DERMATOLOGIST = Prescriber("Practitioner/sandbox-dermatologist", ("dermatology",))
MAPS = load_epa_question_maps()
LIBRARY = QuestionSetLibrary.load()


@cache
def chart(slug: str) -> tuple[ClinicalEvidence, Assessment, tuple[str, ...]]:
    """Evidence, an assessment of the chart's first biologic order, and the order's drug text."""
    bundle = json.loads((fixtures_dir() / "patients" / f"{slug}.json").read_text("utf-8"))
    raws = [e["resource"] for e in bundle["entry"]]
    models, problems = parse_resources(raws)
    evidence = assemble_evidence(
        ChartData(f"{slug}-patient", models, problems), load_evidence_maps(), DAY
    )
    refs = load_pa_references()
    orders = [order_from_fhir(r) for r in raws if r["resourceType"] == "MedicationRequest"]
    order = next(o for o in orders if LIBRARY.for_drug([], [o.text]) is not None)
    assessment = assess(evidence, order, refs.library, refs.lookups, DAY)
    return evidence, assessment, (order.text,)


def question_set_for(slug: str) -> QuestionSetDef:
    _evidence, _assessment, names = chart(slug)
    found = LIBRARY.for_drug([], names)
    assert found is not None
    return found


def answers_for(slug: str, prescriber: Prescriber | None = DERMATOLOGIST) -> dict[str, Answer]:
    evidence, assessment, _names = chart(slug)
    qs = question_set_for(slug).question_set
    got = answer_questions(qs, evidence, assessment, maps=MAPS, prescriber=prescriber)
    assert [a.question_id for a in got] == [q.id for q in qs.questions]
    return {a.question_id: a for a in got}


def evidence_sources(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("source", "payer_source") and isinstance(value, str):
                yield value
            elif key == "sources" and isinstance(value, list):
                yield from value
            else:
                yield from evidence_sources(value)
    elif isinstance(node, list):
        for item in node:
            yield from evidence_sources(item)


SLUGS = [
    "atopic-dermatitis-dupixent",
    "psoriasis-skyrizi",
    "psoriasis-large-chart",
    "psoriasis-gaps",
]


@pytest.mark.parametrize("slug", SLUGS)
def test_every_answer_cites_facts_the_chart_holds(slug: str) -> None:
    evidence, _assessment, _names = chart(slug)
    known = {plain(s) for s in evidence_sources(evidence.to_json())} | {DERMATOLOGIST.source}
    for answer in answers_for(slug).values():
        if answer.answered:
            assert answer.sources, f"{answer.question_id} answered without a source"
            for source in answer.sources:
                assert plain(source) in known, f"{answer.question_id} cites {source}"
        else:
            assert answer.missing and answer.owner is not None
            assert not (answer.choice_ids or answer.text or answer.number or answer.on)


def test_atopic_dermatitis_chart_answers_every_question() -> None:
    got = answers_for("atopic-dermatitis-dupixent")
    assert all(a.answered for a in got.values()), [a for a in got.values() if not a.answered]
    assert got["ad-diagnosis"].choice_ids == ("Y",)
    assert got["ad-diagnosis"].mapping == "atopic-dermatitis-diagnosis"  # by its coded reference
    assert got["ad-bsa"].number == Decimal("30")
    assert [plain(s) for s in got["ad-bsa"].sources] == [
        "Observation/atopic-dermatitis-dupixent-obs-bsa-6"
    ]
    assert got["ad-easi"].number == Decimal("26.8")
    assert got["ad-tcs"].choice_ids == ("Y",)
    assert [plain(s) for s in got["ad-tcs"].sources] == [
        "MedicationRequest/atopic-dermatitis-dupixent-medreq-triamcinolone"
    ]
    assert got["ad-member"].text == "U8841203605"
    assert got["ad-prescriber"].sources == (DERMATOLOGIST.source,)


def test_a_chart_without_a_recent_bsa_leaves_the_bsa_question_to_the_clinician() -> None:
    got = answers_for("psoriasis-gaps")
    bsa = got["ps-bsa"]
    assert not bsa.answered
    assert bsa.owner is Owner.CLINICIAN
    assert bsa.missing is not None and "Body surface area" in bsa.missing
    # the only PASI is from 2025-06: too old to send
    assert not got["ps-pasi"].answered and got["ps-pasi"].owner is Owner.CLINICIAN
    # no current coverage: the front desk supplies the member id
    assert got["ps-member"].owner is Owner.FRONT_DESK
    # a diagnosis without an ICD-10 code and a steroid of unknown length are not "yes"
    assert not got["ps-diagnosis"].answered and not got["ps-trial"].answered


def test_a_question_the_mapping_does_not_know_stays_unanswered() -> None:
    got = answers_for("psoriasis-skyrizi")
    pregnancy = got["ps-pregnancy"]
    assert not pregnancy.answered
    assert pregnancy.mapping is None and pregnancy.owner is Owner.COORDINATOR
    assert "no mapping knows this question" in pregnancy.detail


def test_without_a_prescriber_specialty_the_specialist_question_is_not_guessed() -> None:
    got = answers_for("atopic-dermatitis-dupixent", prescriber=None)
    assert not got["ad-prescriber"].answered
    assert got["ad-prescriber"].owner is Owner.COORDINATOR


def test_ambiguous_text_or_unclear_choices_are_not_guessed() -> None:
    evidence, assessment, _names = chart("atopic-dermatitis-dupixent")
    qs = QuestionSet(
        "QS-X",
        "odd questions",
        (
            # matches both the BSA and the EASI entries
            Question("both", 1, "What are the BSA and EASI scores?", QuestionType.NUMERIC),
            # the chart says yes, but no choice is plainly "Yes"
            Question(
                "choices",
                2,
                "Does the patient have a diagnosis of atopic dermatitis?",
                QuestionType.SELECT,
                choices=(Choice("1", "Confirmed by biopsy"), Choice("2", "Clinical diagnosis")),
            ),
            # a yes fact cannot fill a numeric answer
            Question(
                "kind",
                3,
                "Has the patient tried a topical steroid for 4 weeks?",
                QuestionType.NUMERIC,
            ),
        ),
    )
    got = {a.question_id: a for a in answer_questions(qs, evidence, assessment, maps=MAPS)}
    assert not got["both"].answered and "several mappings" in got["both"].detail
    assert not got["choices"].answered and "no single choice" in got["choices"].detail
    assert not got["kind"].answered


def test_windows_end_on_the_assessment_date() -> None:
    evidence, assessment, _names = chart("psoriasis-skyrizi")
    qs = question_set_for("psoriasis-skyrizi").question_set
    later = replace(assessment, date="2028-01-01")
    got = {a.question_id: a for a in answer_questions(qs, evidence, later, maps=MAPS)}
    assert not got["ps-bsa"].answered and not got["ps-tb"].answered


# --- the PARequest ------------------------------------------------------------------------------

SENT = datetime(2026, 11, 15, 15, 0, tzinfo=UTC)
REQUEST = PAInitiationRequest(
    header=Header("SBXPAYER", "DERMRCM", "MSG-1", SENT),
    pa_reference_id="REF-1",
    patient=Patient("Testcase", "Pat", "F", date(1980, 1, 1)),
    prescriber=EpaPrescriber("1999999984", "Derm"),
    medication=MedicationPrescribed("Skyrizi 150 mg/mL pen", Quantity(Decimal("1"))),
    benefits=BenefitsCoordination("SBXPAYER", cardholder_id="UHC904417263"),
)


def opened(definition: QuestionSetDef) -> PAInitiationResponse:
    return PAInitiationResponse(
        header=Header("DERMRCM", "SBXPAYER", "MSG-2", SENT, relates_to_message_id="MSG-1"),
        pa_reference_id="REF-1",
        status=InitiationStatus.OPEN,
        pa_case_id="CASE-1",
        question_set=definition.question_set,
    )


def test_build_pa_request_sends_only_answered_questions_and_round_trips() -> None:
    definition = question_set_for("psoriasis-skyrizi")
    answers = list(answers_for("psoriasis-skyrizi").values())
    header = Header("SBXPAYER", "DERMRCM", "MSG-3", SENT, relates_to_message_id="MSG-2")
    request = build_pa_request(opened(definition), answers, request=REQUEST, header=header)
    sent = [a.question_id for a in request.answers]
    assert sent == ["ps-diagnosis", "ps-bsa", "ps-pasi", "ps-trial", "ps-tb", "ps-member"]
    assert request.pa_case_id == "CASE-1" and request.question_set_id == "SBX-PSO-BIO-1"
    assert request.answers[4].date == date(2026, 10, 20)
    assert parse(to_xml(request)) == request


def test_a_no_that_ends_the_question_set_drops_the_questions_after_it() -> None:
    definition = question_set_for("psoriasis-skyrizi")
    answers = [
        Answer("ps-diagnosis", True, choice_ids=("N",), sources=("Condition/x",)),
        Answer("ps-bsa", True, number=Decimal("12"), sources=("Observation/y",)),
    ]
    assert route(definition.question_set, answers) == ("ps-diagnosis",)
    header = Header("SBXPAYER", "DERMRCM", "MSG-3", SENT)
    request = build_pa_request(opened(definition), answers, request=REQUEST, header=header)
    assert [a.question_id for a in request.answers] == ["ps-diagnosis"]


def test_build_pa_request_refuses_a_closed_case_and_foreign_choices() -> None:
    definition = question_set_for("psoriasis-skyrizi")
    header = Header("SBXPAYER", "DERMRCM", "MSG-3", SENT)
    closed = replace(opened(definition), status=InitiationStatus.CLOSED, question_set=None)
    with pytest.raises(ValueError, match="expected an open case"):
        build_pa_request(closed, [], request=REQUEST, header=header)
    with pytest.raises(ValueError, match="choice 'MAYBE' is not offered"):
        build_pa_request(
            opened(definition),
            [Answer("ps-diagnosis", True, choice_ids=("MAYBE",))],
            request=REQUEST,
            header=header,
        )
