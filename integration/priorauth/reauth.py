"""Response to therapy for a reauthorization: each severity score before the approval began
against the newest since, with both sources. Pure.

A score the chart lacks on either side is reported missing (the clinician records it); a change
is never computed from one side alone, and a partial date counts only where it must fall."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from integration.domain.evidence import ClinicalEvidence, Measure, Owner
from integration.rules.dates import date_range

#: the scores a payer reads as response to therapy, in the order they are shown
RESPONSE_KEYS: tuple[str, ...] = ("PASI", "EASI", "BSA", "IGA", "DLQI")


@dataclass(frozen=True, slots=True)
class ScoreChange:
    """One score before and since. `percent` is the improvement (a fall) as a share of the
    baseline, None when either side is missing or the baseline is zero."""

    key: str
    baseline: Measure | None
    current: Measure | None
    change: Decimal | None
    percent: Decimal | None
    missing: str | None = None
    owner: Owner | None = None

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(m.source for m in (self.baseline, self.current) if m is not None)


def _measures(key: str, charts: Iterable[ClinicalEvidence]) -> list[Measure]:
    seen: dict[str, Measure] = {}
    for chart in charts:
        for m in chart.measures.get(key, ()):
            seen.setdefault(m.source, m)
    return list(seen.values())


def score_changes(started: date, today: date, *charts: ClinicalEvidence) -> tuple[ScoreChange, ...]:
    """For each score the charts hold at all: the newest dated on or before `started` (the
    approval's first day) and the newest after it, up to `today`."""
    out = []
    for key in RESPONSE_KEYS:
        measures = [m for m in _measures(key, charts) if m.region is None]
        if not measures:
            continue
        before, since = [], []
        for m in measures:
            span = date_range(m.date)
            if span is None:
                continue
            if span.last <= started:
                before.append((span.first, m.source, m))
            elif span.first > started and span.last <= today:
                since.append((span.first, m.source, m))
        baseline = max(before, key=lambda t: (t[0], t[1]))[2] if before else None
        current = max(since, key=lambda t: (t[0], t[1]))[2] if since else None
        if baseline is None or current is None:
            side = "before therapy began" if baseline is None else "since the approval began"
            out.append(
                ScoreChange(
                    key,
                    baseline,
                    current,
                    None,
                    None,
                    missing=f"{key} {side} (on or before {started.isoformat()})"
                    if baseline is None
                    else f"{key} {side} ({started.isoformat()} to {today.isoformat()})",
                    owner=Owner.CLINICIAN,
                )
            )
            continue
        change = current.value - baseline.value
        percent = (
            None
            if baseline.value == 0
            else ((baseline.value - current.value) / baseline.value * 100).quantize(Decimal("1"))
        )
        out.append(ScoreChange(key, baseline, current, change, percent))
    return tuple(out)


def describe(change: ScoreChange) -> str:
    """One line a reviewer reads: `PASI 18.4 (2025-10-02) -> 3.1 (2026-09-15): 83% better`."""
    if change.baseline is None or change.current is None:
        return f"{change.key}: missing: {change.missing}"
    b, c = change.baseline, change.current
    head = f"{change.key} {_n(b.value)} ({b.date}) -> {_n(c.value)} ({c.date})"
    if change.percent is None:
        return f"{head}: baseline 0, no percentage"
    word = "better" if change.percent > 0 else "worse" if change.percent < 0 else "unchanged"
    return f"{head}: {abs(change.percent)}% {word}" if change.percent else f"{head}: {word}"


def _n(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text
