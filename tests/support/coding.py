"""The scrubber the tests use: every rule family, with the NCCI/MUE test tables."""

from __future__ import annotations

from functools import cache

from integration.coding.engine import Scrubber


@cache
def scrubber_for_tests() -> Scrubber:
    return Scrubber.load(reference={})
