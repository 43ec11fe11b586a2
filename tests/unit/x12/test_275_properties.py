"""Properties of the 275's binary document: any octets, delimiters included, come back exactly,
whether the interchange is read whole, streamed in chunks of any size, or tokenized from text
cut anywhere."""

from __future__ import annotations

import io
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from integration.x12.delimiters import read_delimiters
from integration.x12.envelope import decode, encode, read_transactions_from
from integration.x12.errors import Problem
from integration.x12.guides import parse_transaction
from integration.x12.segments import iter_segments, iter_segments_from
from integration.x12.t275_005010x210 import read_275, write_275
from tests.unit.x12.scenarios_275 import CLINIC_PARAMS, appeal, clock, control_numbers

# payloads rich in what breaks naive X12 code: the delimiters, "BIN*", NUL, 0xFF, CR/LF, UTF-8
DANGEROUS = st.sampled_from(
    [b"~", b"*", b":", b"^", b"\x00", b"\xff", b"\r\n", b"BIN*", b"SE*1*0001~", b"\xc3\xa9", b" "]
)
PAYLOADS = st.one_of(
    st.binary(min_size=1, max_size=600),
    st.lists(st.one_of(DANGEROUS, st.binary(max_size=8)), min_size=1, max_size=60)
    .map(b"".join)
    .filter(bool),
)


@settings(max_examples=200, deadline=None)
@given(payload=PAYLOADS, suffix=st.sampled_from(["", "\n", "\r\n"]))
def test_any_payload_round_trips(payload: bytes, suffix: str) -> None:
    model = appeal(payload)
    data = write_275(model, CLINIC_PARAMS, clock, control_numbers(), segment_suffix=suffix)
    models, problems = read_275(data)
    assert problems == []
    assert models == [model]
    assert models[0].documents[0].data == payload


@settings(max_examples=100, deadline=None)
@given(payloads=st.lists(PAYLOADS, min_size=1, max_size=3), chunk=st.integers(1, 64))
def test_streamed_reading_keeps_every_octet(payloads: list[bytes], chunk: int) -> None:
    base = appeal()
    docs = tuple(
        replace(base.documents[0], control_number=f"APL7-{n}", data=p)
        for n, p in enumerate(payloads, start=1)
    )
    model = replace(base, documents=docs)
    data = write_275(model, CLINIC_PARAMS, clock, control_numbers())
    envelope_problems: list[Problem] = []
    txns = list(read_transactions_from(io.BytesIO(data), envelope_problems, chunk_size=chunk))
    assert len(txns) == 1 and envelope_problems == []
    _, read, problems = parse_transaction(txns[0])
    assert problems == []
    assert read == model


@settings(max_examples=100, deadline=None)
@given(payload=PAYLOADS, data=st.data())
def test_tokenizing_is_the_same_wherever_the_text_is_cut(
    payload: bytes, data: st.DataObject
) -> None:
    text = decode(write_275(appeal(payload), CLINIC_PARAMS, clock, control_numbers()))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=30)))
    chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    delimiters = read_delimiters(text)
    assert list(iter_segments_from(chunks, delimiters)) == list(iter_segments(text, delimiters))


@settings(max_examples=100, deadline=None)
@given(payload=PAYLOADS)
def test_encode_inverts_decode(payload: bytes) -> None:
    data = write_275(appeal(payload), CLINIC_PARAMS, clock, control_numbers())
    assert encode(decode(data)) == data
