"""Pathology reports and screening tests (tuberculosis)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.observation import Observation

from integration.domain.evidence import PathologyFact, ScreeningFact
from integration.evidence.chart import ChartData
from integration.evidence.measures import COUNTED_STATUSES, observation_date
from integration.evidence.values import (
    ICD10_SYSTEMS,
    SNOMED,
    codings_of,
    date_str,
    label_of,
    source_of,
    texts_of,
)
from integration.mapping.evidence_maps import EvidenceMaps

_REPORT_DONE = frozenset({"final", "amended", "corrected", "appended"})


def _report_date(report: Any) -> str | None:
    if report.effectiveDateTime is not None:
        return date_str(report.effectiveDateTime)
    if report.effectivePeriod is not None:
        return date_str(report.effectivePeriod.start)
    return date_str(report.issued)


def _observation_text(obs: Any) -> str | None:
    if obs.valueString:
        return str(obs.valueString)
    if obs.valueCodeableConcept is not None:
        return label_of(obs.valueCodeableConcept)
    if obs.valueQuantity is not None and obs.valueQuantity.value is not None:
        unit = obs.valueQuantity.unit or ""
        return f"{obs.valueQuantity.value} {unit}".strip()
    if obs.valueBoolean is not None:
        return "yes" if obs.valueBoolean else "no"
    return None


def extract_pathology(chart: ChartData, maps: EvidenceMaps) -> tuple[PathologyFact, ...]:
    found = []
    for report in chart.of_type(DiagnosticReport):
        if report.status not in _REPORT_DONE:
            continue
        categories = [c for cat in report.category or [] for c in codings_of(cat)]
        category_texts = [t for cat in report.category or [] for t in texts_of(cat)]
        if not maps.pathology.is_pathology(categories, [*texts_of(report.code), *category_texts]):
            continue
        text = report.conclusion
        if not text:
            parts = []
            for result in report.result or []:
                obs = chart.resolve(result.reference)
                if isinstance(obs, Observation) and obs.status in COUNTED_STATUSES:
                    value = _observation_text(obs)
                    if value:
                        parts.append(f"{label_of(obs.code) or 'result'}: {value}")
            text = "; ".join(parts)
        codes = tuple(
            c.code
            for concept in report.conclusionCode or []
            for c in codings_of(concept)
            if c.code and c.system in ICD10_SYSTEMS | {SNOMED}
        )
        found.append(
            PathologyFact(
                date=_report_date(report),
                text=text or f"{label_of(report.code) or 'Pathology report'} (no conclusion given)",
                codes=codes,
                source=source_of(report),
            )
        )
    return tuple(sorted(found, key=lambda p: (p.date or "", p.source), reverse=True))


def extract_screenings(chart: ChartData, maps: EvidenceMaps) -> tuple[ScreeningFact, ...]:
    found = []
    for obs in chart.of_type(Observation):
        if obs.status not in COUNTED_STATUSES:
            continue
        test = maps.screening.test_of(texts_of(obs.code))
        if test is None:
            continue
        interpretation = [t for i in obs.interpretation or [] for t in texts_of(i)]
        found.append(
            ScreeningFact(
                test=test.id,
                name=label_of(obs.code) or test.label,
                date=observation_date(obs),
                result=_observation_text(obs) or (interpretation[0] if interpretation else None),
                source=source_of(obs),
            )
        )
    for report in chart.of_type(DiagnosticReport):
        if report.status not in _REPORT_DONE:
            continue
        test = maps.screening.test_of(texts_of(report.code))
        if test is None:
            continue
        found.append(
            ScreeningFact(
                test=test.id,
                name=label_of(report.code) or test.label,
                date=_report_date(report),
                result=report.conclusion,
                source=source_of(report),
            )
        )
    return tuple(sorted(found, key=lambda s: (s.date or "", s.source), reverse=True))
