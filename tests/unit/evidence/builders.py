"""Small FHIR resources for evidence tests (synthetic)."""

from __future__ import annotations

from typing import Any

from integration.evidence.chart import ChartData
from integration.evidence.fhir_json import parse_resources

EPIC = "urn:oid:1.2.840.114350.1.13.0.1.7.2.707679"
OURS = "http://derm-rcm.org/fhir/CodeSystem/derm-severity"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "name": [{"given": ["Test"], "family": "Patient"}],
    "birthDate": "1980-01-02",
}


def chart(*resources: dict[str, Any]) -> ChartData:
    models, problems = parse_resources([PATIENT, *resources])
    return ChartData("p1", models, problems)


def obs(
    id: str, code: dict[str, Any], when: str | None, status: str = "final", **value: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Observation",
        "id": id,
        "status": status,
        "code": code,
        "subject": {"reference": "Patient/p1"},
    }
    if when:
        out["effectiveDateTime"] = when
    out.update(value)
    return out


def coded(system: str, code: str, text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [{"system": system, "code": code}]}
    if text:
        out["text"] = text
    return out


def condition(
    id: str, code: dict[str, Any], status: str = "active", verification: str = "confirmed"
) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": id,
        "subject": {"reference": "Patient/p1"},
        "code": code,
        "clinicalStatus": coded("http://terminology.hl7.org/CodeSystem/condition-clinical", status),
        "verificationStatus": coded(
            "http://terminology.hl7.org/CodeSystem/condition-ver-status", verification
        ),
        "onsetDateTime": "2020-05-01",
    }


def statement(
    id: str,
    text: str,
    start: str | None,
    end: str | None,
    status: str = "completed",
    reason: str | None = None,
    route: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": id,
        "status": status,
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"text": text},
    }
    if start or end:
        out["effectivePeriod"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    if reason:
        out["statusReason"] = [{"text": reason}]
    if route:
        out["dosage"] = [{"route": coded(SNOMED, route)}]
    return out


def request(
    id: str,
    text: str,
    authored: str,
    status: str = "completed",
    intent: str = "order",
    start: str | None = None,
    end: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": id,
        "status": status,
        "intent": intent,
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"text": text},
        "authoredOn": authored,
    }
    if start:
        out["dosageInstruction"] = [
            {
                "timing": {
                    "repeat": {"boundsPeriod": {"start": start, **({"end": end} if end else {})}}
                }
            }
        ]
    return out


def procedure(
    id: str, when: str, code: dict[str, Any], status: str = "completed", outcome: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": id,
        "status": status,
        "subject": {"reference": "Patient/p1"},
        "code": code,
        "performedDateTime": when,
    }
    if outcome:
        out["outcome"] = {"text": outcome}
    return out
