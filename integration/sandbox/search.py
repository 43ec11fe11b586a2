"""FHIR search over the store: parse the parameters, find, sort, page, include, build the Bundle.

Parameters the type doesn't know are ignored and reported in an OperationOutcome entry
(search.mode "outcome"), the way HAPI's lenient mode does; a known parameter with a value that
can't be read is a 400 naming the parameter and the value.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode

from integration.sandbox.dates import DateCriterion, DateRange, parse_criterion, range_of_element
from integration.sandbox.elements import (
    ID_PATTERN,
    JsonObject,
    reference_key,
    references_at,
    values_at,
)
from integration.sandbox.outcome import FhirError, issue, operation_outcome
from integration.sandbox.scopes import Access
from integration.sandbox.searchparams import IncludeDef, SearchParamDef, TypeSpec
from integration.sandbox.store import ResourceStore, StoredResource

OFFSET_PARAM = "_getpagesoffset"
_JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json", "fhir+json"})
_IGNORED_SILENTLY = frozenset({"_pretty"})

Predicate = Callable[[StoredResource], bool]
SortField = Literal["date", "_lastUpdated"]


@dataclass(frozen=True, slots=True)
class SortKey:
    field: SortField
    descending: bool


@dataclass(slots=True)
class SearchRequest:
    resource_type: str
    count: int
    offset: int = 0
    predicates: list[Predicate] = field(default_factory=list)
    patient_ids: frozenset[str] | None = None
    """From patient/subject/beneficiary: only these patients' compartments."""
    ids: frozenset[str] | None = None
    sort: tuple[SortKey, ...] = ()
    includes: tuple[IncludeDef, ...] = ()
    summary_count: bool = False
    count_given: bool = False
    """The client sent _count (so the self link repeats it)."""
    notes: list[str] = field(default_factory=list)
    """Parameters ignored, each as `name: why`; reported in the outcome entry."""
    link_params: list[tuple[str, str]] = field(default_factory=list)
    """The request's parameters minus _count and the page offset, repeated in every link."""

    def matches(self, resource: StoredResource) -> bool:
        if self.ids is not None and resource.id not in self.ids:
            return False
        if self.patient_ids is not None and resource.patient_id not in self.patient_ids:
            return False
        return all(predicate(resource) for predicate in self.predicates)


@dataclass(frozen=True, slots=True)
class SearchResult:
    total: int
    page: Sequence[StoredResource]
    included: Sequence[StoredResource]


def parse_search(
    spec: TypeSpec,
    params: Sequence[tuple[str, str]],
    *,
    default_count: int,
    max_count: int,
    support_include: bool,
) -> SearchRequest:
    """Read the search parameters; raises FhirError(400) on a value it can't read."""
    request = SearchRequest(resource_type=spec.resource_type, count=default_count)
    for raw_name, value in params:
        name, _, modifier = raw_name.partition(":")
        if name not in (OFFSET_PARAM, "_count"):
            request.link_params.append((raw_name, value))
        if name.startswith("_") and name in _CONTROL_HANDLERS:
            if modifier:
                raise FhirError(
                    400, "invalid", f"{raw_name}: {name} takes no modifier, got ':{modifier}'"
                )
            _CONTROL_HANDLERS[name](request, spec, value, max_count, support_include)
            continue
        if name in _IGNORED_SILENTLY:
            continue
        definition = spec.param_by_name.get(name)
        if definition is None:
            request.notes.append(
                f"{raw_name}: not a search parameter of {spec.resource_type} on this server; "
                "ignored"
            )
            continue
        if value == "":
            request.notes.append(f"{raw_name}: empty value; ignored")
            continue
        _apply_param(request, definition, name, modifier, value)
    return request


def run_search(
    store: ResourceStore,
    spec: TypeSpec,
    request: SearchRequest,
    access: Access,
    *,
    scope_filters: Sequence[SearchRequest] | None,
    may_include: Callable[[StoredResource], bool],
) -> SearchResult:
    """Find, sort and page. A patient-scoped `access` narrows the search to its patient."""
    patient_ids = request.patient_ids
    if access.patient_id is not None:
        if patient_ids is not None and not patient_ids <= {access.patient_id}:
            others = ", ".join(f"Patient/{p}" for p in sorted(patient_ids - {access.patient_id}))
            raise FhirError(
                403,
                "forbidden",
                f"{spec.resource_type} search: this token is limited to Patient/"
                f"{access.patient_id}; the search asks for {others}",
            )
        if spec.patient_paths:
            patient_ids = frozenset({access.patient_id})
    candidates = _candidates(store, spec, request.ids, patient_ids)
    matches = [
        resource
        for resource in candidates
        if request.matches(resource)
        and _visible(resource, access)
        and (scope_filters is None or any(f.matches(resource) for f in scope_filters))
    ]
    _sort(matches, request.sort)
    total = len(matches)
    if request.summary_count or request.count == 0:
        return SearchResult(total, (), ())
    page = matches[request.offset : request.offset + request.count]
    return SearchResult(total, page, _included(store, page, request.includes, may_include))


def search_bundle(
    request: SearchRequest,
    result: SearchResult,
    *,
    fhir_base: str,
    next_base: str,
) -> JsonObject:
    """The searchset Bundle: absolute links and fullUrls, matches then includes then outcome."""
    resource_type = request.resource_type
    self_params = list(request.link_params)
    if request.count_given or request.offset:
        self_params.append(("_count", str(request.count)))
    if request.offset:
        self_params.append((OFFSET_PARAM, str(request.offset)))
    links = [{"relation": "self", "url": _url(fhir_base, resource_type, self_params)}]
    if not request.summary_count and request.count > 0:
        if request.offset + request.count < result.total:
            links.append(
                {
                    "relation": "next",
                    "url": _page_url(next_base, request, request.offset + request.count),
                }
            )
        if request.offset > 0:
            links.append(
                {
                    "relation": "previous",
                    "url": _page_url(next_base, request, max(0, request.offset - request.count)),
                }
            )
    entries: list[JsonObject] = [
        _entry(fhir_base, resource, "match") for resource in result.page
    ] + [_entry(fhir_base, resource, "include") for resource in result.included]
    if request.notes:
        entries.append(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": operation_outcome(
                    [issue("warning", "not-supported", note) for note in request.notes]
                ),
                "search": {"mode": "outcome"},
            }
        )
    bundle: JsonObject = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": _now()},
        "type": "searchset",
        "total": result.total,
        "link": links,
    }
    if entries:
        bundle["entry"] = entries
    return bundle


# --- parameters -------------------------------------------------------------------------------


def _apply_param(
    request: SearchRequest, definition: SearchParamDef, name: str, modifier: str, value: str
) -> None:
    if definition.name == "_id":
        _no_modifier(name, modifier)
        ids = frozenset(_split(value, ","))
        for item in ids:
            if not ID_PATTERN.match(item):
                raise FhirError(
                    400, "invalid", f"_id: expected ids of 1-64 of A-Z a-z 0-9 - ., got {item!r}"
                )
        request.ids = ids if request.ids is None else request.ids & ids
    elif definition.kind == "reference":
        _apply_reference(request, definition, name, modifier, value)
    elif definition.kind == "token":
        _no_modifier(name, modifier)
        request.predicates.append(_token_predicate(definition, name, value))
    else:
        _no_modifier(name, modifier)
        request.predicates.append(_date_predicate(definition, name, value))


def _no_modifier(name: str, modifier: str) -> None:
    if modifier:
        raise FhirError(
            400,
            "not-supported",
            f"{name}:{modifier}: the modifier ':{modifier}' is not supported on {name}",
        )


def _apply_reference(
    request: SearchRequest, definition: SearchParamDef, name: str, modifier: str, value: str
) -> None:
    default_type = definition.target
    if modifier:
        if not modifier[:1].isupper():
            _no_modifier(name, modifier)
        default_type = modifier
    keys: set[tuple[str, str]] = set()
    for item in _split(value, ","):
        key = reference_key(item) if "/" in item else None
        if key is None and ID_PATTERN.match(item) and default_type is not None:
            key = (default_type, item)
        if key is None:
            raise FhirError(
                400,
                "invalid",
                f"{name}: expected {definition.target or 'Type'}/<id> or <id>, got {item!r}",
            )
        keys.add(key)
    if definition.patient_compartment and all(t == "Patient" for t, _ in keys):
        ids = frozenset(i for _, i in keys)
        request.patient_ids = ids if request.patient_ids is None else request.patient_ids & ids
        return
    paths = definition.paths

    def matches(resource: StoredResource) -> bool:
        return any(key in keys for path in paths for key in references_at(resource.body, path))

    request.predicates.append(matches)


@dataclass(frozen=True, slots=True)
class _Token:
    system: str | None
    """None: any system; "": no system."""
    code: str | None
    """None: any code (`system|`)."""

    def matches(self, value: Any) -> bool:
        if isinstance(value, str):
            return self.code is not None and value == self.code
        if not isinstance(value, dict):
            return False
        if "coding" in value:
            return any(self.matches(coding) for coding in value.get("coding") or [])
        code = value.get("code", value.get("value"))
        system = value.get("system")
        if self.system is not None and (system or "") != self.system:
            return False
        return self.code is None or code == self.code


def _token_predicate(definition: SearchParamDef, name: str, value: str) -> Predicate:
    tokens: list[_Token] = []
    for item in _split(value, ","):
        parts = _split(item, "|")
        if len(parts) == 1:
            tokens.append(_Token(None, parts[0]))
        elif len(parts) == 2 and (parts[0] or parts[1]):
            tokens.append(_Token(parts[0], parts[1] or None))
        else:
            raise FhirError(
                400,
                "invalid",
                f"{name}: expected a token code, system|code, |code or system|, got {item!r}",
            )
    paths = definition.paths

    def matches(resource: StoredResource) -> bool:
        for path in paths:
            for element in values_at(resource.body, path):
                if any(token.matches(element) for token in tokens):
                    return True
        return False

    return matches


def _date_predicate(definition: SearchParamDef, name: str, value: str) -> Predicate:
    criteria: list[DateCriterion] = []
    for item in _split(value, ","):
        try:
            criteria.append(parse_criterion(name, item))
        except ValueError as error:
            raise FhirError(400, "invalid", str(error)) from error
    if definition.name == "_lastUpdated":

        def last_updated(resource: StoredResource) -> bool:
            return any(c.matches(resource.last_updated) for c in criteria)

        return last_updated
    if definition.name == "date":

        def natural(resource: StoredResource) -> bool:
            target = resource.natural_date
            return target is not None and any(c.matches(target) for c in criteria)

        return natural
    paths = definition.paths

    def element(resource: StoredResource) -> bool:
        for path in paths:
            for value in values_at(resource.body, path):
                target = range_of_element(value)
                if target is not None and any(c.matches(target) for c in criteria):
                    return True
        return False

    return element


def _split(value: str, separator: str) -> list[str]:
    r"""Split on `separator` unless escaped with a backslash (`\,` `\|` `\\`)."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in value:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


# --- control parameters ----------------------------------------------------------------------


def _whole_number(name: str, value: str) -> int:
    if not value.isdigit():
        raise FhirError(400, "invalid", f"{name}: expected a whole number 0 or more, got {value!r}")
    return int(value)


def _count(
    request: SearchRequest, spec: TypeSpec, value: str, max_count: int, support_include: bool
) -> None:
    request.count = min(_whole_number("_count", value), max_count)
    request.count_given = True


def _offset(
    request: SearchRequest, spec: TypeSpec, value: str, max_count: int, support_include: bool
) -> None:
    request.offset = _whole_number(OFFSET_PARAM, value)


def _sort_param(
    request: SearchRequest, spec: TypeSpec, value: str, max_count: int, support_include: bool
) -> None:
    keys: list[SortKey] = []
    for item in value.split(","):
        descending = item.startswith("-")
        name = item.removeprefix("-")
        if name == "date" and "date" in spec.param_by_name:
            keys.append(SortKey("date", descending))
        elif name == "_lastUpdated":
            keys.append(SortKey("_lastUpdated", descending))
        else:
            allowed = "date, -date, " if "date" in spec.param_by_name else ""
            raise FhirError(
                400,
                "not-supported",
                f"_sort: expected {allowed}_lastUpdated or -_lastUpdated for "
                f"{spec.resource_type}, got {item!r}",
            )
    request.sort = tuple(keys)


def _include(
    request: SearchRequest, spec: TypeSpec, value: str, max_count: int, support_include: bool
) -> None:
    if not support_include:
        request.notes.append(f"_include={value}: this server does not support _include; ignored")
        return
    parts = value.split(":")
    include = spec.include(":".join(parts[:2])) if len(parts) in (2, 3) else None
    if include is None:
        supported = ", ".join(i.label for i in spec.includes) or "none"
        request.notes.append(
            f"_include={value}: not supported on {spec.resource_type} "
            f"(supported: {supported}); ignored"
        )
        return
    if include not in request.includes:
        request.includes = (*request.includes, include)


def _summary(
    request: SearchRequest, spec: TypeSpec, value: str, max_count: int, support_include: bool
) -> None:
    if value == "count":
        request.summary_count = True
    elif value != "false":
        request.notes.append(f"_summary={value}: only count and false are supported; ignored")


def _format(
    request: SearchRequest, spec: TypeSpec, value: str, max_count: int, support_include: bool
) -> None:
    if value not in _JSON_FORMATS:
        raise FhirError(
            406, "not-supported", f"_format: this server speaks JSON only, got {value!r}"
        )


_CONTROL_HANDLERS: dict[str, Callable[[SearchRequest, TypeSpec, str, int, bool], None]] = {
    "_count": _count,
    OFFSET_PARAM: _offset,
    "_sort": _sort_param,
    "_include": _include,
    "_summary": _summary,
    "_format": _format,
}


# --- execution --------------------------------------------------------------------------------


def _candidates(
    store: ResourceStore,
    spec: TypeSpec,
    ids: frozenset[str] | None,
    patient_ids: frozenset[str] | None,
) -> Sequence[StoredResource]:
    resource_type = spec.resource_type
    if ids is not None:
        found = (store.get(resource_type, i) for i in sorted(ids))
        return [r for r in found if r is not None]
    if patient_ids is not None:
        if len(patient_ids) == 1:
            return store.for_patient(resource_type, next(iter(patient_ids)))
        merged = [r for p in patient_ids for r in store.for_patient(resource_type, p)]
        return sorted(merged, key=lambda r: r.id)
    return store.of_type(resource_type)


def _visible(resource: StoredResource, access: Access) -> bool:
    return (
        access.patient_id is None
        or resource.patient_id is None
        or resource.patient_id == access.patient_id
    )


def _sort(resources: list[StoredResource], keys: tuple[SortKey, ...]) -> None:
    if not keys:
        return

    def key(resource: StoredResource) -> tuple[Any, ...]:
        parts: list[Any] = []
        for sort_key in keys:
            moment = _sort_moment(resource, sort_key.field)
            if moment is None:
                parts.append((1, 0.0))
            else:
                stamp = moment.low.timestamp()
                parts.append((0, -stamp if sort_key.descending else stamp))
        parts.append(resource.id)
        return tuple(parts)

    resources.sort(key=key)


def _sort_moment(resource: StoredResource, sort_field: SortField) -> DateRange | None:
    if sort_field == "date":
        return resource.natural_date
    return resource.last_updated


def _included(
    store: ResourceStore,
    page: Sequence[StoredResource],
    includes: tuple[IncludeDef, ...],
    may_include: Callable[[StoredResource], bool],
) -> list[StoredResource]:
    if not includes:
        return []
    seen = {(r.resource_type, r.id) for r in page}
    included: list[StoredResource] = []
    for resource in page:
        for include in includes:
            for path in include.paths:
                for key in references_at(resource.body, path):
                    if key in seen:
                        continue
                    seen.add(key)
                    target = store.get(*key)
                    if target is not None and may_include(target):
                        included.append(target)
    return included


# --- links ------------------------------------------------------------------------------------


def _entry(fhir_base: str, resource: StoredResource, mode: str) -> JsonObject:
    return {
        "fullUrl": f"{fhir_base}/{resource.resource_type}/{resource.id}",
        "resource": resource.body,
        "search": {"mode": mode},
    }


def _url(base: str, resource_type: str, params: list[tuple[str, str]]) -> str:
    query = urlencode(params)
    return f"{base}/{resource_type}" + (f"?{query}" if query else "")


def _page_url(base: str, request: SearchRequest, offset: int) -> str:
    params = [*request.link_params, ("_count", str(request.count)), (OFFSET_PARAM, str(offset))]
    return _url(base, request.resource_type, params)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
