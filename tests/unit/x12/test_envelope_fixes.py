"""Envelope fixes: TA1 segments between ISA and GS (and TA1-only interchanges) are read without
problems and written by `write_interchange`; GS05 times are kept as sent (7-8 digits too) so a
file round-trips; ISA12 must be 00501.

Fixture: the synthetic 837P golden fixtures/x12/837p/biopsy-99213-25-11102-11103.x12 (see
PROVENANCE.md beside it); the TA1 interchanges are written here."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import pytest

from integration.x12.envelope import (
    EnvelopeParams,
    SequentialControlNumbers,
    read_transactions,
    write_interchange,
    write_transaction,
)
from integration.x12.errors import Problem
from integration.x12.t999_005010x231a1 import read_999
from integration.x12.ta1 import InterchangeAck, read_ta1, write_ta1

FIXTURES = Path(__file__).parents[3] / "fixtures" / "x12"
CLAIM = (FIXTURES / "837p" / "biopsy-99213-25-11102-11103.x12").read_text()
PARAMS = EnvelopeParams(
    sender_qualifier="ZZ",
    sender_id="SANDBOXPAYER",
    receiver_qualifier="ZZ",
    receiver_id="DERMRCM",
    usage_indicator="T",
)
ACK = InterchangeAck(
    control_number="000002001",
    interchange_date=date(2026, 3, 2),
    interchange_time=time(9, 30),
    status="A",
    note_code="000",
)


def clock() -> datetime:
    return datetime(2026, 3, 2, 10, 0)


def segments(text: str) -> list[str]:
    return [s.strip() for s in text.split("~") if s.strip()]


def test_a_ta1_only_interchange_reads_without_problems() -> None:
    text = write_ta1([ACK], PARAMS, clock, SequentialControlNumbers(interchange=7))
    assert segments(text)[1:] == ["TA1*000002001*260302*0930*A*000", "IEA*0*000000007"]
    problems: list[Problem] = []
    assert list(read_transactions(text, problems)) == [] and problems == []
    (acks,), ta1_problems = read_ta1(text)
    assert acks.acks == (ACK,) and ta1_problems == []


def test_a_ta1_before_the_group_of_a_999_is_not_a_problem() -> None:
    ack999 = (FIXTURES / "999" / "999-accepted-837p-example1.x12").read_text()
    isa = segments(ack999)[0]
    text = ack999.replace(isa + "~", isa + "~TA1*000002001*260302*0930*A*000~", 1)
    models, problems = read_999(text)
    assert len(models) == 1 and problems == []
    (acks,), _ = read_ta1(text)
    assert acks.acks == (ACK,)


def test_a_ta1_after_a_group_is_still_a_problem() -> None:
    text = CLAIM.replace("IEA*", "TA1*000002001*260302*0930*A*000~IEA*", 1)
    problems: list[Problem] = []
    list(read_transactions(text, problems))
    assert [p.render() for p in problems] == ["TA1 (segment 36): expected GS, got 'TA1'"]


def test_write_interchange_puts_interchange_segments_before_the_groups() -> None:
    (txn,) = read_transactions(CLAIM)
    header = txn.context.interchange
    text = write_interchange(
        header, [], interchange_segments=[("TA1", ["000000001", "260302", "0930", "A", "000"])]
    )
    assert segments(text)[1:] == ["TA1*000000001*260302*0930*A*000", "IEA*0*000002001"]


@pytest.mark.parametrize("gs05", ["0930", "093015", "0930150", "09301599"])
def test_gs05_is_kept_as_sent(gs05: str) -> None:
    text = CLAIM.replace("*20260302*0930*2001*", f"*20260302*{gs05}*2001*", 1)
    problems: list[Problem] = []
    (txn,) = read_transactions(text, problems)
    assert problems == [] and txn.problems == ()
    assert txn.context.group.time_sent == gs05
    written = write_transaction(txn.context, [(s.id, s.values()) for s in txn.body])
    assert segments(written) == segments(text)


def test_a_new_group_writes_its_time_from_the_clock() -> None:
    from integration.x12.envelope import new_transaction_context

    context = new_transaction_context(
        PARAMS,
        transaction_set_id="999",
        implementation_reference="005010X231A1",
        functional_id="FA",
        clock=lambda: datetime(2026, 3, 2, 10, 0, 5),
        control_numbers=SequentialControlNumbers(),
    )
    assert segments(write_transaction(context, []))[1].split("*")[5] == "100005"
