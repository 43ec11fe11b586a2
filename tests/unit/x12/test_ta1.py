"""TA1: the public sample is read with its defects located; TA1s we build answer bad ISAs and
IEA mismatches with the TA105 note code; what we write reads back unchanged.

The Inteligenz TechnicalAcknowledgment_Sample1 (an 00401 interchange) is read, but each of its two
TA1s carries a 4-digit TA101, an 8-digit TA102 and no TA105: reported exactly below. It is not
written back: the TR3 form (YYMMDD) is the only one we write."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import pytest

from integration.x12.envelope import EnvelopeParams, SequentialControlNumbers
from integration.x12.errors import X12Error
from integration.x12.ta1 import InterchangeAck, build_ta1, read_ta1, write_ta1

SAMPLES = Path("/work/shared/data/x12")
CLEAN_837 = SAMPLES / "837P__LinuxForHealth__demo.example1.837"
PARAMS = EnvelopeParams(
    sender_qualifier="ZZ",
    sender_id="SANDBOXCH",
    receiver_qualifier="ZZ",
    receiver_id="DERMRCM",
    usage_indicator="T",
)


def clock() -> datetime:
    return datetime(2026, 3, 2, 9, 30)


def test_sample_is_read_with_located_problems() -> None:
    path = SAMPLES / "TA1__Inteligenz__TechnicalAcknowledgment_Sample1.txt"
    interchanges, problems = read_ta1(path.read_bytes())
    assert [p.render() for p in problems] == [
        "TA101 (segment 1): expected a 9-digit interchange control number, got '0659'",
        "TA102 (segment 1): expected a date YYMMDD, got '20110922'",
        "TA105 (segment 1): expected a note code 000..031, got ''",
        "TA101 (segment 2): expected a 9-digit interchange control number, got '0660'",
        "TA102 (segment 2): expected a date YYMMDD, got '20110922'",
        "TA105 (segment 2): expected a note code 000..031, got ''",
    ]
    (only,) = interchanges
    assert [(a.control_number, a.status, a.interchange_time) for a in only.acks] == [
        ("0659", "A", time(5, 12)),
        ("0660", "A", time(5, 12)),
    ]
    assert only.envelope is not None and only.envelope.control_number == "000000001"


def test_clean_interchange_is_accepted() -> None:
    ack = build_ta1(CLEAN_837.read_bytes())
    assert ack == InterchangeAck(
        control_number="000000907",
        interchange_date=date(2013, 10, 31),
        interchange_time=time(11, 47),
        status="A",
        note_code="000",
    )


@pytest.mark.parametrize(
    ("change", "note"),
    [
        (("*000000005      *", "*000000005       *"), "006"),  # ISA06 16 wide
        (("IEA*1*000000907", "IEA*1*000000908"), "001"),  # IEA02 is not ISA13
        (("IEA*1*000000907", "IEA*2*000000907"), "021"),  # IEA01 counts 2 groups
        (("*00501*", "*00502*"), "017"),  # ISA12 must be 00501
    ],
)
def test_interchange_problems_reject_with_a_note_code(change: tuple[str, str], note: str) -> None:
    text = CLEAN_837.read_text().replace(*change, 1)
    ack = build_ta1(text)
    assert ack is not None and (ack.status, ack.note_code) == ("R", note)


def test_no_isa_no_ta1() -> None:
    assert build_ta1((SAMPLES / "837P__imsweb__x12_no_isa_line.txt").read_bytes()) is None


def test_written_ta1_reads_back() -> None:
    ack = InterchangeAck(
        control_number="000000907",
        interchange_date=date(2013, 10, 31),
        interchange_time=time(11, 47),
        status="R",
        note_code="006",
    )
    text = write_ta1([ack], PARAMS, clock, SequentialControlNumbers(interchange=5))
    assert text == (
        "ISA*00*          *00*          *ZZ*SANDBOXCH      *ZZ*DERMRCM        *260302*0930*^*00501*"
        "000000005*0*T*:~TA1*000000907*131031*1147*R*006~IEA*0*000000005~"
    )
    interchanges, problems = read_ta1(text)
    assert problems == []
    assert [i.acks for i in interchanges] == [(ack,)]


def test_writer_refuses_bad_codes_located() -> None:
    ack = InterchangeAck(
        control_number="907",
        interchange_date=None,
        interchange_time=None,
        status="Q",
        note_code="999",
    )
    with pytest.raises(X12Error) as info:
        write_ta1([ack], PARAMS, clock, SequentialControlNumbers())
    assert [p.render() for p in info.value.problems] == [
        "TA101: expected a 9-digit interchange control number, got '907'",
        "TA102: expected a date and time, got none",
        "TA104: expected one of A, E, R, got 'Q'",
        "TA105: expected a note code 000..031, got '999'",
    ]


def test_ta1_before_gs_in_a_999_interchange_is_read() -> None:
    text = (
        "ISA*00*          *00*          *ZZ*SANDBOXCH      *ZZ*DERMRCM        *260302*0930*^*00501*"
        "000000005*0*T*:~TA1*000000907*131031*1147*A*000~GS*FA*SANDBOXCH*DERMRCM*20260302*0930*5*X*"
        "005010X231A1~ST*999*0001*005010X231A1~AK1*HC*1*005010X222A2~AK9*A*0*0*0~SE*4*0001~GE*1*5~"
        "IEA*1*000000005~"
    )
    interchanges, problems = read_ta1(text)
    assert problems == []
    assert interchanges[0].acks[0].note_code == "000"
