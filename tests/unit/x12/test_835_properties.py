"""Property-based tests for the 835: random CAS triplets and amounts round-trip through the
writer and reader (balanced, so without problems); truncated or corrupted 835 text never raises
and every problem found is located."""

from __future__ import annotations

import dataclasses
import io
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from integration.x12.errors import Problem
from integration.x12.t835_005010x221a1 import (
    AdjustmentReason,
    AdjustmentSegment,
    iter_835_claims,
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

AMOUNTS = st.decimals(
    min_value=Decimal("-99999.99"), max_value=Decimal("99999.99"), places=2, allow_nan=False
)
QUANTITIES = st.none() | st.decimals(
    min_value=Decimal(0), max_value=Decimal("999.9"), places=1, allow_nan=False
)
REASONS = st.from_regex(r"[A-Z0-9]{1,3}", fullmatch=True)
TRIPLETS = st.builds(AdjustmentReason, REASONS, AMOUNTS, QUANTITIES)
CAS = st.builds(
    AdjustmentSegment,
    st.sampled_from(["CO", "OA", "PI", "PR"]),
    st.lists(TRIPLETS, min_size=1, max_size=6).map(tuple),
)


@settings(max_examples=60, deadline=None)
@given(
    claim_cas=st.lists(CAS, max_size=3),
    line_cas=st.lists(CAS, max_size=3),
    paid=AMOUNTS,
)
def test_random_adjustments_round_trip(
    claim_cas: list[AdjustmentSegment], line_cas: list[AdjustmentSegment], paid: Decimal
) -> None:
    line_total = sum((r.amount for s in line_cas for r in s.reasons), Decimal(0))
    claim_total = sum((r.amount for s in claim_cas for r in s.reasons), Decimal(0))
    service = dataclasses.replace(
        PAID_CLAIM.services[0],
        charge=paid + line_total,
        paid=paid,
        cas=tuple(line_cas),
        amounts=(),
    )
    claim = dataclasses.replace(
        PAID_CLAIM,
        charge=paid + line_total + claim_total,
        paid=paid,
        cas=tuple(claim_cas),
        services=(service,),
    )
    model = remittance(claims=(claim,), plb=())
    text = write_835(model, PAYER_PARAMS, clock, control_numbers())
    models, problems = read_835(text)
    assert [p.render() for p in problems] == []
    assert models == [model]


SAMPLE = Path("/work/shared/data/x12/835__LinuxForHealth__secondary-payment.835").read_text()
CLEAN = write_835(remittance(), PAYER_PARAMS, clock, control_numbers(), segment_suffix="\n")


def located(problems: list[Problem]) -> bool:
    return all(p.segment_index is not None or p.element is not None for p in problems)


@settings(max_examples=150, deadline=None)
@given(text=st.sampled_from([SAMPLE, CLEAN]), data=st.data())
def test_truncated_text_never_raises_and_is_located(text: str, data: st.DataObject) -> None:
    body = text.rstrip()
    cut = data.draw(st.integers(min_value=0, max_value=len(body) - 2))
    truncated = body[:cut]
    _, problems = read_835(truncated)
    assert problems, "a truncated interchange must report something"
    assert located(problems)
    streamed: list[Problem] = []
    list(iter_835_claims(io.StringIO(truncated), streamed, chunk_size=13))
    assert streamed and located(streamed)


@settings(max_examples=150, deadline=None)
@given(
    text=st.sampled_from([SAMPLE, CLEAN]),
    data=st.data(),
    junk=st.text(alphabet="*~:^>0123456789ABC.-\n ", min_size=1, max_size=6),
)
def test_corrupted_text_never_raises_and_is_located(
    text: str, data: st.DataObject, junk: str
) -> None:
    at = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
    width = data.draw(st.integers(min_value=0, max_value=8))
    corrupted = text[:at] + junk + text[at + width :]
    _, problems = read_835(corrupted)
    assert located(problems)
    streamed: list[Problem] = []
    list(iter_835_claims(io.BytesIO(corrupted.encode()), streamed, chunk_size=7))
    assert located(streamed)
