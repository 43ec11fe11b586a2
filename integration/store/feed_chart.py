"""Resources the HL7 v2 feeds wrote, joined to the chart read over FHIR.

The EHR's Patient and the feed's Patient are matched by identifier (system and value:
the identifier-authority table in mappings/hl7v2/ maps an HL7 assigning authority to the
EHR's MRN system). The feed's resources for that patient then join the chart, so the
evidence assembly sees a pathology report that came by ORU like one read over FHIR.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from integration.evidence.chart import ChartData
from integration.evidence.fhir_json import parse_resources
from integration.store.fhir_store import FhirStore

Identifier = tuple[str | None, str]


class FeedCharts:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def _patients(self, store: FhirStore, identifiers: Iterable[Identifier]) -> set[str]:
        found: set[str] = set()
        for system, value in identifiers:
            if system and value:  # an identifier without a system can't be matched safely
                for patient_id in store.find_patients(system, value):
                    found |= store.linked_patients(patient_id)
        return found

    def resources_for(self, identifiers: Iterable[Identifier]) -> list[dict[str, Any]]:
        """The feed's resources for the patient with these identifiers (its Patient left out)."""
        with self.sessions() as session:
            store = FhirStore(session)
            out: list[dict[str, Any]] = []
            for patient_id in sorted(self._patients(store, identifiers)):
                out.extend(
                    r for r in store.compartment(patient_id) if r.get("resourceType") != "Patient"
                )
            return out

    def resource(
        self, identifiers: Iterable[Identifier], type_name: str, resource_id: str
    ) -> dict[str, Any] | None:
        """One feed resource, only if it belongs to this patient (or is an Organization it cites)."""
        for resource in self.resources_for(identifiers):
            if resource.get("resourceType") == type_name and resource.get("id") == resource_id:
                return resource
        return None


def patient_identifiers(chart: ChartData) -> list[Identifier]:
    patient = chart.resolve(f"Patient/{chart.patient_id}")
    if patient is None:
        return []
    return [(i.system, i.value) for i in getattr(patient, "identifier", None) or [] if i.value]


def add_feed_resources(chart: ChartData, feed: FeedCharts) -> int:
    """Join the feed's resources for the chart's patient; returns how many were added."""
    raws = feed.resources_for(patient_identifiers(chart))
    if not raws:
        return 0
    models, problems = parse_resources(raws)
    chart.extend(models)
    chart.problems.extend(problems)
    return len(models)
