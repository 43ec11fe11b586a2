"""Denial and appeal figures for the practice manager's dashboard, each with its counts.

Pure: takes plain rows (read by `integration.store.appeals.AppealStore.dashboard`) and returns
figures; no SQL here.

- Denial rate by payer and by category: denied lines / lines remitted. A "line" is one SVC of a
  posted 835 claim (a claim paid without SVC lines counts as one line); reversal postings
  (CLP02 22) are not counted. A line is denied when it has a denial item; a claim-level denial
  item denies every line of its claim posting. The payer is the 835's (TRN03 / N1*PR). The
  category rate divides by all lines remitted. A deductible, coinsurance or copay (category
  patient-responsibility, PR-1/2/3) is the plan working as written, not a payer's denial: such
  lines are counted apart (`patient_responsibility_lines`), not in the rates.
  Prior-authorization denials are not remittance lines: they are counted apart (`pa_denials`).
- Appeals open by deadline: appeals not yet sent (draft or signed), by days from `as_of` to their
  deadline: overdue (< 0), <= 7 days, <= 30 days, later, unknown (no deadline), each with the
  amount at stake of their denials.
- Overturn rate: overturned / decided appeals (all levels); partial counted apart and in
  `overturned_or_partial`.
- Recovered: the sum recovered by decided appeals.
- Median drafting time: from opening the denial to work on it (appeal.opened_at) to the
  signature, in minutes, over signed appeals.
- Median days from the remittance to the appeal's submission and to its decision.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from integration.denials.worklist import PATIENT

BUCKETS: tuple[str, ...] = ("overdue", "7d", "30d", "later", "unknown")
BUCKET_LABELS: dict[str, str] = {
    "overdue": "overdue",
    "7d": "due in 7 days or less",
    "30d": "due in 8 to 30 days",
    "later": "due in more than 30 days",
    "unknown": "deadline unknown",
}
#: appeal states that are still to be sent (their deadline matters)
OPEN_APPEAL_STATES: tuple[str, ...] = ("draft", "signed")
#: denial item categories that are not a payer's denial (left out of the denial rates)
NOT_DENIALS: tuple[str, ...] = (PATIENT,)


@dataclass(frozen=True, slots=True)
class RemittedLine:
    """A posted 835 service line (line_posting_id None: a claim posting without lines)."""

    line_posting_id: int | None
    claim_posting_id: int
    payer_id: str
    payer_name: str


@dataclass(frozen=True, slots=True)
class DenialRow:
    id: int
    source: str  # "835" | "pa"
    category: str
    payer_id: str
    payer_name: str
    claim_posting_id: int | None
    line_posting_id: int | None
    amount_cents: int
    remit_date: date | None
    status: str


@dataclass(frozen=True, slots=True)
class AppealRow:
    id: str
    denial_id: int
    level: int
    status: str
    deadline: date | None
    opened_at: datetime
    signed_at: datetime | None
    submitted_at: datetime | None
    outcome: str | None
    recovered_cents: int | None
    decided_on: date | None


@dataclass(frozen=True, slots=True)
class Rate:
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return None if self.denominator == 0 else self.numerator / self.denominator

    def to_json(self) -> dict[str, Any]:
        value = self.value
        return {
            "numerator": self.numerator,
            "denominator": self.denominator,
            "rate": None if value is None else round(value, 4),
        }


@dataclass(frozen=True, slots=True)
class PayerRate:
    payer_id: str
    payer_name: str
    rate: Rate  # denied lines / lines remitted by the payer

    def to_json(self) -> dict[str, Any]:
        return {
            "payer": {"id": self.payer_id, "name": self.payer_name},
            "denied_lines": self.rate.numerator,
            "lines_remitted": self.rate.denominator,
            **{"rate": self.rate.to_json()["rate"]},
        }


@dataclass(frozen=True, slots=True)
class CategoryRate:
    category: str
    rate: Rate  # denied lines of the category / all lines remitted

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "denied_lines": self.rate.numerator,
            "lines_remitted": self.rate.denominator,
            "rate": self.rate.to_json()["rate"],
        }


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str  # one of BUCKETS
    count: int
    at_stake: Decimal

    def to_json(self) -> dict[str, Any]:
        return {
            "bucket": self.name,
            "label": BUCKET_LABELS[self.name],
            "count": self.count,
            "at_stake": str(self.at_stake),
        }


@dataclass(frozen=True, slots=True)
class Median:
    value: float | None  # None when count is 0
    count: int
    unit: str

    def to_json(self) -> dict[str, Any]:
        return {
            "median": None if self.value is None else round(self.value, 2),
            "count": self.count,
            "unit": self.unit,
        }


@dataclass(frozen=True, slots=True)
class Dashboard:
    as_of: date
    denial_rate: Rate  # all denied lines / all lines remitted
    by_payer: tuple[PayerRate, ...]
    by_category: tuple[CategoryRate, ...]
    pa_denials: int
    patient_responsibility_lines: int
    open_appeals: tuple[Bucket, ...]
    decided: int
    overturned: int
    partial: int
    upheld: int
    recovered: Decimal
    recovered_count: int  # decided appeals that recovered something
    drafting_minutes: Median
    days_to_submission: Median
    days_to_decision: Median

    @property
    def overturn_rate(self) -> Rate:
        return Rate(self.overturned, self.decided)

    @property
    def overturned_or_partial(self) -> Rate:
        return Rate(self.overturned + self.partial, self.decided)

    def bucket(self, name: str) -> Bucket:
        return next(b for b in self.open_appeals if b.name == name)

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "denial_rate": self.denial_rate.to_json(),
            "denial_rate_by_payer": [p.to_json() for p in self.by_payer],
            "denial_rate_by_category": [c.to_json() for c in self.by_category],
            "pa_denials": self.pa_denials,
            "patient_responsibility_lines": self.patient_responsibility_lines,
            "appeals_open_by_deadline": [b.to_json() for b in self.open_appeals],
            "outcomes": {
                "decided": self.decided,
                "overturned": self.overturned,
                "partial": self.partial,
                "upheld": self.upheld,
                "overturn_rate": self.overturn_rate.to_json(),
                "overturned_or_partial_rate": self.overturned_or_partial.to_json(),
            },
            "recovered": {"amount": str(self.recovered), "appeals": self.recovered_count},
            "median_drafting_time": self.drafting_minutes.to_json(),
            "median_days_remit_to_submission": self.days_to_submission.to_json(),
            "median_days_remit_to_decision": self.days_to_decision.to_json(),
        }


def _unit(line_posting_id: int | None, claim_posting_id: int) -> tuple[str, int]:
    return ("line", line_posting_id) if line_posting_id is not None else ("claim", claim_posting_id)


def _median(values: Sequence[float], unit: str) -> Median:
    return Median(statistics.median(values) if values else None, len(values), unit)


def bucket_of(deadline: date | None, as_of: date) -> str:
    if deadline is None:
        return "unknown"
    days = (deadline - as_of).days
    if days < 0:
        return "overdue"
    if days <= 7:
        return "7d"
    if days <= 30:
        return "30d"
    return "later"


def compute_dashboard(
    lines: Iterable[RemittedLine],
    denials: Iterable[DenialRow],
    appeals: Iterable[AppealRow],
    as_of: date,
) -> Dashboard:
    lines = list(lines)
    denials = list(denials)
    appeals = list(appeals)

    # -- denial rates --
    payer_of_unit: dict[tuple[str, int], str] = {}
    names: dict[str, str] = {}
    units_of_claim: dict[int, list[tuple[str, int]]] = {}
    remitted_by_payer: dict[str, int] = {}
    for line in lines:
        unit = _unit(line.line_posting_id, line.claim_posting_id)
        if unit in payer_of_unit:
            continue
        payer_of_unit[unit] = line.payer_id
        names.setdefault(line.payer_id, line.payer_name)
        units_of_claim.setdefault(line.claim_posting_id, []).append(unit)
        remitted_by_payer[line.payer_id] = remitted_by_payer.get(line.payer_id, 0) + 1
    denied_units: set[tuple[str, int]] = set()
    patient_units: set[tuple[str, int]] = set()
    by_category: dict[str, set[tuple[str, int]]] = {}
    for d in denials:
        if d.source != "835":
            continue
        if d.line_posting_id is not None:
            units = [("line", d.line_posting_id)]
        elif d.claim_posting_id is not None:
            units = units_of_claim.get(d.claim_posting_id, [])
        else:
            units = []
        units = [u for u in units if u in payer_of_unit]  # remitted (not a reversal)
        if d.category in NOT_DENIALS:
            patient_units.update(units)
            continue
        denied_units.update(units)
        by_category.setdefault(d.category, set()).update(units)
    total = len(payer_of_unit)
    denied_by_payer: dict[str, int] = {}
    for unit in denied_units:
        payer = payer_of_unit[unit]
        denied_by_payer[payer] = denied_by_payer.get(payer, 0) + 1
    payer_rates = tuple(
        PayerRate(payer, names[payer], Rate(denied_by_payer.get(payer, 0), count))
        for payer, count in sorted(remitted_by_payer.items())
    )
    category_rates = tuple(
        CategoryRate(category, Rate(len(units), total))
        for category, units in sorted(by_category.items())
        if units
    )

    # -- appeals --
    at_stake = {d.id: d.amount_cents for d in denials}
    remit_date = {d.id: d.remit_date for d in denials}
    counts = dict.fromkeys(BUCKETS, 0)
    stakes = dict.fromkeys(BUCKETS, 0)
    for a in appeals:
        if a.status not in OPEN_APPEAL_STATES:
            continue
        name = bucket_of(a.deadline, as_of)
        counts[name] += 1
        stakes[name] += at_stake.get(a.denial_id, 0)
    buckets = tuple(Bucket(n, counts[n], Decimal(stakes[n]).scaleb(-2)) for n in BUCKETS)

    decided = [a for a in appeals if a.outcome is not None]
    recovered_cents = sum(a.recovered_cents or 0 for a in decided)
    drafting = [
        (a.signed_at - a.opened_at).total_seconds() / 60 for a in appeals if a.signed_at is not None
    ]
    to_submission: list[float] = []
    to_decision: list[float] = []
    for a in appeals:
        start = remit_date.get(a.denial_id)
        if start is None:
            continue
        if a.submitted_at is not None:
            to_submission.append(float((a.submitted_at.date() - start).days))
        if a.decided_on is not None:
            to_decision.append(float((a.decided_on - start).days))

    return Dashboard(
        as_of=as_of,
        denial_rate=Rate(len(denied_units), total),
        by_payer=payer_rates,
        by_category=category_rates,
        pa_denials=sum(1 for d in denials if d.source == "pa"),
        patient_responsibility_lines=len(patient_units),
        open_appeals=buckets,
        decided=len(decided),
        overturned=sum(1 for a in decided if a.outcome == "overturned"),
        partial=sum(1 for a in decided if a.outcome == "partial"),
        upheld=sum(1 for a in decided if a.outcome == "upheld"),
        recovered=Decimal(recovered_cents).scaleb(-2),
        recovered_count=sum(1 for a in decided if (a.recovered_cents or 0) > 0),
        drafting_minutes=_median(drafting, "minutes"),
        days_to_submission=_median(to_submission, "days"),
        days_to_decision=_median(to_decision, "days"),
    )
