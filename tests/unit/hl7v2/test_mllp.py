"""MLLP framing with raw bytes: frames split anywhere, junk, oversized frames, end of input."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration.hl7v2.mllp import (
    END,
    JUNK_PREVIEW,
    START,
    Event,
    Frame,
    Junk,
    MllpDecoder,
    Oversized,
    frame,
)

MSG = b"MSH|^~\\&|DERM|CLINIC|RCM|HOST|20240102||ADT^A08|MSG0001|P|2.5.1\rPID|1||X\r"


def feed_all(decoder: MllpDecoder, chunks: Iterable[bytes]) -> list[Event]:
    events: list[Event] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events


def chop(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    """`data` cut at the given offsets (taken modulo its length, sorted, duplicates kept)."""
    points = sorted(c % (len(data) + 1) for c in cuts) if data else []
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def payloads_of(events: Iterable[Event]) -> list[bytes]:
    return [e.payload for e in events if isinstance(e, Frame)]


# --- frame() -------------------------------------------------------------------------------


def test_frame_wraps_payload_in_start_and_end() -> None:
    assert frame(b"abc") == b"\x0babc\x1c\x0d"
    assert frame(b"") == START + END


@pytest.mark.parametrize("payload", [b"a\x0bb", b"a\x1c\x0db"])
def test_frame_refuses_payload_that_could_not_be_read_back(payload: bytes) -> None:
    with pytest.raises(ValueError, match="MLLP payload"):
        frame(payload)


def test_frame_allows_a_lone_0x1c_and_the_decoder_reads_it_back() -> None:
    assert MllpDecoder().feed(frame(b"a\x1cb\x1c")) == [Frame(b"a\x1cb\x1c")]


# --- complete and split frames -------------------------------------------------------------


def test_one_frame_in_one_read() -> None:
    assert MllpDecoder().feed(frame(MSG)) == [Frame(MSG)]


def test_several_frames_in_one_read() -> None:
    events = MllpDecoder().feed(frame(b"one") + frame(b"two") + frame(b"") + frame(b"three"))
    assert events == [Frame(b"one"), Frame(b"two"), Frame(b""), Frame(b"three")]


def test_frame_fed_byte_by_byte() -> None:
    data = frame(MSG) + frame(b"second")
    events = feed_all(MllpDecoder(), (data[i : i + 1] for i in range(len(data))))
    assert events == [Frame(MSG), Frame(b"second")]


def test_end_split_between_0x1c_and_0x0d() -> None:
    decoder = MllpDecoder()
    assert decoder.feed(b"\x0babc\x1c") == []
    assert decoder.feed(b"\x0d\x0bdef\x1c") == [Frame(b"abc")]
    assert decoder.feed(b"\x0d") == [Frame(b"def")]


def test_0x1c_not_followed_by_0x0d_is_payload() -> None:
    assert MllpDecoder().feed(b"\x0ba\x1cb\x1c\x1c\x0d") == [Frame(b"a\x1cb\x1c")]


def test_0x1c_at_end_of_a_read_then_other_data_is_payload() -> None:
    decoder = MllpDecoder()
    assert decoder.feed(b"\x0ba\x1c") == []
    assert decoder.feed(b"b\x1c") == []
    assert decoder.feed(b"\x0d") == [Frame(b"a\x1cb")]


def test_0x0d_alone_inside_a_frame_is_payload() -> None:
    decoder = MllpDecoder()
    assert decoder.feed(b"\x0bMSH|x\r") == []
    assert decoder.feed(b"\rPID\r\x1c\r") == [Frame(b"MSH|x\r\rPID\r")]


def test_empty_feed_returns_nothing() -> None:
    decoder = MllpDecoder()
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\x0bab") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(END) == [Frame(b"ab")]


# --- junk ----------------------------------------------------------------------------------


def test_junk_before_the_first_frame_and_between_frames() -> None:
    events = MllpDecoder().feed(b"hello" + frame(b"a") + b"\r\n" + frame(b"b"))
    assert events == [Junk(b"hello", 5), Frame(b"a"), Junk(b"\r\n", 2), Frame(b"b")]


def test_junk_after_the_last_frame() -> None:
    assert MllpDecoder().feed(frame(b"a") + b"\n") == [Frame(b"a"), Junk(b"\n", 1)]


def test_junk_keeps_a_preview_but_counts_every_byte() -> None:
    junk = b"x" * 1000
    [event] = MllpDecoder().feed(junk)
    assert event == Junk(b"x" * JUNK_PREVIEW, 1000)


def test_junk_spread_over_reads_is_reported_per_read() -> None:
    decoder = MllpDecoder()
    assert decoder.feed(b"ab") == [Junk(b"ab", 2)]
    assert decoder.feed(b"cd\x0bz") == [Junk(b"cd", 2)]
    assert decoder.feed(END) == [Frame(b"z")]


def test_start_inside_a_frame_abandons_the_partial_frame_as_junk() -> None:
    events = MllpDecoder().feed(b"\x0bpartial\x0bwhole\x1c\x0d")
    assert events == [Junk(b"\x0bpartial", 8), Frame(b"whole")]


def test_start_inside_a_frame_across_reads() -> None:
    decoder = MllpDecoder()
    assert decoder.feed(b"\x0bpart") == []
    assert decoder.feed(b"ial") == []
    assert decoder.feed(b"\x0bwhole" + END) == [Junk(b"\x0bpartial", 8), Frame(b"whole")]


def test_two_starts_in_a_row() -> None:
    assert MllpDecoder().feed(b"\x0b\x0ba\x1c\x0d") == [Junk(b"\x0b", 1), Frame(b"a")]


def test_abandoned_partial_frame_preview_is_truncated() -> None:
    decoder = MllpDecoder()
    decoder.feed(b"\x0b" + b"p" * 50)
    [junk, whole] = decoder.feed(b"q" * 50 + frame(b"w"))
    assert junk == Junk(b"\x0b" + b"p" * 50 + b"q" * 13, 101)
    assert whole == Frame(b"w")


def test_stray_end_outside_a_frame_is_junk() -> None:
    assert MllpDecoder().feed(END + frame(b"a")) == [Junk(END, 2), Frame(b"a")]


# --- oversized -----------------------------------------------------------------------------


def test_frame_of_exactly_max_frame_passes() -> None:
    assert MllpDecoder(max_frame=10).feed(frame(b"x" * 10)) == [Frame(b"x" * 10)]


def test_oversized_frame_in_one_read_reports_its_full_size() -> None:
    decoder = MllpDecoder(max_frame=10)
    assert decoder.feed(frame(b"x" * 25) + frame(b"ok")) == [Oversized(25), Frame(b"ok")]


def test_oversized_frame_across_reads_is_reported_once_and_skipped() -> None:
    decoder = MllpDecoder(max_frame=10)
    assert decoder.feed(b"\x0b" + b"x" * 8) == []
    assert decoder.feed(b"x" * 8) == [Oversized(16)]
    assert decoder.feed(b"x" * 100) == []
    assert decoder.feed(b"x\x1c") == []
    assert decoder.feed(b"\x0d" + frame(b"next")) == [Frame(b"next")]
    assert decoder.eof() is None


def test_oversized_discard_sees_end_split_in_two() -> None:
    decoder = MllpDecoder(max_frame=4)
    assert decoder.feed(b"\x0b" + b"x" * 10) == [Oversized(10)]
    assert decoder.feed(b"yy\x1c") == []
    assert decoder.feed(b"\x0dgap" + frame(b"ok")) == [Junk(b"gap", 3), Frame(b"ok")]


def test_oversized_discard_treats_lone_0x1c_as_data() -> None:
    decoder = MllpDecoder(max_frame=4)
    assert decoder.feed(b"\x0b" + b"x" * 10 + b"\x1c") == [Oversized(10)]
    assert decoder.feed(b"a\x1c") == []
    assert decoder.feed(b"b" + END + frame(b"ok")) == [Frame(b"ok")]


def test_start_while_discarding_begins_a_new_frame() -> None:
    decoder = MllpDecoder(max_frame=4)
    assert decoder.feed(b"\x0b" + b"x" * 10) == [Oversized(10)]
    assert decoder.feed(b"never ended" + frame(b"ok")) == [Frame(b"ok")]


def test_trailing_0x1c_is_not_counted_until_known_to_be_payload() -> None:
    decoder = MllpDecoder(max_frame=4)
    assert decoder.feed(b"\x0babcd\x1c") == []  # 5 bytes held, but 0x1C may open END
    assert decoder.feed(b"\x0d") == [Frame(b"abcd")]
    assert decoder.feed(b"\x0babcd\x1c") == []
    assert decoder.feed(b"e") == [Oversized(6)]


def test_max_frame_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_frame"):
        MllpDecoder(max_frame=0)


# --- end of input --------------------------------------------------------------------------


def test_eof_without_partial_frame_is_none() -> None:
    decoder = MllpDecoder()
    assert decoder.eof() is None
    decoder.feed(frame(b"a") + b"junk")
    assert decoder.eof() is None


def test_eof_returns_the_unfinished_frame_as_junk_and_resets() -> None:
    decoder = MllpDecoder()
    decoder.feed(b"\x0b" + b"z" * 100 + b"\x1c")
    assert decoder.eof() == Junk(b"\x0b" + b"z" * 63, 102)
    assert decoder.eof() is None
    assert decoder.feed(b"after" + frame(b"a")) == [Junk(b"after", 5), Frame(b"a")]


def test_eof_right_after_start() -> None:
    decoder = MllpDecoder()
    decoder.feed(START)
    assert decoder.eof() == Junk(START, 1)


# --- reprs carry no patient data -----------------------------------------------------------


def test_reprs_show_lengths_not_content() -> None:
    assert repr(Frame(b"PID|Smith^Jane")) == "Frame(<14 bytes>)"
    assert repr(Junk(b"Smith", 5)) == "Junk(<5 bytes>)"
    assert repr(Oversized(12)) == "Oversized(size=12)"


# --- properties ----------------------------------------------------------------------------

clean_payloads = st.binary(max_size=300).map(
    lambda b: b.replace(b"\x0b", b"").replace(b"\x1c", b"")
)
# payloads rich in the bytes that matter: CR, FS not followed by CR (a frame cannot hold END)
hl7ish_payloads = (
    st.lists(st.sampled_from([b"\r", b"\x1c", b"MSH|", b"a", b"\x1c\x1c", b"\r\r"]), max_size=40)
    .map(b"".join)
    .filter(lambda b: END not in b)
)
payload_lists = st.lists(clean_payloads | hl7ish_payloads, max_size=20)


@given(payloads=payload_lists, cuts=st.lists(st.integers(min_value=0), max_size=60))
def test_any_chopping_of_framed_payloads_yields_them_in_order(
    payloads: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(START + p + END for p in payloads)
    decoder = MllpDecoder()
    events = feed_all(decoder, chop(stream, cuts))
    assert events == [Frame(p) for p in payloads]
    assert decoder.eof() is None


def reference(stream: bytes) -> tuple[list[bytes], int, int]:
    """Byte-at-a-time model of the decoder (no size limit): (payloads, junk bytes, eof junk)."""
    payloads: list[bytes] = []
    junk = 0
    cur: bytearray | None = None
    for byte in stream:
        if byte == 0x0B:
            if cur is not None:
                junk += 1 + len(cur)
            cur = bytearray()
        elif cur is None:
            junk += 1
        elif byte == 0x0D and cur.endswith(b"\x1c"):
            payloads.append(bytes(cur[:-1]))
            cur = None
        else:
            cur.append(byte)
    return payloads, junk, (0 if cur is None else 1 + len(cur))


noisy_streams = st.lists(
    st.sampled_from([b"\x0b", b"\x1c", b"\x0d", b"\x1c\x0d", b"a", b"bc", b"\n"]), max_size=80
).map(b"".join)


@given(stream=noisy_streams, cuts=st.lists(st.integers(min_value=0), max_size=30))
def test_any_stream_any_chopping_matches_the_byte_model(stream: bytes, cuts: list[int]) -> None:
    decoder = MllpDecoder()
    events = feed_all(decoder, chop(stream, cuts))
    tail = decoder.eof()
    want_payloads, want_junk, want_tail = reference(stream)
    assert payloads_of(events) == want_payloads
    junks = [e for e in events if isinstance(e, Junk)]
    assert sum(j.size for j in junks) == want_junk
    assert (tail.size if tail else 0) == want_tail
    for j in [*junks, *([tail] if tail else [])]:
        assert len(j.data) == min(j.size, JUNK_PREVIEW)
        assert stream.find(j.data) >= 0
    assert not any(isinstance(e, Oversized) for e in events)


@given(
    sizes=st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=12),
    cuts=st.lists(st.integers(min_value=0), max_size=30),
)
def test_oversized_frames_are_reported_once_each_in_order(
    sizes: list[int], cuts: list[int]
) -> None:
    max_frame = 20
    stream = b"".join(frame(bytes([0x61 + i % 26]) * n) for i, n in enumerate(sizes))
    events = feed_all(MllpDecoder(max_frame=max_frame), chop(stream, cuts))
    kinds = [
        e.payload if isinstance(e, Frame) else "big" if isinstance(e, Oversized) else "junk"
        for e in events
    ]
    assert kinds == [
        bytes([0x61 + i % 26]) * n if n <= max_frame else "big" for i, n in enumerate(sizes)
    ]
    for e in events:
        if isinstance(e, Oversized):
            assert e.size > max_frame
