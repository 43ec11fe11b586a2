"""Classify medications and procedures as therapies (mappings/evidence/therapy-*.yaml, phototherapy.yaml)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from integration.domain.evidence import Outcome, TherapyKind
from integration.mapping.loader import MappingDocument, MappingError
from integration.mapping.severity import Coding
from integration.mapping.text import PhraseMatcher


@dataclass(frozen=True, slots=True)
class DrugClass:
    id: str
    kind: TherapyKind
    label: str


@dataclass(frozen=True, slots=True)
class Classification:
    dermatology: bool
    drug_class: DrugClass | None


@dataclass(frozen=True, slots=True)
class _DrugRule:
    drug_class: DrugClass
    matcher: PhraseMatcher
    route_dependent: bool
    systemic_class: DrugClass | None


class TherapyClassifier:
    """Medication names, route and dose form -> drug class and therapy kind."""

    def __init__(self, doc: MappingDocument) -> None:
        data = doc.data
        self.course_gap_days = int(data["course_gap_days"])
        self.classes = {
            c["id"]: DrugClass(c["id"], TherapyKind(c["kind"]), c["label"]) for c in data["classes"]
        }
        self._rules: list[_DrugRule] = []
        for i, drug in enumerate(data["drugs"]):
            where = f"{doc.path.name} drugs/{i}"
            cls = self._class(drug["class"], where)
            systemic = drug.get("systemic_when_not_topical")
            self._rules.append(
                _DrugRule(
                    drug_class=cls,
                    matcher=PhraseMatcher(drug["names"]),
                    route_dependent=bool(drug.get("route_dependent", False)),
                    systemic_class=self._class(systemic, where) if systemic else None,
                )
            )
        self._topical_routes = {(r["system"], r["code"]) for r in data["topical_route_codes"]}
        self._topical_words = PhraseMatcher(data["topical_words"])
        self._systemic_words = PhraseMatcher(data["systemic_words"])

    def _class(self, class_id: str, where: str) -> DrugClass:
        if class_id not in self.classes:
            raise MappingError(
                f"{where}: class: expected one of {sorted(self.classes)}, got {class_id!r}"
            )
        return self.classes[class_id]

    def classify(
        self, names: Sequence[str], routes: Sequence[Coding], forms: Sequence[str]
    ) -> Classification:
        """Whether this is a dermatology therapy, and its class when the chart says enough.

        For route-dependent drugs (triamcinolone, tacrolimus...) the route or dose form decides;
        when the chart states neither, the class is None rather than a guess.
        """
        name_text = " | ".join(names)
        for rule in self._rules:
            if rule.matcher.find(name_text) is None:
                continue
            if not rule.route_dependent:
                return Classification(True, rule.drug_class)
            route = self._route(routes, [*forms, name_text])
            if route == "topical":
                return Classification(True, rule.drug_class)
            if route == "systemic":
                return Classification(rule.systemic_class is not None, rule.systemic_class)
            return Classification(True, None)
        return Classification(False, None)

    def _route(self, routes: Sequence[Coding], texts: Sequence[str]) -> str | None:
        for route in routes:
            if (route.system, route.code) in self._topical_routes:
                return "topical"
        for route in routes:
            if route.display and self._topical_words.find(route.display):
                return "topical"
        joined = " | ".join(t for t in [*(r.display or "" for r in routes), *texts] if t)
        if self._topical_words.find(joined):
            return "topical"
        if routes or self._systemic_words.find(joined):
            return "systemic"
        return None


class OutcomeClassifier:
    """Why a therapy ended, from the chart's own words (statusReason, outcome, note)."""

    def __init__(self, doc: MappingDocument) -> None:
        self._rules = [
            (Outcome(o["outcome"]), PhraseMatcher(o["phrases"])) for o in doc.data["outcomes"]
        ]

    def classify(self, texts: Iterable[str]) -> tuple[Outcome, str] | None:
        """(outcome, the text it was read from) for the first text that states one."""
        for text in texts:
            if not text:
                continue
            for outcome, matcher in self._rules:
                if matcher.find(text, skip_negated=True):
                    return outcome, text
        return None


@dataclass(frozen=True, slots=True)
class Modality:
    id: str
    label: str
    codes: frozenset[tuple[str, str]]
    matcher: PhraseMatcher


class PhototherapyMap:
    """Which procedures are phototherapy sessions, and how sessions group into courses."""

    def __init__(self, doc: MappingDocument) -> None:
        self.max_gap_days = int(doc.data["max_gap_days"])
        self._modalities = [
            Modality(
                id=m["id"],
                label=m["label"],
                codes=frozenset((c["system"], c["code"]) for c in m["codes"]),
                matcher=PhraseMatcher(m["phrases"]),
            )
            for m in doc.data["modalities"]
        ]

    def modality(self, codings: Sequence[Coding], texts: Sequence[str]) -> Modality | None:
        for modality in self._modalities:
            if any((c.system, c.code) in modality.codes for c in codings):
                return modality
        joined = " | ".join([*texts, *(c.display or "" for c in codings)])
        for modality in self._modalities:
            if modality.matcher.find(joined):
                return modality
        return None
