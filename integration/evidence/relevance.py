"""Which resources of a chart the evidence can use, decided on the raw JSON before validation.

Validating a resource with fhir.resources costs about 0.3 ms; a long chart has thousands of
vital-sign and lab Observations that no evidence rule reads. Validated at once: an Observation
whose code (or a component's) is a severity score or a screening test; a DiagnosticReport that
is a pathology report or a screening test; a Procedure that is a phototherapy session; every
resource of any other type. The rest is kept raw and validated only when resolved by reference
(a pathology report's result Observations). A resource that is used and fails validation is
reported as a problem.
"""

from __future__ import annotations

from typing import Any

from integration.mapping.evidence_maps import EvidenceMaps
from integration.mapping.severity import Coding

JsonObject = dict[str, Any]


def _codings(concept: Any) -> list[Coding]:
    if not isinstance(concept, dict):
        return []
    return [
        Coding(item.get("system"), item.get("code"), item.get("display"))
        for item in concept.get("coding") or []
        if isinstance(item, dict)
    ]


def _texts(concept: Any) -> list[str]:
    if not isinstance(concept, dict):
        return []
    texts = [concept["text"]] if isinstance(concept.get("text"), str) else []
    return texts + [c.display for c in _codings(concept) if c.display]


class Relevance:
    """`relevance(raw)`: is this resource worth validating for evidence? Memoised per code,
    since a long chart repeats a few dozen codes thousands of times."""

    def __init__(self, maps: EvidenceMaps) -> None:
        self._maps = maps
        self._memo: dict[tuple[str, str], bool] = {}

    def _remember(self, kind: str, concept: Any, decide: bool | None = None) -> bool | None:
        key = (kind, repr(concept))
        if decide is not None:
            self._memo[key] = decide
        return self._memo.get(key)

    def _score(self, concept: Any) -> bool:
        known = self._remember("score", concept)
        if known is None:
            text = concept.get("text") if isinstance(concept, dict) else None
            target = self._maps.severity.target(
                _codings(concept), text if isinstance(text, str) else None
            )
            known = bool(self._remember("score", concept, target is not None))
        return known

    def _screening(self, concept: Any) -> bool:
        known = self._remember("screening", concept)
        if known is None:
            known = bool(
                self._remember(
                    "screening", concept, self._maps.screening.test_of(_texts(concept)) is not None
                )
            )
        return known

    def _phototherapy(self, concept: Any) -> bool:
        known = self._remember("phototherapy", concept)
        if known is None:
            modality = self._maps.phototherapy.modality(_codings(concept), _texts(concept))
            known = bool(self._remember("phototherapy", concept, modality is not None))
        return known

    def _pathology(self, report: JsonObject) -> bool:
        categories = report.get("category") or []
        codings = [c for cat in categories for c in _codings(cat)]
        names = [*_texts(report.get("code")), *(t for cat in categories for t in _texts(cat))]
        return self._maps.pathology.is_pathology(codings, names)

    def __call__(self, raw: JsonObject) -> bool:
        kind = raw.get("resourceType")
        code = raw.get("code")
        if kind == "Observation":
            components = [c.get("code") for c in raw.get("component") or [] if isinstance(c, dict)]
            return (
                self._score(code)
                or any(self._score(c) for c in components)
                or self._screening(code)
            )
        if kind == "DiagnosticReport":
            return self._pathology(raw) or self._screening(code)
        if kind == "Procedure":
            return self._phototherapy(code)
        return True
