"""Chart dates as ranges: "2024-02" is any day of February 2024, never assumed to be the 1st."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


@dataclass(frozen=True, slots=True)
class DateRange:
    first: date
    last: date


def date_range(text: str | None) -> DateRange | None:
    """The days a FHIR date or dateTime (YYYY, YYYY-MM, YYYY-MM-DD[Thh:mm...]) may mean; the
    date part of a dateTime is taken as written. None when unreadable."""
    if not text:
        return None
    match = _DATE.match(text)
    if match is None:
        return None
    year, month, day = match.groups()
    try:
        if day is not None:
            one = date(int(year), int(month), int(day))
            return DateRange(one, one)
        if month is not None:
            m = int(month)
            return DateRange(
                date(int(year), m, 1), date(int(year), m, calendar.monthrange(int(year), m)[1])
            )
        return DateRange(date(int(year), 1, 1), date(int(year), 12, 31))
    except ValueError:
        return None
