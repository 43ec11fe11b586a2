"""`iter_835_claims` gives, claim by claim, what `read_835` gives for the whole file (same
headers, same claims, same problems) on every 835 sample, whatever the chunk size; and it holds
one claim at a time, so a large file streams."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from integration.x12.errors import Problem
from integration.x12.t835_005010x221a1 import iter_835_claims, read_835, write_835
from tests.unit.denials.era_scenarios import (
    PAID_CLAIM,
    PAYER_PARAMS,
    clock,
    control_numbers,
    remittance,
)

SAMPLES = sorted(Path("/work/shared/data/x12").glob("835__*"))


@pytest.mark.parametrize("size", [1, 7, 4096])
@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_claims_stream_like_the_whole_reader(path: Path, size: int) -> None:
    data = path.read_bytes()
    models, expected_problems = read_835(data)
    problems: list[Problem] = []
    got = list(iter_835_claims(io.BytesIO(data), problems, chunk_size=size))
    assert got == [(m.header, c) for m in models for c in m.claims]
    assert sorted(p.render() for p in problems) == sorted(p.render() for p in expected_problems)


def test_claims_arrive_before_the_file_is_read() -> None:
    many = remittance(claims=(PAID_CLAIM,) * 2000)
    data = write_835(many, PAYER_PARAMS, clock, control_numbers()).encode()
    stream = io.BytesIO(data)
    claims = iter_835_claims(stream, [], chunk_size=4096)
    header, first = next(claims)
    assert first == PAID_CLAIM and header.trace_number == "EFT0000001"
    assert stream.tell() < len(data) // 100
    assert sum(1 for _ in claims) == 1999


def test_an_unreadable_file_is_one_located_problem() -> None:
    problems: list[Problem] = []
    assert list(iter_835_claims(io.BytesIO(b"ST*835*1~"), problems)) == []
    assert [p.render() for p in problems] == [
        "(segment 0): expected the interchange to start with ISA, got 'ST*'"
    ]
