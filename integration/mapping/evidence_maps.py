"""Everything evidence assembly reads from mappings/, loaded once and passed in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from integration.mapping.loader import MappingDocument, MappingError, iter_documents
from integration.mapping.requirements import Requirements
from integration.mapping.screening import PathologyMap, ScreeningMap
from integration.mapping.severity import MEASURE_OF_TARGET, SeverityMap
from integration.mapping.text import PhraseMatcher
from integration.mapping.therapies import OutcomeClassifier, PhototherapyMap, TherapyClassifier


@dataclass(frozen=True, slots=True)
class EvidenceMaps:
    severity: SeverityMap
    therapies: TherapyClassifier
    outcomes: OutcomeClassifier
    phototherapy: PhototherapyMap
    screening: ScreeningMap
    pathology: PathologyMap
    requirements: Requirements
    measure_mentions: dict[str, PhraseMatcher]


def _one(docs: list[MappingDocument], kind: str) -> MappingDocument:
    found = [d for d in docs if d.kind == kind]
    if len(found) != 1:
        names = ", ".join(str(d.path) for d in found) or "none"
        raise MappingError(f"kind {kind}: expected exactly one file, got {len(found)} ({names})")
    return found[0]


def load_evidence_maps(root: Path | None = None) -> EvidenceMaps:
    docs = list(iter_documents(root))
    severity_docs = [d for d in docs if d.kind == "severity-map"]
    # names under which each measure may be written in a note: its display-text aliases
    aliases: dict[str, list[str]] = {}
    for doc in severity_docs:
        for entry in doc.data.get("texts", []):
            if entry["target"] in MEASURE_OF_TARGET:  # region components are not measures
                key = MEASURE_OF_TARGET[entry["target"]][0]
                aliases.setdefault(key, []).extend(entry["aliases"])
    mentions = {key: PhraseMatcher(names) for key, names in aliases.items()}
    return EvidenceMaps(
        severity=SeverityMap(severity_docs),
        therapies=TherapyClassifier(_one(docs, "therapy-classes")),
        outcomes=OutcomeClassifier(_one(docs, "therapy-outcomes")),
        phototherapy=PhototherapyMap(_one(docs, "phototherapy-procedures")),
        screening=ScreeningMap(_one(docs, "screening-tests")),
        pathology=PathologyMap(_one(docs, "pathology-reports")),
        requirements=Requirements.from_document(_one(docs, "evidence-requirements")),
        measure_mentions=mentions,
    )
