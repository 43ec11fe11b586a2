"""Read a patient's chart over FHIR and assemble its evidence: the one call the app, the CLI
and the benchmarks make."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

from integration.domain.evidence import ClinicalEvidence
from integration.evidence.assemble import assemble_evidence
from integration.evidence.chart import ChartData
from integration.evidence.relevance import Relevance
from integration.fhir.chart_reader import ChartFetch, read_chart
from integration.fhir.client import FhirClient
from integration.mapping.evidence_maps import EvidenceMaps


def chart_evidence(
    client: FhirClient,
    patient_id: str,
    maps: EvidenceMaps,
    as_of: date,
    skip: Iterable[str] = (),
    join: Callable[[ChartData], object] | None = None,
) -> tuple[ClinicalEvidence, ChartFetch]:
    """`join` may add resources from elsewhere (the HL7 feeds) before the evidence is made."""
    fetch = read_chart(client, patient_id, skip=skip, select=Relevance(maps))
    if join is not None:
        join(fetch.chart)
    return assemble_evidence(fetch.chart, maps, as_of), fetch
