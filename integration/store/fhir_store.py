"""FHIR resources written by the feeds: versioned upserts, and a patient's compartment for evidence.

Writes happen inside the caller's transaction (the HL7 ingest commits the message, the
exactly-once key and the resources together). A write whose content equals the current
version creates no new version, so replaying a message changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from integration.store.models import FhirResource, FhirResourceVersion

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


class FhirStore:
    """Read and write feed resources within a SQLAlchemy session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._absent: set[tuple[str, str]] = set()  # not stored when preloaded
        self._created: dict[tuple[str, str], FhirResource] = {}  # rows this store added
        self._loaded: list[FhirResource] = []  # preloaded: kept in the identity map

    def get(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        row = self.session.get(FhirResource, (resource_type, resource_id))
        return json.loads(row.content) if row else None

    def write(
        self,
        body: dict[str, Any],
        mode: str,
        now: datetime,
        message_id: int | None,
        source: str,
    ) -> Written:
        """Upsert one resource. mode: replace | merge (overlay top-level elements) | create."""
        resource_type, resource_id = str(body["resourceType"]), str(body["id"])
        row = self._current(resource_type, resource_id)
        if row is not None:
            current = json.loads(row.content)
            if mode == "create":
                return Written(resource_type, resource_id, row.version_id, False)
            new = (
                {**_strip_meta(current), **_strip_meta(body)}
                if mode == "merge"
                else _strip_meta(body)
            )
            if new == _strip_meta(current):
                return Written(resource_type, resource_id, row.version_id, False)
            version = row.version_id + 1
        else:
            new = _strip_meta(body)
            version = 1
        content = {
            **new,
            "meta": {
                "versionId": str(version),
                "lastUpdated": now.isoformat(timespec="milliseconds"),
                "source": source,
            },
        }
        text = json.dumps(content, ensure_ascii=False, sort_keys=True)
        if row is None:
            row = FhirResource(resource_type=resource_type, id=resource_id)
            self.session.add(row)
            self._created[(resource_type, resource_id)] = row
        row.version_id = version
        row.last_updated = now
        row.patient_id = patient_of(content)
        row.content = text
        row.message_id = message_id
        self.session.add(
            FhirResourceVersion(
                resource_type=resource_type,
                id=resource_id,
                version_id=version,
                last_updated=now,
                content=text,
                message_id=message_id,
            )
        )
        return Written(resource_type, resource_id, version, True)

    def preload(self, keys: Iterable[tuple[str, str]]) -> None:
        """Read the current rows of resources about to be written, in one query."""
        wanted = set(keys)
        if not wanted:
            return
        types = sorted({resource_type for resource_type, _id in wanted})
        ids = sorted({resource_id for _type, resource_id in wanted})
        query = select(FhirResource).where(  # both key columns, so the primary key index is used
            FhirResource.resource_type.in_(types), FhirResource.id.in_(ids)
        )
        with self.session.no_autoflush:
            rows = self.session.scalars(query).all()
        self._loaded.extend(rows)
        self._absent |= wanted - {(row.resource_type, row.id) for row in rows}

    def _current(self, resource_type: str, resource_id: str) -> FhirResource | None:
        """The current row: stored, or added earlier in this session and not flushed yet.

        Looked up without autoflush, so a message's rows reach the database in one flush (when
        the caller's savepoint or transaction ends) rather than one flush per resource; a
        preloaded key needs no query at all.
        """
        key = (resource_type, resource_id)
        if key in self._absent:  # only a row added since the preload can exist
            row = self._created.get(key)
            if row is not None and row not in self.session:  # its savepoint rolled back
                row = None
        else:
            with self.session.no_autoflush:
                row = self.session.get(FhirResource, key)
        if row is None:
            for obj in self.session.new:
                if (
                    isinstance(obj, FhirResource)
                    and obj.resource_type == resource_type
                    and obj.id == resource_id
                ):
                    return obj
        return row

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
