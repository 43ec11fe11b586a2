"""Our HL7 v2 tokenizer (integration/hl7v2/message.py): delimiters, escapes, numbering, batches.

Messages are written here, each for the case it names. Property tests (hypothesis, with fixed
examples so runs repeat) check that escaped text reads back as written and that any segment
built from generated fields, repetitions, components and subcomponents reads back the same.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration.hl7v2.errors import Hl7Error, Location
from integration.hl7v2.message import (
    DEFAULT_ENCODING,
    Encoding,
    parse_message,
    split_batch,
    split_lines,
)

REPEATABLE = settings(derandomize=True, max_examples=100, deadline=None)

MSH = "MSH|^~\\&|DERM|CLINIC|RCM|HOST|20260105093000||ADT^A04^ADT_A01|MSG0001|P|2.5.1"
PID = "PID|1||MRN1^^^DERM^MR~SSN1^^^SSA^SS||DOE^JANE^Q||19800101|F"
ADT = f"{MSH}\r{PID}\rPV1|1|O\r"


def error_of(text: str) -> Hl7Error:
    with pytest.raises(Hl7Error) as raised:
        parse_message(text)
    return raised.value


# --- escapes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("escaped", "text"),
    [
        ("A\\F\\B", "A|B"),
        ("A\\S\\B", "A^B"),
        ("A\\T\\B", "A&B"),
        ("A\\R\\B", "A~B"),
        ("A\\E\\B", "A\\B"),
        ("line\\X0D0A\\next", "line\r\nnext"),
        ("\\X41\\\\X42\\", "AB"),
        ("one\\.br\\two", "one\ntwo"),
        ("\\H\\bold\\N\\ plain", "bold plain"),  # highlighting has no text of its own
        ("\\Zlocal\\x", "x"),  # local escapes too
        ("no closing \\F", "no closing \\F"),  # a lone escape character stays text
        ("\\E\\F\\E\\", "\\F\\"),  # escaped escapes do not start sequences
        ("plain", "plain"),
    ],
)
def test_escape_sequences_are_resolved(escaped: str, text: str) -> None:
    segment = parse_message(f"{MSH}\rNTE|1||{escaped}\r").segments[1]
    assert segment.value(3) == text
    assert segment.raw_field(3) == escaped


def test_escapes_are_resolved_per_component_after_splitting() -> None:
    segment = parse_message(f"{MSH}\rPID|1||A\\S\\B^C\\T\\D&E~F\r").segments[1]
    assert segment.value(3, 1) == "A^B"
    assert segment.value(3, 2, 1) == "C&D"
    assert segment.value(3, 2, 2) == "E"
    assert segment.value(3, 1, rep=2) == "F"


def test_escape_text_escapes_every_delimiter_and_flattens_line_ends() -> None:
    assert DEFAULT_ENCODING.escape_text("a|b^c&d~e\\f") == "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f"
    assert DEFAULT_ENCODING.escape_text("one\rtwo\nthree") == "one two three"


# --- delimiters and line ends ----------------------------------------------------------

CUSTOM = "MSH#*%!@#DERM#CLINIC#RCM#HOST#20260105093000##ADT*A04*ADT_A01#MSG0002#P#2.5.1"


def test_non_default_encoding_characters() -> None:
    message = parse_message(
        f"{CUSTOM}\rPID#1##MRN1***DERM*MR%SSN1***SSA*SS##DOE*JANE!F!X!S!Y@SUB!T!Z#|^~\\&\r"
    )
    assert message.encoding == Encoding("#", "*", "%", "!", "@")
    pid = message.segments[1]
    assert pid.value(3, 1) == "MRN1"
    assert pid.value(3, 4, rep=2) == "SSA"
    assert pid.value(5, 2, 1) == "JANE#X*Y"
    assert pid.value(5, 2, 2) == "SUB@Z"
    assert pid.value(6) == "|^~\\&"  # the default delimiters are plain text here
    msh = message.msh
    assert (msh.value(1), msh.raw_field(2)) == ("#", "*%!@")
    assert message.header.message_type == "ADT^A04"
    assert message.header.structure == "ADT_A01"


def test_a_fifth_encoding_character_is_the_truncation_character() -> None:
    message = parse_message("MSH|^~\\&#|A|B|C|D|20260105||ADT^A01|1|P|2.7\rNTE|1||a#b\\P\\c\r")
    assert message.encoding.truncation == "#"
    assert message.msh.raw_field(2) == "^~\\&#"
    assert message.segments[1].value(3) == "a#b#c"


@pytest.mark.parametrize("end", ["\r", "\n", "\r\n"])
def test_segment_ends_cr_lf_and_crlf(end: str) -> None:
    message = parse_message(end.join([MSH, PID, "PV1|1|O"]) + end + end)
    assert [s.id for s in message.segments] == ["MSH", "PID", "PV1"]
    assert [s.index for s in message.segments] == [1, 2, 3]
    assert message.segments[2].value(2) == "O"
    assert split_lines(f"{MSH}\r\n{PID}\n\rPV1|1") == [MSH, PID, "PV1|1"]


def test_leading_whitespace_before_msh_is_ignored() -> None:
    assert parse_message(f"\r\n  {ADT}").msh.value(10) == "MSG0001"


def test_repeated_and_trailing_separators() -> None:
    segment = parse_message(f"{MSH}\rPID|1||^^^DERM^MR~~X|||\r").segments[1]
    assert segment.field_count() == 6  # trailing empty fields count
    assert segment.repetitions(3) == ["^^^DERM^MR", "", "X"]
    assert segment.value(3, 1) == ""
    assert segment.value(3, 4) == "DERM"
    assert segment.value(3, 1, rep=2) == ""
    assert segment.value(3, 1, rep=3) == "X"
    assert segment.value(3, 9) == ""  # beyond the last component
    assert segment.value(3, 4, 2) == ""  # no subcomponents there
    assert segment.value(3, rep=4) == ""  # beyond the last repetition
    assert segment.value(6) == segment.value(40) == ""
    assert segment.repetitions(4) == []


def test_empty_and_explicit_null_read_alike_but_stay_apart_raw() -> None:
    segment = parse_message(f'{MSH}\rPID|1||""|||A^""^C&""\r').segments[1]
    assert segment.value(3) == segment.value(4) == ""
    assert (segment.raw_field(3), segment.raw_field(4)) == ('""', "")
    assert segment.value(6, 2) == ""
    assert segment.value(6, 3, 2) == ""
    assert segment.value(6, 3, 1) == "C"


def test_z_segments_are_segments_like_any_other() -> None:
    message = parse_message(f"{ADT}ZPI|1|CUSTOM^VALUE\rZ01|x\r")
    zpi = message.first("ZPI")
    assert zpi is not None
    assert zpi.index == 4
    assert zpi.value(2, 2) == "VALUE"
    assert [s.id for s in message.all("Z01")] == ["Z01"]


# --- MSH numbering and the header ------------------------------------------------------


def test_msh_numbering() -> None:
    msh = parse_message(ADT).msh
    assert msh.raw_field(1) == "|"
    assert msh.raw_field(2) == "^~\\&"
    assert msh.value(3) == "DERM"
    assert msh.value(9) == "ADT"
    assert msh.value(9, 2) == "A04"
    assert msh.value(9, 3) == "ADT_A01"
    assert msh.value(10) == "MSG0001"
    assert msh.value(12) == "2.5.1"
    assert msh.field_count() == 12
    assert msh.repetitions(2) == ["^~\\&"]  # MSH-2 is not split at its own '~'


def test_msh_2_value_is_the_encoding_characters() -> None:
    msh = parse_message(ADT).msh
    assert msh.value(2) == "^~\\&"  # not split at its own '^', nor unescaped at its own '\\'
    assert msh.value(2, 2) == ""


def test_header() -> None:
    header = parse_message(f"{ADT.replace('P|2.5.1', 'P|2.5.1|||AL|NE||UNICODE UTF-8')}").header
    assert header.message_type == "ADT^A04"
    assert (header.message_code, header.trigger_event, header.structure) == (
        "ADT",
        "A04",
        "ADT_A01",
    )
    assert (header.control_id, header.version, header.processing_id) == ("MSG0001", "2.5.1", "P")
    assert header.sender == "DERM|CLINIC"
    assert header.enhanced_mode
    assert (header.accept_ack_type, header.application_ack_type) == ("AL", "NE")
    assert header.charset == "UNICODE UTF-8"
    assert not parse_message(ADT).header.enhanced_mode


@pytest.mark.parametrize(
    ("change", "field", "component"),
    [(("ADT^A04^ADT_A01", ""), 9, 1), (("MSG0001", ""), 10, None), (("|2.5.1", "|"), 12, None)],
)
def test_header_fields_every_message_needs(
    change: tuple[str, str], field: int, component: int | None
) -> None:
    message = parse_message(ADT.replace(*change))
    with pytest.raises(Hl7Error) as raised:
        _ = message.header
    assert raised.value.where == Location(
        segment_id="MSH", segment_index=1, field=field, component=component
    )


# --- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\r\n\r", "   "])
def test_no_message(text: str) -> None:
    error = error_of(text)
    assert error.where in (Location(), Location(segment_index=1))


def test_the_first_segment_must_be_msh() -> None:
    error = error_of(f"{PID}\r{MSH}\r")
    assert error.where == Location(segment_index=1)
    assert error.message == "segment 1: expected the message to start with MSH, got 'PID'"


@pytest.mark.parametrize(
    ("header", "field", "expected"),
    [
        ("MSH|^~\\", 1, "a field separator and 4 encoding characters"),
        ("MSHA^~\\&|X", 1, "a non-alphanumeric field separator"),
        ("MSH|^~|A|B|C|D|E", 2, "4 or 5 encoding characters"),
        ("MSH|^~\\&&|A", 2, "distinct non-alphanumeric encoding characters"),
        ("MSH|^~\\A|X", 2, "distinct non-alphanumeric encoding characters"),
        ("MSH|^~\\^|X", 2, "distinct non-alphanumeric encoding characters"),
    ],
)
def test_bad_encoding_characters_are_located(header: str, field: int, expected: str) -> None:
    error = error_of(f"{header}\r{PID}\r")
    assert error.where == Location(segment_id="MSH", segment_index=1, field=field)
    assert expected in error.message


@pytest.mark.parametrize("bad", ["PI", "pid", "P-D", "PIDX", "1AB", ""])
def test_a_bad_segment_id_is_located_by_its_segment_number(bad: str) -> None:
    error = error_of(f"{MSH}\r{PID}\rPV1|1\r{bad}|1|2\rOBX|1\r")
    assert error.where == Location(segment_index=4)
    assert error.message.startswith("segment 4: expected a segment id of 3 capital letters")
    assert repr(bad) in error.message


def test_numbers_below_one_are_refused_everywhere() -> None:
    segment = parse_message(f"{MSH}\rPID|1||A^B&C~D\r").segments[1]
    with pytest.raises(ValueError, match="start at 1"):
        segment.raw_field(0)
    # Python's negative indexes would otherwise read from the end ('D', 'A', 'D').
    for component, subcomponent, rep in ((0, 1, 1), (1, 0, 1), (1, 1, 0)):
        with pytest.raises(ValueError, match="start at 1"):
            segment.value(3, component, subcomponent, rep)


# --- batches ---------------------------------------------------------------------------

MESSAGE_2 = ADT.replace("MSG0001", "MSG0002")


def test_a_batch_file_is_split_into_its_messages() -> None:
    text = (
        "FHS|^~\\&|DERM|CLINIC|||20260105\r"
        "BHS|^~\\&|DERM|CLINIC|||20260105\r"
        f"{ADT}{MESSAGE_2}"
        "BTS|2\r"
        "FTS|1\r"
    )
    batch = split_batch(text)
    assert batch.is_batch
    assert batch.messages == (ADT, MESSAGE_2)
    assert batch.declared_count == 2
    assert batch.header is not None
    assert (batch.header.id, batch.header.value(3), batch.header.raw_field(2)) == (
        "FHS",
        "DERM",
        "^~\\&",
    )
    assert [parse_message(m).header.control_id for m in batch.messages] == ["MSG0001", "MSG0002"]


def test_a_batch_without_a_count_is_not_checked() -> None:
    batch = split_batch(f"BHS|^~\\&|DERM\n{ADT}BTS\n")
    assert (batch.messages, batch.declared_count) == ((ADT,), None)


def test_a_batch_count_that_does_not_match_is_located() -> None:
    with pytest.raises(Hl7Error) as raised:
        split_batch(f"BHS|^~\\&|DERM\r{ADT}{MESSAGE_2}BTS|3\r")
    assert raised.value.where == Location(segment_id="BTS", field=1)
    assert (
        raised.value.message
        == "BTS-1: expected the batch count to equal the 2 messages sent, got '3'"
    )


def test_a_batch_count_that_is_not_a_number_is_located() -> None:
    with pytest.raises(Hl7Error) as raised:
        split_batch(f"BHS|^~\\&|DERM\r{ADT}BTS|two\r")
    assert raised.value.where == Location(segment_id="BTS", segment_index=5, field=1)


def test_segments_between_a_batch_header_and_a_message_are_refused() -> None:
    with pytest.raises(Hl7Error) as raised:
        split_batch(f"BHS|^~\\&|DERM\rPID|1\r{ADT}BTS|1\r")
    assert raised.value.where == Location(segment_id="PID", segment_index=2)


def test_without_a_batch_header_each_msh_starts_a_message() -> None:
    assert split_batch(ADT).messages == (ADT,)
    assert split_batch(ADT.replace("\r", "\n") + MESSAGE_2).messages == (ADT, MESSAGE_2)
    assert not split_batch(ADT).is_batch


def test_a_stray_batch_trailer_is_not_part_of_a_message() -> None:
    assert split_batch(f"{ADT}BTS|1\rFTS|1\r").messages == (ADT,)


# --- properties ------------------------------------------------------------------------

DELIMITERS = "|^~\\&#*%!@$+=:;,/?<>{}[]'\"`"
# Text without control characters (CR and LF end segments; escape_text flattens them), with
# delimiters, quotes and escape-like letters drawn often, and now and then exactly '""'.
TEXT = st.one_of(
    st.text(
        st.one_of(
            st.sampled_from(
                [*DELIMITERS, " ", "F", "S", "T", "R", "E", "X", "0", "D", ".", "b", "r"]
            ),
            st.characters(blacklist_categories=("Cc", "Cs")),
        ),
        max_size=30,
    ),
    st.just('""'),  # the text HL7 would read as its explicit null if written as is
)


@st.composite
def encodings(draw: st.DrawFn) -> Encoding:
    chars = draw(st.permutations(DELIMITERS))
    return Encoding(*chars[:5], truncation=draw(st.sampled_from(["", chars[5]])))


def header_line(encoding: Encoding, control_id: str = "1") -> str:
    e = encoding
    fields = ["A", "B", "C", "D", "20260105", "", f"ADT{e.component}A01", control_id, "P", "2.5"]
    return e.field.join(["MSH", e.characters, *fields])


@REPEATABLE
@given(encoding=encodings(), text=TEXT)
def test_escaped_text_reads_back_as_written(encoding: Encoding, text: str) -> None:
    line = encoding.field.join(["NTE", "1", "", encoding.escape_text(text)])
    segment = parse_message(f"{header_line(encoding)}\r{line}\r").segments[1]
    assert segment.value(3) == text
    assert segment.encoding.unescape(segment.raw_field(3)) == text


def test_text_of_two_double_quotes_reads_back() -> None:
    # Written as is, '""' would read as HL7's explicit null: escape_text hex-escapes it.
    assert DEFAULT_ENCODING.escape_text('""') == "\\X2222\\"
    line = f"NTE|1||{DEFAULT_ENCODING.escape_text(chr(34) * 2)}"
    assert parse_message(f"{MSH}\r{line}\r").segments[1].value(3) == '""'


# field -> repetitions -> components -> subcomponents, each a text
FIELDS = st.lists(
    st.lists(st.lists(st.lists(TEXT, min_size=1, max_size=3), min_size=1, max_size=3), max_size=3),
    max_size=6,
)


@REPEATABLE
@given(
    encoding=encodings(),
    segment_id=st.sampled_from(["PID", "OBX", "ZX1", "MSH"]),
    fields=FIELDS,
)
def test_any_segment_reads_back_its_values(
    encoding: Encoding, segment_id: str, fields: list[list[list[list[str]]]]
) -> None:
    e = encoding
    written = [
        e.repetition.join(
            e.component.join(e.subcomponent.join(e.escape_text(t) for t in subs) for subs in comps)
            for comps in reps
        )
        for reps in fields
    ]
    if segment_id == "MSH":  # our fields follow MSH-12
        lines, start = [e.field.join([header_line(e), *written])], 13
    else:
        lines, start = [header_line(e), e.field.join([segment_id, *written])], 1
    segment = parse_message("\r".join(lines) + "\r").segments[-1]
    assert segment.id == segment_id
    for offset, reps in enumerate(fields):
        number = start + offset
        assert segment.raw_field(number) == written[offset]
        for r, comps in enumerate(reps, start=1):
            for c, subs in enumerate(comps, start=1):
                for s, text in enumerate(subs, start=1):
                    assert segment.value(number, c, s, r) == text
                if len(subs) == 1:
                    assert segment.value(number, c, rep=r) == subs[0]
    assert segment.value(start + len(fields)) == ""


@settings(REPEATABLE, max_examples=40)
@given(encoding=encodings(), counts=st.lists(st.integers(0, 3), min_size=1, max_size=3))
def test_any_batch_splits_back_into_its_messages(encoding: Encoding, counts: list[int]) -> None:
    sep = encoding.field
    batches: list[str] = []
    expected: list[str] = []
    for b, count in enumerate(counts):
        messages = [f"{header_line(encoding, f'{b}-{n}')}\rPID{sep}1\r" for n in range(count)]
        expected += messages
        batches.append(
            f"BHS{sep}{encoding.characters}\r" + "".join(messages) + f"BTS{sep}{count}\r"
        )
    text = f"FHS{sep}{encoding.characters}\r" + "".join(batches) + f"FTS{sep}{len(counts)}\r"
    batch = split_batch(text.replace("\r", "\n"))
    assert batch.messages == tuple(expected)
    assert batch.declared_count == sum(counts)
