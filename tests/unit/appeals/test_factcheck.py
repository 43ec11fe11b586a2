"""The pre-sign check: a letter edited to state what the chart doesn't hold is refused, naming
the sentence and the words; a clinician can confirm a statement as their own."""

from __future__ import annotations

import pytest

from integration.appeals.draft import draft_letter
from integration.appeals.factcheck import check_letter, tokens
from integration.appeals.letter import Letter, Sentence
from integration.priorauth.references import PaReferences
from tests.unit.appeals.support import TODAY, assessment_for, load_evidence, make_denial


@pytest.fixture(scope="module")
def letter(refs: PaReferences) -> Letter:
    evidence = load_evidence("psoriasis-skyrizi")
    return draft_letter(
        make_denial(),
        evidence,
        rule_assessment=assessment_for(refs, evidence, "skyrizi.json"),
        today=TODAY,
    )


def edit(letter: Letter, sentence_id: str, old: str, new: str) -> Letter:
    s = letter.sentence(sentence_id)
    assert s is not None and old in s.text
    return letter.with_text(sentence_id, s.text.replace(old, new))


def test_the_drafted_letter_passes(letter: Letter) -> None:
    result = check_letter(letter)
    assert result.ok, result.message()


def test_a_letter_edited_to_pasi_22_is_refused_naming_the_sentence_and_22(letter: Letter) -> None:
    edited = edit(letter, "pasi", "15.6", "22")
    result = check_letter(edited)
    assert not result.ok
    (problem,) = result.problems
    assert (problem.sentence_id, problem.span, problem.kind) == ("pasi", "22", "contradicted")
    assert "15.6" in problem.message  # what the sources say
    assert 'sentence pasi: "22"' in result.message()
    assert edited.sentence("pasi").origin == "clinician"  # type: ignore[union-attr]


def test_pasi_22_in_a_new_sentence_of_the_clinician_is_refused_too(letter: Letter) -> None:
    added = Letter.from_json(
        {
            **letter.to_json(),
            "sentences": [
                *letter.to_json()["sentences"],
                Sentence("c1", 9, "Her PASI score today is 22.", (), "clinician").to_json(),
            ],
        }
    )
    result = check_letter(added)
    assert [(p.sentence_id, p.span, p.kind) for p in result.problems] == [
        ("c1", "22", "contradicted")
    ]
    assert "the chart says PASI" in result.problems[0].message


def test_the_clinician_can_confirm_a_statement_as_their_own(letter: Letter) -> None:
    edited = edit(letter, "pasi", "15.6", "22")
    result = check_letter(edited, confirmed=[("pasi", "22")])
    assert result.ok
    assert [(p.sentence_id, p.span) for p in result.confirmed] == [("pasi", "22")]
    # confirming another sentence or span does not count
    assert not check_letter(edited, confirmed=[("bsa", "22"), ("pasi", "15.6")]).ok
    assert check_letter(edited, confirmed=[("pasi", "*")]).ok


@pytest.mark.parametrize(
    ("sentence_id", "old", "new", "span", "kind"),
    [
        ("bsa", "2026-09-10", "2026-10-10", "2026-10-10", "unsupported-date"),
        ("diagnosis", "L40.0", "L40.1", "L40.1", "unsupported-code"),
        (
            "diagnosis",
            "plaque psoriasis",
            "atopic dermatitis",
            "atopic dermatitis",
            "unsupported-diagnosis",
        ),
        ("re-claim", "$1,250.00", "$12,500.00", "$12,500.00", "unsupported-amount"),
        ("opening", "Skyrizi", "Dupixent", "Dupixent", "unsupported-drug"),
        ("bsa", "14%", "40%", "40", "contradicted"),
    ],
)
def test_unsupported_facts_are_refused(
    letter: Letter, sentence_id: str, old: str, new: str, span: str, kind: str
) -> None:
    result = check_letter(edit(letter, sentence_id, old, new))
    assert (sentence_id, span, kind) in [(p.sentence_id, p.span, p.kind) for p in result.problems]


def test_rewording_with_the_same_facts_passes(letter: Letter) -> None:
    edited = letter.with_text(
        "pasi", "On 2026-09-10 her PASI was 15.6 (18.2 on 2025-05-20), despite treatment."
    )
    assert check_letter(edited).ok
    own = Letter.from_json(
        {
            **letter.to_json(),
            "sentences": [
                *letter.to_json()["sentences"],
                Sentence(
                    "c2",
                    9,
                    "I have treated her psoriasis with methotrexate since 2025-05-20.",
                    (),
                    "clinician",
                ).to_json(),
            ],
        }
    )
    assert check_letter(own).ok


def test_tokens_keep_dates_amounts_and_codes_whole() -> None:
    found = [
        (t.kind, t.value) for t in tokens("On 09/10/2026 CO-50 for $1,250.00, PASI 15.60, J2327.")
    ]
    assert found == [
        ("date", "2026-09-10"),
        ("code", "CO-50"),
        ("amount", "1250"),
        ("number", "15.6"),
        ("code", "J2327"),
    ]
    assert [t.value for t in tokens("September 10, 2026")] == ["2026-09-10"]


def test_a_measure_named_in_words_is_checked_too(letter: Letter) -> None:
    added = Letter.from_json(
        {
            **letter.to_json(),
            "sentences": [
                *letter.to_json()["sentences"],
                Sentence(
                    "c3", 9, "Her body surface area involved is now 40%.", (), "clinician"
                ).to_json(),
            ],
        }
    )
    result = check_letter(added)
    assert [(p.sentence_id, p.span, p.kind) for p in result.problems] == [
        ("c3", "40", "contradicted")
    ]
    assert "the chart says BSA" in result.problems[0].message
