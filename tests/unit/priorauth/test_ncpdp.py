"""NCPDP SCRIPT ePA codec: every transaction written equals its golden file in fixtures/ncpdp/
(UPDATE_GOLDENS=1 rewrites them: review the diff), parses back to the same message, and bad XML
is refused with the path of the bad element."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration.paths import fixtures_dir
from integration.priorauth.ncpdp import (
    BenefitsCoordination,
    CancelStatus,
    Choice,
    CodedReference,
    EpaMessage,
    Header,
    InitiationStatus,
    MedicationPrescribed,
    NcpdpError,
    PAAppealRequest,
    PAAppealResponse,
    PACancelRequest,
    PACancelResponse,
    PADecision,
    PAInitiationRequest,
    PAInitiationResponse,
    PARequest,
    PAResponse,
    Patient,
    Prescriber,
    Quantity,
    Question,
    QuestionAnswer,
    QuestionSet,
    QuestionType,
    ResponseStatus,
    message_name,
    parse,
    to_xml,
    validate,
)

GOLDENS = fixtures_dir() / "ncpdp"
SENT = datetime(2026, 11, 15, 14, 30, tzinfo=UTC)


def header(message_id: str, relates_to: str | None = None, *, to_payer: bool = True) -> Header:
    ehr, payer = "DERMRCM-EHR-01", "SBXPAYER"
    return Header(
        to=payer if to_payer else ehr,
        from_=ehr if to_payer else payer,
        message_id=message_id,
        sent_time=SENT,
        relates_to_message_id=relates_to,
        prescriber_order_number="ORD-7781",
        to_qualifier="P" if to_payer else "D",
        from_qualifier="D" if to_payer else "P",
    )


PATIENT = Patient(last_name="Testcase", first_name="Ada", gender="F", birth_date=date(1990, 4, 2))
PRESCRIBER = Prescriber(
    npi="1999999984", last_name="Derm", first_name="Sam", specialty="207N00000X"
)
MEDICATION = MedicationPrescribed(
    description="Dupixent 300 mg/2 mL prefilled pen",
    quantity=Quantity(Decimal("4"), unit="C28254"),
    product_code="00024591502",
    product_code_qualifier="ND",
    days_supply=28,
    diagnoses=("L20.89", "L20.84"),
)
BENEFITS = BenefitsCoordination(
    payer_id="SBXPAYER",
    payer_name="Sandbox Health",
    cardholder_id="U8841203605",
    group_id="GRP-100",
    pbm_member_id="PBM-5512",
)
YES_NO = (Choice("Y", "Yes"), Choice("N", "No", next_question_id="END"))
QUESTIONS = QuestionSet(
    id="SBX-DUPI-AD-1",
    title="Dupixent for atopic dermatitis",
    description="Initial authorization",
    questions=(
        Question(
            "ad-diagnosis",
            1,
            "Does the patient have a diagnosis of atopic dermatitis?",
            QuestionType.SELECT,
            choices=YES_NO,
            coded_reference=CodedReference("L20", "ABF", "Atopic dermatitis"),
        ),
        Question(
            "ad-bsa",
            2,
            "What percentage of body surface area (BSA) is affected?",
            QuestionType.NUMERIC,
        ),
        Question(
            "ad-tcs-start", 3, "When was the topical corticosteroid started?", QuestionType.DATE
        ),
        Question(
            "ad-member",
            4,
            "What is the patient's member ID?",
            QuestionType.FREE_TEXT,
            default_next_question_id="END",
        ),
    ),
)
ANSWERS = (
    QuestionAnswer("ad-diagnosis", choice_ids=("Y",)),
    QuestionAnswer("ad-bsa", numeric=Decimal("30")),
    QuestionAnswer("ad-tcs-start", date=date(2025, 11, 18)),
    QuestionAnswer("ad-member", free_text="U8841203605", additional_free_text="card on file"),
)

EXAMPLES: dict[str, EpaMessage] = {
    "pa-initiation-request": PAInitiationRequest(
        header("MSG-1"), "REF-1", PATIENT, PRESCRIBER, MEDICATION, BENEFITS
    ),
    "pa-initiation-response-open": PAInitiationResponse(
        header("MSG-2", "MSG-1", to_payer=False),
        "REF-1",
        InitiationStatus.OPEN,
        pa_case_id="CASE-9",
        deadline_for_reply=date(2026, 11, 22),
        question_set=QUESTIONS,
    ),
    "pa-initiation-response-not-required": PAInitiationResponse(
        header("MSG-2B", "MSG-1", to_payer=False),
        "REF-1",
        InitiationStatus.CLOSED,
        reason_code="CC",
        note="Prior authorization is not required.",
    ),
    "pa-request": PARequest(
        header("MSG-3", "MSG-2"),
        "REF-1",
        "CASE-9",
        PATIENT,
        PRESCRIBER,
        MEDICATION,
        BENEFITS,
        QUESTIONS.id,
        ANSWERS,
        comment="Answered from the chart",
    ),
    "pa-response-approved": PAResponse(
        header("MSG-4", "MSG-3", to_payer=False),
        "REF-1",
        "CASE-9",
        PADecision(
            ResponseStatus.APPROVED,
            authorization_number="PA1000001",
            effective_date=date(2026, 11, 15),
            expiration_date=date(2027, 3, 14),
            quantity=Quantity(Decimal("8")),
            appeal_supported=True,
        ),
    ),
    "pa-response-denied": PAResponse(
        header("MSG-4D", "MSG-3", to_payer=False),
        "REF-1",
        "CASE-9",
        PADecision(
            ResponseStatus.DENIED,
            reason_code="SBX-STEP",
            reason_text="A topical corticosteroid trial of at least 28 days is required first.",
            appeal_supported=True,
        ),
    ),
    "pa-response-pended": PAResponse(
        header("MSG-4P", "MSG-3", to_payer=False),
        "REF-1",
        "CASE-9",
        PADecision(
            ResponseStatus.PENDED,
            deadline_for_reply=date(2026, 11, 29),
            question_set=QuestionSet(
                "SBX-FU-1",
                "Follow-up",
                (
                    Question(
                        "fu-1",
                        1,
                        "Describe the response to topical therapy.",
                        QuestionType.FREE_TEXT,
                    ),
                ),
            ),
            note="More information needed.",
        ),
    ),
    "pa-response-closed": PAResponse(
        header("MSG-4C", "MSG-3", to_payer=False),
        "REF-1",
        "CASE-9",
        PADecision(
            ResponseStatus.CLOSED, reason_code="BW", note="Case closed: no reply by the deadline."
        ),
    ),
    "pa-appeal-request": PAAppealRequest(
        header("MSG-5", "MSG-4D"),
        "REF-1",
        "CASE-9",
        PATIENT,
        PRESCRIBER,
        MEDICATION,
        reason="Triamcinolone 0.1% used 2025-11-18 to 2026-01-13 (56 days) without adequate response.",
    ),
    "pa-appeal-response": PAAppealResponse(
        header("MSG-6", "MSG-5", to_payer=False),
        "REF-1",
        "CASE-9",
        PADecision(
            ResponseStatus.APPROVED, authorization_number="PA1000002", note="Granted on appeal."
        ),
        appeal_case_id="APL-3",
    ),
    "pa-cancel-request": PACancelRequest(
        header("MSG-7"),
        "REF-1",
        "CASE-9",
        PATIENT,
        PRESCRIBER,
        MEDICATION,
        reason_code="BW",
        patient_notified=True,
        note="Therapy changed.",
    ),
    "pa-cancel-response": PACancelResponse(
        header("MSG-8", "MSG-7", to_payer=False),
        "REF-1",
        "CASE-9",
        CancelStatus.APPROVED,
        note="PA case CASE-9 was cancelled.",
    ),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_message_equals_its_golden_file_and_round_trips(name: str) -> None:
    message = EXAMPLES[name]
    xml = to_xml(message)
    path = GOLDENS / f"{name}.xml"
    if os.environ.get("UPDATE_GOLDENS"):
        path.write_bytes(xml)
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDENS=1 and review it"
    assert xml == path.read_bytes()
    assert parse(xml) == message
    assert parse(path.read_bytes()) == message
    assert to_xml(parse(xml)) == xml  # byte for byte back again


def test_every_transaction_has_a_golden() -> None:
    names = {message_name(m) for m in EXAMPLES.values()}
    assert names == {
        "PAInitiationRequest",
        "PAInitiationResponse",
        "PARequest",
        "PAResponse",
        "PAAppealRequest",
        "PAAppealResponse",
        "PACancelRequest",
        "PACancelResponse",
    }
    assert {p.stem for p in GOLDENS.glob("*.xml")} == set(EXAMPLES)


def test_output_is_namespaced_utf8_and_deterministic() -> None:
    message = EXAMPLES["pa-request"]
    xml = to_xml(message)
    assert xml.startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Message xmlns="http://www.ncpdp.org/schema/SCRIPT">'
    )
    assert to_xml(message) == xml
    assert b"<Body>\n    <PARequest>" in xml


# --- free text: escaping and unicode ------------------------------------------------------------

_XML_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
    | st.sampled_from(["\t", "\n", "\r", "&", "<", ">", '"', "'", "]", "é", "🙂"]),
    min_size=1,
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(note=_XML_TEXT, answer=_XML_TEXT, order_number=_XML_TEXT)
def test_free_text_with_special_characters_round_trips(
    note: str, answer: str, order_number: str
) -> None:
    base = EXAMPLES["pa-request"]
    assert isinstance(base, PARequest)
    message = replace(
        base,
        header=replace(base.header, prescriber_order_number=order_number, to_qualifier=note),
        note=note,
        answers=(QuestionAnswer("ad-member", free_text=answer, additional_free_text=note),),
    )
    assert parse(to_xml(message)) == message


def test_characters_xml_cannot_carry_are_refused_with_their_place() -> None:
    base = EXAMPLES["pa-cancel-response"]
    assert isinstance(base, PACancelResponse)
    with pytest.raises(NcpdpError) as caught:
        to_xml(replace(base, note="bell \x07"))
    assert caught.value.path == "Message/Body/PACancelResponse/Response/Approved/PANote"


def test_an_answer_with_two_kinds_of_value_is_refused() -> None:
    base = EXAMPLES["pa-request"]
    assert isinstance(base, PARequest)
    bad = replace(base, answers=(QuestionAnswer("x", choice_ids=("Y",), free_text="also"),))
    with pytest.raises(NcpdpError, match=r"Question\[x\]/Answer: expected exactly one"):
        to_xml(bad)


# --- located errors ----------------------------------------------------------------------------


def _golden(name: str) -> bytes:
    return (GOLDENS / f"{name}.xml").read_bytes()


def test_malformed_xml_says_line_and_column() -> None:
    with pytest.raises(NcpdpError) as caught:
        parse(b"<Message xmlns='http://www.ncpdp.org/schema/SCRIPT'><Header></Message>")
    assert caught.value.path.startswith("(document) line 1, column")
    assert "expected well-formed XML" in str(caught.value)


def test_wrong_root_element() -> None:
    with pytest.raises(NcpdpError, match=r"^Message: expected the root .*Message, got .*NewRx"):
        parse(b'<NewRx xmlns="http://www.ncpdp.org/schema/SCRIPT"/>')
    with pytest.raises(NcpdpError, match=r"^Message: expected the root"):
        parse(b"<Message/>")  # no namespace


def test_missing_required_element_names_its_path() -> None:
    xml = _golden("pa-request").replace(b"<PAReferenceID>REF-1</PAReferenceID>", b"")
    with pytest.raises(NcpdpError) as caught:
        parse(xml)
    assert str(caught.value) == "Message/Body/PARequest/PAReferenceID: expected text, got nothing"


def test_empty_required_element() -> None:
    xml = _golden("pa-request").replace(b"<PACaseID>CASE-9</PACaseID>", b"<PACaseID/>")
    with pytest.raises(
        NcpdpError, match=r"^Message/Body/PARequest/PACaseID: expected text, got nothing$"
    ):
        parse(xml)


def test_unexpected_element_is_refused() -> None:
    xml = _golden("pa-response-approved").replace(
        b"<AuthorizationNumber>", b"<Surprise>x</Surprise><AuthorizationNumber>"
    )
    with pytest.raises(NcpdpError) as caught:
        parse(xml)
    assert caught.value.path == "Message/Body/PAResponse/Response/Approved/Surprise"


def test_bad_values_are_located() -> None:
    bad_number = _golden("pa-request").replace(
        b"<NumericAnswer>30</NumericAnswer>", b"<NumericAnswer>thirty</NumericAnswer>"
    )
    with pytest.raises(
        NcpdpError, match=r"Question\[2\]/Answer/NumericAnswer: expected a number, got 'thirty'"
    ):
        parse(bad_number)
    bad_date = _golden("pa-response-approved").replace(b"2027-03-14", b"2027-02-30")
    with pytest.raises(
        NcpdpError, match=r"Approved/ExpirationDate/Date: expected a date YYYY-MM-DD"
    ):
        parse(bad_date)
    two_statuses = _golden("pa-cancel-response").replace(b"<Approved>", b"<Denied/><Approved>")
    with pytest.raises(
        NcpdpError,
        match=r"PACancelResponse/Response: expected exactly one of Approved, Denied, got 2",
    ):
        parse(two_statuses)


def test_entities_are_refused() -> None:
    xml = b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x "boom">]><Message xmlns="http://www.ncpdp.org/schema/SCRIPT">&x;</Message>'
    with pytest.raises(NcpdpError, match=r"^\(document\): expected XML without DTDs or entities"):
        parse(xml)


# --- XSD validation (a tiny schema of our own, not NCPDP's) --------------------------------------

TINY_XSD = """<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
           xmlns="http://www.ncpdp.org/schema/SCRIPT"
           targetNamespace="http://www.ncpdp.org/schema/SCRIPT"
           elementFormDefault="qualified">
  <xs:element name="Message">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="Header">
          <xs:complexType>
            <xs:sequence>
              <xs:any processContents="skip" minOccurs="0" maxOccurs="unbounded"/>
            </xs:sequence>
          </xs:complexType>
        </xs:element>
        <xs:element name="Body">
          <xs:complexType>
            <xs:sequence>
              <xs:element name="PACancelResponse">
                <xs:complexType>
                  <xs:sequence>
                    <xs:element name="PAReferenceID" type="xs:string"/>
                    <xs:element name="PACaseID">
                      <xs:simpleType>
                        <xs:restriction base="xs:string"><xs:maxLength value="6"/></xs:restriction>
                      </xs:simpleType>
                    </xs:element>
                    <xs:any processContents="skip" minOccurs="0" maxOccurs="unbounded"/>
                  </xs:sequence>
                </xs:complexType>
              </xs:element>
            </xs:sequence>
          </xs:complexType>
        </xs:element>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
</xs:schema>
"""


@pytest.fixture
def tiny_xsd(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.xsd"
    path.write_text(TINY_XSD, encoding="utf-8")
    return path


def test_validate_passes_a_conforming_message(tiny_xsd: Path) -> None:
    assert validate(_golden("pa-cancel-response"), tiny_xsd) == []


def test_validate_locates_each_error(tiny_xsd: Path) -> None:
    long_case = _golden("pa-cancel-response").replace(b"CASE-9", b"CASE-TOO-LONG")
    errors = validate(long_case, tiny_xsd)
    assert len(errors) == 1
    assert errors[0].startswith("/Message/Body/PACancelResponse/PACaseID: ")
    other = validate(_golden("pa-cancel-request"), tiny_xsd)
    assert other == [
        "/Message/Body: Unexpected child with tag 'PACancelRequest' at position 1. "
        "Tag 'PACancelResponse' expected."
    ]
    assert validate(b"<Message", tiny_xsd)[0].startswith("(document) line 1")
