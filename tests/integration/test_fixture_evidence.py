"""Evidence of every fixture chart, read over real HTTP from the sandbox EHR:
equal to its golden file (UPDATE_GOLDENS=1 rewrites them) and true to its hand-written facts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date
from typing import Any

import jsonschema
import pytest

from integration.fhir.chart_evidence import chart_evidence
from integration.fhir.client import FhirClient
from integration.mapping.evidence_maps import EvidenceMaps, load_evidence_maps
from integration.paths import profiles_dir
from tests.support.fixture_facts import FixtureChart, check_facts, fixture_charts
from tests.support.servers import Sandbox, start_fixture_sandbox

CHARTS = fixture_charts()
SCHEMA = json.loads((profiles_dir() / "clinical-evidence.schema.json").read_text())


@pytest.fixture(scope="module")
def open_sandbox() -> Iterator[Sandbox]:
    sandbox = start_fixture_sandbox(None, auth_enabled=False)
    with sandbox.server:
        yield sandbox


@pytest.fixture(scope="module")
def maps() -> EvidenceMaps:
    return load_evidence_maps()


def evidence_from(base: str, chart: FixtureChart, maps: EvidenceMaps) -> dict[str, Any]:
    client = FhirClient(base)
    try:
        evidence, _fetch = chart_evidence(
            client, chart.patient_id, maps, date.fromisoformat(chart.facts["as_of"])
        )
    finally:
        client.close()
    return evidence.to_json()


def test_every_fixture_has_facts() -> None:
    assert len(CHARTS) >= 10
    assert {c.name for c in CHARTS} >= {
        "psoriasis-skyrizi",
        "atopic-dermatitis-dupixent",
        "psoriasis-gaps",
        "bcc-mohs",
        "psoriasis-large-chart",
    }


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
def test_evidence_equals_golden_and_facts(
    open_sandbox: Sandbox, maps: EvidenceMaps, chart: FixtureChart
) -> None:
    evidence = evidence_from(open_sandbox.fhir, chart, maps)
    jsonschema.validate(evidence, SCHEMA)
    text = json.dumps(evidence, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_GOLDENS") == "1" or not chart.golden.exists():
        chart.golden.write_text(text, encoding="utf-8")
        if os.environ.get("UPDATE_GOLDENS") != "1":
            pytest.fail(f"{chart.golden} did not exist; written now: review it and commit it")
    assert evidence == json.loads(chart.golden.read_text(encoding="utf-8"))
    assert check_facts(evidence, chart.facts) == []
