"""Shared helpers for the appeal letter tests: the fixture patients' evidence, denials shaped
like the 835 worklist's, and the payer rule assessment for the biologic."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from integration.denials.items import DenialAdjustment, DenialItem
from integration.domain.evidence import ClinicalEvidence, from_json
from integration.domain.priorauth import Assessment
from integration.paths import fixtures_dir
from integration.priorauth.assess import assess
from integration.priorauth.order import order_from_fhir
from integration.priorauth.references import PaReferences

TODAY = date(2026, 12, 6)


def load_evidence(slug: str) -> ClinicalEvidence:
    path = fixtures_dir() / "patients" / f"{slug}.evidence.json"
    evidence: ClinicalEvidence = from_json(ClinicalEvidence, json.loads(path.read_text()))
    return evidence


def make_denial(**overrides: Any) -> DenialItem:
    """A CO-50 denial of a Skyrizi line (HCPCS J2327) from UnitedHealthcare, as the worklist
    derives it from an 835 (synthetic)."""
    values: dict[str, Any] = {
        "id": 7,
        "source": "835",
        "payer_id": "unitedhealthcare",
        "payer_name": "UnitedHealthcare",
        "category": "medical-necessity",
        "group_code": "CO",
        "reason_code": "50",
        "rarcs": ("N115",),
        "adjustments": (
            DenialAdjustment("CO", "50", Decimal("1250.00"), None, "medical-necessity"),
        ),
        "amount": Decimal("1250.00"),
        "next_step": "appeal",
        "next_step_reason": "medical necessity: appeal with the notes",
        "deadline": date(2027, 5, 25),
        "deadline_basis": "unitedhealthcare-commercial level 1: 180 days (test)",
        "status": "open",
        "queue": "biller",
        "origin": "835 file 3 · TRN 1EFT0001 · CLP PCN-PSO-1 · SVC J2327 · CAS CO-50",
        "remit_date": date(2026, 11, 25),
        "claim_id": 11,
        "patient_ref": "Patient/psoriasis-skyrizi-patient",
        "patient_control_number": "PCN-PSO-1",
        "payer_claim_number": "UHC26330000123",
        "procedure": "J2327",
        "service_date": date(2026, 11, 12),
    }
    values.update(overrides)
    return DenialItem(**values)


def assessment_for(refs: PaReferences, evidence: ClinicalEvidence, order_file: str) -> Assessment:
    order = order_from_fhir(json.loads((fixtures_dir() / "orders" / order_file).read_text()))
    return assess(evidence, order, refs.library, refs.lookups, date(2026, 11, 12))
