"""The sandbox payer's question sets: found by drug, and decide() approves, denies or pends."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from integration.mapping.loader import MappingError
from integration.paths import mappings_dir
from integration.priorauth.ncpdp import QuestionAnswer
from integration.sandbox.question_sets import Outcome, QuestionSetDef, QuestionSetLibrary, decide

LIBRARY = QuestionSetLibrary.load()


def dupilumab() -> QuestionSetDef:
    found = LIBRARY.for_drug(["1876376"])
    assert found is not None
    return found


def psoriasis() -> QuestionSetDef:
    found = LIBRARY.for_drug([], ["Skyrizi (risankizumab-rzaa) 150 mg/mL pen"])
    assert found is not None
    return found


def test_question_sets_are_found_by_code_or_name_and_not_guessed() -> None:
    assert dupilumab().id == "sandbox-dupilumab-atopic-dermatitis"
    assert psoriasis().id == "sandbox-plaque-psoriasis-biologics"
    for name in ("Tremfya 100 mg", "Cosentyx", "HUMIRA pen", "guselkumab"):
        found = LIBRARY.for_drug([], [name])
        assert found is not None and found.id == "sandbox-plaque-psoriasis-biologics"
    assert LIBRARY.for_drug(["327361"]) == LIBRARY.for_drug([], ["adalimumab"])
    assert LIBRARY.for_drug(["999999"], ["clobetasol"]) is None
    assert LIBRARY.for_drug([], ["dupixentx"]) is None  # whole words only
    assert all("Synthetic test-double" in d.path.read_text() for d in LIBRARY.definitions)


def test_question_sets_hold_the_questions_the_brief_names() -> None:
    ad = {q.id for q in dupilumab().question_set.questions}
    assert {"ad-diagnosis", "ad-bsa", "ad-easi", "ad-iga", "ad-tcs", "ad-prescriber"} <= ad
    ps = {q.id for q in psoriasis().question_set.questions}
    assert {"ps-diagnosis", "ps-bsa", "ps-pasi", "ps-trial", "ps-tb"} <= ps
    assert [q.sequence for q in psoriasis().question_set.questions] == list(range(1, len(ps) + 1))


def yes(qid: str) -> QuestionAnswer:
    return QuestionAnswer(qid, choice_ids=("Y",))


def test_approve_when_every_condition_holds() -> None:
    answers = [
        yes("ad-diagnosis"),
        QuestionAnswer("ad-bsa", numeric=Decimal("8")),
        QuestionAnswer("ad-easi", numeric=Decimal("16")),  # BSA too small, EASI enough: any
        yes("ad-tcs"),
        yes("ad-prescriber"),
    ]
    got = decide(dupilumab(), answers)
    assert got.outcome is Outcome.APPROVE and got.follow_up_questions == ()


def test_deny_on_a_listed_no_with_its_reason() -> None:
    got = decide(dupilumab(), [yes("ad-diagnosis"), QuestionAnswer("ad-tcs", choice_ids=("N",))])
    assert got.outcome is Outcome.DENY
    assert got.reason_code == "SBX-STEP" and "28 days" in got.reason


def test_pend_asks_the_follow_up_questions_when_neither_holds() -> None:
    got = decide(
        dupilumab(),
        [yes("ad-diagnosis"), QuestionAnswer("ad-bsa", numeric=Decimal("30")), yes("ad-tcs")],
    )  # no answer about the prescriber
    assert got.outcome is Outcome.PEND
    assert [q.id for q in got.follow_up_questions] == ["ad-tcs-response", "ad-tcs-start"]


def test_psoriasis_decisions() -> None:
    full = [
        yes("ps-diagnosis"),
        QuestionAnswer("ps-pasi", numeric=Decimal("15.6")),
        yes("ps-trial"),
        QuestionAnswer("ps-tb", date=date(2026, 10, 20)),
    ]
    assert decide(psoriasis(), full).outcome is Outcome.APPROVE
    assert decide(psoriasis(), full[:3]).outcome is Outcome.PEND  # no TB test date
    no_dx = [QuestionAnswer("ps-diagnosis", choice_ids=("N",)), *full[1:]]
    assert decide(psoriasis(), no_dx).outcome is Outcome.DENY


def test_a_decision_naming_an_unknown_question_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "mappings"
    (root / "schemas").mkdir(parents=True)
    for schema in ("epa-question-set", "source"):
        name = f"{schema}.schema.json"
        (root / "schemas" / name).write_text((mappings_dir() / "schemas" / name).read_text())
    text = (
        mappings_dir() / "sandbox" / "epa-question-sets" / "dupilumab-atopic-dermatitis.yaml"
    ).read_text()
    (root / "bad.yaml").write_text(
        text.replace('{question: ad-prescriber, choice: "Y"}', '{question: ad-nope, choice: "Y"}')
    )
    with pytest.raises(MappingError, match=r"decision/approve_when/3: unknown question 'ad-nope'"):
        QuestionSetLibrary.load(root)
