"""FHIR resources written by the feeds: versioned upserts, and a patient's compartment for evidence.

Writes (`ResourceWriter`) happen inside the caller's transaction (the HL7 ingest commits the
message, the exactly-once key and the resources together). A write whose content equals the current
version creates no new version, so replaying a message changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from integration.store.models import FhirResource, FhirResourceVersion, table_of

# Where each resource type points at its patient (the Patient compartment, simplified).
_PATIENT_REFS = ("subject", "patient", "beneficiary")


def patient_of(content: dict[str, Any]) -> str | None:
    """The id of the Patient a resource belongs to, if any."""
    if content.get("resourceType") == "Patient":
        return str(content["id"])
    for key in _PATIENT_REFS:
        ref = content.get(key)
        if isinstance(ref, dict):
            reference = str(ref.get("reference") or "")
            if reference.startswith("Patient/"):
                return reference.split("/", 1)[1]
    for participant in content.get("participant") or []:  # Appointment
        reference = str((participant.get("actor") or {}).get("reference") or "")
        if reference.startswith("Patient/"):
            return reference.split("/", 1)[1]
    return None


def _strip_meta(content: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in content.items() if k != "meta"}


@dataclass(frozen=True, slots=True)
class Written:
    resource_type: str
    id: str
    version_id: int
    changed: bool


_RESOURCE = table_of(FhirResource)
_VERSION = table_of(FhirResourceVersion)
# Built once: a statement made per call costs more than running it (SQLAlchemy's cache key).
_LOAD = select(
    _RESOURCE.c.resource_type, _RESOURCE.c.id, _RESOURCE.c.version_id, _RESOURCE.c.content
).where(
    # both key columns, so the primary key index is used
    _RESOURCE.c.resource_type.in_(bindparam("types", expanding=True)),
    _RESOURCE.c.id.in_(bindparam("ids", expanding=True)),
)
_INSERT = insert(_RESOURCE)
_UPDATE = update(_RESOURCE).where(  # SET takes the columns named in the rows; WHERE the b_ keys
    _RESOURCE.c.resource_type == bindparam("b_type"), _RESOURCE.c.id == bindparam("b_id")
)
_INSERT_VERSION = insert(_VERSION)


class ResourceWriter:
    """Versioned upserts for a group of messages, sent as one statement per table.

    `load` reads the current rows of the resources about to be written (one SELECT),
    `write` works out each new version in memory (a resource written twice in the group
    gets two versions), and `flush` sends the INSERTs and UPDATEs with `executemany`. Runs on
    the caller's connection and transaction.
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._current: dict[tuple[str, str], tuple[int, dict[str, Any]] | None] = {}
        self._stored: set[tuple[str, str]] = set()  # keys with a row in the database
        self._rows: dict[tuple[str, str], dict[str, Any]] = {}  # final row per changed key
        self._versions: list[dict[str, Any]] = []

    def load(self, keys: Iterable[tuple[str, str]]) -> None:
        wanted = set(keys) - self._current.keys()
        if not wanted:
            return
        types = sorted({resource_type for resource_type, _id in wanted})
        ids = sorted({resource_id for _type, resource_id in wanted})
        query = _LOAD, {"types": types, "ids": ids}
        for resource_type, resource_id, version_id, content in self.connection.execute(*query):
            key = (resource_type, resource_id)
            if key in wanted:
                self._current[key] = (version_id, _strip_meta(json.loads(content)))
                self._stored.add(key)
        for key in wanted - self._current.keys():
            self._current[key] = None

    def write(
        self,
        body: dict[str, Any],
        mode: str,
        now: datetime,
        message_id: int | None,
        source: str,
    ) -> Written:
        """One resource. mode: replace | merge (overlay top-level elements) | create."""
        resource_type, resource_id = str(body["resourceType"]), str(body["id"])
        key = (resource_type, resource_id)
        if key not in self._current:
            self.load([key])
        current = self._current[key]
        if current is not None:
            version, old = current
            if mode == "create":
                return Written(resource_type, resource_id, version, False)
            new = {**old, **_strip_meta(body)} if mode == "merge" else _strip_meta(body)
            if new == old:
                return Written(resource_type, resource_id, version, False)
            version += 1
        else:
            new = _strip_meta(body)
            version = 1
        self._current[key] = (version, new)
        content = {
            **new,
            "meta": {
                "versionId": str(version),
                "lastUpdated": now.isoformat(timespec="milliseconds"),
                "source": source,
            },
        }
        text = json.dumps(content, ensure_ascii=False, sort_keys=True)
        self._rows[key] = {
            "b_type": resource_type,
            "b_id": resource_id,
            "version_id": version,
            "last_updated": now,
            "patient_id": patient_of(content),
            "content": text,
            "message_id": message_id,
        }
        self._versions.append(
            {
                "resource_type": resource_type,
                "id": resource_id,
                "version_id": version,
                "last_updated": now,
                "content": text,
                "message_id": message_id,
            }
        )
        return Written(resource_type, resource_id, version, True)

    def flush(self) -> None:
        """Send what `write` decided: new rows, updated rows, and every new version."""
        inserts, updates = [], []
        for key, row in self._rows.items():
            if key in self._stored:
                updates.append(row)
            else:
                inserts.append(
                    {
                        "resource_type": row["b_type"],
                        "id": row["b_id"],
                        **{k: v for k, v in row.items() if not k.startswith("b_")},
                    }
                )
                self._stored.add(key)
        if inserts:
            self.connection.execute(_INSERT, inserts)
        if updates:
            self.connection.execute(_UPDATE, updates)
        if self._versions:
            self.connection.execute(_INSERT_VERSION, self._versions)
        self._rows = {}
        self._versions = []


class FhirStore:
    """Read feed resources within a SQLAlchemy session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        row = self.session.get(FhirResource, (resource_type, resource_id))
        return json.loads(row.content) if row else None

    def linked_patients(self, patient_id: str) -> set[str]:
        """The patient and every patient merged into it (Patient.link replaced-by, followed)."""
        found = {patient_id}
        frontier = [patient_id]
        rows = self.session.scalars(
            select(FhirResource).where(FhirResource.resource_type == "Patient")
        ).all()
        replaced_by: dict[str, list[str]] = {}
        for row in rows:
            for link in json.loads(row.content).get("link") or []:
                other = str((link.get("other") or {}).get("reference") or "")
                if link.get("type") == "replaced-by" and other.startswith("Patient/"):
                    replaced_by.setdefault(other.split("/", 1)[1], []).append(row.id)
        while frontier:
            for old in replaced_by.get(frontier.pop(), []):
                if old not in found:
                    found.add(old)
                    frontier.append(old)
        return found

    def compartment(self, patient_id: str) -> list[dict[str, Any]]:
        """A patient's resources (merged patients included) and the Organizations they cite."""
        ids = self.linked_patients(patient_id)
        rows = self.session.scalars(
            select(FhirResource).where(FhirResource.patient_id.in_(ids))
        ).all()
        resources = [json.loads(row.content) for row in rows]
        wanted = set(_references(resources, "Organization")) | set(
            _references(resources, "Practitioner")
        )
        if wanted:
            extra = self.session.scalars(
                select(FhirResource).where(
                    or_(
                        *[
                            (FhirResource.resource_type == t) & (FhirResource.id == i)
                            for t, i in sorted(wanted)
                        ]
                    )
                )
            ).all()
            resources.extend(json.loads(row.content) for row in extra)
        return resources

    def find_patients(self, system: str | None, value: str) -> list[str]:
        """Ids of stored Patients with an identifier of this value (and system, if given)."""
        rows = self.session.scalars(
            select(FhirResource).where(FhirResource.resource_type == "Patient")
        ).all()
        out = []
        for row in rows:
            for identifier in json.loads(row.content).get("identifier") or []:
                if identifier.get("value") == value and (
                    system is None or identifier.get("system") == system
                ):
                    out.append(row.id)
                    break
        return out

    def count(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for resource_type in self.session.scalars(select(FhirResource.resource_type)):
            counts[resource_type] = counts.get(resource_type, 0) + 1
        return counts


def _references(
    resources: Iterable[dict[str, Any]], resource_type: str
) -> Sequence[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    prefix = f"{resource_type}/"

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str) and ref.startswith(prefix):
                out.append((resource_type, ref[len(prefix) :]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for resource in resources:
        walk(resource)
    return out
