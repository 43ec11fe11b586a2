"""Located errors of the 999 reader and writer, asserted as rendered messages, and how our
problems are classified into 999/TA1 codes."""

from __future__ import annotations

from datetime import datetime

import pytest

from integration.x12.envelope import EnvelopeParams, SequentialControlNumbers
from integration.x12.errors import Problem, X12Error
from integration.x12.t999_005010x231a1 import (
    Ack999,
    Classification,
    ElementNote,
    ElementPosition,
    SegmentNote,
    TransactionResponse,
    classify,
    read_999,
    write_999,
)

HEAD = (
    "ISA*00*          *00*          *ZZ*SANDBOXCH      *ZZ*DERMRCM        *260302*0930*^*00501*"
    "000000005*0*T*:~GS*FA*SANDBOXCH*DERMRCM*20260302*0930*5*X*005010X231A1~"
    "ST*999*0001*005010X231A1~"
)


def interchange(body: list[str], st03: str = "005010X231A1") -> str:
    segs = "".join(s + "~" for s in body)
    head = HEAD.replace("ST*999*0001*005010X231A1", f"ST*999*0001*{st03}")
    return f"{head}{segs}SE*{len(body) + 2}*0001~GE*1*5~IEA*1*000000005~"


def rendered(body: list[str], st03: str = "005010X231A1") -> list[str]:
    return [p.render() for p in read_999(interchange(body, st03))[1]]


def test_bad_codes_are_located_in_order() -> None:
    body = [
        "AK1*HC*1*005010X222A1",
        "AK2*837*0001*005010X222A1",
        "IK3*CLM*X*2300*Z",
        "IK4*5:3**77*1",
        "IK5*Q*99",
        "AK9*Y*1*1*0*77",
    ]
    assert rendered(body) == [
        "2110 IK403 (segment 6): expected one of 1, 10, 12, 13, 2, 3, 4, 5, 6, 7, 8, 9, I10, I11, "
        "I12, I13, I6, I9, got '77'",
        "2100 IK304 (segment 5): expected one of 1, 2, 3, 4, 5, 6, 7, 8, I4, I6, I7, I8, I9, got 'Z'",
        "2100 IK302 (segment 5): expected a number, got 'X'",
        "2000 IK501 (segment 7): expected one of A, E, M, R, W, X, got 'Q'",
        "2000 IK502 (segment 7): expected one of 1, 10, 11, 12, 13, 15, 16, 17, 18, 19, 2, 23, 24, "
        "25, 26, 27, 3, 4, 5, 6, 7, 8, 9, I5, I6, got '99'",
        "AK901 (segment 8): expected one of A, E, M, P, R, W, X, got 'Y'",
        "AK905 (segment 8): expected one of 1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 2, 23, 24, "
        "25, 26, 3, 4, 5, 6, got '77'",
    ]


def test_structure_errors_are_located() -> None:
    assert rendered(["AK2*837*0001", "IK5*A", "AK9*A*1*1*1"]) == [
        "AK2 (segment 3): expected AK1, got 'AK2'"
    ]
    assert rendered(["AK1*HC*1", "AK2*837*0001", "AK9*A*1*1*1"]) == [
        "2000 AK2 (segment 4): expected IK5, got none"
    ]
    assert rendered(["AK1*HC*1", "AK2*837*0001", "IK5*A"]) == [
        "IK5 (segment 5): expected AK9, got none"
    ]
    assert rendered(["AK1*HC*1", "AK2*837*0001", "IK4*1**1", "IK5*A", "AK9*A*1*1*1"]) == [
        "2100 IK4 (segment 5): expected IK3 or IK5, got 'IK4'"
    ]
    assert rendered(["AK1*HC*1", "AK9*A*0*0*0", "AK9*A*0*0*0"]) == [
        "AK9 (segment 5): expected AK2 or AK9, got 'AK9'"
    ]
    assert rendered(["AK1*HC*1", "AK9*A**0*0"]) == ["AK902 (segment 4): expected a number, got ''"]


def test_st03_and_gs08_are_checked() -> None:
    assert rendered(["AK1*HC*1", "AK9*A*0*0*0"], st03="005010X222A1") == [
        "ST03 (segment 2): expected one of 005010X231, 005010X231A1, got '005010X222A1'",
        "GS08 (segment 1): expected '005010X222A1' (as in ST03), got '005010X231A1'",
    ]


def test_writer_refuses_what_pyx12_would_refuse() -> None:
    ack = Ack999(
        functional_id="HC",
        group_control_number="1",
        transactions=(
            TransactionResponse(
                transaction_set_id="837",
                control_number="0001",
                segments=(
                    SegmentNote(
                        segment_id="NM1",
                        position=4,
                        loop_id="2010BA",
                        error_code="Z",
                        elements=(ElementNote(position=ElementPosition(1), error_code="77"),),
                    ),
                ),
                status="Q",
                error_codes=("1", "2", "3", "4", "5", "6"),
            ),
        ),
        status="Y",
        error_codes=("99",),
    )
    with pytest.raises(X12Error) as info:
        write_999(
            ack,
            EnvelopeParams(
                sender_qualifier="ZZ",
                sender_id="A",
                receiver_qualifier="ZZ",
                receiver_id="B",
                usage_indicator="T",
            ),
            lambda: datetime(2026, 3, 2),
            SequentialControlNumbers(),
        )
    assert [p.render() for p in info.value.problems] == [
        "2100 IK303: expected a loop id of at most 4 characters, got '2010BA'",
        "2100 IK304: expected one of 1, 2, 3, 4, 5, 6, 7, 8, I4, I6, I7, I8, I9, got 'Z'",
        "2110 IK403: expected one of 1, 10, 12, 13, 2, 3, 4, 5, 6, 7, 8, 9, I10, I11, I12, I13, "
        "I6, I9, got '77'",
        "2000 IK501: expected one of A, E, M, R, W, X, got 'Q'",
        "2000 IK502: expected at most 5 error codes, got 6",
        "AK901: expected one of A, E, M, P, R, W, X, got 'Y'",
        "AK905: expected one of 1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 2, 23, 24, 25, 26, 3, "
        "4, 5, 6, got '99'",
    ]


@pytest.mark.parametrize(
    ("problem", "expected"),
    [
        (Problem(message="x", segment_id="SE", element="SE01"), Classification("transaction", "4")),
        (Problem(message="x", segment_id="SE", element="SE02"), Classification("transaction", "3")),
        (
            Problem(message="expected SE before the end of the transaction set", segment_id="CLM"),
            Classification("transaction", "2"),
        ),
        (Problem(message="x", segment_id="GE", element="GE01"), Classification("group", "5")),
        (Problem(message="x", segment_id="GE", element="GE02"), Classification("group", "4")),
        (
            Problem(message="x", segment_id="IEA", element="IEA02"),
            Classification("interchange", "001"),
        ),
        (
            Problem(message="x", segment_id="IEA", element="IEA01"),
            Classification("interchange", "021"),
        ),
        (
            Problem(message="x", segment_id="ISA", element="ISA06"),
            Classification("interchange", "006"),
        ),
        (
            Problem(message="x", segment_id="ISA", element="ISA16"),
            Classification("interchange", "027"),
        ),
        (
            Problem(message="expected IEA at the end of the interchange", segment_id="SE"),
            Classification("interchange", "023"),
        ),
        (
            Problem(message="expected one of A, B, got 'Q'", segment_id="UM", element="UM01"),
            Classification("element", "7"),
        ),
        (
            Problem(
                message="expected a date CCYYMMDD, got '2026'", segment_id="DTP", element="DTP03"
            ),
            Classification("element", "8"),
        ),
        (
            Problem(message="expected a number, got 'x'", segment_id="SV1", element="SV102"),
            Classification("element", "6"),
        ),
        (
            Problem(message="expected a value, got ''", segment_id="NM1", element="NM103"),
            Classification("element", "1"),
        ),
        (Problem(message="expected HL level 21, got none"), Classification("segment", "3")),
        (
            Problem(message="expected one 2000D under HL 3, got another", segment_id="HL"),
            Classification("segment", "4"),
        ),
        (
            Problem(message="expected BHT or HL, got 'XX'", segment_id="XX"),
            Classification("segment", "2"),
        ),
        (
            Problem(message="x", segment_id="GS", element="GS08", transaction_control_number="1"),
            Classification("transaction", "19"),
        ),
        (Problem(message="x", segment_id="GS", element="GS08"), Classification("group", "2")),
    ],
)
def test_classification(problem: Problem, expected: Classification) -> None:
    assert classify(problem) == expected
