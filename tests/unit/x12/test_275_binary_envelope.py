"""The smallest envelope change that carries binary: BIN segments cut by their length, bytes
decoded one character per octet from the first BIN on, and files without BIN unchanged."""

from __future__ import annotations

import io

import pytest

from integration.x12.delimiters import DEFAULT_DELIMITERS
from integration.x12.envelope import _decoded_chunks, decode, encode
from integration.x12.errors import X12Error
from integration.x12.segments import build_segment, iter_segments, iter_segments_from

ISA = (
    "ISA*00*          *00*          *ZZ*DERMRCM        *ZZ*SANDBOXPAYER   *261206*2105*^*00501*"
    "000002701*0*T*:~"
)


def test_bin_payload_with_delimiters_is_one_segment() -> None:
    text = ISA + "LX*1~BIN*7*a~b*c:d~SE*3*0001~"
    segments = list(iter_segments(text, DEFAULT_DELIMITERS))
    assert [s.id for s in segments] == ["ISA", "LX", "BIN", "SE"]
    assert segments[2].elements == ("7", "a~b*c:d")
    assert segments[2].values() == ["7", "a~b*c:d"]


def test_bin_whose_length_does_not_end_on_a_terminator_is_split_the_ordinary_way() -> None:
    text = ISA + "BIN*2*abc~SE*2*0001~"
    segments = list(iter_segments(text, DEFAULT_DELIMITERS))
    assert [(s.id, s.elements) for s in segments[1:]] == [
        ("BIN", ("2", "abc")),
        ("SE", ("2", "0001")),
    ]


def test_bin_running_past_the_end_is_split_the_ordinary_way() -> None:
    text = ISA + "BIN*99*ab~"
    assert [(s.id, s.elements) for s in iter_segments(text, DEFAULT_DELIMITERS)][1:] == [
        ("BIN", ("99", "ab"))
    ]


def test_streamed_bin_waits_for_its_whole_payload() -> None:
    text = ISA + "BIN*5*~~~~~~SE*2*0001~"
    chunks = [text[i : i + 1] for i in range(len(text))]
    assert list(iter_segments_from(chunks, DEFAULT_DELIMITERS)) == list(
        iter_segments(text, DEFAULT_DELIMITERS)
    )
    assert [s.get(2) for s in iter_segments(text, DEFAULT_DELIMITERS) if s.id == "BIN"] == ["~~~~~"]


def test_decode_is_unchanged_without_bin() -> None:
    data = (ISA + "NM1*QC*1*MÜLLER~").encode("utf-8")
    assert decode(data) == ISA + "NM1*QC*1*MÜLLER~"
    assert encode(decode(data)) == data


def test_bin_inside_a_value_is_not_a_bin_segment() -> None:
    data = (ISA + "NM1*QC*1*ROBIN*MÜLLER~").encode("utf-8")
    assert decode(data) == ISA + "NM1*QC*1*ROBIN*MÜLLER~"


def test_streamed_bytes_switch_at_the_same_place() -> None:
    data = (ISA + "NM1*QC*1*MÜLLER~\r\n").encode("utf-8") + b"BIN*3*\xc3\xa9~~SE*2*1~"
    for size in (1, 2, 3, 7, 64):
        assert "".join(_decoded_chunks(io.BytesIO(data), size)) == decode(data)


def test_decode_takes_octets_from_the_first_bin_on() -> None:
    data = (ISA + "NM1*QC*1*MÜLLER~").encode("utf-8") + b"BIN*2*\xc3\xa9~"
    text = decode(data)
    assert text.endswith("MÜLLER~BIN*2*\u00c3\u00a9~")  # UTF-8 before, one char per octet after
    assert encode(text) == data


def test_encode_refuses_a_wide_character_after_bin() -> None:
    with pytest.raises(X12Error, match="expected octets"):
        encode(ISA + "BIN*1*\u20ac~")


def test_build_segment_writes_bin02_as_is_and_checks_its_length() -> None:
    assert build_segment("BIN", ["3", "~*:"], DEFAULT_DELIMITERS) == "BIN*3*~*:~"
    with pytest.raises(X12Error) as caught:
        build_segment("BIN", ["4", "~*:"], DEFAULT_DELIMITERS, index=9)
    assert [p.render() for p in caught.value.problems] == [
        "BIN01 (segment 9): expected the length of BIN02 (3 octets), got '4'"
    ]


def test_other_segments_still_refuse_delimiters() -> None:
    with pytest.raises(X12Error, match="segment terminator"):
        build_segment("NM1", ["QC", "1", "A~B"], DEFAULT_DELIMITERS)


def test_build_segment_refuses_a_character_that_is_not_an_octet() -> None:
    with pytest.raises(X12Error) as caught:
        build_segment("BIN", ["1", "\u20ac"], DEFAULT_DELIMITERS, index=4)
    assert [p.render() for p in caught.value.problems] == [
        "BIN02 (segment 4): expected octets (one character 0x00-0xFF each), got a wider character"
    ]
