"""ADT (mappings/hl7v2/adt.yaml) demographics, visit participants and the insured, field by
field: PID-5 name types, PID-11 / IN1-19 address types, PID-13 / PID-14 telecom (XTN), PV1-7 /
PV1-8 / PV1-17 doctors, the subscriber RelatedPerson (IN1-16 ... IN1-43) and the direction of
IN1-17 on Coverage and on RelatedPerson. Messages are the synthetic fixture
fixtures/hl7/adt-a04-register-with-insurance.hl7 with one field set.
"""

from __future__ import annotations

from typing import Any

import pytest

from integration.hl7v2.errors import ErrorCode, Hl7Error
from integration.hl7v2.message import parse_message, split_batch
from integration.mapping.hl7v2 import Hl7Maps, MappedResource, MappingOptions, map_message
from integration.mapping.hl7v2_transforms import load_feed_maps
from integration.paths import fixtures_dir

OPTIONS = MappingOptions(timezone="America/New_York")
NPI = "http://hl7.org/fhir/sid/us-npi"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
EXTENSION = "http://hl7.org/fhir/StructureDefinition/contactpoint-extension"
BASE = "adt-a04-register-with-insurance"


@pytest.fixture(scope="module")
def feed_maps() -> Hl7Maps:
    return load_feed_maps()


def with_field(segment: str, number: int, value: str, *, nth: int = 1) -> str:
    """The base fixture with field `number` of its `nth` `segment` set to `value`."""
    raw = (fixtures_dir() / "hl7" / f"{BASE}.hl7").read_bytes().decode("utf-8")
    (text,) = split_batch(raw).messages
    lines, seen = text.split("\r"), 0
    for i, line in enumerate(lines):
        if line.startswith(segment + "|"):
            seen += 1
            if seen == nth:
                fields = line.split("|")
                fields += [""] * (number + 1 - len(fields))
                fields[number] = value
                lines[i] = "|".join(fields)
                return "\r".join(lines)
    raise AssertionError(f"no {segment} #{nth} in {BASE}")


def mapped(text: str, feed_maps: Hl7Maps) -> list[MappedResource]:
    return map_message(parse_message(text), feed_maps, OPTIONS)


def one(resources: list[MappedResource], type_: str) -> dict[str, Any]:
    (found,) = [r.body for r in resources if r.type == type_]
    return found


# ---------------------------------------------------------------- PID-13 / PID-14 (XTN)


@pytest.mark.parametrize(
    ("xtn", "contact"),
    [
        ("^PRN^PH^^1^217^5550101", {"system": "phone", "use": "home", "value": "(217) 5550101"}),
        ("^PRN^CP^^1^217^5550102", {"system": "phone", "use": "mobile", "value": "(217) 5550102"}),
        ("^^CP^^^217^5550102", {"system": "phone", "use": "mobile", "value": "(217) 5550102"}),
        ("^PRS^PH^^^217^5550103", {"system": "phone", "use": "mobile", "value": "(217) 5550103"}),
        ("^WPN^FX^^^217^5550104", {"system": "fax", "use": "work", "value": "(217) 5550104"}),
        ("^BPN^BP^^^217^5550105", {"system": "pager", "value": "(217) 5550105"}),
        ("^BPN^^^^217^5550105", {"system": "pager", "value": "(217) 5550105"}),
        ("^^MD^^^217^5550106", {"system": "other", "value": "(217) 5550106"}),
        ("^^ZZ^^^217^5550106", {"system": "other", "value": "(217) 5550106"}),
        ("^^^^^^5550107", {"system": "phone", "value": "5550107"}),
        # email: XTN-2 NET / XTN-3 Internet, the address in XTN-4 (no use: NET is not one)
        ("^NET^Internet^pat@example.com", {"system": "email", "value": "pat@example.com"}),
        ("^NET^X.400^pat@example.com", {"system": "email", "value": "pat@example.com"}),
        ("^NET^^pat@example.com", {"system": "email", "value": "pat@example.com"}),
        (
            "^PRN^Internet^pat@example.com",
            {"system": "email", "use": "home", "value": "pat@example.com"},
        ),
        ("pat@example.com^NET", {"system": "email", "value": "pat@example.com"}),
        # v2.3: the number as text in XTN-1, no use invented when none is sent
        ("(555)555-1212", {"system": "phone", "value": "(555)555-1212"}),
        ("(555)555-1212^PRN^PH", {"system": "phone", "use": "home", "value": "(555)555-1212"}),
        # the extension XTN-8
        (
            "^PRN^PH^^1^217^5550108^42",
            {
                "system": "phone",
                "use": "home",
                "value": "(217) 5550108",
                "extension": [{"url": EXTENSION, "valueString": "42"}],
            },
        ),
    ],
)
def test_home_telecom_follows_the_equipment_type_and_use_code(
    xtn: str, contact: dict[str, Any], feed_maps: Hl7Maps
) -> None:
    patient = one(mapped(with_field("PID", 13, xtn), feed_maps), "Patient")
    assert patient["telecom"][0] == contact


@pytest.mark.parametrize(
    ("xtn", "contact"),
    [
        ("^WPN^PH^^1^217^5550199", {"system": "phone", "use": "work", "value": "(217) 5550199"}),
        ("^^^^^217^5550199", {"system": "phone", "use": "work", "value": "(217) 5550199"}),
        ("^WPN^CP^^^217^5550198", {"system": "phone", "use": "work", "value": "(217) 5550198"}),
        ("^WPN^FX^^^217^5550197", {"system": "fax", "use": "work", "value": "(217) 5550197"}),
        (
            "^NET^Internet^office@example.com",
            {"system": "email", "use": "work", "value": "office@example.com"},
        ),
        ("(555)555-1212", {"system": "phone", "use": "work", "value": "(555)555-1212"}),
    ],
)
def test_business_telecom_is_work(xtn: str, contact: dict[str, Any], feed_maps: Hl7Maps) -> None:
    patient = one(mapped(with_field("PID", 14, xtn), feed_maps), "Patient")
    assert patient["telecom"][-1] == contact


@pytest.mark.parametrize("xtn", ["^PRN^PH", "^PRN^PH^^1", "^NET^Internet", '""'])
def test_a_repetition_without_number_or_address_gives_no_contact_point(
    xtn: str, feed_maps: Hl7Maps
) -> None:
    patient = one(mapped(with_field("PID", 13, xtn), feed_maps), "Patient")
    assert [c["use"] for c in patient["telecom"]] == ["work"]  # only PID-14 is left


def test_every_home_telecom_repetition_is_kept_in_order(feed_maps: Hl7Maps) -> None:
    xtn = "^PRN^PH^^1^217^5550101~^PRN^CP^^1^217^5550102~^NET^Internet^a@example.com"
    patient = one(mapped(with_field("PID", 13, xtn), feed_maps), "Patient")
    assert [(c["system"], c.get("use")) for c in patient["telecom"]] == [
        ("phone", "home"),
        ("phone", "mobile"),
        ("email", None),
        ("phone", "work"),
    ]


# ---------------------------------------------------------------- PID-5 (XPN)


@pytest.mark.parametrize(
    ("xpn_7", "use"),
    [
        ("L", "official"),
        ("D", "usual"),
        ("M", "maiden"),
        ("N", "nickname"),
        ("S", "anonymous"),
        ("BAD", "old"),
        ("A", None),  # alias / assigned: the IG maps it to no use
        ("B", None),
        ("U", None),
        ("", None),
    ],
)
def test_name_use_comes_from_the_name_type(xpn_7: str, use: str | None, feed_maps: Hl7Maps) -> None:
    patient = one(
        mapped(with_field("PID", 5, f"TESTPATIENT^ALPHA^Q^^^^{xpn_7}"), feed_maps), "Patient"
    )
    (name,) = patient["name"]
    assert name.get("use") == use
    assert (name["family"], name["given"]) == ("TESTPATIENT", ["ALPHA", "Q"])


def test_legal_nickname_and_maiden_names_each_keep_their_use(feed_maps: Hl7Maps) -> None:
    xpn = "TESTPATIENT^ALPHA^Q^^^^L~^ALLIE^^^^^N~SAMPLEMAIDEN^ALPHA^^^^^M"
    patient = one(mapped(with_field("PID", 5, xpn), feed_maps), "Patient")
    assert [(n.get("use"), n.get("family")) for n in patient["name"]] == [
        ("official", "TESTPATIENT"),
        ("nickname", None),
        ("maiden", "SAMPLEMAIDEN"),
    ]


@pytest.mark.parametrize("pid_5", ["", '""', "~"])
def test_a_patient_without_a_name_is_refused_at_pid_5(pid_5: str, feed_maps: Hl7Maps) -> None:
    with pytest.raises(Hl7Error) as caught:
        mapped(with_field("PID", 5, pid_5), feed_maps)
    assert caught.value.code is ErrorCode.REQUIRED_FIELD_MISSING
    assert (caught.value.where.segment_id, caught.value.where.field) == ("PID", 5)
    assert caught.value.message.startswith("PID-5 ")


def test_a_name_with_only_a_given_name_is_kept(feed_maps: Hl7Maps) -> None:
    patient = one(mapped(with_field("PID", 5, "^ALPHA"), feed_maps), "Patient")
    assert patient["name"] == [{"given": ["ALPHA"]}]


# ---------------------------------------------------------------- PID-11 / IN1-19 (XAD)

ADDRESS = "100 TEST LANE^^SPRINGFIELD^IL^62701^USA"


@pytest.mark.parametrize(
    ("xad_7", "use", "type_"),
    [
        ("H", "home", None),
        ("B", "work", None),
        ("O", "work", None),
        ("C", "temp", None),
        ("BA", "old", None),
        ("BI", "billing", None),
        ("M", None, "postal"),
        ("P", None, None),
        ("", None, None),
    ],
)
def test_address_use_and_type_come_from_the_address_type(
    xad_7: str, use: str | None, type_: str | None, feed_maps: Hl7Maps
) -> None:
    resources = mapped(with_field("PID", 11, f"{ADDRESS}^{xad_7}"), feed_maps)
    (address,) = one(resources, "Patient")["address"]
    assert (address.get("use"), address.get("type")) == (use, type_)
    assert address["line"] == ["100 TEST LANE"]


# ---------------------------------------------------------------- PV1-7 / PV1-8 / PV1-17 (XCN)

ALICE = "1234567893^TESTDOC^ALICE^^^^MD^^NPI&2.16.840.1.113883.4.6&ISO^L^^^NPI"
CAROL = "2345678900^TESTPA^CAROL^^^^PA^^NPI&2.16.840.1.113883.4.6&ISO^L^^^NPI"


def participants(text: str, feed_maps: Hl7Maps) -> list[tuple[str, str | None, str]]:
    encounter = one(mapped(text, feed_maps), "Encounter")
    return [
        (
            p["type"][0]["coding"][0]["code"],
            p["individual"]["identifier"].get("system"),
            p["individual"]["identifier"]["value"],
        )
        for p in encounter["participant"]
    ]


def test_attending_referring_and_admitting_doctors_carry_their_npi_system(
    feed_maps: Hl7Maps,
) -> None:
    text = with_field("PV1", 17, ALICE)  # the fixture has PV1-7 ALICE and PV1-8 CAROL
    assert participants(text, feed_maps) == [
        ("ATND", NPI, "1234567893"),
        ("REF", NPI, "2345678900"),
        ("ADM", NPI, "1234567893"),
    ]
    encounter = one(mapped(text, feed_maps), "Encounter")
    assert encounter["participant"][1]["type"][0]["coding"][0]["system"] == PARTICIPATION
    assert encounter["participant"][1]["individual"]["display"] == "CAROL TESTPA"


def test_a_doctor_sent_under_two_id_types_is_two_participants(feed_maps: Hl7Maps) -> None:
    """What the map language can say: one participant per PV1-7 repetition. It cannot tell that
    two repetitions (same name, XCN-9 / XCN-13 differ) are one person, so both are listed."""
    text = with_field("PV1", 7, f"{ALICE}~TA100^TESTDOC^ALICE^^^^MD^^DRMPROV^L^^^PRN")
    assert participants(text, feed_maps) == [
        ("ATND", NPI, "1234567893"),
        ("ATND", "urn:derm-rcm:hl7v2:authority:DRMPROV", "TA100"),
        ("REF", NPI, "2345678900"),
    ]


# ---------------------------------------------------------------- IN1: the insured


def test_the_insured_who_is_not_the_patient_has_address_sex_and_birth_date(
    feed_maps: Hl7Maps,
) -> None:
    """The second IN1 of the fixture: the spouse's plan. An 837P needs the subscriber's
    address (2010BA N3/N4), birth date and sex (DMG) when the subscriber is not the patient."""
    person = one(mapped(with_field("IN1", 43, "M", nth=2), feed_maps), "RelatedPerson")
    assert person["gender"] == "male"
    assert person["birthDate"] == "1955-08-30"
    assert person["address"] == [
        {
            "use": "home",
            "line": ["100 TEST LANE", "APT 2"],
            "city": "SPRINGFIELD",
            "state": "IL",
            "postalCode": "62701",
            "country": "USA",
        }
    ]


def test_the_insured_without_address_or_sex_has_neither(feed_maps: Hl7Maps) -> None:
    text = with_field("IN1", 19, "", nth=2)
    text = text.replace("|SMI555000222|||||||M", "|SMI555000222")
    person = one(mapped(text, feed_maps), "RelatedPerson")
    assert "address" not in person and "gender" not in person


# IN1-17 read as the patient's relationship to the insured. For each code: what the patient
# is to the insured (FHIR subscriber-relationship, None where Coverage leaves it out) and what
# the insured is to the patient (table 0063, None where there is no inverse), written down
# here from the code's meaning, independently of the tables.
PATIENT_TO_INSURED = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
IN1_17 = [
    # code, Coverage.relationship, RelatedPerson.relationship
    ("SPO", "spouse", "SPO"),
    ("01", "spouse", "SPO"),
    ("DOM", "common", "DOM"),
    ("53", "common", "DOM"),
    ("CHD", "child", "PAR"),
    ("19", "child", "PAR"),
    ("EME", "other", "EMR"),
    ("20", "other", "EMR"),
    ("OTH", "other", "OTH"),
    ("G8", "other", "OTH"),
    ("FTH", None, "CHD"),  # the patient is the insured's father: the insured is the child
    ("MTH", None, "CHD"),
    ("PAR", None, "CHD"),
    ("NCH", None, "PAR"),
    ("EMR", None, "EME"),
    ("GRP", None, "GCH"),
    ("GCH", None, "GRP"),
    ("GRD", None, "WRD"),
    ("WRD", None, "GRD"),
    ("SIB", None, "SIB"),
    ("BRO", None, "SIB"),
    ("SIS", None, "SIB"),
    ("FND", None, "FND"),
    ("ASC", None, "ASC"),
    ("EXF", None, "EXF"),
    ("UNK", None, "UNK"),
    ("21", None, "UNK"),
    ("SCH", None, None),  # a stepchild: 0063 has no step-parent code
    ("FCH", None, None),
    ("CGV", None, None),
    ("MGR", None, None),
    ("ZZ", None, None),
    ("", None, None),
]
# What the insured is to the patient, for each thing the patient can be to the insured.
INVERSE = {"spouse": {"SPO"}, "common": {"DOM"}, "child": {"PAR"}, "other": {"EMR", "OTH"}}


def test_the_oracle_covers_every_code_the_tables_list(feed_maps: Hl7Maps) -> None:
    listed = {code for code, _, _ in IN1_17} | {"SEL", "18"}  # self: below
    for table in ("insured-relationship-0063", "subscriber-relationship"):
        assert set(feed_maps.tables[table].values) <= listed, table


@pytest.mark.parametrize(("in1_17", "coverage_code", "person_code"), IN1_17)
def test_coverage_and_related_person_agree_on_the_relationship(
    in1_17: str, coverage_code: str | None, person_code: str | None, feed_maps: Hl7Maps
) -> None:
    resources = mapped(with_field("IN1", 17, in1_17, nth=2), feed_maps)
    (coverage,) = [
        r.body
        for r in resources
        if r.type == "Coverage" and r.body["payor"][0]["display"] == "SAMPLE MUTUAL INSURANCE"
    ]
    person = one(resources, "RelatedPerson")
    assert coverage["subscriber"]["reference"] == f"RelatedPerson/{person['id']}"
    got_coverage = (
        coverage["relationship"]["coding"][0]["code"] if "relationship" in coverage else None
    )
    got_person = (
        person["relationship"][0]["coding"][0]["code"] if "relationship" in person else None
    )
    assert (got_coverage, got_person) == (coverage_code, person_code)
    if "relationship" in coverage:
        assert coverage["relationship"]["coding"][0]["system"] == PATIENT_TO_INSURED
        assert got_person in INVERSE[str(got_coverage)]


@pytest.mark.parametrize("in1_17", ["SEL", "18"])
def test_self_makes_no_related_person(in1_17: str, feed_maps: Hl7Maps) -> None:
    resources = mapped(with_field("IN1", 17, in1_17, nth=2), feed_maps)
    assert not [r for r in resources if r.type == "RelatedPerson"]
