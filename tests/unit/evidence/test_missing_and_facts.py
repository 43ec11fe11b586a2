from __future__ import annotations

import base64
from datetime import date

from integration.domain.evidence import Owner
from integration.evidence.assemble import assemble_evidence
from integration.mapping.evidence_maps import EvidenceMaps
from tests.unit.evidence.builders import (
    EPIC,
    ICD10,
    SNOMED,
    chart,
    coded,
    condition,
    obs,
    statement,
)

AS_OF = date(2026, 11, 15)


def note(id: str, text: str) -> dict[str, object]:
    return {
        "resourceType": "DocumentReference",
        "id": id,
        "status": "current",
        "subject": {"reference": "Patient/p1"},
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain",
                    "data": base64.b64encode(text.encode()).decode(),
                }
            }
        ],
    }


def missing_ids(ev) -> set[str]:  # type: ignore[no-untyped-def]
    return {m.id for m in ev.missing}


def test_psoriasis_with_old_pasi_and_bsa_only_in_a_note(maps: EvidenceMaps) -> None:
    ev = assemble_evidence(
        chart(
            condition("pso", coded(SNOMED, "9014002", "Psoriasis")),
            obs("old", coded(EPIC, "3040104370"), "2025-06-03", valueQuantity={"value": 12}),
            note("n1", "Exam: plaques on elbows. BSA approximately 8%. Plan: discuss biologic."),
        ),
        maps,
        AS_OF,
    )
    items = {m.id: m for m in ev.missing}
    assert {
        "coverage",
        "psoriasis/icd10",
        "psoriasis/pasi-recent",
        "psoriasis/bsa-recent",
        "psoriasis/tb-screening",
    } <= set(items)
    assert "2025-06-03" in items["psoriasis/pasi-recent"].detail and items[
        "psoriasis/pasi-recent"
    ].see == ("Observation/old",)
    assert (
        items["psoriasis/bsa-recent"].see == ("DocumentReference/n1",)
        and "note mentions BSA" in items["psoriasis/bsa-recent"].detail
    )
    assert (
        items["psoriasis/bsa-recent"].owner is Owner.CLINICIAN
        and items["coverage"].owner is Owner.FRONT_DESK
    )
    assert "SNOMED CT 9014002" in items["psoriasis/icd10"].detail
    assert ev.measures["BSA"] == ()  # the note is a pointer, never a score


def test_complete_atopic_dermatitis_chart_has_nothing_missing(maps: EvidenceMaps) -> None:
    ours = "http://derm-rcm.org/fhir/CodeSystem/derm-severity"
    coverage = {
        "resourceType": "Coverage",
        "id": "cov",
        "status": "active",
        "beneficiary": {"reference": "Patient/p1"},
        "payor": [{"reference": "Organization/cigna"}],
        "subscriberId": "CIG123",
        "class": [
            {
                "type": coded("http://terminology.hl7.org/CodeSystem/coverage-class", "plan"),
                "value": "P1",
                "name": "Open Access Plus",
            }
        ],
    }
    org = {"resourceType": "Organization", "id": "cigna", "name": "Cigna"}
    ev = assemble_evidence(
        chart(
            condition("ad", coded(ICD10, "L20.9", "Atopic dermatitis")),
            obs("easi", coded(ours, "easi"), "2026-10-01", valueInteger=22),
            obs(
                "bsa",
                coded(ours, "bsa-pct"),
                "2026-10-01",
                valueQuantity={"value": 18, "unit": "%"},
            ),
            statement(
                "tcs",
                "Triamcinolone 0.1% ointment",
                "2026-01-01",
                "2026-03-01",
                "stopped",
                "Inadequate response",
                route="6064005",
            ),
            statement(
                "tci",
                "Pimecrolimus 1% cream",
                "2026-03-05",
                "2026-04-20",
                "stopped",
                "Intolerance: burning",
            ),
            coverage,
            org,
        ),
        maps,
        AS_OF,
    )
    assert ev.missing == ()
    (cov,) = ev.coverage
    assert (cov.payer, cov.plan, cov.member_id, cov.payer_source) == (
        "Cigna",
        "Open Access Plus",
        "CIG123",
        "Organization/cigna",
    )


def test_therapy_without_outcome_is_flagged(maps: EvidenceMaps) -> None:
    ev = assemble_evidence(
        chart(
            condition("ad", coded(ICD10, "L20.89")),
            statement("tcs", "Clobetasol 0.05% cream", "2026-01-01", None, "completed"),
        ),
        maps,
        AS_OF,
    )
    item = next(m for m in ev.missing if m.id == "atopic-dermatitis/tcs-trial")
    assert (
        item.see == ("MedicationStatement/tcs",)
        and "without a start date or an outcome" in item.detail
    )


def test_refuted_and_resolved_conditions_do_not_trigger_needs(maps: EvidenceMaps) -> None:
    ev = assemble_evidence(
        chart(
            condition("x", coded(ICD10, "L40.0", "Psoriasis vulgaris"), verification="refuted"),
            condition("y", coded(ICD10, "L20.9", "Atopic dermatitis"), status="resolved"),
        ),
        maps,
        AS_OF,
    )
    assert [d.source for d in ev.diagnoses] == ["Condition/y"]
    assert missing_ids(ev) == {"coverage"}


def test_icd10_comes_only_from_the_chart(maps: EvidenceMaps) -> None:
    ev = assemble_evidence(
        chart(condition("s", coded(SNOMED, "24079001", "Atopic dermatitis"))), maps, AS_OF
    )
    (d,) = ev.diagnoses
    assert (d.icd10, d.snomed, d.text) == (None, "24079001", "Atopic dermatitis")


def test_invalid_resource_is_reported_not_fatal(maps: EvidenceMaps) -> None:
    bad = {
        "resourceType": "Observation",
        "id": "bad",
        "status": "final",
        "code": {"text": "PASI"},
        "valueQuantity": {"value": "lots"},
    }
    ev = assemble_evidence(
        chart(bad, obs("ok", {"text": "PASI"}, "2026-01-01", valueInteger=5)), maps, AS_OF
    )
    assert [m.source for m in ev.measures["PASI"]] == ["Observation/ok"]
    (problem,) = [p for p in ev.problems if p.source == "Observation/bad"]
    assert "valueQuantity" in problem.message
