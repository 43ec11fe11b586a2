"""PA need and checklist for every fixture patient x every payer in the library, read over real
HTTP from the sandbox EHR: equal to fixtures/priorauth/<slug>.json (UPDATE_GOLDENS=1 rewrites
them: review the diff before committing).

Each patient is checked with the orders its chart holds (facts `order` entries); a patient
whose chart holds none is checked with every example order in fixtures/orders/. Every criterion
is listed as "status [owner]: evidence": what a coordinator would see.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from markupsafe import escape

from integration.domain.evidence import ClinicalEvidence
from integration.domain.priorauth import Assessment
from integration.fhir.chart_evidence import chart_evidence
from integration.fhir.client import FhirClient
from integration.fhir.pa_check import read_prescriber
from integration.mapping.evidence_maps import EvidenceMaps, load_evidence_maps
from integration.paths import fixtures_dir
from integration.priorauth.assess import assess
from integration.priorauth.order import order_from_fhir
from integration.priorauth.packet import build_packet_bundle, render_packet_html, render_packet_pdf
from integration.priorauth.references import PaReferences, load_pa_references
from tests.support.fixture_facts import FixtureChart, fixture_charts, plain
from tests.support.servers import Sandbox, start_fixture_sandbox

CHARTS = fixture_charts()
GOLDENS = fixtures_dir() / "priorauth"
EXAMPLE_ORDERS = sorted((fixtures_dir() / "orders").glob("*.json"))


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    running = start_fixture_sandbox(None, auth_enabled=False)
    with running.server:
        yield running


@pytest.fixture(scope="module")
def refs() -> PaReferences:
    return load_pa_references()


@pytest.fixture(scope="module")
def maps() -> EvidenceMaps:
    return load_evidence_maps()


def chart_orders(chart: FixtureChart, client: FhirClient) -> list[dict[str, Any]]:
    refs = [e["source"] for e in chart.facts["expect"] if e["kind"] == "order"]
    if refs:
        return [client.read(*ref.split("/")) for ref in refs]
    return [json.loads(p.read_text(encoding="utf-8")) for p in EXAMPLE_ORDERS]


def compact(assessment: Assessment) -> dict[str, Any]:
    out: dict[str, Any] = {"pa_required": assessment.pa_required}
    if assessment.rule is None:
        out["reason"] = assessment.reason
        return out
    out["rule"] = f"{assessment.rule.id} v{assessment.rule.version}"
    out["channel"] = assessment.channel.value if assessment.channel else None
    if not assessment.criteria_known:
        out["criteria"] = "unknown"
        return out
    out["overall"] = assessment.overall.value if assessment.overall else None
    out["criteria"] = {
        c.id: f"{c.status.value}{f' [{c.owner.value}]' if c.owner else ''}: "
        + ", ".join(plain(e) or "" for e in c.evidence)
        for c in assessment.criteria
    }
    return out


def checklists(
    chart: FixtureChart, base: str, refs: PaReferences, maps: EvidenceMaps
) -> tuple[dict[str, Any], ClinicalEvidence, list[Assessment]]:
    day = date.fromisoformat(chart.facts["as_of"])
    client = FhirClient(base)
    try:
        evidence, _fetch = chart_evidence(client, chart.patient_id, maps, day)
        results: dict[str, Any] = {}
        everything = []
        for raw in chart_orders(chart, client):
            order = order_from_fhir(raw)
            prescriber = read_prescriber(client, order, refs)
            per_payer = {}
            for payer_id in sorted(refs.library.payers):
                assessment = assess(
                    evidence,
                    order,
                    refs.library,
                    refs.lookups,
                    day,
                    prescriber=prescriber,
                    payer_id=payer_id,
                )
                per_payer[payer_id] = compact(assessment)
                everything.append(assessment)
            results[order.source] = per_payer
    finally:
        client.close()
    golden = {"patient": chart.facts["patient"], "date": day.isoformat(), "orders": results}
    return golden, evidence, everything


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
def test_checklist_matches_golden(
    chart: FixtureChart, sandbox: Sandbox, refs: PaReferences, maps: EvidenceMaps
) -> None:
    got, evidence, assessments = checklists(chart, sandbox.fhir, refs, maps)
    path = GOLDENS / f"{chart.name}.json"
    if os.environ.get("UPDATE_GOLDENS"):
        path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDENS=1 and review it"
    assert got == json.loads(path.read_text(encoding="utf-8"))
    # no fabricated facts: every piece of evidence cited is a source in the chart's evidence
    known = {plain(s) for s in _sources(evidence.to_json())} | {a.order.source for a in assessments}
    for assessment in assessments:
        for criterion in assessment.criteria:
            for ref in criterion.evidence:
                if ref.startswith(("Practitioner/", "PractitionerRole/")):
                    continue
                assert plain(ref) in known, f"{criterion.id} cites {ref}, not in the evidence"


def _sources(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("source", "payer_source") and isinstance(value, str):
                yield value
            elif key == "sources" and isinstance(value, list):
                yield from value
            else:
                yield from _sources(value)
    elif isinstance(node, list):
        for item in node:
            yield from _sources(item)


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
def test_the_packet_renders_for_every_payer_with_a_rule(
    chart: FixtureChart, sandbox: Sandbox, refs: PaReferences, maps: EvidenceMaps
) -> None:
    """HTML for every (order, payer) a rule decides, and the PDF and Bundle for the first one:
    each shows every criterion with its status, and the Bundle validates as FHIR R4B."""
    _golden, evidence, assessments = checklists(chart, sandbox.fhir, refs, maps)
    decided = [a for a in assessments if a.rule is not None]
    created = datetime(2026, 11, 15, 15, 0, tzinfo=UTC)
    for assessment in decided:
        html = render_packet_html(assessment, evidence, created=created)
        for criterion in assessment.criteria:
            assert str(escape(criterion.text)) in html
    if decided:
        first = decided[0]
        pdf = render_packet_pdf(first, evidence, created=created)
        assert pdf.startswith(b"%PDF")
        bundle = build_packet_bundle(
            first,
            evidence,
            packet_id=f"{chart.name}-1",
            created=created,
            patient_ref=f"Patient/{chart.patient_id}",
            practitioner_ref=None,
        )
        Bundle.model_validate(bundle)


def test_every_payer_and_every_patient_is_covered(refs: PaReferences) -> None:
    assert len(refs.library.payers) >= 5
    assert {p.stem for p in GOLDENS.glob("*.json")} >= {c.name for c in CHARTS}
