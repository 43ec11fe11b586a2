"""Chart in, ClinicalEvidence out. Pure: no I/O; the same input always gives the same output."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.media import Media
from fhir.resources.R4B.observation import Observation

from integration.domain.evidence import ClinicalEvidence, PatientFact
from integration.evidence.chart import ChartData
from integration.evidence.coverage import extract_coverage
from integration.evidence.diagnoses import extract_diagnoses
from integration.evidence.measures import extract_measures
from integration.evidence.missing import Found, find_missing, note_texts
from integration.evidence.photos import extract_photos
from integration.evidence.reports import extract_pathology, extract_screenings
from integration.evidence.therapies import extract_therapies
from integration.evidence.values import date_str, source_of
from integration.mapping.evidence_maps import EvidenceMaps


def _official_name(patient: Any) -> Any:
    """The HumanName a message should carry: official, else any not marked old, else the
    first."""
    names = list(patient.name or [])
    official = (
        [n for n in names if n.use == "official"] or [n for n in names if n.use != "old"] or names
    )
    return official[0] if official else None


def _name(patient: Any) -> str | None:
    name = _official_name(patient)
    if name is None:
        return None
    if name.text:
        return str(name.text)
    parts = [*(name.given or []), name.family or ""]
    return " ".join(p for p in parts if p) or None


def name_parts(patient: Any) -> tuple[str | None, tuple[str, ...]]:
    """(family, given) exactly as the official HumanName has them: a family name of several
    words ("de la Cruz") stays one family name; (None, ()) when the chart gives no family."""
    name = _official_name(patient)
    if name is None or not name.family:
        return None, ()
    return str(name.family), tuple(str(g) for g in name.given or ())


def _patient(chart: ChartData) -> PatientFact | None:
    patient = chart.resolve(f"Patient/{chart.patient_id}")
    if patient is None:
        return None
    fact = PatientFact(
        id=str(patient.id),
        source=source_of(patient),
        name=_name(patient),
        birth_date=date_str(getattr(patient, "birthDate", None)),
        gender=getattr(patient, "gender", None),
    )
    family, given = name_parts(patient)
    if family is not None:  # as the chart has them: messages carry them exactly
        fact = replace(fact, family=family, given=given)
    return fact


def assemble_evidence(chart: ChartData, maps: EvidenceMaps, as_of: date) -> ClinicalEvidence:
    problems = list(chart.problems)
    measures = extract_measures(chart.of_type(Observation), maps.severity, problems)
    found = Found(
        measures=measures,
        diagnoses=extract_diagnoses(chart.of_type(Condition)),
        therapies=extract_therapies(chart, maps, as_of),
        coverage=extract_coverage(chart, as_of),
        pathology=extract_pathology(chart, maps),
        screenings=extract_screenings(chart, maps),
    )
    documents = chart.of_type(DocumentReference)
    return ClinicalEvidence(
        patient=_patient(chart),
        as_of=as_of.isoformat(),
        measures=measures,
        diagnoses=found.diagnoses,
        therapies=found.therapies,
        photos=extract_photos(chart.of_type(Media), documents),
        coverage=found.coverage,
        pathology=found.pathology,
        screenings=found.screenings,
        missing=find_missing(found, maps, as_of, note_texts(documents)),
        problems=tuple(problems),
    )
