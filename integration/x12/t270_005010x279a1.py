"""270/271 Eligibility, Coverage or Benefit Inquiry and Response (X12 005010X279A1).

This module holds the models and the HL engine shared by both directions and the 270 API;
`t271_005010x279a1` adds the 271 API and the benefit summary.

- `write_270` / `render_270`: a typed `Request270` (information source 2000A, receiver 2000B,
  subscriber 2000C, dependent 2000D; EQ inquiries with service type codes; DTP 291 plan date) to
  an interchange, with an injected clock and control-number source, or into a given envelope.
- `read_270(text)`: text to models plus located problems, reading on after a problem.

Validation: pyx12 4.0 ships no 5010 270/271 map (only 270/271.4010.X092.A1), so pyx12 cannot
cross-check these. This module checks instead: envelope counts and control numbers (see
`envelope`), ST01, ST03 005010X279 or 005010X279A1 and GS08 = ST03, BHT01 0022 and BHT02
(13 request, 11 response), the HL hierarchy (HL01 numbered 1..n, HL02 naming an HL of the parent
level, HL03 20/21/22/23, HL04 matching whether children follow), an NM1 in every level, the order
of the segments of each loop, D8/RD8 dates, decimals, AAA01, and in 271 EB01, EB02, EB06, EB11
and EB12 codes. Not checked: element lengths, the full service type code list (form only),
situational rules.

Round trips keep what the models hold: trailing empty elements are not written back; BHT05 is
kept as sent (HHMM, HHMMSS or with decimal seconds). When the interchange has no repetition
separator (ISA11 is a standards id or equals ISA16, as in several public samples) a list of
service types (EQ01/EB03) is written as components, the way those samples send it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from integration.x12 import x231_codes as ack_codes
from integration.x12 import x279_codes as codes
from integration.x12.delimiters import DEFAULT_DELIMITERS, Delimiters
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
from integration.x12.t278_005010x217 import (
    Address,
    Contact,
    DatePeriod,
    Demographics,
    ProviderInfo,
    Reference,
    RequestValidation,
    Trace,
)

__all__ = [
    "Address",
    "Benefit",
    "Contact",
    "DatePeriod",
    "Demographics",
    "Eligibility",
    "Entity",
    "Header",
    "Inquiry",
    "Member",
    "ProviderInfo",
    "Receiver",
    "Reference",
    "Request270",
    "RequestValidation",
    "Response271",
    "Source",
    "Trace",
    "read_270",
    "read_transaction",
    "render_270",
    "write_270",
]

# -- models -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Entity:
    """A name loop (2100A..D, 2120C/D): NM1 and the segments that follow it."""

    entity_code: str  # NM101: PR payer, 1P provider, IL subscriber, 03 dependent, P3 PCP
    entity_type: str  # NM102: 1 person, 2 non-person
    last_or_organization: str = ""
    first: str = ""
    middle: str = ""
    prefix: str = ""  # NM106
    suffix: str = ""  # NM107
    id_qualifier: str = ""  # NM108: PI payer id, XX NPI, SV service provider, MI member id
    id: str = ""
    references: tuple[Reference, ...] = ()
    address: Address | None = None
    contacts: tuple[Contact, ...] = ()
    validations: tuple[RequestValidation, ...] = ()
    provider: ProviderInfo | None = None
    demographics: Demographics | None = None
    insurance: tuple[str, ...] = ()  # INS elements as sent (INS01 Y/N, INS02 relationship...)
    diagnoses: tuple[tuple[str, ...], ...] = ()  # HI composites (qualifier, code)
    dates: tuple[DatePeriod, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Inquiry:
    """EQ loop (2110C/D of a 270): what is asked about."""

    service_types: tuple[str, ...] = (codes.GENERAL_SERVICE_TYPE,)  # EQ01
    procedure: tuple[str, ...] = ()  # EQ02 composite: qualifier, code, modifiers
    coverage_level: str = ""  # EQ03
    diagnosis_pointers: tuple[str, ...] = ()  # EQ05
    references: tuple[Reference, ...] = ()
    dates: tuple[DatePeriod, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Benefit:
    """EB loop (2110C/D of a 271): one benefit statement."""

    info_code: str  # EB01: 1 active, 6 inactive, A coinsurance, B copay, C deductible...
    coverage_level: str = ""  # EB02: IND, FAM...
    service_types: tuple[str, ...] = ()  # EB03
    insurance_type: str = ""  # EB04
    plan_description: str = ""  # EB05
    time_period: str = ""  # EB06: 23 calendar year, 29 remaining...
    amount: Decimal | None = None  # EB07
    percent: Decimal | None = None  # EB08 (0.2 = 20 %)
    quantity_qualifier: str = ""  # EB09
    quantity: Decimal | None = None  # EB10
    authorization_required: str = ""  # EB11: Y, N, U
    in_network: str = ""  # EB12: Y, N, W (not applicable), U
    procedure: tuple[str, ...] = ()  # EB13
    diagnosis_pointers: tuple[str, ...] = ()  # EB14
    deliveries: tuple[tuple[str, ...], ...] = ()  # HSD elements as sent
    references: tuple[Reference, ...] = ()
    dates: tuple[DatePeriod, ...] = ()
    validations: tuple[RequestValidation, ...] = ()  # AAA
    messages: tuple[str, ...] = ()  # MSG01
    related: tuple[Entity, ...] = ()  # LS/LE 2120 loop


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """Subscriber (2000C) or dependent (2000D) level."""

    traces: tuple[Trace, ...] = ()
    party: Entity
    inquiries: tuple[Inquiry, ...] = ()  # 270
    benefits: tuple[Benefit, ...] = ()  # 271
    dependents: tuple[Member, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Receiver:
    """Information receiver level (2000B): the provider asking."""

    validations: tuple[RequestValidation, ...] = ()  # 271 2000B AAA
    party: Entity
    subscribers: tuple[Member, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """Information source level (2000A): the payer."""

    validations: tuple[RequestValidation, ...] = ()  # 271 2000A AAA
    party: Entity
    receivers: tuple[Receiver, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    """BHT."""

    reference_id: str
    created: date
    time: str  # BHT05 as sent: HHMM, HHMMSS, HHMMSSD or HHMMSSDD
    transaction_type: str = ""  # BHT06: RT real time, RU batch (270)


@dataclass(frozen=True, slots=True, kw_only=True)
class Eligibility:
    header: Header
    sources: tuple[Source, ...]
    envelope: TransactionContext | None = field(default=None, compare=False)

    def members(self) -> list[Member]:
        """Every subscriber and dependent, depth first."""
        out: list[Member] = []

        def walk(m: Member) -> None:
            out.append(m)
            for d in m.dependents:
                walk(d)

        for s in self.sources:
            for r in s.receivers:
                for m in r.subscribers:
                    walk(m)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Request270(Eligibility):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Response271(Eligibility):
    pass


# -- writing ------------------------------------------------------------------------------------


def _num(value: Decimal | None) -> str:
    if value is None:
        return ""
    return format(value, "f")


def _day(value: date) -> str:
    return value.strftime("%Y%m%d")


class _Writer:
    def __init__(self, delimiters: Delimiters) -> None:
        self.segments: list[SegmentSpec] = []
        self.hl = 0
        self.delimiters = delimiters

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

    def service_types(self, values: Sequence[str]) -> ElementValue:
        if len(values) <= 1:
            return values[0] if values else ""
        if self.delimiters.repetition is None:
            return tuple(values)
        return list(values)

    def validations(self, items: Sequence[RequestValidation]) -> None:
        for v in items:
            self.add("AAA", "Y" if v.valid else "N", "", v.reject_reason, v.follow_up_action)

    def dates(self, items: Sequence[DatePeriod]) -> None:
        for p in items:
            if p.end is None:
                self.add("DTP", p.qualifier, "D8", _day(p.start))
            else:
                self.add("DTP", p.qualifier, "RD8", f"{_day(p.start)}-{_day(p.end)}")

    def references(self, items: Sequence[Reference]) -> None:
        for ref in items:
            self.add("REF", ref.qualifier, ref.value)

    def entity(self, p: Entity) -> None:
        self.add(
            "NM1",
            p.entity_code,
            p.entity_type,
            p.last_or_organization,
            p.first,
            p.middle,
            p.prefix,
            p.suffix,
            p.id_qualifier,
            p.id,
        )
        self.references(p.references)
        if p.address is not None:
            a = p.address
            if a.lines:
                self.add("N3", *a.lines)
            if a.city or a.state or a.postal_code or a.country:
                self.add("N4", a.city, a.state, a.postal_code, a.country)
        for c in p.contacts:
            self.add(
                "PER", c.function_code, c.name, *[x for pair in c.communications for x in pair]
            )
        self.validations(p.validations)
        if p.provider is not None:
            self.add("PRV", p.provider.provider_code, p.provider.qualifier, p.provider.taxonomy)
        if p.demographics is not None:
            d = p.demographics
            born = _day(d.birth_date) if d.birth_date else ""
            self.add("DMG", "D8" if born else "", born, d.gender)
        if p.insurance:
            self.add("INS", *p.insurance)
        if p.diagnoses:
            self.add("HI", *[tuple(d) for d in p.diagnoses])
        self.dates(p.dates)

    def inquiry(self, q: Inquiry) -> None:
        self.add(
            "EQ",
            self.service_types(q.service_types),
            tuple(q.procedure),
            q.coverage_level,
            "",
            tuple(q.diagnosis_pointers),
        )
        self.references(q.references)
        self.dates(q.dates)

    def benefit(self, b: Benefit) -> None:
        self.add(
            "EB",
            b.info_code,
            b.coverage_level,
            self.service_types(b.service_types),
            b.insurance_type,
            b.plan_description,
            b.time_period,
            _num(b.amount),
            _num(b.percent),
            b.quantity_qualifier,
            _num(b.quantity),
            b.authorization_required,
            b.in_network,
            tuple(b.procedure),
            tuple(b.diagnosis_pointers),
        )
        for hsd in b.deliveries:
            self.add("HSD", *hsd)
        self.references(b.references)
        self.dates(b.dates)
        self.validations(b.validations)
        for text in b.messages:
            self.add("MSG", text)
        if b.related:
            self.add("LS", "2120")
            for e in b.related:
                self.entity(e)
            self.add("LE", "2120")

    def member(self, m: Member, parent: int, level: str) -> None:
        hl = self.open_hl(parent, level, bool(m.dependents))
        for t in m.traces:
            self.add("TRN", t.type_code, t.number, t.originator_id, t.supplemental_id)
        self.entity(m.party)
        for q in m.inquiries:
            self.inquiry(q)
        for b in m.benefits:
            self.benefit(b)
        for d in m.dependents:
            self.member(d, hl, "23")


def _body(model: Eligibility, delimiters: Delimiters = DEFAULT_DELIMITERS) -> list[SegmentSpec]:
    """The 270/271 body in TR3 order; X12Error (located) for what cannot be written."""
    problems: list[Problem] = []
    if not model.sources:
        problems.append(
            Problem(loop_id="2000A", message="expected an information source, got none")
        )
    for member in model.members():
        if isinstance(model, Request270) and member.benefits:
            problems.append(
                Problem(loop_id="2110C", segment_id="EB", message="expected EQ in a 270, got EB")
            )
        if isinstance(model, Response271) and member.inquiries:
            problems.append(
                Problem(loop_id="2110C", segment_id="EQ", message="expected EB in a 271, got EQ")
            )
    if problems:
        raise X12Error(problems)
    w = _Writer(delimiters)
    h = model.header
    purpose = codes.PURPOSE_REQUEST if isinstance(model, Request270) else codes.PURPOSE_RESPONSE
    w.add(
        "BHT",
        codes.BHT_STRUCTURE,
        purpose,
        h.reference_id,
        _day(h.created),
        h.time,
        h.transaction_type,
    )
    for source in model.sources:
        a = w.open_hl(None, "20", bool(source.receivers))
        w.validations(source.validations)
        w.entity(source.party)
        for receiver in source.receivers:
            b = w.open_hl(a, "21", bool(receiver.subscribers))
            w.validations(receiver.validations)
            w.entity(receiver.party)
            for subscriber in receiver.subscribers:
                w.member(subscriber, b, "22")
    return w.segments


def render_eligibility(
    model: Eligibility, context: TransactionContext, segment_suffix: str = ""
) -> str:
    """`model` as one transaction set inside `context` (e.g. `model.envelope` after a read)."""
    return write_transaction(context, _body(model, context.delimiters), segment_suffix)


def write_eligibility(
    model: Eligibility,
    params: EnvelopeParams,
    clock: Clock,
    control_numbers: ControlNumberSource,
    segment_suffix: str = "",
) -> str:
    body = _body(model, params.delimiters)  # validate before consuming control numbers
    request = isinstance(model, Request270)
    return write_new_transaction(
        body,
        params,
        clock,
        control_numbers,
        segment_suffix,
        transaction_set_id="270" if request else "271",
        implementation_reference=codes.IMPLEMENTATION_REFERENCE,
        functional_id=codes.FUNCTIONAL_ID_270 if request else codes.FUNCTIONAL_ID_271,
    )


def render_270(model: Request270, context: TransactionContext, segment_suffix: str = "") -> str:
    """`model` as one 270 inside `context` (e.g. `model.envelope` after a read)."""
    return render_eligibility(model, context, segment_suffix)


def write_270(
    request: Request270,
    params: EnvelopeParams,
    clock: Clock,
    control_numbers: ControlNumberSource,
    *,
    segment_suffix: str = "",
) -> str:
    """One 270 in its own interchange; X12Error (located) if it cannot be written."""
    return write_eligibility(request, params, clock, control_numbers, segment_suffix)


# -- reading ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Node:
    hl: Segment
    level: str
    segments: list[Segment] = field(default_factory=list)
    children: list[_Node] = field(default_factory=list)


_PARTY_SEGMENTS = ("REF", "N3", "N4", "PER", "AAA", "PRV", "DMG", "INS", "HI", "DTP")


class _Parser(GuideParser):
    def __init__(self, txn: Transaction, request: bool) -> None:
        self.txn = txn
        self.txn_context = txn.context
        self.request = request
        self.problems: list[Problem] = []

    def code(self, loop: str | None, seg: Segment, position: int, allowed: Collection[str]) -> str:
        value = seg.get(position)
        if value and value not in allowed:
            self.problem(
                loop,
                seg,
                f"expected one of {', '.join(sorted(allowed))}, got {value!r}",
                seg.name(position),
                level="element",
                code=ack_codes.ELEMENT_REQUIRED_MISSING
                if not value
                else ack_codes.ELEMENT_INVALID_CODE,
            )
        return value

    def decimal(self, loop: str, seg: Segment, position: int) -> Decimal | None:
        raw = seg.get(position)
        if not raw:
            return None
        try:
            return Decimal(raw)
        except InvalidOperation:
            self.problem(loop, seg, f"expected a number, got {raw!r}", seg.name(position))
            return None

    def day(self, loop: str | None, seg: Segment, raw: str, position: int) -> date | None:
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
                level="element",
                code=ack_codes.ELEMENT_REQUIRED_MISSING
                if not raw
                else ack_codes.ELEMENT_INVALID_DATE,
            )
            return None

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

    def validation(self, loop: str, seg: Segment) -> RequestValidation:
        self.code(loop, seg, 1, codes.YES_NO)
        return RequestValidation(seg.get(1) == "Y", seg.get(3), seg.get(4))

    def service_types(self, loop: str, seg: Segment, position: int) -> tuple[str, ...]:
        values = (
            seg.repetitions(position) if seg.delimiters.repetition else seg.components(position)
        )
        for value in values:
            if not (1 <= len(value) <= 2 and value.isalnum()):
                self.problem(
                    loop,
                    seg,
                    f"expected a service type code (1-2 letters or digits), got {value!r}",
                    seg.name(position),
                )
        return tuple(values)

    # -- structure --

    def tree(self) -> tuple[Segment | None, list[_Node]]:
        bht: Segment | None = None
        roots: list[_Node] = []
        nodes: list[_Node] = []
        current: _Node | None = None
        for seg in self.txn.body:
            if seg.id == "HL":
                current = self.hl(seg, nodes, roots)
                continue
            if current is None:
                if seg.id == "BHT" and bht is None:
                    bht = seg
                else:
                    self.problem(None, seg, f"expected BHT or HL, got {seg.id!r}")
                continue
            current.segments.append(seg)
        return bht, roots

    def hl(self, seg: Segment, nodes: list[_Node], roots: list[_Node]) -> _Node:
        level = seg.get(3)
        loop = codes.HL_LOOPS.get(level)
        if loop is None:
            self.problem(None, seg, f"expected one of 20, 21, 22, 23, got {level!r}", "HL03")
        if seg.get(1) != str(len(nodes) + 1):
            self.problem(loop, seg, f"expected {len(nodes) + 1}, got {seg.get(1)!r}", "HL01")
        node = _Node(seg, level)
        parent_id = seg.get(2)
        want = codes.HL_PARENT.get(level)
        if want is None:
            if parent_id:
                self.problem(
                    loop, seg, f"expected no parent for level {level}, got {parent_id!r}", "HL02"
                )
            roots.append(node)
        else:
            parent = next((n for n in nodes if n.hl.get(1) == parent_id), None)
            if parent is None or parent.level != want:
                self.problem(
                    loop,
                    seg,
                    f"expected the id of an HL of level {want}, got {parent_id!r}",
                    "HL02",
                )
                roots.append(node)
            else:
                parent.children.append(node)
        nodes.append(node)
        return node

    def check_children(self, node: _Node) -> None:
        flag = node.hl.get(4)
        expected = "1" if node.children else "0"
        if flag != expected:
            self.problem(
                codes.HL_LOOPS.get(node.level),
                node.hl,
                f"expected {expected}, got {flag!r}",
                "HL04",
            )

    def entity(self, loop: str, segs: list[Segment]) -> Entity:
        nm1 = segs[0]
        refs: list[Reference] = []
        address: Address | None = None
        contacts: list[Contact] = []
        validations: list[RequestValidation] = []
        provider: ProviderInfo | None = None
        demographics: Demographics | None = None
        insurance: tuple[str, ...] = ()
        diagnoses: list[tuple[str, ...]] = []
        dates: list[DatePeriod] = []
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
                validations.append(self.validation(loop, seg))
            elif seg.id == "PRV":
                provider = ProviderInfo(seg.get(1), seg.get(3), seg.get(2))
            elif seg.id == "DMG":
                born = self.day(loop, seg, seg.get(2), 2) if seg.get(2) else None
                demographics = Demographics(born, seg.get(3))
            elif seg.id == "INS":
                insurance = seg.elements
            elif seg.id == "HI":
                diagnoses.extend(seg.components(i) for i in range(1, len(seg.elements) + 1))
            elif seg.id == "DTP":
                period = self.dtp(loop, seg)
                if period is not None:
                    dates.append(period)
        return Entity(
            entity_code=nm1.get(1),
            entity_type=nm1.get(2),
            last_or_organization=nm1.get(3),
            first=nm1.get(4),
            middle=nm1.get(5),
            prefix=nm1.get(6),
            suffix=nm1.get(7),
            id_qualifier=nm1.get(8),
            id=nm1.get(9),
            references=tuple(refs),
            address=address,
            contacts=tuple(contacts),
            validations=tuple(validations),
            provider=provider,
            demographics=demographics,
            insurance=insurance,
            diagnoses=tuple(diagnoses),
            dates=tuple(dates),
        )

    def take_entity(
        self, loop: str, segs: list[Segment], i: int, allowed: tuple[str, ...]
    ) -> tuple[list[Segment], int]:
        """The NM1 at segs[i] and the segments of its name loop."""
        out = [segs[i]]
        i += 1
        while i < len(segs) and segs[i].id in allowed:
            out.append(segs[i])
            i += 1
        return out, i

    def level_party(
        self, node: _Node
    ) -> tuple[list[RequestValidation], Entity | None, list[Segment]]:
        """Loop-level AAA (271 2000A/B) or TRN (2000C/D), the name loop, and what follows it."""
        loop = codes.HL_LOOPS.get(node.level, "")
        name_loop = codes.NAME_LOOPS.get(node.level, "")
        segs = node.segments
        i = 0
        validations: list[RequestValidation] = []
        while i < len(segs) and segs[i].id in ("AAA", "TRN"):
            seg = segs[i]
            if seg.id == "AAA" and node.level in ("22", "23"):
                self.problem(loop, seg, f"expected AAA after the NM1 ({name_loop}), got it before")
            elif seg.id == "AAA":
                validations.append(self.validation(loop, seg))
            elif node.level not in ("22", "23"):
                self.problem(loop, seg, "expected TRN only at levels 22 and 23, got it here")
            i += 1
        if i >= len(segs) or segs[i].id != "NM1":
            got = repr(segs[i].id) if i < len(segs) else "none"
            self.problem(
                name_loop, segs[i] if i < len(segs) else node.hl, f"expected NM1, got {got}"
            )
            return validations, None, []
        party_segs, i = self.take_entity(name_loop, segs, i, _PARTY_SEGMENTS)
        return validations, self.entity(name_loop, party_segs), segs[i:]

    def traces(self, node: _Node) -> tuple[Trace, ...]:
        return tuple(
            Trace(s.get(1), s.get(2), s.get(3), s.get(4)) for s in node.segments if s.id == "TRN"
        )

    def inquiries(self, loop: str, segs: list[Segment]) -> list[Inquiry]:
        out: list[Inquiry] = []
        i = 0
        while i < len(segs):
            eq = segs[i]
            if eq.id != "EQ":
                self.problem(loop, eq, f"expected EQ, got {eq.id!r}")
                i += 1
                continue
            i += 1
            refs: list[Reference] = []
            dates: list[DatePeriod] = []
            while i < len(segs) and segs[i].id in ("REF", "DTP"):
                s = segs[i]
                if s.id == "REF":
                    refs.append(Reference(s.get(1), s.get(2)))
                else:
                    period = self.dtp(loop, s)
                    if period is not None:
                        dates.append(period)
                i += 1
            out.append(
                Inquiry(
                    service_types=self.service_types(loop, eq, 1),
                    procedure=eq.components(2),
                    coverage_level=self.code(loop, eq, 3, codes.COVERAGE_LEVELS),
                    diagnosis_pointers=eq.components(5),
                    references=tuple(refs),
                    dates=tuple(dates),
                )
            )
        return out

    def benefits(self, loop: str, segs: list[Segment]) -> list[Benefit]:
        out: list[Benefit] = []
        i = 0
        while i < len(segs):
            eb = segs[i]
            if eb.id != "EB":
                self.problem(loop, eb, f"expected EB, got {eb.id!r}")
                i += 1
                continue
            i += 1
            parts: dict[str, list[Segment]] = {k: [] for k in ("HSD", "REF", "DTP", "AAA", "MSG")}
            related: list[Entity] = []
            while i < len(segs) and segs[i].id in parts:
                parts[segs[i].id].append(segs[i])
                i += 1
            while i < len(segs) and segs[i].id == "III":
                self.problem(loop, segs[i], "expected no III (2115 loop not supported), got 'III'")
                i += 1
            if i < len(segs) and segs[i].id == "LS":
                ls = segs[i]
                related_loop = loop.replace("2110", "2120")
                i += 1
                while i < len(segs) and segs[i].id == "NM1":
                    party_segs, i = self.take_entity(
                        related_loop, segs, i, ("N3", "N4", "PER", "PRV")
                    )
                    related.append(self.entity(related_loop, party_segs))
                if i < len(segs) and segs[i].id == "LE":
                    if segs[i].get(1) != ls.get(1):
                        self.problem(
                            related_loop,
                            segs[i],
                            f"expected {ls.get(1)!r} (as in LS01), got {segs[i].get(1)!r}",
                            "LE01",
                        )
                    i += 1
                else:
                    self.problem(
                        related_loop,
                        ls,
                        "expected LE, got none",
                        level="segment",
                        code=ack_codes.SEGMENT_REQUIRED_MISSING,
                    )
            dates = [self.dtp(loop, s) for s in parts["DTP"]]
            out.append(
                Benefit(
                    info_code=self.required_code(loop, eb, 1, codes.BENEFIT_INFO_CODES),
                    coverage_level=self.code(loop, eb, 2, codes.COVERAGE_LEVELS),
                    service_types=self.service_types(loop, eb, 3),
                    insurance_type=eb.get(4),
                    plan_description=eb.get(5),
                    time_period=self.code(loop, eb, 6, codes.TIME_PERIODS),
                    amount=self.decimal(loop, eb, 7),
                    percent=self.decimal(loop, eb, 8),
                    quantity_qualifier=eb.get(9),
                    quantity=self.decimal(loop, eb, 10),
                    authorization_required=self.code(loop, eb, 11, codes.AUTHORIZATION_INDICATORS),
                    in_network=self.code(loop, eb, 12, codes.NETWORK_INDICATORS),
                    procedure=eb.components(13),
                    diagnosis_pointers=eb.components(14),
                    deliveries=tuple(s.elements for s in parts["HSD"]),
                    references=tuple(Reference(s.get(1), s.get(2)) for s in parts["REF"]),
                    dates=tuple(d for d in dates if d is not None),
                    validations=tuple(self.validation(loop, s) for s in parts["AAA"]),
                    messages=tuple(s.get(1) for s in parts["MSG"]),
                    related=tuple(related),
                )
            )
        return out

    def required_code(self, loop: str, seg: Segment, position: int, allowed: frozenset[str]) -> str:
        if not seg.get(position):
            self.problem(loop, seg, "expected a code, got ''", seg.name(position))
            return ""
        return self.code(loop, seg, position, allowed)

    def member(self, node: _Node) -> Member | None:
        self.check_children(node)
        _, party, rest = self.level_party(node)
        loop = codes.BENEFIT_LOOPS.get(node.level, "2110C")
        dependents = []
        for child in node.children:
            if child.level == "23":
                dep = self.member(child)
                if dep is not None:
                    dependents.append(dep)
        if party is None:
            return None
        return Member(
            traces=self.traces(node),
            party=party,
            inquiries=tuple(self.inquiries(loop, rest)) if self.request else (),
            benefits=tuple(self.benefits(loop, rest)) if not self.request else (),
            dependents=tuple(dependents),
        )

    def unexpected(self, node: _Node, rest: list[Segment]) -> None:
        for seg in rest:
            loop = codes.NAME_LOOPS.get(node.level)
            self.problem(loop, seg, f"expected a segment of the {loop} name loop, got {seg.id!r}")

    def header(self) -> None:
        ctx = self.txn.context
        st = self.txn.segments[0]
        if ctx.implementation_reference not in codes.READABLE_REFERENCES:
            self.problem(
                None,
                st,
                f"expected one of {', '.join(codes.READABLE_REFERENCES)}, got {ctx.implementation_reference!r}",
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

    def model(self) -> Eligibility | None:
        ctx = self.txn.context
        st = self.txn.segments[0]
        set_id = "270" if self.request else "271"
        if ctx.transaction_set_id != set_id:
            self.problem(None, st, f"expected {set_id!r}, got {ctx.transaction_set_id!r}", "ST01")
            return None
        self.header()
        bht, roots = self.tree()
        header = Header(reference_id="", created=date(1, 1, 1), time="")
        if bht is None:
            self.problem(
                None,
                st,
                "expected BHT, got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        else:
            if bht.get(1) != codes.BHT_STRUCTURE:
                self.problem(
                    None, bht, f"expected {codes.BHT_STRUCTURE!r}, got {bht.get(1)!r}", "BHT01"
                )
            purpose = codes.PURPOSE_REQUEST if self.request else codes.PURPOSE_RESPONSE
            if bht.get(2) != purpose:
                self.problem(None, bht, f"expected {purpose!r}, got {bht.get(2)!r}", "BHT02")
            time = bht.get(5)
            if not (time.isdigit() and 4 <= len(time) <= 8):
                self.problem(None, bht, f"expected HHMM[SS[D[D]]], got {time!r}", "BHT05")
            header = Header(
                reference_id=bht.get(3),
                created=self.day(None, bht, bht.get(4), 4) or date(1, 1, 1),
                time=time,
                transaction_type=bht.get(6),
            )
        sources: list[Source] = []
        for root in roots:
            if root.level != "20":
                continue
            self.check_children(root)
            validations, party, rest = self.level_party(root)
            self.unexpected(root, rest)
            receivers: list[Receiver] = []
            for child in root.children:
                self.check_children(child)
                r_validations, r_party, r_rest = self.level_party(child)
                self.unexpected(child, r_rest)
                members = [m for m in map(self.member, child.children) if m is not None]
                if r_party is not None:
                    receivers.append(
                        Receiver(
                            validations=tuple(r_validations),
                            party=r_party,
                            subscribers=tuple(members),
                        )
                    )
            if party is not None:
                sources.append(
                    Source(validations=tuple(validations), party=party, receivers=tuple(receivers))
                )
        if not sources:
            self.problem(
                "2000A",
                st,
                "expected HL level 20 with an NM1, got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
            return None
        cls = Request270 if self.request else Response271
        return cls(header=header, sources=tuple(sources), envelope=ctx)


def read_transaction(txn: Transaction) -> tuple[Request270 | None, list[Problem]]:
    """One 270 transaction set already split out by the envelope reader: its model (None when
    it cannot be modelled) and its problems, the transaction's envelope problems first."""
    parser = _Parser(txn, request=True)
    model = parser.model()
    problems = [*txn.problems, *parser.problems]
    return (model if isinstance(model, Request270) else None), problems


def read_eligibility(text: str | bytes, request: bool) -> tuple[list[Eligibility], list[Problem]]:
    problems: list[Problem] = []
    models: list[Eligibility] = []
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


def read_270(text: str | bytes) -> tuple[list[Request270], list[Problem]]:
    """Every 270 in `text`, and every problem found (empty when valid)."""
    models, problems = read_eligibility(text, request=True)
    return [m for m in models if isinstance(m, Request270)], problems
