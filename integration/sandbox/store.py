"""The sandbox's chart data: FHIR JSON files loaded once, indexed by (type, patient).

Loading rules:

- every `*.json` under the data folder, in path order; a later file wins a duplicate
  `Type/id` (with a warning);
- a Bundle (any type) contributes its entries' resources; `urn:uuid:` and other full URLs are
  mapped to `Type/id` and references inside the Bundle rewritten to match. A resource keeps its
  own id; one without an id takes the uuid of its full URL (or a hash of its content);
- conditional references (`Practitioner?identifier=system|value`, as newer Synthea writes them)
  are resolved against the identifiers of all loaded resources;
- `meta.versionId` is set to "1" and `meta.lastUpdated` to the file's modification time when
  they are absent;
- files that are not FHIR JSON are skipped with a warning, except the companion files that sit
  beside fixture bundles (`*.facts.json`, `*.evidence.json`), which are skipped silently.

Logs carry file names, resource types, ids and counts; never names, birth dates or identifiers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from integration.sandbox.dates import DateRange, parse_date, range_of_element
from integration.sandbox.elements import (
    ID_PATTERN,
    JsonObject,
    reference_key,
    references_at,
    values_at,
)
from integration.sandbox.resource_types import R4_RESOURCE_TYPES
from integration.sandbox.searchparams import spec_for

log = logging.getLogger(__name__)

BUILTIN_PRACTITIONER_ID = "sandbox-dermatologist"
_CONDITIONAL_REFERENCE = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)\?(?P<query>.+)$")
_EPOCH = DateRange(datetime(1970, 1, 1, tzinfo=UTC), datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC))


class SandboxDataError(Exception):
    """The data folder cannot be used at all (missing, not a folder)."""


@dataclass(frozen=True, slots=True)
class StoredResource:
    resource_type: str
    id: str
    body: JsonObject
    patient_id: str | None
    """The patient whose compartment holds this resource; None for shared ones."""
    natural_date: DateRange | None
    last_updated: DateRange

    @property
    def key(self) -> str:
        return f"{self.resource_type}/{self.id}"


class ResourceStore:
    """Read-only after construction, so threads share it without a lock."""

    def __init__(self, resources: Iterable[StoredResource]) -> None:
        by_key: dict[tuple[str, str], StoredResource] = {}
        for resource in resources:
            by_key[(resource.resource_type, resource.id)] = resource
        self._by_key = by_key
        by_type: dict[str, list[StoredResource]] = defaultdict(list)
        by_type_patient: dict[tuple[str, str], list[StoredResource]] = defaultdict(list)
        counts: Counter[str] = Counter()
        for (resource_type, _), resource in sorted(by_key.items()):
            by_type[resource_type].append(resource)
            if resource.patient_id is not None:
                by_type_patient[(resource_type, resource.patient_id)].append(resource)
                counts[resource.patient_id] += 1
        self._by_type: dict[str, tuple[StoredResource, ...]] = {
            key: tuple(value) for key, value in by_type.items()
        }
        self._by_type_patient: dict[tuple[str, str], tuple[StoredResource, ...]] = {
            key: tuple(value) for key, value in by_type_patient.items()
        }
        self._counts_by_patient = counts

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, resource_type: str, resource_id: str) -> StoredResource | None:
        return self._by_key.get((resource_type, resource_id))

    def of_type(self, resource_type: str) -> Sequence[StoredResource]:
        """All resources of a type, sorted by id."""
        return self._by_type.get(resource_type, ())

    def for_patient(self, resource_type: str, patient_id: str) -> Sequence[StoredResource]:
        """The patient's resources of a type, sorted by id."""
        return self._by_type_patient.get((resource_type, patient_id), ())

    def resource_types(self) -> frozenset[str]:
        return frozenset(self._by_type)

    def patients(self) -> Sequence[StoredResource]:
        return self.of_type("Patient")

    def count_for_patient(self, patient_id: str) -> int:
        """Resources in the patient's compartment, the Patient itself included."""
        return self._counts_by_patient[patient_id]

    def counts_by_type_for_patient(self, patient_id: str) -> dict[str, int]:
        return {
            resource_type: len(resources)
            for (resource_type, pid), resources in sorted(self._by_type_patient.items())
            if pid == patient_id and resource_type != "Patient"
        }

    def latest_encounter_id(self, patient_id: str) -> str | None:
        """The patient's Encounter with the latest start, or None."""
        starts = [
            (encounter.natural_date.low, encounter.id)
            for encounter in self.for_patient("Encounter", patient_id)
            if encounter.natural_date is not None
        ]
        return max(starts)[1] if starts else None

    def user_practitioner_id(self) -> str:
        """The sandbox's logged-in user: the first Practitioner by id."""
        practitioners = self.of_type("Practitioner")
        if practitioners:
            return practitioners[0].id
        return BUILTIN_PRACTITIONER_ID


#: files beside fixture bundles that are not FHIR (expected facts, golden evidence)
COMPANION_SUFFIXES = (".facts.json", ".evidence.json")


def load_store(data_dir: Path) -> ResourceStore:
    """Load every FHIR JSON file under `data_dir`; see the module doc for the rules."""
    if not data_dir.exists():
        raise SandboxDataError(
            f"{data_dir}: expected a folder of FHIR JSON files; it does not exist"
        )
    if not data_dir.is_dir():
        raise SandboxDataError(f"{data_dir}: expected a folder of FHIR JSON files; it is a file")
    bodies: dict[tuple[str, str], JsonObject] = {}
    sources: dict[tuple[str, str], Path] = {}
    files = sorted(
        (p for p in data_dir.rglob("*.json") if not p.name.endswith(COMPANION_SUFFIXES)),
        key=lambda p: p.relative_to(data_dir).as_posix(),
    )
    skipped = 0
    for path in files:
        if not path.is_file():
            continue
        shown = Path(path.relative_to(data_dir).as_posix())
        document = _read_json(path, shown)
        if document is None:
            skipped += 1
            continue
        last_updated = _mtime_instant(path)
        resources = _resources_of_document(document, shown)
        if not resources:
            skipped += 1
            continue
        for resource in resources:
            meta = resource.setdefault("meta", {})
            if isinstance(meta, dict):
                meta.setdefault("versionId", "1")
                meta.setdefault("lastUpdated", last_updated)
            key = (resource["resourceType"], resource["id"])
            if key in bodies:
                log.warning(
                    "sandbox data: %s/%s in %s replaces the one from %s",
                    key[0],
                    key[1],
                    shown,
                    sources[key],
                )
            bodies[key] = resource
            sources[key] = shown
    _resolve_conditional_references(bodies)
    if not any(resource_type == "Practitioner" for resource_type, _ in bodies):
        bodies[("Practitioner", BUILTIN_PRACTITIONER_ID)] = _builtin_practitioner()
    stored = _index(bodies)
    log.info(
        "sandbox data: loaded %d resources of %d types for %d patients from %d files "
        "(%d skipped) in %s",
        len(stored),
        len({r.resource_type for r in stored}),
        sum(1 for r in stored if r.resource_type == "Patient"),
        len(files) - skipped,
        skipped,
        data_dir,
    )
    return ResourceStore(stored)


def _read_json(path: Path, shown: Path) -> JsonObject | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        log.warning("sandbox data: %s: cannot read it as UTF-8 text (%s); skipped", shown, error)
        return None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        log.warning(
            "sandbox data: %s: not JSON (line %d column %d: %s); skipped",
            shown,
            error.lineno,
            error.colno,
            error.msg,
        )
        return None
    if not isinstance(document, dict) or document.get("resourceType") not in R4_RESOURCE_TYPES:
        found = document.get("resourceType") if isinstance(document, dict) else type(document)
        log.warning(
            "sandbox data: %s: expected a FHIR R4 resource (a JSON object with a resourceType), "
            "got resourceType %r; skipped",
            shown,
            found,
        )
        return None
    return document


def _resources_of_document(document: JsonObject, path: Path) -> list[JsonObject]:
    if document["resourceType"] == "Bundle":
        return _resources_of_bundle(document, path, "Bundle")
    resource = _with_id(document, None, None, path, "resource")
    return [resource] if resource is not None else []


def _resources_of_bundle(bundle: JsonObject, path: Path, where: str) -> list[JsonObject]:
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        log.warning("sandbox data: %s %s.entry: expected a list; skipped", path, where)
        return []
    resources: list[JsonObject] = []
    urls: dict[str, str] = {}
    for index, entry in enumerate(entries):
        at = f"{where}.entry[{index}]"
        if not isinstance(entry, dict):
            log.warning("sandbox data: %s %s: expected an object; skipped", path, at)
            continue
        resource = entry.get("resource")
        request = entry.get("request") if isinstance(entry.get("request"), dict) else {}
        if resource is None or (request or {}).get("method") == "DELETE":
            continue
        if not isinstance(resource, dict) or resource.get("resourceType") not in R4_RESOURCE_TYPES:
            log.warning(
                "sandbox data: %s %s.resource: expected a FHIR R4 resource; skipped", path, at
            )
            continue
        if resource["resourceType"] == "Bundle":
            resources.extend(_resources_of_bundle(resource, path, f"{at}.resource"))
            continue
        full_url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
        request_url = (request or {}).get("url")
        resource = _with_id(
            resource,
            full_url,
            request_url if isinstance(request_url, str) else None,
            path,
            at,
        )
        if resource is None:
            continue
        if full_url:
            urls[full_url] = f"{resource['resourceType']}/{resource['id']}"
        resources.append(resource)
    if urls:
        for resource in resources:
            _rewrite_references(resource, urls)
    return resources


def _with_id(
    resource: JsonObject, full_url: str | None, request_url: str | None, path: Path, at: str
) -> JsonObject | None:
    """The resource with an id: its own, else one from the full URL or request, else a hash."""
    resource_id = resource.get("id")
    if resource_id is not None:
        if isinstance(resource_id, str) and ID_PATTERN.match(resource_id):
            return resource
        log.warning(
            "sandbox data: %s %s: id expected 1-64 of A-Z a-z 0-9 - ., got %r; skipped",
            path,
            at,
            resource_id,
        )
        return None
    derived: str | None = None
    if full_url and full_url.startswith("urn:uuid:"):
        derived = full_url.removeprefix("urn:uuid:")
    elif full_url and full_url.startswith("urn:oid:"):
        derived = full_url.removeprefix("urn:oid:")
    else:
        for url in (request_url, full_url):
            key = reference_key(url) if url else None
            if key is not None and key[0] == resource["resourceType"]:
                derived = key[1]
                break
    if derived is None or not ID_PATTERN.match(derived):
        canonical = json.dumps(resource, sort_keys=True, separators=(",", ":"))
        derived = hashlib.sha256(canonical.encode()).hexdigest()[:32]
    resource["id"] = derived
    return resource


def _rewrite_references(node: Any, urls: dict[str, str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                replacement = urls.get(value)
                if replacement is not None:
                    node[key] = replacement
            elif isinstance(value, dict | list):
                _rewrite_references(value, urls)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict | list):
                _rewrite_references(item, urls)


def _resolve_conditional_references(bodies: dict[tuple[str, str], JsonObject]) -> None:
    by_identifier: dict[tuple[str, str, str], str] = {}
    for (resource_type, resource_id), body in bodies.items():
        for identifier in values_at(body, "identifier"):
            if isinstance(identifier, dict):
                system = identifier.get("system") or ""
                value = identifier.get("value")
                if isinstance(system, str) and isinstance(value, str):
                    by_identifier.setdefault((resource_type, system, value), resource_id)
    unresolved: Counter[str] = Counter()

    def resolve(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "reference" and isinstance(value, str) and "?" in value:
                    target = _conditional_target(value, by_identifier)
                    if target is None:
                        unresolved[value.split("?", 1)[0]] += 1
                    else:
                        node[key] = target
                elif isinstance(value, dict | list):
                    resolve(value)
        elif isinstance(node, list):
            for item in node:
                resolve(item)

    for body in bodies.values():
        resolve(body)
    for resource_type, count in sorted(unresolved.items()):
        log.warning(
            "sandbox data: %d conditional references to %s match no loaded resource; left as is",
            count,
            resource_type,
        )


def _conditional_target(
    reference: str, by_identifier: dict[tuple[str, str, str], str]
) -> str | None:
    match = _CONDITIONAL_REFERENCE.match(reference)
    if match is None:
        return None
    params = parse_qsl(match.group("query"))
    if len(params) != 1 or params[0][0] != "identifier":
        return None
    system, _, value = params[0][1].rpartition("|")
    resource_id = by_identifier.get((match.group("type"), system, value))
    return f"{match.group('type')}/{resource_id}" if resource_id else None


def _index(bodies: dict[tuple[str, str], JsonObject]) -> list[StoredResource]:
    patient_of: dict[tuple[str, str], str | None] = {}
    for key, body in bodies.items():
        patient_of[key] = _patient_of(key[0], body)
    _link_binaries(bodies, patient_of)
    stored: list[StoredResource] = []
    for (resource_type, resource_id), body in bodies.items():
        spec = spec_for(resource_type)
        natural_date: DateRange | None = None
        for path in spec.date_paths:
            values = values_at(body, path)
            if values:
                natural_date = range_of_element(values[0])
                if natural_date is not None:
                    break
        last_updated = _last_updated(body)
        stored.append(
            StoredResource(
                resource_type=resource_type,
                id=resource_id,
                body=body,
                patient_id=patient_of[(resource_type, resource_id)],
                natural_date=natural_date,
                last_updated=last_updated,
            )
        )
    return stored


def _patient_of(resource_type: str, body: JsonObject) -> str | None:
    if resource_type == "Patient":
        resource_id = body["id"]
        return resource_id if isinstance(resource_id, str) else None
    for path in spec_for(resource_type).patient_paths:
        for target_type, target_id in references_at(body, path):
            if target_type == "Patient":
                return target_id
    return None


def _link_binaries(
    bodies: dict[tuple[str, str], JsonObject], patient_of: dict[tuple[str, str], str | None]
) -> None:
    """A Binary belongs to the patient of its securityContext, or of what attaches it."""
    for (resource_type, resource_id), body in bodies.items():
        if resource_type != "Binary":
            continue
        for target in references_at(body, "securityContext"):
            patient_of[(resource_type, resource_id)] = (
                target[1] if target[0] == "Patient" else patient_of.get(target)
            )
    attachment_paths = {
        "DocumentReference": "content.attachment.url",
        "Media": "content.url",
        "DiagnosticReport": "presentedForm.url",
    }
    for (resource_type, resource_id), body in bodies.items():
        path = attachment_paths.get(resource_type)
        owner = patient_of.get((resource_type, resource_id))
        if path is None or owner is None:
            continue
        for url in values_at(body, path):
            key = reference_key(url) if isinstance(url, str) else None
            if (
                key is not None
                and key[0] == "Binary"
                and key in patient_of
                and patient_of[key] is None
                and not bodies[key].get("securityContext")
            ):
                patient_of[key] = owner


def _last_updated(body: JsonObject) -> DateRange:
    meta = body.get("meta")
    value = meta.get("lastUpdated") if isinstance(meta, dict) else None
    parsed = parse_date(value) if isinstance(value, str) else None
    return parsed if parsed is not None else _EPOCH


def _mtime_instant(path: Path) -> str:
    moment = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def _builtin_practitioner() -> JsonObject:
    return {
        "resourceType": "Practitioner",
        "id": BUILTIN_PRACTITIONER_ID,
        "meta": {"versionId": "1", "lastUpdated": "2024-01-01T00:00:00Z"},
        "active": True,
        "name": [{"use": "official", "family": "Sandbox", "given": ["Dana"], "prefix": ["Dr."]}],
        "qualification": [
            {
                "code": {
                    "coding": [
                        {
                            "system": "http://nucc.org/provider-taxonomy",
                            "code": "207N00000X",
                            "display": "Dermatology Physician",
                        }
                    ]
                }
            }
        ],
    }
