"""278 Health Care Services Review, request and response (X12 005010X217), in both directions.

- `write_278_request` / `write_278_response`: a typed model to an interchange (one ST/SE),
  the envelope filled from `EnvelopeParams`, an injected clock and control-number source.
- `read_278_request` / `read_278_response`: text to models plus located problems; reading goes
  on after a problem whenever the rest can still be read.
- `render_278`: a model back into a given envelope (the one it was read in, for round trips).

Validation: pyx12 ships no 005010X217 map (only the 4010 278), so it cannot validate a 5010 278.
This module checks instead: envelope counts and control numbers (see `envelope`), ST01/ST03 and
GS08 naming 005010X217, BHT02 purpose (13 request or 01 cancellation, 11 response), the HL
hierarchy (HL01 numbered 1..n, HL02 naming an earlier HL of the parent level, HL03 one of 20/21/22/23/EV/SS,
HL04 matching whether children follow), the required segments per loop (BHT; NM1 in
2000A/B/C/D; UM in 2000E and in request 2000F; HCR in each response 2000E/2000F without AAA),
the code lists of UM01, UM02 and HCR01, D8/RD8 dates, decimals, at most 12 diagnoses and 4
procedure modifiers. Element lengths and the rest of the TR3's situational rules are not checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from integration.x12 import x217_codes as codes
from integration.x12 import x231_codes as ack_codes
from integration.x12.envelope import (
    Clock,
    ControlNumberSource,
    EnvelopeParams,
    SegmentSpec,
    Transaction,
    TransactionContext,
    read_transactions,
    write_new_transaction,
    write_transaction,
)
from integration.x12.errors import Problem, X12Error
from integration.x12.guide_parser import GuideParser
from integration.x12.segments import ElementValue, Segment

# -- models -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DatePeriod:
    """DTP: a date (D8) or, with `end`, a range (RD8)."""

    qualifier: str
    start: date
    end: date | None = None


@dataclass(frozen=True, slots=True)
class Reference:
    qualifier: str  # REF01, e.g. BB previous review authorization number, NT administrative
    value: str


@dataclass(frozen=True, slots=True)
class Contact:
    function_code: str = "IC"  # PER01
    name: str = ""
    communications: tuple[tuple[str, str], ...] = ()  # (TE/FX/EM, number) pairs


@dataclass(frozen=True, slots=True)
class Address:
    lines: tuple[str, ...]
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """PRV: provider role and taxonomy code."""

    provider_code: str  # PRV01, e.g. PE performing, RF referring, AT attending
    taxonomy: str  # PRV03
    qualifier: str = "PXC"


@dataclass(frozen=True, slots=True)
class Demographics:
    birth_date: date | None = None
    gender: str = ""  # DMG03: F, M, U


@dataclass(frozen=True, slots=True)
class Relationship:
    """INS (2010C/2010D): INS01 insured indicator and INS02 individual relationship code."""

    insured: str
    relationship_code: str


@dataclass(frozen=True, slots=True)
class RequestValidation:
    """AAA: the request could not be processed at this level (response)."""

    valid: bool  # AAA01 Y/N
    reject_reason: str = ""  # AAA03
    follow_up_action: str = ""  # AAA04


@dataclass(frozen=True, slots=True, kw_only=True)
class Party:
    """NM1 loop (2010A..2010F): payer, requester, subscriber, dependent or provider."""

    entity_code: str  # NM101: X3 UMO, 1P requester, IL subscriber, QC patient, SJ service provider
    entity_type: str  # NM102: 1 person, 2 non-person
    last_or_organization: str
    first: str = ""
    middle: str = ""
    suffix: str = ""
    id_qualifier: str = ""  # NM108: XX NPI, MI member id, PI payer id, 46 ETIN, 24 EIN, 34 SSN
    id: str = ""
    references: tuple[Reference, ...] = ()
    address: Address | None = None
    contacts: tuple[Contact, ...] = ()
    validations: tuple[RequestValidation, ...] = ()
    provider: ProviderInfo | None = None
    demographics: Demographics | None = None
    relationship: Relationship | None = None

    @property
    def npi(self) -> str | None:
        return self.id if self.id_qualifier == "XX" else None


@dataclass(frozen=True, slots=True)
class Trace:
    """TRN: type 1 (current, set by the requester) or 2 (referenced, echoed by the UMO)."""

    type_code: str
    number: str
    originator_id: str
    supplemental_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Review:
    """UM: what is asked for."""

    request_category: str  # UM01: AR, HS, SC
    certification_type: str  # UM02: I initial, S revised, 4 extension, 3 cancel, 1/2 appeal, R
    service_type: str = ""  # UM03
    facility_code: str = ""  # UM04-1: place of service (qualifier B) or bill type (A)
    facility_qualifier: str = ""  # UM04-2
    related_causes: tuple[str, ...] = ()  # UM05 components
    level_of_service: str = ""  # UM06
    current_health_condition: str = ""  # UM07
    prognosis: str = ""  # UM08
    release_of_information: str = ""  # UM09
    delay_reason: str = ""  # UM10


@dataclass(frozen=True, slots=True)
class Decision:
    """HCR: the UMO's answer."""

    action_code: str  # HCR01: A1, A2, A3, A4, A6, C, CT, NA
    review_number: str = ""  # HCR02: certification / authorization number
    reason_code: str = ""  # HCR03
    second_surgical_opinion: str = ""  # HCR04: Y/N

    @property
    def meaning(self) -> str:
        return codes.ACTION_CODE.get(self.action_code, "")


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """One HI composite: qualifier (ABK principal / ABF other ICD-10-CM), code without the dot."""

    qualifier: str
    code: str
    date: date | None = None

    @classmethod
    def principal(cls, icd10: str) -> Diagnosis:
        return cls(codes.DIAGNOSIS_ICD10_PRINCIPAL, icd10.replace(".", ""))

    @classmethod
    def other(cls, icd10: str) -> Diagnosis:
        return cls(codes.DIAGNOSIS_ICD10_OTHER, icd10.replace(".", ""))


@dataclass(frozen=True, slots=True)
class ServiceDelivery:
    """HSD: quantity, unit and pattern (e.g. 36 visits, 3 per week)."""

    quantity_qualifier: str = ""  # HSD01: VS visits, DY days, UN units, HS hours
    quantity: Decimal | None = None
    unit_basis: str = ""  # HSD03: DA days, WK weeks, MO months
    sample_modulus: Decimal | None = None  # HSD04
    period_qualifier: str = ""  # HSD05: 7 day, 34 month, 35 week
    period_count: Decimal | None = None  # HSD06
    calendar_pattern: str = ""  # HSD07
    time_code: str = ""  # HSD08


@dataclass(frozen=True, slots=True)
class InstitutionalCode:
    """CL1: admission type, source and patient status codes."""

    admission_type: str = ""
    admission_source: str = ""
    patient_status: str = ""


@dataclass(frozen=True, slots=True)
class Attachment:
    """PWK: supporting documentation (report type, how sent, attachment control number)."""

    report_type: str  # PWK01, e.g. 09 progress report, 77 support data, OZ support data for claim
    transmission_code: str  # PWK02: EL electronic, FX fax, MB mail, BM by mail
    control_number: str = ""  # PWK06 (PWK05 = AC)
    description: str = ""  # PWK07


@dataclass(frozen=True, slots=True)
class Procedure:
    """C003: HC (CPT/HCPCS), N4 (NDC 5-4-2), IV, ZZ; up to four modifiers."""

    qualifier: str
    code: str
    modifiers: tuple[str, ...] = ()
    description: str = ""

    @classmethod
    def hcpcs(cls, code: str, *modifiers: str) -> Procedure:
        return cls("HC", code, tuple(modifiers))

    @classmethod
    def ndc(cls, code: str) -> Procedure:
        return cls("N4", code.replace("-", ""))


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfessionalService:
    """SV1."""

    procedure: Procedure
    charge: Decimal | None = None
    unit: str = ""  # UN units, MJ minutes
    quantity: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InstitutionalService:
    """SV2."""

    revenue_code: str = ""
    procedure: Procedure | None = None
    charge: Decimal | None = None
    unit: str = ""
    quantity: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceLevel:
    """2000F: one requested (or answered) service line."""

    traces: tuple[Trace, ...] = ()
    validations: tuple[RequestValidation, ...] = ()
    review: Review | None = None
    decision: Decision | None = None
    references: tuple[Reference, ...] = ()
    dates: tuple[DatePeriod, ...] = ()
    professional: ProfessionalService | None = None
    institutional: InstitutionalService | None = None
    delivery: ServiceDelivery | None = None
    attachments: tuple[Attachment, ...] = ()
    message: str = ""
    parties: tuple[Party, ...] = ()

    @property
    def procedure(self) -> Procedure | None:
        if self.professional is not None:
            return self.professional.procedure
        return self.institutional.procedure if self.institutional else None

    @property
    def ndc(self) -> str | None:
        proc = self.procedure
        return proc.code if proc is not None and proc.qualifier == "N4" else None


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientEvent:
    """2000E: the episode under review, its diagnoses and its service lines."""

    traces: tuple[Trace, ...] = ()
    validations: tuple[RequestValidation, ...] = ()
    review: Review | None = None
    decision: Decision | None = None
    references: tuple[Reference, ...] = ()
    dates: tuple[DatePeriod, ...] = ()
    diagnoses: tuple[Diagnosis, ...] = ()
    delivery: ServiceDelivery | None = None
    institutional: InstitutionalCode | None = None
    attachments: tuple[Attachment, ...] = ()
    message: str = ""
    parties: tuple[Party, ...] = ()
    services: tuple[ServiceLevel, ...] = ()

    def date(self, qualifier: str) -> DatePeriod | None:
        return next((d for d in self.dates if d.qualifier == qualifier), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    """BHT."""

    reference_id: str  # BHT03, the submitter's transaction reference
    created: datetime  # BHT04/BHT05
    transaction_type: str = ""  # BHT06
    purpose: str = ""  # BHT02; empty: 13 on a request, 11 on a response; 01 cancels a request


@dataclass(frozen=True, slots=True, kw_only=True)
class Review278:
    """Shared shape of the request and the response (2000A..2000F)."""

    header: Header
    umo: Party
    requester: Party | None = None
    subscriber: Party | None = None
    dependent: Party | None = None
    event: PatientEvent | None = None
    umo_validations: tuple[RequestValidation, ...] = ()  # 2000A AAA
    envelope: TransactionContext | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Request278(Review278):
    """A 278 request for review (BHT02 13)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Response278(Review278):
    """A 278 response (BHT02 11)."""


# -- writing ------------------------------------------------------------------------------------


def _num(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


def _date(value: date | None) -> str:
    return "" if value is None else value.strftime("%Y%m%d")


def _time(moment: datetime) -> str:
    return moment.strftime("%H%M") if moment.second == 0 else moment.strftime("%H%M%S")


def _procedure(proc: Procedure, where: str) -> tuple[str, ...]:
    if len(proc.modifiers) > codes.MAX_MODIFIERS:
        raise X12Error(
            [
                Problem(
                    loop_id="2000F",
                    element=where,
                    message=f"expected at most {codes.MAX_MODIFIERS} modifiers, got {len(proc.modifiers)}",
                )
            ]
        )
    mods = list(proc.modifiers) + [""] * (codes.MAX_MODIFIERS - len(proc.modifiers))
    return (proc.qualifier, proc.code, *mods, proc.description)


class _Writer:
    def __init__(self) -> None:
        self.segments: list[SegmentSpec] = []
        self.hl = 0

    def add(self, segment_id: str, *elements: ElementValue) -> None:
        self.segments.append((segment_id, list(elements)))

    def open_hl(self, parent: int | None, level: str, has_children: bool) -> int:
        self.hl += 1
        self.add(
            "HL",
            str(self.hl),
            "" if parent is None else str(parent),
            level,
            "1" if has_children else "0",
        )
        return self.hl

    def validations(self, items: Sequence[RequestValidation]) -> None:
        for v in items:
            self.add("AAA", "Y" if v.valid else "N", "", v.reject_reason, v.follow_up_action)

    def party(self, p: Party) -> None:
        self.add(
            "NM1",
            p.entity_code,
            p.entity_type,
            p.last_or_organization,
            p.first,
            p.middle,
            "",
            p.suffix,
            p.id_qualifier,
            p.id,
        )
        for ref in p.references:
            self.add("REF", ref.qualifier, ref.value)
        if p.address is not None:
            self.add("N3", *p.address.lines)
            a = p.address
            if a.city or a.state or a.postal_code or a.country:
                self.add("N4", a.city, a.state, a.postal_code, a.country)
        for c in p.contacts:
            comms = [x for pair in c.communications for x in pair]
            self.add("PER", c.function_code, c.name, *comms)
        self.validations(p.validations)
        if p.provider is not None:
            self.add("PRV", p.provider.provider_code, p.provider.qualifier, p.provider.taxonomy)
        if p.demographics is not None:
            d = p.demographics
            self.add("DMG", "D8" if d.birth_date else "", _date(d.birth_date), d.gender)
        if p.relationship is not None:
            self.add("INS", p.relationship.insured, p.relationship.relationship_code)

    def loop_head(
        self,
        traces: Sequence[Trace],
        validations: Sequence[RequestValidation],
        review: Review | None,
        decision: Decision | None,
        references: Sequence[Reference],
        dates: Sequence[DatePeriod],
    ) -> None:
        for t in traces:
            self.add("TRN", t.type_code, t.number, t.originator_id, t.supplemental_id)
        self.validations(validations)
        if review is not None:
            r = review
            location: ElementValue = (
                (r.facility_code, r.facility_qualifier) if r.facility_code else ""
            )
            self.add(
                "UM",
                r.request_category,
                r.certification_type,
                r.service_type,
                location,
                tuple(r.related_causes),
                r.level_of_service,
                r.current_health_condition,
                r.prognosis,
                r.release_of_information,
                r.delay_reason,
            )
        if decision is not None:
            d = decision
            self.add(
                "HCR", d.action_code, d.review_number, d.reason_code, d.second_surgical_opinion
            )
        for ref in references:
            self.add("REF", ref.qualifier, ref.value)
        for period in dates:
            if period.end is None:
                self.add("DTP", period.qualifier, "D8", _date(period.start))
            else:
                self.add(
                    "DTP", period.qualifier, "RD8", f"{_date(period.start)}-{_date(period.end)}"
                )

    def delivery(self, h: ServiceDelivery | None) -> None:
        if h is not None:
            self.add(
                "HSD",
                h.quantity_qualifier,
                _num(h.quantity),
                h.unit_basis,
                _num(h.sample_modulus),
                h.period_qualifier,
                _num(h.period_count),
                h.calendar_pattern,
                h.time_code,
            )

    def loop_tail(
        self, attachments: Sequence[Attachment], message: str, parties: Sequence[Party]
    ) -> None:
        for a in attachments:
            self.add(
                "PWK",
                a.report_type,
                a.transmission_code,
                "",
                "",
                "AC" if a.control_number else "",
                a.control_number,
                a.description,
            )
        if message:
            self.add("MSG", message)
        for p in parties:
            self.party(p)


def _body(model: Review278) -> list[SegmentSpec]:
    request = isinstance(model, Request278)
    problems: list[Problem] = []
    if request:
        for name, loop in (("requester", "2000B"), ("subscriber", "2000C"), ("event", "2000E")):
            if getattr(model, name) is None:
                problems.append(
                    Problem(
                        loop_id=loop,
                        message=f"expected the {name} (required in a request), got none",
                    )
                )
        if model.event is not None and model.event.review is None:
            problems.append(
                Problem(loop_id="2000E", segment_id="UM", message="expected UM, got none")
            )
    event = model.event
    if event is not None and len(event.diagnoses) > codes.MAX_DIAGNOSES:
        problems.append(
            Problem(
                loop_id="2000E",
                segment_id="HI",
                message=f"expected at most {codes.MAX_DIAGNOSES} diagnoses, got {len(event.diagnoses)}",
            )
        )
    if problems:
        raise X12Error(problems)

    w = _Writer()
    h = model.header
    w.add(
        "BHT",
        "0007",
        h.purpose or (codes.PURPOSE_REQUEST if request else codes.PURPOSE_RESPONSE),
        h.reference_id,
        _date(h.created.date()),
        _time(h.created),
        h.transaction_type,
    )
    below_umo = model.requester is not None
    umo = w.open_hl(None, "20", below_umo)
    w.validations(model.umo_validations)
    w.party(model.umo)
    if model.requester is None:
        return w.segments
    requester = w.open_hl(umo, "21", model.subscriber is not None)
    w.party(model.requester)
    if model.subscriber is None:
        return w.segments
    parent = w.open_hl(requester, "22", model.dependent is not None or event is not None)
    w.party(model.subscriber)
    if model.dependent is not None:
        parent = w.open_hl(parent, "23", event is not None)
        w.party(model.dependent)
    if event is None:
        return w.segments
    ev = w.open_hl(parent, "EV", bool(event.services))
    w.loop_head(
        event.traces, event.validations, event.review, event.decision, event.references, event.dates
    )
    if event.diagnoses:
        w.add(
            "HI",
            *[
                (d.qualifier, d.code, "D8", _date(d.date)) if d.date else (d.qualifier, d.code)
                for d in event.diagnoses
            ],
        )
    w.delivery(event.delivery)
    if event.institutional is not None:
        c = event.institutional
        w.add("CL1", c.admission_type, c.admission_source, c.patient_status)
    w.loop_tail(event.attachments, event.message, event.parties)
    for service in event.services:
        w.open_hl(ev, "SS", False)
        w.loop_head(
            service.traces,
            service.validations,
            service.review,
            service.decision,
            service.references,
            service.dates,
        )
        if service.professional is not None:
            sv1 = service.professional
            w.add(
                "SV1",
                _procedure(sv1.procedure, "SV101"),
                _num(sv1.charge),
                sv1.unit,
                _num(sv1.quantity),
            )
        if service.institutional is not None:
            sv2 = service.institutional
            w.add(
                "SV2",
                sv2.revenue_code,
                _procedure(sv2.procedure, "SV202") if sv2.procedure else "",
                _num(sv2.charge),
                sv2.unit,
                _num(sv2.quantity),
            )
        w.delivery(service.delivery)
        w.loop_tail(service.attachments, service.message, service.parties)
    return w.segments


def render_278(model: Review278, context: TransactionContext, segment_suffix: str = "") -> str:
    """`model` as one transaction set inside `context` (e.g. `model.envelope` after a read)."""
    return write_transaction(context, _body(model), segment_suffix)


def _write(
    model: Review278,
    params: EnvelopeParams,
    clock: Clock,
    control_numbers: ControlNumberSource,
    segment_suffix: str,
) -> str:
    body = _body(model)  # validate before consuming control numbers
    return write_new_transaction(
        body,
        params,
        clock,
        control_numbers,
        segment_suffix,
        transaction_set_id="278",
        implementation_reference=codes.IMPLEMENTATION_REFERENCE,
        functional_id=codes.FUNCTIONAL_ID,
    )


def write_278_request(
    request: Request278,
    params: EnvelopeParams,
    clock: Clock,
    control_numbers: ControlNumberSource,
    *,
    segment_suffix: str = "",
) -> str:
    """One 278 request in its own interchange; X12Error (located) if it cannot be written."""
    return _write(request, params, clock, control_numbers, segment_suffix)


def write_278_response(
    response: Response278,
    params: EnvelopeParams,
    clock: Clock,
    control_numbers: ControlNumberSource,
    *,
    segment_suffix: str = "",
) -> str:
    """One 278 response in its own interchange; X12Error (located) if it cannot be written."""
    return _write(response, params, clock, control_numbers, segment_suffix)


# -- reading ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Node:
    hl: Segment
    level: str
    loop: str
    segments: list[Segment] = field(default_factory=list)
    children: list[_Node] = field(default_factory=list)


class _Parser(GuideParser):
    def __init__(self, txn: Transaction, request: bool) -> None:
        self.txn = txn
        self.txn_context = txn.context
        self.request = request
        self.problems: list[Problem] = []

    def decimal(
        self, loop: str, seg: Segment, position: int, component: int | None = None
    ) -> Decimal | None:
        raw = seg.get(position) if component is None else seg.component(position, component)
        if not raw:
            return None
        try:
            return Decimal(raw)
        except InvalidOperation:
            self.problem(
                loop, seg, f"expected a number, got {raw!r}", seg.name(position), component
            )
            return None

    def day(
        self, loop: str | None, seg: Segment, raw: str, position: int, component: int | None = None
    ) -> date | None:
        try:
            if len(raw) != 8 or not raw.isdigit():
                raise ValueError(raw)
            return datetime.strptime(raw, "%Y%m%d").date()
        except ValueError:
            self.problem(
                loop,
                seg,
                f"expected a date CCYYMMDD, got {raw!r}",
                seg.name(position),
                component,
                level="element",
                code=ack_codes.ELEMENT_REQUIRED_MISSING
                if not raw
                else ack_codes.ELEMENT_INVALID_DATE,
            )
            return None

    # -- structure --

    def tree(self) -> tuple[Segment | None, list[_Node]]:
        bht: Segment | None = None
        nodes: list[_Node] = []
        by_id: dict[str, _Node] = {}
        current: _Node | None = None
        for seg in self.txn.body:
            if seg.id == "HL":
                current = self.hl(seg, nodes, by_id)
                continue
            if current is None:
                if seg.id == "BHT" and bht is None:
                    bht = seg
                else:
                    self.problem(None, seg, f"expected BHT or HL, got {seg.id!r}")
                continue
            current.segments.append(seg)
        if bht is None:
            first = self.txn.segments[0]
            self.problem(
                None,
                first,
                "expected BHT after ST, got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        for node in nodes:
            has_children = "1" if node.children else "0"
            if node.hl.get(4) != has_children:
                what = "has subordinate levels" if node.children else "has no subordinate level"
                self.problem(
                    node.loop,
                    node.hl,
                    f"expected {has_children!r} (HL {node.hl.get(1)} {what}), got {node.hl.get(4)!r}",
                    "HL04",
                )
        return bht, [n for n in nodes if n.level == "20"]

    def hl(self, seg: Segment, nodes: list[_Node], by_id: dict[str, _Node]) -> _Node | None:
        level = seg.get(3)
        loop = codes.HL_LOOPS.get(level)
        expected_id = str(len(nodes) + 1)
        if seg.get(1) != expected_id:
            self.problem(loop, seg, f"expected {expected_id!r}, got {seg.get(1)!r}", "HL01")
        if loop is None:
            self.problem(
                None, seg, f"expected one of {', '.join(codes.HL_LOOPS)}, got {level!r}", "HL03"
            )
            return None
        node = _Node(seg, level, loop)
        nodes.append(node)
        by_id.setdefault(seg.get(1), node)
        parents = codes.HL_PARENTS[level]
        parent_id = seg.get(2)
        if not parents:
            if parent_id:
                self.problem(loop, seg, f"expected no parent, got {parent_id!r}", "HL02")
            return node
        parent = by_id.get(parent_id) if parent_id != seg.get(1) else None
        if parent is None:
            self.problem(
                loop,
                seg,
                f"expected the HL01 of an earlier level as parent, got {parent_id!r}",
                "HL02",
            )
            return node
        if parent.level not in parents:
            want = " or ".join(codes.HL_LOOPS[p] for p in parents)
            self.problem(
                loop,
                seg,
                f"expected a parent in {want}, got HL {parent_id} ({parent.loop})",
                "HL02",
            )
            return node
        parent.children.append(node)
        return node

    # -- segments --

    def validation(self, seg: Segment) -> RequestValidation:
        return RequestValidation(seg.get(1) == "Y", seg.get(3), seg.get(4))

    def party(self, loop: str, segs: list[Segment]) -> Party:
        nm1 = segs[0]
        refs: list[Reference] = []
        address: Address | None = None
        contacts: list[Contact] = []
        validations: list[RequestValidation] = []
        provider: ProviderInfo | None = None
        demographics: Demographics | None = None
        relationship: Relationship | None = None
        for seg in segs[1:]:
            if seg.id == "REF":
                refs.append(Reference(seg.get(1), seg.get(2)))
            elif seg.id == "N3":
                address = Address(tuple(e for e in seg.elements if e))
            elif seg.id == "N4":
                lines = address.lines if address else ()
                address = Address(lines, seg.get(1), seg.get(2), seg.get(3), seg.get(4))
            elif seg.id == "PER":
                pairs = tuple((seg.get(i), seg.get(i + 1)) for i in (3, 5, 7) if seg.get(i))
                contacts.append(Contact(seg.get(1), seg.get(2), pairs))
            elif seg.id == "AAA":
                validations.append(self.validation(seg))
            elif seg.id == "PRV":
                provider = ProviderInfo(seg.get(1), seg.get(3), seg.get(2))
            elif seg.id == "DMG":
                born = self.day(loop, seg, seg.get(2), 2) if seg.get(2) else None
                demographics = Demographics(born, seg.get(3))
            elif seg.id == "INS":
                relationship = Relationship(seg.get(1), seg.get(2))
            else:
                self.problem(
                    loop, seg, f"expected a segment of the {loop} name loop, got {seg.id!r}"
                )
        return Party(
            entity_code=nm1.get(1),
            entity_type=nm1.get(2),
            last_or_organization=nm1.get(3),
            first=nm1.get(4),
            middle=nm1.get(5),
            suffix=nm1.get(7),
            id_qualifier=nm1.get(8),
            id=nm1.get(9),
            references=tuple(refs),
            address=address,
            contacts=tuple(contacts),
            validations=tuple(validations),
            provider=provider,
            demographics=demographics,
            relationship=relationship,
        )

    def split(self, node: _Node) -> tuple[list[Segment], list[list[Segment]]]:
        """Loop-level segments, then one list per NM1 name loop."""
        head: list[Segment] = []
        parties: list[list[Segment]] = []
        for seg in node.segments:
            if seg.id == "NM1":
                parties.append([seg])
            elif parties:
                parties[-1].append(seg)
            else:
                head.append(seg)
        return head, parties

    def level_party(self, node: _Node) -> tuple[Party | None, list[RequestValidation]]:
        head, parties = self.split(node)
        validations: list[RequestValidation] = []
        for seg in head:
            if seg.id == "AAA" and node.level == "20":
                validations.append(self.validation(seg))
            else:
                self.problem(node.loop, seg, f"expected NM1, got {seg.id!r}")
        name_loop = codes.PARTY_LOOPS[node.loop]
        if not parties:
            self.problem(
                node.loop,
                node.hl,
                f"expected NM1 ({name_loop}), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
            return None, validations
        for extra in parties[1:]:
            self.problem(name_loop, extra[0], "expected one NM1 in this loop, got another")
        return self.party(name_loop, parties[0]), validations

    def review(self, loop: str, seg: Segment) -> Review:
        allowed = codes.REQUEST_CATEGORY if loop == "2000E" else codes.SERVICE_REQUEST_CATEGORY
        return Review(
            request_category=self.code(loop, seg, 1, allowed),
            certification_type=self.code(loop, seg, 2, codes.CERTIFICATION_TYPE),
            service_type=seg.get(3),
            facility_code=seg.component(4, 1),
            facility_qualifier=seg.component(4, 2),
            related_causes=seg.components(5),
            level_of_service=seg.get(6),
            current_health_condition=seg.get(7),
            prognosis=seg.get(8),
            release_of_information=seg.get(9),
            delay_reason=seg.get(10),
        )

    def dtp(self, loop: str, seg: Segment) -> DatePeriod | None:
        fmt, raw = seg.get(2), seg.get(3)
        if fmt == "D8":
            start = self.day(loop, seg, raw, 3)
            return DatePeriod(seg.get(1), start) if start else None
        if fmt == "RD8":
            first, _, last = raw.partition("-")
            start, end = self.day(loop, seg, first, 3), self.day(loop, seg, last, 3)
            return DatePeriod(seg.get(1), start, end) if start and end else None
        self.problem(loop, seg, f"expected D8 or RD8, got {fmt!r}", "DTP02")
        return None

    def procedure(self, loop: str, seg: Segment, position: int) -> Procedure | None:
        comps = seg.components(position)
        if not comps:
            return None
        padded = list(comps) + [""] * (7 - len(comps))
        mods = tuple(m for m in padded[2:6] if m)
        return Procedure(padded[0], padded[1], mods, padded[6])

    def diagnoses(self, loop: str, seg: Segment) -> tuple[Diagnosis, ...]:
        out: list[Diagnosis] = []
        for position in range(1, len(seg.elements) + 1):
            comps = seg.components(position)
            if not comps:
                continue
            when: date | None = None
            if len(comps) >= 4 and comps[2] == "D8":
                when = self.day(loop, seg, comps[3], position, 4)
            out.append(Diagnosis(comps[0], comps[1] if len(comps) > 1 else "", when))
        if len(out) > codes.MAX_DIAGNOSES:
            self.problem(
                loop, seg, f"expected at most {codes.MAX_DIAGNOSES} diagnoses, got {len(out)}"
            )
        return tuple(out)

    def delivery(self, loop: str, seg: Segment) -> ServiceDelivery:
        return ServiceDelivery(
            quantity_qualifier=seg.get(1),
            quantity=self.decimal(loop, seg, 2),
            unit_basis=seg.get(3),
            sample_modulus=self.decimal(loop, seg, 4),
            period_qualifier=seg.get(5),
            period_count=self.decimal(loop, seg, 6),
            calendar_pattern=seg.get(7),
            time_code=seg.get(8),
        )

    def event_or_service(self, node: _Node) -> PatientEvent | ServiceLevel:
        loop = node.loop
        head, party_segs = self.split(node)
        fields: dict[str, object] = {}
        traces: list[Trace] = []
        validations: list[RequestValidation] = []
        refs: list[Reference] = []
        dates: list[DatePeriod] = []
        attachments: list[Attachment] = []
        allowed = {"TRN", "AAA", "UM", "HCR", "REF", "DTP", "HSD", "PWK", "MSG"}
        allowed |= {"HI", "CL1"} if loop == "2000E" else {"SV1", "SV2"}
        for seg in head:
            sid = seg.id
            if sid not in allowed:
                self.problem(
                    loop, seg, f"expected one of {', '.join(sorted(allowed))} or NM1, got {sid!r}"
                )
            elif sid == "TRN":
                traces.append(Trace(seg.get(1), seg.get(2), seg.get(3), seg.get(4)))
            elif sid == "AAA":
                validations.append(self.validation(seg))
            elif sid == "UM":
                fields["review"] = self.review(loop, seg)
            elif sid == "HCR":
                if self.request:
                    self.problem(loop, seg, "expected no HCR in a request, got one")
                fields["decision"] = Decision(
                    self.code(loop, seg, 1, codes.ACTION_CODE), seg.get(2), seg.get(3), seg.get(4)
                )
            elif sid == "REF":
                refs.append(Reference(seg.get(1), seg.get(2)))
            elif sid == "DTP":
                period = self.dtp(loop, seg)
                if period is not None:
                    dates.append(period)
            elif sid == "HI":
                fields["diagnoses"] = self.diagnoses(loop, seg)
            elif sid == "HSD":
                fields["delivery"] = self.delivery(loop, seg)
            elif sid == "CL1":
                fields["institutional"] = InstitutionalCode(seg.get(1), seg.get(2), seg.get(3))
            elif sid == "PWK":
                attachments.append(Attachment(seg.get(1), seg.get(2), seg.get(6), seg.get(7)))
            elif sid == "MSG":
                fields["message"] = seg.get(1)
            elif sid == "SV1":
                proc = self.procedure(loop, seg, 1)
                if proc is None:
                    self.problem(loop, seg, "expected a procedure, got none", "SV101")
                else:
                    fields["professional"] = ProfessionalService(
                        procedure=proc,
                        charge=self.decimal(loop, seg, 2),
                        unit=seg.get(3),
                        quantity=self.decimal(loop, seg, 4),
                    )
            elif sid == "SV2":
                fields["institutional"] = InstitutionalService(
                    revenue_code=seg.get(1),
                    procedure=self.procedure(loop, seg, 2),
                    charge=self.decimal(loop, seg, 3),
                    unit=seg.get(4),
                    quantity=self.decimal(loop, seg, 5),
                )
        if "review" not in fields and (loop == "2000E" or self.request):
            self.problem(
                loop,
                node.hl,
                "expected UM, got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        if not self.request and "decision" not in fields and not validations:
            self.problem(loop, node.hl, "expected HCR (or AAA), got neither")
        parties = tuple(self.party(codes.PARTY_LOOPS[loop], segs) for segs in party_segs)
        common = {
            "traces": tuple(traces),
            "validations": tuple(validations),
            "references": tuple(refs),
            "dates": tuple(dates),
            "attachments": tuple(attachments),
            "parties": parties,
            **fields,
        }
        if loop == "2000E":
            services = []
            for child in node.children:
                service = self.event_or_service(child)
                assert isinstance(service, ServiceLevel)
                services.append(service)
            return PatientEvent(services=tuple(services), **common)  # type: ignore[arg-type]
        return ServiceLevel(**common)  # type: ignore[arg-type]

    def model(self) -> Review278 | None:
        ctx = self.txn.context
        st = self.txn.segments[0]
        if ctx.transaction_set_id != "278":
            self.problem(None, st, f"expected '278', got {ctx.transaction_set_id!r}", "ST01")
            return None
        if ctx.implementation_reference != codes.IMPLEMENTATION_REFERENCE:
            self.problem(
                None,
                st,
                f"expected {codes.IMPLEMENTATION_REFERENCE!r}, got {ctx.implementation_reference!r}",
                "ST03",
            )
        if ctx.group.version != ctx.implementation_reference:
            self.problems.append(
                Problem(
                    message=f"expected {ctx.implementation_reference!r} (as in ST03), got {ctx.group.version!r}",
                    segment_id="GS",
                    segment_index=ctx.group.segment_index,
                    element="GS08",
                    interchange_control_number=ctx.interchange.control_number,
                    group_control_number=ctx.group.control_number,
                    transaction_control_number=ctx.control_number,
                )
            )
        bht, roots = self.tree()
        header = Header(reference_id="", created=datetime(1, 1, 1))
        if bht is not None:
            purposes = codes.REQUEST_PURPOSES if self.request else (codes.PURPOSE_RESPONSE,)
            if bht.get(2) not in purposes:
                expected = " or ".join(repr(p) for p in purposes)
                self.problem(None, bht, f"expected {expected}, got {bht.get(2)!r}", "BHT02")
            created = self.day(None, bht, bht.get(4), 4) or date(1, 1, 1)
            raw_time = bht.get(5)
            try:
                moment = datetime.strptime(raw_time[:6], "%H%M%S" if len(raw_time) >= 6 else "%H%M")
            except ValueError:
                self.problem(None, bht, f"expected HHMM, got {raw_time!r}", "BHT05")
                moment = datetime(1, 1, 1)
            header = Header(
                reference_id=bht.get(3),
                created=datetime.combine(created, moment.time()),
                transaction_type=bht.get(6),
                purpose=bht.get(2) if bht.get(2) == codes.PURPOSE_CANCELLATION else "",
            )
        if not roots:
            self.problem(
                "2000A",
                st,
                "expected HL level 20 (UMO), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
            return None
        root = roots[0]
        umo, umo_validations = self.level_party(root)
        if umo is None:
            return None
        found: dict[str, Party | None] = {"21": None, "22": None, "23": None}
        event: PatientEvent | None = None
        node: _Node | None = root
        while node is not None and node.children:
            extra = node.children[1:] if node.level != "EV" else []
            for other in extra:
                self.problem(
                    other.loop,
                    other.hl,
                    f"expected one {other.loop} under HL {node.hl.get(1)}, got another",
                )
            child = node.children[0]
            if child.level == "EV":
                result = self.event_or_service(child)
                assert isinstance(result, PatientEvent)
                event = result
                break
            party, _ = self.level_party(child)
            found[child.level] = party
            node = child
        if self.request:
            # located at the deepest HL read: the missing level was expected under it
            deepest = node.hl if node is not None else root.hl
            for level in ("21", "22"):
                if found[level] is None:
                    self.problem(
                        codes.HL_LOOPS[level], deepest, f"expected HL level {level}, got none"
                    )
            if event is None:
                self.problem(
                    "2000E",
                    deepest,
                    "expected HL level EV, got none",
                    level="segment",
                    code=ack_codes.SEGMENT_REQUIRED_MISSING,
                )
        cls = Request278 if self.request else Response278
        return cls(
            header=header,
            umo=umo,
            umo_validations=tuple(umo_validations),
            requester=found["21"],
            subscriber=found["22"],
            dependent=found["23"],
            event=event,
            envelope=ctx,
        )


def read_transaction(
    txn: Transaction, request: bool | None = None
) -> tuple[Review278 | None, list[Problem]]:
    """One 278 transaction set already split out by the envelope reader: its model (None when it
    cannot be modelled) and its problems, the transaction's envelope problems first. A request
    or a response as BHT02 says (11 response, else request) unless `request` is given."""
    if request is None:
        bht = txn.body[0] if txn.body and txn.body[0].id == "BHT" else None
        request = bht is None or bht.get(2) != codes.PURPOSE_RESPONSE
    parser = _Parser(txn, request)
    model = parser.model()
    return model, [*txn.problems, *parser.problems]


def _read(text: str | bytes, request: bool) -> tuple[list[Review278], list[Problem]]:
    problems: list[Problem] = []
    models: list[Review278] = []
    try:
        for txn in read_transactions(text, problems):
            problems.extend(txn.problems)
            parser = _Parser(txn, request)
            model = parser.model()
            problems.extend(parser.problems)
            if model is not None:
                models.append(model)
    except X12Error as exc:
        problems.extend(exc.problems)
    return models, problems


def read_278_request(text: str | bytes) -> tuple[list[Request278], list[Problem]]:
    """Every 278 request in `text`, and every problem found (empty when valid)."""
    models, problems = _read(text, request=True)
    return [m for m in models if isinstance(m, Request278)], problems


def read_278_response(text: str | bytes) -> tuple[list[Response278], list[Problem]]:
    """Every 278 response in `text`, and every problem found (empty when valid)."""
    models, problems = _read(text, request=False)
    return [m for m in models if isinstance(m, Response278)], problems
