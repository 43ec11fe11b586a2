"""DFT, MDM, SIU, ADT^A40 and the ADT coverage relationship -> FHIR, read as a billing /
interface analyst would.

Maps: mappings/hl7v2/dft.yaml, mdm.yaml, siu.yaml, adt-merge.yaml (and adt.yaml for the
cross-message ids). Fixtures: fixtures/hl7/{adt,dft,mdm,siu}-*.hl7 (synthetic); their goldens
are checked by test_hl7v2_fixtures.py. Here: the facts a claim or a work queue depends on
(codes, units, modifiers, diagnoses, statuses, ids that line up across messages) and the
located errors an interface engineer gets back.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest
from fhir.resources.R4B.documentreference import DocumentReference
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from integration.evidence.missing import note_texts
from integration.hl7v2.errors import ErrorCode, Hl7Error
from integration.hl7v2.message import parse_message, split_batch
from integration.mapping.hl7v2 import Hl7Maps, MappedResource, MappingOptions, map_message
from integration.mapping.hl7v2_transforms import load_feed_maps
from integration.paths import fixtures_dir
from integration.store.fhir_store import FhirStore, ResourceWriter
from integration.store.models import Base
from tests.support.hl7_messages import fixture_messages, held_after

OPTIONS = MappingOptions(timezone="America/New_York")
CPT = "http://www.ama-assn.org/go/cpt"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
NPI = "http://hl7.org/fhir/sid/us-npi"
MODIFIER = "http://derm-rcm.org/fhir/StructureDefinition/procedure-modifier"


@pytest.fixture(scope="module")
def feed_maps() -> Hl7Maps:
    return load_feed_maps()


def fixture_text(name: str) -> str:
    return (fixtures_dir() / "hl7" / f"{name}.hl7").read_bytes().decode("utf-8")  # CRs kept


def mapped(name: str, feed_maps: Hl7Maps) -> list[MappedResource]:
    """The single message of fixtures/hl7/<name>.hl7, mapped."""
    (text,) = split_batch(fixture_text(name)).messages
    return map_text(text, feed_maps)


def map_text(text: str, feed_maps: Hl7Maps) -> list[MappedResource]:
    return map_message(parse_message(text), feed_maps, OPTIONS)


def edited(name: str, old: str, new: str) -> str:
    """A fixture with one exact piece of text replaced (it must occur once)."""
    text = fixture_text(name)
    assert text.count(old) == 1, old
    return text.replace(old, new)


def of_type(resources: list[MappedResource], type_: str) -> list[dict[str, Any]]:
    return [r.body for r in resources if r.type == type_]


def one(resources: list[MappedResource], type_: str) -> dict[str, Any]:
    found = of_type(resources, type_)
    assert len(found) == 1, f"{len(found)} {type_}"
    return found[0]


def charge_for(resources: list[MappedResource], cpt: str) -> dict[str, Any]:
    return charge_in(of_type(resources, "ChargeItem"), cpt)


def charge_in(charges: list[dict[str, Any]], cpt: str) -> dict[str, Any]:
    (found,) = [c for c in charges if c["code"]["coding"][0]["code"] == cpt]
    return found


def modifiers(charge: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [
        (c.get("system"), c["code"])
        for ext in charge.get("extension", [])
        if ext["url"] == MODIFIER
        for c in ext["valueCodeableConcept"]["coding"]
    ]


# ---------------------------------------------------------------- DFT^P03


def test_destruction_charge_carries_units_modifier_and_diagnosis(feed_maps: Hl7Maps) -> None:
    charge = charge_for(mapped("dft-p03-biopsy-and-destruction", feed_maps), "17003")
    # Only what the message carries: no descriptor text is added to the CPT code.
    assert charge["code"]["coding"] == [{"system": CPT, "code": "17003"}]
    assert charge["quantity"] == {"value": 3}
    assert modifiers(charge) == [(CPT, "59")]
    assert charge["reason"] == [
        {"coding": [{"system": ICD10CM, "code": "L57.0", "display": "Actinic keratosis"}]}
    ]
    assert charge["status"] == "billable"
    assert charge["identifier"] == [{"value": "TX250310-0004"}]
    assert charge["priceOverride"] == {"value": 45.0, "currency": "USD"}
    assert charge["occurrenceDateTime"] == "2025-03-10T09:30:00-04:00"  # EDT began 2025-03-09
    assert charge["enteredDate"] == "2025-03-10T16:15:00-04:00"
    assert charge["performer"][0]["actor"]["identifier"] == {"system": NPI, "value": "1234567893"}


def test_every_charge_line_and_no_charge_for_the_copay(feed_maps: Hl7Maps) -> None:
    charges = of_type(mapped("dft-p03-biopsy-and-destruction", feed_maps), "ChargeItem")
    lines = [(c["code"]["coding"][0]["code"], c["quantity"]["value"]) for c in charges]
    assert lines == [("11102", 1), ("11103", 2), ("17000", 1), ("17003", 3)]  # FT1 5 is CO
    assert [c["reason"][0]["coding"][0]["code"] for c in charges] == [
        "D48.5",
        "L82.1",
        "L57.0",
        "L57.0",
    ]
    assert modifiers(charge_in(charges, "11102")) == []


def test_charges_point_at_the_patient_and_visit_the_adt_registered(feed_maps: Hl7Maps) -> None:
    adt = mapped("adt-a04-register-with-insurance", feed_maps)
    dft = mapped("dft-p03-biopsy-and-destruction", feed_maps)
    patient, encounter = one(adt, "Patient")["id"], one(adt, "Encounter")["id"]
    for charge in of_type(dft, "ChargeItem"):
        assert charge["subject"] == {"reference": f"Patient/{patient}"}
        assert charge["context"] == {"reference": f"Encounter/{encounter}"}
        assert charge["account"] == [
            {"identifier": {"system": "urn:derm-rcm:hl7v2:authority:DRMACCT", "value": "AC900100"}}
        ]
    # The DFT only creates the Patient and Encounter if they are not on file: the ADT's stay.
    held = held_after(adt, dft)
    assert held[f"Encounter/{encounter}"]["status"] == "arrived"
    assert {r.mode for r in dft if r.type in ("Patient", "Encounter")} == {"create"}


def test_v23_charge_falls_back_to_the_transaction_code_and_keeps_a_bare_modifier(
    feed_maps: Hl7Maps,
) -> None:
    resources = mapped("dft-p03-mohs-with-repair", feed_maps)
    codes = [c["code"]["coding"] for c in of_type(resources, "ChargeItem")]
    assert codes == [[{"system": CPT, "code": cpt}] for cpt in ("17311", "17312", "13132")]
    repair = charge_for(resources, "13132")
    # "51" came without a coding system: it is kept, and no system is guessed for it.
    assert modifiers(repair) == [(None, "51")]
    assert repair["reason"][0]["coding"][0] == {
        "system": ICD10CM,
        "code": "C44.311",
        "display": "Basal cell carcinoma of skin of nose",
    }
    assert repair["occurrenceDateTime"] == "2025-03-12"  # v2.3 FT1-4 is a TS, here a date


def test_non_numeric_quantity_is_refused_with_its_location(feed_maps: Hl7Maps) -> None:
    text = edited("dft-p03-biopsy-and-destruction", "|3|45.00&USD|", "|three|45.00&USD|")
    with pytest.raises(Hl7Error) as caught:
        map_text(text, feed_maps)
    assert caught.value.code is ErrorCode.DATA_TYPE
    assert caught.value.message == "FT1-10 (segment 8): expected a number, got 'three'"


def test_unknown_transaction_type_is_refused_with_its_location(feed_maps: Hl7Maps) -> None:
    text = edited(
        "dft-p03-biopsy-and-destruction", "|20250310161500|CG|DERMAK2", "|20250310161500|XX|DERMAK2"
    )
    with pytest.raises(Hl7Error) as caught:
        map_text(text, feed_maps)
    assert caught.value.code is ErrorCode.TABLE_VALUE_NOT_FOUND
    assert str(caught.value.where) == "FT1-6 (segment 8)"


def test_a_credit_is_not_billable_and_a_payment_makes_no_charge(feed_maps: Hl7Maps) -> None:
    credit = edited(
        "dft-p03-biopsy-and-destruction", "|20250310161500|CG|DERMAK2", "|20250310161500|CD|DERMAK2"
    )
    assert charge_for(map_text(credit, feed_maps), "17003")["status"] == "not-billable"
    payment = edited(
        "dft-p03-biopsy-and-destruction", "|20250310161500|CG|DERMAK2", "|20250310161500|PY|DERMAK2"
    )
    charges = of_type(map_text(payment, feed_maps), "ChargeItem")
    assert [c["code"]["coding"][0]["code"] for c in charges] == ["11102", "11103", "17000"]


def test_a_resent_charge_lands_on_the_same_chargeitem(feed_maps: Hl7Maps) -> None:
    first = mapped("dft-p03-biopsy-and-destruction", feed_maps)
    resent = map_text(
        edited("dft-p03-biopsy-and-destruction", "|DFT20250310001|", "|DFT20250311099|"), feed_maps
    )
    assert [c["id"] for c in of_type(first, "ChargeItem")] == [
        c["id"] for c in of_type(resent, "ChargeItem")
    ]


def test_a_charge_without_transaction_id_is_keyed_by_message_and_set_id(feed_maps: Hl7Maps) -> None:
    text = edited("dft-p03-biopsy-and-destruction", "FT1|4|TX250310-0004|", "FT1|4||")
    charge = charge_for(map_text(text, feed_maps), "17003")
    assert "identifier" not in charge
    assert charge["id"] not in {
        c["id"] for c in of_type(mapped("dft-p03-biopsy-and-destruction", feed_maps), "ChargeItem")
    }
    assert charge_for(map_text(text, feed_maps), "17003")["id"] == charge["id"]


# ---------------------------------------------------------------- MDM^T02 / T04


def note_text(document: dict[str, Any]) -> str:
    (content,) = [
        c for c in document["content"] if c["attachment"]["contentType"].startswith("text/")
    ]
    return base64.b64decode(content["attachment"]["data"]).decode("utf-8")


def test_progress_note_text_decodes_with_escapes_resolved(feed_maps: Hl7Maps) -> None:
    document = one(mapped("mdm-t02-progress-note", feed_maps), "DocumentReference")
    text = note_text(document)
    lines = text.split("\n")
    assert (
        lines[0] == "CHIEF COMPLAINT: Follow-up of actinic keratoses; new growth on left forearm."
    )
    assert lines[2].startswith("Left forearm: 6 mm pink papule")  # \.br\ is a line break
    assert "Consent signed; tolerated well; wound care reviewed." in lines  # an OBX-5 repetition
    assert "results by phone & portal" in text  # \T\ is "&"
    assert "\\" not in text
    assert len(lines) == 7  # 5 OBX, one \.br\, one OBX-5 repetition
    assert document["content"][0]["attachment"]["contentType"] == "text/plain; charset=utf-8"
    assert document["masterIdentifier"] == {
        "system": "urn:derm-rcm:hl7v2:authority:DERMEHR",
        "value": "DOC250310-0042",
    }
    assert (document["status"], document["docStatus"]) == ("current", "preliminary")  # TXA-17 DO
    assert document["type"]["coding"] == [
        {"system": "http://terminology.hl7.org/CodeSystem/v2-0270", "code": "PR"}
    ]
    assert document["date"] == "2025-03-10T11:25:00-04:00"
    assert document["author"][0]["identifier"] == {"system": NPI, "value": "1234567893"}


def test_the_evidence_reader_sees_the_note(feed_maps: Hl7Maps) -> None:
    document = one(mapped("mdm-t02-progress-note", feed_maps), "DocumentReference")
    ((_, text),) = note_texts([DocumentReference.model_validate(document)])
    assert "Cryodestruction of 4 AKs" in text


def test_the_signed_note_replaces_the_preliminary_one(feed_maps: Hl7Maps) -> None:
    draft = mapped("mdm-t02-progress-note", feed_maps)
    signed = mapped("mdm-t04-note-signed", feed_maps)
    held = held_after(draft, signed)
    documents = [r for r in held.values() if r["resourceType"] == "DocumentReference"]
    assert len(documents) == 1
    assert documents[0]["docStatus"] == "final"  # TXA-17 AU


def test_an_edit_addendum_and_replacement_of_a_note(feed_maps: Hl7Maps) -> None:
    """mdm-document-revisions: T02 draft, T08 edit (same TXA-12), T06 addendum and T10
    replacement (each its own TXA-12, TXA-13 the draft)."""
    draft, edit, addendum, replacement = (
        one(resources, "DocumentReference")
        for resources in fixture_messages("mdm-document-revisions", feed_maps, OPTIONS)
    )
    assert edit["id"] == draft["id"]  # an edit is the same document, its text replaced
    assert "BSA 14%" in note_text(edit) and "BSA 12%" not in note_text(edit)
    assert "relatesTo" not in draft and "relatesTo" not in edit
    assert len({draft["id"], addendum["id"], replacement["id"]}) == 3
    parent = f"DocumentReference/{draft['id']}"
    assert addendum["relatesTo"] == [{"code": "appends", "target": {"reference": parent}}]
    assert replacement["relatesTo"] == [{"code": "replaces", "target": {"reference": parent}}]

    # The evidence reads the addendum and the replacement, not the replaced draft.
    held = held_after(*fixture_messages("mdm-document-revisions", feed_maps, OPTIONS))
    documents = [
        DocumentReference.model_validate(r)
        for r in held.values()
        if r["resourceType"] == "DocumentReference"
    ]
    texts = [text for _, text in note_texts(documents)]
    assert len(texts) == 2
    assert any("PASI 11.2" in text for text in texts)
    assert any(text.startswith("ADDENDUM:") for text in texts)


def pdf_payload() -> str:
    """The base64 PDF as the fixture sends it in OBX-5.5."""
    return fixture_text("mdm-t02-pdf-attachment").split("^PDF^Base64^", 1)[1].split("|", 1)[0]


def test_pdf_attachment_is_passed_through_as_sent(feed_maps: Hl7Maps) -> None:
    document = one(mapped("mdm-t02-pdf-attachment", feed_maps), "DocumentReference")
    (content,) = document["content"]
    assert content["attachment"]["contentType"] == "application/pdf"
    assert content["attachment"]["data"] == pdf_payload()  # not re-encoded
    assert base64.b64decode(pdf_payload()).startswith(b"%PDF-")
    assert document["type"]["coding"][0]["code"] == "SP"
    assert document["docStatus"] == "final"


def test_ed_without_encoding_is_base64_encoded(feed_maps: Hl7Maps) -> None:
    text = edited(
        "mdm-t02-pdf-attachment",
        f"^PDF^Base64^{pdf_payload()}",
        "^HTML^A^<p>scanned cover sheet</p>",
    )
    (content,) = one(map_text(text, feed_maps), "DocumentReference")["content"]
    assert content["attachment"]["contentType"] == "text/html"
    assert base64.b64decode(content["attachment"]["data"]) == b"<p>scanned cover sheet</p>"


# ---------------------------------------------------------------- SIU


def test_booking_reschedule_and_cancel_update_one_appointment(feed_maps: Hl7Maps) -> None:
    booked = one(mapped("siu-s12-new-appointment", feed_maps), "Appointment")
    moved = one(mapped("siu-s14-reschedule", feed_maps), "Appointment")
    cancelled = one(mapped("siu-s15-cancel", feed_maps), "Appointment")
    assert booked["id"] == moved["id"] == cancelled["id"]
    assert (booked["status"], moved["status"], cancelled["status"]) == (
        "booked",
        "booked",
        "cancelled",
    )
    assert (booked["start"], booked["end"]) == (
        "2025-03-20T14:00:00-04:00",
        "2025-03-20T14:30:00-04:00",
    )
    assert (moved["start"], moved["end"]) == (
        "2025-03-21T10:00:00-04:00",
        "2025-03-21T10:30:00-04:00",
    )
    assert cancelled["cancelationReason"]["coding"][0]["code"] == "PATCXL"
    assert "cancelationReason" not in booked


def test_appointment_id_does_not_depend_on_the_placer_id(feed_maps: Hl7Maps) -> None:
    booked = one(mapped("siu-s12-new-appointment", feed_maps), "Appointment")
    text = edited("siu-s15-cancel", "SCH|P7001^DERMEHR|", "SCH||")
    assert one(map_text(text, feed_maps), "Appointment")["id"] == booked["id"]


def test_appointment_participants(feed_maps: Hl7Maps) -> None:
    resources = mapped("siu-s12-new-appointment", feed_maps)
    appointment = one(resources, "Appointment")
    patient = one(resources, "Patient")
    patient_part, doctor, room = appointment["participant"]
    assert patient_part == {
        "actor": {"reference": f"Patient/{patient['id']}"},
        "status": "accepted",
    }
    assert doctor["actor"]["identifier"] == {"system": NPI, "value": "1234567893"}
    assert room == {"actor": {"display": "Exam room 2"}, "status": "accepted"}
    assert appointment["minutesDuration"] == 30


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("siu-s13-rescheduling", "booked"),
        ("siu-s17-delete", "entered-in-error"),
        ("siu-s26-no-show", "noshow"),
    ],
)
def test_status_from_the_event(name: str, status: str, feed_maps: Hl7Maps) -> None:
    assert one(mapped(name, feed_maps), "Appointment")["status"] == status


@pytest.mark.parametrize(
    ("filler_status", "status"), [("Complete", "fulfilled"), ("Overbook", "booked")]
)
def test_status_from_the_filler_status_else_the_event(
    filler_status: str, status: str, feed_maps: Hl7Maps
) -> None:
    text = edited("siu-s14-reschedule", "|Booked\rTQ1", f"|{filler_status}\rTQ1")
    assert one(map_text(text, feed_maps), "Appointment")["status"] == status


def test_a_start_and_a_duration_without_an_end_keep_the_appointment_time(
    feed_maps: Hl7Maps,
) -> None:
    """SCH-11.5 is optional: the end is the start plus SCH-9 minutes, in the start's offset."""
    text = edited("siu-s12-new-appointment", "^20250320140000^20250320143000|", "^20250320140000|")
    appointment = one(map_text(text, feed_maps), "Appointment")
    assert (appointment["start"], appointment["end"], appointment["minutesDuration"]) == (
        "2025-03-20T14:00:00-04:00",
        "2025-03-20T14:30:00-04:00",
        30,
    )


def test_the_service_start_and_its_duration_when_sch_11_is_not_sent(feed_maps: Hl7Maps) -> None:
    """v2.6+ feeds leave SCH-11 empty; AIS-4 with AIS-7 (minutes) then gives the time."""
    text = edited("siu-s12-new-appointment", "|^^^20250320140000^20250320143000|", "||")
    text = text.replace("|30|min^minutes^UCUM|", "|||", 1)  # SCH-9/10: no duration either
    appointment = one(map_text(text, feed_maps), "Appointment")
    assert (appointment["start"], appointment["end"], appointment["minutesDuration"]) == (
        "2025-03-20T14:00:00-04:00",
        "2025-03-20T14:30:00-04:00",
        30,
    )


def test_a_lone_start_without_a_duration_is_left_out_not_guessed(feed_maps: Hl7Maps) -> None:
    text = edited("siu-s12-new-appointment", "^20250320140000^20250320143000|", "^20250320140000|")
    text = text.replace("|30|min^minutes^UCUM|", "|||", 1).replace(
        "|||30|min^minutes^UCUM", "|||||", 1
    )
    appointment = one(map_text(text, feed_maps), "Appointment")
    assert "minutesDuration" not in appointment
    assert "start" not in appointment
    assert "end" not in appointment


def test_schedule_without_any_appointment_id_is_refused(feed_maps: Hl7Maps) -> None:
    text = edited("siu-s12-new-appointment", "SCH|P7001^DERMEHR|APT50001^DERMPM|", "SCH|||")
    with pytest.raises(Hl7Error) as caught:
        map_text(text, feed_maps)
    assert caught.value.code is ErrorCode.REQUIRED_FIELD_MISSING
    assert str(caught.value.where) == "SCH-2.1 (segment 2)"


def test_schedule_message_without_sch_is_rejected_naming_the_segment(feed_maps: Hl7Maps) -> None:
    """A segment the message lacks has no position: the error names it (HL7 100, an AR)."""
    text = "\r".join(
        line
        for line in fixture_text("siu-s12-new-appointment").split("\r")
        if not line.startswith("SCH")
    )
    with pytest.raises(Hl7Error) as caught:
        map_text(text, feed_maps)
    assert caught.value.code is ErrorCode.SEGMENT_SEQUENCE
    assert caught.value.message == "SCH: expected a SCH segment (to identify the Appointment)"


# ---------------------------------------------------------------- ADT^A40


def test_merge_retires_the_prior_patient(feed_maps: Hl7Maps) -> None:
    resources = mapped("adt-a40-merge", feed_maps)
    assert {r.mode for r in resources} == {"merge"}
    survivor, prior = (r.body for r in resources)
    assert survivor["active"] is True
    assert survivor["link"] == [
        {"other": {"reference": f"Patient/{prior['id']}"}, "type": "replaces"}
    ]
    assert prior["active"] is False
    assert prior["link"] == [
        {"other": {"reference": f"Patient/{survivor['id']}"}, "type": "replaced-by"}
    ]
    assert [i["value"] for i in prior["identifier"]] == ["900401"]


def test_merge_lands_on_the_patients_earlier_messages_made(feed_maps: Hl7Maps) -> None:
    def registration(mrn: str, name: str) -> list[MappedResource]:
        segments = [
            "MSH|^~\\&|DERMPM|SKINCTR|DERMRCM|SKINCTR|20250301090000||ADT^A28^ADT_A05|"
            f"ADT{mrn}|P|2.5.1",
            "EVN|A28|20250301090000",
            f"PID|1||{mrn}^^^DRMMRN^MR||{name}||19620704|M",
            "PV1|1|N",
        ]
        return map_text("\r".join(segments) + "\r", feed_maps)

    survivor_reg = registration("900400", "TESTPATIENT^DELTA^R")
    prior_reg = registration("900401", "TESTPATIENT^DELTA")
    merge = mapped("adt-a40-merge", feed_maps)
    held = held_after(survivor_reg, prior_reg, merge)
    prior = held[f"Patient/{one(prior_reg, 'Patient')['id']}"]
    survivor = held[f"Patient/{one(survivor_reg, 'Patient')['id']}"]
    assert prior["active"] is False
    assert prior["name"] == [{"family": "TESTPATIENT", "given": ["DELTA"]}]  # the overlay keeps it
    assert prior["link"][0] == {
        "other": {"reference": f"Patient/{survivor['id']}"},
        "type": "replaced-by",
    }
    assert survivor["link"][0]["type"] == "replaces"


def test_charges_filed_under_the_prior_mrn_follow_the_survivor(feed_maps: Hl7Maps) -> None:
    """Through the real store: a DFT for the duplicate MRN, then the A40 that retires it."""
    charge_on_prior = map_text(
        edited(
            "dft-p03-mohs-with-repair", "|900200|900200^^^DRMMRN^MR|", "|900401|900401^^^DRMMRN^MR|"
        ),
        feed_maps,
    )
    merge = mapped("adt-a40-merge", feed_maps)
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        writer = ResourceWriter(session.connection())
        for resource in [*charge_on_prior, *merge]:
            writer.write(
                resource.body, resource.mode, datetime(2025, 3, 15, tzinfo=UTC), None, "test"
            )
        writer.flush()
        fhir = FhirStore(session)
        survivor = merge[0].body["id"]
        charges = [r for r in fhir.compartment(survivor) if r["resourceType"] == "ChargeItem"]
        prior = fhir.get("Patient", merge[1].body["id"])
    assert sorted(c["code"]["coding"][0]["code"] for c in charges) == ["13132", "17311", "17312"]
    assert prior is not None
    assert prior["active"] is False
    assert prior["name"] == [
        {"family": "TESTPATIENT", "given": ["BRAVO", "J"]}
    ]  # kept by the merge


# ---------------------------------------------------------------- ADT (adt.yaml)


def test_encounter_location_keeps_the_room_when_no_bed_is_sent(feed_maps: Hl7Maps) -> None:
    encounter = one(mapped("adt-a04-register-with-insurance", feed_maps), "Encounter")
    assert encounter["location"] == [{"location": {"display": "DERM1 EXAM3"}}]


# ---------------------------------------------------------------- ADT IN1-17 -> Coverage


@pytest.mark.parametrize(
    ("in1_17", "relationship"),
    [
        ("SPO^Spouse^HL70063", "spouse"),
        ("01", "spouse"),
        ("19", "child"),
        ("53", "common"),
        ("EME^Employee^HL70063", "other"),  # an employee: FHIR has no code; not "injured"
        ("20", "other"),
        ("FTH^Father^HL70063", None),  # direction differs between feeds: not guessed
        ("ZZ", None),
        ("", None),
    ],
)
def test_coverage_relationship_is_mapped_or_left_out_never_guessed(
    in1_17: str, relationship: str | None, feed_maps: Hl7Maps
) -> None:
    """The second IN1 of the fixture (the spouse's supplement plan) with IN1-17 as given: a
    listed code becomes Coverage.relationship; any other is left out, so that claim building
    names it as missing instead of sending the payer a relationship nobody stated."""
    text = edited("adt-a04-register-with-insurance", "|SPO^Spouse^HL70063|", f"|{in1_17}|")
    (coverage,) = [
        c
        for c in of_type(map_text(text, feed_maps), "Coverage")
        if c["payor"][0]["display"] == "SAMPLE MUTUAL INSURANCE"
    ]
    if relationship is None:
        assert "relationship" not in coverage
    else:
        assert coverage["relationship"]["coding"] == [
            {
                "system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
                "code": relationship,
            }
        ]


@pytest.mark.parametrize(
    ("in1_16_17", "subscriber"),
    [
        ("TESTPATIENT^OMEGA^R|SPO^Spouse^HL70063", "RelatedPerson"),
        ("TESTPATIENT^OMEGA^R|", "RelatedPerson"),  # a named insured, relationship not sent
        ("TESTPATIENT^ALPHA^Q|SEL^Self^HL70063", "Patient"),
        ("|18", "Patient"),
        ("|SPO^Spouse^HL70063", None),  # the spouse is the insured, but not named
        ("|", None),
    ],
)
def test_the_subscriber_is_the_patient_only_when_the_feed_says_self(
    in1_16_17: str, subscriber: str | None, feed_maps: Hl7Maps
) -> None:
    """Coverage.subscriber from IN1-16 (insured's name) and IN1-17: an insured the feed does
    not name is left out, so a claim reports it missing instead of billing under the
    patient's name."""
    text = edited(
        "adt-a04-register-with-insurance",
        "|TESTPATIENT^OMEGA^R|SPO^Spouse^HL70063|",
        f"|{in1_16_17}|",
    )
    resources = map_text(text, feed_maps)
    (coverage,) = [
        c
        for c in of_type(resources, "Coverage")
        if c["payor"][0]["display"] == "SAMPLE MUTUAL INSURANCE"
    ]
    if subscriber is None:
        assert "subscriber" not in coverage
        return
    reference = coverage["subscriber"]["reference"]
    assert reference.split("/")[0] == subscriber
    if subscriber == "Patient":
        assert reference == coverage["beneficiary"]["reference"]
    else:
        (person,) = [r for r in of_type(resources, "RelatedPerson") if reference.endswith(r["id"])]
        assert person["name"] == [{"family": "TESTPATIENT", "given": ["OMEGA"]}]


@pytest.mark.parametrize(
    ("in1_17", "code"),
    [("SPO^Spouse^HL70063", "SPO"), ("01", "SPO"), ("19", "PAR"), ("FTH^Father^HL70063", "CHD")],
)
def test_the_named_insured_relationship_is_a_table_0063_code(
    in1_17: str, code: str, feed_maps: Hl7Maps
) -> None:
    """RelatedPerson.relationship (system v2-0063): what the insured is to the patient, the
    inverse of IN1-17 as Coverage reads it (19: the patient is the child, so the insured is a
    parent), an X12 code as a 0063 code (X12 01 is not a 0063 code). Every code:
    test_hl7v2_adt_demographics.py."""
    text = edited("adt-a04-register-with-insurance", "|SPO^Spouse^HL70063|", f"|{in1_17}|")
    person = one(map_text(text, feed_maps), "RelatedPerson")
    assert person["relationship"] == [
        {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0063", "code": code}]}
    ]


def test_a_dft_p11_posts_the_same_charges_as_a_p03(feed_maps: Hl7Maps) -> None:
    """DFT^P11 (v2.5's post detail financial transactions - new) has the same PID, PV1 and
    FT1: its charges come out as the P03's."""
    p03 = mapped("dft-p03-biopsy-and-destruction", feed_maps)
    p11 = map_text(
        edited("dft-p03-biopsy-and-destruction", "|DFT^P03^DFT_P03|", "|DFT^P11^DFT_P11|"),
        feed_maps,
    )
    assert of_type(p11, "ChargeItem") == of_type(p03, "ChargeItem")
    assert len(of_type(p11, "ChargeItem")) == 4
