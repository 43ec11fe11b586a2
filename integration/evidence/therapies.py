"""Prior and current therapies: medications (statements and orders) and phototherapy courses."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.procedure import Procedure

from integration.domain.evidence import Outcome, Therapy, TherapyKind
from integration.evidence.chart import ChartData
from integration.evidence.values import (
    RXNORM,
    code_in,
    codings_of,
    date_str,
    full_date,
    note_texts,
    source_of,
    texts_of,
)
from integration.mapping.evidence_maps import EvidenceMaps
from integration.mapping.severity import Coding
from integration.mapping.text import normalize

_SKIP_STATEMENT = frozenset({"entered-in-error", "intended"})
_SKIP_REQUEST = frozenset({"entered-in-error", "cancelled", "draft"})
_REQUEST_INTENTS = frozenset(
    {"order", "original-order", "reflex-order", "filler-order", "instance-order"}
)
_ACTIVE = frozenset({"active", "on-hold"})
_PROCEDURE_DONE = frozenset({"completed", "in-progress"})


def weeks_between(start: str | None, end: str | None, status: str, as_of: date) -> int | None:
    """Whole weeks from start to end; to `as_of` for an active therapy with no end; else None."""
    first = full_date(start)
    if first is None:
        return None
    last = full_date(end)
    if last is None:
        if status not in _ACTIVE:
            return None
        last = as_of
    return max((last - first).days, 0) // 7


@dataclass(slots=True)
class _Med:
    resource: Any
    name: str
    names: list[str]
    rxnorm: str | None
    routes: list[Coding]
    forms: list[str]
    start: str | None
    end: str | None
    reasons: list[str]
    notes: list[str]


def _medication_concept(resource: Any, chart: ChartData) -> tuple[Any, list[str]]:
    """The medication's CodeableConcept and extra dose-form words (from a Medication resource)."""
    if resource.medicationCodeableConcept is not None:
        return resource.medicationCodeableConcept, []
    ref = resource.medicationReference
    if ref is None:
        return None, []
    medication: Any = None
    if ref.reference and ref.reference.startswith("#"):
        medication = next(
            (c for c in resource.contained or [] if f"#{c.id}" == ref.reference), None
        )
    else:
        medication = chart.resolve(ref.reference)
    if medication is None:
        return None, [ref.display] if ref.display else []
    forms = texts_of(getattr(medication, "form", None))
    concept = getattr(medication, "code", None)
    if concept is None and ref.display:
        return None, [ref.display, *forms]
    return concept, forms


def _dosage_parts(dosages: list[Any]) -> tuple[list[Coding], list[str]]:
    routes: list[Coding] = []
    texts: list[str] = []
    for dose in dosages:
        routes.extend(codings_of(dose.route))
        if dose.route is not None and dose.route.text:
            routes.append(Coding(None, None, dose.route.text))
        if dose.text:
            texts.append(dose.text)
    return routes, texts


def _med(
    resource: Any, chart: ChartData, start: str | None, end: str | None, dosages: list[Any]
) -> _Med | None:
    concept, extra = _medication_concept(resource, chart)
    names = texts_of(concept) + extra
    if not names:
        return None
    routes, dose_texts = _dosage_parts(dosages)
    raw = getattr(
        resource, "statusReason", None
    )  # a list on MedicationStatement, one on MedicationRequest
    concepts = raw if isinstance(raw, list) else ([raw] if raw is not None else [])
    reasons = [t for c in concepts for t in texts_of(c)]
    return _Med(
        resource=resource,
        name=names[0],
        names=names,
        rxnorm=code_in(concept, [RXNORM]),
        routes=routes,
        forms=extra + dose_texts,
        start=start,
        end=end,
        reasons=reasons,
        notes=note_texts(resource),
    )


def _statement_med(ms: Any, chart: ChartData) -> _Med | None:
    start = end = None
    if ms.effectivePeriod is not None:
        start, end = date_str(ms.effectivePeriod.start), date_str(ms.effectivePeriod.end)
    elif ms.effectiveDateTime is not None:
        start = date_str(ms.effectiveDateTime)
    return _med(ms, chart, start, end, list(ms.dosage or []))


def _request_med(mr: Any, chart: ChartData) -> _Med | None:
    start = end = None
    for dose in mr.dosageInstruction or []:
        bounds = dose.timing.repeat.boundsPeriod if dose.timing and dose.timing.repeat else None
        if bounds is not None:
            start, end = date_str(bounds.start), date_str(bounds.end)
            break
    if start is None and mr.dispenseRequest is not None and mr.dispenseRequest.validityPeriod:
        period = mr.dispenseRequest.validityPeriod
        start, end = date_str(period.start), date_str(period.end)
    if start is None:
        start = date_str(mr.authoredOn)
    return _med(mr, chart, start, end, list(mr.dosageInstruction or []))


def _outcome(
    maps: EvidenceMaps,
    reasons: list[str],
    notes: list[str],
    status: str,
    end: str | None,
    as_of: date,
) -> tuple[Outcome, str | None]:
    """The stated outcome and the words it was read from (status reasons first, then notes)."""
    found = maps.outcomes.classify([*reasons, *notes])
    if found is not None:
        return found
    last = full_date(end)
    if status in _ACTIVE and (end is None or (last is not None and last >= as_of)):
        return Outcome.ONGOING, None
    return Outcome.UNKNOWN, (reasons[0] if reasons else None)


def _therapy(maps: EvidenceMaps, group: list[_Med], as_of: date) -> Therapy | None:
    first, last = group[0], group[-1]
    found = maps.therapies.classify(first.names, first.routes, first.forms)
    if not found.dermatology:
        return None  # e.g. an antihypertensive, or oral diclofenac
    drug_class = found.drug_class
    status = str(last.resource.status)
    ends = [m.end for m in group]
    end = None if any(e is None for e in ends) else max(e for e in ends if e is not None)
    reasons = [r for m in reversed(group) for r in m.reasons]
    notes = [n for m in reversed(group) for n in m.notes]
    outcome, outcome_text = _outcome(maps, reasons, notes, status, end, as_of)
    start = min((m.start for m in group if m.start), default=None)
    return Therapy(
        name=first.name,
        rxnorm=first.rxnorm,
        kind=drug_class.kind if drug_class else TherapyKind.UNKNOWN,
        drug_class=drug_class.id if drug_class else None,
        start=start,
        end=end,
        weeks=weeks_between(start, end, status, as_of),
        status=status,
        outcome=outcome,
        outcome_text=outcome_text,
        recorded_as="statement"
        if first.resource.get_resource_type() == "MedicationStatement"
        else "order",
        source=source_of(first.resource),
        sources=tuple(source_of(m.resource) for m in group) if len(group) > 1 else (),
    )


def _drug_key(med: _Med) -> str:
    return med.rxnorm or normalize(med.name)


def _request_courses(meds: list[_Med], gap_days: int) -> list[list[_Med]]:
    """Orders for the same drug less than `gap_days` apart are one course (refills)."""
    by_drug: defaultdict[str, list[_Med]] = defaultdict(list)
    for med in sorted(meds, key=lambda m: (m.start or "", source_of(m.resource))):
        by_drug[_drug_key(med)].append(med)
    courses: list[list[_Med]] = []
    for items in by_drug.values():
        current: list[_Med] = []
        for med in items:
            if current:
                previous_end = full_date(current[-1].end) or full_date(current[-1].start)
                this_start = full_date(med.start)
                if (
                    previous_end is None
                    or this_start is None
                    or (this_start - previous_end).days > gap_days
                ):
                    courses.append(current)
                    current = []
            current.append(med)
        if current:
            courses.append(current)
    return courses


def medication_therapies(chart: ChartData, maps: EvidenceMaps, as_of: date) -> list[Therapy]:
    therapies: list[Therapy] = []
    covered_requests: set[str] = set()
    for ms in chart.of_type(MedicationStatement):
        for based in getattr(ms, "basedOn", None) or []:
            if based.reference:
                covered_requests.add(based.reference.split("/_history/")[0])
        if ms.status in _SKIP_STATEMENT:
            continue
        med = _statement_med(ms, chart)
        if med is None:
            continue
        if (
            ms.status == "not-taken"
            and _outcome(maps, med.reasons, med.notes, "not-taken", None, as_of)[0]
            is not Outcome.CONTRAINDICATION
        ):
            continue  # not taken, and not because it is contraindicated: no therapy to report
        therapy = _therapy(maps, [med], as_of)
        if therapy:
            therapies.append(therapy)
    requests = []
    for mr in chart.of_type(MedicationRequest):
        if mr.status in _SKIP_REQUEST or mr.intent not in _REQUEST_INTENTS:
            continue
        if f"MedicationRequest/{mr.id}" in covered_requests:
            continue
        med = _request_med(mr, chart)
        if med is not None:
            requests.append(med)
    for course in _request_courses(requests, maps.therapies.course_gap_days):
        therapy = _therapy(maps, course, as_of)
        if therapy:
            therapies.append(therapy)
    return therapies


def _procedure_date(proc: Any) -> str | None:
    if proc.performedDateTime is not None:
        return date_str(proc.performedDateTime)
    if proc.performedPeriod is not None:
        return date_str(proc.performedPeriod.start)
    return None


def phototherapy_courses(chart: ChartData, maps: EvidenceMaps, as_of: date) -> list[Therapy]:
    """Phototherapy sessions grouped into courses (same modality, gaps of at most max_gap_days)."""
    sessions: defaultdict[str, list[tuple[str, Any]]] = defaultdict(list)
    labels: dict[str, str] = {}
    for proc in chart.of_type(Procedure):
        if proc.status not in _PROCEDURE_DONE:
            continue
        modality = maps.phototherapy.modality(codings_of(proc.code), texts_of(proc.code))
        when = _procedure_date(proc)
        if modality is None or when is None:
            continue
        labels[modality.id] = modality.label
        sessions[modality.id].append((when, proc))
    courses: list[Therapy] = []
    for modality_id, items in sessions.items():
        items.sort(key=lambda item: (item[0], item[1].id))
        groups: list[list[tuple[str, Any]]] = []
        for item in items:
            if groups:
                prev, this = full_date(groups[-1][-1][0]), full_date(item[0])
                if (
                    prev is not None
                    and this is not None
                    and (this - prev).days <= maps.phototherapy.max_gap_days
                ):
                    groups[-1].append(item)
                    continue
            groups.append([item])
        for group in groups:
            courses.append(_course(maps, modality_id, labels[modality_id], group, as_of))
    return courses


def _course(
    maps: EvidenceMaps, modality_id: str, label: str, group: list[tuple[str, Any]], as_of: date
) -> Therapy:
    reasons: list[str] = []
    notes: list[str] = []
    for _when, proc in reversed(group):  # the latest session's words first
        reasons.extend(texts_of(proc.outcome))
        reasons.extend(texts_of(proc.statusReason))
        notes.extend(note_texts(proc))
    start, end = group[0][0], group[-1][0]
    status = str(group[-1][1].status)
    found = maps.outcomes.classify([*reasons, *notes])
    outcome_text: str | None
    if found is not None:
        outcome, outcome_text = found
    else:
        outcome = Outcome.ONGOING if status == "in-progress" else Outcome.UNKNOWN
        outcome_text = reasons[0] if reasons else None
    return Therapy(
        name=label,
        rxnorm=None,
        kind=TherapyKind.PHOTOTHERAPY,
        drug_class=modality_id,
        start=start,
        end=end,
        weeks=weeks_between(start, end, status, as_of),
        status=status,
        outcome=outcome,
        outcome_text=outcome_text,
        recorded_as="procedure",
        source=source_of(group[0][1]),
        sessions=len(group),
        sources=tuple(source_of(proc) for _when, proc in group),
    )


def extract_therapies(chart: ChartData, maps: EvidenceMaps, as_of: date) -> tuple[Therapy, ...]:
    """Every recognised therapy, most recent start first."""
    found = medication_therapies(chart, maps, as_of) + phototherapy_courses(chart, maps, as_of)
    return tuple(sorted(found, key=lambda t: (t.start or "", t.source), reverse=True))
