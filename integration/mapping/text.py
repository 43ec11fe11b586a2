"""Text normalisation and whole-phrase matching shared by the mapping interpreters."""

from __future__ import annotations

import re
from collections.abc import Iterable

_NON_WORD = re.compile(r"[^0-9a-z%]+")
_CLAUSE = re.compile(r"[;,|\n]|\.(?=\s|$)")
_NEGATIONS = frozenset({"no", "not", "without", "denies", "never"})


def normalize(text: str) -> str:
    """Lower case; every run of characters other than letters, digits and % becomes one space."""
    return _NON_WORD.sub(" ", text.lower()).strip()


class PhraseMatcher:
    """Finds whole phrases (normalised) in normalised text, optionally ignoring negated ones."""

    __slots__ = ("_phrases",)

    def __init__(self, phrases: Iterable[str]) -> None:
        self._phrases = tuple(
            sorted({normalize(p) for p in phrases if normalize(p)}, key=len, reverse=True)
        )

    def find(self, text: str, *, skip_negated: bool = False) -> str | None:
        """The first (longest) phrase found in `text`, or None.

        With `skip_negated`, a phrase with "no", "not", "without"... in the three words before
        it, within the same clause (clauses end at , ; | newline or a full stop), doesn't count.
        """
        clauses = [f" {normalize(c)} " for c in _CLAUSE.split(text)]
        for phrase in self._phrases:
            needle = f" {phrase} "
            for padded in clauses:
                start = padded.find(needle)
                while start != -1:
                    if not skip_negated or not _negated(padded[:start]):
                        return phrase
                    start = padded.find(needle, start + 1)
        return None


def _negated(before: str) -> bool:
    return any(word in _NEGATIONS for word in before.split()[-3:])
