"""A procedure's appeal (Mohs) finds its payer rule from the chart's ServiceRequest, as a
biologic's does from its MedicationRequest: the chart is read over real HTTP from the sandbox EHR
(fixtures bcc-mohs, Medicare Part B, and melanoma-in-situ-mohs, Aetna; synthetic)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from integration.appeals.draft import DraftResult, draft_for_denial
from integration.appeals.factcheck import check_letter
from integration.denials.items import DenialAdjustment
from integration.fhir.client import FhirClient
from integration.mapping.evidence_maps import EvidenceMaps, load_evidence_maps
from tests.support.servers import Fault, FaultyFhir, Sandbox, start_faulty_sandbox
from tests.unit.appeals.support import TODAY, make_denial


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[Sandbox, FaultyFhir]]:
    running, faults = start_faulty_sandbox("http://127.0.0.1:9", auth_enabled=False)
    with running.server:
        yield running, faults


@pytest.fixture(scope="module")
def maps() -> EvidenceMaps:
    return load_evidence_maps()


def mohs_denial(**overrides: Any) -> Any:
    """A CO-50 denial of Mohs (CPT 17311) as the worklist derives it from an 835."""
    values: dict[str, Any] = {
        "procedure": "17311",
        "amount": Decimal("912.40"),
        "adjustments": (
            DenialAdjustment("CO", "50", Decimal("912.40"), None, "medical-necessity"),
        ),
        "origin": "835 file 4 · TRN 1EFT0002 · CLP PCN-MOHS-1 · SVC 17311 · CAS CO-50",
        "patient_control_number": "PCN-MOHS-1",
        "payer_claim_number": "MOHS26330000077",
        "service_date": date(2026, 11, 2),
    }
    values.update(overrides)
    return make_denial(**values)


def draft(base: str, maps: EvidenceMaps, **overrides: Any) -> DraftResult:
    client = FhirClient(base)
    try:
        return draft_for_denial(mohs_denial(**overrides), client, maps, TODAY)
    finally:
        client.close()


def test_a_medicare_mohs_redetermination_cites_the_lcd_found_from_the_service_request(
    sandbox: tuple[Sandbox, FaultyFhir], maps: EvidenceMaps
) -> None:
    running, _ = sandbox
    result = draft(
        running.fhir,
        maps,
        payer_id="medicare-part-b",
        payer_name="Medicare Part B",
        patient_ref="Patient/bcc-mohs-patient",
    )
    assert "ServiceRequest/bcc-mohs-sr-mohs" in result.resources
    assert result.assessment is not None and result.assessment.rule is not None
    assert result.assessment.rule.id == "medicare-part-b-mohs-surgery"
    assert result.assessment.order.source.startswith("ServiceRequest/bcc-mohs-sr-mohs")
    letter = result.letter
    assert letter.template_id == "medicare-redetermination"
    assert letter.extra["rule"] == {"id": "medicare-part-b-mohs-surgery", "version": 1}
    policy = letter.sentence("policy")
    assert policy is not None
    assert "LCD L35494" in policy.text
    assert [s.kind for s in policy.sources] == ["rule"]
    assert policy.sources[0].ref == "medicare-part-b-mohs-surgery v1"
    assert check_letter(letter).ok


def test_a_commercial_mohs_letter_names_the_payers_policy(
    sandbox: tuple[Sandbox, FaultyFhir], maps: EvidenceMaps
) -> None:
    running, _ = sandbox
    result = draft(
        running.fhir,
        maps,
        payer_id="aetna",
        payer_name="Aetna",
        patient_ref="Patient/melanoma-in-situ-mohs-patient",
    )
    assert result.assessment is not None and result.assessment.rule is not None
    assert result.assessment.rule.id == "aetna-mohs-surgery"
    letter = result.letter
    assert letter.template_id == "medical-necessity-procedure"
    policy = letter.sentence("policy")
    assert policy is not None
    assert policy.text.startswith('Your policy "')
    assert [s.kind for s in policy.sources] == ["rule"]
    assert check_letter(letter).ok


def test_a_token_that_may_not_search_orders_still_reads_the_chart(
    sandbox: tuple[Sandbox, FaultyFhir], maps: EvidenceMaps
) -> None:
    """A 403 on the ServiceRequest search (a CDS Hooks token scoped to the evidence types) is
    reported, and the letter is drafted without the procedure's rule rather than not at all."""
    running, faults = sandbox
    faults.faults.append(Fault("/ServiceRequest", status=403))
    try:
        result = draft(
            running.fhir,
            maps,
            payer_id="medicare-part-b",
            payer_name="Medicare Part B",
            patient_ref="Patient/bcc-mohs-patient",
        )
    finally:
        faults.faults.clear()
    assert result.assessment is None
    assert not any(ref.startswith("ServiceRequest/") for ref in result.resources)
    assert ("ServiceRequest", "not read: the token may not search ServiceRequest") in {
        (p.source, p.message) for p in result.evidence.problems
    }
    assert result.letter.sentence("diagnosis") is not None
    assert result.letter.sentence("policy") is None
