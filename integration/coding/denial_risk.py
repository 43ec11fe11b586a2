"""Denial risk: P(the payer denies the claim or one of its lines), learnt from the practice's
own history, with the top reasons for each score. Pure: data in, model and numbers out; the
only I/O is `save`/`load` of a model file at a path the caller gives.

- `features(claim, payer_id, date_of_service)`: the claim as named binary features (CPT codes,
  code families, modifiers and code+modifier pairs, E/M with a same-day procedure with or
  without modifier 25, code pairs on one claim, payer and payer x family, place of service,
  first three characters of each diagnosis and of the diagnoses each line points to, line,
  unit and charge bands, prior-authorization number present, month of service).
- `train(examples)`: DictVectorizer + L2 logistic regression, then Platt scaling fitted on
  5-fold out-of-fold scores (what `CalibratedClassifierCV(method="sigmoid", ensemble=False)`
  does), done by hand so a score's log-odds are exactly the average training claim's log-odds
  plus each feature's share, weight x (value - training mean); the reasons are the claim's
  features with the largest shares. Refuses too little history (`NotEnoughHistory`) rather
  than inventing a number.
- `evaluate(examples)`: a time split (train on the earlier dates, test on the latest ~25%),
  AUC, Brier score (and the Brier score of always predicting the training base rate), a 10-bin
  reliability table.

A model file is a pickle (joblib): load only files this program wrote.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from itertools import combinations
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from integration.mapping.loader import load_document
from integration.paths import mappings_dir
from integration.x12.t837_005010x222a1 import Claim, Claim837Transaction

MIN_CLAIMS = 500
MIN_PER_OUTCOME = 50
MODEL_FORMAT = 1
DATE_SERVICE = "472"


@dataclass(frozen=True, slots=True)
class CodeFamilies:
    """mappings/coding/code-families.yaml: (first, last, family) ranges, the words a reason
    uses for each family, and the families that make an E/M need modifier 25."""

    ranges: tuple[tuple[str, str, str], ...]
    words: Mapping[str, str]
    procedures: frozenset[str]


@cache
def code_families() -> CodeFamilies:
    data = load_document(mappings_dir() / "coding" / "code-families.yaml").data
    ranges = tuple(
        (str(first), str(last), str(f["id"]))
        for f in data["families"]
        for first, last in f["ranges"]
    )
    words = {str(f["id"]): str(f["words"]) for f in data["families"]}
    words |= {"drug": "a drug (J-code)", "other": "another code"}
    procedures = frozenset(str(f["id"]) for f in data["families"] if f["procedure"])
    return CodeFamilies(ranges, words, procedures)


_DISTINCT_MODIFIERS = frozenset({"59", "XE", "XP", "XS", "XU"})
_CHARGE_BANDS: tuple[tuple[Decimal, str], ...] = (
    (Decimal(100), "<100"),
    (Decimal(250), "100-250"),
    (Decimal(500), "250-500"),
    (Decimal(1000), "500-1000"),
    (Decimal(2500), "1000-2500"),
)


class NotEnoughHistory(ValueError):
    """Too few claims, or too few of one outcome, to learn a denial risk honestly."""


def code_family(code: str) -> str:
    """The family of a CPT/HCPCS code ("E/M", "biopsy", ..., "drug" for J-codes, else "other")."""
    if code.startswith("J"):
        return "drug"
    if len(code) == 5 and code.isdigit():
        for first, last, family in code_families().ranges:
            if first <= code <= last:
                return family
    return "other"


def _band(total: Decimal) -> str:
    for upper, name in _CHARGE_BANDS:
        if total < upper:
            return name
    return "2500+"


def _units_band(units: Decimal) -> str:
    if units <= 1:
        return "1"
    if units <= 3:
        return "2-3"
    return "4-9" if units <= 9 else "10+"


def features(claim: Claim, payer_id: str, date_of_service: date) -> dict[str, float]:
    """The claim as binary features `kind=value` (all 1.0); see the module docstring."""
    out: dict[str, float] = {}

    def on(name: str) -> None:
        out[name] = 1.0

    payer = payer_id or "unknown"
    on(f"payer={payer}")
    on(f"month={date_of_service.month:02d}")
    lines = claim.services
    on(f"lines={len(lines) if len(lines) < 5 else '5+'}")
    on(f"units={_units_band(sum((line.quantity for line in lines), Decimal(0)))}")
    on(f"charge={_band(claim.total_charge)}")
    if claim.frequency != "1":
        on(f"frequency={claim.frequency}")
    dx3 = [d.code.replace(".", "")[:3].upper() for d in claim.diagnoses]
    for d in dx3:
        on(f"dx3={d}")
    has_auth = bool(claim.prior_authorization)
    on(f"prior_auth={'yes' if has_auth else 'no'}")

    codes = sorted({line.procedure.code for line in lines})
    families = {code_family(c) for c in codes}
    modifiers: set[str] = set()
    em_has_25 = False
    for line in lines:
        code = line.procedure.code
        family = code_family(code)
        mods = [m.upper() for m in line.procedure.modifiers if m]
        on(f"cpt={code}")
        on(f"family={family}")
        on(f"payer_family={payer}|{family}")
        on(f"pos={line.place_of_service or claim.facility_code or 'none'}")
        for m in mods:
            modifiers.add(m)
            on(f"mod={m}")
            on(f"cpt_mod={code}|{m}")
        if family == "E/M" and "25" in mods:
            em_has_25 = True
        for pointer in line.pointers:
            if 1 <= pointer <= len(dx3):
                on(f"family_dx3={family}|{dx3[pointer - 1]}")
        if family in ("drug", "mohs"):
            on(f"family_prior_auth={family}|{'yes' if has_auth else 'no'}")
    if not modifiers:
        on("mod=none")
    if any(m.startswith("X") and m in _DISTINCT_MODIFIERS for m in modifiers):
        on("mod=X*")
    if "E/M" in families and families & code_families().procedures:
        flag = "25" if em_has_25 else "no25"
        on(f"payer_em_procedure={payer}|{flag}")
        for code in codes:
            if code_family(code) in code_families().procedures:
                on(f"em_with={code}|{flag}")
    procedure_families = families & code_families().procedures
    if len(procedure_families) >= 2:
        distinct = "59" if modifiers & _DISTINCT_MODIFIERS else "no59"
        on(f"procedures_distinct={distinct}")
    for a, b in combinations(codes, 2):
        on(f"pair={a}+{b}")
    return out


def _family_words(family: str) -> str:
    return code_families().words.get(family, family)


def describe(feature: str) -> str:
    """Plain words for a feature name (what a biller reads in a reason)."""
    kind, _, value = feature.partition("=")
    first, _, second = value.partition("|")
    if kind == "cpt":
        return f"CPT {value}"
    if kind == "family":
        return f"{_family_words(value)} line"
    if kind == "mod":
        if value == "none":
            return "no modifier on any line"
        return "an X{EPSU} modifier" if value == "X*" else f"modifier {value}"
    if kind == "cpt_mod":
        return f"{first} with modifier {second}"
    if kind == "em_with":
        if second == "25":
            return f"E/M with modifier 25 and {first} the same day"
        return f"E/M without modifier 25 and {first} the same day"
    if kind == "payer_em_procedure":
        with_25 = "with" if second == "25" else "without"
        return f"E/M {with_25} modifier 25 beside a procedure at payer {first}"
    if kind == "procedures_distinct":
        if value == "59":
            return "two procedure families with modifier 59/X{EPSU}"
        return "two procedure families without modifier 59/X{EPSU}"
    if kind == "pair":
        a, _, b = value.partition("+")
        return f"{a} and {b} on the same claim"
    if kind == "payer":
        return f"payer {value}"
    if kind == "payer_family":
        return f"{_family_words(second)} at payer {first}"
    if kind == "pos":
        return f"place of service {value}"
    if kind == "dx3":
        return f"diagnosis {value}.x"
    if kind == "family_dx3":
        return f"{_family_words(first)} for diagnosis {second}.x"
    if kind == "lines":
        return f"{value} service line{'' if value == '1' else 's'}"
    if kind == "units":
        return f"{value} unit{'' if value == '1' else 's'} in total"
    if kind == "charge":
        return f"total charge ${value}"
    if kind == "prior_auth":
        return "a prior-authorization number" if value == "yes" else "no prior-authorization number"
    if kind == "family_prior_auth":
        words = "with" if second == "yes" else "without"
        return f"{_family_words(first)} {words} a prior-authorization number"
    if kind == "month":
        return f"service in month {value}"
    if kind == "frequency":
        return f"claim frequency {value}"
    return feature


# -- examples ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Example:
    """One claim of the history and its outcome (denied: the claim or any line was denied)."""

    claim: Claim
    payer_id: str
    date_of_service: date
    denied: bool
    carc: str = ""  # the denial's group-reason (e.g. "CO-97") when known; not a feature


def date_of_service(claim: Claim) -> date | None:
    """The claim's DTP*472, else its earliest line DTP*472."""
    for d in claim.dates:
        if d.qualifier == DATE_SERVICE:
            return d.start
    days = [line.service_date.start for line in claim.services if line.service_date is not None]
    return min(days) if days else None


def claims_of(model: Claim837Transaction) -> list[tuple[Claim, str, date | None]]:
    """Each claim of an 837P transaction with its payer id (2010BB NM109) and date of service."""
    out: list[tuple[Claim, str, date | None]] = []
    for bp in model.billing_providers:
        for sub in bp.subscribers:
            payer = sub.payer.id or sub.payer.last_or_organization
            found = list(sub.claims) + [c for p in sub.patients for c in p.claims]
            out.extend((c, payer, date_of_service(c)) for c in found)
    return out


def check_history(examples: Sequence[Example]) -> None:
    """NotEnoughHistory unless there are MIN_CLAIMS claims with MIN_PER_OUTCOME of each outcome."""
    denied = sum(1 for e in examples if e.denied)
    paid = len(examples) - denied
    if len(examples) < MIN_CLAIMS or min(denied, paid) < MIN_PER_OUTCOME:
        raise NotEnoughHistory(
            f"not enough history: {len(examples)} claims ({denied} denied, {paid} not), "
            f"need ≥ {MIN_CLAIMS} with both outcomes (≥ {MIN_PER_OUTCOME} of each)"
        )


# -- model -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reason:
    """One feature of the claim and its share of the score: calibrated log-odds against the
    average training claim (positive: raises the risk)."""

    feature: str
    log_odds: float
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"feature": self.feature, "log_odds": round(self.log_odds, 3), "text": self.text}


@dataclass(frozen=True, slots=True)
class Score:
    probability: float
    reasons: tuple[Reason, ...]
    log_odds: float = 0.0  # baseline + every feature's contribution (not only the reasons)
    baseline: float = 0.0  # the log-odds of the average training claim

    def to_json(self) -> dict[str, Any]:
        return {
            "probability": round(self.probability, 4),
            "reasons": [r.to_json() for r in self.reasons],
        }


@dataclass(slots=True)
class RiskModel:
    """A trained denial-risk model, its training date range and its held-out metrics."""

    vectorizer: Any  # DictVectorizer
    classifier: Any  # LogisticRegression on the vectorizer's features
    platt_slope: float  # calibrated log-odds = slope * raw log-odds + platt_intercept
    platt_intercept: float
    trained_from: date
    trained_to: date
    n_examples: int
    base_rate: float
    feature_means: Any  # each feature's mean over the training claims (the reasons' reference)
    metrics: dict[str, Any] = field(default_factory=dict)
    sklearn_version: str = sklearn.__version__
    format: int = MODEL_FORMAT

    def _raw(self, rows: Sequence[Mapping[str, float]]) -> Any:
        return self.classifier.decision_function(self.vectorizer.transform(rows))

    def probabilities(self, rows: Sequence[Mapping[str, float]]) -> list[float]:
        """Calibrated P(denied) for feature rows (see `features`)."""
        logits = self.platt_slope * self._raw(rows) + self.platt_intercept
        return [_sigmoid(float(v)) for v in logits]

    def predict(self, examples: Sequence[Example]) -> list[float]:
        return self.probabilities(
            [features(e.claim, e.payer_id, e.date_of_service) for e in examples]
        )

    def score(self, claim: Claim, payer_id: str, date_of_service: date, top: int = 3) -> Score:
        """P(denied), and the claim's `top` features with the largest share of the log-odds
        (either sign). Each share is weight x (value - training mean), so that the average
        claim's log-odds plus every feature's share (present or absent) is the score's
        log-odds exactly; features unseen in training count for nothing."""
        row = features(claim, payer_id, date_of_service)
        x = np.asarray(self.vectorizer.transform([row]).todense()).ravel()
        weights = self.platt_slope * np.asarray(self.classifier.coef_[0])
        shares = weights * (x - self.feature_means)
        baseline = (
            self.platt_slope * float(self.classifier.intercept_[0])
            + self.platt_intercept
            + float(weights @ self.feature_means)
        )
        logit = baseline + float(shares.sum())
        names = self.vectorizer.get_feature_names_out()
        present = sorted(
            ((str(names[i]), float(shares[i])) for i in np.flatnonzero(x)),
            key=lambda nc: (-abs(nc[1]), nc[0]),
        )
        reasons = tuple(
            Reason(name, c, f"{describe(name)}: {c:+.2f} log-odds")
            for name, c in present[:top]
            if abs(c) >= 0.005
        )
        return Score(_sigmoid(logit), reasons, logit, baseline)

    def to_json(self) -> dict[str, Any]:
        return {
            "trained_from": self.trained_from.isoformat(),
            "trained_to": self.trained_to.isoformat(),
            "claims": self.n_examples,
            "base_rate": round(self.base_rate, 4),
            "features": len(self.vectorizer.get_feature_names_out()),
            "metrics": self.metrics,
        }


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def train(
    examples: Sequence[Example],
    *,
    regularization: float = 1.0,
    folds: int = 5,
    seed: int = 0,
    metrics: Mapping[str, Any] | None = None,
) -> RiskModel:
    """Fit the model on `examples` (see the module docstring); NotEnoughHistory when too few."""
    check_history(examples)
    rows = [features(e.claim, e.payer_id, e.date_of_service) for e in examples]
    y = np.array([1 if e.denied else 0 for e in examples])
    vectorizer = DictVectorizer(sparse=True)
    x = vectorizer.fit_transform(rows)

    def classifier() -> Any:
        return LogisticRegression(C=regularization, max_iter=5000)

    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    out_of_fold = cross_val_predict(classifier(), x, y, cv=cv, method="decision_function")
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(out_of_fold.reshape(-1, 1), y)
    model = classifier().fit(x, y)
    days = [e.date_of_service for e in examples]
    return RiskModel(
        vectorizer=vectorizer,
        classifier=model,
        platt_slope=float(platt.coef_[0][0]),
        platt_intercept=float(platt.intercept_[0]),
        trained_from=min(days),
        trained_to=max(days),
        n_examples=len(examples),
        base_rate=float(y.mean()),
        feature_means=np.asarray(x.mean(axis=0)).ravel(),
        metrics=dict(metrics or {}),
    )


# -- evaluation --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    lower: float
    upper: float
    claims: int
    mean_predicted: float | None
    observed: float | None


@dataclass(frozen=True, slots=True)
class PayerCalibration:
    """One payer's held-out claims: observed denial rate against the mean predicted."""

    payer_id: str
    claims: int
    observed: float
    mean_predicted: float


@dataclass(frozen=True, slots=True)
class Evaluation:
    train_from: date
    train_to: date
    test_from: date
    test_to: date
    train_claims: int
    test_claims: int
    train_base_rate: float
    test_base_rate: float
    auc: float
    brier: float
    brier_base_rate: float  # always predicting the training base rate
    mean_predicted: float
    reliability: tuple[ReliabilityBin, ...]
    train_seconds: float  # wall time
    by_payer: tuple[PayerCalibration, ...] = ()
    train_cpu_seconds: float = 0.0  # this process's CPU time (steadier on a shared machine)

    def to_json(self) -> dict[str, Any]:
        return {
            "split": {
                "train": [self.train_from.isoformat(), self.train_to.isoformat()],
                "test": [self.test_from.isoformat(), self.test_to.isoformat()],
            },
            "train_claims": self.train_claims,
            "test_claims": self.test_claims,
            "train_base_rate": round(self.train_base_rate, 4),
            "test_base_rate": round(self.test_base_rate, 4),
            "auc": round(self.auc, 4),
            "brier": round(self.brier, 4),
            "brier_base_rate": round(self.brier_base_rate, 4),
            "mean_predicted": round(self.mean_predicted, 4),
            "train_seconds": round(self.train_seconds, 2),
            "train_cpu_seconds": round(self.train_cpu_seconds, 2),
            "by_payer": [
                {
                    "payer": b.payer_id,
                    "claims": b.claims,
                    "observed": round(b.observed, 4),
                    "mean_predicted": round(b.mean_predicted, 4),
                }
                for b in self.by_payer
            ],
            "reliability": [
                {
                    "bin": f"{b.lower:.1f}-{b.upper:.1f}",
                    "claims": b.claims,
                    "mean_predicted": None
                    if b.mean_predicted is None
                    else round(b.mean_predicted, 4),
                    "observed": None if b.observed is None else round(b.observed, 4),
                }
                for b in self.reliability
            ],
        }


def time_split(
    examples: Sequence[Example], test_fraction: float = 0.25
) -> tuple[list[Example], list[Example]]:
    """Earlier dates to train, the latest ~`test_fraction` to test; one day never straddles."""
    ordered = sorted(examples, key=lambda e: e.date_of_service)
    if len(ordered) < 2:
        raise NotEnoughHistory(f"not enough history: {len(ordered)} claims, cannot split by time")
    cut_day = ordered[
        min(len(ordered) - 1, int(len(ordered) * (1 - test_fraction)))
    ].date_of_service
    train_part = [e for e in ordered if e.date_of_service < cut_day]
    test_part = [e for e in ordered if e.date_of_service >= cut_day]
    return train_part, test_part


def reliability_table(
    probabilities: Sequence[float], outcomes: Sequence[bool], bins: int = 10
) -> tuple[ReliabilityBin, ...]:
    """Equal-width bins over [0, 1]: claims, mean predicted and observed denial rate in each."""
    out: list[ReliabilityBin] = []
    for i in range(bins):
        lower, upper = i / bins, (i + 1) / bins
        chosen = [
            (p, o)
            for p, o in zip(probabilities, outcomes, strict=True)
            if lower <= p < upper or (i == bins - 1 and p == 1.0)
        ]
        if chosen:
            mean_p = sum(p for p, _ in chosen) / len(chosen)
            observed = sum(1 for _, o in chosen if o) / len(chosen)
            out.append(ReliabilityBin(lower, upper, len(chosen), mean_p, observed))
        else:
            out.append(ReliabilityBin(lower, upper, 0, None, None))
    return tuple(out)


def evaluate(examples: Sequence[Example], test_fraction: float = 0.25) -> Evaluation:
    """Train on the earlier claims, measure on the latest `test_fraction` (see `time_split`)."""
    return evaluate_with_model(examples, test_fraction)[0]


def evaluate_with_model(
    examples: Sequence[Example], test_fraction: float = 0.25
) -> tuple[Evaluation, RiskModel]:
    """`evaluate`, and the model trained on the earlier part (to show what it learnt)."""
    check_history(examples)
    train_part, test_part = time_split(examples, test_fraction)
    started, cpu = time.perf_counter(), time.process_time()
    try:
        model = train(train_part)
    except NotEnoughHistory as exc:
        raise NotEnoughHistory(
            f"{exc}, in the earlier part of the time split (before {test_part[0].date_of_service})"
        ) from None
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    outcomes = [e.denied for e in test_part]
    if all(outcomes) or not any(outcomes):
        raise NotEnoughHistory(
            f"not enough history: the {len(test_part)} held-out claims have one outcome only"
        )
    predicted = model.predict(test_part)
    y = np.array([1 if o else 0 for o in outcomes])
    p = np.array(predicted)
    evaluation = Evaluation(
        train_from=train_part[0].date_of_service,
        train_to=train_part[-1].date_of_service,
        test_from=test_part[0].date_of_service,
        test_to=test_part[-1].date_of_service,
        train_claims=len(train_part),
        test_claims=len(test_part),
        train_base_rate=model.base_rate,
        test_base_rate=float(y.mean()),
        auc=float(roc_auc_score(y, p)),
        brier=float(brier_score_loss(y, p)),
        brier_base_rate=float(brier_score_loss(y, np.full(len(y), model.base_rate))),
        mean_predicted=float(p.mean()),
        reliability=reliability_table(predicted, outcomes),
        train_seconds=seconds,
        by_payer=_by_payer(test_part, predicted),
        train_cpu_seconds=cpu_seconds,
    )
    return evaluation, model


def _by_payer(
    examples: Sequence[Example], predicted: Sequence[float]
) -> tuple[PayerCalibration, ...]:
    groups: dict[str, list[tuple[bool, float]]] = {}
    for e, p in zip(examples, predicted, strict=True):
        groups.setdefault(e.payer_id, []).append((e.denied, p))
    return tuple(
        PayerCalibration(
            payer,
            len(rows),
            sum(1 for d, _ in rows if d) / len(rows),
            sum(p for _, p in rows) / len(rows),
        )
        for payer, rows in sorted(groups.items())
    )


def top_features(model: RiskModel, n: int = 10) -> list[tuple[str, float]]:
    """The `n` features with the largest calibrated log-odds weight, by absolute value."""
    names = model.vectorizer.get_feature_names_out()
    weights = model.classifier.coef_[0]
    pairs = [
        (str(name), model.platt_slope * float(w)) for name, w in zip(names, weights, strict=True)
    ]
    pairs.sort(key=lambda nw: (-abs(nw[1]), nw[0]))
    return pairs[:n]


# -- files -------------------------------------------------------------------------------------


def save(model: RiskModel, path: Path) -> None:
    """Write the model (joblib pickle) to `path`, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, path)


def load(path: Path) -> RiskModel:
    """A model written by `save`. ValueError when it is not one, or was written by another
    scikit-learn version (retrain rather than trust a model across versions)."""
    model = joblib.load(path)
    if not isinstance(model, RiskModel) or model.format != MODEL_FORMAT:
        raise ValueError(f"{path}: expected a denial-risk model (format {MODEL_FORMAT})")
    if model.sklearn_version != sklearn.__version__:
        raise ValueError(
            f"{path}: written with scikit-learn {model.sklearn_version}, this is "
            f"{sklearn.__version__}: retrain with `dermrcm coding risk train`"
        )
    return model


def outcomes_summary(examples: Iterable[Example]) -> dict[str, int]:
    """Claims, denied and not denied (for messages and reports)."""
    total = denied = 0
    for e in examples:
        total += 1
        denied += e.denied
    return {"claims": total, "denied": denied, "not_denied": total - denied}
