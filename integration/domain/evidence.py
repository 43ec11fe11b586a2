"""Clinical evidence: the facts a payer asks for, each carrying the FHIR resource it came from.

`source` is always "Type/id" or "Type/id/_history/version". A fact without a source is never
made: what the chart lacks is a `MissingItem`.
"""

from __future__ import annotations

import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

MEASURE_KEYS: tuple[str, ...] = ("PASI", "EASI", "DLQI", "BSA", "IGA", "REGION_AREA")


class TherapyKind(StrEnum):
    TOPICAL = "topical"
    SYSTEMIC = "systemic"
    BIOLOGIC = "biologic"
    PHOTOTHERAPY = "phototherapy"
    UNKNOWN = "unknown"


class Outcome(StrEnum):
    INADEQUATE_RESPONSE = "inadequate response"
    INTOLERANCE = "intolerance"
    CONTRAINDICATION = "contraindication"
    ONGOING = "ongoing"
    UNKNOWN = "unknown"


class Owner(StrEnum):
    """Who should supply a missing item."""

    CLINICIAN = "clinician"
    COORDINATOR = "coordinator"
    FRONT_DESK = "front desk"


@dataclass(frozen=True, slots=True)
class PatientFact:
    """The patient. `name` is the display name; `family` and `given` are Patient.name's
    parts as the chart has them (a family name of several words stays whole, e.g. "de la
    Cruz"). Stored evidence written before they existed has neither: see `name_parts`."""

    id: str
    source: str
    name: str | None
    birth_date: str | None
    gender: str | None
    family: str | None = None
    given: tuple[str, ...] = ()

    def name_parts(self) -> tuple[str, tuple[str, ...]] | None:
        """(family, given) for a message that names the patient: the chart's parts when
        known; else, for evidence stored without them, the display name's last word as the
        family name (a guess: wrong for a family name of several words). None: no name."""
        if self.family:
            return self.family, self.given
        if not self.name or not self.name.split():
            return None
        *given, family = self.name.split()
        return family, tuple(given)


@dataclass(frozen=True, slots=True)
class Component:
    region: str
    value: Decimal
    source: str


@dataclass(frozen=True, slots=True)
class Measure:
    """One severity score on one date. `date` is the chart's own date (YYYY, YYYY-MM or YYYY-MM-DD)."""

    value: Decimal
    unit: str | None
    date: str
    source: str
    instrument: str
    text: str | None = None
    region: str | None = None
    components: tuple[Component, ...] = ()
    derived: str | None = None


@dataclass(frozen=True, slots=True)
class Diagnosis:
    icd10: str | None
    snomed: str | None
    text: str
    onset: str | None
    clinical_status: str | None
    source: str
    body_sites: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Therapy:
    """A therapy course. `recorded_as` says what the chart holds: a medication "statement"
    (taken), an "order" (prescribed: an active order may not have been started yet) or
    "procedure" sessions (phototherapy)."""

    name: str
    rxnorm: str | None
    kind: TherapyKind
    drug_class: str | None
    start: str | None
    end: str | None
    weeks: int | None
    status: str
    outcome: Outcome
    outcome_text: str | None
    recorded_as: str
    source: str
    sessions: int | None = None
    sources: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Photo:
    source: str
    date: str | None
    body_site: str | None
    content_type: str
    title: str | None


@dataclass(frozen=True, slots=True)
class CoverageFact:
    """`current`: status active (or not given) and the period has not ended by `as_of`."""

    payer: str | None
    plan: str | None
    member_id: str | None
    status: str | None
    start: str | None
    end: str | None
    current: bool
    source: str
    payer_source: str | None = None


@dataclass(frozen=True, slots=True)
class PathologyFact:
    date: str | None
    text: str
    codes: tuple[str, ...]
    source: str


@dataclass(frozen=True, slots=True)
class ScreeningFact:
    test: str
    name: str
    date: str | None
    result: str | None
    source: str


@dataclass(frozen=True, slots=True)
class MissingItem:
    """Something a prior authorization would need that the chart lacks, and who should supply it."""

    id: str
    what: str
    detail: str
    owner: Owner
    condition: str | None = None
    see: tuple[str, ...] = ()
    basis: str | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """A resource that could not be used (failed validation, unreadable), reported, not fatal."""

    source: str
    message: str


@dataclass(frozen=True, slots=True)
class ClinicalEvidence:
    patient: PatientFact | None
    as_of: str
    measures: dict[str, tuple[Measure, ...]]
    diagnoses: tuple[Diagnosis, ...]
    therapies: tuple[Therapy, ...]
    photos: tuple[Photo, ...]
    coverage: tuple[CoverageFact, ...]
    pathology: tuple[PathologyFact, ...]
    screenings: tuple[ScreeningFact, ...]
    missing: tuple[MissingItem, ...]
    problems: tuple[Problem, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape (fhir_profiles/clinical-evidence.schema.json)."""
        out = _to_json(self)
        assert isinstance(out, dict)
        return out


def to_json_value(value: Any) -> Any:
    """Any domain value (dataclass, enum, Decimal, tuple, dict) as JSON-ready data, the way
    `ClinicalEvidence.to_json` writes it."""
    return _to_json(value)


def _number(value: Decimal) -> int | float:
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def _to_json(value: Any) -> Any:
    """Dataclasses to dicts; fields left at their default (None or empty) are omitted."""
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in fields(value):
            item = getattr(value, f.name)
            has_default = f.default is not MISSING or f.default_factory is not MISSING
            if has_default and item in (None, ()):
                continue
            out[f.name] = _to_json(item)
        return out
    return value


def from_json(cls: type[Any], data: Any) -> Any:
    """The inverse of `to_json` for the domain's dataclasses: JSON (as `_to_json` writes it)
    back to frozen dataclasses, Decimals and enums, following the field annotations. Fields
    `_to_json` omitted take their defaults."""
    return _from_json(cls, data)


def _from_json(kind: Any, data: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        if data is None:
            return None
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        return _from_json(options[0], data)
    if origin is tuple:
        (item, *_rest) = typing.get_args(kind)
        return tuple(_from_json(item, v) for v in data)
    if origin is dict:
        _key, value = typing.get_args(kind)
        return {k: _from_json(value, v) for k, v in data.items()}
    if kind is Decimal:
        return Decimal(str(data))
    if isinstance(kind, type) and issubclass(kind, StrEnum):
        return kind(data)
    if is_dataclass(kind) and isinstance(kind, type):
        hints = typing.get_type_hints(kind)
        values = {
            f.name: _from_json(hints[f.name], data[f.name]) for f in fields(kind) if f.name in data
        }
        return kind(**values)
    return data
