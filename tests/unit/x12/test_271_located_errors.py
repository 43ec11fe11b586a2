"""Located errors of the 270/271 readers and writer, asserted as rendered messages."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from integration.x12.envelope import EnvelopeParams, SequentialControlNumbers
from integration.x12.errors import X12Error
from integration.x12.t270_005010x279a1 import (
    Benefit,
    Entity,
    Header,
    Member,
    Receiver,
    Request270,
    Source,
    read_270,
    write_270,
)
from integration.x12.t271_005010x279a1 import read_271


def interchange(set_id: str, body: list[str], st03: str = "005010X279A1") -> str:
    fid = "HS" if set_id == "270" else "HB"
    segs = "".join(s + "~" for s in body)
    return (
        "ISA*00*          *00*          *ZZ*DERMRCM        *ZZ*SANDBOXCH      *260302*0915*^*00501*"
        f"000000001*0*T*:~GS*{fid}*DERMRCM*SANDBOXCH*20260302*0915*1*X*{st03}~"
        f"ST*{set_id}*0001*{st03}~{segs}SE*{len(body) + 2}*0001~GE*1*1~IEA*1*000000001~"
    )


HEAD = [
    "HL*1**20*1",
    "NM1*PR*2*PAYER*****PI*1",
    "HL*2*1*21*1",
    "NM1*1P*2*CLINIC*****XX*1234567893",
    "HL*3*2*22*0",
    "NM1*IL*1*DOE*JO****MI*1",
]


def problems_271(body: list[str]) -> list[str]:
    return [p.render() for p in read_271(interchange("271", body))[1]]


def test_bad_eb_codes_are_located() -> None:
    body = ["BHT*0022*11*R1*20260302*0915", *HEAD, "EB*Z*XXX*30***99*1O.00***x*Q*Q"]
    assert problems_271(body) == [
        "2110C EB01 (segment 10): expected one of 1, 2, 3, 4, 5, 6, 7, 8, A, B, C, CB, D, E, F, "
        "G, H, I, J, K, L, M, MC, N, O, P, Q, R, S, T, U, V, W, X, Y, got 'Z'",
        "2110C EB02 (segment 10): expected one of CHD, DEP, ECH, EMP, ESP, FAM, IND, SPC, SPO, "
        "TWO, got 'XXX'",
        "2110C EB06 (segment 10): expected one of 13, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, "
        "32, 33, 34, 35, 36, 6, 7, got '99'",
        "2110C EB07 (segment 10): expected a number, got '1O.00'",
        "2110C EB10 (segment 10): expected a number, got 'x'",
        "2110C EB11 (segment 10): expected one of N, U, Y, got 'Q'",
        "2110C EB12 (segment 10): expected one of N, U, W, Y, got 'Q'",
    ]


def test_structure_errors_are_located() -> None:
    assert problems_271(
        ["BHT*0022*13*R1*20260302*0915", *HEAD, "EB*1", "LS*2120", "NM1*P3*1*X"]
    ) == [
        "BHT02 (segment 3): expected '11', got '13'",
        "2120C LS (segment 11): expected LE, got none",
    ]
    assert problems_271(
        ["BHT*0022*11*R1*2026030*0915", *HEAD[:4], "HL*3*9*22*0", "NM1*IL*1*A"]
    ) == [
        "2000C HL02 (segment 8): expected the id of an HL of level 21, got '9'",
        "BHT04 (segment 3): expected a date CCYYMMDD, got '2026030'",
        "2000B HL04 (segment 6): expected 0, got '1'",
    ]
    assert problems_271(["BHT*0022*11*R1*20260302*0915", "HL*1**20*0", "PER*IC"]) == [
        "2100A PER (segment 5): expected NM1, got 'PER'",
        "2000A ST (segment 2): expected HL level 20 with an NM1, got none",
    ]
    assert problems_271(["BHT*0022*11*R1*20260302*0915", *HEAD, "DTP*346*D9*20260101"]) == [
        "2100C DTP02 (segment 10): expected D8 or RD8, got 'D9'"
    ]


def test_270_eq_and_header_errors() -> None:
    body = ["BHT*0022*13*R1*20260302*0915", *HEAD, "EQ*30^ABC*HC:17311*XXX", "EB*1"]
    problems = [p.render() for p in read_270(interchange("270", body, st03="005010X222A1"))[1]]
    assert problems == [
        "ST03 (segment 2): expected one of 005010X279, 005010X279A1, got '005010X222A1'",
        "2110C EQ01 (segment 10): expected a service type code (1-2 letters or digits), got 'ABC'",
        "2110C EQ03 (segment 10): expected one of CHD, DEP, ECH, EMP, ESP, FAM, IND, SPC, SPO, "
        "TWO, got 'XXX'",
        "2110C EB (segment 11): expected EQ, got 'EB'",
    ]


def test_writer_refuses_benefits_in_a_270() -> None:
    member = Member(
        party=Entity(entity_code="IL", entity_type="1", last_or_organization="DOE"),
        benefits=(Benefit(info_code="1"),),
    )
    model = Request270(
        header=Header(reference_id="R1", created=date(2026, 3, 2), time="0915"),
        sources=(
            Source(
                party=Entity(entity_code="PR", entity_type="2"),
                receivers=(
                    Receiver(
                        party=Entity(entity_code="1P", entity_type="2"), subscribers=(member,)
                    ),
                ),
            ),
        ),
    )
    params = EnvelopeParams(
        sender_qualifier="ZZ",
        sender_id="A",
        receiver_qualifier="ZZ",
        receiver_id="B",
        usage_indicator="T",
    )
    with pytest.raises(X12Error) as info:
        write_270(model, params, lambda: datetime(2026, 3, 2), SequentialControlNumbers())
    assert [p.render() for p in info.value.problems] == ["2110C EB: expected EQ in a 270, got EB"]


def test_loop_level_segments_in_the_wrong_level_are_located() -> None:
    body = [
        "BHT*0022*11*R1*20260302*0915",
        "HL*1**20*1",
        "TRN*2*T1*9X",
        "NM1*PR*2*PAYER*****PI*1",
        "HL*2*1*21*1",
        "NM1*1P*2*CLINIC*****XX*1234567893",
        "HL*3*2*22*0",
        "AAA*Y**72*C",
        "NM1*IL*1*DOE*JO****MI*1",
    ]
    assert problems_271(body) == [
        "2000A TRN (segment 5): expected TRN only at levels 22 and 23, got it here",
        "2000C AAA (segment 10): expected AAA after the NM1 (2100C), got it before",
    ]
