"""ORU^R01 -> FHIR (mappings/hl7v2/oru.yaml), read as a dermatologist and a PA coordinator would.

The fixtures are in fixtures/hl7/oru-*.hl7 (synthetic); their goldens are checked by
test_hl7v2_fixtures.py. Here: the facts that matter (diagnosis, margins, scores, units, TB
result, corrections, located errors) and that evidence assembly sees what the map produces.
"""

from __future__ import annotations

import base64
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from integration.evidence.assemble import assemble_evidence
from integration.evidence.chart import ChartData
from integration.evidence.fhir_json import parse_resources
from integration.hl7v2.errors import ErrorCode, Hl7Error
from integration.hl7v2.message import parse_message
from integration.mapping.evidence_maps import EvidenceMaps
from integration.mapping.hl7v2 import Hl7Maps, MappedResource, MappingOptions, map_message
from integration.mapping.hl7v2_transforms import DERM_SEVERITY, load_feed_maps
from integration.paths import fixtures_dir
from tests.support.hl7_messages import fixture_messages, held_after

OPTIONS = MappingOptions(timezone="America/New_York")
AS_OF = date(2025, 3, 15)  # shortly after the last fixture (TB result 2025-03-06)
LOINC = "http://loinc.org"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
UCUM = "http://unitsofmeasure.org"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
EPIC_FLOWSHEET = "urn:oid:1.2.840.114350.1.13.0.1.7.2.707679"


@pytest.fixture(scope="module")
def feed_maps() -> Hl7Maps:
    return load_feed_maps()


def messages(name: str, feed_maps: Hl7Maps) -> list[list[MappedResource]]:
    return fixture_messages(name, feed_maps, OPTIONS)


def map_text(segments: list[str], feed_maps: Hl7Maps) -> list[MappedResource]:
    return map_message(parse_message("\r".join(segments) + "\r"), feed_maps, OPTIONS)


def one(resources: list[MappedResource], type_: str) -> dict[str, Any]:
    found = [r.body for r in resources if r.type == type_]
    assert len(found) == 1, f"{len(found)} {type_}"
    return found[0]


def of_type(resources: list[MappedResource], type_: str) -> list[dict[str, Any]]:
    return [r.body for r in resources if r.type == type_]


def by_code(resources: list[MappedResource], code: str) -> list[dict[str, Any]]:
    return [
        o
        for o in of_type(resources, "Observation")
        if any(c.get("code") == code for c in o["code"]["coding"])
    ]


def chart_of(held: dict[str, dict[str, Any]], *extra: dict[str, Any]) -> ChartData:
    patients = [b["id"] for b in held.values() if b["resourceType"] == "Patient"]
    assert len(patients) == 1
    models, problems = parse_resources([*held.values(), *extra])
    assert problems == []
    return ChartData(patients[0], models, problems)


def problem(patient_id: str, code: str, text: str) -> dict[str, Any]:
    """A synthetic problem-list entry (not from an ORU) so the PA checklist applies."""
    return {
        "resourceType": "Condition",
        "id": f"problem-{code.replace('.', '')}",
        "subject": {"reference": f"Patient/{patient_id}"},
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {
            "coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code}],
            "text": text,
        },
    }


# ---------------------------------------------------------------- surgical pathology: BCC


def test_bcc_report_is_a_final_surgical_pathology_report_with_the_diagnosis_and_margins(
    feed_maps: Hl7Maps,
) -> None:
    [resources] = messages("oru-r01-pathology-bcc", feed_maps)
    report = one(resources, "DiagnosticReport")
    patient = one(resources, "Patient")

    assert report["status"] == "final"
    assert report["category"] == [{"coding": [{"system": V2_0074, "code": "SP"}]}]
    assert {"system": LOINC, "code": "11526-1", "display": "Pathology study"} in report["code"][
        "coding"
    ]
    assert report["conclusion"] == (
        "Skin, left nasal ala, shave biopsy:\n"
        "- Basal cell carcinoma, nodular type.\n"
        "- Peripheral and deep margins negative."
    )
    # biopsy taken (OBR-7, clinic time zone) and signed out (OBR-22, sent with its offset)
    assert report["effectiveDateTime"] == "2025-02-18T09:45:00-05:00"
    assert report["issued"] == "2025-02-21T16:30:00-05:00"
    assert report["subject"] == {"reference": f"Patient/{patient['id']}"}
    assert report["resultsInterpreter"] == [
        {"identifier": {"value": "P2210"}, "display": "Soren Lindqvist"}
    ]
    assert [i["value"] for i in report["identifier"]] == ["ORD-55120", "SP25-00871"]
    # every OBX line is a result of the report, in order, and exists
    observations = of_type(resources, "Observation")
    assert [r["reference"] for r in report["result"]] == [
        f"Observation/{o['id']}" for o in observations
    ]
    assert len(observations) == 6


def test_bcc_text_lines_keep_their_escapes_site_and_only_their_own_comments(
    feed_maps: Hl7Maps,
) -> None:
    [resources] = messages("oru-r01-pathology-bcc", feed_maps)
    [gross] = by_code(resources, "22634-0")
    # \T\ is '&', \.br\ a line break (FT)
    assert gross["valueString"] == (
        'Received in formalin labeled with the patient\'s name and "left nasal ala" is a shave'
        " of skin & subcutis, 0.6 x 0.5 x 0.1 cm.\nInked, bisected and entirely submitted in"
        " cassette A1."
    )
    diagnosis_lines = by_code(resources, "22637-3")
    assert [o["valueString"] for o in diagnosis_lines] == [
        "Skin, left nasal ala, shave biopsy:",
        "- Basal cell carcinoma, nodular type.",
        "- Peripheral and deep margins negative.",
    ]
    for o in of_type(resources, "Observation"):
        assert o["status"] == "final"
        assert o["bodySite"]["coding"][0]["display"] == "Left nasal ala"  # SPM-8
        assert o["effectiveDateTime"] == "2025-02-18T09:45:00-05:00"  # no OBX-14: OBR-7
    # the sign-out NTE follows the last line only; no other line borrows it
    noted = [o for o in of_type(resources, "Observation") if "note" in o]
    assert noted == [diagnosis_lines[-1]]


def test_an_unknown_patient_is_created_not_overwritten(feed_maps: Hl7Maps) -> None:
    [resources] = messages("oru-r01-pathology-bcc", feed_maps)
    modes = {r.type: r.mode for r in resources}
    assert modes == {
        "Patient": "create",
        "Encounter": "create",
        "DiagnosticReport": "replace",
        "Observation": "replace",
    }
    patient = one(resources, "Patient")
    assert patient["name"] == [{"family": "Fenwick", "given": ["Caspian", "R"]}]
    assert patient["gender"] == "male"
    assert patient["birthDate"] == "1974-09-21"
    assert patient["identifier"][0]["value"] == "MRN700412"
    encounter = one(resources, "Encounter")
    assert encounter["identifier"] == [{"value": "V250218-0311"}]
    assert encounter["period"] == {"start": "2025-02-18T09:15:00-05:00"}


# ---------------------------------------------------------------- melanoma in situ, corrected


def test_melanoma_correction_replaces_the_report_and_the_corrected_line(
    feed_maps: Hl7Maps,
) -> None:
    final, corrected = messages("oru-r01-pathology-melanoma-in-situ", feed_maps)
    first, second = one(final, "DiagnosticReport"), one(corrected, "DiagnosticReport")
    assert first["id"] == second["id"]
    assert (first["status"], second["status"]) == ("final", "corrected")
    assert "Peripheral margins involved by melanoma in situ." in first["conclusion"]
    assert first["conclusion"].startswith("Skin, left upper back")
    assert second["conclusion"].startswith("Skin, right upper back")
    assert second["issued"] == "2025-01-22T09:12:00-05:00"

    [site_before] = [o for o in by_code(final, "22637-3") if "upper back" in o["valueString"]]
    [site_after] = [o for o in by_code(corrected, "22637-3") if "upper back" in o["valueString"]]
    assert site_before["id"] == site_after["id"]  # same OBR-3, OBX-1, OBX-3: the same Observation
    assert (site_before["status"], site_after["status"]) == ("final", "corrected")
    assert site_after["note"][0]["text"].startswith("Corrected report")
    # the lines that did not change stay final and keep their ids
    assert {o["id"] for o in of_type(final, "Observation")} == {
        o["id"] for o in of_type(corrected, "Observation")
    }


def test_the_store_after_the_correction_shows_the_corrected_report(
    feed_maps: Hl7Maps, maps: EvidenceMaps
) -> None:
    held = held_after(*messages("oru-r01-pathology-melanoma-in-situ", feed_maps))
    evidence = assemble_evidence(chart_of(held), maps, date(2025, 2, 1))
    [fact] = evidence.pathology
    assert fact.text.startswith("Skin, right upper back, shave biopsy:")
    assert "Melanoma in situ, lentigo maligna type." in fact.text
    assert "margins involved" in fact.text
    assert fact.date == "2025-01-14"


# ---------------------------------------------------------------- severity scores


def test_severity_scores_carry_our_code_value_unit_and_time(feed_maps: Hl7Maps) -> None:
    [resources] = messages("oru-r01-severity-scores", feed_maps)
    ours = {
        c["code"]: o
        for o in of_type(resources, "Observation")
        for c in o["code"]["coding"]
        if c["system"] == DERM_SEVERITY
    }
    assert set(ours) == {"pasi", "bsa-pct", "dlqi", "easi", "viga-ad"}
    # the EHR's own coding is kept beside ours (flowsheet OID sent in CWE.14)
    assert {"system": EPIC_FLOWSHEET, "code": "3040104370", "display": "PASI TOTAL"} in ours[
        "pasi"
    ]["code"]["coding"]
    assert ours["pasi"]["valueQuantity"] == {"value": 14.2}
    assert ours["bsa-pct"]["valueQuantity"] == {
        "value": 12,
        "unit": "percent",
        "system": UCUM,
        "code": "%",
    }
    assert ours["dlqi"]["valueQuantity"]["value"] == 16
    assert ours["dlqi"]["effectiveDateTime"] == "2025-03-04T09:38:00-05:00"  # OBX-14
    assert ours["dlqi"]["note"] == [{"text": "Patient-completed questionnaire at check-in."}]
    assert ours["easi"]["valueQuantity"] == {"value": 7.8}  # recognised by its display text
    assert ours["viga-ad"]["valueCodeableConcept"]["coding"][0]["code"] == "2"
    for o in ours.values():
        assert o["status"] == "final"
        assert o["performer"][0]["display"] == "Imani Okonkwo-Reyes"


def test_a_malformed_number_is_refused_with_its_location(feed_maps: Hl7Maps) -> None:
    text = (fixtures_dir() / "hl7" / "oru-r01-malformed-nm.hl7").read_text(encoding="utf-8")
    with pytest.raises(Hl7Error) as caught:
        map_message(parse_message(text), feed_maps, OPTIONS)
    assert caught.value.message == "OBX-5 (segment 6): expected a number, got 'abc'"
    assert caught.value.code is ErrorCode.DATA_TYPE
    assert caught.value.where.err_location() == "OBX^6^5^1"


def test_a_value_fhir_refuses_is_a_data_type_error_naming_the_element(feed_maps: Hl7Maps) -> None:
    """OBX-3.1 with a double space passes every HL7 check but is not a FHIR code."""
    text = (fixtures_dir() / "hl7" / "oru-r01-malformed-nm.hl7").read_text(encoding="utf-8")
    text = text.replace("|abc|", "|12|").replace("3040104372^", "30401  04372^")
    with pytest.raises(Hl7Error) as caught:
        map_message(parse_message(text), feed_maps, OPTIONS)
    assert caught.value.code is ErrorCode.DATA_TYPE
    assert caught.value.message == (
        "message: expected a valid FHIR Observation from map oru-observation-results"
        " (observation) at Observation.code.coding[1].code: expected a code (no leading/trailing"
        " whitespace), got '30401  04372'"
    )


# ---------------------------------------------------------------- TB screening


def test_quantiferon_result_value_flags_and_units(feed_maps: Hl7Maps) -> None:
    [resources] = messages("oru-r01-lab-tb-quantiferon", feed_maps)
    assert of_type(resources, "Encounter") == []  # no PV1, no visit invented
    [result] = by_code(resources, "71773-6")
    assert result["valueCodeableConcept"] == {
        "coding": [{"system": "http://snomed.info/sct", "code": "260385009", "display": "Negative"}]
    }
    assert result["interpretation"] == [{"coding": [{"system": INTERPRETATION, "code": "N"}]}]
    [mitogen] = by_code(resources, "71774-4")
    assert mitogen["valueQuantity"] == {
        "comparator": ">",
        "value": 10.0,
        "unit": "IU/mL",
        "system": UCUM,
        "code": "[IU]/mL",
    }
    [nil] = by_code(resources, "71776-9")
    assert nil["referenceRange"] == [{"text": "<=8.00"}]
    assert "note" in nil and all("note" not in o for o in (result, mitogen))
    report = one(resources, "DiagnosticReport")
    assert report["category"][0]["coding"][0]["code"] == "LAB"
    assert "conclusion" not in report  # no text lines: nothing to conclude


# ---------------------------------------------------------------- evidence


def test_evidence_sees_scores_pathology_and_tb_screening_from_oru(
    feed_maps: Hl7Maps, maps: EvidenceMaps
) -> None:
    [bcc] = messages("oru-r01-pathology-bcc", feed_maps)
    [scores] = messages("oru-r01-severity-scores", feed_maps)
    [tb] = messages("oru-r01-lab-tb-quantiferon", feed_maps)
    patient_id = one(scores, "Patient")["id"]
    chart = chart_of(
        held_after(bcc, scores, tb),
        problem(patient_id, "L40.0", "Psoriasis vulgaris"),
        problem(patient_id, "C44.311", "Basal cell carcinoma of skin of nose"),
    )
    evidence = assemble_evidence(chart, maps, AS_OF)

    def source(resources: list[MappedResource], ours: str) -> str:
        [obs] = [
            r
            for r in resources
            if r.type == "Observation"
            and {"system": DERM_SEVERITY, "code": ours} in r.body["code"]["coding"]
        ]
        return obs.reference

    assert evidence.problems == ()
    assert evidence.patient is not None and evidence.patient.name == "Caspian R Fenwick"
    expected = {
        "PASI": (Decimal("14.2"), None, "pasi"),
        "BSA": (Decimal("12"), "%", "bsa-pct"),
        "DLQI": (Decimal("16"), None, "dlqi"),
        "EASI": (Decimal("7.8"), None, "easi"),
        "IGA": (Decimal("2"), None, "viga-ad"),
    }
    for key, (value, unit, ours) in expected.items():
        [measure] = evidence.measures[key]
        assert (measure.value, measure.unit, measure.date) == (value, unit, "2025-03-04"), key
        assert measure.source == source(scores, ours), key

    [pathology] = evidence.pathology
    assert pathology.source == f"DiagnosticReport/{one(bcc, 'DiagnosticReport')['id']}"
    assert pathology.date == "2025-02-18"
    assert "Basal cell carcinoma, nodular type" in pathology.text
    assert "Peripheral and deep margins negative" in pathology.text

    screenings = [s for s in evidence.screenings if s.test == "tuberculosis"]
    [tb_result] = by_code(tb, "71773-6")
    [from_result] = [s for s in screenings if s.source == f"Observation/{tb_result['id']}"]
    assert (from_result.date, from_result.result) == ("2025-03-04", "Negative")
    assert from_result.name == "QuantiFERON-TB Gold Plus Result"
    # what the ORUs supply is no longer asked for; what they can't supply still is
    missing = {m.id for m in evidence.missing}
    assert missing.isdisjoint(
        {
            "psoriasis/pasi-recent",
            "psoriasis/bsa-recent",
            "psoriasis/tb-screening",
            "skin-cancer/pathology",
        }
    ), missing
    assert "psoriasis/topical-trial" in missing


# ---------------------------------------------------------------- groups (interpreter)


ORDER = [
    "MSH|^~\\&|SYNLAB|SYNTHETIC REFERENCE LAB|DERMRCM|SYNTHETIC DERM CLINIC|20250306140512-0500||ORU^R01^ORU_R01|T-1|P|2.5.1",
    "PID|1||MRN700412^^^SYNDERM^MR||Fenwick^Caspian^R||19740921|M",
]


def test_an_obr_without_results_lists_none_of_the_messages_other_results(
    feed_maps: Hl7Maps,
) -> None:
    """$each over segments stays inside the group (here: a cancelled OBR before a resulted one)."""
    resources = map_text(
        [
            *ORDER,
            "OBR|1|ORD-1^DERMRCM|L-1^SYNLAB|QFTP^QuantiFERON-TB Gold Plus, Blood^L|||20250304101500||||||||||||||||||X",
            "NTE|1|L|Specimen not received.",
            "OBR|2|ORD-2^DERMRCM|L-2^SYNLAB|NIL^Nil^L|||20250304101500||||||||||||||||||F",
            "OBX|1|NM|71776-9^Nil^LN||0.04|[IU]/mL^IU/mL^UCUM|||||F",
        ],
        feed_maps,
    )
    cancelled, resulted = of_type(resources, "DiagnosticReport")
    assert cancelled["status"] == "cancelled"
    assert "result" not in cancelled
    assert len(resulted["result"]) == 1
    # the OBR's NTE is not the Observation's
    assert "note" not in one(resources, "Observation")


def test_each_obr_group_keeps_its_own_observations(feed_maps: Hl7Maps) -> None:
    resources = map_text(
        [
            *ORDER,
            "OBR|1|ORD-1^DERMRCM|L-1^SYNLAB|NIL^Nil^L|||20250304101500||||||||||||||||||F",
            "OBX|1|NM|71776-9^Nil^LN||0.04|[IU]/mL^IU/mL^UCUM|||||F",
            "OBR|2|ORD-2^DERMRCM|L-2^SYNLAB|NIL^Nil^L|||20250305101500||||||||||||||||||F",
            "OBX|1|NM|71776-9^Nil^LN||0.06|[IU]/mL^IU/mL^UCUM|||||F",
        ],
        feed_maps,
    )
    observations = {f"Observation/{o['id']}": o for o in of_type(resources, "Observation")}
    first, second = of_type(resources, "DiagnosticReport")
    [one_ref], [two_ref] = first["result"], second["result"]
    assert observations[one_ref["reference"]]["valueQuantity"]["value"] == 0.04
    assert observations[two_ref["reference"]]["valueQuantity"]["value"] == 0.06


# ---------------------------------------------------------------- a report sent as a document


def test_an_embedded_pdf_is_the_reports_presented_form_byte_for_byte(feed_maps: Hl7Maps) -> None:
    """oru-r01-pathology-pdf: OBX 3 is the lab's signed PDF (v2.6: subtype `pdf`, Base64)."""
    text = (fixtures_dir() / "hl7" / "oru-r01-pathology-pdf.hl7").read_text("utf-8")
    sent = next(s for s in text.splitlines() if s.startswith("OBX|3|ED|")).split("|")[5]
    [(resources)] = messages("oru-r01-pathology-pdf", feed_maps)
    report = one(resources, "DiagnosticReport")
    [form] = report["presentedForm"]  # OBX 4 is hex-encoded: not converted, no form
    assert form["contentType"] == "application/pdf"
    assert form["data"] == sent.split("^")[4]
    assert base64.b64decode(form["data"]).startswith(b"%PDF-1.4")
    assert form["title"] == "Pathology study"
    assert form["creation"] == "2025-03-14T09:40:00-05:00"  # OBR-22
    # the document is no Observation, and the text lines still make the conclusion
    assert len(of_type(resources, "Observation")) == len(report["result"]) == 2
    assert report["conclusion"] == "Skin, left cheek, shave biopsy:\n- Actinic keratosis."


def test_an_unencoded_document_is_base64_encoded_and_an_unknown_subtype_is_not_guessed(
    feed_maps: Hl7Maps,
) -> None:
    segments = [
        "MSH|^~\\&|LAB|LAB|DERMRCM|DERMRCM|20250314094510||ORU^R01|ED-A-1|P|2.5.1",
        "PID|1||MRN1^^^SYNDERM^MR||Test^Ed",
        "OBR|1|ORD-1^DERMRCM|F-1^LAB|11526-1^Pathology study^LN|||20250311110000" + "|" * 18 + "F",
        "OBX|1|ED|REPORT^Report^L||LAB^TEXT^HTML^A^<p>final</p>||||||F",
        "OBX|2|ED|REPORT^Report^L||LAB^image^x-dermoscopy^Base64^AAEC||||||F",
    ]
    report = one(map_text(segments, feed_maps), "DiagnosticReport")
    html, image = report["presentedForm"]
    assert (html["contentType"], base64.b64decode(html["data"])) == ("text/html", b"<p>final</p>")
    assert (image["contentType"], image["data"]) == ("application/octet-stream", "AAEC")
