"""Response to therapy: each score before the approval began against the newest since."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from integration.domain.evidence import ClinicalEvidence, Measure, Owner
from integration.priorauth.reauth import describe, score_changes

STARTED = date(2026, 3, 1)
TODAY = date(2026, 11, 1)


def _chart(*measures: Measure) -> ClinicalEvidence:
    by_key: dict[str, tuple[Measure, ...]] = {}
    for m in measures:
        by_key[m.instrument] = (*by_key.get(m.instrument, ()), m)
    return ClinicalEvidence(
        patient=None,
        as_of=TODAY.isoformat(),
        measures=by_key,
        diagnoses=(),
        therapies=(),
        photos=(),
        coverage=(),
        pathology=(),
        screenings=(),
        missing=(),
    )


def _pasi(value: str, day: str, source: str) -> Measure:
    return Measure(Decimal(value), None, day, f"Observation/{source}", "PASI")


def test_baseline_is_the_newest_before_the_start_and_current_the_newest_since() -> None:
    chart = _chart(
        _pasi("20.0", "2025-12-01", "old"),
        _pasi("18.4", "2026-02-20", "baseline"),
        _pasi("6.0", "2026-06-01", "mid"),
        _pasi("3.1", "2026-10-15", "now"),
        _pasi("1.0", "2026-12-01", "after-today"),
    )

    (pasi,) = score_changes(STARTED, TODAY, chart)

    assert pasi.baseline is not None and pasi.baseline.source == "Observation/baseline"
    assert pasi.current is not None and pasi.current.source == "Observation/now"
    assert pasi.change == Decimal("-15.3")
    assert pasi.percent == Decimal("83")
    assert describe(pasi) == "PASI 18.4 (2026-02-20) -> 3.1 (2026-10-15): 83% better"


def test_no_score_since_the_start_is_missing_for_the_clinician_never_a_guess() -> None:
    chart = _chart(_pasi("18.4", "2026-02-20", "baseline"))

    (pasi,) = score_changes(STARTED, TODAY, chart)

    assert (pasi.change, pasi.percent, pasi.owner) == (None, None, Owner.CLINICIAN)
    assert pasi.missing == "PASI since the approval began (2026-03-01 to 2026-11-01)"


def test_a_month_only_date_that_may_straddle_the_start_is_neither_baseline_nor_current() -> None:
    chart = _chart(_pasi("18.4", "2026-03", "march"), _pasi("4.0", "2026-09-01", "sept"))

    (pasi,) = score_changes(STARTED, TODAY, chart)

    assert pasi.baseline is None
    assert pasi.missing is not None and pasi.missing.startswith("PASI before therapy began")


def test_a_worse_score_says_worse_and_the_same_fact_in_two_charts_counts_once() -> None:
    first = _chart(_pasi("10", "2026-01-10", "a"))
    second = _chart(_pasi("10", "2026-01-10", "a"), _pasi("12", "2026-09-10", "b"))

    (pasi,) = score_changes(STARTED, TODAY, first, second)

    assert describe(pasi) == "PASI 10 (2026-01-10) -> 12 (2026-09-10): 20% worse"


def test_region_scores_and_absent_instruments_are_left_out() -> None:
    regional = replace(_pasi("5", "2026-01-10", "r"), region="head")
    assert score_changes(STARTED, TODAY, _chart(regional)) == ()
