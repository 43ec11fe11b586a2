"""NCPDP SCRIPT electronic prior authorization (ePA) messages: frozen dataclasses, a
deterministic XML writer and a located parser. Pure: no I/O, no clock.

The eight ePA transactions are PAInitiationRequest -> PAInitiationResponse (the payer's question
set, or the case closed / PA not required) -> PARequest (the answers) -> PAResponse (approved,
denied, pended with more questions, closed), PAAppealRequest -> PAAppealResponse and
PACancelRequest -> PACancelResponse.

Where the names come from (NCPDP's XSD is licensed, so nothing here is copied from it):

- Transaction names: the ONC Cures Update e-prescribing criterion, 45 CFR 170.315(b)(3)(ii)(B)
  "(9) Electronic prior authorization transactions (PAInitiationRequest, PAInitiationResponse,
  PARequest, PAResponse, PAAppealRequest, PAAppealResponse, PACancelRequest, and
  PACancelResponse)".
- Envelope: public SCRIPT samples and HL7's published "Mapping to NCPDP SCRIPT" tables (e.g.
  `Message/Header/PrescriberOrderNumber`, `Message/Body/NewRx`): root `Message` in the
  namespace `http://www.ncpdp.org/schema/SCRIPT`, `Header` with `To`/`From` (attribute
  `Qualifier`), `MessageID`, `SentTime`; `Patient/HumanPatient/Name/LastName`,
  `MedicationPrescribed/DrugDescription`, `Quantity/Value` + `Quantity/CodeListQualifier`
  ("38" = original quantity) and the `Diagnosis` `Primary`/`Secondary` elements named by the
  ONC criterion above.
- Data element names and meanings: AHRQ USHIK, "Data Elements Related to SCRIPT Standard"
  (ushik.ahrq.gov, standardsFormatKey=201519000): PAReferenceID, PACaseID, PANote,
  PBMMemberID, PayerIdentification, PayerName, RelatesToMessageID, DateOfBirth, DaysSupply,
  DrugDescription, DeadlineForReply ("expiration date of the case"), QuestionSetID,
  QuestionSetTitle, QuestionSetDescription, QuestionSetComment, QuestionText,
  DefaultNextQuestionID, CodedReferenceCode / Qualifier / Description, ReasonCode,
  EffectiveDate, ExpirationDate, IsEAppealSupported, IsPatientNotified, AdditionalFreeText.
- Response statuses and fields per transaction: the ONC e-prescribing test data (a public
  MESSAGES table: PAInitiationResponse "Open" with PACaseID + DeadlineForReply or "Closed" with
  ReasonCode + note "Prior authorization is not required"; PAResponse "Approved" with
  AuthorizationNumber, EffectiveDate, ExpirationDate, IsAppealSupported, or "Denied" with a
  note; PAAppealResponse with AppealCaseID; PACancelRequest with ReasonCode and
  IsPatientNotified; PACancelResponse "Approved").

Names chosen here because no public material showed them (a payer's or Surescripts' real XSD
may differ; `validate` checks a message against one when the setting names it):

- the nesting `Response/<Status>` and the status element `Pended` (the ONC data shows only
  Open / Closed / Approved / Denied);
- inside a question: `SequenceNumber`, `CodedReference/{Code,Qualifier,Description}` (USHIK
  lists the three data elements, not their parent), `QuestionType` holding one of `FreeText`,
  `Numeric`, `Date` or `Select` (USHIK lists IsFreeText / IsNumeric, not the structure),
  `Select/SelectMultiple`, `Select/Choice/{ChoiceID,ChoiceText,NextQuestionID}`;
- answers: `Question/Answer` holding one of `SelectAnswer/ChoiceID`, `FreeTextAnswer`,
  `NumericAnswer`, `DateAnswer/Date`, plus `AdditionalFreeText`;
- `DenialReasonText`, `AuthorizationNumber`'s siblings `Quantity` (approved quantity),
  `AppealCaseID` placement, `BenefitsCoordination/{CardholderID,GroupID}` and
  `Prescriber/NonVeterinarian/{Identification/NPI,Specialty}`;
- dates as `<X><Date>YYYY-MM-DD</Date></X>`; booleans as Y / N.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeAlias
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

NAMESPACE = "http://www.ncpdp.org/schema/SCRIPT"
ICD10_QUALIFIER = "ABF"
NDC_QUALIFIER = "ND"
ORIGINAL_QUANTITY = "38"


class NcpdpError(ValueError):
    """A message that can't be read or written, with where and what."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


# --- the messages ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Header:
    to: str
    from_: str
    message_id: str
    sent_time: datetime
    relates_to_message_id: str | None = None
    prescriber_order_number: str | None = None
    to_qualifier: str | None = None
    from_qualifier: str | None = None


@dataclass(frozen=True, slots=True)
class Patient:
    last_name: str
    first_name: str | None
    gender: str
    birth_date: date


@dataclass(frozen=True, slots=True)
class Prescriber:
    npi: str
    last_name: str
    first_name: str | None = None
    specialty: str | None = None  # NUCC taxonomy code


@dataclass(frozen=True, slots=True)
class Quantity:
    value: Decimal
    qualifier: str = ORIGINAL_QUANTITY
    unit: str | None = None  # NCPDP unit of measure code (NCI), e.g. C28254 milliliter


@dataclass(frozen=True, slots=True)
class MedicationPrescribed:
    description: str
    quantity: Quantity
    product_code: str | None = None
    product_code_qualifier: str | None = None  # "ND" for an NDC
    days_supply: int | None = None
    diagnoses: tuple[str, ...] = ()  # ICD-10-CM, the first is the primary one


@dataclass(frozen=True, slots=True)
class BenefitsCoordination:
    payer_id: str
    payer_name: str | None = None
    cardholder_id: str | None = None
    group_id: str | None = None
    pbm_member_id: str | None = None


class QuestionType(StrEnum):
    FREE_TEXT = "FreeText"
    NUMERIC = "Numeric"
    DATE = "Date"
    SELECT = "Select"


@dataclass(frozen=True, slots=True)
class Choice:
    id: str
    text: str
    next_question_id: str | None = None


@dataclass(frozen=True, slots=True)
class CodedReference:
    code: str
    qualifier: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    sequence: int
    text: str
    type: QuestionType
    choices: tuple[Choice, ...] = ()
    select_multiple: bool = False
    default_next_question_id: str | None = None
    coded_reference: CodedReference | None = None


@dataclass(frozen=True, slots=True)
class QuestionSet:
    id: str
    title: str
    questions: tuple[Question, ...]
    description: str | None = None

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)


@dataclass(frozen=True, slots=True)
class QuestionAnswer:
    """The answer to one question as sent: exactly one of choice ids, free text, number, date."""

    question_id: str
    choice_ids: tuple[str, ...] = ()
    free_text: str | None = None
    numeric: Decimal | None = None
    date: date | None = None
    additional_free_text: str | None = None


class InitiationStatus(StrEnum):
    OPEN = "Open"
    CLOSED = "Closed"


class ResponseStatus(StrEnum):
    APPROVED = "Approved"
    DENIED = "Denied"
    PENDED = "Pended"
    CLOSED = "Closed"


class CancelStatus(StrEnum):
    APPROVED = "Approved"
    DENIED = "Denied"


@dataclass(frozen=True, slots=True)
class PADecision:
    """The payer's answer in a PAResponse or PAAppealResponse. A pended decision may carry
    further questions (`question_set`) and a `deadline_for_reply`."""

    status: ResponseStatus
    authorization_number: str | None = None
    effective_date: date | None = None
    expiration_date: date | None = None
    quantity: Quantity | None = None
    reason_code: str | None = None
    reason_text: str | None = None
    deadline_for_reply: date | None = None
    question_set: QuestionSet | None = None
    appeal_supported: bool | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class PAInitiationRequest:
    header: Header
    pa_reference_id: str
    patient: Patient
    prescriber: Prescriber
    medication: MedicationPrescribed
    benefits: BenefitsCoordination
    note: str | None = None


@dataclass(frozen=True, slots=True)
class PAInitiationResponse:
    """Open: the case id, the question set and the deadline. Closed: a reason code and note
    (e.g. PA not required)."""

    header: Header
    pa_reference_id: str
    status: InitiationStatus
    pa_case_id: str | None = None
    deadline_for_reply: date | None = None
    question_set: QuestionSet | None = None
    reason_code: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class PARequest:
    header: Header
    pa_reference_id: str
    pa_case_id: str
    patient: Patient
    prescriber: Prescriber
    medication: MedicationPrescribed
    benefits: BenefitsCoordination
    question_set_id: str
    answers: tuple[QuestionAnswer, ...]
    comment: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class PAResponse:
    header: Header
    pa_reference_id: str
    pa_case_id: str
    decision: PADecision


@dataclass(frozen=True, slots=True)
class PAAppealRequest:
    header: Header
    pa_reference_id: str
    pa_case_id: str
    patient: Patient
    prescriber: Prescriber
    medication: MedicationPrescribed
    reason: str


@dataclass(frozen=True, slots=True)
class PAAppealResponse:
    header: Header
    pa_reference_id: str
    pa_case_id: str
    decision: PADecision
    appeal_case_id: str | None = None


@dataclass(frozen=True, slots=True)
class PACancelRequest:
    header: Header
    pa_reference_id: str
    pa_case_id: str
    patient: Patient
    prescriber: Prescriber
    medication: MedicationPrescribed
    reason_code: str
    patient_notified: bool | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class PACancelResponse:
    header: Header
    pa_reference_id: str
    pa_case_id: str
    status: CancelStatus
    reason_code: str | None = None
    note: str | None = None


EpaMessage: TypeAlias = (
    PAInitiationRequest
    | PAInitiationResponse
    | PARequest
    | PAResponse
    | PAAppealRequest
    | PAAppealResponse
    | PACancelRequest
    | PACancelResponse
)


# --- writing -----------------------------------------------------------------------------------

_INVALID_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(slots=True)
class _Out:
    """An element being written: either text or children (no mixed content)."""

    tag: str
    text: str | None = None
    children: list[_Out] | None = None
    attrs: tuple[tuple[str, str], ...] = ()

    def add(self, tag: str, text: str | None = None, **attrs: str | None) -> _Out:
        child = _Out(tag, text, None, tuple((k, v) for k, v in attrs.items() if v is not None))
        if self.children is None:
            self.children = []
        self.children.append(child)
        return child

    def opt(self, tag: str, text: str | None) -> None:
        if text is not None:
            self.add(tag, text)


def _escape(text: str, where: str, *, attribute: bool = False) -> str:
    bad = _INVALID_XML_CHAR.search(text)
    if bad:
        raise NcpdpError(where, f"expected characters XML 1.0 allows, got {bad.group()!r}")
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = out.replace("\r", "&#13;")  # a parser turns a raw CR into LF
    if attribute:
        out = out.replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")
    return out


def _render(node: _Out, path: str, depth: int, lines: list[str]) -> None:
    where = f"{path}/{node.tag}" if path else node.tag
    pad = "  " * depth
    attrs = "".join(f' {k}="{_escape(v, f"{where}@{k}", attribute=True)}"' for k, v in node.attrs)
    if node.children:
        lines.append(f"{pad}<{node.tag}{attrs}>")
        for child in node.children:
            _render(child, where, depth + 1, lines)
        lines.append(f"{pad}</{node.tag}>")
    elif node.text is None or node.text == "":
        lines.append(f"{pad}<{node.tag}{attrs}/>")
    else:
        lines.append(f"{pad}<{node.tag}{attrs}>{_escape(node.text, where)}</{node.tag}>")


def _yn(value: bool) -> str:
    return "Y" if value else "N"


def _decimal(value: Decimal) -> str:
    return format(value, "f")


def _put_date(parent: _Out, tag: str, value: date | None) -> None:
    if value is not None:
        parent.add(tag).add("Date", value.isoformat())


def _text(value: str, where: str) -> str:
    if value == "":
        raise NcpdpError(where, "expected text, got an empty string")
    return value


def _put_header(parent: _Out, header: Header) -> None:
    out = parent.add("Header")
    out.add("To", _text(header.to, "Message/Header/To"), Qualifier=header.to_qualifier)
    out.add("From", _text(header.from_, "Message/Header/From"), Qualifier=header.from_qualifier)
    out.add("MessageID", _text(header.message_id, "Message/Header/MessageID"))
    out.opt("RelatesToMessageID", header.relates_to_message_id)
    if header.sent_time.tzinfo is None:
        raise NcpdpError("Message/Header/SentTime", "expected a time with a UTC offset, got none")
    out.add("SentTime", header.sent_time.isoformat())
    out.opt("PrescriberOrderNumber", header.prescriber_order_number)


def _put_patient(parent: _Out, patient: Patient) -> None:
    human = parent.add("Patient").add("HumanPatient")
    name = human.add("Name")
    name.add("LastName", patient.last_name)
    name.opt("FirstName", patient.first_name)
    human.add("Gender", patient.gender)
    _put_date(human, "DateOfBirth", patient.birth_date)


def _put_prescriber(parent: _Out, prescriber: Prescriber) -> None:
    person = parent.add("Prescriber").add("NonVeterinarian")
    person.add("Identification").add("NPI", prescriber.npi)
    person.opt("Specialty", prescriber.specialty)
    name = person.add("Name")
    name.add("LastName", prescriber.last_name)
    name.opt("FirstName", prescriber.first_name)


def _put_quantity(parent: _Out, quantity: Quantity) -> None:
    out = parent.add("Quantity")
    out.add("Value", _decimal(quantity.value))
    out.add("CodeListQualifier", quantity.qualifier)
    if quantity.unit is not None:
        out.add("QuantityUnitOfMeasure").add("Code", quantity.unit)


def _put_medication(parent: _Out, med: MedicationPrescribed) -> None:
    out = parent.add("MedicationPrescribed")
    out.add("DrugDescription", med.description)
    if med.product_code is not None:
        code = out.add("DrugCoded").add("ProductCode")
        code.add("Code", med.product_code)
        code.opt("Qualifier", med.product_code_qualifier)
    _put_quantity(out, med.quantity)
    if med.days_supply is not None:
        out.add("DaysSupply", str(med.days_supply))
    if med.diagnoses:
        diagnosis = out.add("Diagnosis")
        for i, icd10 in enumerate(med.diagnoses):
            coded = diagnosis.add("Primary" if i == 0 else "Secondary")
            coded.add("Code", icd10)
            coded.add("Qualifier", ICD10_QUALIFIER)


def _put_benefits(parent: _Out, benefits: BenefitsCoordination) -> None:
    out = parent.add("BenefitsCoordination")
    out.add("PayerIdentification").add("PayerID", benefits.payer_id)
    out.opt("PayerName", benefits.payer_name)
    out.opt("CardholderID", benefits.cardholder_id)
    out.opt("GroupID", benefits.group_id)
    out.opt("PBMMemberID", benefits.pbm_member_id)


def _put_question_set(parent: _Out, qs: QuestionSet) -> None:
    out = parent.add("QuestionSet")
    out.add("QuestionSetID", qs.id)
    out.add("QuestionSetTitle", qs.title)
    out.opt("QuestionSetDescription", qs.description)
    for q in qs.questions:
        question = out.add("Question")
        question.add("QuestionID", q.id)
        question.add("SequenceNumber", str(q.sequence))
        question.add("QuestionText", q.text)
        if q.coded_reference is not None:
            ref = question.add("CodedReference")
            ref.add("Code", q.coded_reference.code)
            ref.add("Qualifier", q.coded_reference.qualifier)
            ref.opt("Description", q.coded_reference.description)
        kind = question.add("QuestionType").add(q.type.value)
        if q.type is QuestionType.SELECT:
            kind.add("SelectMultiple", _yn(q.select_multiple))
            for c in q.choices:
                choice = kind.add("Choice")
                choice.add("ChoiceID", c.id)
                choice.add("ChoiceText", c.text)
                choice.opt("NextQuestionID", c.next_question_id)
        elif q.choices:
            raise NcpdpError(f"QuestionSet/Question[{q.id}]", "expected choices only on Select")
        question.opt("DefaultNextQuestionID", q.default_next_question_id)


def _put_answers(parent: _Out, question_set_id: str, answers: tuple[QuestionAnswer, ...]) -> None:
    out = parent.add("QuestionSet")
    out.add("QuestionSetID", question_set_id)
    for a in answers:
        question = out.add("Question")
        question.add("QuestionID", a.question_id)
        answer = question.add("Answer")
        kinds = [
            bool(a.choice_ids),
            a.free_text is not None,
            a.numeric is not None,
            a.date is not None,
        ]
        if sum(kinds) != 1:
            raise NcpdpError(
                f"Message/Body/PARequest/QuestionSet/Question[{a.question_id}]/Answer",
                f"expected exactly one of choice ids, free text, number, date, got {sum(kinds)}",
            )
        if a.choice_ids:
            select = answer.add("SelectAnswer")
            for choice_id in a.choice_ids:
                select.add("ChoiceID", choice_id)
        elif a.free_text is not None:
            answer.add("FreeTextAnswer", a.free_text)
        elif a.numeric is not None:
            answer.add("NumericAnswer", _decimal(a.numeric))
        else:
            _put_date(answer, "DateAnswer", a.date)
        answer.opt("AdditionalFreeText", a.additional_free_text)


def _put_decision(parent: _Out, decision: PADecision) -> None:
    out = parent.add("Response").add(decision.status.value)
    out.opt("AuthorizationNumber", decision.authorization_number)
    _put_date(out, "EffectiveDate", decision.effective_date)
    _put_date(out, "ExpirationDate", decision.expiration_date)
    if decision.quantity is not None:
        _put_quantity(out, decision.quantity)
    out.opt("ReasonCode", decision.reason_code)
    out.opt("DenialReasonText", decision.reason_text)
    _put_date(out, "DeadlineForReply", decision.deadline_for_reply)
    if decision.question_set is not None:
        _put_question_set(out, decision.question_set)
    if decision.appeal_supported is not None:
        out.add("IsEAppealSupported", _yn(decision.appeal_supported))
    out.opt("PANote", decision.note)


def _w_initiation_request(body: _Out, m: PAInitiationRequest) -> None:
    body.add("PAReferenceID", m.pa_reference_id)
    _put_patient(body, m.patient)
    _put_benefits(body, m.benefits)
    _put_prescriber(body, m.prescriber)
    _put_medication(body, m.medication)
    body.opt("PANote", m.note)


def _w_initiation_response(body: _Out, m: PAInitiationResponse) -> None:
    body.add("PAReferenceID", m.pa_reference_id)
    body.opt("PACaseID", m.pa_case_id)
    out = body.add("Response").add(m.status.value)
    out.opt("ReasonCode", m.reason_code)
    _put_date(out, "DeadlineForReply", m.deadline_for_reply)
    if m.question_set is not None:
        _put_question_set(out, m.question_set)
    out.opt("PANote", m.note)


def _w_pa_request(body: _Out, m: PARequest) -> None:
    body.add("PAReferenceID", m.pa_reference_id)
    body.add("PACaseID", m.pa_case_id)
    _put_patient(body, m.patient)
    _put_benefits(body, m.benefits)
    _put_prescriber(body, m.prescriber)
    _put_medication(body, m.medication)
    _put_answers(body, m.question_set_id, m.answers)
    body.opt("QuestionSetComment", m.comment)
    body.opt("PANote", m.note)


def _w_pa_response(body: _Out, m: PAResponse) -> None:
    body.add("PAReferenceID", m.pa_reference_id)
    body.add("PACaseID", m.pa_case_id)
    _put_decision(body, m.decision)


def _w_appeal_request(body: _Out, m: PAAppealRequest) -> None:
    body.add("PAReferenceID", m.pa_reference_id)
    body.add("PACaseID", m.pa_case_id)
    _put_patient(body, m.patient)
    _put_prescriber(body, m.prescriber)
    _put_medication(body, m.medication)
    body.add("PANote", m.reason)


def _w_appeal_response(body: _Out, m: PAAppealResponse) -> None:
    body.add("PAReferenceID", m.pa_reference_id)
    body.add("PACaseID", m.pa_case_id)
    body.opt("AppealCaseID", m.appeal_case_id)
    _put_decision(body, m.decision)


def _w_cancel_request(body: _Out, m: PACancelRequest) -> None:
    body.add("PAReferenceID", m.pa_reference_id)
    body.add("PACaseID", m.pa_case_id)
    _put_patient(body, m.patient)
    _put_prescriber(body, m.prescriber)
    _put_medication(body, m.medication)
    body.add("ReasonCode", m.reason_code)
    if m.patient_notified is not None:
        body.add("IsPatientNotified", _yn(m.patient_notified))
    body.opt("PANote", m.note)


def _w_cancel_response(body: _Out, m: PACancelResponse) -> None:
    body.add("PAReferenceID", m.pa_reference_id)
    body.add("PACaseID", m.pa_case_id)
    out = body.add("Response").add(m.status.value)
    out.opt("ReasonCode", m.reason_code)
    out.opt("PANote", m.note)


_Writer = Callable[[_Out, Any], None]
_WRITERS: dict[type[Any], tuple[str, _Writer]] = {
    PAInitiationRequest: ("PAInitiationRequest", _w_initiation_request),
    PAInitiationResponse: ("PAInitiationResponse", _w_initiation_response),
    PARequest: ("PARequest", _w_pa_request),
    PAResponse: ("PAResponse", _w_pa_response),
    PAAppealRequest: ("PAAppealRequest", _w_appeal_request),
    PAAppealResponse: ("PAAppealResponse", _w_appeal_response),
    PACancelRequest: ("PACancelRequest", _w_cancel_request),
    PACancelResponse: ("PACancelResponse", _w_cancel_response),
}


def to_xml(message: EpaMessage) -> bytes:
    """The message as UTF-8 XML. Deterministic: the same message gives the same bytes."""
    entry = _WRITERS.get(type(message))
    if entry is None:
        raise NcpdpError("Message", f"expected an ePA message, got {type(message).__name__}")
    name, writer = entry
    root = _Out("Message", attrs=(("xmlns", NAMESPACE),))
    _put_header(root, message.header)
    writer(root.add("Body").add(name), message)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>']
    _render(root, "", 0, lines)
    return ("\n".join(lines) + "\n").encode("utf-8")


# --- reading -----------------------------------------------------------------------------------

_NS = f"{{{NAMESPACE}}}"


class _In:
    """An element being read, with its path for error messages."""

    __slots__ = ("el", "path")

    def __init__(self, el: Element, path: str) -> None:
        self.el = el
        self.path = path

    def _kids(self) -> Iterator[tuple[str, Element]]:
        for child in self.el:
            tag = child.tag if isinstance(child.tag, str) else ""
            if not tag.startswith(_NS):
                raise NcpdpError(
                    f"{self.path}/{tag}", f"expected an element in {NAMESPACE}, got {tag!r}"
                )
            yield tag[len(_NS) :], child

    def only(self, *names: str) -> None:
        """Refuse children this element can't hold."""
        allowed = set(names)
        for name, _child in self._kids():
            if name not in allowed:
                raise NcpdpError(
                    f"{self.path}/{name}",
                    f"expected one of {', '.join(names) or '(nothing)'}, got {name}",
                )

    def all(self, name: str) -> list[_In]:
        found = [c for n, c in self._kids() if n == name]
        if len(found) == 1:
            return [_In(found[0], f"{self.path}/{name}")]
        return [_In(c, f"{self.path}/{name}[{i + 1}]") for i, c in enumerate(found)]

    def opt(self, name: str) -> _In | None:
        found = self.all(name)
        if len(found) > 1:
            raise NcpdpError(f"{self.path}/{name}", f"expected at most one, got {len(found)}")
        return found[0] if found else None

    def one(self, name: str) -> _In:
        found = self.opt(name)
        if found is None:
            raise NcpdpError(f"{self.path}/{name}", "expected an element, got nothing")
        return found

    def own_text(self) -> str:
        if len(self.el):
            raise NcpdpError(self.path, "expected text, got elements")
        if not self.el.text:
            raise NcpdpError(self.path, "expected text, got nothing")
        return self.el.text

    def text(self, name: str) -> str:
        found = self.opt(name)
        if found is None:
            raise NcpdpError(f"{self.path}/{name}", "expected text, got nothing")
        return found.own_text()

    def opt_text(self, name: str) -> str | None:
        found = self.opt(name)
        return None if found is None else found.own_text()


def _as_decimal(node: _In) -> Decimal:
    raw = node.own_text()
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise NcpdpError(node.path, f"expected a number, got {raw!r}") from None
    if not value.is_finite():
        raise NcpdpError(node.path, f"expected a number, got {raw!r}")
    return value


def _as_int(node: _In) -> int:
    raw = node.own_text()
    if not re.fullmatch(r"[0-9]+", raw.strip()):
        raise NcpdpError(node.path, f"expected a whole number, got {raw!r}")
    return int(raw)


def _as_bool(node: _In) -> bool:
    raw = node.own_text()
    if raw not in ("Y", "N"):
        raise NcpdpError(node.path, f"expected Y or N, got {raw!r}")
    return raw == "Y"


def _get_date(parent: _In, name: str) -> date | None:
    holder = parent.opt(name)
    if holder is None:
        return None
    holder.only("Date")
    node = holder.one("Date")
    raw = node.own_text()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise NcpdpError(node.path, f"expected a date YYYY-MM-DD, got {raw!r}") from None


def _need_date(parent: _In, name: str) -> date:
    value = _get_date(parent, name)
    if value is None:
        raise NcpdpError(f"{parent.path}/{name}", "expected a date, got nothing")
    return value


def _one_status(parent: _In, statuses: tuple[str, ...]) -> tuple[str, _In]:
    response = parent.one("Response")
    response.only(*statuses)
    kids = [(n, c) for n, c in response._kids()]
    if len(kids) != 1:
        raise NcpdpError(
            response.path, f"expected exactly one of {', '.join(statuses)}, got {len(kids)}"
        )
    name = kids[0][0]
    return name, _In(kids[0][1], f"{response.path}/{name}")


def _r_header(node: _In) -> Header:
    node.only("To", "From", "MessageID", "RelatesToMessageID", "SentTime", "PrescriberOrderNumber")
    sent_node = node.one("SentTime")
    raw = sent_node.own_text()
    try:
        sent = datetime.fromisoformat(raw)
    except ValueError:
        raise NcpdpError(sent_node.path, f"expected a date and time, got {raw!r}") from None
    if sent.tzinfo is None:
        raise NcpdpError(sent_node.path, f"expected a UTC offset, got {raw!r}")
    to = node.one("To")
    sender = node.one("From")
    return Header(
        to=to.own_text(),
        from_=sender.own_text(),
        message_id=node.text("MessageID"),
        sent_time=sent,
        relates_to_message_id=node.opt_text("RelatesToMessageID"),
        prescriber_order_number=node.opt_text("PrescriberOrderNumber"),
        to_qualifier=to.el.get("Qualifier"),
        from_qualifier=sender.el.get("Qualifier"),
    )


def _r_patient(body: _In) -> Patient:
    patient = body.one("Patient")
    patient.only("HumanPatient")
    human = patient.one("HumanPatient")
    human.only("Name", "Gender", "DateOfBirth")
    name = human.one("Name")
    name.only("LastName", "FirstName")
    return Patient(
        last_name=name.text("LastName"),
        first_name=name.opt_text("FirstName"),
        gender=human.text("Gender"),
        birth_date=_need_date(human, "DateOfBirth"),
    )


def _r_prescriber(body: _In) -> Prescriber:
    prescriber = body.one("Prescriber")
    prescriber.only("NonVeterinarian")
    person = prescriber.one("NonVeterinarian")
    person.only("Identification", "Specialty", "Name")
    ident = person.one("Identification")
    ident.only("NPI")
    name = person.one("Name")
    name.only("LastName", "FirstName")
    return Prescriber(
        npi=ident.text("NPI"),
        last_name=name.text("LastName"),
        first_name=name.opt_text("FirstName"),
        specialty=person.opt_text("Specialty"),
    )


def _r_quantity(node: _In) -> Quantity:
    node.only("Value", "CodeListQualifier", "QuantityUnitOfMeasure")
    unit_node = node.opt("QuantityUnitOfMeasure")
    unit = None
    if unit_node is not None:
        unit_node.only("Code")
        unit = unit_node.text("Code")
    return Quantity(
        value=_as_decimal(node.one("Value")),
        qualifier=node.text("CodeListQualifier"),
        unit=unit,
    )


def _r_medication(body: _In) -> MedicationPrescribed:
    med = body.one("MedicationPrescribed")
    med.only("DrugDescription", "DrugCoded", "Quantity", "DaysSupply", "Diagnosis")
    code: str | None = None
    qualifier: str | None = None
    coded = med.opt("DrugCoded")
    if coded is not None:
        coded.only("ProductCode")
        product = coded.one("ProductCode")
        product.only("Code", "Qualifier")
        code = product.text("Code")
        qualifier = product.opt_text("Qualifier")
    diagnoses: list[str] = []
    diagnosis = med.opt("Diagnosis")
    if diagnosis is not None:
        diagnosis.only("Primary", "Secondary")
        for coded_dx in diagnosis.all("Primary") + diagnosis.all("Secondary"):
            coded_dx.only("Code", "Qualifier")
            got = coded_dx.text("Qualifier")
            if got != ICD10_QUALIFIER:
                raise NcpdpError(
                    f"{coded_dx.path}/Qualifier", f"expected {ICD10_QUALIFIER}, got {got!r}"
                )
            diagnoses.append(coded_dx.text("Code"))
        if diagnoses and not diagnosis.all("Primary"):
            raise NcpdpError(f"{diagnosis.path}/Primary", "expected an element, got nothing")
    days = med.opt("DaysSupply")
    return MedicationPrescribed(
        description=med.text("DrugDescription"),
        quantity=_r_quantity(med.one("Quantity")),
        product_code=code,
        product_code_qualifier=qualifier,
        days_supply=None if days is None else _as_int(days),
        diagnoses=tuple(diagnoses),
    )


def _r_benefits(body: _In) -> BenefitsCoordination:
    node = body.one("BenefitsCoordination")
    node.only("PayerIdentification", "PayerName", "CardholderID", "GroupID", "PBMMemberID")
    payer = node.one("PayerIdentification")
    payer.only("PayerID")
    return BenefitsCoordination(
        payer_id=payer.text("PayerID"),
        payer_name=node.opt_text("PayerName"),
        cardholder_id=node.opt_text("CardholderID"),
        group_id=node.opt_text("GroupID"),
        pbm_member_id=node.opt_text("PBMMemberID"),
    )


def _r_question(node: _In) -> Question:
    node.only(
        "QuestionID",
        "SequenceNumber",
        "QuestionText",
        "CodedReference",
        "QuestionType",
        "DefaultNextQuestionID",
    )
    ref_node = node.opt("CodedReference")
    ref = None
    if ref_node is not None:
        ref_node.only("Code", "Qualifier", "Description")
        ref = CodedReference(
            code=ref_node.text("Code"),
            qualifier=ref_node.text("Qualifier"),
            description=ref_node.opt_text("Description"),
        )
    kinds = [k.value for k in QuestionType]
    kind_name, kind_node = _only_child(node.one("QuestionType"), tuple(kinds))
    kind = QuestionType(kind_name)
    choices: list[Choice] = []
    multiple = False
    if kind is QuestionType.SELECT:
        kind_node.only("SelectMultiple", "Choice")
        flag = kind_node.opt("SelectMultiple")
        multiple = False if flag is None else _as_bool(flag)
        for c in kind_node.all("Choice"):
            c.only("ChoiceID", "ChoiceText", "NextQuestionID")
            choices.append(
                Choice(
                    id=c.text("ChoiceID"),
                    text=c.text("ChoiceText"),
                    next_question_id=c.opt_text("NextQuestionID"),
                )
            )
        if not choices:
            raise NcpdpError(f"{kind_node.path}/Choice", "expected an element, got nothing")
    else:
        kind_node.only()
    return Question(
        id=node.text("QuestionID"),
        sequence=_as_int(node.one("SequenceNumber")),
        text=node.text("QuestionText"),
        type=kind,
        choices=tuple(choices),
        select_multiple=multiple,
        default_next_question_id=node.opt_text("DefaultNextQuestionID"),
        coded_reference=ref,
    )


def _only_child(node: _In, names: tuple[str, ...]) -> tuple[str, _In]:
    node.only(*names)
    kids = list(node._kids())
    if len(kids) != 1:
        raise NcpdpError(node.path, f"expected exactly one of {', '.join(names)}, got {len(kids)}")
    name = kids[0][0]
    return name, _In(kids[0][1], f"{node.path}/{name}")


def _r_question_set(node: _In) -> QuestionSet:
    node.only("QuestionSetID", "QuestionSetTitle", "QuestionSetDescription", "Question")
    questions = tuple(_r_question(q) for q in node.all("Question"))
    if not questions:
        raise NcpdpError(f"{node.path}/Question", "expected an element, got nothing")
    return QuestionSet(
        id=node.text("QuestionSetID"),
        title=node.text("QuestionSetTitle"),
        questions=questions,
        description=node.opt_text("QuestionSetDescription"),
    )


def _r_answers(body: _In) -> tuple[str, tuple[QuestionAnswer, ...]]:
    qs = body.one("QuestionSet")
    qs.only("QuestionSetID", "Question")
    answers: list[QuestionAnswer] = []
    for q in qs.all("Question"):
        q.only("QuestionID", "Answer")
        answer = q.one("Answer")
        value_kinds = ("SelectAnswer", "FreeTextAnswer", "NumericAnswer", "DateAnswer")
        answer.only(*value_kinds, "AdditionalFreeText")
        present = [k for k in value_kinds if answer.opt(k) is not None]
        if len(present) != 1:
            raise NcpdpError(
                answer.path, f"expected exactly one of {', '.join(value_kinds)}, got {len(present)}"
            )
        choice_ids: tuple[str, ...] = ()
        select = answer.opt("SelectAnswer")
        if select is not None:
            select.only("ChoiceID")
            choice_ids = tuple(c.own_text() for c in select.all("ChoiceID"))
            if not choice_ids:
                raise NcpdpError(f"{select.path}/ChoiceID", "expected text, got nothing")
        numeric = answer.opt("NumericAnswer")
        answers.append(
            QuestionAnswer(
                question_id=q.text("QuestionID"),
                choice_ids=choice_ids,
                free_text=answer.opt_text("FreeTextAnswer"),
                numeric=None if numeric is None else _as_decimal(numeric),
                date=_get_date(answer, "DateAnswer"),
                additional_free_text=answer.opt_text("AdditionalFreeText"),
            )
        )
    return qs.text("QuestionSetID"), tuple(answers)


def _r_decision(body: _In) -> PADecision:
    name, node = _one_status(body, tuple(s.value for s in ResponseStatus))
    node.only(
        "AuthorizationNumber",
        "EffectiveDate",
        "ExpirationDate",
        "Quantity",
        "ReasonCode",
        "DenialReasonText",
        "DeadlineForReply",
        "QuestionSet",
        "IsEAppealSupported",
        "PANote",
    )
    quantity = node.opt("Quantity")
    qs = node.opt("QuestionSet")
    appeal = node.opt("IsEAppealSupported")
    return PADecision(
        status=ResponseStatus(name),
        authorization_number=node.opt_text("AuthorizationNumber"),
        effective_date=_get_date(node, "EffectiveDate"),
        expiration_date=_get_date(node, "ExpirationDate"),
        quantity=None if quantity is None else _r_quantity(quantity),
        reason_code=node.opt_text("ReasonCode"),
        reason_text=node.opt_text("DenialReasonText"),
        deadline_for_reply=_get_date(node, "DeadlineForReply"),
        question_set=None if qs is None else _r_question_set(qs),
        appeal_supported=None if appeal is None else _as_bool(appeal),
        note=node.opt_text("PANote"),
    )


_PARTY = ("Patient", "BenefitsCoordination", "Prescriber", "MedicationPrescribed")


def _r_initiation_request(h: Header, body: _In) -> PAInitiationRequest:
    body.only("PAReferenceID", *_PARTY, "PANote")
    return PAInitiationRequest(
        header=h,
        pa_reference_id=body.text("PAReferenceID"),
        patient=_r_patient(body),
        prescriber=_r_prescriber(body),
        medication=_r_medication(body),
        benefits=_r_benefits(body),
        note=body.opt_text("PANote"),
    )


def _r_initiation_response(h: Header, body: _In) -> PAInitiationResponse:
    body.only("PAReferenceID", "PACaseID", "Response")
    name, node = _one_status(body, tuple(s.value for s in InitiationStatus))
    node.only("ReasonCode", "DeadlineForReply", "QuestionSet", "PANote")
    qs = node.opt("QuestionSet")
    return PAInitiationResponse(
        header=h,
        pa_reference_id=body.text("PAReferenceID"),
        status=InitiationStatus(name),
        pa_case_id=body.opt_text("PACaseID"),
        deadline_for_reply=_get_date(node, "DeadlineForReply"),
        question_set=None if qs is None else _r_question_set(qs),
        reason_code=node.opt_text("ReasonCode"),
        note=node.opt_text("PANote"),
    )


def _r_pa_request(h: Header, body: _In) -> PARequest:
    body.only("PAReferenceID", "PACaseID", *_PARTY, "QuestionSet", "QuestionSetComment", "PANote")
    qs_id, answers = _r_answers(body)
    return PARequest(
        header=h,
        pa_reference_id=body.text("PAReferenceID"),
        pa_case_id=body.text("PACaseID"),
        patient=_r_patient(body),
        prescriber=_r_prescriber(body),
        medication=_r_medication(body),
        benefits=_r_benefits(body),
        question_set_id=qs_id,
        answers=answers,
        comment=body.opt_text("QuestionSetComment"),
        note=body.opt_text("PANote"),
    )


def _r_pa_response(h: Header, body: _In) -> PAResponse:
    body.only("PAReferenceID", "PACaseID", "Response")
    return PAResponse(
        header=h,
        pa_reference_id=body.text("PAReferenceID"),
        pa_case_id=body.text("PACaseID"),
        decision=_r_decision(body),
    )


def _r_appeal_request(h: Header, body: _In) -> PAAppealRequest:
    body.only(
        "PAReferenceID", "PACaseID", "Patient", "Prescriber", "MedicationPrescribed", "PANote"
    )
    return PAAppealRequest(
        header=h,
        pa_reference_id=body.text("PAReferenceID"),
        pa_case_id=body.text("PACaseID"),
        patient=_r_patient(body),
        prescriber=_r_prescriber(body),
        medication=_r_medication(body),
        reason=body.text("PANote"),
    )


def _r_appeal_response(h: Header, body: _In) -> PAAppealResponse:
    body.only("PAReferenceID", "PACaseID", "AppealCaseID", "Response")
    return PAAppealResponse(
        header=h,
        pa_reference_id=body.text("PAReferenceID"),
        pa_case_id=body.text("PACaseID"),
        decision=_r_decision(body),
        appeal_case_id=body.opt_text("AppealCaseID"),
    )


def _r_cancel_request(h: Header, body: _In) -> PACancelRequest:
    body.only(
        "PAReferenceID",
        "PACaseID",
        "Patient",
        "Prescriber",
        "MedicationPrescribed",
        "ReasonCode",
        "IsPatientNotified",
        "PANote",
    )
    notified = body.opt("IsPatientNotified")
    return PACancelRequest(
        header=h,
        pa_reference_id=body.text("PAReferenceID"),
        pa_case_id=body.text("PACaseID"),
        patient=_r_patient(body),
        prescriber=_r_prescriber(body),
        medication=_r_medication(body),
        reason_code=body.text("ReasonCode"),
        patient_notified=None if notified is None else _as_bool(notified),
        note=body.opt_text("PANote"),
    )


def _r_cancel_response(h: Header, body: _In) -> PACancelResponse:
    body.only("PAReferenceID", "PACaseID", "Response")
    name, node = _one_status(body, tuple(s.value for s in CancelStatus))
    node.only("ReasonCode", "PANote")
    return PACancelResponse(
        header=h,
        pa_reference_id=body.text("PAReferenceID"),
        pa_case_id=body.text("PACaseID"),
        status=CancelStatus(name),
        reason_code=node.opt_text("ReasonCode"),
        note=node.opt_text("PANote"),
    )


_Reader = Callable[[Header, _In], EpaMessage]
_READERS: dict[str, _Reader] = {
    "PAInitiationRequest": _r_initiation_request,
    "PAInitiationResponse": _r_initiation_response,
    "PARequest": _r_pa_request,
    "PAResponse": _r_pa_response,
    "PAAppealRequest": _r_appeal_request,
    "PAAppealResponse": _r_appeal_response,
    "PACancelRequest": _r_cancel_request,
    "PACancelResponse": _r_cancel_response,
}


def _parse_tree(xml: bytes) -> Element:
    try:
        root: Element = SafeET.fromstring(xml)
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise NcpdpError(
            f"(document) line {line}, column {column}", f"expected well-formed XML, got {exc}"
        ) from None
    except DefusedXmlException as exc:
        raise NcpdpError(
            "(document)", f"expected XML without DTDs or entities, got {exc}"
        ) from None
    return root


def parse(xml: bytes) -> EpaMessage:
    """Read one ePA message; anything malformed or unexpected raises NcpdpError with its path."""
    root = _parse_tree(xml)
    if root.tag != f"{_NS}Message":
        raise NcpdpError("Message", f"expected the root {_NS}Message, got {root.tag}")
    message = _In(root, "Message")
    message.only("Header", "Body")
    header = _r_header(message.one("Header"))
    body = message.one("Body")
    name, node = _only_child(body, tuple(_READERS))
    return _READERS[name](header, node)


def message_name(message: EpaMessage) -> str:
    """The transaction name (the Body element) of a message."""
    return _WRITERS[type(message)][0]


def validate(xml: bytes, xsd_path: Path) -> list[str]:
    """Check a message against an XSD (a payer's or NCPDP's, named by a setting); each error as
    "path: reason". Empty when valid. Malformed XML is one located error."""
    import xmlschema

    try:
        root = _parse_tree(xml)
    except NcpdpError as exc:
        return [str(exc)]
    schema = xmlschema.XMLSchema(str(xsd_path))
    errors = []
    for error in schema.iter_errors(root):
        where = re.sub(r"\{[^}]*\}", "", error.path or "") or "(document)"
        reason = re.sub(r"\{[^}]*\}", "", error.reason or error.message)
        errors.append(f"{where}: {reason}")
    return errors
