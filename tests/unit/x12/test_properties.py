"""Property-based tests: segment build/tokenize round trip under random valid delimiter sets,
and envelope counts always right on write."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration.x12.delimiters import Delimiters, read_delimiters
from integration.x12.envelope import (
    GroupHeader,
    InterchangeHeader,
    TransactionBody,
    read_transactions,
    write_interchange,
)
from integration.x12.errors import Problem, X12Error
from integration.x12.segments import Composite, build_segment, tokenize

SEPARATORS = "*|^:~!>+\\`{}<"
TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)


@st.composite
def delimiter_sets(draw: st.DrawFn) -> Delimiters:
    chars = draw(st.permutations(list(SEPARATORS)))
    return Delimiters(element=chars[0], repetition=chars[1], component=chars[2], segment=chars[3])


def clean(values: str, d: Delimiters) -> str:
    return "".join(c for c in values if c not in d.characters()).strip()


@given(
    d=delimiter_sets(), raw=st.lists(st.lists(TEXT, min_size=1, max_size=4), min_size=1, max_size=8)
)
def test_build_then_tokenize_round_trips(d: Delimiters, raw: list[list[str]]) -> None:
    elements: list[Composite] = [tuple(clean(c, d) for c in comps) for comps in raw]
    text = build_segment("ZZZ", elements, d)
    (segment,) = tokenize(text, d)
    assert segment.id == "ZZZ"

    def trimmed(comps: Composite) -> Composite:
        out = list(comps)
        while out and out[-1] == "":
            out.pop()
        return tuple(out)

    expected = [trimmed(c) for c in elements]
    while expected and expected[-1] == ():
        expected.pop()
    got = [segment.components(i) for i in range(1, len(segment.elements) + 1)]
    assert got == expected


@given(d=delimiter_sets(), value=TEXT.filter(lambda v: v != ""), sep=st.sampled_from(range(4)))
def test_a_delimiter_in_a_value_is_refused(d: Delimiters, value: str, sep: int) -> None:
    poisoned = value + d.characters()[sep]
    with pytest.raises(X12Error, match=r"^ZZZ02 \(segment 3\): expected a value without the "):
        build_segment("ZZZ", ["A", poisoned], d, index=3)


@settings(max_examples=50)
@given(
    d=delimiter_sets(),
    shape=st.lists(
        st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=4),
        min_size=1,
        max_size=3,
    ),
    suffix=st.sampled_from(["", "\n", "\r\n"]),
)
def test_envelope_counts_are_always_right(
    d: Delimiters, shape: list[list[int]], suffix: str
) -> None:
    moment = datetime(2026, 1, 2, 3, 4)
    interchange = InterchangeHeader(
        sender_qualifier="ZZ",
        sender_id="A",
        receiver_qualifier="ZZ",
        receiver_id="B",
        created=moment,
        control_number="000000042",
        usage_indicator="T",
        repetition_field=d.repetition or "U",
    )
    groups = []
    for g, transactions in enumerate(shape, start=1):
        header = GroupHeader(
            functional_id="HI",
            application_sender="A",
            application_receiver="B",
            created=moment,
            control_number=str(g),
            version="005010X217",
        )
        bodies = [
            TransactionBody(
                "278", f"{t:04d}", "005010X217", [("NTE", ["X", str(i)]) for i in range(size)]
            )
            for t, size in enumerate(transactions, start=1)
        ]
        groups.append((header, bodies))
    text = write_interchange(interchange, groups, d, suffix)
    assert read_delimiters(text) == d
    problems: list[Problem] = []
    txns = list(read_transactions(text, problems))
    assert problems == []
    assert [t.problems for t in txns] == [() for _ in txns]
    assert [len(t.body) for t in txns] == [size for transactions in shape for size in transactions]
    assert txns[0].context.interchange == interchange
