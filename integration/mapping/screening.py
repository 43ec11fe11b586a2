"""Recognise screening tests and pathology reports (mappings/evidence/screening-tests.yaml, pathology-reports.yaml)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from integration.mapping.loader import MappingDocument
from integration.mapping.severity import Coding
from integration.mapping.text import PhraseMatcher


@dataclass(frozen=True, slots=True)
class ScreeningTest:
    id: str
    label: str
    matcher: PhraseMatcher


class ScreeningMap:
    def __init__(self, doc: MappingDocument) -> None:
        self._tests = [
            ScreeningTest(t["id"], t["label"], PhraseMatcher(t["phrases"]))
            for t in doc.data["tests"]
        ]

    def test_of(self, texts: Sequence[str]) -> ScreeningTest | None:
        joined = " | ".join(t for t in texts if t)
        for test in self._tests:
            if test.matcher.find(joined):
                return test
        return None


class PathologyMap:
    """Which DiagnosticReports are pathology reports: by category code, else by name."""

    def __init__(self, doc: MappingDocument) -> None:
        self._categories = {(c["system"], c["code"]) for c in doc.data["categories"]}
        self._matcher = PhraseMatcher(doc.data["phrases"])

    def is_pathology(self, categories: Sequence[Coding], texts: Sequence[str]) -> bool:
        if any((c.system, c.code) in self._categories for c in categories):
            return True
        return self._matcher.find(" | ".join(t for t in texts if t)) is not None
