"""The FHIR client and evidence assembly against a FHIR server nobody on this project wrote
(Medplum's FHIR engine from npm): the evidence must equal what the sandbox gives.

Medplum numbers versions with random UUIDs, so sources are compared without `/_history/n`.
It answers `_include` with 400 (the client then reads the referenced resources itself)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from integration.fhir.chart_evidence import chart_evidence
from integration.fhir.client import FhirClient
from integration.mapping.evidence_maps import load_evidence_maps
from tests.peers import conftest_medplum
from tests.peers.medplum_peer import MedplumPeer, load_bundle
from tests.support.fixture_facts import FixtureChart, check_facts, fixture_charts

medplum_server = conftest_medplum.medplum_server
pytestmark = pytest.mark.peer
CHARTS = fixture_charts()


def without_history(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: without_history(v) for k, v in node.items()}
    if isinstance(node, list):
        return [without_history(v) for v in node]
    if isinstance(node, str) and "/_history/" in node:
        return node.split("/_history/")[0]
    return node


@pytest.fixture(scope="module")
def loaded(medplum_server: MedplumPeer) -> Iterator[str]:
    medplum_server.reset()
    for chart in CHARTS:
        load_bundle(medplum_server.base_url, json.loads(chart.bundle.read_text(encoding="utf-8")))
    yield medplum_server.base_url
    medplum_server.reset()


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
def test_evidence_from_medplum_equals_the_sandbox_golden(loaded: str, chart: FixtureChart) -> None:
    client = FhirClient(loaded)
    try:
        found, _fetch = chart_evidence(
            client, chart.patient_id, load_evidence_maps(), date.fromisoformat(chart.facts["as_of"])
        )
    finally:
        client.close()
    evidence = found.to_json()
    golden = json.loads(chart.golden.read_text(encoding="utf-8"))
    assert without_history(evidence) == without_history(golden)
    assert check_facts(evidence, chart.facts) == []
