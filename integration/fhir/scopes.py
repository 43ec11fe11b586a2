"""SMART App Launch scopes, v1 and v2: their grammar and what a granted set allows.

v2: `patient/Observation.rs`, `user/*.r`, `patient/Observation.rs?category=laboratory`
(https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html). v1: `patient/*.read`,
`user/Patient.read`, `patient/Observation.*`. A scope counts for `read` with v2 `r` or v1
`read`/`*`, and for `search` with v2 `s` or v1 `read`/`*`. Used by the app (is the grant
enough?) and by the sandbox EHR (what may this token do?).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Interaction = Literal["read", "search"]
ScopeContext = Literal["patient", "user", "system"]

_V1 = re.compile(
    r"^(?P<context>patient|user|system)/(?P<type>\*|[A-Z][A-Za-z]+)\.(?P<op>read|write|\*)$"
)
_V2 = re.compile(
    r"^(?P<context>patient|user|system)/(?P<type>\*|[A-Z][A-Za-z]+)"
    r"\.(?P<op>c?r?u?d?s?)(?:\?(?P<query>[^?\s]+))?$"
)


@dataclass(frozen=True, slots=True)
class ResourceScope:
    text: str
    context: ScopeContext
    resource_type: str
    """A resource type, or "*"."""
    read: bool
    search: bool
    query: str | None = None
    """v2 granular restriction, e.g. "category=laboratory"; None when the scope is whole."""

    def covers(self, resource_type: str, interaction: Interaction) -> bool:
        if self.resource_type not in ("*", resource_type):
            return False
        return self.read if interaction == "read" else self.search


def parse_resource_scope(text: str) -> ResourceScope | None:
    """The scope's meaning, or None if `text` is not a well-formed resource scope."""
    match = _V1.match(text)
    if match is not None:
        readable = match.group("op") in ("read", "*")
        context: ScopeContext = match.group("context")  # type: ignore[assignment]
        return ResourceScope(text, context, match.group("type"), readable, readable, None)
    match = _V2.match(text)
    if match is not None and match.group("op"):
        op = match.group("op")
        context = match.group("context")  # type: ignore[assignment]
        return ResourceScope(
            text, context, match.group("type"), "r" in op, "s" in op, match.group("query")
        )
    return None


def allows(granted: Iterable[str], resource_type: str, interaction: Interaction) -> bool:
    """True if some granted scope allows `interaction` on `resource_type`."""
    for text in granted:
        scope = parse_resource_scope(text)
        if scope is not None and scope.covers(resource_type, interaction):
            return True
    return False


def can_search(granted: Iterable[str], resource_type: str) -> bool:
    return allows(granted, resource_type, "search")


def can_read(granted: Iterable[str], resource_type: str) -> bool:
    return allows(granted, resource_type, "read")


def missing(granted: Iterable[str], types: Iterable[str]) -> list[str]:
    """The types no granted scope lets the app search."""
    scopes = list(granted)
    return [t for t in types if not can_search(scopes, t)]
