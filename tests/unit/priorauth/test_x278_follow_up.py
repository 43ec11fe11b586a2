"""A case's 278 re-sent as an appeal or a cancellation (TR3 005010X217): BHT02 01 and UM02 3 on a
cancellation, UM02 2 on an appeal, the payer's numbers in 2000E REF (BB authorization, NT the
payer's review reference); it reads back as the same model."""

from __future__ import annotations

import pytest

from integration.domain.priorauth import FollowUp
from integration.priorauth.channels.x278 import follow_up_request
from integration.x12.t278_005010x217 import read_278_request, write_278_request
from tests.unit.x12.scenarios import CLINIC_PARAMS, REQUESTS, clock, control_numbers


@pytest.mark.parametrize(
    ("kind", "bht02", "um02"), [(FollowUp.CANCEL, "01", "3"), (FollowUp.APPEAL, "13", "2")]
)
def test_follow_up_278_round_trips_with_its_purpose_and_references(
    kind: FollowUp, bht02: str, um02: str
) -> None:
    original = next(iter(REQUESTS.values()))
    model = follow_up_request(original, kind, auth_number="SBXPA1", payer_reference="REV-9")

    text = write_278_request(model, CLINIC_PARAMS, clock, control_numbers(), segment_suffix="\n")

    assert f"\nBHT*0007*{bht02}*" in text
    assert f"\nUM*{original.event.review.request_category}*{um02}*" in text  # type: ignore[union-attr]
    assert "\nREF*BB*SBXPA1~\n" in text and "\nREF*NT*REV-9~\n" in text
    models, problems = read_278_request(text)
    assert problems == []
    assert models == [model]
