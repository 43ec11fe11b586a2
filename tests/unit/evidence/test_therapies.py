from __future__ import annotations

from datetime import date

from integration.domain.evidence import Outcome, TherapyKind
from integration.evidence.assemble import assemble_evidence
from integration.mapping.evidence_maps import EvidenceMaps
from tests.unit.evidence.builders import chart, procedure, request, statement

AS_OF = date(2026, 11, 15)
CPT = "http://www.ama-assn.org/go/cpt"


def by_name(ev, name):  # type: ignore[no-untyped-def]
    return next(t for t in ev.therapies if name.lower() in t.name.lower())


def test_methotrexate_stopped_for_inadequate_response(maps: EvidenceMaps) -> None:
    ev = assemble_evidence(
        chart(
            statement(
                "mtx",
                "Methotrexate 2.5 mg oral tablet",
                "2025-03-01",
                "2025-08-16",
                "stopped",
                "Inadequate response after 24 weeks",
            )
        ),
        maps,
        AS_OF,
    )
    mtx = by_name(ev, "methotrexate")
    assert (mtx.kind, mtx.drug_class, mtx.start, mtx.end, mtx.weeks) == (
        TherapyKind.SYSTEMIC,
        "conventional-systemic",
        "2025-03-01",
        "2025-08-16",
        24,
    )
    assert (
        mtx.outcome is Outcome.INADEQUATE_RESPONSE
        and mtx.outcome_text == "Inadequate response after 24 weeks"
    )
    assert mtx.source == "MedicationStatement/mtx"


def test_route_decides_ambiguous_drugs_and_unknown_route_is_not_guessed(maps: EvidenceMaps) -> None:
    ev = assemble_evidence(
        chart(
            statement(
                "tri-top",
                "Triamcinolone acetonide 0.1%",
                "2025-01-01",
                "2025-03-01",
                route="6064005",
            ),
            statement("tri-none", "Triamcinolone acetonide", "2024-01-01", "2024-02-01"),
            statement(
                "tac-oral", "Tacrolimus 1 mg capsule", "2023-01-01", "2023-02-01", route="26643006"
            ),
            statement(
                "tac-oint",
                "Tacrolimus 0.1% ointment",
                "2022-01-01",
                "2022-02-12",
                "stopped",
                "Intolerance: burning",
            ),
        ),
        maps,
        AS_OF,
    )
    kinds = {t.source: (t.kind, t.drug_class) for t in ev.therapies}
    assert kinds["MedicationStatement/tri-top"] == (TherapyKind.TOPICAL, "topical-corticosteroid")
    assert kinds["MedicationStatement/tri-none"] == (TherapyKind.UNKNOWN, None)
    assert kinds["MedicationStatement/tac-oral"] == (TherapyKind.SYSTEMIC, "conventional-systemic")
    assert kinds["MedicationStatement/tac-oint"] == (
        TherapyKind.TOPICAL,
        "topical-calcineurin-inhibitor",
    )
    assert by_name(ev, "0.1% ointment").outcome is Outcome.INTOLERANCE


def test_unrelated_drugs_and_draft_orders_are_not_therapies(maps: EvidenceMaps) -> None:
    ev = assemble_evidence(
        chart(
            statement("lis", "Lisinopril 10 mg tablet", "2020-01-01", None, "active"),
            request("sky", "Skyrizi 150 mg/mL pen", "2026-11-10", status="draft"),
            request("plan", "Dupixent 300 mg", "2026-11-10", status="active", intent="proposal"),
        ),
        maps,
        AS_OF,
    )
    assert ev.therapies == ()


def test_refills_are_one_course_and_a_long_gap_starts_another(maps: EvidenceMaps) -> None:
    refills = [
        request(
            f"r{i}",
            "Clobetasol propionate 0.05% ointment",
            f"2025-0{i}-01",
            start=f"2025-0{i}-01",
            end=f"2025-0{i}-28",
        )
        for i in range(1, 5)
    ]
    later = request(
        "r9",
        "Clobetasol propionate 0.05% ointment",
        "2026-09-01",
        status="active",
        start="2026-09-01",
    )
    ev = assemble_evidence(chart(*refills, later), maps, AS_OF)
    courses = [t for t in ev.therapies if "clobetasol" in t.name.lower()]
    assert [(c.start, c.end, len(c.sources)) for c in courses] == [
        ("2026-09-01", None, 0),
        ("2025-01-01", "2025-04-28", 4),
    ]
    assert courses[0].outcome is Outcome.ONGOING and courses[0].weeks == 10
    assert (
        courses[1].outcome is Outcome.UNKNOWN
    )  # completed without a stated reason: not assumed to have failed


def test_contraindicated_drug_not_taken_is_reported(maps: EvidenceMaps) -> None:
    ev = assemble_evidence(
        chart(
            statement(
                "mtx-ci",
                "Methotrexate",
                None,
                None,
                "not-taken",
                "Contraindicated: elevated liver enzymes",
            ),
            statement("cyc-nt", "Cyclosporine", None, None, "not-taken", "Patient preference"),
        ),
        maps,
        AS_OF,
    )
    assert [(t.source, t.outcome) for t in ev.therapies] == [
        ("MedicationStatement/mtx-ci", Outcome.CONTRAINDICATION)
    ]


def test_negated_reason_is_not_an_outcome(maps: EvidenceMaps) -> None:
    ev = assemble_evidence(
        chart(
            statement(
                "cal",
                "Calcipotriene 0.005% cream",
                "2025-01-01",
                "2025-02-01",
                "completed",
                "No side effects; no improvement",
            )
        ),
        maps,
        AS_OF,
    )
    assert by_name(ev, "calcipotriene").outcome is Outcome.INADEQUATE_RESPONSE


def test_phototherapy_sessions_group_into_courses(maps: EvidenceMaps) -> None:
    first = [
        procedure(
            f"s{i}",
            f"2025-02-{i + 1:02d}",
            {"coding": [{"system": CPT, "code": "96900"}], "text": "NB-UVB"},
        )
        for i in range(0, 21, 3)
    ]
    first[-1]["outcome"] = {"text": "Inadequate response"}
    second = [
        procedure("t1", "2025-09-01", {"text": "Narrowband UVB phototherapy"}),
        procedure("t2", "2025-09-04", {"text": "Narrowband UVB phototherapy"}),
    ]
    other = procedure("bx", "2025-02-03", {"coding": [{"system": CPT, "code": "11102"}]})
    ev = assemble_evidence(chart(*first, *second, other), maps, AS_OF)
    courses = [t for t in ev.therapies if t.kind is TherapyKind.PHOTOTHERAPY]
    assert [(c.start, c.end, c.sessions, c.outcome) for c in courses] == [
        ("2025-09-01", "2025-09-04", 2, Outcome.UNKNOWN),
        ("2025-02-01", "2025-02-19", 7, Outcome.INADEQUATE_RESPONSE),
    ]
    assert courses[1].source == "Procedure/s0" and len(courses[1].sources) == 7


def test_medication_from_a_medication_resource(maps: EvidenceMaps) -> None:
    med = {
        "resourceType": "Medication",
        "id": "m1",
        "code": {"text": "Cosentyx 150 mg/mL"},
        "form": {"text": "injection"},
    }
    mr = request("mr1", "x", "2026-01-01", status="active", start="2026-01-01")
    del mr["medicationCodeableConcept"]
    mr["medicationReference"] = {"reference": "Medication/m1"}
    ev = assemble_evidence(chart(med, mr), maps, AS_OF)
    (t,) = ev.therapies
    assert (t.name, t.kind, t.outcome) == (
        "Cosentyx 150 mg/mL",
        TherapyKind.BIOLOGIC,
        Outcome.ONGOING,
    )
