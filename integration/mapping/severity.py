"""Recognise severity-score Observations from EHR local codes or display texts (mappings/severity/)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from integration.mapping.loader import MappingDocument, MappingError
from integration.mapping.text import normalize

#: our CodeSystem code -> the evidence measure key and instrument name
MEASURE_OF_TARGET: dict[str, tuple[str, str]] = {
    "pasi": ("PASI", "PASI"),
    "easi": ("EASI", "EASI"),
    "dlqi": ("DLQI", "DLQI"),
    "bsa-pct": ("BSA", "BSA %"),
    "viga-ad": ("IGA", "vIGA-AD"),
    "iga-pso": ("IGA", "IGA (psoriasis)"),
    "area-pct-head-neck": ("REGION_AREA", "% of head and neck involved"),
    "area-pct-trunk": ("REGION_AREA", "% of trunk involved"),
    "area-pct-upper-limbs": ("REGION_AREA", "% of upper limbs involved"),
    "area-pct-lower-limbs": ("REGION_AREA", "% of lower limbs involved"),
}

REGION_OF_TARGET: dict[str, str] = {
    "region-head-neck": "head-neck",
    "region-trunk": "trunk",
    "region-upper-limbs": "upper-limbs",
    "region-lower-limbs": "lower-limbs",
    "area-pct-head-neck": "head-neck",
    "area-pct-trunk": "trunk",
    "area-pct-upper-limbs": "upper-limbs",
    "area-pct-lower-limbs": "lower-limbs",
}

K = TypeVar("K")

_TEXTS_KEPT = 4096

_LEADING_INT = re.compile(r"^\s*([0-4])(?:\s*[-:=.)]|\s|$)")


@dataclass(frozen=True, slots=True)
class Coding:
    system: str | None
    code: str | None
    display: str | None


class SeverityMap:
    """Local code or display text -> our severity code (e.g. 'pasi', 'region-trunk')."""

    def __init__(self, documents: Iterable[MappingDocument]) -> None:
        self._codes: dict[tuple[str, str], str] = {}
        self._texts: dict[str, str] = {}
        self._ordinals: dict[str, int] = {}
        # raw display text -> its target (None: none), kept up to _TEXTS_KEPT of them: a feed
        # repeats the same few displays, and normalising one is most of `target`'s cost.
        self._by_text: dict[str, str | None] = {}
        origin: dict[object, str] = {}
        for doc in documents:
            for i, entry in enumerate(doc.data.get("codes", [])):
                key = (entry["system"], entry["code"])
                self._add(self._codes, key, entry["target"], origin, f"{doc.path.name} codes/{i}")
            for i, entry in enumerate(doc.data.get("texts", [])):
                for alias in entry["aliases"]:
                    where = f"{doc.path.name} texts/{i}"
                    self._add(self._texts, normalize(alias), entry["target"], origin, where)
            for entry in doc.data.get("ordinal_words", []):
                self._ordinals[normalize(entry["word"])] = int(entry["value"])

    @staticmethod
    def _add(
        table: dict[K, str], key: K, target: str, origin: dict[object, str], where: str
    ) -> None:
        if key in table and table[key] != target:
            raise MappingError(
                f"{where}: {key!r} maps to {target!r} but {origin[key]} maps it to {table[key]!r}"
            )
        table[key] = target
        origin.setdefault(key, where)

    def target(self, codings: Iterable[Coding], text: str | None) -> str | None:
        """Our code for a CodeableConcept: by (system, code) first, then by whole display text."""
        codings = list(codings)
        for coding in codings:
            if coding.system and coding.code:
                hit = self._codes.get((coding.system, coding.code))
                if hit:
                    return hit
        for candidate in [text, *(c.display for c in codings)]:
            if candidate:
                hit = self._text_target(candidate)
                if hit:
                    return hit
        return None

    def _text_target(self, candidate: str) -> str | None:
        by_text = self._by_text
        if candidate in by_text:
            return by_text[candidate]
        hit = self._texts.get(normalize(candidate)) or None
        if len(by_text) >= _TEXTS_KEPT:
            by_text.clear()
        by_text[candidate] = hit
        return hit

    def ordinal(self, codings: Iterable[Coding], text: str | None) -> int | None:
        """0-4 from a coded or worded IGA value ('4 - severe', code '3', 'Moderate')."""
        codings = list(codings)
        for coding in codings:
            if coding.code and coding.code.strip() in {"0", "1", "2", "3", "4"}:
                return int(coding.code.strip())
        for candidate in [text, *(c.display for c in codings)]:
            if not candidate:
                continue
            match = _LEADING_INT.match(candidate)
            if match:
                return int(match.group(1))
            word = self._ordinals.get(normalize(candidate))
            if word is not None:
                return word
        return None
