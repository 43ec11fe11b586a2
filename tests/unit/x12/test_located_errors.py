"""Located errors: each defect is reported where it is, with the exact message text."""

from __future__ import annotations

import pytest

from integration.x12.delimiters import DEFAULT_DELIMITERS, read_delimiters
from integration.x12.envelope import read_transactions
from integration.x12.errors import Problem, X12Error
from integration.x12.segments import build_segment
from integration.x12.t278_005010x217 import read_278_request, write_278_request
from tests.unit.x12.scenarios import CLINIC_PARAMS, MOHS, clock, control_numbers

# Segment indexes in the Mohs request: ISA 0, GS 1, ST 2, BHT 3, HL 4 .. HL 12 (EV) .. SE 20,
# GE 21, IEA 22.
VALID = write_278_request(MOHS, CLINIC_PARAMS, clock, control_numbers())


def rendered(text: str) -> list[str]:
    problems: list[Problem] = []
    for txn in read_transactions(text, problems):
        problems.extend(txn.problems)
    return [p.render() for p in problems]


def test_the_valid_request_has_no_problem() -> None:
    assert rendered(VALID) == []
    assert read_278_request(VALID)[1] == []


def test_se01_wrong_count() -> None:
    assert rendered(VALID.replace("SE*19*0001~", "SE*18*0001~")) == [
        "SE01 (segment 20): expected segment count 19, got '18'"
    ]


def test_st02_se02_mismatch() -> None:
    assert rendered(VALID.replace("SE*19*0001~", "SE*19*0002~")) == [
        "SE02 (segment 20): expected transaction set control number '0001' (ST02), got '0002'"
    ]


def test_iea02_mismatch() -> None:
    assert rendered(VALID.replace("IEA*1*000001001~", "IEA*1*000001002~")) == [
        "IEA02 (segment 22): expected interchange control number '000001001' (ISA13), got '000001002'"
    ]


def test_ge01_wrong() -> None:
    assert rendered(VALID.replace("GE*1*1001~", "GE*2*1001~")) == [
        "GE01 (segment 21): expected transaction set count 1, got '2'"
    ]


def test_problems_carry_the_envelope_control_numbers() -> None:
    problems: list[Problem] = []
    txn = next(read_transactions(VALID.replace("SE*19*0001~", "SE*18*0001~"), problems))
    (problem,) = txn.problems
    assert (problem.interchange_control_number, problem.group_control_number) == (
        "000001001",
        "1001",
    )
    assert (problem.transaction_control_number, problem.segment_id, problem.element) == (
        "0001",
        "SE",
        "SE01",
    )


def test_bad_um01_code() -> None:
    _, problems = read_278_request(VALID.replace("UM*HS*I*2*11:B~", "UM*XX*I*2*11:B~"))
    assert [p.render() for p in problems] == [
        "2000E UM01 (segment 14): expected one of AR, HS, SC, got 'XX'"
    ]
    assert problems[0].loop_id == "2000E"


def test_bad_hcr01_and_hcr_in_a_request() -> None:
    text = VALID.replace("UM*HS*I*2*11:B~", "UM*HS*I*2*11:B~HCR*ZZ~").replace("SE*19*", "SE*20*")
    assert [p.render() for p in read_278_request(text)[1]] == [
        "2000E HCR (segment 15): expected no HCR in a request, got one",
        "2000E HCR01 (segment 15): expected one of A1, A2, A3, A4, A6, C, CT, NA, got 'ZZ'",
    ]


def test_missing_hl_parent() -> None:
    _, problems = read_278_request(VALID.replace("HL*3*2*22*1~", "HL*3*7*22*1~"))
    rendered_problems = [p.render() for p in problems]
    assert (
        "2000C HL02 (segment 9): expected the HL01 of an earlier level as parent, got '7'"
        in rendered_problems
    )
    assert (
        "2000B HL04 (segment 6): expected '0' (HL 2 has no subordinate level), got '1'"
        in rendered_problems
    )


def test_wrong_parent_level_and_bad_level_code() -> None:
    text = VALID.replace("HL*4*3*EV*1~", "HL*4*2*EV*1~")
    assert "2000E HL02 (segment 12): expected a parent in 2000C or 2000D, got HL 2 (2000B)" in [
        p.render() for p in read_278_request(text)[1]
    ]
    text = VALID.replace("HL*4*3*EV*1~", "HL*4*3*QQ*1~")
    assert "HL03 (segment 12): expected one of 20, 21, 22, 23, EV, SS, got 'QQ'" in [
        p.render() for p in read_278_request(text)[1]
    ]


def test_missing_um_and_bad_date() -> None:
    text = VALID.replace("DTP*AAH*D8*20260316~", "DTP*AAH*D8*2026031~")
    assert [p.render() for p in read_278_request(text)[1]] == [
        "2000E DTP03 (segment 15): expected a date CCYYMMDD, got '2026031'"
    ]


def test_value_containing_the_element_separator_on_write() -> None:
    with pytest.raises(X12Error) as caught:
        build_segment("NM1", ["IL", "1", "DOE*SMITH"], DEFAULT_DELIMITERS, index=10)
    assert (
        str(caught.value)
        == "NM103 (segment 10): expected a value without the element separator '*', got 'DOE*SMITH'"
    )


def test_writer_refuses_a_model_value_with_a_delimiter() -> None:
    from dataclasses import replace

    assert MOHS.subscriber is not None
    bad = replace(MOHS, subscriber=replace(MOHS.subscriber, last_or_organization="DOE~X"))
    with pytest.raises(X12Error) as caught:
        write_278_request(bad, CLINIC_PARAMS, clock, control_numbers())
    assert (
        str(caught.value)
        == "NM103 (segment 10): expected a value without the segment terminator '~', got 'DOE~X'"
    )


def test_isa_must_be_fixed_width() -> None:
    short = VALID.replace("*ZZ*DERMRCM        *", "*ZZ*DERMRCM*", 1)
    with pytest.raises(X12Error) as caught:
        read_delimiters(short)
    assert str(caught.value) == (
        "ISA06 (segment 0): expected a fixed-width ISA of 106 characters "
        "(ISA01..ISA16 widths 2/10/2/10/2/15/2/15/6/4/1/5/9/1/1/1), "
        "got widths 2/10/2/10/2/7/2/15/6/4/1/5/9/1/1/4/2"
    )
    assert [p.render() for p in read_278_request(short)[1]] == [str(caught.value)]


def test_line_breaks_and_indentation_are_tolerated() -> None:
    text = "\ufeff  " + VALID.replace("~", "~\r\n    ")
    assert read_278_request(text) == read_278_request(VALID)
