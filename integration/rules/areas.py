"""Body-area vocabulary: which payer-named area ("hands", "intertriginous") a body-site text names."""

from __future__ import annotations

from integration.mapping.loader import MappingDocument
from integration.mapping.text import PhraseMatcher


class BodyAreas:
    """From a `body-areas` document: each area with the words that name it."""

    def __init__(self, doc: MappingDocument) -> None:
        self._matchers = {
            str(area["id"]): PhraseMatcher(area["words"]) for area in doc.data["areas"]
        }

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._matchers)

    def areas_in(self, text: str) -> tuple[str, ...]:
        """Areas named in the text (negated mentions, "not the hands", don't count)."""
        return tuple(
            area
            for area, matcher in self._matchers.items()
            if matcher.find(text, skip_negated=True)
        )
