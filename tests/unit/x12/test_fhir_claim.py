"""An 837P from a synthetic FHIR R4 Claim bundle (fixtures/fhir/claims/derm-biopsy-claim.json):
the segments equal the golden fixtures/x12/837p/from-fhir-biopsy.x12 (`UPDATE_GOLDENS=1`
rewrites it: review the diff), it reads back without problems to the same model, pyx12 4.0
validates it, and each piece the 837P requires but the Claim lacks is one located error naming
the FHIR path and the X12 element."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from integration.paths import fixtures_dir
from integration.x12.fhir_claim import FhirClaimError, claim_837_from_fhir
from integration.x12.t837_005010x222a1 import (
    Claim837Transaction,
    DrugIdentification,
    Reference,
    read_837p,
    write_837p,
)
from tests.unit.x12.scenarios_837p import (
    CLINIC_PARAMS,
    RECEIVER,
    SUBMITTER,
    clock,
    control_numbers,
)

BUNDLE = fixtures_dir() / "fhir" / "claims" / "derm-biopsy-claim.json"
GOLDEN = fixtures_dir() / "x12" / "837p" / "from-fhir-biopsy.x12"

Json = dict[str, Any]


def bundle() -> Json:
    data: Json = json.loads(BUNDLE.read_text())
    return data


def resource(data: Json, kind: str, ident: str | None = None) -> Json:
    for entry in data["entry"]:
        r: Json = entry["resource"]
        if r["resourceType"] == kind and (ident is None or r["id"] == ident):
            return r
    raise KeyError(kind)


def build(data: Json) -> Claim837Transaction:
    return claim_837_from_fhir(data, submitter=SUBMITTER, receiver=RECEIVER)


def written(model: Claim837Transaction) -> str:
    return write_837p(model, CLINIC_PARAMS, clock, control_numbers(), segment_suffix="\n")


def segments(text: str) -> list[str]:
    return [s.strip() for s in text.split("~") if s.strip()]


def test_the_biopsy_claim_gives_the_golden_837p() -> None:
    text = written(build(bundle()))
    if os.environ.get("UPDATE_GOLDENS") == "1":
        GOLDEN.write_text(text, encoding="ascii", newline="")
    assert GOLDEN.exists(), f"{GOLDEN} is missing: run with UPDATE_GOLDENS=1 and review it"
    assert segments(text) == segments(GOLDEN.read_bytes().decode("ascii"))
    models, problems = read_837p(text)
    assert [p.render() for p in problems] == []
    assert models == [build(bundle())]


def test_the_golden_validates_with_pyx12() -> None:
    pytest.importorskip("pyx12.x12n_document")
    from tests.unit.x12.test_837p_goldens import pyx12_errors

    assert pyx12_errors(GOLDEN.read_bytes().decode("ascii")) == []


def test_what_the_claim_carries() -> None:
    claim = build(bundle()).claims[0]
    assert claim.patient_control_number == "DRCM-FHIR-3001"
    assert claim.total_charge == Decimal("354.00")
    assert claim.prior_authorization == "AUTH-BX-3001"
    assert [d.code for d in claim.diagnoses] == ["L570", "D485"]
    assert [s.pointers for s in claim.services] == [(1, 2), (2,), (1,)]
    assert claim.services[0].procedure.modifiers == ("25",)
    assert claim.services[1].charge == Decimal("180.00")  # unitPrice x quantity
    assert claim.services[2].drug == DrugIdentification(
        ndc="00003029305", quantity=Decimal("1"), unit="ML"
    )
    assert [(a.report_type, a.control_number) for a in claim.attachments] == [("OZ", "ATT-BX-3001")]


def test_a_claim_alone_with_a_resolver() -> None:
    data = bundle()
    by_ref = {
        f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"]
        for e in data["entry"]
    }
    model = claim_837_from_fhir(
        resource(data, "Claim"), resolve=by_ref.get, submitter=SUBMITTER, receiver=RECEIVER
    )
    assert model == build(bundle())


def test_a_replacement_claim_gets_frequency_7_and_ref_f8() -> None:
    data = bundle()
    claim = resource(data, "Claim")
    claim["subType"] = {
        "coding": [{"system": "https://codesystem.x12.org/005010/1325", "code": "7"}]
    }
    claim["related"] = [
        {
            "claim": {"identifier": {"value": "PAYER-ICN-0001"}},
            "relationship": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/ex-relatedclaimrelationship",
                        "code": "prior",
                    }
                ]
            },
        }
    ]
    out = build(data).claims[0]
    assert out.frequency == "7"
    assert out.references == (Reference("G1", "AUTH-BX-3001"), Reference("F8", "PAYER-ICN-0001"))


def test_a_dependent_patient_goes_in_2000c() -> None:
    data = bundle()
    coverage = resource(data, "Coverage")
    coverage["relationship"]["coding"][0]["code"] = "child"
    coverage["subscriber"] = {"reference": "RelatedPerson/parent-3001"}
    data["entry"].append(
        {
            "resource": {
                "resourceType": "RelatedPerson",
                "id": "parent-3001",
                "patient": {"reference": "Patient/pat-3001"},
                "name": [{"family": "Sample", "given": ["Robin"]}],
            }
        }
    )
    model = build(data)
    sub = model.billing_providers[0].subscribers[0]
    assert (sub.info.relationship, sub.subscriber.first, sub.claims) == ("", "ROBIN", ())
    assert sub.patients[0].relationship == "19"
    assert sub.patients[0].patient.entity_code == "QC"
    assert "PAT*19" in written(model)


def _drop(path: str) -> Callable[[Json], None]:
    """Delete `Kind.a.b` (list indexes as numbers) from the bundle's resource of that kind."""
    kind, *keys = path.split(".")

    def mutate(data: Json) -> None:
        node: Any = resource(data, kind) if "/" not in kind else resource(data, *kind.split("/"))
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node[key]
        last = keys[-1]
        del node[int(last) if last.isdigit() else last]

    return mutate


def _set(path: str, value: Any) -> Callable[[Json], None]:
    kind, *keys = path.split(".")

    def mutate(data: Json) -> None:
        node: Any = resource(data, kind) if "/" not in kind else resource(data, *kind.split("/"))
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node[key]
        last = keys[-1]
        node[int(last) if last.isdigit() else last] = value

    return mutate


POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
MISSING: dict[str, tuple[Callable[[Json], None], str]] = {
    "provider without NPI": (
        _set(
            "Organization/org-clinic.identifier",
            [{"system": "urn:oid:2.16.840.1.113883.4.4", "value": "99-0000001"}],
        ),
        "Claim.provider: expected a reference to an Organization with an NPI (2010AA NM109), got an Organization without one",
    ),
    "provider unresolvable": (
        _set("Claim.provider", {"reference": "Organization/nowhere"}),
        "Claim.provider: expected a reference to an Organization with an NPI (2010AA NM109), got 'Organization/nowhere', which does not resolve",
    ),
    "provider without TIN": (
        _set(
            "Organization/org-clinic.identifier",
            [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}],
        ),
        "Claim.provider->Organization.identifier: expected a TIN (system urn:oid:2.16.840.1.113883.4.4) (2010AA REF*EI), got none",
    ),
    "provider without address": (
        _drop("Organization/org-clinic.address"),
        "Claim.provider->Organization.address: expected a postal address with line, city, state and postal code (2010AA N3/N4), got none",
    ),
    "no identifier": (
        _drop("Claim.identifier"),
        "Claim.identifier: expected the claim's identifier (2300 CLM01), got none",
    ),
    "no diagnosis": (
        _drop("Claim.diagnosis"),
        "Claim.diagnosis: expected at least one ICD-10-CM diagnosis (2300 HI01), got none",
    ),
    "diagnosis not ICD-10-CM": (
        _set(
            "Claim.diagnosis.1.diagnosisCodeableConcept.coding.0.system", "http://snomed.info/sct"
        ),
        "Claim.diagnosis[1].diagnosisCodeableConcept: expected an ICD-10-CM coding (system http://hl7.org/fhir/sid/icd-10-cm) (2300 HI), got none",
    ),
    "no member id": (
        _drop("Coverage.subscriberId"),
        "Claim.insurance[0].coverage->Coverage.subscriberId: expected the subscriber's member id (2010BA NM109), got none",
    ),
    "no claim filing indicator": (
        _drop("Coverage.type"),
        "Claim.insurance[0].coverage->Coverage.type: expected a claim filing indicator (system https://codesystem.x12.org/005010/1032, or v3-ActCode HMO, PPO, POS) (2000B SBR09), got none",
    ),
    "no relationship": (
        _drop("Coverage.relationship"),
        "Claim.insurance[0].coverage->Coverage.relationship: expected the patient's relationship to the subscriber (2000B SBR02 / 2000C PAT01), got none",
    ),
    "payer without id": (
        _drop("Organization/org-payer.identifier"),
        "Claim.insurance[0].coverage->Coverage.payor[0]->Organization.identifier: expected a payer identifier of type NIIP (2010BB NM109), got none",
    ),
    "patient without birth date": (
        _drop("Patient.birthDate"),
        "Claim.patient->Patient.birthDate: expected the patient's birth date (2010BA DMG02), got none",
    ),
    "patient without address": (
        _drop("Patient.address"),
        "Claim.patient->Patient.address: expected a postal address with line, city, state and postal code (2010BA N3/N4), got none",
    ),
    "line without code": (
        _set("Claim.item.1.productOrService", {"text": "biopsy"}),
        "Claim.item[1].productOrService: expected a CPT or HCPCS coding (2400 SV101-2), got none",
    ),
    "line without quantity": (
        _drop("Claim.item.1.quantity"),
        "Claim.item[1].quantity: expected the units of service (2400 SV104), got none",
    ),
    "line without charge": (
        _drop("Claim.item.2.net"),
        "Claim.item[2].net: expected the line charge as net or unitPrice (2400 SV102), got none",
    ),
    "line without date": (
        _drop("Claim.item.0.servicedDate"),
        "Claim.item[0].servicedDate: expected the date of service (2400 DTP*472), got none",
    ),
    "line without place of service": (
        _drop("Claim.item.0.locationCodeableConcept"),
        f"Claim.item[0].locationCodeableConcept: expected a place of service code (system {POS}) (2300 CLM05-1 / 2400 SV105), got none",
    ),
    "line without diagnosis sequence": (
        _drop("Claim.item.1.diagnosisSequence"),
        "Claim.item[1].diagnosisSequence: expected at least one diagnosis sequence (2400 SV107), got none",
    ),
    "line pointing nowhere": (
        _set("Claim.item.1.diagnosisSequence", [7]),
        "Claim.item[1].diagnosisSequence: expected a Claim.diagnosis.sequence (2400 SV107), got 7",
    ),
    "NDC not 11 digits": (
        _set("Claim.item.2.detail.0.productOrService.coding.0.code", "0003-0293-05"),
        "Claim.item[2].detail[0].productOrService: expected an 11-digit NDC in 5-4-2 form (2410 LIN03), got '0003-0293-05'",
    ),
    "NDC quantity unit unknown": (
        _set("Claim.item.2.detail.0.quantity", {"value": 1, "code": "tbsp"}),
        "Claim.item[2].detail[0].quantity.code: expected a UCUM unit of mL, mg, g, [iU], [IU], 1, {unit} (2410 CTP05-1), got 'tbsp'",
    ),
    "attachment without report type": (
        _drop("Claim.supportingInfo.0.code"),
        "Claim.supportingInfo[0].code: expected a report type code (system https://codesystem.x12.org/005010/755) (2300 PWK01), got none",
    ),
    "attachment without identifier": (
        _set("Claim.supportingInfo.0.valueReference", {"reference": "DocumentReference/x"}),
        "Claim.supportingInfo[0].valueReference: expected the attachment's identifier (2300 PWK06), got none",
    ),
    "total differs": (
        _set("Claim.total", {"value": 300.0, "currency": "USD"}),
        "Claim.total: expected the sum of the item charges 354.00 (2300 CLM02), got 300.00",
    ),
    "replacement without prior claim": (
        _set(
            "Claim.extension",
            [
                {
                    "url": "https://dermrcm.example/fhir/StructureDefinition/claim-frequency-code",
                    "valueCode": "8",
                }
            ],
        ),
        "Claim.related: expected a prior claim (relationship 'prior') with its payer claim control number for frequency 8 (2300 REF*F8), got none",
    ),
    "frequency unknown": (
        _set(
            "Claim.subType",
            {"coding": [{"system": "https://codesystem.x12.org/005010/1325", "code": "9"}]},
        ),
        "Claim.subType: expected a claim frequency code 1, 6, 7, 8 (2300 CLM05-3), got '9'",
    ),
    "a preauthorization": (
        _set("Claim.use", "preauthorization"),
        "Claim.use: expected 'claim' (an 837P is a claim), got 'preauthorization'",
    ),
    "not professional": (
        _set("Claim.type.coding.0.code", "institutional"),
        "Claim.type: expected 'professional' (837P), got 'institutional'",
    ),
    "no insurance": (
        _drop("Claim.insurance"),
        "Claim.insurance: expected the insurance the claim is sent to (2000B SBR, 2010BB), got none",
    ),
    "no provider": (
        _drop("Claim.provider"),
        "Claim.provider: expected a reference to an Organization with an NPI (2010AA NM109), got none",
    ),
    "provider is a Patient": (
        _set("Claim.provider", {"reference": "Patient/pat-3001"}),
        "Claim.provider: expected a reference to an Organization with an NPI (2010AA NM109), got a Patient",
    ),
    "FHIR invalid: no status": (
        _drop("Claim.status"),
        "Claim.status: expected a value (required by FHIR R4), got none",
    ),
    "FHIR invalid: bad sequence": (
        _set("Claim.item.0.sequence", "first"),
        "Claim.item[0].sequence: expected a valid value, got 'Input should be a valid integer, unable to parse string as an integer'",
    ),
}


@pytest.mark.parametrize("case", sorted(MISSING))
def test_each_missing_piece_is_a_located_error(case: str) -> None:
    mutate, message = MISSING[case]
    data = copy.deepcopy(bundle())
    mutate(data)
    with pytest.raises(FhirClaimError) as caught:
        build(data)
    assert [p.render() for p in caught.value.problems] == [message]
    outcome = caught.value.operation_outcome()
    assert outcome["issue"][0]["expression"] == [message.split(": ", 1)[0]]


def test_a_bundle_without_one_claim() -> None:
    data = bundle()
    data["entry"] = [e for e in data["entry"] if e["resource"]["resourceType"] != "Claim"]
    with pytest.raises(FhirClaimError) as caught:
        build(data)
    assert [p.render() for p in caught.value.problems] == [
        "Bundle.entry: expected one Claim, got 0"
    ]
