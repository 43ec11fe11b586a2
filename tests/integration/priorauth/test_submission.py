"""Submitting a signed case to the sandbox payer over real HTTP and applying its answer
(SQLite and PostgreSQL): approve with an authorization number and dates, deny with a reason,
ask for more and approve the resubmission; every message stored; a failed send loses nothing."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pypdf import PdfReader

from integration.domain.evidence import ClinicalEvidence, from_json
from integration.domain.priorauth import Assessment, Channel, Outcome, Prescriber
from integration.paths import fixtures_dir
from integration.priorauth.assess import assess
from integration.priorauth.cases import CaseState
from integration.priorauth.channels.transport import ChannelError, PayerTransport
from integration.priorauth.order import order_from_fhir
from integration.priorauth.references import PaReferences
from integration.priorauth.submit import Attachment, Practice, Submitter
from integration.store.pa_cases import PaCaseStore
from integration.store.pa_reviews import PaReviewStore
from integration.store.pa_submissions import PaSubmissionStore, SubmissionError
from tests.support.servers import Sandbox

DAY = date(2026, 11, 15)
NOW = datetime(2026, 11, 15, 14, 0, tzinfo=UTC)
SIGNER = "Practitioner/derm-1"


def _evidence(slug: str) -> ClinicalEvidence:
    path = fixtures_dir() / "patients" / f"{slug}.evidence.json"
    evidence: ClinicalEvidence = from_json(ClinicalEvidence, json.loads(path.read_text()))
    return evidence


def _order(name: str, **changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = json.loads((fixtures_dir() / "orders" / f"{name}.json").read_text())
    order.update(changes)
    return order


def _ready_case(
    stores: tuple[PaCaseStore, PaSubmissionStore, Any],
    refs: PaReferences,
    slug: str,
    order: dict[str, Any],
    payer_id: str,
    *,
    sign: bool = True,
    prescriber: Prescriber | None = None,
) -> str:
    cases, _subs, sessions = stores
    evidence = _evidence(slug)
    assessment = assess(
        evidence, order_from_fhir(order), refs.library, refs.lookups, DAY, payer_id=payer_id
    )
    case_id = cases.open_case(
        patient_id=slug,
        order=order,
        assessment=assessment,
        evidence=evidence,
        prescriber=prescriber,
        actor="Practitioner/coordinator-1",
        now=NOW,
    )
    if sign:
        # the clinician's review: a narrative, then the signature (draft -> ready-for-review)
        reviews = PaReviewStore(sessions, lambda: refs)
        version = reviews.save_version(case_id, "Medically necessary.", {}, SIGNER, NOW)
        reviews.sign(case_id, version, SIGNER, NOW)
    else:
        cases.transition(
            case_id, CaseState.READY_FOR_REVIEW, actor="coordinator", reason="gathered", now=NOW
        )
    return case_id


def _submitter(subs: PaSubmissionStore, base_url: str) -> Submitter:
    return Submitter(
        subs, PayerTransport(timeout=10), base_url, Practice("Sandbox Dermatology", "1999999984")
    )


def _base(payer: Sandbox) -> str:
    return payer.server.base_url + "/payer"


def test_pas_mohs_for_carcinoma_is_approved_with_auth_number_and_dates(
    stores: Any, refs: PaReferences, payer: Sandbox
) -> None:
    cases, subs, _ = stores
    case_id = _ready_case(stores, refs, "bcc-mohs", _order("mohs"), "aetna")

    done = _submitter(subs, _base(payer)).submit(
        case_id, actor="coordinator", now=NOW, channel=Channel.PAS
    )

    assert done.state is CaseState.APPROVED
    assert done.response.outcome is Outcome.APPROVED
    case = cases.case(case_id)
    assert case is not None
    assert case.auth_number is not None and case.auth_number.startswith("SBXPA")
    assert (case.approved_from, case.approved_to) == ("2026-11-20", "2027-02-17")
    assert case.channel == "pas"
    trail = [(e.from_state, e.to_state, e.actor) for e in cases.events(case_id)]
    assert trail[-2:] == [
        ("ready-for-review", "submitted", "coordinator"),
        ("submitted", "approved", "payer"),
    ]
    messages = subs.messages(case_id)
    assert [(m.direction, m.kind) for m in messages] == [
        ("out", "Claim/$submit"),
        ("in", "ClaimResponse"),
    ]
    sent = json.loads(messages[0].body)
    claim = sent["entry"][0]["resource"]
    assert claim["use"] == "preauthorization"
    assert claim["item"][0]["productOrService"]["coding"][0]["code"] == "17311"
    # the signed packet travels as a PDF
    pdf = sent["entry"][1]["resource"]["content"][0]["attachment"]
    assert pdf["contentType"] == "application/pdf"
    text = "".join(
        page.extract_text() for page in PdfReader(io.BytesIO(base64.b64decode(pdf["data"]))).pages
    )
    assert "Medically necessary." in text  # the clinician's signed statement
    assert json.loads(messages[1].body)["entry"][0]["resource"]["preAuthRef"] == case.auth_number


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_pas_more_stages_asks_for_records_then_resubmission_is_approved(
    stores: Any, refs: PaReferences, payer: Sandbox
) -> None:
    cases, subs, _ = stores
    order = _order("mohs", quantityQuantity={"value": 6})
    case_id = _ready_case(stores, refs, "bcc-mohs", order, "aetna")
    submitter = _submitter(subs, _base(payer))

    first = submitter.submit(case_id, actor="coordinator", now=NOW, channel=Channel.PAS)

    assert first.state is CaseState.MORE_INFO
    assert first.response.ask == ("operative note", "pathology report")
    asks = [t.what for t in cases.tasks(case_id=case_id) if t.criterion_id is None]
    assert asks == ["payer asks for: operative note", "payer asks for: pathology report"]

    note = Attachment("Operative note", "text/plain", b"Mohs stages 1-6, margins clear.")
    second = submitter.submit(
        case_id, actor="coordinator", now=NOW, channel=Channel.PAS, attachments=[note]
    )

    assert second.state is CaseState.APPROVED
    assert [t.what for t in cases.tasks(case_id=case_id) if t.criterion_id is None] == []
    assert len(subs.messages(case_id)) == 4


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_pas_mohs_without_malignancy_is_denied_with_reason_and_a_task(
    stores: Any, refs: PaReferences, payer: Sandbox
) -> None:
    cases, subs, _ = stores
    case_id = _ready_case(stores, refs, "seborrheic-keratosis-cosmetic", _order("mohs"), "aetna")

    done = _submitter(subs, _base(payer)).submit(
        case_id, actor="coordinator", now=NOW, channel=Channel.PAS
    )

    assert done.state is CaseState.DENIED
    case = cases.case(case_id)
    assert case is not None and case.auth_number is None
    assert case.decision_reason is not None and "No skin malignancy" in case.decision_reason
    assert [t.owner_role for t in cases.tasks(case_id=case_id) if t.criterion_id is None] == [
        "coordinator"
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_unsigned_case_is_not_sent(stores: Any, refs: PaReferences, payer: Sandbox) -> None:
    _cases, subs, _ = stores
    case_id = _ready_case(stores, refs, "bcc-mohs", _order("mohs"), "aetna", sign=False)

    with pytest.raises(SubmissionError, match="no signed packet"):
        _submitter(subs, _base(payer)).submit(
            case_id, actor="coordinator", now=NOW, channel=Channel.PAS
        )

    assert subs.messages(case_id) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_payer_that_is_down_leaves_the_case_as_it_was_with_the_failure_recorded(
    stores: Any, refs: PaReferences
) -> None:
    cases, subs, _ = stores
    case_id = _ready_case(stores, refs, "bcc-mohs", _order("mohs"), "aetna")

    with pytest.raises(ChannelError, match=r"POST http://127\.0\.0\.1:9/.*could not connect"):
        _submitter(subs, "http://127.0.0.1:9/payer").submit(
            case_id, actor="coordinator", now=NOW, channel=Channel.PAS
        )

    case = cases.case(case_id)
    assert case is not None and case.state == "ready-for-review"
    assert cases.events(case_id)[-1].kind == "submit-failed"
    # what was about to be sent is kept
    assert [m.direction for m in subs.messages(case_id)] == ["out"]


def test_stored_assessment_json_reads_back_as_the_same_assessment(refs: PaReferences) -> None:
    evidence = _evidence("atopic-dermatitis-dupixent")
    assessment = assess(
        evidence,
        order_from_fhir(_order("dupixent")),
        refs.library,
        refs.lookups,
        DAY,
        payer_id="cigna",
    )
    again = from_json(Assessment, json.loads(json.dumps(assessment.to_json())))
    assert again == replace(assessment)


def test_x12_278_mohs_is_approved_with_the_certified_period(
    stores: Any, refs: PaReferences, payer: Sandbox
) -> None:
    cases, subs, _ = stores
    case_id = _ready_case(stores, refs, "bcc-mohs", _order("mohs"), "aetna")

    done = _submitter(subs, _base(payer)).submit(case_id, actor="coordinator", now=NOW)

    assert (done.channel, done.state) == (Channel.X12_278, CaseState.APPROVED)
    case = cases.case(case_id)
    assert case is not None
    assert case.auth_number is not None and case.auth_number.startswith("SBXPA")
    assert (case.approved_from, case.approved_to) == ("2026-11-20", "2027-02-17")
    sent, answer = subs.messages(case_id)
    assert sent.body.startswith("ISA*") and "ST*278*" in sent.body
    assert "NM1*IL*1*Pettibone*Eugenia****MI*7RX3HN2PK48" in sent.body
    assert "SV1*HC:17311**UN*3" in sent.body
    assert "HI*ABK:C44311" in sent.body
    assert f"HCR*A1*{case.auth_number}" in answer.body


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_x12_278_asks_for_records_with_pwk_then_approves_the_resubmission(
    stores: Any, refs: PaReferences, payer: Sandbox
) -> None:
    _cases, subs, _ = stores
    order = _order("mohs", quantityQuantity={"value": 6})
    case_id = _ready_case(stores, refs, "bcc-mohs", order, "aetna")
    submitter = _submitter(subs, _base(payer))

    first = submitter.submit(case_id, actor="coordinator", now=NOW)

    assert first.state is CaseState.MORE_INFO
    assert first.response.ask == ("operative note", "pathology report")
    note = Attachment("Operative note", "text/plain", b"stages 1-6")
    second = submitter.submit(case_id, actor="coordinator", now=NOW, attachments=[note])
    assert second.state is CaseState.APPROVED
    assert subs.messages(case_id)[2].body.count("PWK*77*EL") == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_x12_278_a_chart_without_a_member_id_is_not_sent(
    stores: Any, refs: PaReferences, payer: Sandbox
) -> None:
    cases, subs, _ = stores
    case_id = _ready_case(stores, refs, "bcc-mohs", _order("mohs"), "aetna")
    # the stored chart loses its coverage's member id
    case = cases.case(case_id)
    assert case is not None
    evidence = json.loads(case.evidence_json)
    for coverage in evidence["coverage"]:
        coverage["member_id"] = None
    _, _, sessions = stores
    with sessions.begin() as session:
        from integration.store.models import PaCase

        row = session.get(PaCase, case_id)
        row.evidence_json = json.dumps(evidence)

    with pytest.raises(SubmissionError, match="member id: no current coverage with a member id"):
        _submitter(subs, _base(payer)).submit(case_id, actor="coordinator", now=NOW)
    assert subs.messages(case_id) == []


DERM = Prescriber(
    "Practitioner/atopic-dermatitis-dupixent-practitioner-derm",
    ("dermatology",),
    npi="1234567893",
    name="Oren Blackwood-Sato",
)
DUPIXENT_2_PENS = {"dispenseRequest": {"quantity": {"value": 2}}}


def test_ncpdp_epa_dupixent_question_set_is_answered_from_the_chart_and_decided(
    stores: Any, refs: PaReferences, payer: Sandbox
) -> None:
    cases, subs, _ = stores
    order = _order("dupixent", **DUPIXENT_2_PENS)
    case_id = _ready_case(
        stores, refs, "atopic-dermatitis-dupixent", order, "cigna", prescriber=DERM
    )

    done = _submitter(subs, _base(payer)).submit(case_id, actor="coordinator", now=NOW)

    assert done.channel is Channel.NCPDP_EPA
    kinds = [(m.direction, m.kind) for m in subs.messages(case_id)]
    assert kinds == [
        ("out", "PAInitiationRequest"),
        ("in", "PAInitiationResponse"),
        ("out", "PARequest answers+sources"),
        ("out", "PARequest"),
        ("in", "PAResponse"),
    ]
    messages = subs.messages(case_id)
    assert "<PAInitiationRequest>" in messages[0].body
    assert "1234567893" in messages[0].body
    answers = json.loads(messages[2].body)
    evidence = json.loads(cases.case(case_id).evidence_json)  # type: ignore[union-attr]
    cited = (
        {m["source"] for ms in evidence["measures"].values() for m in ms}
        | {d["source"] for d in evidence["diagnoses"]}
        | {t["source"] for t in evidence["therapies"]}
    )
    answered = [a for a in answers if a["answered"]]
    assert answered, "the chart answers some of the payer's questions"
    for a in answered:
        assert a["sources"], a
        assert set(a["sources"]) <= cited | {DERM.source} | {
            c["source"] for c in evidence["coverage"]
        }
    assert done.state in (CaseState.APPROVED, CaseState.MORE_INFO, CaseState.DENIED)
    if done.state is CaseState.APPROVED:
        case = cases.case(case_id)
        assert case is not None and case.auth_number and case.approved_to


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_ncpdp_epa_without_the_prescriber_npi_is_not_sent(
    stores: Any, refs: PaReferences, payer: Sandbox
) -> None:
    _cases, subs, _ = stores
    order = _order("dupixent", **DUPIXENT_2_PENS)
    nameless = replace(DERM, npi=None)
    case_id = _ready_case(
        stores, refs, "atopic-dermatitis-dupixent", order, "cigna", prescriber=nameless
    )

    with pytest.raises(SubmissionError, match="prescriber NPI"):
        _submitter(subs, _base(payer)).submit(case_id, actor="coordinator", now=NOW)
    assert subs.messages(case_id) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_ncpdp_epa_a_drug_the_payer_does_not_manage_closes_as_not_required(
    stores: Any, refs: PaReferences, payer: Sandbox
) -> None:
    cases, subs, _ = stores
    order = _order("dupixent", **DUPIXENT_2_PENS)
    order["medicationCodeableConcept"] = {"text": "Eucrisa (crisaborole) 2% ointment"}
    case_id = _ready_case(
        stores, refs, "atopic-dermatitis-dupixent", order, "cigna", prescriber=DERM
    )

    done = _submitter(subs, _base(payer)).submit(
        case_id, actor="coordinator", now=NOW, channel=Channel.NCPDP_EPA
    )

    assert (done.state, done.response.outcome) == (CaseState.CLOSED, Outcome.NOT_REQUIRED)
    assert [m.kind for m in subs.messages(case_id)] == [
        "PAInitiationRequest",
        "PAInitiationResponse",
    ]
    case = cases.case(case_id)
    assert case is not None and case.decision_reason is not None
    assert "not required" in case.decision_reason
