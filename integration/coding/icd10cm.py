"""ICD-10-CM look-ups for the claim scrubber, over the tabular list of `simple-icd-10-cm`.

The package parses the whole FY2026 tabular list when imported (about 1.5 s), so `code_set()`
imports it once, on first use. Its import emits a DeprecationWarning from `importlib.resources`
(a legacy call inside the package) that is silenced here and nowhere else. Codes are taken
without the dot, as the 837P carries them (HI01-2), and with it.
"""

from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass
from functools import cache, lru_cache
from types import ModuleType
from typing import Literal

CodeStatus = Literal["billable", "category", "unknown"]


def normalise(code: str) -> str:
    """`code` upper-case without the dot and spaces ("l82.1 " -> "L821")."""
    return code.strip().upper().replace(".", "")


def with_dot(code: str) -> str:
    """The dotted form coders read ("L821" -> "L82.1")."""
    bare = normalise(code)
    return bare if len(bare) <= 3 else f"{bare[:3]}.{bare[3:]}"


@dataclass(frozen=True, slots=True)
class CodeInfo:
    code: str  # dotted
    status: CodeStatus
    title: str = ""
    billable_below: tuple[str, ...] = ()  # billable (leaf) codes under a category, dotted


class CodeSet:
    """The tabular list of one ICD-10-CM release."""

    def __init__(self, module: ModuleType) -> None:
        self._m = module

    @lru_cache(maxsize=8192)  # noqa: B019 - one CodeSet per process, never freed
    def info(self, code: str) -> CodeInfo:
        dotted = with_dot(code)
        m = self._m
        if not normalise(code).isalnum() or not m.is_valid_item(dotted):
            return CodeInfo(dotted, "unknown")
        if m.is_chapter_or_block(dotted):  # "L80-L99" is a block, not a diagnosis
            return CodeInfo(dotted, "unknown")
        title = str(m.get_description(dotted))
        if m.is_leaf(dotted):
            return CodeInfo(dotted, "billable", title)
        leaves = tuple(str(c) for c in m.get_descendants(dotted) if m.is_leaf(c))
        return CodeInfo(dotted, "category", title, leaves)

    @lru_cache(maxsize=8192)  # noqa: B019
    def siblings(self, code: str) -> tuple[CodeInfo, ...]:
        """The billable codes beside `code` under the same parent (itself excluded)."""
        dotted = with_dot(code)
        m = self._m
        if not m.is_valid_item(dotted) or m.is_chapter_or_block(dotted):
            return ()
        parent = str(m.get_parent(dotted))
        if not parent or m.is_chapter_or_block(parent):
            return ()
        return tuple(
            self.info(str(c))
            for c in m.get_children(parent)
            if str(c) != dotted and m.is_leaf(str(c))
        )


@cache
def code_set() -> CodeSet:
    """The ICD-10-CM release of the installed simple-icd-10-cm (FY2026, April 1, 2026)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = importlib.import_module("simple_icd_10_cm")
    return CodeSet(module)
