"""Everything PA decisions read from `mappings/`: the rule library and its vocabularies, loaded
and compiled once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from integration.mapping.loader import MappingDocument, MappingError, iter_documents
from integration.mapping.potency import PotencyTable
from integration.priorauth.assess import Lookups
from integration.priorauth.order import SpecialtyMap
from integration.rules.areas import BodyAreas
from integration.rules.library import RuleLibrary


@dataclass(frozen=True, slots=True)
class PaReferences:
    library: RuleLibrary
    lookups: Lookups
    specialties: SpecialtyMap


def _one(docs: list[MappingDocument], kind: str) -> MappingDocument:
    found = [d for d in docs if d.kind == kind]
    if len(found) != 1:
        raise MappingError(f"kind {kind}: expected exactly one file, got {len(found)}")
    return found[0]


def load_pa_references(root: Path | None = None) -> PaReferences:
    docs = list(iter_documents(root))
    return PaReferences(
        library=RuleLibrary.from_documents(docs),
        lookups=Lookups(
            potency=PotencyTable.from_document(_one(docs, "tcs-potency")),
            areas=BodyAreas(_one(docs, "body-areas")),
        ),
        specialties=SpecialtyMap(_one(docs, "specialties")),
    )
