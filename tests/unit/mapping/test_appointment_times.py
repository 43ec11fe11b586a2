"""The `appointment-times` transform: an Appointment's start and end as a pair (R4 app-3).

The SIU map (mappings/hl7v2/siu.yaml) reads start from SCH-11.4 / TQ1-7 / AIS-4 and end from
SCH-11.5 / TQ1-8; the transform fills the one not sent from `minutesDuration`, or drops a lone
one, so an Appointment never carries half a period.
"""

from __future__ import annotations

from typing import Any

import pytest

from integration.mapping.evidence_maps import load_evidence_maps
from integration.mapping.hl7v2_transforms import hl7_transforms


@pytest.fixture(scope="module")
def times() -> Any:
    return hl7_transforms(load_evidence_maps())["appointment-times"]


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        # an end from the start, in the start's offset, across midnight and a DST change
        (
            {"start": "2025-03-20T14:00:00-04:00", "minutesDuration": 30},
            ("2025-03-20T14:00:00-04:00", "2025-03-20T14:30:00-04:00"),
        ),
        (
            {"start": "2025-11-02T23:45:00-05:00", "minutesDuration": 45},
            ("2025-11-02T23:45:00-05:00", "2025-11-03T00:30:00-05:00"),
        ),
        (
            {"start": "2025-03-09T01:30:00-05:00", "minutesDuration": 60},
            (
                "2025-03-09T01:30:00-05:00",
                "2025-03-09T02:30:00-05:00",
            ),  # the same instant as 03:30-04:00
        ),
        # UTC written as Z stays Z; fractions of a second are kept
        (
            {"start": "2025-03-20T18:00:00Z", "minutesDuration": 15},
            ("2025-03-20T18:00:00Z", "2025-03-20T18:15:00Z"),
        ),
        (
            {"start": "2025-03-20T18:00:00.250+00:00", "minutesDuration": 15},
            ("2025-03-20T18:00:00.250+00:00", "2025-03-20T18:15:00.250+00:00"),
        ),
        # a start from the end
        (
            {"end": "2025-03-20T14:30:00-04:00", "minutesDuration": 30},
            ("2025-03-20T14:00:00-04:00", "2025-03-20T14:30:00-04:00"),
        ),
        # both sent: kept as sent, even when the duration disagrees
        (
            {
                "start": "2025-03-20T14:00:00-04:00",
                "end": "2025-03-20T15:00:00-04:00",
                "minutesDuration": 30,
            },
            ("2025-03-20T14:00:00-04:00", "2025-03-20T15:00:00-04:00"),
        ),
    ],
)
def test_the_pair_is_completed_from_the_duration(
    times: Any, sent: dict[str, Any], expected: tuple[str, str]
) -> None:
    out = times({"resourceType": "Appointment", "status": "booked", **sent})
    assert (out["start"], out["end"]) == expected
    assert out["status"] == "booked"


@pytest.mark.parametrize(
    "sent",
    [
        {"start": "2025-03-20T14:00:00-04:00"},
        {"end": "2025-03-20T14:30:00-04:00"},
        {"start": "2025-03-20T14:00:00-04:00", "minutesDuration": 0},
    ],
)
def test_a_lone_start_or_end_without_a_duration_is_left_out(
    times: Any, sent: dict[str, Any]
) -> None:
    out = times({"resourceType": "Appointment", **sent})
    assert "start" not in out and "end" not in out


def test_neither_sent_changes_nothing(times: Any) -> None:
    sent = {"resourceType": "Appointment", "status": "proposed", "minutesDuration": 20}
    assert times(sent) == sent
