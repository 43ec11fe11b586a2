"""Notes to codes: procedure notes (plain text, MDM^T02, DocumentReference) to CPT lines, ICD-10-CM
codes and documentation gaps, each resting on the exact words of the note.

fixtures/coding/notes/*: synthetic notes written for these tests (no patient data), each with the
codes a dermatology coder would assign beside it (<name>.expected.json). UPDATE_GOLDENS=1 rewrites
the expected files from the current output: review the diff before committing.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from integration.coding.icd10cm import code_set
from integration.coding.notes import Span, _measures, _Sentence, note_terms, read_note
from integration.coding.suggest import NoteError, note_text, suggest, suggest_file
from integration.coding.suggest_cli import suggest_command
from integration.paths import mappings_dir

ROOT = Path(__file__).resolve().parents[2]
NOTES = ROOT / "fixtures" / "coding" / "notes"
NOTE_FILES = sorted(
    p
    for p in NOTES.iterdir()
    if p.suffix in (".txt", ".hl7", ".json") and not p.name.endswith(".expected.json")
)


def _expected_path(note: Path) -> Path:
    return note.with_name(note.stem + ".expected.json")


def _codes(out: dict[str, object]) -> list[str]:
    procs = out["procedures"]
    assert isinstance(procs, list)
    return [f"{p['cpt']}{''.join('-' + m for m in p['modifiers'])} x{p['units']}" for p in procs]


def _icd(out: dict[str, object]) -> list[str]:
    dx = out["diagnoses"]
    assert isinstance(dx, list)
    return [d["icd10"] for d in dx]


def test_there_are_enough_fixture_notes() -> None:
    assert len(NOTE_FILES) >= 12
    assert any(p.suffix == ".hl7" for p in NOTE_FILES)
    assert any(p.suffix == ".json" for p in NOTE_FILES)
    for note in NOTE_FILES:
        assert _expected_path(note).exists() or os.environ.get("UPDATE_GOLDENS"), note.name


@pytest.mark.parametrize("note", NOTE_FILES, ids=lambda p: p.name)
def test_fixture_note_codes_as_expected(note: Path) -> None:
    out = suggest_file(note)
    expected_path = _expected_path(note)
    if os.environ.get("UPDATE_GOLDENS"):
        expected_path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    # codes first, so a failure names the coding difference before the evidence wording
    assert _codes(out) == _codes(expected)
    assert _icd(out) == _icd(expected)
    assert [g["needs"] for g in out["gaps"]] == [g["needs"] for g in expected["gaps"]]
    assert out == expected


@pytest.mark.parametrize("note", NOTE_FILES, ids=lambda p: p.name)
def test_every_evidence_is_the_exact_words_of_the_note(note: Path) -> None:
    text = note_text(note.read_text(encoding="utf-8"))
    out = suggest(text)
    quoted = [
        q
        for section in ("procedures", "diagnoses", "gaps")
        for item in out[section]
        for q in item["evidence"]
    ]
    for item in out["procedures"] + out["diagnoses"]:
        assert item["evidence"], f"{item} has no evidence"
    for q in quoted:
        assert q and q in text, f"{q!r} is not in the note"


def test_biopsies_of_mixed_techniques_code_one_primary_of_the_highest_technique() -> None:
    out = suggest_file(NOTES / "shave-biopsies-mixed-techniques.txt")
    # punch outranks tangential: 11104 is the primary, both shave biopsies are 11103 add-ons
    assert _codes(out) == ["11104 x1", "11103 x2"]
    assert out["gaps"] == []


def test_eighteen_actinic_keratoses_are_17004_alone_and_the_negated_sk_is_not_coded() -> None:
    out = suggest_file(NOTES / "destruction-18-actinic-keratoses.txt")
    assert _codes(out) == ["17004 x1"]
    assert _icd(out) == ["L57.0"]  # "No seborrheic keratosis was treated" gives no L82.x


def test_excision_without_margins_is_a_gap_not_a_guessed_code() -> None:
    out = suggest_file(NOTES / "excision-missing-margins.txt")
    assert not any(p["cpt"].startswith("11") for p in out["procedures"])
    gap = next(g for g in out["gaps"] if g["needs"] == "margin_cm")
    assert "excised diameter" in gap["message"]
    assert any("1.2 cm squamous cell carcinoma" in q for q in gap["evidence"])
    assert _icd(out) == ["C44.629"]  # left forearm: left upper limb


def test_mohs_two_stages_seven_blocks_and_complex_repair() -> None:
    out = suggest_file(NOTES / "mohs-two-stages-complex-repair.txt")
    assert _codes(out) == ["17311 x1", "17312 x1", "17315 x2", "13152 x1"]
    stage1 = next(p for p in out["procedures"] if p["cpt"] == "17315")
    assert any("7 tissue blocks" in q for q in stage1["evidence"])
    # "the tumor was excised" in a Mohs stage is not a separate excision
    assert not any(g["needs"] == "lesion_count" for g in out["gaps"])


def test_a_separately_identifiable_visit_with_its_stated_level_gets_modifier_25() -> None:
    out = suggest_file(NOTES / "em-separate-visit-with-shave-biopsy.txt")
    assert [(p["cpt"], p["modifiers"]) for p in out["procedures"]] == [
        ("99214", ["25"]),
        ("11102", []),
    ]
    em = out["procedures"][0]
    assert (
        "This management of psoriasis was separately identifiable from the procedure."
        in (em["evidence"])
    )
    assert "Level of service: 99214." in em["evidence"]


def test_a_stated_em_without_a_separate_service_is_a_gap_not_a_code() -> None:
    out = suggest_file(NOTES / "em-code-without-separate-service.txt")
    # "No separately identifiable ..." is negated: no E/M line, a gap naming the stated code
    assert _codes(out) == ["11104 x1"]
    gap = next(g for g in out["gaps"] if g["needs"] == "separate_evaluation")
    assert "99212" in gap["message"] and gap["evidence"] == ["E/M: 99212."]


def test_a_separate_visit_without_a_level_asks_the_provider_for_it() -> None:
    out = suggest_file(NOTES / "em-separate-without-level.txt")
    assert not any(p["cpt"].startswith("992") for p in out["procedures"])
    gap = next(g for g in out["gaps"] if g["needs"] == "em_level")
    assert any(q.startswith("In addition to the procedure") for q in gap["evidence"])


def test_negated_and_planned_mentions_produce_no_code() -> None:
    sk = suggest_file(NOTES / "negated-findings-inflamed-sk.txt")
    assert _icd(sk) == ["L82.0"]  # "No evidence of melanoma", "No melanocytic nevus": no C43, D22
    assert _codes(sk) == ["11301 x1"]
    planned = suggest_file(NOTES / "planned-excision-and-ak-cryotherapy.txt")
    assert _codes(planned) == ["17000 x1", "17003 x1"]  # "Plan: excision ..." is not coded


def test_negation_and_history_through_context() -> None:
    reading = read_note(
        "Procedure: shave biopsy of the left cheek lesion. No bleeding. Patient denies itching. "
        "There is no residual basal cell carcinoma. History of squamous cell carcinoma."
    )
    assert [m.kind for m in reading.mentions] == ["biopsy"]
    facts = reading.mentions[0].facts
    assert facts.indications == ()  # bleeding and itching are both negated
    assert (facts.site, facts.laterality, facts.technique) == ("cheek", "left", "tangential")
    assert reading.diagnoses == ()


def test_laterality_refines_the_icd10_code() -> None:
    out = suggest_file(NOTES / "nevi-laterality.txt")
    assert _icd(out) == ["D22.61", "D22.62"]
    ear = suggest_file(NOTES / "biopsy-missing-technique-ear.txt")
    assert _icd(ear) == ["C44.211"]
    assert {g["needs"] for g in ear["gaps"]} == {"technique", "laterality"}
    assert ear["procedures"] == []


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("The lesion measured 1.2 x 0.8 cm.", [("lesion_diameter_cm", Decimal("1.2"))]),
        ("Excised with 4 mm margins.", [("margin_cm", Decimal("0.4"))]),
        ("Margins of 3 mm were marked.", [("margin_cm", Decimal("0.3"))]),
        ("Excised diameter 2.0 cm.", [("excised_diameter_cm", Decimal("2.0"))]),
        ("Total excised diameter 1.6 cm.", [("excised_diameter_cm", Decimal("1.6"))]),
        (
            "Repaired in layered fashion, 3.5 cm intermediate repair.",
            [("repair_length_cm", Decimal("3.5"))],
        ),
        ("An 8 mm papule.", [("lesion_diameter_cm", Decimal("0.8"))]),
        ("Defect 1.5 x 1.2 cm.", [("defect_area_sq_cm", Decimal("1.80"))]),
        ("Flap area 4.2 sq cm.", [("defect_area_sq_cm", Decimal("4.2"))]),
    ],
)
def test_sizes_are_told_apart_by_their_cue_words(
    sentence: str, expected: list[tuple[str, Decimal]]
) -> None:
    got = _measures(note_terms(), _Sentence(Span(0, len(sentence)), sentence))
    assert got == expected


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("Cryotherapy of 18 actinic keratoses of the scalp.", 18),
        ("Destruction of warts on the hand x3.", 3),
        ("Liquid nitrogen to three seborrheic keratoses of the back.", 3),
    ],
)
def test_lesion_counts(text: str, count: int) -> None:
    (mention,) = read_note(text).mentions
    assert mention.facts.lesion_count == count


def test_destruction_of_an_unnamed_lesion_is_a_gap() -> None:
    out = suggest("Cryotherapy of 2 lesions on the left hand with liquid nitrogen.")
    assert out["procedures"] == []
    assert [g["needs"] for g in out["gaps"]] == ["lesion_type"]


def test_every_icd10_code_in_the_vocabulary_is_billable() -> None:
    data = yaml.safe_load((mappings_dir() / "coding" / "note-terms.yaml").read_text())
    codes = {d["icd10"] for d in data["diagnoses"]} | {
        r["icd10"] for d in data["diagnoses"] for r in d.get("refine", [])
    }
    assert {"C44.311", "L82.1", "L82.0", "L57.0", "B07.8", "D22.5"} <= codes
    codeset = code_set()
    for code in sorted(codes):
        assert codeset.info(code).status == "billable", f"{code} is not a billable FY2026 code"


def test_mdm_note_text_comes_from_obx5_with_formatting_unescaped() -> None:
    text = note_text((NOTES / "mdm-t02-biopsy-and-ak-destruction.hl7").read_text())
    assert "Procedure 1: tangential biopsy" in text
    assert "\nProcedure 2: cryotherapy" in text  # FT \.br\ is a line break
    assert "pain & itching" in text  # \T\ is &
    assert "MSH" not in text and "TXA" not in text


def test_a_non_mdm_message_or_non_text_document_is_refused() -> None:
    adt = (ROOT / "fixtures" / "hl7" / "adt-a01-visit-start.hl7").read_text()
    with pytest.raises(NoteError, match="MSH-9: expected an MDM message"):
        note_text(adt)
    pdf = {
        "resourceType": "DocumentReference",
        "content": [{"attachment": {"contentType": "application/pdf", "data": "JVBERi0="}}],
    }
    with pytest.raises(NoteError, match="text/plain"):
        note_text(json.dumps(pdf))
    with pytest.raises(NoteError, match="expected DocumentReference, got 'Patient'"):
        note_text('{"resourceType": "Patient"}')


def test_cli_prints_the_suggestion_for_a_document_reference() -> None:
    note = NOTES / "documentreference-cyst-excision.json"
    result = CliRunner().invoke(suggest_command, ["--note", str(note)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out) == {"procedures", "diagnoses", "gaps"}
    assert _codes(out) == ["11402 x1", "12031 x1"]
    assert _icd(out) == ["L72.0"]
    assert set(out["procedures"][0]) == {"cpt", "units", "modifiers", "evidence"}


def test_cli_reports_a_bad_note_file(tmp_path: Path) -> None:
    bad = tmp_path / "note.hl7"
    bad.write_text((ROOT / "fixtures" / "hl7" / "adt-a01-visit-start.hl7").read_text())
    result = CliRunner().invoke(suggest_command, ["--note", str(bad)])
    assert result.exit_code == 1
    assert "expected an MDM message" in result.output


def test_a_sample_mdm_note_written_for_the_hl7_feed_codes_correctly() -> None:
    """Held out: fixtures/hl7/mdm-t02-progress-note.hl7 was written for the HL7 v2 feed, not for
    this extractor ("Tangential biopsy x3 (left forearm; right upper back x2). Cryodestruction
    of 4 AKs")."""
    raw = (ROOT / "fixtures" / "hl7" / "mdm-t02-progress-note.hl7").read_text()
    out = suggest(note_text(raw))
    assert _codes(out) == ["11102 x1", "11103 x2", "17000 x1", "17003 x3"]
    assert sorted(_icd(out)) == ["D48.5", "L57.0", "L82.0"]  # irritated SKs are L82.0


def test_cosmetic_request_is_a_fact_not_an_indication() -> None:
    (mention,) = read_note(
        "Shave removal of a 0.5 cm seborrheic keratosis of the left cheek, removed for cosmetic "
        "reasons at the patient's request. Not itching."
    ).mentions
    assert mention.kind == "shave-removal"
    assert mention.facts.cosmetic_request is True
    assert mention.facts.indications == ()


def test_an_empty_or_unrelated_note_codes_nothing() -> None:
    assert suggest("") == {"procedures": [], "diagnoses": [], "gaps": []}
    assert suggest("Follow-up visit. Doing well. Return in one year.") == {
        "procedures": [],
        "diagnoses": [],
        "gaps": [],
    }
