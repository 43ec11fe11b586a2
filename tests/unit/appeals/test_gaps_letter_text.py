"""A payer criterion in an appeal letter reads as the payer's criterion: the rule's
`letter_text`, else its `text` without derm-rcm's notes. Our own notes (what the chart can't
show, how we read the policy) stay on the checklist and never reach the payer."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from integration.appeals.draft import draft_letter
from integration.appeals.factcheck import check_letter
from integration.appeals.facts import letter_criterion_text, payer_letter_texts, strip_notes
from integration.domain.priorauth import RuleRef, Status
from integration.priorauth.references import PaReferences
from tests.unit.appeals.support import TODAY, assessment_for, load_evidence, make_denial

#: words of derm-rcm's own notes: none belongs in a sentence to the payer
NOTE_WORDS = re.compile(
    r"derm-rcm|\bchart\b|reviewer|\battest|\bverify\b|can't be read|\bour reading\b", re.I
)

CIGNA_TCS_NOTE = "(daily use can't be read from the chart: the reviewer checks the directions)"


def test_the_cigna_dupixent_letter_states_the_criterion_without_our_note(
    refs: PaReferences,
) -> None:
    evidence = load_evidence("atopic-dermatitis-dupixent")
    assessment = assessment_for(refs, evidence, "dupixent.json")
    tcs = next(c for c in assessment.criteria if c.id == "topical-corticosteroid-trial")
    assert CIGNA_TCS_NOTE in tcs.text  # the checklist keeps the note for the coordinator
    assert tcs.status is Status.MET
    denial = make_denial(
        payer_id="cigna",
        payer_name="Cigna",
        procedure="J3490",
        patient_ref="Patient/atopic-dermatitis-dupixent-patient",
    )
    letter = draft_letter(denial, evidence, rule_assessment=assessment, today=TODAY)

    criteria = [s for s in letter.sentences if s.id.startswith("criterion")]
    assert len(criteria) == 4
    assert (
        "Criterion met: At least one medium- to super-high-potency topical corticosteroid "
        "applied daily for at least 28 consecutive days, with inadequate effect."
    ) in [s.text for s in criteria]
    for s in letter.sentences:
        assert not NOTE_WORDS.search(s.text.replace("the chart documents", "")), s.text
    assert all(CIGNA_TCS_NOTE not in f.value for f in letter.evidence)
    # the sentence still cites the payer rule, and the letter passes the pre-sign check
    tcs_sentence = next(s for s in criteria if "corticosteroid" in s.text)
    assert [src.kind for src in tcs_sentence.sources] == ["rule"]
    assert check_letter(letter).ok


def test_without_letter_text_a_bracketed_note_is_left_out(refs: PaReferences) -> None:
    evidence = load_evidence("psoriasis-skyrizi")
    assessment = assessment_for(refs, evidence, "skyrizi.json")
    noted = "Body surface area involved at least 3% [derm-rcm: the 365-day window is ours]"
    criteria = tuple(replace(c, text=noted) if c.id == "extent" else c for c in assessment.criteria)
    assert any(c.text == noted and c.status is Status.MET for c in criteria)
    letter = draft_letter(
        make_denial(),
        evidence,
        rule_assessment=replace(assessment, criteria=criteria),
        today=TODAY,
    )
    texts = [s.text for s in letter.sentences]
    assert "Criterion met: Body surface area involved at least 3%." in texts
    assert not any("365-day" in t or "derm-rcm" in t for t in texts)
    assert check_letter(letter).ok


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("Tuberculosis test [365 days is derm-rcm's choice]", "Tuberculosis test"),
        (
            "Age 18 or older [our reading of 'adult'], and a dermatologist",
            "Age 18 or older, and a dermatologist",
        ),
        ("Adult (derm-rcm reads this as 18 or older)", "Adult"),
        # the payer's own parentheses stay
        (
            "At least 3 months of a traditional systemic agent (methotrexate, cyclosporine or "
            "acitretin) unless intolerant",
            "At least 3 months of a traditional systemic agent (methotrexate, cyclosporine or "
            "acitretin) unless intolerant",
        ),
        (
            "Moderate-to-severe atopic dermatitis (patients 12 years or older)",
            "Moderate-to-severe atopic dermatitis (patients 12 years or older)",
        ),
    ],
)
def test_strip_notes_cuts_ours_and_keeps_the_payers(text: str, said: str) -> None:
    assert strip_notes(text) == said


def test_letter_text_is_found_by_rule_version_criterion_and_text() -> None:
    rule = RuleRef("cigna-dupixent-atopic-dermatitis", 1, "t", {}, "2024-01-01")
    text = (
        "At least one medium- to super-high-potency topical corticosteroid applied daily for at "
        f"least 28 consecutive days, with inadequate effect {CIGNA_TCS_NOTE}"
    )
    assert letter_criterion_text(rule, "topical-corticosteroid-trial", text).endswith(
        "with inadequate effect"
    )
    # another version or an edited text is not answered by this letter_text: its notes are cut
    other = replace(rule, version=99)
    assert letter_criterion_text(other, "topical-corticosteroid-trial", "A [note] b") == "A b"
    assert letter_criterion_text(None, "x", "Plain words") == "Plain words"
    assert letter_criterion_text(rule, "x", "Own [n] words", {("r", 1, "x", "y"): "z"}) == (
        "Own words"
    )


def test_every_payer_criterion_reads_as_the_payers_words(refs: PaReferences) -> None:
    """A lint of mappings/payers: whatever the chart says, no criterion of any rule would put
    derm-rcm's notes into a letter (a new rule with a note in `text` needs a `letter_text`)."""
    assert payer_letter_texts()  # the rules that need one have one
    checked = 0
    for rule in refs.library.all_rules():
        for c in [*(rule.criteria or ()), *(rule.reauth_criteria or ())]:
            said = letter_criterion_text(rule.ref(), c.id, c.text)
            assert not NOTE_WORDS.search(said), f"{rule.path} criterion {c.id}: {said!r}"
            assert said and said[-1] not in ",;:", f"{rule.path} criterion {c.id}: {said!r}"
            checked += 1
    assert checked >= 50
