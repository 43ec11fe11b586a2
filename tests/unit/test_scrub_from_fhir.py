"""Scrub requests from FHIR (integration/coding/from_fhir.py): the ChargeItems the HL7 DFT^P03
map makes (fixtures/hl7/dft-p03-*.fhir.json, the expected FHIR of those messages) become one
claim per visit, with the chart's diagnoses, coverage and earlier procedures around them."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from integration.coding.from_fhir import (
    requests_from_bundle,
    requests_from_resources,
)
from integration.coding.model import (
    PriorProcedure,
    ScrubRequest,
    request_from_json,
    request_to_json,
)
from integration.paths import fixtures_dir
from integration.x12.fhir_claim import POS_SYSTEM, X12_CLAIM_FILING_SYSTEM
from tests.unit.test_scrub_request_schema import REQUEST_PATH, _schema_paths

HL7 = fixtures_dir() / "hl7"
BIOPSY = HL7 / "dft-p03-biopsy-and-destruction.fhir.json"
MOHS = HL7 / "dft-p03-mohs-with-repair.fhir.json"
CPT = "http://www.ama-assn.org/go/cpt"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"


def resources(path: Path) -> list[dict[str, Any]]:
    messages = json.loads(path.read_text(encoding="utf-8"))["messages"]
    return [copy.deepcopy(r["resource"]) for m in messages for r in m["resources"]]


def of_type(items: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in items if r["resourceType"] == kind]


def summary(request: ScrubRequest) -> list[tuple[str, tuple[str, ...], str, str, tuple[int, ...]]]:
    return [
        (s.procedure.code, s.procedure.modifiers, str(s.quantity), str(s.charge), s.pointers)
        for s in request.claim.services
    ]


def test_the_biopsy_and_destruction_charges_make_one_claim() -> None:
    items = resources(BIOPSY)
    [request] = requests_from_resources(items, place_of_service="11")
    claim = request.claim
    assert claim.patient_control_number == "V250310001"  # the visit number (PV1-19)
    assert claim.facility_code == "11"
    assert [(d.qualifier, d.code) for d in claim.diagnoses] == [
        ("ABK", "D485"),
        ("ABF", "L821"),
        ("ABF", "L570"),
    ]
    # FT1-11 (the line's total) is the charge; the co-payment FT1 is not a line
    assert summary(request) == [
        ("11102", (), "1", "125.00", (1,)),
        ("11103", (), "2", "140.00", (2,)),
        ("17000", ("59",), "1", "110.00", (3,)),
        ("17003", ("59",), "3", "45.00", (3,)),
    ]
    assert claim.total_charge == Decimal("420.00")
    assert {s.service_date.start for s in claim.services if s.service_date} == {date(2025, 3, 10)}
    charge_ids = [f"ChargeItem/{c['id']}" for c in of_type(items, "ChargeItem")]
    assert [request.line_facts[n].evidence for n in (1, 2, 3, 4)] == [(c,) for c in charge_ids]
    # nothing the charges don't say is assumed: no sites, counts, E/M facts, payer or history
    assert all(f.site is None and f.lesion_count is None for f in request.line_facts.values())
    assert request.encounter.separately_identifiable_em is None
    assert request.payer.id == "" and request.history == ()


def test_the_request_round_trips_and_fits_the_request_schema() -> None:
    for path in (BIOPSY, MOHS):
        for request in requests_from_resources(resources(path), place_of_service="11"):
            data = request_to_json(request)
            assert _schema_paths(REQUEST_PATH, data) == []
            assert request_from_json(data) == request


def test_two_visits_of_two_patients_are_two_claims_in_bundle_order() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources(BIOPSY) + resources(MOHS)],
    }
    requests = requests_from_bundle(bundle, place_of_service="11")
    assert [r.claim.patient_control_number for r in requests] == ["V250310001", "V250312001"]
    assert summary(requests[1]) == [
        ("17311", (), "1", "950.00", (1,)),
        ("17312", (), "1", "520.00", (1,)),
        ("13132", ("51",), "1", "610.00", (1,)),
    ]
    assert [d.code for d in requests[1].claim.diagnoses] == ["C44311"]


def _chart_around_biopsy() -> list[dict[str, Any]]:
    """The DFT resources with the chart an EHR would also have: ranked encounter diagnoses, a
    Location with its place of service, the Medicare Coverage, and Procedures before and on the
    day (the same-day one duplicates a charge and must not double it)."""
    items = resources(BIOPSY)
    [patient] = of_type(items, "Patient")
    [encounter] = of_type(items, "Encounter")
    subject = {"reference": f"Patient/{patient['id']}"}
    encounter["diagnosis"] = [
        {"condition": {"reference": "Condition/ak"}, "rank": 2},
        {"condition": {"reference": "Condition/neoplasm"}, "rank": 1},
    ]
    encounter["location"] = [{"location": {"reference": "Location/opd"}}]
    payer_system = "http://terminology.hl7.org/CodeSystem/v2-0203"
    return [
        *items,
        {
            "resourceType": "Condition",
            "id": "ak",
            "subject": subject,
            "code": {"coding": [{"system": ICD, "code": "L57.0"}]},
        },
        {
            "resourceType": "Condition",
            "id": "neoplasm",
            "subject": subject,
            "code": {"coding": [{"system": ICD, "code": "D48.5"}]},
        },
        {
            "resourceType": "Condition",
            "id": "itch",
            "subject": subject,
            "encounter": {"reference": f"Encounter/{encounter['id']}"},
            "code": {"coding": [{"system": ICD, "code": "L29.8"}]},
        },
        {
            "resourceType": "Location",
            "id": "opd",
            "type": [{"coding": [{"system": POS_SYSTEM, "code": "22"}]}],
        },
        {
            "resourceType": "Organization",
            "id": "medicare",
            "name": "Sandbox Medicare",
            "identifier": [
                {"type": {"coding": [{"system": payer_system, "code": "NIIP"}]}, "value": "MCR01"}
            ],
        },
        {
            "resourceType": "Coverage",
            "id": "old",
            "status": "active",
            "beneficiary": subject,
            "period": {"start": "2010-01-01", "end": "2020-12-31"},
            "payor": [{"display": "Expired Plan"}],
        },
        {
            "resourceType": "Coverage",
            "id": "cov",
            "status": "active",
            "beneficiary": subject,
            "period": {"start": "2023-01-01"},
            "type": {"coding": [{"system": X12_CLAIM_FILING_SYSTEM, "code": "MB"}]},
            "payor": [{"reference": "Organization/medicare"}],
        },
        {
            "resourceType": "Procedure",
            "id": "excision-feb",
            "status": "completed",
            "subject": subject,
            "code": {"coding": [{"system": CPT, "code": "11602"}]},
            "performedDateTime": "2025-02-20T10:00:00-05:00",
        },
        {
            "resourceType": "Procedure",
            "id": "planned",
            "status": "preparation",
            "subject": subject,
            "code": {"coding": [{"system": CPT, "code": "17311"}]},
            "performedDateTime": "2025-02-21",
        },
        {
            "resourceType": "Procedure",
            "id": "biopsy-today",
            "status": "completed",
            "subject": subject,
            "encounter": {"reference": f"Encounter/{encounter['id']}"},
            "code": {"coding": [{"system": CPT, "code": "11102"}]},
            "performedDateTime": "2025-03-10T09:30:00-04:00",
        },
    ]


def test_the_chart_gives_diagnoses_place_payer_and_history() -> None:
    [request] = requests_from_resources(_chart_around_biopsy())
    claim = request.claim
    # encounter diagnoses by rank, then the encounter's other Conditions, then line reasons
    assert [d.code for d in claim.diagnoses] == ["D485", "L570", "L298", "L821"]
    assert [s.pointers for s in claim.services] == [(1,), (4,), (2,), (2,)]
    assert claim.facility_code == "22"  # the Location's CMS place of service beats the default
    assert (request.payer.id, request.payer.name, request.payer.claim_filing) == (
        "MCR01",
        "Sandbox Medicare",
        "MB",
    )
    assert request.payer.is_medicare
    assert request.history == (
        PriorProcedure(
            service_date=date(2025, 2, 20), code="11602", reference="Procedure/excision-feb"
        ),
    )
    assert len(claim.services) == 4  # the same-day Procedure does not add a line


def test_a_visit_documented_only_by_procedures_is_billed_at_the_practice_fees() -> None:
    items = [r for r in _chart_around_biopsy() if r["resourceType"] != "ChargeItem"]
    fees = {"11102": Decimal("130.00")}
    [request] = requests_from_resources(items, fees=fees)
    assert summary(request) == [("11102", (), "1", "130.00", (1,))]
    assert request.line_facts[1].evidence == ("Procedure/biopsy-today",)
    assert [h.code for h in request.history] == ["11602"]
    with pytest.raises(ValueError, match=r"^Procedure/biopsy-today: expected the line's charge"):
        requests_from_resources(items, fees={})


def _first_charge(items: list[dict[str, Any]]) -> dict[str, Any]:
    return of_type(items, "ChargeItem")[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c.update(code={"coding": [{"system": "urn:cdm", "code": "DERMBX1"}]}),
            r"ChargeItem/c6939337a83e77477dac28d75c8fd2a3\.code: expected a CPT or HCPCS coding",
        ),
        (
            lambda c: c.update(priceOverride={"value": -40.0, "currency": "USD"}),
            r"\.priceOverride\.value: expected a charge >= 0, got -40\.00? \(a credit",
        ),
        (
            lambda c: c.pop("occurrenceDateTime"),
            r"\.occurrence\[x\]: expected the date of service, got none",
        ),
        (
            lambda c: c.update(quantity={"value": 0}),
            r"\.quantity\.value: expected a number of units > 0, got 0",
        ),
    ],
)
def test_a_charge_that_cannot_be_a_claim_line_is_refused_by_name(change: Any, message: str) -> None:
    items = resources(BIOPSY)
    change(_first_charge(items))
    with pytest.raises(ValueError, match=message):
        requests_from_resources(items, place_of_service="11")


def test_only_billable_charges_are_claimed() -> None:
    items = resources(BIOPSY)
    _first_charge(items)["status"] = "entered-in-error"
    [request] = requests_from_resources(items, place_of_service="11")
    assert [s.procedure.code for s in request.claim.services] == ["11103", "17000", "17003"]
    assert [s.line_number for s in request.claim.services] == [1, 2, 3]


def test_no_place_of_service_and_no_diagnosis_are_refused_never_guessed() -> None:
    items = resources(BIOPSY)
    with pytest.raises(ValueError, match=r"^Encounter/\w+: expected a place of service"):
        requests_from_resources(items)
    for charge in of_type(items, "ChargeItem"):
        charge.pop("reason")
    with pytest.raises(ValueError, match=r"expected an ICD-10-CM diagnosis"):
        requests_from_resources(items, place_of_service="11")


def test_a_bundle_is_required() -> None:
    with pytest.raises(ValueError, match=r"^\$\.resourceType: expected 'Bundle', got 'Patient'"):
        requests_from_bundle({"resourceType": "Patient"})
    with pytest.raises(ValueError, match=r"^\$\.entry\[0\]\.resource: expected a FHIR resource"):
        requests_from_bundle({"resourceType": "Bundle", "entry": [{"fullUrl": "x"}]})
