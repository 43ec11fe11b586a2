"""FHIR dates as ranges, and the date search prefixes (https://hl7.org/fhir/R4/search.html#date).

Every FHIR date, dateTime, instant or Period stands for a half-open range [low, high) in UTC:
`2024` is the whole year, `2024-03-01` the whole day, `2024-03-01T10:00:00Z` one second. A
search value is a range too, and the prefixes compare the two ranges the way the spec says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

NEGATIVE_INFINITY = datetime.min.replace(tzinfo=UTC)
POSITIVE_INFINITY = datetime.max.replace(tzinfo=UTC)

Prefix = Literal["eq", "gt", "lt", "ge", "le"]
PREFIXES: tuple[Prefix, ...] = ("eq", "gt", "lt", "ge", "le")

_DATE = re.compile(
    r"^(?P<year>\d{4})"
    r"(?:-(?P<month>\d{2})"
    r"(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:\.(?P<fraction>\d+))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?"
    r")?)?)?$"
)


@dataclass(frozen=True, slots=True)
class DateRange:
    low: datetime
    """Inclusive, UTC."""
    high: datetime
    """Exclusive, UTC."""


@dataclass(frozen=True, slots=True)
class DateCriterion:
    prefix: Prefix
    range: DateRange

    def matches(self, target: DateRange) -> bool:
        search = self.range
        contained = search.low <= target.low and target.high <= search.high
        if self.prefix == "eq":
            return contained
        if self.prefix == "gt":
            return target.high > search.high
        if self.prefix == "lt":
            return target.low < search.low
        if self.prefix == "ge":
            return target.high > search.high or contained
        return target.low < search.low or contained


def parse_date(text: str) -> DateRange | None:
    """The range a FHIR date, dateTime or instant stands for; None if `text` is not one."""
    match = _DATE.match(text)
    if match is None:
        return None
    parts = match.groupdict()
    try:
        year = int(parts["year"])
        if parts["month"] is None:
            low = datetime(year, 1, 1, tzinfo=UTC)
            return DateRange(low, _add_years(low, 1))
        month = int(parts["month"])
        if parts["day"] is None:
            low = datetime(year, month, 1, tzinfo=UTC)
            return DateRange(low, _add_months(low))
        day = int(parts["day"])
        if parts["hour"] is None:
            low = datetime(year, month, day, tzinfo=UTC)
            return DateRange(low, _add(low, timedelta(days=1)))
        local = datetime(
            year,
            month,
            day,
            int(parts["hour"]),
            int(parts["minute"]),
            int(parts["second"] or 0),
            int((parts["fraction"] or "0")[:6].ljust(6, "0")),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    tz = parts["tz"]
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        hours, minutes = int(tz[1:3]), int(tz[4:6])
        if hours > 14 or minutes > 59:
            return None
        local = local - sign * timedelta(hours=hours, minutes=minutes)
    if parts["second"] is None:
        width = timedelta(minutes=1)
    elif parts["fraction"] is None:
        width = timedelta(seconds=1)
    else:
        digits = min(len(parts["fraction"]), 6)
        width = timedelta(microseconds=10 ** (6 - digits))
    return DateRange(local, _add(local, width))


def range_of_element(value: Any) -> DateRange | None:
    """The range of a date-like element value: a date/dateTime/instant string or a Period."""
    if isinstance(value, str):
        return parse_date(value)
    if isinstance(value, dict):
        start = value.get("start")
        end = value.get("end")
        low = parse_date(start) if isinstance(start, str) else None
        high = parse_date(end) if isinstance(end, str) else None
        if low is None and high is None:
            return None
        return DateRange(
            low.low if low is not None else NEGATIVE_INFINITY,
            high.high if high is not None else POSITIVE_INFINITY,
        )
    return None


def parse_criterion(name: str, raw: str) -> DateCriterion:
    """`ge2024-01-01` -> DateCriterion; raises ValueError saying what is wrong."""
    prefix: Prefix = "eq"
    text = raw
    if len(raw) >= 2 and raw[:2].isalpha():
        candidate = raw[:2]
        if candidate not in PREFIXES:
            raise ValueError(_criterion_error(name, raw))
        prefix = candidate
        text = raw[2:]
    parsed = parse_date(text)
    if parsed is None:
        raise ValueError(_criterion_error(name, raw))
    return DateCriterion(prefix, parsed)


def _criterion_error(name: str, raw: str) -> str:
    return f"{name}: expected a prefix ge, le, gt, lt or eq and a date, got {raw!r}"


def _add(moment: datetime, delta: timedelta) -> datetime:
    try:
        return moment + delta
    except OverflowError:
        return POSITIVE_INFINITY


def _add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return POSITIVE_INFINITY


def _add_months(moment: datetime) -> datetime:
    if moment.month == 12:
        return _add_years(moment.replace(month=1), 1)
    return moment.replace(month=moment.month + 1)
