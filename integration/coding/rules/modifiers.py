"""PLACEHOLDER: the modifiers rule family is being written; it checks nothing yet."""

from __future__ import annotations

from integration.coding.engine import Family, LoadContext
from integration.coding.model import WorkClaim


def load(ctx: LoadContext) -> None:
    return None


def check(work: WorkClaim, data: None) -> None:
    return None


FAMILY: Family[None] = Family("modifiers", load, check)
