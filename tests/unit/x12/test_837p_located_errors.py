"""Located errors in an 837P: each defect, put into an otherwise valid golden, is reported where
it is (loop, element, component, segment index) with the exact message text.

Segment indexes in the biopsy golden: ISA 0, GS 1, ST 2, BHT 3, 1000A NM1 4 / PER 5, 1000B NM1 6,
HL 7 (2000A), PRV 8, NM1*85 9 .. REF 12, HL 13 (2000B), SBR 14, NM1*IL 15 .. DMG 18, NM1*PR 19,
CLM 20, NTE 21, HI 22, NM1*82 23, PRV 24, LX 25, SV1 26, DTP 27, LX 28, SV1 29, DTP 30, LX 31,
SV1 32, DTP 33, SE 34. In the secondary golden: SBR (2320) 24, SVD 33, CAS 34 and 35."""

from __future__ import annotations

import pytest

from integration.paths import fixtures_dir
from integration.x12.t837_005010x222a1 import read_837p

GOLDENS = fixtures_dir() / "x12" / "837p"
VALID = (GOLDENS / "biopsy-99213-25-11102-11103.x12").read_text("ascii").replace("\n", "")
SECONDARY = (GOLDENS / "secondary-2320-2430.x12").read_text("ascii").replace("\n", "")
SE_ONE_SHORT = "SE01 (segment 33): expected segment count 32, got '33'"


def rendered(text: str) -> tuple[int, list[str]]:
    models, problems = read_837p(text)
    return len(models), [p.render() for p in problems]


def test_the_goldens_have_no_problem() -> None:
    assert rendered(VALID) == (1, [])
    assert rendered(SECONDARY) == (1, [])


def test_claim_frequency_code() -> None:
    assert rendered(VALID.replace("11:B:1*", "11:B:9*")) == (
        1,
        ["2300 CLM05-3 (segment 20): expected 1, 6, 7 or 8, got '9'"],
    )


def test_replacement_without_the_payer_claim_number() -> None:
    assert rendered(VALID.replace("11:B:1*", "11:B:7*")) == (
        1,
        [
            "2300 CLM (segment 20): expected REF*F8 (payer claim control number) for frequency 7, got none"
        ],
    )


def test_missing_clm05() -> None:
    assert rendered(VALID.replace("*11:B:1*", "**")) == (
        1,
        ["2300 CLM05 (segment 20): expected facility code, qualifier and frequency, got nothing"],
    )


def test_hl_parent_that_does_not_exist() -> None:
    assert rendered(VALID.replace("HL*2*1*22*0", "HL*2*2*22*0")) == (
        0,
        [
            "2000B HL02 (segment 13): expected the HL01 of an earlier level as parent, got '2'",
            "2000A HL04 (segment 7): expected '0' (HL 1 has no subordinate level), got '1'",
            "2000A HL (segment 7): expected a subscriber level (HL 22), got none",
        ],
    )


def test_hl_child_code() -> None:
    assert rendered(VALID.replace("HL*2*1*22*0", "HL*2*1*22*1")) == (
        1,
        ["2000B HL04 (segment 13): expected '0' (HL 2 has no subordinate level), got '1'"],
    )


def test_missing_diagnoses() -> None:
    assert rendered(VALID.replace("HI*ABK:L570*ABF:D485*ABF:L821~", "")) == (
        0,
        [
            SE_ONE_SHORT,
            "2300 CLM (segment 20): expected HI (diagnoses), got none",
            "2400 SV107-1 (segment 25): expected a pointer to one of the claim's 0 diagnoses, got '1'",
            "2400 SV107-2 (segment 25): expected a pointer to one of the claim's 0 diagnoses, got '2'",
            "2400 SV107-3 (segment 25): expected a pointer to one of the claim's 0 diagnoses, got '3'",
            "2400 SV107-1 (segment 28): expected a pointer to one of the claim's 0 diagnoses, got '2'",
            "2400 SV107-1 (segment 31): expected a pointer to one of the claim's 0 diagnoses, got '2'",
            "2400 SV107-2 (segment 31): expected a pointer to one of the claim's 0 diagnoses, got '3'",
        ],
    )


def test_pointer_to_a_diagnosis_that_is_not_there() -> None:
    assert rendered(VALID.replace("UN*1***1:2:3", "UN*1***1:2:4")) == (
        1,
        [
            "2400 SV107-3 (segment 26): expected a pointer to one of the claim's 3 diagnoses, got '4'"
        ],
    )


def test_sv1_composite_qualifier() -> None:
    assert rendered(VALID.replace("SV1*HC:11102", "SV1*ZZ:11102")) == (
        1,
        ["2400 SV101-1 (segment 29): expected ER, HC, IV or WK, got 'ZZ'"],
    )


def test_sv1_composite_too_long() -> None:
    assert rendered(VALID.replace("HC:99213:25*", "HC:99213:25:59:XS:XU:76:DESC:X*")) == (
        1,
        [
            "2400 SV101 (segment 26): expected at most 4 modifiers and a description, got 9 components"
        ],
    )


def test_sv1_units_and_quantity() -> None:
    assert rendered(VALID.replace("UN*2***2:3", "XX*two***2:3")) == (
        0,
        [
            "2400 SV103 (segment 32): expected MJ or UN, got 'XX'",
            "2400 SV104 (segment 32): expected a number, got 'two'",
        ],
    )


def test_total_charge_is_not_the_sum_of_the_lines() -> None:
    assert rendered(VALID.replace("*520.00*", "*530.00*")) == (
        1,
        [
            "2300 CLM02 (segment 20): expected the sum of the line charges SV102 (520.00), got 530.00"
        ],
    )


@pytest.mark.parametrize(
    ("removed", "message"),
    [
        ("SBR*P*18*******CI~", "2000B HL (segment 13): expected SBR, got none"),
        (
            "NM1*PR*2*SANDBOX HEALTH PLAN*****PI*SBX01~",
            "2010BB HL (segment 13): expected NM1*PR (payer), got none",
        ),
    ],
)
def test_required_segment_missing(removed: str, message: str) -> None:
    assert rendered(VALID.replace(removed, "")) == (0, [SE_ONE_SHORT, message])


def test_segment_not_of_the_loop_is_reported_and_kept() -> None:
    count, problems = rendered(VALID.replace("NTE*ADD", "XYZ*1~NTE*ADD").replace("SE*33", "SE*34"))
    assert (count, problems) == (
        1,
        [
            "2300 XYZ (segment 21): expected one of AMT, CLM, CN1, CR1, CR2, CRC, DTP, HCP, HI, K3, N3, N4, NM1, NTE, PER, PRV, PWK, REF, got 'XYZ'"
        ],
    )
    (model,), _ = read_837p(VALID.replace("NTE*ADD", "XYZ*1~NTE*ADD").replace("SE*33", "SE*34"))
    assert [(r.position, r.id) for r in model.claims[0].extras] == [(1, "XYZ")]


def test_line_numbers() -> None:
    assert rendered(VALID.replace("LX*2~", "LX*5~")) == (
        1,
        ["2400 LX01 (segment 28): expected '2', got '5'"],
    )


def test_implementation_guide() -> None:
    assert rendered(VALID.replace("ST*837*0001*005010X222A1", "ST*837*0001*005010X217")) == (
        1,
        [
            "ST03 (segment 2): expected 005010X222, 005010X222A1 or 005010X222A2, got '005010X217'",
            "GS08 (segment 1): expected '005010X217' (as in ST03), got '005010X222A1'",
        ],
    )


def test_impossible_date() -> None:
    text = VALID.replace("DTP*472*D8*20260217~LX*2", "DTP*472*D8*20260230~LX*2")
    assert rendered(text) == (
        1,
        ["2400 DTP03 (segment 27): expected a date CCYYMMDD, got '20260230'"],
    )


def test_line_adjustment_group_and_amount() -> None:
    assert rendered(SECONDARY.replace("CAS*PR*2*24.00", "CAS*XX*2*2A.00")) == (
        1,
        [
            "2430 CAS01 (segment 34): expected CO, OA, PI or PR, got 'XX'",
            "2430 CAS03 (segment 34): expected a number, got '2A.00'",
        ],
    )


def test_other_subscriber_without_oi() -> None:
    text = SECONDARY.replace("OI***Y*P**Y~", "").replace("SE*42", "SE*41")
    assert rendered(text) == (
        1,
        ["2320 SBR (segment 24): expected OI (other insurance coverage), got none"],
    )


def test_problems_carry_the_envelope_control_numbers() -> None:
    _, (problem,) = read_837p(VALID.replace("11:B:1*", "11:B:9*"))
    assert (
        problem.interchange_control_number,
        problem.group_control_number,
        problem.transaction_control_number,
    ) == ("000002001", "2001", "0001")
    assert (problem.loop_id, problem.element, problem.component, problem.segment_index) == (
        "2300",
        "CLM05",
        3,
        20,
    )


def _claims_under_one_subscriber(n: int) -> str:
    """The biopsy golden with its claim (CLM .. the last DTP) repeated `n` times, each with its
    own CLM01, and SE01 counted again."""
    segments = [s for s in VALID.split("~") if s]
    clm = next(i for i, s in enumerate(segments) if s.startswith("CLM*"))
    se = next(i for i, s in enumerate(segments) if s.startswith("SE*"))
    claim = segments[clm:se]
    body: list[str] = []
    for k in range(n):
        first, *rest = claim
        fields = first.split("*")
        fields[1] = f"{fields[1][:30]}{k:04d}"
        body += ["*".join(fields), *rest]
    out = segments[:clm] + body + segments[se:]
    st = next(i for i, s in enumerate(out) if s.startswith("ST*"))
    end = next(i for i, s in enumerate(out) if s.startswith("SE*"))
    se_fields = out[end].split("*")
    se_fields[1] = str(end - st + 1)
    out[end] = "*".join(se_fields)
    return "~".join(out) + "~"


def test_more_than_100_claims_under_one_subscriber() -> None:
    assert rendered(_claims_under_one_subscriber(100)) == (1, [])
    _count, problems = rendered(_claims_under_one_subscriber(101))
    per_claim = 34 - 20  # CLM .. the last DTP of the golden's claim
    assert problems == [
        f"2300 CLM (segment {20 + 100 * per_claim}): expected at most 100 claims (2300) under "
        "one subscriber level (2000B), got 101"
    ]
