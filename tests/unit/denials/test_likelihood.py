"""The overturn-likelihood model: no number without enough history (and the reason says how
much there is), a smoothed rate with its counts otherwise, a time-split evaluation that refuses
a split with nothing to test or too little to train on."""

from __future__ import annotations

from datetime import date

import pytest

from integration.denials.likelihood import (
    DecidedAppeal,
    LikelihoodModel,
    evaluate,
    synthetic_history,
)


def appeals(
    payer: str, category: str, won: int, lost: int, partial: int = 0
) -> list[DecidedAppeal]:
    day = date(2026, 1, 1)
    return (
        [DecidedAppeal(payer, category, "overturned", day)] * won
        + [DecidedAppeal(payer, category, "upheld", day)] * lost
        + [DecidedAppeal(payer, category, "partial", day)] * partial
    )


def test_no_history_says_so_instead_of_a_number() -> None:
    model = LikelihoodModel.fit(appeals("uhc", "medical-necessity", 5, 4))
    result = model.estimate("uhc", "medical-necessity")
    assert result.probability is None
    assert result.reason == "no history: 9 decided appeals, need 20"
    assert result.to_json()["decided"] == {"payer_category": 9, "category": 9, "all": 9}


def test_the_estimate_is_shrunk_toward_the_category_and_the_practice() -> None:
    history = appeals("uhc", "medical-necessity", 8, 2) + appeals("cigna", "bundling", 1, 9, 2)
    model = LikelihoodModel.fit(history, min_decided=20, strength=5)
    p_all = (8 + 1 + 1) / 22  # partial counts 0.5
    p_cat = (8 + 5 * p_all) / 15
    got = model.estimate("uhc", "medical-necessity")
    assert got.probability == pytest.approx((8 + 5 * p_cat) / 15)
    unseen_payer = model.estimate("aetna", "medical-necessity").probability
    assert unseen_payer == pytest.approx(p_cat)
    unseen_category = model.estimate("aetna", "timely-filing").probability
    assert unseen_category == pytest.approx(p_all)


def test_evaluation_refuses_splits_it_cannot_score() -> None:
    history = synthetic_history(seed=1, n=100)
    with pytest.raises(ValueError, match="expected appeals decided on or after"):
        evaluate(history, date(2030, 1, 1))
    with pytest.raises(ValueError, match="expected at least 20 appeals decided before"):
        evaluate(history, date(2025, 1, 5))


def test_the_synthetic_history_is_deterministic() -> None:
    assert synthetic_history(seed=3, n=50) == synthetic_history(seed=3, n=50)
    assert synthetic_history(seed=3, n=50) != synthetic_history(seed=4, n=50)
