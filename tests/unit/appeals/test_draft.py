"""Drafting: every number and date in a drafted letter is cited to the fact it came from, and
what the chart lacks is listed as missing, never written."""

from __future__ import annotations

import pytest

from integration.appeals.draft import DraftError, draft_letter
from integration.appeals.factcheck import tokens
from integration.appeals.letter import Letter
from integration.priorauth.references import PaReferences
from tests.unit.appeals.support import TODAY, assessment_for, load_evidence, make_denial


def psoriasis_letter(refs: PaReferences, **overrides: object) -> Letter:
    evidence = load_evidence("psoriasis-skyrizi")
    return draft_letter(
        make_denial(**overrides),
        evidence,
        rule_assessment=assessment_for(refs, evidence, "skyrizi.json"),
        today=TODAY,
    )


def ad_letter(refs: PaReferences) -> Letter:
    evidence = load_evidence("atopic-dermatitis-dupixent")
    denial = make_denial(
        payer_id="cigna",
        payer_name="Cigna",
        procedure="J3490",
        patient_ref="Patient/atopic-dermatitis-dupixent-patient",
    )
    return draft_letter(
        denial,
        evidence,
        rule_assessment=assessment_for(refs, evidence, "dupixent.json"),
        today=TODAY,
    )


def assert_every_value_cited(letter: Letter) -> None:
    """Each number, date, amount and code of a sentence is a value of a fact that sentence cites."""
    for s in letter.sentences:
        cited = [f for f in letter.evidence if f.source in s.sources]
        allowed = {(t.kind, t.value) for f in cited for t in tokens(f.value)}
        allowed |= {("date", f.date) for f in cited if f.date}
        for t in tokens(s.text):
            assert (t.kind, t.value) in allowed, f"{s.id}: {t.span!r} not in its sources: {s.text}"


def test_psoriasis_letter_cites_every_number_and_date(refs: PaReferences) -> None:
    letter = psoriasis_letter(refs)
    assert letter.template_id == "medical-necessity-biologic"
    assert_every_value_cited(letter)
    pasi = letter.sentence("pasi")
    assert pasi is not None
    assert "15.6 on 2026-09-10" in pasi.text
    assert "Observation/psoriasis-skyrizi-obs-pasi-7/_history/1" in {s.ref for s in pasi.sources}
    bsa = letter.sentence("bsa")
    assert bsa is not None and "BSA 14% on 2026-09-10" in bsa.text
    assert [s.ref for s in bsa.sources] == ["Observation/psoriasis-skyrizi-obs-bsa-7/_history/1"]
    mtx = next(s for s in letter.sentences if "methotrexate" in s.text.lower())
    assert "24 weeks" in mtx.text and "inadequate response" in mtx.text
    assert [s.ref for s in mtx.sources] == [
        "MedicationStatement/psoriasis-skyrizi-medstmt-methotrexate/_history/1"
    ]
    uvb = next(s for s in letter.sentences if "NB-UVB" in s.text)
    assert "30 sessions" in uvb.text
    # the denial's codes and amount come from the 835
    re_claim = letter.sentence("re-claim")
    assert re_claim is not None and "CO-50" in re_claim.text and "$1,250.00" in re_claim.text
    assert re_claim.sources[0].kind == "x12" and "CAS CO-50" in re_claim.sources[0].ref
    # the payer rule's criteria cite the policy
    criteria = [s for s in letter.sentences if s.id.startswith("criterion-")]
    assert criteria and all(s.sources[0].kind == "rule" for s in criteria)
    assert all(
        s.sources[0].citation and "pharmacistwrite" in s.sources[0].citation for s in criteria
    )
    # what the chart can't show is missing, not written
    assert any("prescriber" in m for m in letter.missing)
    kinds = {a.kind for a in letter.attachments}
    assert kinds == {"therapy-table", "photo"}


def test_atopic_dermatitis_letter_cites_every_number_and_date(refs: PaReferences) -> None:
    letter = ad_letter(refs)
    assert_every_value_cited(letter)
    easi = letter.sentence("easi")
    assert easi is not None and "26.8 on 2026-10-27" in easi.text
    assert letter.sentence("pasi") is None  # no PASI in this chart: no PASI sentence
    text = letter.text()
    assert "tacrolimus" in text.lower() and "intolerance" in text
    assert "L20.89" in text


def test_a_chart_without_scores_or_therapies_lists_what_is_missing(refs: PaReferences) -> None:
    evidence = load_evidence("psoriasis-gaps")
    letter = draft_letter(
        make_denial(patient_ref="Patient/psoriasis-gaps-patient"), evidence, today=TODAY
    )
    assert letter.sentence("pasi") is None or "2025-06" in letter.sentence("pasi").text  # type: ignore[union-attr]
    assert any("payer rule" in m for m in letter.missing)
    assert any("diagnosis" in m for m in letter.missing)  # SNOMED only: no ICD-10-CM code
    assert_every_value_cited(letter)


def test_without_the_chart_only_the_denial_is_stated() -> None:
    letter = draft_letter(
        make_denial(category="missing-information", rarcs=("N290",)), None, today=TODAY
    )
    assert letter.template_id == "missing-information"
    assert "the chart was not read: no clinical facts" in letter.missing
    assert letter.sentence("re-patient") is None
    assert_every_value_cited(letter)


def test_level_two_and_payer_specific_templates(refs: PaReferences) -> None:
    assert psoriasis_letter(refs).level == 1
    evidence = load_evidence("psoriasis-skyrizi")
    level2 = draft_letter(
        make_denial(),
        evidence,
        rule_assessment=assessment_for(refs, evidence, "skyrizi.json"),
        level=2,
        today=TODAY,
    )
    assert level2.template_id == "medical-necessity-biologic-level2" and level2.level == 2
    assert "second-level appeal" in level2.text()
    mohs = draft_letter(
        make_denial(
            payer_id="medicare-part-b",
            payer_name="Medicare Part B",
            procedure="17311",
            rarcs=(),
            patient_ref="Patient/bcc-mohs-patient",
        ),
        load_evidence("bcc-mohs"),
        today=TODAY,
    )
    assert mohs.template_id == "medicare-redetermination"
    assert "CMS-20027" in mohs.text() and "C44.311" in mohs.text()
    form = mohs.sentence("form")
    assert form is not None and all(s.kind == "rule" and s.citation for s in form.sources)
    service = mohs.sentence("service")
    assert service is not None and "17311" in service.text
    assert_every_value_cited(mohs)


def test_no_template_for_the_category_is_an_error() -> None:
    with pytest.raises(
        DraftError, match="category: expected one with a letter template, got 'duplicate'"
    ):
        draft_letter(make_denial(category="duplicate"), None, today=TODAY)


def test_letter_json_round_trips(refs: PaReferences) -> None:
    letter = psoriasis_letter(refs)
    assert Letter.from_json(letter.to_json()) == letter


SLUGS = [
    "psoriasis-skyrizi",
    "atopic-dermatitis-dupixent",
    "psoriasis-gaps",
    "bcc-mohs",
    "melanoma-in-situ-mohs",
    "actinic-keratoses",
    "seborrheic-keratosis-cosmetic",
]
TEMPLATES = [
    "medical-necessity-biologic",
    "medical-necessity-biologic-level2",
    "medical-necessity-procedure",
    "authorization",
    "bundling",
    "missing-information",
    "medicare-redetermination",
]


@pytest.mark.parametrize("template_id", TEMPLATES)
@pytest.mark.parametrize("slug", SLUGS)
def test_every_template_on_every_chart_cites_what_it_states_and_passes_the_check(
    slug: str, template_id: str
) -> None:
    from integration.appeals.factcheck import check_letter

    letter = draft_letter(
        make_denial(modifiers=("25",), rarcs=("N290",)),
        load_evidence(slug),
        today=TODAY,
        template_id=template_id,
    )
    assert letter.sentences
    assert_every_value_cited(letter)
    result = check_letter(letter)
    assert result.ok, result.message()
