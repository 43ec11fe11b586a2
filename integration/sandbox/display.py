"""How the sandbox's HTML pages show people: names and the patient list rows."""

from __future__ import annotations

from dataclasses import dataclass

from integration.sandbox.elements import JsonObject
from integration.sandbox.store import ResourceStore, StoredResource


@dataclass(frozen=True, slots=True)
class PatientRow:
    id: str
    name: str
    birth_date: str
    gender: str
    resource_count: int
    summary: str
    """e.g. "Observation 47, Encounter 12, Condition 6" (the largest types first)."""


def human_name(resource: JsonObject) -> str:
    names = [n for n in resource.get("name") or [] if isinstance(n, dict)]
    if not names:
        return "(no name)"
    chosen = next((n for n in names if n.get("use") in ("official", "usual")), names[0])
    if isinstance(chosen.get("text"), str):
        return str(chosen["text"])
    parts = [*chosen.get("prefix", []), *chosen.get("given", [])]
    if isinstance(chosen.get("family"), str):
        parts.append(chosen["family"])
    return " ".join(str(p) for p in parts) or "(no name)"


def patient_row(store: ResourceStore, patient: StoredResource) -> PatientRow:
    counts = store.counts_by_type_for_patient(patient.id)
    largest = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:4]
    return PatientRow(
        id=patient.id,
        name=human_name(patient.body),
        birth_date=str(patient.body.get("birthDate", "")),
        gender=str(patient.body.get("gender", "")),
        resource_count=store.count_for_patient(patient.id),
        summary=", ".join(f"{resource_type} {count}" for resource_type, count in largest),
    )
