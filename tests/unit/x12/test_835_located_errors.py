"""One test per located 835 problem: the synthetic golden remittance with one defect, and the
exact message (where: expected, got)."""

from __future__ import annotations

import pytest

from integration.x12.t835_005010x221a1 import read_835, write_835
from tests.unit.denials.era_scenarios import PAYER_PARAMS, clock, control_numbers, remittance

CLEAN = write_835(remittance(), PAYER_PARAMS, clock, control_numbers(), segment_suffix="\n")
PLB_CODES = (
    "50, 51, 72, 90, AH, AM, AP, B2, B3, BD, BN, C5, CR, CS, CT, CV, CW, DM, E3, FB, FC, GO, HM, "
    "IP, IR, IS, J1, L3, L6, LE, LS, OA, OB, PI, PL, RA, RE, SL, TL, WO, WU"
)


def test_the_clean_text_has_no_problem() -> None:
    assert read_835(CLEAN)[1] == []


CASES = [
    (
        "CLP*DRM-1002*4*",
        "CLP*DRM-1002*9*",
        [
            "2100 CLP02 (segment 31): expected one of 1, 2, 3, 4, 19, 20, 21, 22, 23, 25, got '9'",
        ],
    ),
    (
        "CAS*CO*197*900.00",
        "CAS*XX*197*900.00",
        ["2110 CAS01 (segment 37): expected one of CO, OA, PI, PR, got 'XX'"],
    ),
    (
        "SVC*HC:17311*900.00*0**1",
        "SVC*HC:17311*900.00*10**1",
        [
            "2110 SVC03 (segment 35): expected SVC02 - line adjustments (900.00 - 900.00 = 0.00) "
            "to equal SVC03, got 10",
        ],
    ),
    (
        "DTM*472*20260212",
        "DTM*472*20260231",
        ["2110 DTM02 (segment 36): expected a date CCYYMMDD, got '20260231'"],
    ),
    (
        "TRN*1*EFT0000001*1999999999~\n",
        "",
        ["BPR (segment 3): expected TRN (reassociation trace number), got none"],
    ),
    (
        "N1*PE*SYNTHETIC DERMATOLOGY CLINIC*XX*1234567893~\nREF*TJ*999999999~\n",
        "",
        ["1000B LX (segment 12): expected N1*PE (payee identification), got none"],
    ),
    (
        "LX*1~\n",
        "",
        ["2000 CLP (segment 14): expected LX (header number) before the first CLP"],
    ),
    (
        "BPR*I*201.50*C*ACH",
        "BPR*I*201.50*C*CASH",
        ["BPR04 (segment 3): expected one of ACH, BOP, CHK, FWT, NON, got 'CASH'"],
    ),
    (
        "LQ*HE*N54",
        "LQ*XX*N54",
        ["2110 LQ01 (segment 39): expected one of HE, RX, got 'XX'"],
    ),
    (
        "PLB*1234567893*20261231*L6:DRM-1001*-1.50",
        "PLB*1234567893*20261231*ZZ:DRM-1001*-1.50",
        [f"PLB03-1 (segment 40): expected one of {PLB_CODES}, got 'ZZ'"],
    ),
    (
        "CAS*PR*2*30.00",
        "CAS*PR*2*30.00*1*1*0*1*2*0*1*3*0*1*4*0*1*5*0*1*6*0*1",
        [
            "2110 CAS (segment 22): expected at most 6 adjustment triplets (CAS02..CAS19), got 7",
        ],
    ),
    (
        "REF*6R*DRM-1001-2~\n",
        "REF*6R*DRM-1001-2~\nHL*1**20*1~\n",
        [
            "2110 HL (segment 30): expected a segment of the 2110 loop (SVC, DTM, CAS, REF, AMT, "
            "QTY, LQ), got 'HL'"
        ],
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"), CASES, ids=[c[1][:24] or c[0][:24] for c in CASES]
)
def test_located_problem(old: str, new: str, expected: list[str]) -> None:
    assert old in CLEAN
    text = CLEAN.replace(old, new, 1)
    if text.count("\n") != CLEAN.count("\n"):
        # a segment was added or removed: fix SE01 so only the defect under test is reported
        count = next(line for line in text.splitlines() if line.startswith("SE*"))
        st = text.splitlines().index(
            next(line for line in text.splitlines() if line.startswith("ST*"))
        )
        se = text.splitlines().index(count)
        text = text.replace(count, f"SE*{se - st + 1}*0501~", 1)
    _, problems = read_835(text)
    assert [p.render() for p in problems] == expected
