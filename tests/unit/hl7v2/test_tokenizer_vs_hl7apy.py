"""Our tokenizer reads every public sample message the way hl7apy does; validate_structure.

Samples: ../shared/data/hl7 (sources, commits and licenses in PROVENANCE.md there). Every file
is either compared value by value or listed below with the reason it is not.

How the two readings are compared:

* Both parsers get the same text: each segment stripped of surrounding whitespace and ended by
  CR. hl7apy splits segments on CR only (several samples end lines with LF) and strips each
  segment; our handling of LF, CRLF and whitespace is tested in test_message.py.
* Batch files are split into messages by our `split_batch` (hl7apy has no batch parser).
* hl7apy never resolves escape sequences when parsing: its text values keep the ER7 text. So
  the raw texts are compared (hl7apy's value with our split of the field), and then our
  `Segment.value` with hl7apy's text unescaped by our `Encoding.unescape`: the escapes are
  resolved the same way on both sides, and what is compared is where each value was cut out.
* hl7apy converts NM and SI values to numbers ('0001' becomes 1): those compare as numbers.
* hl7apy leaves out blank values whose position it knows, so blank (whitespace-only) values
  are left out on both sides; every other value is compared in order, and at its position
  (field, repetition, component, subcomponent) wherever hl7apy's element names give one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hl7apy.base_datatypes import NumericDataType, TextualDataType
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message as hl7apy_parse

from integration.hl7v2.errors import ErrorCode, Hl7Error, Location
from integration.hl7v2.message import (
    HEADER_SEGMENTS,
    Message,
    Segment,
    parse_message,
    split_batch,
    split_lines,
)
from integration.hl7v2.validate import MAX_ISSUES, StructureIssue, validate_structure

SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "hl7"
FILES = sorted(SAMPLES.glob("*.hl7")) if SAMPLES.is_dir() else []
needs_samples = pytest.mark.skipif(not FILES, reason=f"no HL7 samples in {SAMPLES}")

CATALYZE = "node-hl7-complete__test__functional__test-data__valid__catalyze-io__orm-example.hl7"

# Files we reject, with the error we give (hl7apy is not asked about them).
WE_REJECT: dict[str, tuple[Location, str]] = {
    # OBR's phone number is broken by a line end: its second line starts '8866||||...'.
    CATALYZE: (Location(segment_index=7), "'8866'"),
}
# Files hl7apy rejects (tolerant, find_groups=False) once lines are CR-terminated: none.
HL7APY_REJECTS: dict[str, str] = {}

# Written here, compared the same way: the samples hold no escape sequences in values and
# use only the default delimiters.
EXTRA: dict[str, str] = {
    "escapes": (
        "MSH|^~\\&|APP|FAC|RCV|RFAC|20260105093000||ORU^R01^ORU_R01|C1|P|2.5.1\r"
        "PID|1||123^^^H^MR~456^^^H^PI||O\\T\\BRIEN^ANN \\S\\ \\F\\ \\R\\ \\E\\ END||19800101\r"
        "OBR|1|ORD1||88305^Path\\T\\Lab^CPT\r"
        "OBX|1|FT|22634-0^Report^LN||one\\.br\\two\\X0D0A\\ \\H\\bold\\N\\ \\Zlocal\\ end||||||F\r"
    ),
    "non-default delimiters": (
        "MSH#*%!@#APP#FAC#RCV#RFAC#20260105093000##ADT*A04*ADT_A01#C2#P#2.5\r"
        "EVN#A04#20260105093000\r"
        "PID#1##123***H@1.2.3@ISO*MR%456***H*PI##DOE!S!JR*JANE!F!X##19800101#F\r"
        "PV1#1#O#DERM*101*1%DERM*102##\r"
    ),
}

_POSITION = re.compile(r"_(\d+)$")


@dataclass(frozen=True, slots=True)
class Leaf:
    """One value: where it is (None where hl7apy does not say) and its text."""

    field: int | None
    rep: int | None
    component: int | None
    subcomponent: int | None
    text: str
    number: Decimal | None = None  # hl7apy's NM / SI values, as numbers


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")  # no newline translation: CR stays CR


def messages_of(path: Path) -> list[str]:
    """The sample's messages, each with stripped, CR-terminated segments."""
    return [
        "\r".join(line.strip() for line in split_lines(text)) + "\r"
        for text in split_batch(read(path)).messages
    ]


@cache
def hl7apy_readings(name: str) -> tuple[tuple[str, Any], ...]:
    """(message text, hl7apy's parse of it or the exception it raised) for a sample or extra."""
    texts = [EXTRA[name]] if name in EXTRA else messages_of(SAMPLES / name)
    readings = []
    for text in texts:
        try:
            parsed = hl7apy_parse(
                text, find_groups=False, validation_level=VALIDATION_LEVEL.TOLERANT
            )
        except Exception as error:
            parsed = error
        readings.append((text, parsed))
    return tuple(readings)


def _position(name: str | None) -> int | None:
    match = _POSITION.search(name or "")
    return int(match.group(1)) if match else None


def hl7apy_leaves(segment: Any) -> list[Leaf]:
    leaves: list[Leaf] = []
    previous, rep = None, 0
    for field in segment.children:
        rep = rep + 1 if field.name is not None and field.name == previous else 1
        previous = field.name
        for component in field.children:
            for sub in component.children:
                value = sub.value
                number = None
                if value is None:
                    text = ""
                elif isinstance(value, str):
                    text = value
                elif isinstance(value, TextualDataType):
                    text = value.value
                else:
                    text = value.to_er7()
                    if isinstance(value, NumericDataType):
                        number = Decimal(str(value.value))
                leaves.append(
                    Leaf(
                        _position(field.name),
                        rep if field.name else None,
                        _position(component.name),
                        _position(sub.name),
                        text,
                        number,
                    )
                )
    return [leaf for leaf in leaves if leaf.text.strip()]


def our_leaves(segment: Segment) -> list[Leaf]:
    enc = segment.encoding
    leaves: list[Leaf] = []
    for number in range(1, segment.field_count() + 1):
        if segment.id in HEADER_SEGMENTS and number in (1, 2):
            leaves.append(Leaf(number, 1, 1, 1, segment.raw_field(number)))
            continue
        for rep, raw in enumerate(segment.repetitions(number), start=1):
            for component, part in enumerate(raw.split(enc.component), start=1):
                for sub, text in enumerate(part.split(enc.subcomponent), start=1):
                    leaves.append(Leaf(number, rep, component, sub, text))
    return [leaf for leaf in leaves if leaf.text.strip()]


def assert_same_reading(ours: Message, theirs: Any) -> None:
    assert [s.name for s in theirs.children] == [s.id for s in ours.segments]
    for index, (segment, their_segment) in enumerate(
        zip(ours.segments, theirs.children, strict=True), start=1
    ):
        mine, expected = our_leaves(segment), hl7apy_leaves(their_segment)
        where = f"{segment.id} (segment {index})"
        assert len(mine) == len(expected), f"{where}: {len(expected)} values, we read {len(mine)}"
        for leaf, their in zip(mine, expected, strict=True):
            at = f"{where} {leaf.field}({leaf.rep}).{leaf.component}.{leaf.subcomponent}"
            for known, ours_at in (
                (their.field, leaf.field),
                (their.rep, leaf.rep),
                (their.component, leaf.component),
                (their.subcomponent, leaf.subcomponent),
            ):
                assert known in (None, ours_at), f"{at}: hl7apy has it at {their}"
            if their.number is not None:
                assert Decimal(leaf.text) == their.number, at
                continue
            assert leaf.text == their.text, at
            if segment.id in HEADER_SEGMENTS and leaf.field in (1, 2):
                continue
            assert leaf.field and leaf.component and leaf.subcomponent and leaf.rep
            value = segment.value(leaf.field, leaf.component, leaf.subcomponent, leaf.rep)
            expected_value = "" if their.text == '""' else segment.encoding.unescape(their.text)
            assert value == expected_value, at


COMPARED = [p.name for p in FILES if p.name not in WE_REJECT and p.name not in HL7APY_REJECTS]


@pytest.mark.parametrize("name", [*COMPARED, *EXTRA])
def test_we_read_each_sample_as_hl7apy_does(name: str) -> None:
    for text, theirs in hl7apy_readings(name):
        assert not isinstance(theirs, Exception), theirs
        assert_same_reading(parse_message(text), theirs)


@needs_samples
def test_rejected_samples_are_the_listed_ones() -> None:
    we_reject: dict[str, Hl7Error] = {}
    for path in FILES:
        try:
            for text in messages_of(path):
                parse_message(text)
        except Hl7Error as error:
            we_reject[path.name] = error
    assert set(we_reject) == set(WE_REJECT)
    for name, (where, got) in WE_REJECT.items():
        assert we_reject[name].where == where
        assert got in we_reject[name].message
    hl7apy_rejects = {
        path.name
        for path in FILES
        if path.name not in WE_REJECT
        and any(isinstance(theirs, Exception) for _text, theirs in hl7apy_readings(path.name))
    }
    assert hl7apy_rejects == set(HL7APY_REJECTS)


@needs_samples
def test_the_comparison_covers_repetitions_subcomponents_and_escapes() -> None:
    """The compared samples exercise what the comparison is for (else it would prove little)."""
    seen = {"repetition": 0, "subcomponent": 0, "escape": 0, "explicit null": 0}
    for name in [*COMPARED, *EXTRA]:
        for text, _theirs in hl7apy_readings(name):
            for segment in parse_message(text).segments[1:]:
                for leaf in our_leaves(segment):
                    seen["repetition"] += leaf.rep != 1
                    seen["subcomponent"] += leaf.subcomponent != 1
                    seen["escape"] += segment.encoding.escape in leaf.text
                    seen["explicit null"] += leaf.text == '""'
    assert all(seen.values()), seen
    assert len(COMPARED) == len(FILES) - len(WE_REJECT) - len(HL7APY_REJECTS) >= 40


# --- validate_structure ------------------------------------------------------------------

ADT_A01 = (
    "MSH|^~\\&|SENDING APP|SENDING FAC|REC APP|REC FAC|20130101101500||ADT^A01^ADT_A01|"
    "0123456789|P|2.6||||AL\r"
    "EVN||20130101101500||01|AAA|20130101082500\r"
    "PID|1||123-456-789^^^HOSPITAL^MR||SURNAME^NAME^A|||M|||1111 SOMEWHERE STREET^^SOMEWHERE^^^USA"
    "|||||M\r"
    "NK1|1|WOMAN^WIFE|SPO|1111 SOMEWHERE STREET^^SOMEWHERE^^^USA\r"
    "PV1|1|I|PATIENT WARD|U||||^REFERRING^DOCTOR^^MD|^CONSULTING^DOCTOR|CAR||||2|A0|||||||||||||"
    "||||||||||||||||2013\r"
    "IN1|1|INSURANCE PLAN ID^PLAN DESC|COMPANY ID|INSURANCE COMPANY, INC.|5555 INSURERS STREET^^"
    "SOMEWHERE^^^USA||||||||||||||||||||||||||||||||||||||||||||555-44-3333\r"
)
"""hl7apy's own valid ADT^A01 (tests/test_validation.py), the one in the samples too."""


def lines(text: str) -> list[str]:
    return text.rstrip("\r").split("\r")


def without(text: str, segment_id: str) -> str:
    return "\r".join(line for line in lines(text) if not line.startswith(segment_id)) + "\r"


def only(issues: list[StructureIssue]) -> StructureIssue:
    assert len(issues) == 1, [issue.message for issue in issues]
    return issues[0]


def test_a_valid_adt_a01_has_no_issues() -> None:
    assert validate_structure(ADT_A01) == []
    assert validate_structure(ADT_A01.replace("\r", "\n")) == []


@pytest.mark.parametrize(
    "name",
    [
        "hl7apy__tests__test_validation__L43__ADT_A01_ADT_A01.hl7",
        # OML^O33 with several orders: hl7apy's own group finder mis-groups it and its
        # force_validation fails ("Missing required child OML_O33_ORDER_PRIOR...").
        "hl7apy__tests__test_core__L57__OML_O33.hl7",
        "node-hl7-complete__test__functional__test-data__valid__nist__ORU_R01_2.5.1_SampleTestCase1.hl7",
        "python-hl7__tests__samples__L147__ADT_A04_ADT_A01.hl7",  # ADT^A04 -> ADT_A01, a batch
    ],
)
@needs_samples
def test_valid_samples_have_no_issues(name: str) -> None:
    for text in messages_of(SAMPLES / name):
        assert validate_structure(text) == []


def test_a_missing_required_segment_is_located() -> None:
    issue = only(validate_structure(without(ADT_A01, "PID")))
    assert issue.location == Location(segment_id="NK1", segment_index=3)
    assert issue.code is ErrorCode.SEGMENT_SEQUENCE
    assert issue.message == (
        "NK1 (segment 3): expected PID before NK1 in ADT_A01 (HL7 v2.6), got 'NK1'"
    )


def test_a_missing_segment_at_the_end_is_located() -> None:
    text = without(without(ADT_A01, "PV1"), "IN1")
    issue = only(validate_structure(text))
    assert issue.location == Location(segment_index=5)
    assert (
        issue.message == "segment 5: expected PV1 in ADT_A01 (HL7 v2.6), got the end of the message"
    )


def test_a_missing_required_field_is_located() -> None:
    text = ADT_A01.replace("PID|1||123-456-789^^^HOSPITAL^MR||", "PID|1||||")
    issue = only(validate_structure(text))
    assert issue.location == Location(segment_id="PID", segment_index=3, field=3)
    assert issue.code is ErrorCode.REQUIRED_FIELD_MISSING
    assert str(issue) == "PID-3 (segment 3): expected a value in required field PID_3, got none"


def test_a_missing_required_component_is_located() -> None:
    text = ADT_A01.replace("PID|1||123-456-789^^^HOSPITAL^MR", "PID|1||^^^HOSPITAL^MR")
    issue = only(validate_structure(text))
    assert issue.location == Location(
        segment_id="PID", segment_index=3, field=3, repetition=1, component=1
    )
    assert issue.code is ErrorCode.REQUIRED_FIELD_MISSING
    assert str(issue) == (
        "PID-3.1 (segment 3): expected a value in required CX_1 of PID_3, got none"
    )


def test_segments_out_of_place_are_located() -> None:
    rows = lines(ADT_A01)
    extra = "\r".join([*rows, "RXA|0|1|20130101|20130101|CVX^90707\r"])
    assert [
        (i.location.segment_id, i.location.segment_index) for i in validate_structure(extra)
    ] == [("RXA", 7)]
    twice = "\r".join([*rows[:3], rows[2], *rows[3:]]) + "\r"
    issue = only(validate_structure(twice))
    assert issue.location == Location(segment_id="PID", segment_index=4)
    assert "got 'PID' out of order or repeated too often" in issue.message
    swapped = "\r".join([rows[0], rows[1], rows[4], rows[2], rows[3], rows[5]]) + "\r"
    issues = validate_structure(swapped)
    assert issues[0].location == Location(segment_id="PV1", segment_index=3)


def test_z_segments_are_local_and_skipped() -> None:
    assert validate_structure(ADT_A01 + "ZPI|1|anything^at^all\r") == []


def test_field_errors_are_located_and_quote_no_values() -> None:
    text = ADT_A01.replace("PID|1|", "PID|SECRET1|").replace(
        "SURNAME^NAME^A", "SURNAME^NAME^A" + "^" * 40 + "SECRET2"
    )
    issues = validate_structure(text)
    assert [(i.location.field, i.location.component) for i in issues] == [(1, None), (5, 43)]
    assert all(i.location.segment_index == 3 for i in issues)
    assert not any("SECRET" in issue.message for issue in issues)


@pytest.mark.parametrize(
    ("change", "where", "code"),
    [
        (("|2.6|", "|2.9|"), Location(segment_id="MSH", segment_index=1, field=12), "203"),
        (("|2.6|", "|3.0|"), Location(segment_id="MSH", segment_index=1, field=12), "203"),
        (
            ("ADT^A01^ADT_A01", "ZZZ^Z01"),
            Location(segment_id="MSH", segment_index=1, field=9),
            "200",
        ),
        (
            ("ADT^A01^ADT_A01", "ADT^A01^NOPE"),
            Location(segment_id="MSH", segment_index=1, field=9),
            "200",
        ),
    ],
)
def test_unsupported_versions_and_types_give_one_issue(
    change: tuple[str, str], where: Location, code: str
) -> None:
    issue = only(validate_structure(ADT_A01.replace(*change)))
    assert issue.location == where
    assert issue.code.value == code


def test_message_type_defaults_to_table_0354() -> None:
    # A04 shares ADT_A01's structure; v2.5 (v2.6 requires MSH-9.3, the structure, itself).
    a04 = ADT_A01.replace("ADT^A01^ADT_A01", "ADT^A04").replace("|2.6|", "|2.5|")
    assert validate_structure(a04) == []
    issue = only(validate_structure(without(a04, "EVN")))
    assert "expected EVN before PID in ADT_A01 (HL7 v2.5)" in issue.message


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\r\n\r\n",
        "PID|1",
        "MSH",
        "MSH|",
        "MSH|^~\\&",
        "MSH|^~\\&|a|b|c|d|20260101||ADT^A01|1|P",
        "MSH|^~\\&|a|b|c|d|20260101||ADT^A01|1|P|2.5\rPID|" + "^&~" * 3000,
        "MSH|^~\\&|a|b|c|d|20260101||ADT^A01|1|P|2.5\r" + "OBX|1\r" * 400,
        "MSH|^~\\&|a|b|c|d|20260101||ADT^A01|1|P|2.5\rpid|1\r",
        "MSH|^~\\&|a|b|c|d|20260101||ADT^A01|1|P|2.5\rPID|1||\x00\x01\x7f^é€||\\X00\\\\Zfoo\\\\",
    ],
)
def test_bad_input_gives_issues_never_an_exception(text: str) -> None:
    issues = validate_structure(text)
    assert issues
    assert len(issues) <= MAX_ISSUES
    assert all(isinstance(issue, StructureIssue) and issue.message for issue in issues)


@needs_samples
def test_a_message_we_cannot_tokenize_gives_our_located_error() -> None:
    issue = only(validate_structure(read(SAMPLES / CATALYZE)))
    assert issue.location == Location(segment_index=7)
    assert issue.message.startswith("segment 7: expected a segment id")
