"""What a prior authorization needs from the chart, by condition (mappings/evidence/pa-documentation.yaml)."""

from __future__ import annotations

from dataclasses import dataclass

from integration.domain.evidence import Owner
from integration.mapping.loader import MappingDocument
from integration.mapping.text import PhraseMatcher


@dataclass(frozen=True, slots=True)
class Need:
    id: str
    what: str
    owner: Owner
    basis: str
    coverage: bool = False
    icd10: bool = False
    pathology: bool = False
    measures: tuple[str, ...] = ()
    within_days: int | None = None
    therapy_kinds: tuple[str, ...] = ()
    therapy_classes: tuple[str, ...] = ()
    with_outcome: bool = False
    screening: str | None = None


@dataclass(frozen=True, slots=True)
class ConditionGroup:
    id: str
    label: str
    icd10_prefixes: tuple[str, ...]
    snomed: frozenset[str]
    matcher: PhraseMatcher
    needs: tuple[Need, ...]

    def matches(self, icd10: str | None, snomed: str | None, text: str) -> bool:
        if icd10 and any(icd10.upper().startswith(p) for p in self.icd10_prefixes):
            return True
        if snomed and snomed in self.snomed:
            return True
        return self.matcher.find(text, skip_negated=True) is not None


def _need(raw: dict[str, object]) -> Need:
    spec = raw["need"]
    assert isinstance(spec, dict)
    return Need(
        id=str(raw["id"]),
        what=str(raw["what"]),
        owner=Owner(str(raw["owner"])),
        basis=str(raw["basis"]),
        coverage=bool(spec.get("coverage", False)),
        icd10=bool(spec.get("icd10", False)),
        pathology=bool(spec.get("pathology", False)),
        measures=tuple(spec.get("measures", ())),
        within_days=spec.get("within_days"),
        therapy_kinds=tuple(spec.get("therapy_kinds", ())),
        therapy_classes=tuple(spec.get("therapy_classes", ())),
        with_outcome=bool(spec.get("with_outcome", False)),
        screening=spec.get("screening"),
    )


@dataclass(frozen=True, slots=True)
class Requirements:
    always: tuple[Need, ...]
    conditions: tuple[ConditionGroup, ...]

    @classmethod
    def from_document(cls, doc: MappingDocument) -> Requirements:
        groups = []
        for c in doc.data["conditions"]:
            match = c["match"]
            groups.append(
                ConditionGroup(
                    id=c["id"],
                    label=c["label"],
                    icd10_prefixes=tuple(match.get("icd10_prefixes", ())),
                    snomed=frozenset(match.get("snomed", ())),
                    matcher=PhraseMatcher(match.get("phrases", ())),
                    needs=tuple(_need(n) for n in c["needs"]),
                )
            )
        return cls(always=tuple(_need(n) for n in doc.data["always"]), conditions=tuple(groups))
