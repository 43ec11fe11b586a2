"""A PA denial's letter is drafted from its PA case (the sandbox EHR over real HTTP): the
denied order names the drug and the payer rule the case was decided on, even when the chart's
newest order is another drug, and the payer's reason and PA case id become sourced facts. The
fixtures are synthetic (fixtures/patients/psoriasis-skyrizi, fixtures/orders/tremfya.json)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import pytest

from integration.appeals.draft import DraftResult, draft_for_denial, pa_case_facts
from integration.appeals.factcheck import check_letter
from integration.fhir.client import FhirClient
from integration.mapping.evidence_maps import load_evidence_maps
from integration.paths import fixtures_dir
from integration.priorauth.assess import assess
from integration.priorauth.order import order_from_fhir
from integration.priorauth.references import PaReferences, load_pa_references
from integration.store.models import PaCase
from tests.support.servers import Sandbox, start_fixture_sandbox
from tests.unit.appeals.support import TODAY, load_evidence, make_denial

CASE_ID = "5a1e0000-0000-4000-8000-000000000007"
REASON = "Step therapy with a preferred biologic is not documented"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    running = start_fixture_sandbox(None, auth_enabled=False)
    with running.server:
        yield running


@pytest.fixture(scope="module")
def refs() -> PaReferences:
    return load_pa_references()


def _tremfya_case(refs: PaReferences) -> PaCase:
    """A UnitedHealthcare Tremfya case the payer denied (as `pa_case` keeps it)."""
    order = json.loads((fixtures_dir() / "orders" / "tremfya.json").read_text())
    decided = assess(
        load_evidence("psoriasis-skyrizi"),
        order_from_fhir(order),
        refs.library,
        refs.lookups,
        date(2026, 11, 12),
        payer_id="unitedhealthcare",
    )
    assert decided.rule is not None
    return PaCase(
        id=CASE_ID,
        order_json=json.dumps(order),
        rule_id=decided.rule.id,
        rule_version=decided.rule.version,
        auth_number=None,
        approved_from=None,
        approved_to=None,
        decision_reason=REASON,
        payer_reference="PA-UHC-0042",
        assessment_json=json.dumps(decided.to_json()),
    )


def _draft(sandbox: Sandbox, refs: PaReferences, row: PaCase | None) -> DraftResult:
    denial = make_denial(
        source="pa",
        group_code="PA",
        reason_code="DENY",
        rarcs=(),
        adjustments=(),
        procedure=None,
        claim_id=None,
        payer_claim_number=None,
        patient_control_number=None,
        pa_case_id=CASE_ID,
        patient_ref="Patient/psoriasis-skyrizi-patient",
        origin=f"PA case {CASE_ID} · payer reference PA-UHC-0042",
    )
    client = FhirClient(sandbox.fhir)
    try:
        return draft_for_denial(
            denial,
            client,
            load_evidence_maps(),
            TODAY,
            refs=refs,
            pa_case=pa_case_facts(row) if row is not None else None,
        )
    finally:
        client.close()


def test_pa_denial_letter_names_the_denied_drug_and_its_rule(
    sandbox: Sandbox, refs: PaReferences
) -> None:
    row = _tremfya_case(refs)

    chart_only = _draft(sandbox, refs, None)
    result = _draft(sandbox, refs, row)

    # without the case the chart's newest order (Skyrizi) would be argued
    assert "Skyrizi" in chart_only.letter.text()
    text = result.letter.text()
    assert "Tremfya" in text and "Skyrizi (risankizumab" not in text
    assert result.assessment is not None and result.assessment.rule is not None
    assert result.assessment.rule.id == row.rule_id
    assert result.letter.extra["rule"]["id"] == row.rule_id
    # the payer's reason and PA case id are facts sourced to the case (usable, checkable)
    pa_facts = {f.label: f for f in result.letter.evidence if f.source.ref.startswith("PA case")}
    assert pa_facts["payer's reason"].value == REASON
    assert pa_facts["payer's PA case id"].value == "PA-UHC-0042"
    assert check_letter(result.letter).ok
