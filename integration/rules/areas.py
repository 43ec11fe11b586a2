"""Body-area vocabulary: which payer-named area ("hands", "intertriginous") a body-site text names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integration.mapping.loader import MappingDocument
from integration.mapping.text import PhraseMatcher


class BodyAreas:
    """From a `body-areas` document: each area with the words that name it."""

    def __init__(self, doc: MappingDocument) -> None:
        areas: Any = doc.data["areas"]
        pairs: list[tuple[str, list[str]]]
        if isinstance(areas, Mapping):
            pairs = [
                (str(k), list(v if isinstance(v, list) else v["words"])) for k, v in areas.items()
            ]
        else:
            pairs = [(str(a["id"]), list(a["words"])) for a in areas]
        self._matchers = {area: PhraseMatcher(words) for area, words in pairs}

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
