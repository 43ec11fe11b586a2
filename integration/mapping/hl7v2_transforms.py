"""The closed registry of `$transform` names the HL7 v2 maps may use.

A transform takes the object a map built (for example a CodeableConcept) and returns it,
possibly enriched from other mapping data. Adding one is a code change on purpose: the maps
themselves stay data.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from integration.mapping.evidence_maps import EvidenceMaps, load_evidence_maps
from integration.mapping.hl7v2 import Hl7Maps, Transform, load_hl7_maps
from integration.mapping.severity import Coding

DERM_SEVERITY = "http://derm-rcm.org/fhir/CodeSystem/derm-severity"


def _derm_severity(maps: EvidenceMaps) -> Transform:
    """Add our severity coding (PASI, EASI, DLQI, BSA %, IGA) when the severity maps know the code."""

    def transform(concept: Any) -> Any:
        if not isinstance(concept, dict):
            return concept
        codings = concept.get("coding") or []
        local = [Coding(c.get("system"), c.get("code"), c.get("display")) for c in codings]
        target = maps.severity.target(local, concept.get("text"))
        if target is None or any(c.get("system") == DERM_SEVERITY for c in codings):
            return concept
        return {**concept, "coding": [{"system": DERM_SEVERITY, "code": target}, *codings]}

    return transform


def hl7_transforms(maps: EvidenceMaps) -> Mapping[str, Transform]:
    return {"derm-severity": _derm_severity(maps)}


def load_feed_maps(root: Path | None = None) -> Hl7Maps:
    """The HL7 v2 maps with the transform registry bound to the evidence maps."""
    return load_hl7_maps(root, hl7_transforms(load_evidence_maps(root)))
