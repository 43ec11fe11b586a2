"""The streaming reader (`read_transactions_from`) gives exactly what the text reader gives, on
every sample in /work/shared/data/x12 (public files, see PROVENANCE.md there), whatever the chunk
size, from binary and text file objects; a chunk may end anywhere, even inside a CR LF or a BOM."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration.x12.delimiters import read_delimiters
from integration.x12.envelope import (
    SupportsRead,
    Transaction,
    TransactionEnd,
    TransactionStart,
    iter_transaction_events,
    read_transactions,
    read_transactions_from,
)
from integration.x12.errors import Problem, X12Error
from integration.x12.segments import iter_segments, iter_segments_from

SAMPLES = sorted(p for p in Path("/work/shared/data/x12").iterdir() if "__" in p.name)


def text_read(data: bytes) -> tuple[list[Transaction], list[str]]:
    problems: list[Problem] = []
    try:
        txns = list(read_transactions(data, problems))
    except X12Error as exc:
        return [], [p.render() for p in exc.problems]
    return txns, [p.render() for p in problems]


def stream_read(stream: SupportsRead, size: int) -> tuple[list[Transaction], list[str]]:
    problems: list[Problem] = []
    try:
        txns = list(read_transactions_from(stream, problems, chunk_size=size))
    except X12Error as exc:
        return [], [p.render() for p in exc.problems]
    return txns, [p.render() for p in problems]


def _has_isa(path: Path) -> bool:
    try:
        read_delimiters(path.read_bytes().decode("utf-8-sig"))
    except X12Error:
        return False
    return True


WITH_ISA = [p for p in SAMPLES if _has_isa(p)]


def test_there_are_samples() -> None:
    assert len(SAMPLES) > 50


@pytest.mark.parametrize("size", [1, 7, 4096])
@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_stream_equals_text_reader(path: Path, size: int) -> None:
    data = path.read_bytes()
    expected = text_read(data)
    assert stream_read(io.BytesIO(data), size) == expected
    assert stream_read(io.StringIO(data.decode("utf-8-sig")), size) == expected


def test_a_file_without_isa_is_refused_like_the_text_reader() -> None:
    data = Path("/work/shared/data/x12/835__affect-therapeutics__blue_cross_nc_sample.txt")
    txns, problems = stream_read(io.BytesIO(data.read_bytes()), 7)
    assert txns == []
    assert problems == ["(segment 0): expected the interchange to start with ISA, got 'ST*'"]


def test_a_transaction_is_yielded_as_soon_as_its_se_arrives() -> None:
    data = Path("/work/shared/data/x12/835__Inteligenz__ExampleFromNth.txt").read_bytes()
    stream = io.BytesIO(data)
    first = next(read_transactions_from(stream, [], chunk_size=64))
    assert first.segments[-1].id == "SE"
    assert stream.tell() < len(data)  # the rest of the file has not been read yet


def test_events_stream_body_segments_one_by_one() -> None:
    data = Path("/work/shared/data/x12/835__LinuxForHealth__managed-care.835").read_bytes()
    kinds = [
        "start"
        if isinstance(e, TransactionStart)
        else "end"
        if isinstance(e, TransactionEnd)
        else e.id
        for e in iter_transaction_events(io.BytesIO(data), [], chunk_size=5)
    ]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds[1] == "BPR"
    (txn,) = read_transactions(data)
    assert kinds[1:-1] == [s.id for s in txn.body]


def test_latin1_bytes_are_read_like_the_text_reader() -> None:
    data = Path("/work/shared/data/x12/835__LinuxForHealth__managed-care.835").read_bytes()
    data = data.replace(b"RUSHMORE LIFE", b"RUSHM\xd6RE LIFE")
    for size in (1, 7, 4096):
        assert stream_read(io.BytesIO(data), size) == text_read(data)


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="chunk size"):
        list(read_transactions_from(io.BytesIO(b"ISA"), [], chunk_size=0))


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_segments_are_the_same_wherever_the_chunks_end(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(WITH_ISA))
    text = path.read_bytes().decode("utf-8-sig")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=40)))
    chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    delimiters = read_delimiters(text)
    assert list(iter_segments_from(chunks, delimiters)) == list(iter_segments(text, delimiters))
