"""275 Additional Information to Support a Health Care Claim or Encounter (X12 005010X210).

What we send: an unsolicited attachment (BGN01 02) for a claim the payer denied, carrying a
document (the signed appeal PDF) in BIN. Also read back, for round trips and for
`dermrcm x12 parse`.

- `write_275(model, params, clock, control_numbers) -> bytes`: one 275 in its own interchange;
  the envelope filled from `EnvelopeParams`, an injected clock and control-number source; bytes
  because BIN02 is octets (`envelope.encode`: UTF-8 text, Latin-1 from the first BIN on).
- `read_transaction(txn)` / `read_275(data)`: models plus located problems.

Layout written (sources in `x210_codes`; the TR3 is licensed, so each choice cites the public
material we read):

    ST*275*0001*005010X210~
    BGN*02*<reference>*<CCYYMMDD>*<HHMM>~            BGN01 02 unsolicited, 11 response to a 277
    NM1*PR*2*<payer>*****PI*<payer id>~               1000A payer
    NM1*41*2*<submitter>*****46*<ETIN>~               1000B submitter
    NM1*1P*2*<provider>*****XX*<NPI>~                 1000C provider
    NM1*QC*1*<last>*<first>*<middle>***MI*<member>~   1000D patient
    REF*EJ*<CLM01>~  REF*1K*<CLP07>~  REF*EA*<MRN>~   1000D (each only when known)
    DTP*472*D8*<date>~ (or RD8 <from>-<to>)          1000D claim service date
    LX*1~ TRN*1*<attachment control number>~          2000A, one per document
    DTP*368*D8*<submitted>~ CAT*AE*IA~                2100B
    EFI*05~ BIN*<octets>*<the document>~              2110B

BIN (X12 BIN segment, stedi.com/edi/x12-005020/segment/BIN): BIN01 is "the length in integral
octets of the binary data", BIN02 "a string of octets which can assume any binary pattern from
hexadecimal 00 to FF". The document may therefore hold every delimiter; the writer and the
tokenizer (`segments`) delimit it by its length, never by a terminator, and a BIN01 that does not
match is a located problem (`2110B BIN01 (segment 16): expected ...`).

Open points, said rather than guessed:
- REF*1K (payer claim control number, the 835's CLP07) in 1000D is the qualifier the 277 X212/X214
  uses for it (2200D); no public X210 source we could read confirms its place in the 275. It is
  written only when known; a payer's companion guide decides.
- The HL7 Additional Information Specification puts a MIME package (a CDA document, whose
  non-XML body may be the PDF) in BIN02 (TIBCO Foresight's X210 notes: "The BIN02 element consists
  of a MIME-multipart message"). We carry the PDF itself, CAT02 IA (unstructured document, as the
  UHC companion guide uses for images); a payer that requires the CDA/MIME wrapper needs one.
- The attachment type is the CAT code (AE attachment, IA unstructured); a LOINC attachment code
  travels in the 277/275 STC of a solicited exchange, which we do not write.

Validation: pyx12 4.0 ships no 275 map (its `map/` holds 270/271/276/277/278/820/834/835/837/
999 maps only, none for 275), so nothing cross-checks this module; it is tested by round trips,
a golden file and properties. It checks ST01/ST03 (GS08 when ST03 is empty), BGN01 and BGN03,
the four heading NM1 loops in order with their entity and id qualifiers, 1000D REF qualifiers,
D8/RD8 dates, each 2000A loop's TRN, DTP*368, CAT, EFI and BIN, and BIN01 against BIN02.
Element lengths and the TR3's other situational rules are not checked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from integration.x12 import x210_codes as codes
from integration.x12 import x231_codes as ack_codes
from integration.x12.envelope import (
    Clock,
    ControlNumberSource,
    EnvelopeParams,
    SegmentSpec,
    Transaction,
    TransactionContext,
    encode,
    read_transactions,
    write_new_transaction,
    write_transaction,
)
from integration.x12.errors import Problem, X12Error
from integration.x12.guide_parser import GuideParser
from integration.x12.segments import Segment, ccyymmdd

# -- models -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Party:
    """NM1 of a heading loop: payer (PR), submitter (41), provider (1P) or patient (QC)."""

    entity_code: str
    entity_type: str  # NM102: 1 person, 2 non-person
    last_or_organization: str
    first: str = ""
    middle: str = ""
    id_qualifier: str = ""  # NM108: PI payer id, 46 ETIN, XX NPI, MI member id
    id: str = ""


@dataclass(frozen=True, slots=True)
class ServiceDates:
    """DTP*472: the claim's date of service (D8) or its range (RD8)."""

    start: date
    end: date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Patient:
    """Loop 1000D: the patient and the claim the attachment belongs to."""

    name: Party
    patient_control_number: str = ""  # REF*EJ: our CLM01
    payer_claim_number: str = ""  # REF*1K: the payer's claim number (835 CLP07)
    medical_record_number: str = ""  # REF*EA
    service: ServiceDates | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """Loop 2000A and its 2100B/2110B: one attached document."""

    control_number: str  # TRN02: the attachment control number
    submitted: date  # DTP*368
    data: bytes  # BIN02
    trace_type: str = codes.TRACE_UNSOLICITED  # TRN01
    category: str = codes.CATEGORY_ATTACHMENT  # CAT01
    format_code: str = codes.FORMAT_IMAGE  # CAT02
    security_level: str = codes.EFI_DEFAULT  # EFI01

    @property
    def media_type(self) -> str:
        return "application/pdf" if self.data.startswith(b"%PDF-") else "application/octet-stream"


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment275:
    reference: str  # BGN02
    created: datetime  # BGN03 date, BGN04 time (HHMM)
    payer: Party
    submitter: Party
    provider: Party
    patient: Patient
    documents: tuple[Document, ...]
    purpose: str = codes.PURPOSE_UNSOLICITED  # BGN01
    envelope: TransactionContext | None = field(default=None, compare=False)


def attachment_to_json(model: Any) -> dict[str, Any]:
    """`dermrcm x12 parse` output: the model with each document as its length, media type and
    SHA-256 (the document itself is PHI and binary: it is not printed)."""
    from integration.x12.guides import model_to_json

    assert isinstance(model, Attachment275)
    out = model_to_json(model)
    out["documents"] = [
        {
            **{k: v for k, v in model_to_json(doc).items() if k != "data"},
            "octets": len(doc.data),
            "media_type": doc.media_type,
            "sha256": hashlib.sha256(doc.data).hexdigest(),
        }
        for doc in model.documents
    ]
    return out


def attachment_counts(model: Any) -> dict[str, int]:
    assert isinstance(model, Attachment275)
    return {"attachments": len(model.documents)}


# -- writing ------------------------------------------------------------------------------------


def _problem(loop: str | None, segment: str, element: str, message: str) -> Problem:
    return Problem(loop_id=loop, segment_id=segment, element=element, message=message)


def _party(p: Party, loop: str, problems: list[Problem]) -> SegmentSpec:
    if p.entity_code not in codes.LOOPS or codes.LOOPS[p.entity_code] != loop:
        expected = next(code for code, name in codes.LOOPS.items() if name == loop)
        problems.append(
            _problem(loop, "NM1", "NM101", f"expected {expected!r}, got {p.entity_code!r}")
        )
    if p.entity_type not in codes.ENTITY_TYPES:
        problems.append(_problem(loop, "NM1", "NM102", f"expected 1 or 2, got {p.entity_type!r}"))
    if not p.last_or_organization:
        problems.append(_problem(loop, "NM1", "NM103", "expected a name, got nothing"))
    if not p.id:
        name = codes.ENTITY_NAMES.get(p.entity_code, "party")
        problems.append(
            _problem(loop, "NM1", "NM109", f"expected the {name}'s identifier, got nothing")
        )
    qualifier = p.id_qualifier or codes.ID_QUALIFIERS.get(p.entity_code, "")
    return (
        "NM1",
        [
            p.entity_code,
            p.entity_type,
            p.last_or_organization,
            p.first,
            p.middle,
            "",
            "",
            qualifier if p.id else "",
            p.id,
        ],
    )


def _dates(period: ServiceDates) -> tuple[str, str]:
    if period.end is None or period.end == period.start:
        return "D8", period.start.strftime("%Y%m%d")
    return "RD8", f"{period.start:%Y%m%d}-{period.end:%Y%m%d}"


def _body(model: Attachment275) -> list[SegmentSpec]:
    problems: list[Problem] = []
    out: list[SegmentSpec] = []
    if model.purpose not in codes.PURPOSES:
        problems.append(
            _problem(None, "BGN", "BGN01", f"expected one of 02, 11, got {model.purpose!r}")
        )
    if not model.reference:
        problems.append(_problem(None, "BGN", "BGN02", "expected a reference, got nothing"))
    out.append(
        (
            "BGN",
            [
                model.purpose,
                model.reference,
                model.created.strftime("%Y%m%d"),
                model.created.strftime("%H%M"),
            ],
        )
    )
    out.append(_party(model.payer, "1000A", problems))
    out.append(_party(model.submitter, "1000B", problems))
    out.append(_party(model.provider, "1000C", problems))
    patient = model.patient
    out.append(_party(patient.name, "1000D", problems))
    for qualifier, value in (
        (codes.REF_PATIENT_CONTROL_NUMBER, patient.patient_control_number),
        (codes.REF_PAYER_CLAIM_NUMBER, patient.payer_claim_number),
        (codes.REF_MEDICAL_RECORD, patient.medical_record_number),
    ):
        if value:
            out.append(("REF", [qualifier, value]))
    if patient.service is not None:
        if patient.service.end is not None and patient.service.end < patient.service.start:
            problems.append(
                _problem(
                    "1000D",
                    "DTP",
                    "DTP03",
                    f"expected a range that ends on or after {patient.service.start.isoformat()}, "
                    f"got {patient.service.end.isoformat()}",
                )
            )
        fmt, value = _dates(patient.service)
        out.append(("DTP", [codes.DTP_SERVICE, fmt, value]))
    if not model.documents:
        problems.append(
            _problem(codes.LOOP_DOCUMENT, "LX", "LX01", "expected at least one document, got none")
        )
    seen: set[str] = set()
    for number, doc in enumerate(model.documents, start=1):
        if not doc.control_number:
            problems.append(
                _problem(
                    codes.LOOP_DOCUMENT,
                    "TRN",
                    "TRN02",
                    f"expected the attachment control number of document {number}, got nothing",
                )
            )
        elif doc.control_number in seen:
            problems.append(
                _problem(
                    codes.LOOP_DOCUMENT,
                    "TRN",
                    "TRN02",
                    "expected a control number unique to each document, "
                    f"got {doc.control_number!r} twice",
                )
            )
        seen.add(doc.control_number)
        if not doc.data:
            problems.append(
                _problem(
                    codes.LOOP_BINARY,
                    "BIN",
                    "BIN02",
                    f"expected document {number}'s octets, got none",
                )
            )
        out.append(("LX", [str(number)]))
        out.append(("TRN", [doc.trace_type, doc.control_number]))
        out.append(("DTP", [codes.DTP_SUBMITTED, "D8", doc.submitted.strftime("%Y%m%d")]))
        out.append(("CAT", [doc.category, doc.format_code]))
        out.append(("EFI", [doc.security_level]))
        payload = doc.data.decode("latin-1")  # one character per octet (see `envelope.encode`)
        out.append(("BIN", [str(len(doc.data)), payload]))
    if problems:
        raise X12Error(problems)
    return out


def render_275(
    model: Attachment275, context: TransactionContext, segment_suffix: str = ""
) -> bytes:
    """`model` as one transaction set inside `context` (e.g. `model.envelope` after a read)."""
    return encode(write_transaction(context, _body(model), segment_suffix))


def write_275(
    model: Attachment275,
    params: EnvelopeParams,
    clock: Clock,
    control_numbers: ControlNumberSource,
    *,
    segment_suffix: str = "",
) -> bytes:
    """One 275 in its own interchange, as bytes; X12Error (located) if it cannot be written."""
    body = _body(model)  # validate before consuming control numbers
    return encode(
        write_new_transaction(
            body,
            params,
            clock,
            control_numbers,
            segment_suffix,
            transaction_set_id=codes.TRANSACTION_SET_ID,
            implementation_reference=codes.IMPLEMENTATION_REFERENCE,
            functional_id=codes.FUNCTIONAL_ID,
        )
    )


# -- reading ------------------------------------------------------------------------------------


class _Parser(GuideParser):
    def __init__(self, txn: Transaction) -> None:
        self.txn = txn
        self.txn_context = txn.context
        self.problems: list[Problem] = []
        self.body = list(txn.body)
        self.pos = 0

    def peek(self) -> Segment | None:
        return self.body[self.pos] if self.pos < len(self.body) else None

    def take(self, segment_id: str, qualifier: str | None = None) -> Segment | None:
        seg = self.peek()
        if (
            seg is None
            or seg.id != segment_id
            or (qualifier is not None and seg.get(1) != qualifier)
        ):
            return None
        self.pos += 1
        return seg

    def missing(self, loop: str, segment_id: str, what: str) -> None:
        seg = self.peek()
        got = repr(seg.id) if seg else "the end of the transaction set"
        where = seg if seg is not None else (self.txn.segments[-1] if self.txn.segments else None)
        self.problem(
            loop,
            where,
            f"expected {segment_id} ({what}), got {got}",
            level="segment",
            code=ack_codes.SEGMENT_REQUIRED_MISSING,
        )

    def day(self, loop: str, seg: Segment, position: int) -> date | None:
        value = ccyymmdd(seg.get(position))
        if value is None:
            self.problem(
                loop,
                seg,
                f"expected a date CCYYMMDD, got {seg.get(position)!r}",
                seg.name(position),
                level="element",
                code=ack_codes.ELEMENT_INVALID_DATE,
            )
        return value

    def header(self) -> None:
        ctx = self.txn.context
        st = self.txn.segments[0]
        if ctx.transaction_set_id != codes.TRANSACTION_SET_ID:
            self.problem(
                None,
                st,
                f"expected {codes.TRANSACTION_SET_ID!r}, got {ctx.transaction_set_id!r}",
                "ST01",
                level="transaction",
                code=ack_codes.TRANSACTION_BAD_SET_ID,
            )
        reference = ctx.implementation_reference or ctx.group.version
        if reference != codes.IMPLEMENTATION_REFERENCE:
            self.problem(
                None,
                st,
                f"expected {codes.IMPLEMENTATION_REFERENCE!r}, got {reference!r}",
                "ST03" if ctx.implementation_reference else "GS08",
                level="transaction",
                code=ack_codes.TRANSACTION_BAD_CONVENTION,
            )

    def party(self, entity: str, later: tuple[str, ...]) -> Party | None:
        loop = codes.LOOPS[entity]
        seg = self.take("NM1", entity)
        if seg is None:
            other = self.peek()
            if other is not None and other.id == "NM1":
                if other.get(1) not in later:
                    self.pos += 1  # reported here; not the NM1 of a loop still to come
                self.problem(
                    loop,
                    other,
                    f"expected {entity!r} (the {codes.ENTITY_NAMES[entity]}), got {other.get(1)!r}",
                    "NM101",
                    level="element",
                    code=ack_codes.ELEMENT_INVALID_CODE,
                )
            else:
                self.missing(loop, "NM1", f"the {codes.ENTITY_NAMES[entity]}, NM101 {entity}")
            return None
        self.code(loop, seg, 2, tuple(codes.ENTITY_TYPES))
        if not seg.get(3):
            self.problem(
                loop,
                seg,
                "expected a name, got nothing",
                "NM103",
                level="element",
                code=ack_codes.ELEMENT_REQUIRED_MISSING,
            )
        qualifier = codes.ID_QUALIFIERS[entity]
        if seg.get(8) != qualifier:
            self.problem(
                loop,
                seg,
                f"expected {qualifier!r}, got {seg.get(8)!r}",
                "NM108",
                level="element",
                code=ack_codes.ELEMENT_INVALID_CODE,
            )
        if not seg.get(9):
            self.problem(
                loop,
                seg,
                "expected an identifier, got nothing",
                "NM109",
                level="element",
                code=ack_codes.ELEMENT_REQUIRED_MISSING,
            )
        return Party(
            entity_code=entity,
            entity_type=seg.get(2),
            last_or_organization=seg.get(3),
            first=seg.get(4),
            middle=seg.get(5),
            id_qualifier=seg.get(8),
            id=seg.get(9),
        )

    def patient(self, name: Party | None) -> Patient | None:
        refs: dict[str, str] = {}
        while (seg := self.take("REF")) is not None:
            qualifier = self.code("1000D", seg, 1, tuple(codes.PATIENT_REFERENCES))
            refs[qualifier] = seg.get(2)
        service: ServiceDates | None = None
        if (seg := self.take("DTP", codes.DTP_SERVICE)) is not None:
            fmt = self.code("1000D", seg, 2, tuple(codes.DATE_FORMATS))
            raw = seg.get(3)
            if fmt == "RD8":
                first, _, last = raw.partition("-")
                start, end = ccyymmdd(first), ccyymmdd(last)
                if start is None or end is None or end < start:
                    self.problem(
                        "1000D",
                        seg,
                        f"expected CCYYMMDD-CCYYMMDD, got {raw!r}",
                        "DTP03",
                        level="element",
                        code=ack_codes.ELEMENT_INVALID_DATE,
                    )
                else:
                    service = ServiceDates(start, end)
            elif fmt == "D8" and (day := self.day("1000D", seg, 3)) is not None:
                service = ServiceDates(day)
        if name is None:
            return None
        return Patient(
            name=name,
            patient_control_number=refs.get(codes.REF_PATIENT_CONTROL_NUMBER, ""),
            payer_claim_number=refs.get(codes.REF_PAYER_CLAIM_NUMBER, ""),
            medical_record_number=refs.get(codes.REF_MEDICAL_RECORD, ""),
            service=service,
        )

    def document(self, lx: Segment, number: int) -> Document | None:
        loop = codes.LOOP_DOCUMENT
        if lx.get(1) != str(number):
            self.problem(
                loop,
                lx,
                f"expected {number}, got {lx.get(1)!r}",
                "LX01",
                level="element",
                code=ack_codes.ELEMENT_INVALID_CODE,
            )
        ok = True
        trn = self.take("TRN")
        if trn is None:
            self.missing(loop, "TRN", "the attachment control number")
            ok = False
        else:
            self.code(loop, trn, 1, tuple(codes.TRACE_TYPES))
            if not trn.get(2):
                self.problem(
                    loop,
                    trn,
                    "expected the attachment control number, got nothing",
                    "TRN02",
                    level="element",
                    code=ack_codes.ELEMENT_REQUIRED_MISSING,
                )
        submitted: date | None = None
        dtp = self.take("DTP", codes.DTP_SUBMITTED)
        if dtp is None:
            self.missing(codes.LOOP_SUBMISSION, "DTP", "the submission date, DTP01 368")
            ok = False
        else:
            self.code(codes.LOOP_SUBMISSION, dtp, 2, ("D8",))
            submitted = self.day(codes.LOOP_SUBMISSION, dtp, 3)
        cat = self.take("CAT")
        if cat is None:
            self.missing(codes.LOOP_SUBMISSION, "CAT", "the attachment category and format")
            ok = False
        else:
            self.code(codes.LOOP_SUBMISSION, cat, 1, tuple(codes.CATEGORIES))
            self.code(codes.LOOP_SUBMISSION, cat, 2, tuple(codes.FORMATS))
        efi = self.take("EFI")
        if efi is None:
            self.missing(codes.LOOP_BINARY, "EFI", "the electronic format")
            ok = False
        data = self.binary()
        if data is None:
            ok = False
        if not ok or trn is None or cat is None or efi is None or submitted is None or data is None:
            return None
        return Document(
            control_number=trn.get(2),
            trace_type=trn.get(1),
            submitted=submitted,
            category=cat.get(1),
            format_code=cat.get(2),
            security_level=efi.get(1),
            data=data,
        )

    def binary(self) -> bytes | None:
        loop = codes.LOOP_BINARY
        seg = self.take("BIN")
        if seg is None:
            self.missing(loop, "BIN", "the document's octets")
            return None
        declared, payload = seg.get(1), seg.get(2)
        if len(seg.elements) > 2:
            # the tokenizer could not cut it by its length, so BIN02 was split at a delimiter
            payload = seg.delimiters.element.join(seg.elements[1:])
        if not (declared.isascii() and declared.isdigit()):
            self.problem(
                loop,
                seg,
                f"expected the length of BIN02 in octets, got {declared!r}",
                "BIN01",
                level="element",
                code=ack_codes.ELEMENT_INVALID_CODE,
            )
            return None
        if int(declared) != len(payload) or len(seg.elements) > 2:
            self.problem(
                loop,
                seg,
                f"expected BIN02 of {int(declared)} octets followed by the segment terminator, "
                f"got {len(payload)} octets before the next terminator",
                "BIN01",
                level="element",
                code=ack_codes.ELEMENT_INVALID_CODE,
            )
            return None
        try:
            return payload.encode("latin-1")
        except UnicodeEncodeError:
            self.problem(
                loop,
                seg,
                "expected octets (characters 0x00-0xFF), got a wider character",
                "BIN02",
                level="element",
                code=ack_codes.ELEMENT_INVALID_CHARACTER,
            )
            return None

    def model(self) -> Attachment275 | None:
        self.header()
        bgn = self.take("BGN")
        created: datetime | None = None
        if bgn is None:
            self.missing("", "BGN", "the beginning segment")
        else:
            self.code("", bgn, 1, tuple(codes.PURPOSES))
            day = self.day("", bgn, 3)
            hhmm = bgn.get(4)
            if day is not None:
                hour, minute = (int(hhmm[:2]), int(hhmm[2:4])) if _is_hhmm(hhmm) else (0, 0)
                created = datetime(day.year, day.month, day.day, hour, minute)
        order = (codes.PAYER, codes.SUBMITTER, codes.PROVIDER, codes.PATIENT)
        payer, submitter, provider, patient_name = (
            self.party(entity, order[n + 1 :]) for n, entity in enumerate(order)
        )
        patient = self.patient(patient_name)
        documents: list[Document] = []
        number = 0
        while (seg := self.peek()) is not None:
            if seg.id == "LX":
                self.pos += 1
                number += 1
                doc = self.document(seg, number)
                if doc is not None:
                    documents.append(doc)
                continue
            self.problem(
                codes.LOOP_DOCUMENT if number else "1000D",
                seg,
                f"expected LX (a document), got {seg.id!r}",
                level="segment",
                code=ack_codes.SEGMENT_UNEXPECTED,
            )
            self.pos += 1
        if number == 0:
            self.missing(codes.LOOP_DOCUMENT, "LX", "at least one document")
        if (
            bgn is None
            or created is None
            or payer is None
            or submitter is None
            or provider is None
            or patient is None
            or not documents
        ):
            return None
        return Attachment275(
            purpose=bgn.get(1),
            reference=bgn.get(2),
            created=created,
            payer=payer,
            submitter=submitter,
            provider=provider,
            patient=patient,
            documents=tuple(documents),
            envelope=self.txn.context,
        )


def _is_hhmm(value: str) -> bool:
    return len(value) == 4 and value.isdigit() and int(value[:2]) < 24 and int(value[2:]) < 60


def read_transaction(txn: Transaction) -> tuple[Attachment275 | None, list[Problem]]:
    """One 275 transaction set already split out by the envelope reader: its model (None when it
    cannot be modelled) and its problems, the transaction's envelope problems first."""
    parser = _Parser(txn)
    model = parser.model()
    return model, [*txn.problems, *parser.problems]


def read_275(data: str | bytes) -> tuple[list[Attachment275], list[Problem]]:
    """Every 275 in `data` (bytes as written: see `envelope.decode`), and every problem found."""
    problems: list[Problem] = []
    models: list[Attachment275] = []
    try:
        for txn in read_transactions(data, problems):
            model, found = read_transaction(txn)
            problems.extend(found)
            if model is not None:
                models.append(model)
    except X12Error as exc:
        problems.extend(exc.problems)
    return models, problems


__all__ = [
    "Attachment275",
    "Document",
    "Party",
    "Patient",
    "ServiceDates",
    "attachment_counts",
    "attachment_to_json",
    "read_275",
    "read_transaction",
    "render_275",
    "write_275",
]
