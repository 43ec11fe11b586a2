"""What a prior authorization would need that the chart lacks, and who should supply it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from integration.domain.evidence import (
    CoverageFact,
    Diagnosis,
    Measure,
    MissingItem,
    Outcome,
    PathologyFact,
    ScreeningFact,
    Therapy,
)
from integration.evidence.diagnoses import is_active
from integration.evidence.values import attachment_text, full_date, source_of
from integration.mapping.evidence_maps import EvidenceMaps
from integration.mapping.requirements import Need

_NOTE_SKIP = frozenset({"entered-in-error", "superseded"})


@dataclass(frozen=True, slots=True)
class Found:
    """The facts the missing-check looks at."""

    measures: dict[str, tuple[Measure, ...]]
    diagnoses: tuple[Diagnosis, ...]
    therapies: tuple[Therapy, ...]
    coverage: tuple[CoverageFact, ...]
    pathology: tuple[PathologyFact, ...]
    screenings: tuple[ScreeningFact, ...]


def note_texts(documents: list[Any]) -> list[tuple[str, str]]:
    """(source, text) of every inline text/* note in DocumentReferences, but not of a note
    withdrawn (status) or replaced by another note in the chart (its `relatesTo` replaces, as
    an HL7 MDM^T10 maps), whose text is no longer what the clinician says."""
    replaced = {
        relation.target.reference.rsplit("/", 1)[-1]
        for doc in documents
        if doc.status not in _NOTE_SKIP
        for relation in doc.relatesTo or []
        if relation.code == "replaces" and relation.target and relation.target.reference
    }
    out = []
    for doc in documents:
        if doc.status in _NOTE_SKIP or doc.id in replaced:
            continue
        for item in doc.content or []:
            text = attachment_text(item.attachment)
            if text:
                out.append((source_of(doc), text))
    return out


def _window(days: int) -> str:
    return "12 months" if days == 365 else f"{days} days"


def _recent(value: str | None, since: date | None) -> bool:
    if since is None:
        return True
    when = full_date(value)
    if when is None and value and len(value) == 7:  # YYYY-MM: counts if the month reaches `since`
        when = full_date(f"{value}-28")
    return when is not None and when >= since


class _Checker:
    def __init__(
        self, found: Found, maps: EvidenceMaps, as_of: date, notes: list[tuple[str, str]]
    ) -> None:
        self.found = found
        self.maps = maps
        self.as_of = as_of
        self.notes = notes

    def since(self, need: Need) -> date | None:
        return self.as_of - timedelta(days=need.within_days) if need.within_days else None

    def check(
        self, need: Need, item_id: str, condition: str | None, diagnoses: Sequence[Diagnosis] = ()
    ) -> MissingItem | None:
        if need.coverage:
            return self._coverage(need, item_id)
        if need.icd10:
            return self._icd10(need, item_id, condition, diagnoses)
        if need.measures:
            return self._measures(need, item_id, condition)
        if need.therapy_kinds or need.therapy_classes:
            return self._therapies(need, item_id, condition)
        if need.screening:
            return self._screening(need, item_id, condition)
        if need.pathology:
            if self.found.pathology:
                return None
            return self._item(
                need, item_id, condition, "No pathology report (DiagnosticReport) in the chart."
            )
        return None

    def _item(
        self,
        need: Need,
        item_id: str,
        condition: str | None,
        detail: str,
        see: tuple[str, ...] = (),
    ) -> MissingItem:
        return MissingItem(
            id=item_id,
            what=need.what,
            detail=detail,
            owner=need.owner,
            condition=condition,
            see=see,
            basis=need.basis,
        )

    def _icd10(
        self, need: Need, item_id: str, condition: str | None, diagnoses: Sequence[Diagnosis]
    ) -> MissingItem | None:
        if not diagnoses or any(d.icd10 for d in diagnoses):
            return None
        coded = "; ".join(
            f"{d.text} ({'SNOMED CT ' + d.snomed if d.snomed else 'no code'})" for d in diagnoses
        )
        detail = f"The chart has the diagnosis without an ICD-10-CM code: {coded}."
        return self._item(need, item_id, condition, detail, tuple(d.source for d in diagnoses))

    def _coverage(self, need: Need, item_id: str) -> MissingItem | None:
        if any(c.current for c in self.found.coverage):
            return None
        if self.found.coverage:
            listed = ", ".join(
                f"{c.payer or 'unknown payer'} ({c.status or 'no status'}, ended {c.end or 'unknown'})"
                for c in self.found.coverage
            )
            return self._item(
                need,
                item_id,
                None,
                f"Only ended or inactive coverage is on file: {listed}.",
                tuple(c.source for c in self.found.coverage),
            )
        return self._item(need, item_id, None, "No Coverage in the chart.")

    def _measures(self, need: Need, item_id: str, condition: str | None) -> MissingItem | None:
        since = self.since(need)
        candidates = [m for key in need.measures for m in self.found.measures.get(key, ())]
        if any(_recent(m.date, since) for m in candidates):
            return None
        names = " or ".join(need.measures)
        see: list[str] = []
        if candidates:
            latest = max(candidates, key=lambda m: m.date)
            detail = f"The latest {names} is from {latest.date}, more than {_window(need.within_days or 0)} before {self.as_of.isoformat()}."
            see.append(latest.source)
        else:
            detail = f"No {names} is recorded as structured data."
        mentions = [
            src
            for src, text in self.notes
            if any(
                self.maps.measure_mentions[key].find(text)
                for key in need.measures
                if key in self.maps.measure_mentions
            )
        ]
        if mentions:
            notes = "A note mentions" if len(mentions) == 1 else f"{len(mentions)} notes mention"
            detail += f" {notes} {names}; a clinician should record it as a score."
            see.extend(mentions)
        return self._item(need, item_id, condition, detail, tuple(see))

    def _therapies(self, need: Need, item_id: str, condition: str | None) -> MissingItem | None:
        matching = [
            t
            for t in self.found.therapies
            if t.kind.value in need.therapy_kinds or (t.drug_class or "") in need.therapy_classes
        ]
        if not matching:
            return self._item(
                need,
                item_id,
                condition,
                "None is recorded (MedicationStatement, MedicationRequest or Procedure).",
            )
        if not need.with_outcome:
            return None
        complete = [t for t in matching if t.start and t.outcome is not Outcome.UNKNOWN]
        if complete:
            return None
        listed = ", ".join(t.name for t in matching)
        return self._item(
            need,
            item_id,
            condition,
            f"Recorded without a start date or an outcome: {listed}.",
            tuple(t.source for t in matching),
        )

    def _screening(self, need: Need, item_id: str, condition: str | None) -> MissingItem | None:
        since = self.since(need)
        tests = [s for s in self.found.screenings if s.test == need.screening]
        if any(_recent(s.date, since) for s in tests):
            return None
        if tests:
            latest = max(tests, key=lambda s: s.date or "")
            return self._item(
                need,
                item_id,
                condition,
                f"The latest is from {latest.date}, more than {_window(need.within_days or 0)} ago.",
                (latest.source,),
            )
        return self._item(need, item_id, condition, "None is recorded.")


def find_missing(
    found: Found, maps: EvidenceMaps, as_of: date, notes: list[tuple[str, str]]
) -> tuple[MissingItem, ...]:
    checker = _Checker(found, maps, as_of, notes)
    items = [
        item for need in maps.requirements.always if (item := checker.check(need, need.id, None))
    ]
    active = [d for d in found.diagnoses if is_active(d)]
    for group in maps.requirements.conditions:
        matched = [d for d in active if group.matches(d.icd10, d.snomed, d.text)]
        if not matched:
            continue
        for need in group.needs:
            item = checker.check(need, f"{group.id}/{need.id}", group.id, matched)
            if item:
                items.append(item)
    return tuple(items)
