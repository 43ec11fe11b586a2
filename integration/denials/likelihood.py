"""How likely an appeal of a denial is to be overturned, from the practice's own decided appeals.

Method (docs/appeal-likelihood.md): each decided first-level appeal scores 1 (overturned), 0.5
(partial) or 0 (upheld). The estimate for a denial's (payer, category) is a smoothed rate: the
category's rate shrunk toward the practice's overall rate, and the (payer, category) rate shrunk
toward that, each with a prior weight of `strength` appeals:

    p_all = mean score of every decided appeal
    p_cat = (sum_cat + strength * p_all) / (n_cat + strength)
    p     = (sum_pc + strength * p_cat) / (n_pc + strength)

With fewer than `min_decided` decided appeals in all, there is no estimate: `probability` is
None and the reason says "no history: k decided appeals, need N". Every estimate carries the
counts it rests on. Pure: the store supplies the decided appeals.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

SCORES = {"overturned": 1.0, "partial": 0.5, "upheld": 0.0}
METHOD = "smoothed-rate-v1"


@dataclass(frozen=True, slots=True)
class DecidedAppeal:
    payer_id: str
    category: str
    outcome: str  # overturned | partial | upheld
    decided_on: date

    @property
    def score(self) -> float:
        return SCORES[self.outcome]


@dataclass(frozen=True, slots=True)
class Likelihood:
    probability: float | None
    reason: str
    decided_payer_category: int
    decided_category: int
    decided_all: int

    def to_json(self) -> dict[str, Any]:
        return {
            "probability": None if self.probability is None else round(self.probability, 3),
            "reason": self.reason,
            "decided": {
                "payer_category": self.decided_payer_category,
                "category": self.decided_category,
                "all": self.decided_all,
            },
            "method": METHOD,
        }


@dataclass(frozen=True, slots=True)
class _Tally:
    n: int = 0
    total: float = 0.0

    def add(self, score: float) -> _Tally:
        return _Tally(self.n + 1, self.total + score)


@dataclass(slots=True)
class LikelihoodModel:
    min_decided: int = 20
    strength: float = 5.0
    overall: _Tally = field(default_factory=_Tally)
    by_category: dict[str, _Tally] = field(default_factory=dict)
    by_pair: dict[tuple[str, str], _Tally] = field(default_factory=dict)

    @classmethod
    def fit(
        cls, history: Iterable[DecidedAppeal], *, min_decided: int = 20, strength: float = 5.0
    ) -> LikelihoodModel:
        model = cls(min_decided=min_decided, strength=strength)
        for appeal in history:
            if appeal.outcome not in SCORES:
                continue
            s = appeal.score
            model.overall = model.overall.add(s)
            model.by_category[appeal.category] = model.by_category.get(
                appeal.category, _Tally()
            ).add(s)
            key = (appeal.payer_id, appeal.category)
            model.by_pair[key] = model.by_pair.get(key, _Tally()).add(s)
        return model

    @property
    def base_rate(self) -> float | None:
        return self.overall.total / self.overall.n if self.overall.n else None

    def estimate(self, payer_id: str, category: str) -> Likelihood:
        pair = self.by_pair.get((payer_id, category), _Tally())
        cat = self.by_category.get(category, _Tally())
        k = self.overall.n
        if k < self.min_decided:
            return Likelihood(
                None,
                f"no history: {k} decided appeals, need {self.min_decided}",
                pair.n,
                cat.n,
                k,
            )
        p_all = self.overall.total / k
        p_cat = (cat.total + self.strength * p_all) / (cat.n + self.strength)
        p = (pair.total + self.strength * p_cat) / (pair.n + self.strength)
        reason = (
            f"smoothed overturn rate: {pair.n} decided appeals for this payer and category, "
            f"{cat.n} for the category, {k} in all"
        )
        return Likelihood(p, reason, pair.n, cat.n, k)


# -- evaluation ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Evaluation:
    split: date
    train: int
    test: int
    brier_model: float
    brier_base_rate: float
    base_rate: float
    synthetic: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "split": self.split.isoformat(),
            "train": self.train,
            "test": self.test,
            "brier": {
                "model": round(self.brier_model, 4),
                "base_rate": round(self.brier_base_rate, 4),
            },
            "base_rate": round(self.base_rate, 4),
            "skill": round(1 - self.brier_model / self.brier_base_rate, 4)
            if self.brier_base_rate
            else None,
            "synthetic": self.synthetic,
        }


def evaluate(
    history: Sequence[DecidedAppeal],
    split: date,
    *,
    min_decided: int = 20,
    strength: float = 5.0,
    synthetic: bool = False,
) -> Evaluation:
    """Fit on appeals decided before `split`, score those decided on or after it: the Brier
    score of the model against that of the training base rate (lower is better)."""
    train = [a for a in history if a.decided_on < split]
    test = [a for a in history if a.decided_on >= split]
    if not test:
        raise ValueError(f"split: expected appeals decided on or after {split}, got none")
    model = LikelihoodModel.fit(train, min_decided=min_decided, strength=strength)
    base = model.base_rate
    if base is None or model.overall.n < min_decided:
        raise ValueError(
            f"split: expected at least {min_decided} appeals decided before {split}, "
            f"got {model.overall.n}"
        )
    brier_model = brier_base = 0.0
    for a in test:
        p = model.estimate(a.payer_id, a.category).probability
        assert p is not None
        brier_model += (p - a.score) ** 2
        brier_base += (base - a.score) ** 2
    return Evaluation(
        split,
        len(train),
        len(test),
        brier_model / len(test),
        brier_base / len(test),
        base,
        synthetic,
    )


#: the synthetic history's true overturn rates (invented, for the method's evaluation only)
SYNTHETIC_RATES: dict[tuple[str, str], float] = {
    ("unitedhealthcare", "medical-necessity"): 0.55,
    ("unitedhealthcare", "authorization"): 0.70,
    ("unitedhealthcare", "bundling"): 0.25,
    ("cigna", "medical-necessity"): 0.40,
    ("cigna", "authorization"): 0.60,
    ("medicare-part-b", "medical-necessity"): 0.30,
    ("medicare-part-b", "bundling"): 0.15,
    ("medicare-part-b", "frequency-mue"): 0.45,
    ("aetna", "medical-necessity"): 0.50,
    ("aetna", "timely-filing"): 0.10,
}


def synthetic_history(
    seed: int = 7, n: int = 600, start: date = date(2025, 1, 1)
) -> list[DecidedAppeal]:
    """`n` invented decided appeals over two years, drawn from SYNTHETIC_RATES (partial outcomes
    one time in ten among the overturns). Deterministic for a seed."""
    rng = random.Random(seed)  # synthetic data, not security
    pairs = sorted(SYNTHETIC_RATES)
    weights = [3 if c == "medical-necessity" else 1 for _, c in pairs]
    out: list[DecidedAppeal] = []
    for _ in range(n):
        payer, category = rng.choices(pairs, weights)[0]
        won = rng.random() < SYNTHETIC_RATES[(payer, category)]
        outcome = ("partial" if rng.random() < 0.1 else "overturned") if won else "upheld"
        out.append(
            DecidedAppeal(payer, category, outcome, start + timedelta(days=rng.randrange(730)))
        )
    return sorted(out, key=lambda a: a.decided_on)
