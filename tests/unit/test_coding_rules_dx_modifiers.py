"""The diagnosis, cosmetic, E/M, global period, modifier and LCD rule families: the parts a
coder would get wrong by a day or a character (global period day counting, the ICD-10-CM
billable check, the fiscal year, the cosmetic classification and payer thresholds)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from integration.coding.engine import Scrubber
from integration.coding.icd10cm import code_set, normalise, with_dot
from integration.coding.model import Finding, Payer, ScrubResult, request_from_json
from integration.coding.rules.global_period import expand_codes, global_window
from integration.coding.rules.icd10 import fiscal_year
from integration.coding.rules.lcd import dx_in, payer_matches
from tests.support.coding import scrubber_for_tests

MEDICARE = {"id": "SANDBOX01", "name": "Sandbox Medicare", "claim_filing": "MB"}
SBX = {"id": "SBX01", "name": "SANDBOX HEALTH PLAN", "claim_filing": "CI"}
BX = {"technique": "tangential", "lesion_count": 1, "site": "trunk"}


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return scrubber_for_tests()


def _request(
    dx: list[str],
    lines: list[tuple[str, list[str], list[int], str]],
    *,
    payer: dict[str, str] = MEDICARE,
    facts: dict[str, Any] | None = None,
    encounter: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "claim": {
            "patient_control_number": "UT-1",
            "total_charge": str(100 * len(lines)),
            "facility_code": "11",
            "diagnoses": [
                {"qualifier": "ABK" if i == 0 else "ABF", "code": c} for i, c in enumerate(dx)
            ],
            "services": [
                {
                    "line_number": n,
                    "procedure": {"qualifier": "HC", "code": code, "modifiers": mods},
                    "charge": "100",
                    "quantity": "1",
                    "pointers": pointers,
                    "dates": [{"qualifier": "472", "start": day}],
                }
                for n, (code, mods, pointers, day) in enumerate(lines, start=1)
            ],
        },
        "payer": payer,
        "facts": {"lines": facts or {}, "encounter": encounter or {}},
        "history": history or [],
    }


def _scrub(scrubber: Scrubber, data: dict[str, Any]) -> ScrubResult:
    return scrubber.scrub(request_from_json(data))


def _rules(result: ScrubResult, family: str) -> list[Finding]:
    return [f for f in result.findings if f.rule.startswith(family + ".")]


def _lines(result: ScrubResult) -> list[str]:
    return ["-".join([s.procedure.code, *s.procedure.modifiers]) for s in result.corrected.services]


# -- global period day counting -------------------------------------------------------------------


def test_ten_day_global_is_the_procedure_day_and_ten_more() -> None:
    start, end = global_window(date(2026, 5, 31), "010") or (None, None)
    assert (start, end) == (date(2026, 5, 31), date(2026, 6, 10))


def test_ninety_day_global_starts_the_day_before_and_ends_on_day_ninety() -> None:
    start, end = global_window(date(2026, 3, 12), "090") or (None, None)
    assert start == date(2026, 3, 11)
    assert end == date(2026, 6, 10)  # 2026-03-12 + 90 days


def test_zero_day_global_is_the_day_itself_and_add_ons_have_none() -> None:
    assert global_window(date(2026, 1, 5), "000") == (date(2026, 1, 5), date(2026, 1, 5))
    assert global_window(date(2026, 1, 5), "ZZZ") is None
    assert global_window(date(2026, 1, 5), "XXX") is None


@pytest.mark.parametrize(
    ("day", "inside"),
    [("2026-05-31", False), ("2026-06-01", True), ("2026-06-10", True), ("2026-06-11", False)],
)
def test_procedure_after_a_ten_day_global(scrubber: Scrubber, day: str, inside: bool) -> None:
    """11602 on 2026-05-31: day 1 to day 10 after it need 58/78/79; the same day is the
    same-day rules' business and day 11 is free."""
    result = _scrub(
        scrubber,
        _request(
            ["D485"],
            [("11102", [], [1], day)],
            facts={"1": BX},
            history=[{"service_date": "2026-05-31", "code": "11602"}],
        ),
    )
    found = [f for f in _rules(result, "global_period") if f.rule == "global_period.in-global"]
    assert bool(found) is inside
    if inside:
        assert found[0].fix is None and "58" in found[0].message and "79" in found[0].message
        assert "11602" in found[0].message


def test_visit_the_day_before_major_surgery_is_a_preop_visit(scrubber: Scrubber) -> None:
    result = _scrub(
        scrubber,
        _request(
            ["C44311"],
            [("99203", [], [1], "2026-04-01")],
            history=[{"service_date": "2026-04-02", "code": "14040"}],
        ),
    )
    preop = [f for f in result.findings if f.rule == "global_period.preop-day"]
    assert len(preop) == 1 and "57" in preop[0].message and preop[0].severity == "info"
    assert _lines(result) == ["99203"]


# -- ICD-10-CM -------------------------------------------------------------------------------------


def test_billable_leaf_and_category() -> None:
    codes = code_set()
    assert codes.info("L821").status == "billable"
    assert codes.info("L82.1").status == "billable"
    c443 = codes.info("C443")
    assert c443.status == "category"
    assert len(c443.billable_below) == 12 and "C44.311" in c443.billable_below
    l82 = codes.info("L82")
    assert l82.status == "category" and set(l82.billable_below) == {"L82.0", "L82.1"}


def test_unknown_codes_and_blocks_are_not_diagnoses() -> None:
    codes = code_set()
    assert codes.info("L999").status == "unknown"
    assert codes.info("L80-L99").status == "unknown"  # a block of the tabular list
    assert codes.info("11102").status == "unknown"  # a CPT code in the HI segment


def test_dot_handling() -> None:
    assert normalise(" l82.1 ") == "L821"
    assert with_dot("C44311") == "C44.311"
    assert with_dot("L82") == "L82"


@pytest.mark.parametrize(
    ("day", "fy"),
    [(date(2025, 10, 1), 2026), (date(2026, 9, 30), 2026), (date(2026, 10, 1), 2027)],
)
def test_fiscal_year_starts_october_first(day: date, fy: int) -> None:
    assert fiscal_year(day) == fy


@pytest.mark.parametrize(("day", "info"), [("2026-09-30", False), ("2026-10-01", True)])
def test_code_set_year_reported_outside_fy2026(scrubber: Scrubber, day: str, info: bool) -> None:
    result = _scrub(scrubber, _request(["D485"], [("11102", [], [1], day)], facts={"1": BX}))
    found = [f for f in result.findings if f.rule == "icd10.code-set-year"]
    assert bool(found) is info
    if info:
        assert "FY2027" in found[0].message and "FY2026" in found[0].message


def test_not_billable_names_count_and_example_and_changes_nothing(scrubber: Scrubber) -> None:
    result = _scrub(
        scrubber, _request(["C443"], [("11102", [], [1], "2026-06-10")], facts={"1": BX})
    )
    [finding] = [f for f in result.findings if f.rule == "icd10.not-billable"]
    assert "C44.3" in finding.message and "12 billable" in finding.message
    assert finding.fix is None
    assert [d.code for d in result.corrected.diagnoses] == ["C443"]


def test_unspecified_with_a_procedure_not_on_a_visit_alone(scrubber: Scrubber) -> None:
    with_procedure = _scrub(
        scrubber, _request(["L309"], [("11104", [], [1], "2026-06-10")], facts={"1": BX})
    )
    [w] = [f for f in with_procedure.findings if f.rule == "icd10.unspecified"]
    assert w.severity == "warning" and "L30.9" in w.message and "L30.0" in w.message
    visit = _scrub(scrubber, _request(["L309"], [("99213", [], [1], "2026-06-10")]))
    assert not [f for f in visit.findings if f.rule == "icd10.unspecified"]


def test_uncertain_behavior_is_not_unspecified(scrubber: Scrubber) -> None:
    """D49.2 says 'unspecified behavior' (pathology pending): a specific category, no warning."""
    result = _scrub(
        scrubber, _request(["D492"], [("11102", [], [1], "2026-06-10")], facts={"1": BX})
    )
    assert not [f for f in result.findings if f.rule == "icd10.unspecified"]


# -- cosmetic classification -----------------------------------------------------------------------


def _sk(
    scrubber: Scrubber,
    line: dict[str, Any],
    *,
    dx: str = "L821",
    code: str = "17110",
    payer: dict[str, str] = MEDICARE,
) -> ScrubResult:
    return _scrub(
        scrubber, _request([dx], [(code, [], [1], "2026-06-10")], payer=payer, facts={"1": line})
    )


def test_indication_spelling_is_normalised(scrubber: Scrubber) -> None:
    result = _sk(scrubber, {"lesion_count": 2, "indications": ["Intense itching"]})
    assert not _rules(result, "cosmetic") and _lines(result) == ["17110"]


def test_wart_situation_does_not_cover_a_seborrheic_keratosis(scrubber: Scrubber) -> None:
    """'spreading' is a covered situation for warts only (L35498)."""
    sk = _sk(scrubber, {"lesion_count": 2, "indications": ["spreading"]})
    assert [f.rule for f in _rules(sk, "cosmetic")] == ["cosmetic.self-pay"]
    assert [s.code for s in sk.self_pay] == ["17110"] and _lines(sk) == []
    wart = _sk(scrubber, {"lesion_count": 2, "indications": ["spreading"]}, dx="B078")
    assert not _rules(wart, "cosmetic") and _lines(wart) == ["17110"]


def test_cosmetic_request_wins_and_medicare_abn_is_explained(scrubber: Scrubber) -> None:
    result = _sk(
        scrubber, {"lesion_count": 2, "indications": ["bleeding"], "cosmetic_request": True}
    )
    [finding] = _rules(result, "cosmetic")
    assert finding.fix is not None and "GZ" in finding.message
    assert result.self_pay[0].reason.startswith("Cosmetic removal")


def test_missing_indications_are_a_gap_not_a_guess(scrubber: Scrubber) -> None:
    result = _sk(scrubber, {"lesion_count": 2})
    [finding] = _rules(result, "cosmetic")
    assert finding.rule == "cosmetic.indication-gap" and finding.fix is None
    assert _lines(result) == ["17110"] and not result.self_pay


def test_actinic_keratosis_is_always_medical(scrubber: Scrubber) -> None:
    result = _sk(scrubber, {"lesion_count": 1, "indications": ["asymptomatic"]}, dx="L570")
    assert not _rules(result, "cosmetic") and not result.self_pay


@pytest.mark.parametrize(("count", "medical"), [(10, True), (9, False)])
def test_payer_skin_tag_threshold_boundary(scrubber: Scrubber, count: int, medical: bool) -> None:
    result = _sk(
        scrubber,
        {"lesion_count": count, "laterality": "bilateral", "indications": ["asymptomatic"]},
        dx="L918",
        code="11200",
        payer=SBX,
    )
    assert (not result.self_pay) is medical
    if not medical:
        assert "10 or more" in _rules(result, "cosmetic")[0].message


def test_threshold_is_payer_specific(scrubber: Scrubber) -> None:
    """Twelve asymptomatic skin tags are cosmetic for Medicare (no count threshold in the LCD)."""
    result = _sk(
        scrubber, {"lesion_count": 12, "indications": ["asymptomatic"]}, dx="L918", code="11200"
    )
    assert [s.code for s in result.self_pay] == ["11200"]


# -- E/M and modifiers together --------------------------------------------------------------------


def test_59_on_em_becomes_25_through_both_families(scrubber: Scrubber) -> None:
    result = _scrub(
        scrubber,
        _request(
            ["L309", "D485"],
            [("99213", ["59"], [1], "2026-06-10"), ("11102", [], [2], "2026-06-10")],
            facts={"2": BX},
            encounter={"separately_identifiable_em": True},
        ),
    )
    rules = {f.rule for f in result.findings}
    assert {"em_procedure.modifier-25", "modifiers.59-on-em"} <= rules
    assert _lines(result)[0] == "99213-25"


def test_cosmetic_line_does_not_justify_25(scrubber: Scrubber) -> None:
    result = _scrub(
        scrubber,
        _request(
            ["L309", "L821"],
            [("99213", ["25"], [1], "2026-06-10"), ("17110", [], [2], "2026-06-10")],
            facts={"2": {"lesion_count": 2, "indications": ["asymptomatic"]}},
            encounter={"separately_identifiable_em": True},
        ),
    )
    assert _lines(result) == ["99213"]
    assert [s.code for s in result.self_pay] == ["17110"]


# -- small helpers ---------------------------------------------------------------------------------


def test_code_ranges() -> None:
    assert list(expand_codes("11300-11303")) == ["11300", "11301", "11302", "11303"]
    assert list(expand_codes("17000")) == ["17000"]
    with pytest.raises(ValueError, match="FIRST <= LAST"):
        list(expand_codes("11303-11300"))


def test_payer_selector_and_dx_prefix() -> None:
    assert payer_matches({"claim_filing": ["MB"]}, Payer(claim_filing="MB"))
    assert not payer_matches({"claim_filing": ["MB"]}, Payer(id="MB", claim_filing="CI"))
    assert payer_matches({"payer_ids": ["SBX01"]}, Payer(id="SBX01", claim_filing="CI"))
    assert payer_matches({"default": True}, Payer())
    assert dx_in("L821", "L82") and dx_in("L82.1", "L82.1") and not dx_in("L821", "L82.0")


def test_25_stays_with_an_injection(scrubber: Scrubber) -> None:
    """96372 has no global period of its own, but an E/M with it may still carry 25."""
    result = _scrub(
        scrubber,
        _request(
            ["L208"],
            [("99213", ["25"], [1], "2026-06-10"), ("96372", [], [1], "2026-06-10")],
        ),
    )
    assert not [f for f in result.findings if f.rule.startswith("em_procedure.")]
    assert _lines(result)[0] == "99213-25"


def test_category_on_a_visit_names_the_visit_line(scrubber: Scrubber) -> None:
    result = _scrub(scrubber, _request(["L20"], [("99213", [], [1], "2026-06-10")]))
    [finding] = [f for f in result.findings if f.rule == "icd10.not-billable"]
    assert finding.lines == (1,) and "L20.0" in finding.message
