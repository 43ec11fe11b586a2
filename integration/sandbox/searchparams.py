"""What the sandbox can search, per resource type: a closed table, read by `search.py`.

Each parameter names the elements it looks at (dotted paths from the resource root; lists are
flattened on the way). `date` is special: it always means the type's natural date (below),
which is also what `_sort=date` sorts by. Types found in the data but missing from this table
are still served, with the common parameters (`_id`, `_lastUpdated`, and `patient` when the type
belongs to a patient).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Literal

ParamKind = Literal["reference", "token", "date"]


@dataclass(frozen=True, slots=True)
class SearchParamDef:
    name: str
    kind: ParamKind
    paths: tuple[str, ...] = ()
    target: str | None = None
    """For references: the resource type a bare id means (`patient=123` -> Patient/123)."""
    patient_compartment: bool = False
    """A reference to the resource's patient: answered from the (type, patient) index."""


@dataclass(frozen=True, slots=True)
class IncludeDef:
    source_type: str
    name: str
    paths: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.source_type}:{self.name}"


@dataclass(frozen=True, slots=True)
class TypeSpec:
    resource_type: str
    patient_paths: tuple[str, ...] = ()
    """Where the resource points at its patient; empty for shared resources (Medication, ...)."""
    date_paths: tuple[str, ...] = ()
    """The natural date: the first of these elements that is present."""
    params: tuple[SearchParamDef, ...] = ()
    includes: tuple[IncludeDef, ...] = ()
    param_by_name: dict[str, SearchParamDef] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        common = [
            SearchParamDef("_id", "token"),
            SearchParamDef("_lastUpdated", "date", ("meta.lastUpdated",)),
        ]
        if self.date_paths:
            common.append(SearchParamDef("date", "date", self.date_paths))
        by_name = {p.name: p for p in (*common, *self.params)}
        object.__setattr__(self, "param_by_name", by_name)

    def include(self, label: str) -> IncludeDef | None:
        for include in self.includes:
            if include.label == label:
                return include
        return None


def _subject_params() -> tuple[SearchParamDef, ...]:
    return (
        SearchParamDef("patient", "reference", ("subject",), "Patient", patient_compartment=True),
        SearchParamDef("subject", "reference", ("subject",), "Patient", patient_compartment=True),
    )


def _token(name: str, *paths: str) -> SearchParamDef:
    return SearchParamDef(name, "token", paths or (name,))


_STATUS = _token("status")
_CATEGORY = _token("category")

TYPE_SPECS: dict[str, TypeSpec] = {
    spec.resource_type: spec
    for spec in (
        TypeSpec(
            "Patient",
            patient_paths=("id",),
            params=(
                _token("identifier"),
                _token("gender"),
                SearchParamDef("birthdate", "date", ("birthDate",)),
            ),
        ),
        TypeSpec(
            "Coverage",
            patient_paths=("beneficiary",),
            params=(
                SearchParamDef(
                    "beneficiary",
                    "reference",
                    ("beneficiary",),
                    "Patient",
                    patient_compartment=True,
                ),
                SearchParamDef(
                    "patient", "reference", ("beneficiary",), "Patient", patient_compartment=True
                ),
                _STATUS,
                _token("type"),
                SearchParamDef("payor", "reference", ("payor",), "Organization"),
            ),
            includes=(IncludeDef("Coverage", "payor", ("payor",)),),
        ),
        TypeSpec(
            "Condition",
            patient_paths=("subject",),
            date_paths=("onsetDateTime", "onsetPeriod", "recordedDate"),
            params=(
                *_subject_params(),
                _token("code"),
                _CATEGORY,
                _token("clinical-status", "clinicalStatus"),
                _token("verification-status", "verificationStatus"),
                SearchParamDef("onset-date", "date", ("onsetDateTime", "onsetPeriod")),
                SearchParamDef("recorded-date", "date", ("recordedDate",)),
                SearchParamDef("encounter", "reference", ("encounter",), "Encounter"),
            ),
        ),
        TypeSpec(
            "Observation",
            patient_paths=("subject",),
            date_paths=("effectiveDateTime", "effectivePeriod", "effectiveInstant"),
            params=(
                *_subject_params(),
                _token("code"),
                _CATEGORY,
                _STATUS,
                SearchParamDef("encounter", "reference", ("encounter",), "Encounter"),
                SearchParamDef("performer", "reference", ("performer",), "Practitioner"),
            ),
            includes=(IncludeDef("Observation", "performer", ("performer",)),),
        ),
        TypeSpec(
            "MedicationStatement",
            patient_paths=("subject",),
            date_paths=("effectiveDateTime", "effectivePeriod"),
            params=(
                *_subject_params(),
                _token("code", "medicationCodeableConcept"),
                _CATEGORY,
                _STATUS,
                SearchParamDef("medication", "reference", ("medicationReference",), "Medication"),
            ),
            includes=(IncludeDef("MedicationStatement", "medication", ("medicationReference",)),),
        ),
        TypeSpec(
            "MedicationRequest",
            patient_paths=("subject",),
            date_paths=("authoredOn",),
            params=(
                *_subject_params(),
                _token("code", "medicationCodeableConcept"),
                _CATEGORY,
                _STATUS,
                _token("intent"),
                SearchParamDef("authoredon", "date", ("authoredOn",)),
                SearchParamDef("encounter", "reference", ("encounter",), "Encounter"),
                SearchParamDef("medication", "reference", ("medicationReference",), "Medication"),
            ),
            includes=(IncludeDef("MedicationRequest", "medication", ("medicationReference",)),),
        ),
        TypeSpec("Medication", params=(_token("code"), _STATUS)),
        TypeSpec(
            "Media",
            patient_paths=("subject",),
            date_paths=("createdDateTime", "createdPeriod"),
            params=(
                *_subject_params(),
                _STATUS,
                _token("type"),
                _token("modality"),
                SearchParamDef("encounter", "reference", ("encounter",), "Encounter"),
            ),
        ),
        TypeSpec(
            "DocumentReference",
            patient_paths=("subject",),
            date_paths=("date",),
            params=(
                *_subject_params(),
                _CATEGORY,
                _token("type"),
                _STATUS,
                SearchParamDef("encounter", "reference", ("context.encounter",), "Encounter"),
            ),
        ),
        TypeSpec(
            "Procedure",
            patient_paths=("subject",),
            date_paths=("performedDateTime", "performedPeriod"),
            params=(
                *_subject_params(),
                _token("code"),
                _CATEGORY,
                _STATUS,
                SearchParamDef("encounter", "reference", ("encounter",), "Encounter"),
            ),
        ),
        TypeSpec(
            "DiagnosticReport",
            patient_paths=("subject",),
            date_paths=("effectiveDateTime", "effectivePeriod"),
            params=(
                *_subject_params(),
                _token("code"),
                _CATEGORY,
                _STATUS,
                SearchParamDef("encounter", "reference", ("encounter",), "Encounter"),
            ),
        ),
        TypeSpec(
            "Encounter",
            patient_paths=("subject",),
            date_paths=("period",),
            params=(
                *_subject_params(),
                _STATUS,
                _token("class"),
                _token("type"),
            ),
        ),
        TypeSpec("Organization", params=(_token("identifier"), _token("type"))),
        TypeSpec("Practitioner", params=(_token("identifier"),)),
        TypeSpec(
            "ServiceRequest",
            patient_paths=("subject",),
            date_paths=("authoredOn",),
            params=(
                *_subject_params(),
                _token("code"),
                _CATEGORY,
                _STATUS,
                _token("intent"),
                SearchParamDef("authoredon", "date", ("authoredOn",)),
                SearchParamDef("encounter", "reference", ("encounter",), "Encounter"),
            ),
        ),
        TypeSpec(
            "AllergyIntolerance",
            patient_paths=("patient",),
            date_paths=("recordedDate",),
            params=(
                SearchParamDef(
                    "patient", "reference", ("patient",), "Patient", patient_compartment=True
                ),
                _token("code"),
                _CATEGORY,
                _token("clinical-status", "clinicalStatus"),
            ),
        ),
        TypeSpec(
            "Immunization",
            patient_paths=("patient",),
            date_paths=("occurrenceDateTime",),
            params=(
                SearchParamDef(
                    "patient", "reference", ("patient",), "Patient", patient_compartment=True
                ),
                _STATUS,
                _token("vaccine-code", "vaccineCode"),
            ),
        ),
        TypeSpec("Binary"),
    )
}

SEARCHABLE_TYPES: tuple[str, ...] = tuple(TYPE_SPECS)
"""The types the sandbox promises to search, in the order the CapabilityStatement lists them."""

GENERIC_PATIENT_PATHS: tuple[str, ...] = ("subject", "patient", "beneficiary")


def spec_for(resource_type: str) -> TypeSpec:
    """The type's spec; for a type outside the table, a generic one."""
    spec = TYPE_SPECS.get(resource_type)
    if spec is not None:
        return spec
    return _generic_spec(resource_type)


@cache
def _generic_spec(resource_type: str) -> TypeSpec:
    return TypeSpec(
        resource_type,
        patient_paths=GENERIC_PATIENT_PATHS,
        params=(
            SearchParamDef(
                "patient", "reference", GENERIC_PATIENT_PATHS, "Patient", patient_compartment=True
            ),
        ),
    )
