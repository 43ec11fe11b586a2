"""Geometry for the evidence screen: score trends (SVG) and the therapy timeline (percent bars)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from integration.domain.evidence import Measure, Therapy
from integration.evidence.values import full_date

WIDTH, HEIGHT, PAD = 360, 140, 28


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    measure: Measure


@dataclass(frozen=True, slots=True)
class Trend:
    points: tuple[Point, ...]
    first: str
    last: str

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


def _day(value: str) -> date | None:
    if len(value) == 7:
        value = f"{value}-15"
    elif len(value) == 4:
        value = f"{value}-07-01"
    return full_date(value)


def trend(measures: tuple[Measure, ...]) -> Trend | None:
    """Oldest to newest; whole-body measures only (regional values are listed, not plotted)."""
    dated = [(d, m) for m in measures if m.region is None and (d := _day(m.date)) is not None]
    if not dated:
        return None
    dated.sort(key=lambda item: (item[0], item[1].source))
    start, end = dated[0][0], dated[-1][0]
    span = max((end - start).days, 1)
    y_max = max(max(m.value for _d, m in dated), Decimal(1)) * Decimal("1.15")
    points = []
    for day, m in dated:
        x = PAD + (WIDTH - 2 * PAD) * ((day - start).days / span if len(dated) > 1 else 0.5)
        y = HEIGHT - PAD - (HEIGHT - 2 * PAD) * float(m.value / y_max)
        points.append(Point(round(x, 1), round(y, 1), m))
    return Trend(tuple(points), dated[0][1].date, dated[-1][1].date)


@dataclass(frozen=True, slots=True)
class Bar:
    left: float
    width: float
    therapy: Therapy


@dataclass(frozen=True, slots=True)
class Timeline:
    bars: tuple[Bar, ...]
    start: str
    end: str


def timeline(therapies: tuple[Therapy, ...], as_of: date) -> Timeline | None:
    """Bars positioned in percent of the span from the first start to `as_of`."""
    spans = []
    for t in therapies:
        first = _day(t.start) if t.start else None
        if first is None:
            continue
        last = _day(t.end) if t.end else None
        spans.append((first, last, t))
    if not spans:
        return None
    spans.sort(key=lambda s: (s[0], s[2].source))
    origin = spans[0][0]
    finish = max([as_of, *(last for _f, last, _t in spans if last)])
    total = max((finish - origin).days, 1)
    bars = []
    for first, last, t in spans:
        stop = last or (as_of if t.outcome.value == "ongoing" else first)
        left = 100 * (first - origin).days / total
        width = max(100 * (stop - first).days / total, 0.8)
        bars.append(Bar(round(left, 2), round(min(width, 100 - left), 2), t))
    return Timeline(tuple(bars), origin.isoformat(), finish.isoformat())
