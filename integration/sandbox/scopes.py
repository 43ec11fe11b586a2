"""Which scopes the sandbox grants, and what a token's scopes let it read.

The grammar of SMART v1/v2 scopes is integration.fhir.scopes; here a resource scope also
has to name an R4 resource type the sandbox knows.
"""

from __future__ import annotations

from dataclasses import dataclass

from integration.fhir.scopes import Interaction, ResourceScope, ScopeContext
from integration.fhir.scopes import parse_resource_scope as parse_scope_text
from integration.sandbox.resource_types import R4_RESOURCE_TYPES

__all__ = ["Interaction", "ResourceScope", "ScopeContext", "parse_resource_scope"]

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


def parse_resource_scope(text: str) -> ResourceScope | None:
    """The scope's meaning, or None if it is malformed or names a type R4 doesn't have."""
    scope = parse_scope_text(text)
    if scope is None or (
        scope.resource_type != "*" and scope.resource_type not in R4_RESOURCE_TYPES
    ):
        return None
    return scope


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
