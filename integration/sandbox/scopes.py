"""SMART App Launch scopes, v1 and v2, and what a granted set of them allows.

v2: `patient/Observation.rs`, `user/*.r`, `patient/Observation.rs?category=laboratory`
(https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html). v1: `patient/*.read`,
`user/Patient.read`, `patient/Observation.*`. The sandbox serves only reads, so a scope counts
for `read` with v2 `r` or v1 `read`/`*`, and for `search` with v2 `s` or v1 `read`/`*`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from integration.sandbox.resource_types import R4_RESOURCE_TYPES

Interaction = Literal["read", "search"]
ScopeContext = Literal["patient", "user", "system"]

IDENTITY_SCOPES: tuple[str, ...] = (
    "openid",
    "fhirUser",
    "profile",
    "launch",
    "launch/patient",
    "launch/encounter",
    "offline_access",
    "online_access",
)
REFRESH_SCOPES = frozenset({"offline_access", "online_access"})
_CONTEXTS: dict[str, ScopeContext] = {"patient": "patient", "user": "user", "system": "system"}

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
        op = match.group("op")
        readable = op in ("read", "*")
        return _scope(text, match.group("context"), match.group("type"), readable, readable, None)
    match = _V2.match(text)
    if match is not None and match.group("op"):
        op = match.group("op")
        return _scope(
            text,
            match.group("context"),
            match.group("type"),
            "r" in op,
            "s" in op,
            match.group("query"),
        )
    return None


def _scope(
    text: str, context: str, resource_type: str, read: bool, search: bool, query: str | None
) -> ResourceScope | None:
    narrowed = _CONTEXTS.get(context)
    if narrowed is None or (resource_type != "*" and resource_type not in R4_RESOURCE_TYPES):
        return None
    return ResourceScope(text, narrowed, resource_type, read, search, query)


def is_known_scope(text: str) -> bool:
    return text in IDENTITY_SCOPES or parse_resource_scope(text) is not None


def known_scopes(scope: str | None) -> list[str]:
    """The known scopes of a space-separated scope string, in order, without repeats."""
    kept: list[str] = []
    for item in (scope or "").split():
        if is_known_scope(item) and item not in kept:
            kept.append(item)
    return kept


def unknown_scopes(scope: str | None) -> list[str]:
    return [item for item in (scope or "").split() if not is_known_scope(item)]


class InsufficientScopeError(Exception):
    """The granted scopes do not allow the request; the message says what would."""


@dataclass(frozen=True, slots=True)
class Access:
    """What a token may see of one resource type for one interaction."""

    patient_id: str | None
    """Only this patient's compartment (and shared resources); None: any patient."""
    queries: tuple[str, ...] | None
    """v2 granular restrictions, any of which a resource must meet; None: no restriction."""


UNRESTRICTED = Access(patient_id=None, queries=None)


def decide_access(
    granted: str, token_patient_id: str | None, resource_type: str, interaction: Interaction
) -> Access:
    """What the granted scopes allow; raises InsufficientScopeError naming the scope needed."""
    scopes = [s for s in map(parse_resource_scope, granted.split()) if s is not None]
    covering = [s for s in scopes if s.covers(resource_type, interaction)]
    wide = [s for s in covering if s.context in ("user", "system")]
    if wide:
        return Access(patient_id=None, queries=_queries(wide))
    narrow = [s for s in covering if s.context == "patient"]
    if narrow:
        if token_patient_id is None:
            raise InsufficientScopeError(
                f"{resource_type} {interaction}: scope {narrow[0].text} is a patient scope, "
                "but this token has no patient in context (launch with launch/patient or an "
                "EHR launch, or ask for a user/ scope)"
            )
        return Access(patient_id=token_patient_id, queries=_queries(narrow))
    letter = "r" if interaction == "read" else "s"
    raise InsufficientScopeError(
        f"{resource_type} {interaction}: no granted scope allows it; needs one of "
        f"patient/{resource_type}.{letter} or user/{resource_type}.{letter} (SMART v2, "
        f"e.g. patient/{resource_type}.rs), or patient/{resource_type}.read or "
        f"user/{resource_type}.read (v1); granted scopes: {granted or '(none)'}"
    )


def _queries(scopes: list[ResourceScope]) -> tuple[str, ...] | None:
    if any(s.query is None for s in scopes):
        return None
    return tuple(s.query for s in scopes if s.query is not None)
