"""Located errors of the 276/277 readers, asserted as rendered messages."""

from __future__ import annotations

from integration.x12.t276_005010x212 import read_276
from integration.x12.t277_005010x212 import read_277


def interchange(set_id: str, body: list[str], st03: str = "005010X212") -> str:
    fid = "HR" if set_id == "276" else "HN"
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
    "NM1*41*2*CLINIC*****46*1",
    "HL*3*2*19*1",
    "NM1*1P*2*CLINIC*****XX*1234567893",
    "HL*4*3*22*0",
    "NM1*IL*1*DOE*JO****MI*1",
]


def problems_277(body: list[str], st03: str = "005010X212") -> list[str]:
    return [p.render() for p in read_277(interchange("277", body, st03))[1]]


def test_stc_errors_are_located() -> None:
    body = [
        "BHT*0010*08*R1*20260302*0915*DG",
        *HEAD,
        "TRN*2*T1",
        "STC*Z9:12X:Q/Q*2026133**1O*5**ACH*20260230*1*A9:1",
        "DTP*472*D8*20260101",
        "REF*1K*X",
    ]
    assert problems_277(body) == [
        "2200D REF (segment 15): expected REF before DTP, got it after",
        "2200D STC01-1 (segment 13): expected a claim status category A0-A8, D0, E0-E4, F0-F4, "
        "P0-P5 or R0-R16, got 'Z9'",
        "2200D STC01-2 (segment 13): expected a status code of 1-4 digits, got '12X'",
        "2200D STC01-3 (segment 13): expected an entity identifier code, got 'Q/Q'",
        "2200D STC10-1 (segment 13): expected a claim status category A0-A8, D0, E0-E4, F0-F4, "
        "P0-P5 or R0-R16, got 'A9'",
        "2200D STC02 (segment 13): expected a date CCYYMMDD, got '2026133'",
        "2200D STC04 (segment 13): expected a number, got '1O'",
        "2200D STC08 (segment 13): expected a date CCYYMMDD, got '20260230'",
    ]


def test_structure_errors_are_located() -> None:
    body = ["BHT*0010*13*R1*20260302*0915", *HEAD[:6], "HL*4*9*22*0", "NM1*IL*1*A", "STC*A1:20"]
    assert problems_277(body) == [
        "2000D HL02 (segment 10): expected the id of an HL of level 19, got '9'",
        "2000C HL04 (segment 8): expected 0, got '1'",
        "BHT02 (segment 3): expected '08', got '13'",
        "2200D STC (segment 12): expected TRN, got 'STC'",
    ]


def test_x214_levels_are_checked() -> None:
    assert problems_277(["BHT*0085*08*R1*20260302*0915*TH", *HEAD], st03="005010X214") == [
        "HL03 (segment 10): expected one of 20, 21, 19, PT, got '22'",
        "2000C HL04 (segment 8): expected 0, got '1'",
    ]


def test_276_refuses_stc_and_checks_st03() -> None:
    body = ["BHT*0010*13*R1*20260302*0915", *HEAD, "TRN*1*T1", "STC*A1:20"]
    problems = [p.render() for p in read_276(interchange("276", body, st03="005010X214"))[1]]
    assert problems == [
        "ST03 (segment 2): expected one of 005010X212, got '005010X214'",
        "2200D STC (segment 13): expected no STC in a 276, got one",
    ]
