"""Our 835 writer on synthetic dermatology remittances, frozen in fixtures/x12/835/
(UPDATE_GOLDENS=1 rewrites them: review the diff before committing). Clock and control numbers
are injected, so output is byte-for-byte deterministic; each golden reads back, without problems,
to the model that wrote it; what cannot be written is refused with a located error."""

from __future__ import annotations

import dataclasses
import os
from decimal import Decimal

import pytest

from integration.paths import fixtures_dir
from integration.x12.errors import X12Error
from integration.x12.t278_005010x217 import Procedure
from integration.x12.t835_005010x221a1 import (
    AdjustmentReason,
    AdjustmentSegment,
    read_835,
    write_835,
)
from tests.unit.denials.era_scenarios import (
    PAID_CLAIM,
    PAYER_PARAMS,
    clock,
    control_numbers,
    remittance,
)

GOLDENS = fixtures_dir() / "x12" / "835"


def check_golden(name: str, text: str) -> None:
    path = GOLDENS / f"{name}.835"
    if os.environ.get("UPDATE_GOLDENS") == "1":
        path.write_text(text, encoding="ascii", newline="")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDENS=1 and review it"
    assert text == path.read_bytes().decode("ascii")


def test_golden_paid_denied_and_interest() -> None:
    model = remittance()
    text = write_835(model, PAYER_PARAMS, clock, control_numbers(), segment_suffix="\n")
    check_golden("paid-denied-interest", text)
    models, problems = read_835(text)
    assert problems == []
    assert models == [model]
    assert text == write_835(model, PAYER_PARAMS, clock, control_numbers(), segment_suffix="\n")


def test_seven_cas_triplets_are_refused() -> None:
    seven = AdjustmentSegment("CO", tuple(AdjustmentReason("45", Decimal(1)) for _ in range(7)))
    bad = dataclasses.replace(PAID_CLAIM, cas=(seven,))
    with pytest.raises(X12Error) as exc:
        write_835(remittance(claims=(bad,)), PAYER_PARAMS, clock, control_numbers())
    assert [p.render() for p in exc.value.problems] == [
        "2100 CAS: expected 1 to 6 adjustment triplets, got 7"
    ]


def test_five_modifiers_are_refused() -> None:
    service = dataclasses.replace(
        PAID_CLAIM.services[0], procedure=Procedure("HC", "11102", ("1", "2", "3", "4", "5"))
    )
    bad = dataclasses.replace(PAID_CLAIM, services=(service,))
    with pytest.raises(X12Error) as exc:
        write_835(remittance(claims=(bad,)), PAYER_PARAMS, clock, control_numbers())
    assert [p.render() for p in exc.value.problems] == [
        "2110 SVC01: expected at most 4 modifiers, got 5"
    ]
