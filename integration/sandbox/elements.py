"""Small helpers to walk FHIR JSON: values at a dotted path, and references as (type, id)."""

from __future__ import annotations

import re
from typing import Any

JsonObject = dict[str, Any]

ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_REFERENCE = re.compile(
    r"(?:^|/)(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$"
)


def values_at(resource: JsonObject, path: str) -> list[Any]:
    """Every value at the dotted `path`, lists flattened at each step (FHIRPath-like)."""
    current: list[Any] = [resource]
    for part in path.split("."):
        found: list[Any] = []
        for item in current:
            if isinstance(item, dict) and part in item:
                value = item[part]
                if isinstance(value, list):
                    found.extend(value)
                else:
                    found.append(value)
        current = found
    return current


def reference_key(reference: str) -> tuple[str, str] | None:
    """`Patient/1`, `http://host/fhir/Patient/1` or `Patient/1/_history/2` -> ("Patient", "1")."""
    match = _REFERENCE.search(reference)
    if match is None:
        return None
    return match.group("type"), match.group("id")


def references_at(resource: JsonObject, path: str) -> list[tuple[str, str]]:
    """The (type, id) of every Reference at `path` that points at a resource by type and id."""
    keys: list[tuple[str, str]] = []
    for value in values_at(resource, path):
        if isinstance(value, dict):
            reference = value.get("reference")
            if isinstance(reference, str):
                key = reference_key(reference)
                if key is not None:
                    keys.append(key)
    return keys
