"""Problem codes and severity (errors.py): the envelope and the 835 reader set the X12 syntax error
code the acknowledgment carries (TA105, AK905, IK502, IK304, IK403, with the `level` saying which);
`t999.classify` takes that code before its wording rules; warnings (the 835's missing PER*BL)
are acknowledged "accepted with errors" (IK501 E, AK901 E), never R.

Fixtures: the synthetic 837P golden fixtures/x12/837p/biopsy-99213-25-11102-11103.x12 and the
synthetic 835 golden fixtures/x12/835/paid-denied-interest.835 (see PROVENANCE.md beside them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.x12.envelope import read_transactions
from integration.x12.errors import Problem, errors, warnings
from integration.x12.t835_005010x221a1 import read_835
from integration.x12.t999_005010x231a1 import Classification, build_999, classify

FIXTURES = Path(__file__).parents[3] / "fixtures" / "x12"
CLAIM = (FIXTURES / "837p" / "biopsy-99213-25-11102-11103.x12").read_text()
ERA = (FIXTURES / "835" / "paid-denied-interest.835").read_text()


def envelope_problems(text: str) -> list[Problem]:
    problems: list[Problem] = []
    for txn in read_transactions(text, problems):
        problems.extend(txn.problems)
    return problems


def coded(text: str) -> list[tuple[str, str | None, str | None, str]]:
    return [(p.render(), p.level, p.code, p.severity) for p in envelope_problems(text)]


def test_defaults() -> None:
    p = Problem(message="expected X, got 'Y'")
    assert (p.code, p.level, p.severity, p.is_error) == (None, None, "error", True)
    w = p.coded("segment", "3").as_warning()
    assert (w.code, w.level, w.severity, w.is_error) == ("3", "segment", "warning", False)
    assert errors([p, w]) == [p] and warnings([p, w]) == [w]
    assert w.render() == p.render()  # severity is not part of where/what


def test_a_clean_interchange_has_no_problems() -> None:
    assert envelope_problems(CLAIM) == []


def segment_starting(text: str, prefix: str) -> str:
    return next(s.strip() for s in text.split("~") if s.strip().startswith(prefix))


SE = segment_starting(CLAIM, "SE*")


@pytest.mark.parametrize(
    ("old", "new", "element", "level", "code"),
    [
        (SE, "SE*1*0001", "SE01", "transaction", "4"),
        (SE, SE.replace("*0001", "*0002"), "SE02", "transaction", "3"),
        ("GE*1*2001", "GE*2*2001", "GE01", "group", "5"),
        ("GE*1*2001", "GE*1*2002", "GE02", "group", "4"),
        ("IEA*1*000002001", "IEA*2*000002001", "IEA01", "interchange", "021"),
        ("IEA*1*000002001", "IEA*1*000002009", "IEA02", "interchange", "001"),
        ("*00501*", "*00401*", "ISA12", "interchange", "017"),
        ("*260302*0930*", "*261302*0930*", "ISA09", "interchange", "014"),
    ],
)
def test_envelope_problems_carry_their_code(
    old: str, new: str, element: str, level: str, code: str
) -> None:
    (problem,) = envelope_problems(CLAIM.replace(old, new, 1))
    assert (problem.element, problem.level, problem.code, problem.severity) == (
        element,
        level,
        code,
        "error",
    )
    assert classify(problem) == Classification(level, code)


def test_isa12_is_located() -> None:
    assert coded(CLAIM.replace("*00501*", "*00401*", 1)) == [
        ("ISA12 (segment 0): expected '00501', got '00401'", "interchange", "017", "error")
    ]


def test_structure_problems_carry_their_code() -> None:
    no_se = CLAIM.replace(SE + "~", "", 1)
    assert [(p.level, p.code) for p in envelope_problems(no_se)] == [("transaction", "2")]
    no_ge = CLAIM.replace("GE*1*2001~", "", 1)
    assert [(p.level, p.code) for p in envelope_problems(no_ge)] == [("group", "3")]
    no_iea = CLAIM[: CLAIM.index("IEA*")]
    assert [(p.level, p.code) for p in envelope_problems(no_iea)] == [("interchange", "023")]


def test_classify_prefers_the_code_to_the_wording() -> None:
    worded = Problem(
        message="expected a date CCYYMMDD, got '2026'", segment_id="DTP", element="DTP03"
    )
    assert classify(worded) == Classification("element", "8")
    assert classify(worded.coded("element", "9")) == Classification("element", "9")
    assert classify(worded.coded("segment", "3")) == Classification("segment", "3")


def test_835_reader_codes_required_segments_codes_and_dates() -> None:
    no_qc = ERA.replace("NM1*QC*", "NM1*QD*", 1)
    _, problems = read_835(no_qc)
    missing = [p for p in problems if "NM1*QC" in p.message]
    assert missing and all((p.level, p.code) == ("segment", "3") for p in missing)
    bad_date = ERA.replace("DTM*405*", "DTM*405*2026", 1)
    _, problems = read_835(bad_date)
    (date_problem,) = [p for p in problems if p.element == "DTM02"]
    assert (date_problem.level, date_problem.code) == ("element", "8")


def test_missing_payer_contact_is_a_warning() -> None:
    assert "PER*BL" in ERA
    segment = segment_starting(ERA, "PER*BL") + "~"
    se = segment_starting(ERA, "SE*")
    count = int(se.split("*")[1])
    text = ERA.replace(segment, "", 1).replace(se, se.replace(f"SE*{count}*", f"SE*{count - 1}*"))
    models, problems = read_835(text)
    assert len(models) == 1
    assert [(p.render(), p.severity) for p in problems] == [
        (
            "1000A N1 (segment 7): expected PER*BL (payer technical contact), got none",
            "warning",
        )
    ]
    (ack,) = build_999(text, problems)
    (response,) = ack.transactions
    assert (response.status, response.error_codes) == ("E", ("5",))
    assert [(n.segment_id, n.loop_id, n.error_code) for n in response.segments] == [
        ("N1", "1000", "3")
    ]
    assert (ack.status, ack.received, ack.accepted) == ("E", 1, 1)
    # the same problem as an error rejects
    as_error = [Problem(**{**_fields(p), "severity": "error"}) for p in problems]
    (rejected,) = build_999(text, as_error)
    assert (rejected.status, rejected.transactions[0].status) == ("R", "R")


def _fields(p: Problem) -> dict[str, object]:
    return {name: getattr(p, name) for name in Problem.__dataclass_fields__}


def test_837p_reader_codes_bad_codes_dates_and_missing_segments() -> None:
    from integration.x12.t837_005010x222a1 import read_837p

    _, problems = read_837p(CLAIM.replace("*11:B:1*", "*11:B:9*", 1))
    (frequency,) = problems
    assert frequency.render() == "2300 CLM05-3 (segment 20): expected 1, 6, 7 or 8, got '9'"
    assert (frequency.level, frequency.code) == ("element", "7")
    _, problems = read_837p(CLAIM.replace("DTP*472*D8*2026", "DTP*472*D8*X026", 1))
    dates = [p for p in problems if p.element == "DTP03"]
    assert dates and all((p.level, p.code) == ("element", "8") for p in dates)
    no_sbr = CLAIM.replace(segment_starting(CLAIM, "SBR*") + "~", "", 1)
    _, problems = read_837p(no_sbr)
    missing = [p for p in problems if p.message == "expected SBR, got none"]
    assert missing and all((p.level, p.code) == ("segment", "3") for p in missing)
