"""Property tests: any valid 999 model survives write -> read unchanged, and a 999 built from
any set of located element problems on a clean 837P is written, reads back and validates under
pyx12."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integration.x12 import x231_codes as codes
from integration.x12.envelope import EnvelopeParams, SequentialControlNumbers, read_transactions
from integration.x12.errors import Problem
from integration.x12.t999_005010x231a1 import (
    Ack999,
    ElementNote,
    ElementPosition,
    SegmentContext,
    SegmentNote,
    TransactionResponse,
    build_999,
    read_999,
    write_999,
)
from tests.unit.x12.pyx12_check_999 import pyx12_errors

PARAMS = EnvelopeParams(
    sender_qualifier="ZZ",
    sender_id="SANDBOXCH",
    receiver_qualifier="ZZ",
    receiver_id="DERMRCM",
    usage_indicator="T",
)
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# Printable ASCII without our delimiters (* ^ : ~); no surrounding spaces (segments are stripped).
VALUE = st.text(
    alphabet="".join(c for c in map(chr, range(0x20, 0x7F)) if c not in "*^:~"), max_size=20
).map(str.strip)
SMALL = st.integers(min_value=1, max_value=99)


def clock() -> datetime:
    return datetime(2026, 3, 2, 9, 30)


positions = st.builds(
    ElementPosition, SMALL, st.none() | SMALL, st.none() | st.integers(min_value=1, max_value=999)
)
contexts = st.builds(
    SegmentContext,
    name=st.text(alphabet=ALNUM + " ", min_size=1, max_size=20).map(str.strip).filter(bool),
    reference=VALUE,
    segment_id=st.text(alphabet=ALNUM, min_size=2, max_size=3),
    segment_position=st.none() | SMALL,
    loop_id=st.text(alphabet=ALNUM, max_size=4),
    position=st.none() | positions,
    element_reference=st.lists(st.integers(1, 9999).map(str), max_size=2).map(tuple),
)
elements = st.builds(
    ElementNote,
    position=positions,
    error_code=st.sampled_from(sorted(codes.ELEMENT_ERROR_CODES)),
    reference_number=st.none().map(lambda _: "") | st.integers(1, 9999).map(str),
    bad_value=VALUE,
    contexts=st.lists(contexts, max_size=2).map(tuple),
)
segment_notes = st.builds(
    SegmentNote,
    segment_id=st.text(alphabet=ALNUM, min_size=2, max_size=3),
    position=st.integers(1, 999999),
    loop_id=st.text(alphabet=ALNUM, max_size=4),
    error_code=st.sampled_from(sorted(codes.SEGMENT_ERROR_CODES)),
    contexts=st.lists(contexts, max_size=2).map(tuple),
    elements=st.lists(elements, max_size=3).map(tuple),
)
responses = st.builds(
    TransactionResponse,
    transaction_set_id=st.sampled_from(["270", "276", "278", "834", "837"]),
    control_number=st.text(alphabet="0123456789", min_size=4, max_size=9),
    implementation_reference=st.sampled_from(["", "005010X222A1", "005010X279A1"]),
    segments=st.lists(segment_notes, max_size=3).map(tuple),
    status=st.sampled_from(sorted(codes.TRANSACTION_ACK_CODES)),
    error_codes=st.lists(st.sampled_from(sorted(codes.TRANSACTION_ERROR_CODES)), max_size=5).map(
        tuple
    ),
)
acks = st.builds(
    Ack999,
    functional_id=st.sampled_from(["HC", "HS", "HI", "HR", "BE"]),
    group_control_number=st.integers(1, 999999999).map(str),
    version=st.sampled_from(["", "005010X222A1", "005010X212"]),
    transactions=st.lists(responses, max_size=3).map(tuple),
    status=st.sampled_from(sorted(codes.GROUP_ACK_CODES)),
    included=st.integers(0, 999999),
    received=st.integers(0, 999999),
    accepted=st.integers(0, 999999),
    error_codes=st.lists(st.sampled_from(sorted(codes.GROUP_ERROR_CODES)), max_size=5).map(tuple),
)


@given(ack=acks)
def test_write_then_read_round_trips(ack: Ack999) -> None:
    text = write_999(ack, PARAMS, clock, SequentialControlNumbers())
    read, problems = read_999(text)
    assert problems == []
    assert read == [ack]


CLEAN_837 = Path("/work/shared/data/x12/837P__LinuxForHealth__demo.example1.837").read_text()
BODY = next(iter(read_transactions(CLEAN_837))).body


@st.composite
def located_problems(draw: st.DrawFn) -> list[Problem]:
    out: list[Problem] = []
    for _ in range(draw(st.integers(0, 4))):
        seg = draw(st.sampled_from(BODY))
        position = draw(st.integers(1, max(1, len(seg.elements))))
        out.append(
            Problem(
                message=draw(
                    st.sampled_from(
                        [
                            "expected one of A, B, got 'Q'",
                            "expected a date CCYYMMDD, got 'x'",
                            "got ''",
                        ]
                    )
                ),
                segment_id=seg.id,
                segment_index=seg.index,
                element=seg.name(position),
                component=draw(st.none() | st.integers(1, 2)),
                loop_id=draw(st.sampled_from([None, "2300", "2010BA", "2400"])),
            )
        )
    return out


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems=located_problems())
def test_built_999s_read_back_and_validate(problems: list[Problem]) -> None:
    (ack,) = build_999(CLEAN_837, problems)
    assert ack.status == ("R" if problems else "A")
    text = write_999(ack, PARAMS, clock, SequentialControlNumbers())
    assert read_999(text) == ([ack], [])
    assert pyx12_errors(text) == []
