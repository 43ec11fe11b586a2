"""SMART scopes (v1 `patient/Observation.read`, v2 `patient/Observation.rs`): what a grant allows."""

from __future__ import annotations

import re
from collections.abc import Iterable

_SCOPE = re.compile(r"^(patient|user|system)/(\*|[A-Za-z]+)\.(read|write|\*|[cruds]+)(\?.*)?$")


def can_search(granted: Iterable[str], resource_type: str) -> bool:
    """True if some granted scope allows reading and searching `resource_type`."""
    for scope in granted:
        match = _SCOPE.match(scope)
        if not match:
            continue
        _context, type_name, perms, _query = match.groups()
        if type_name not in ("*", resource_type):
            continue
        if perms in ("read", "*") or ("s" in perms and "r" in perms) or perms == "s":
            return True
    return False


def can_read(granted: Iterable[str], resource_type: str) -> bool:
    for scope in granted:
        match = _SCOPE.match(scope)
        if not match:
            continue
        _context, type_name, perms, _query = match.groups()
        if type_name in ("*", resource_type) and (perms in ("read", "*") or "r" in perms):
            return True
    return False


def missing(granted: Iterable[str], types: Iterable[str]) -> list[str]:
    scopes = list(granted)
    return [t for t in types if not can_search(scopes, t)]
