"""The payer-rule language on hand-built evidence: three values, evidence and owners."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

import pytest

from integration.domain.evidence import (
    ClinicalEvidence,
    CoverageFact,
    Diagnosis,
    Measure,
    Outcome,
    Owner,
    PatientFact,
    ScreeningFact,
    Therapy,
    TherapyKind,
)
from integration.domain.priorauth import OrderFact, Prescriber, Status
from integration.rules.language import Compiler, Context, RuleLanguageError, Verdict

DAY = date(2026, 11, 15)
COMPILER = Compiler(
    known_classes=frozenset(
        {
            "topical-corticosteroid",
            "topical-calcineurin-inhibitor",
            "topical-pde4-inhibitor",
            "conventional-systemic",
            "biologic",
            "oral-jak-inhibitor",
            "nb-uvb",
        }
    ),
    class_labels={"topical-corticosteroid": "topical corticosteroid"},
    known_areas=frozenset({"hands", "feet", "face", "neck", "scalp", "genitals", "intertriginous"}),
)


class FakePotency:
    GROUPS: ClassVar[dict[str, str]] = {
        "clobetasol propionate 0.05% ointment": "super-high",
        "triamcinolone acetonide 0.1% ointment": "medium",
        "hydrocortisone 1% cream": "low",
    }
    ORDER: ClassVar[list[str]] = ["low", "medium", "high", "super-high"]

    def potency_group(self, name: str) -> str | None:
        return self.GROUPS.get(name)

    def meets(self, name: str, minimum: str) -> bool | None:
        group = self.GROUPS.get(name)
        return None if group is None else self.ORDER.index(group) >= self.ORDER.index(minimum)


class FakeAreas:
    def areas_in(self, text: str) -> tuple[str, ...]:
        words = text.lower().replace(",", " ").split()
        return tuple(a for a in ("hands", "neck", "face") if a in words)


def therapy(
    name: str,
    cls: str,
    start: str | None,
    end: str | None,
    outcome: Outcome,
    kind: TherapyKind = TherapyKind.TOPICAL,
    status: str = "completed",
    ident: str = "t",
) -> Therapy:
    return Therapy(
        name=name,
        rxnorm=None,
        kind=kind,
        drug_class=cls,
        start=start,
        end=end,
        weeks=None,
        status=status,
        outcome=outcome,
        outcome_text=None,
        recorded_as="statement",
        source=f"MedicationStatement/{ident}",
    )


def measure(key: str, value: str, when: str, ident: str) -> Measure:
    return Measure(
        value=Decimal(value),
        unit="%" if key == "BSA" else None,
        date=when,
        source=f"Observation/{ident}",
        instrument=key,
    )


def evidence(**changes: Any) -> ClinicalEvidence:
    base = ClinicalEvidence(
        patient=PatientFact("p1", "Patient/p1", "Test Patient", "1990-05-20", "female"),
        as_of=DAY.isoformat(),
        measures={
            "BSA": (
                measure("BSA", "12", "2026-09-10", "bsa-2"),
                measure("BSA", "8", "2025-01-10", "bsa-1"),
            ),
            "EASI": (),
            "PASI": (),
            "DLQI": (),
            "IGA": (),
        },
        diagnoses=(
            Diagnosis(
                "L20.89",
                None,
                "Atopic dermatitis",
                "2020",
                "active",
                "Condition/ad",
                body_sites=("Flexures, neck, trunk, hands",),
            ),
        ),
        therapies=(
            therapy(
                "triamcinolone acetonide 0.1% ointment",
                "topical-corticosteroid",
                "2025-11-18",
                "2026-01-13",
                Outcome.INADEQUATE_RESPONSE,
                ident="tcs",
            ),
            therapy(
                "tacrolimus 0.1% ointment",
                "topical-calcineurin-inhibitor",
                "2026-01-13",
                "2026-02-24",
                Outcome.INTOLERANCE,
                ident="tci",
            ),
            therapy(
                "crisaborole 2% ointment",
                "topical-pde4-inhibitor",
                "2026-02-24",
                "2026-05-19",
                Outcome.INADEQUATE_RESPONSE,
                ident="pde4",
            ),
            therapy(
                "Dupixent (dupilumab)",
                "biologic",
                "2026-11-01",
                None,
                Outcome.ONGOING,
                TherapyKind.BIOLOGIC,
                "active",
                "dupi",
            ),
        ),
        photos=(),
        coverage=(
            CoverageFact(
                "Cigna", "Open Access Plus", "X1", "active", None, None, True, "Coverage/c1"
            ),
        ),
        pathology=(),
        screenings=(
            ScreeningFact(
                "tuberculosis", "QuantiFERON", "2026-10-27", "Negative", "Observation/tb"
            ),
        ),
        missing=(),
    )
    return replace(base, **changes)


ORDER = OrderFact(
    source="MedicationRequest/dupi-order", kind="medication", text="Dupixent 300 mg pen"
)


def run(expr: dict[str, Any], ev: ClinicalEvidence | None = None, **ctx: Any) -> Verdict:
    node = COMPILER.compile_criterion(expr, "c1", "criteria/0/rule")
    context = Context(
        evidence=ev or evidence(),
        order=ctx.pop("order", ORDER),
        service_date=DAY,
        potency=FakePotency(),
        areas=FakeAreas(),
        ordered=lambda t: "dupixent" in t.name.lower(),
        **ctx,
    )
    return node.evaluate(context)


def test_measure_uses_the_latest_score_in_the_window() -> None:
    met = run({"measure": {"key": "BSA", "at_least": 10, "within_days": 365}})
    assert (met.status, met.evidence) == (Status.MET, ("Observation/bsa-2",))
    assert "BSA % 12% on 2026-09-10" in met.detail
    unmet = run({"measure": {"key": "BSA", "at_least": 15, "within_days": 365}})
    assert unmet.status is Status.UNMET and unmet.evidence == ("Observation/bsa-2",)


def test_a_score_only_outside_the_window_is_missing_and_names_the_old_one() -> None:
    verdict = run({"measure": {"key": "BSA", "at_least": 10, "within_days": 30}})
    assert verdict.status is Status.MISSING
    assert verdict.needs[0].owner is Owner.CLINICIAN
    assert "the latest is 12 on 2026-09-10" in verdict.detail
    none = run({"measure": {"key": "EASI", "at_least": 16, "within_days": 365}})
    assert none.status is Status.MISSING and none.evidence == ()


def test_tcs_trial_length_decides_met_or_unmet() -> None:
    expr = {
        "therapy": {
            "classes": ["topical-corticosteroid"],
            "min_potency": "medium",
            "min_days": 28,
            "outcomes": ["inadequate response"],
        }
    }
    met = run(expr)
    assert met.status is Status.MET and met.evidence == ("MedicationStatement/tcs",)
    stricter = {"therapy": {**expr["therapy"], "min_days": 84}}
    unmet = run(stricter)
    assert unmet.status is Status.UNMET
    assert "56 days, needs 84" in unmet.detail


def test_potency_that_cannot_be_told_is_missing_and_too_weak_is_unmet() -> None:
    expr = {
        "therapy": {"classes": ["topical-corticosteroid"], "min_potency": "medium", "min_days": 28}
    }
    unknown = replace(
        evidence(),
        therapies=(
            therapy(
                "Taclonex ointment",
                "topical-corticosteroid",
                "2025-01-01",
                "2025-03-01",
                Outcome.INADEQUATE_RESPONSE,
            ),
        ),
    )
    verdict = run(expr, unknown)
    assert verdict.status is Status.MISSING and "potency not known" in verdict.detail
    weak = replace(
        evidence(),
        therapies=(
            therapy(
                "hydrocortisone 1% cream",
                "topical-corticosteroid",
                "2025-01-01",
                "2025-03-01",
                Outcome.INADEQUATE_RESPONSE,
            ),
        ),
    )
    assert run(expr, weak).status is Status.UNMET


def test_no_course_at_all_is_missing_not_unmet() -> None:
    verdict = run({"therapy": {"drugs": ["methotrexate"], "min_days": 84}})
    assert verdict.status is Status.MISSING
    assert verdict.detail == "no methotrexate course in the chart"


def test_partial_dates_are_not_rounded_into_a_verdict() -> None:
    vague = replace(
        evidence(),
        therapies=(
            therapy(
                "methotrexate 2.5 mg tablet",
                "conventional-systemic",
                "2025-02",
                "2025-05",
                Outcome.INADEQUATE_RESPONSE,
                TherapyKind.SYSTEMIC,
            ),
        ),
    )
    # February..May is anywhere from 59 to 120 days: 84 can't be decided
    assert (
        run({"therapy": {"drugs": ["methotrexate"], "min_days": 84}}, vague).status
        is Status.MISSING
    )
    assert run({"therapy": {"drugs": ["methotrexate"], "min_days": 56}}, vague).status is Status.MET
    assert (
        run({"therapy": {"drugs": ["methotrexate"], "min_days": 150}}, vague).status is Status.UNMET
    )


def test_contraindication_counts_only_where_the_rule_lists_it() -> None:
    ci = replace(
        evidence(),
        therapies=(
            therapy(
                "methotrexate (not started)",
                "conventional-systemic",
                None,
                None,
                Outcome.CONTRAINDICATION,
                TherapyKind.SYSTEMIC,
                "not-taken",
            ),
        ),
    )
    plain = {"therapy": {"drugs": ["methotrexate"], "min_days": 84}}
    assert run(plain, ci).status is Status.UNMET
    listed = {
        "therapy": {"drugs": ["methotrexate"], "min_days": 84, "outcomes": ["contraindication"]}
    }
    assert run(listed, ci).status is Status.MET


def test_ongoing_course_without_documented_response_is_missing() -> None:
    ongoing = replace(
        evidence(),
        therapies=(
            therapy(
                "clobetasol propionate 0.05% ointment",
                "topical-corticosteroid",
                "2026-06-01",
                None,
                Outcome.ONGOING,
                status="active",
            ),
        ),
    )
    verdict = run({"therapy": {"classes": ["topical-corticosteroid"], "min_days": 28}}, ongoing)
    assert verdict.status is Status.MISSING and "response not documented" in verdict.detail


def test_two_of_three_topicals() -> None:
    expr = {
        "at_least": {
            "count": 2,
            "of": [
                {
                    "therapy": {
                        "classes": ["topical-corticosteroid"],
                        "outcomes": ["inadequate response", "intolerance", "contraindication"],
                    }
                },
                {
                    "therapy": {
                        "classes": ["topical-calcineurin-inhibitor"],
                        "outcomes": ["inadequate response", "intolerance", "contraindication"],
                    }
                },
                {
                    "therapy": {
                        "drugs": ["crisaborole"],
                        "outcomes": ["inadequate response", "intolerance", "contraindication"],
                    }
                },
            ],
        }
    }
    verdict = run(expr)
    assert verdict.status is Status.MET
    assert set(verdict.evidence) == {
        "MedicationStatement/tcs",
        "MedicationStatement/tci",
        "MedicationStatement/pde4",
    }
    only_one = replace(evidence(), therapies=evidence().therapies[:1])
    # one met, two missing (never recorded): still possible, so missing
    assert run(expr, only_one).status is Status.MISSING


def test_any_and_all_follow_three_valued_logic() -> None:
    bsa = {"measure": {"key": "BSA", "at_least": 10, "within_days": 365}}
    easi = {"measure": {"key": "EASI", "at_least": 16, "within_days": 365}}
    low_bsa = {"measure": {"key": "BSA", "at_least": 50, "within_days": 365}}
    assert run({"any": [easi, bsa]}).status is Status.MET
    assert run({"any": [easi, low_bsa]}).status is Status.MISSING
    assert run({"all": [bsa, easi]}).status is Status.MISSING
    assert run({"all": [easi, low_bsa]}).status is Status.UNMET


def test_body_area_from_the_diagnosis_body_site() -> None:
    verdict = run({"body_area": {"areas": ["hands", "feet"]}})
    assert verdict.status is Status.MET and verdict.evidence == ("Condition/ad",)
    elsewhere = replace(
        evidence(), diagnoses=(replace(evidence().diagnoses[0], body_sites=("Elbows, knees",)),)
    )
    assert run({"body_area": {"areas": ["hands"]}}, elsewhere).status is Status.UNMET
    unrecorded = replace(evidence(), diagnoses=(replace(evidence().diagnoses[0], body_sites=()),))
    assert run({"body_area": {"areas": ["hands"]}}, unrecorded).status is Status.MISSING


def test_age_with_a_partial_birth_date() -> None:
    assert run({"age": {"min_years": 18}}).status is Status.MET
    baby = replace(evidence(), patient=PatientFact("p1", "Patient/p1", None, "2026-05", None))
    # born some day in May 2026: 6 months on 2026-11-15 only if born by the 15th
    assert run({"age": {"min_months": 6}}, baby).status is Status.MISSING
    assert run({"age": {"min_months": 7}}, baby).status is Status.UNMET
    assert run({"age": {"min_months": 5}}, baby).status is Status.MET


def test_no_concurrent_biologic_ignores_the_drug_being_ordered() -> None:
    assert run({"no_concurrent": {"classes": ["biologic"]}}).status is Status.MET
    stelara = therapy(
        "Stelara (ustekinumab)",
        "biologic",
        "2024-07-09",
        None,
        Outcome.ONGOING,
        TherapyKind.BIOLOGIC,
        "active",
        "stelara",
    )
    switching = replace(evidence(), therapies=(*evidence().therapies, stelara))
    verdict = run({"no_concurrent": {"classes": ["biologic"]}}, switching)
    assert verdict.status is Status.UNMET and verdict.evidence == ("MedicationStatement/stelara",)


def test_prescriber_specialty_unknown_is_the_coordinators() -> None:
    expr = {"prescriber_specialty": {"specialties": ["dermatology", "allergy"]}}
    missing = run(expr)
    assert missing.status is Status.MISSING and missing.needs[0].owner is Owner.COORDINATOR
    derm = run(expr, prescriber=Prescriber("PractitionerRole/r1", ("dermatology",)))
    assert (derm.status, derm.evidence) == (Status.MET, ("PractitionerRole/r1",))
    assert (
        run(expr, prescriber=Prescriber("PractitionerRole/r2", ("rheumatology",))).status
        is Status.UNMET
    )


def test_screening_and_attestation() -> None:
    assert run({"screening": {"test": "tuberculosis", "within_days": 365}}).evidence == (
        "Observation/tb",
    )
    assert run({"screening": {"test": "tuberculosis", "within_days": 7}}).status is Status.MISSING
    attest = {"attestation": {"text": "Moderate to severe chronic atopic dermatitis"}}
    assert run(attest).status is Status.MISSING
    done = run(attest, attested={"c1": "Practitioner/dr"})
    assert (done.status, done.evidence) == (Status.MET, ("Practitioner/dr",))


def test_order_quantity_for_pa_when() -> None:
    mohs = OrderFact(source="ServiceRequest/m", kind="procedure", text="Mohs", quantity=3)
    assert run({"order_quantity": {"more_than": 2}}, order=mohs).status is Status.MET
    assert (
        run({"order_quantity": {"more_than": 2}}, order=replace(mohs, quantity=2)).status
        is Status.UNMET
    )
    assert (
        run({"order_quantity": {"more_than": 2}}, order=replace(mohs, quantity=None)).status
        is Status.MISSING
    )


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ({"eval": "1+1"}, "criteria/0/rule: unknown predicate 'eval'"),
        (
            {"therapy": {"classes": ["steroid"]}},
            "criteria/0/rule/therapy/classes: unknown class 'steroid'",
        ),
        (
            {"body_area": {"areas": ["elbows"]}},
            "criteria/0/rule/body_area/areas: unknown area 'elbows'",
        ),
        (
            {"measure": {"key": "BSA", "within_days": 30}},
            "expected at_least, at_most or documented",
        ),
        (
            {
                "at_least": {
                    "count": 3,
                    "of": [{"age": {"min_years": 1}}, {"age": {"min_years": 2}}],
                }
            },
            "expected at most 2",
        ),
        (
            {"therapy": {"classes": ["biologic"], "min_potency": "high"}},
            "only for classes [topical-corticosteroid]",
        ),
        ({"all": [], "any": []}, "expected a mapping with exactly one key"),
    ],
)
def test_the_compiler_refuses_what_it_does_not_know(expr: dict[str, Any], message: str) -> None:
    with pytest.raises(
        RuleLanguageError,
        match=message.replace("[", r"\[")
        .replace("]", r"\]")
        .replace("(", r"\(")
        .replace(")", r"\)"),
    ):
        COMPILER.compile_criterion(expr, "c1", "criteria/0/rule")
