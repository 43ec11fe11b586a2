"""999s and a TA1 built from inbound 837Ps, frozen in fixtures/x12/999/ (UPDATE_GOLDENS=1 rewrites
them: review the diff). The clock and control numbers are injected, so the files are byte for byte
deterministic; each 999 reads back without problems to the model that wrote it and validates with
zero errors under pyx12's 999.5010X231.A1 map. See fixtures/x12/999/PROVENANCE.md."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from integration.paths import fixtures_dir
from integration.x12.envelope import EnvelopeParams, SequentialControlNumbers
from integration.x12.errors import Problem
from integration.x12.t999_005010x231a1 import Ack999, build_999, read_999, write_999
from integration.x12.ta1 import build_ta1, read_ta1, write_ta1
from tests.unit.x12.pyx12_check_999 import pyx12_errors

GOLDENS = fixtures_dir() / "x12" / "999"
SAMPLES = Path("/work/shared/data/x12")
CLEAN_837 = SAMPLES / "837P__LinuxForHealth__demo.example1.837"
MULTIPLE_ST = SAMPLES / "837P__imsweb__x12_multiple_st.txt"
SANDBOX = EnvelopeParams(
    sender_qualifier="ZZ",
    sender_id="SANDBOXCH",
    receiver_qualifier="ZZ",
    receiver_id="DERMRCM",
    usage_indicator="T",
)
# Problems a claim reader would report for the clean 837P (synthetic, to show IK3/IK4 output):
# CLM is segment 26 of the interchange (ISA = 0), DTP 31; the missing NM1 has no position.
BODY_PROBLEMS = (
    Problem(
        message="expected one of 1, 6, 7 or 8, got '1'",
        segment_id="CLM",
        segment_index=26,
        element="CLM05",
        component=3,
        loop_id="2300",
        transaction_control_number="0021",
    ),
    Problem(
        message="expected a date CCYYMMDD, got '20061003'",
        segment_id="DTP",
        segment_index=31,
        element="DTP03",
        loop_id="2400",
    ),
    Problem(
        message="expected NM1*QC, got none", loop_id="2010CA", transaction_control_number="0021"
    ),
)


def clock() -> datetime:
    return datetime(2026, 3, 2, 9, 30)


def control_numbers() -> SequentialControlNumbers:
    return SequentialControlNumbers(interchange=5001, group=5001, transaction=1)


def check_golden(name: str, text: str) -> None:
    path = GOLDENS / f"{name}.x12"
    if os.environ.get("UPDATE_GOLDENS") == "1":
        path.write_text(text, encoding="ascii", newline="")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDENS=1 and review it"
    assert text == path.read_bytes().decode("ascii")


def check_999(name: str, ack: Ack999) -> str:
    text = write_999(ack, SANDBOX, clock, control_numbers(), segment_suffix="\n")
    check_golden(name, text)
    acks, problems = read_999(text)
    assert problems == []
    assert acks == [ack]
    assert pyx12_errors(text) == []
    return text


def test_accepts_a_clean_837p() -> None:
    (ack,) = build_999(CLEAN_837.read_bytes())
    text = check_999("999-accepted-837p-example1", ack)
    assert "AK1*HC*1*005010X222A2~\nAK2*837*0021*005010X222A2~\nIK5*A~\nAK9*A*1*1*1~" in text


def test_rejects_imsweb_multiple_st_from_envelope_problems() -> None:
    (ack,) = build_999(MULTIPLE_ST.read_bytes())
    text = check_999("999-rejected-837p-imsweb-multiple-st", ack)
    # SE01 wrong in both sets (IK502 4), ST02 987654 used twice (23), GE01 says 1 of 2 (AK905 5).
    assert "IK5*R*23*4~" in text
    assert "AK9*R*1*2*0*5~" in text


def test_rejects_located_body_problems() -> None:
    (ack,) = build_999(CLEAN_837.read_bytes(), BODY_PROBLEMS)
    text = check_999("999-rejected-837p-example1-clm-dtp", ack)
    assert "IK3*CLM*25*2300*8~\nIK4*5:3**7*1~" in text
    assert "IK3*DTP*30*2400*8~\nIK4*3**8*20061003~" in text
    assert "IK5*R*5~" in text


def test_ta1_rejects_a_bad_isa() -> None:
    inbound = CLEAN_837.read_text().replace("*000000005      *", "*000000005       *", 1)
    ack = build_ta1(inbound)
    assert ack is not None
    assert build_999(inbound) == []  # nothing past an unreadable ISA is acknowledged
    text = write_ta1([ack], SANDBOX, clock, control_numbers(), segment_suffix="\n")
    check_golden("ta1-rejected-isa06-width", text)
    assert "TA1*000000907*131031*1147*R*006~" in text
    interchanges, problems = read_ta1(text)
    assert problems == [] and interchanges[0].acks == (ack,)


@pytest.mark.parametrize("path", sorted(GOLDENS.glob("999-*.x12")), ids=lambda p: p.name)
def test_every_999_golden_validates_with_pyx12(path: Path) -> None:
    assert pyx12_errors(path.read_text()) == []


def test_ta1_golden_validates_with_pyx12() -> None:
    assert pyx12_errors((GOLDENS / "ta1-rejected-isa06-width.x12").read_text()) == []


def test_pyx12_check_is_not_vacuous() -> None:
    text = (GOLDENS / "999-rejected-837p-example1-clm-dtp.x12").read_text()
    broken = text.replace("IK4*5:3**7*1", "IK4*5:3**Q7*1").replace(
        "IK3*CLM*25*2300*8", "IK3*CLM*25*23000*8"
    )
    assert pyx12_errors(broken) == [
        '/5001/999/IK3: 5 Data element "Loop Identifier Code" (IK303) is too long: '
        'len("23000") = 5 > 4 (max_len)',
        "/5001/999/IK4: 7 (Q7) is not a valid code for Implementation Data Element Syntax Error "
        "Code (IK403)",
    ]
