"""276/277 Health Care Claim Status Request and Response (X12 005010X212) and the 277CA Claim
Acknowledgment (005010X214): shared models and HL engine, and the 276 API.

`t277_005010x212` adds the 277/277CA API. One engine serves all three because their shape is the
same: an HL tree (information source 20, receiver 21, service provider 19, then subscriber 22 and
dependent 23 in X212, or patient PT in X214), each level an NM1 name loop followed by TRN-started
status loops (2200: TRN, STC, REF, QTY, AMT, DTP) and service lines (SVC, STC, REF, DTP). The
differences are checked per guide: the HL levels and parents, BHT01 (0010 X212, 0085 X214), BHT02
(13 for a 276, 08 for a 277), GS01 (HR, HN), and that a 276 carries no STC while its 2000D/E may
carry a DMG before the NM1. X214 levels 20/21/19 carry their own TRN/STC/QTY/AMT loops; X212
ones do not (a loop found there is kept and not reported). In a 277 every status loop below
level 20 needs an STC (as pyx12's X214 map requires). Not checked: element lengths, the
claim status code lists' content (structure only, see `x212_codes`), situational rules.

- `write_276` / `render_276`: a typed `StatusRequest` to an interchange (injected clock and
  control numbers) or into a given envelope; `read_276(text)`: models plus located problems.

Round trips keep what the models hold; trailing empty elements are not written back. pyx12 4.0
has 277 maps for X212 and X214 (the X212 one is not listed in its maps.xml); it has no 5010 276
map.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from integration.x12 import x212_codes as codes
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
from integration.x12.t270_005010x279a1 import Entity
from integration.x12.t278_005010x217 import DatePeriod, Demographics, Reference, Trace

__all__ = [
    "ClaimStatus",
    "DatePeriod",
    "Demographics",
    "Entity",
    "Header",
    "Level",
    "Reference",
    "ServiceStatus",
    "Status",
    "StatusCode",
    "StatusRequest",
    "StatusResponse",
    "Trace",
    "read_276",
    "read_transaction",
    "render_276",
    "write_276",
]

# -- models -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusCode:
    """C043: claim status category (A0-A8, F0-F4, P0-P5, R0-R16...), status code, entity."""

    category: str
    code: str
    entity: str = ""
    code_list_qualifier: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Status:
    """STC: a status with its effective date and amounts."""

    primary: StatusCode  # STC01
    effective: date | None = None  # STC02
    action: str = ""  # STC03: WQ accepted, U rejected (277CA)
    amount: Decimal | None = None  # STC04: total claim charge
    paid: Decimal | None = None  # STC05: claim payment amount
    adjudicated: date | None = None  # STC06
    payment_method: str = ""  # STC07
    payment_date: date | None = None  # STC08
    check_number: str = ""  # STC09
    more: tuple[StatusCode, ...] = ()  # STC10, STC11
    message: str = ""  # STC12


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceStatus:
    """SVC loop (2210D/E of a 276, 2220D/E of a 277, 2220D of a 277CA)."""

    procedure: tuple[str, ...]  # SVC01 composite: HC:99203
    charge: Decimal | None = None  # SVC02
    paid: Decimal | None = None  # SVC03
    revenue_code: str = ""  # SVC04
    units: Decimal | None = None  # SVC07
    statuses: tuple[Status, ...] = ()
    references: tuple[Reference, ...] = ()  # FJ line item control number
    dates: tuple[DatePeriod, ...] = ()  # 472 service date


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimStatus:
    """A TRN-started status loop (2200): the claim (or the level) it traces and its status."""

    trace: Trace  # TRN: type 1 current (276), 2 referenced (277)
    statuses: tuple[Status, ...] = ()
    references: tuple[Reference, ...] = ()  # 1K payer claim number, EJ patient account, BLT...
    quantities: tuple[tuple[str, Decimal], ...] = ()  # QTY (277CA): 90 accepted, AA rejected...
    amounts: tuple[tuple[str, Decimal], ...] = ()  # AMT: T3 total charge (276), YU/YY (277CA)
    dates: tuple[DatePeriod, ...] = ()  # DTP 472 service, 050 received, 009 processed
    services: tuple[ServiceStatus, ...] = ()

    def reference(self, qualifier: str) -> str | None:
        return next((r.value for r in self.references if r.qualifier == qualifier), None)

    @property
    def payer_claim_number(self) -> str | None:
        return self.reference(codes.PAYER_CLAIM_NUMBER)

    @property
    def patient_account(self) -> str | None:
        return self.reference(codes.PATIENT_ACCOUNT)


@dataclass(frozen=True, slots=True, kw_only=True)
class Level:
    """One HL level: 20 source, 21 receiver, 19 provider, 22 subscriber, 23 dependent, PT patient."""

    code: str  # HL03
    demographics: Demographics | None = None  # 276 2000D/E DMG
    parties: tuple[Entity, ...] = ()
    claims: tuple[ClaimStatus, ...] = ()
    children: tuple[Level, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    """BHT."""

    reference_id: str
    created: date
    time: str  # BHT05 as sent
    transaction_type: str = ""  # BHT06: DG response (277), TH receipt acknowledgment (277CA)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimStatusDocument:
    header: Header
    levels: tuple[Level, ...]  # the HL 20 roots
    implementation_reference: str = codes.REQUEST_REFERENCE
    envelope: TransactionContext | None = field(default=None, compare=False)

    def claims(self) -> Iterator[tuple[tuple[Level, ...], ClaimStatus]]:
        """Every status loop with the path of levels above it (root first)."""

        def walk(
            level: Level, path: tuple[Level, ...]
        ) -> Iterator[tuple[tuple[Level, ...], ClaimStatus]]:
            here = (*path, level)
            for claim in level.claims:
                yield here, claim
            for child in level.children:
                yield from walk(child, here)

        for root in self.levels:
            yield from walk(root, ())


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusRequest(ClaimStatusDocument):
    """276."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusResponse(ClaimStatusDocument):
    """277 (005010X212) or 277CA (005010X214, `implementation_reference`)."""


# -- writing ------------------------------------------------------------------------------------


def _num(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


def _day(value: date | None) -> str:
    return "" if value is None else value.strftime("%Y%m%d")


def _code(c: StatusCode) -> tuple[str, ...]:
    return (c.category, c.code, c.entity, c.code_list_qualifier)


class _Writer:
    def __init__(self) -> None:
        self.segments: list[SegmentSpec] = []
        self.hl = 0

    def add(self, segment_id: str, *elements: ElementValue) -> None:
        self.segments.append((segment_id, list(elements)))

    def dates(self, items: Sequence[DatePeriod]) -> None:
        for p in items:
            if p.end is None:
                self.add("DTP", p.qualifier, "D8", _day(p.start))
            else:
                self.add("DTP", p.qualifier, "RD8", f"{_day(p.start)}-{_day(p.end)}")

    def status(self, s: Status) -> None:
        more: list[ElementValue] = [_code(c) for c in s.more[:2]]
        self.add(
            "STC",
            _code(s.primary),
            _day(s.effective),
            s.action,
            _num(s.amount),
            _num(s.paid),
            _day(s.adjudicated),
            s.payment_method,
            _day(s.payment_date),
            s.check_number,
            *(more + [""] * (2 - len(more))),
            s.message,
        )

    def claim(self, c: ClaimStatus) -> None:
        t = c.trace
        self.add("TRN", t.type_code, t.number, t.originator_id, t.supplemental_id)
        for s in c.statuses:
            self.status(s)
        for r in c.references:
            self.add("REF", r.qualifier, r.value)
        for qualifier, qty in c.quantities:
            self.add("QTY", qualifier, _num(qty))
        for qualifier, amount in c.amounts:
            self.add("AMT", qualifier, _num(amount))
        self.dates(c.dates)
        for svc in c.services:
            self.add(
                "SVC",
                tuple(svc.procedure),
                _num(svc.charge),
                _num(svc.paid),
                svc.revenue_code,
                "",
                "",
                _num(svc.units),
            )
            for s in svc.statuses:
                self.status(s)
            for r in svc.references:
                self.add("REF", r.qualifier, r.value)
            self.dates(svc.dates)

    def level(self, lvl: Level, parent: int | None, hl04: bool) -> None:
        self.hl += 1
        me = self.hl
        flag = ("1" if lvl.children else "0") if hl04 else ""
        self.add("HL", str(me), "" if parent is None else str(parent), lvl.code, flag)
        if lvl.demographics is not None:
            d = lvl.demographics
            self.add("DMG", "D8" if d.birth_date else "", _day(d.birth_date), d.gender)
        for p in lvl.parties:
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
        for c in lvl.claims:
            self.claim(c)
        for child in lvl.children:
            # HL04 is left out at the last level (2000E of X212, PT of X214), as the samples do.
            self.level(child, me, child.code not in ("23", "PT"))


def _body(model: ClaimStatusDocument) -> list[SegmentSpec]:
    problems: list[Problem] = []
    request = isinstance(model, StatusRequest)
    loops = codes.HL_LOOPS.get(model.implementation_reference)
    if loops is None:
        problems.append(
            Problem(
                element="ST03",
                message=f"expected one of {codes.REQUEST_REFERENCE}, {codes.ACK_REFERENCE}, "
                f"got {model.implementation_reference!r}",
            )
        )
    for path, claim in model.claims():
        if request and (claim.statuses or any(s.statuses for s in claim.services)):
            problems.append(
                Problem(
                    segment_id="STC", loop_id="2200D", message="expected no STC in a 276, got one"
                )
            )
        if loops is not None and path[-1].code not in loops:
            problems.append(
                Problem(
                    segment_id="HL",
                    element="HL03",
                    message=f"expected one of {', '.join(loops)}, got {path[-1].code!r}",
                )
            )
    if problems:
        raise X12Error(problems)
    w = _Writer()
    h = model.header
    structure = codes.BHT_STRUCTURE[model.implementation_reference]
    purpose = codes.PURPOSE_REQUEST if request else codes.PURPOSE_RESPONSE
    w.add("BHT", structure, purpose, h.reference_id, _day(h.created), h.time, h.transaction_type)
    for root in model.levels:
        w.level(root, None, True)
    return w.segments


def render_claim_status(
    model: ClaimStatusDocument, context: TransactionContext, segment_suffix: str = ""
) -> str:
    """`model` as one transaction set inside `context` (e.g. `model.envelope` after a read)."""
    return write_transaction(context, _body(model), segment_suffix)


def write_claim_status(
    model: ClaimStatusDocument,
    params: EnvelopeParams,
    clock: Clock,
    control_numbers: ControlNumberSource,
    segment_suffix: str = "",
) -> str:
    body = _body(model)  # validate before consuming control numbers
    request = isinstance(model, StatusRequest)
    return write_new_transaction(
        body,
        params,
        clock,
        control_numbers,
        segment_suffix,
        transaction_set_id="276" if request else "277",
        implementation_reference=model.implementation_reference,
        functional_id=codes.FUNCTIONAL_ID_276 if request else codes.FUNCTIONAL_ID_277,
    )


def render_276(model: StatusRequest, context: TransactionContext, segment_suffix: str = "") -> str:
    """`model` as one 276 inside `context` (e.g. `model.envelope` after a read)."""
    return render_claim_status(model, context, segment_suffix)


def write_276(
    request: StatusRequest,
    params: EnvelopeParams,
    clock: Clock,
    control_numbers: ControlNumberSource,
    *,
    segment_suffix: str = "",
) -> str:
    """One 276 in its own interchange; X12Error (located) if it cannot be written."""
    return write_claim_status(request, params, clock, control_numbers, segment_suffix)


# -- reading ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Node:
    hl: Segment
    code: str
    loop: str
    segments: list[Segment] = field(default_factory=list)
    children: list[_Node] = field(default_factory=list)


_CLAIM_PARTS = ("STC", "REF", "QTY", "AMT", "DTP")
_SERVICE_PARTS = ("STC", "REF", "DTP")


class _Parser(GuideParser):
    def __init__(self, txn: Transaction, request: bool) -> None:
        self.txn = txn
        self.txn_context = txn.context
        self.request = request
        self.problems: list[Problem] = []
        reference = txn.context.implementation_reference
        self.reference = reference if not request else codes.REQUEST_REFERENCE

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
        if not raw:
            return None
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
            if start and not end:
                return None
            return DatePeriod(seg.get(1), start, end) if start and end else None
        self.problem(loop, seg, f"expected D8 or RD8, got {fmt!r}", "DTP02")
        return None

    def status_code(self, loop: str, seg: Segment, position: int) -> StatusCode:
        comps = list(seg.components(position)) + [""] * 4
        category, code, entity = comps[0], comps[1], comps[2]
        if category not in codes.CATEGORY_CODES:
            self.problem(
                loop,
                seg,
                f"expected a claim status category A0-A8, D0, E0-E4, F0-F4, P0-P5 or R0-R16, got {category!r}",
                seg.name(position),
                1,
            )
        if not (code.isdigit() and len(code) <= 4):
            self.problem(
                loop,
                seg,
                f"expected a status code of 1-4 digits, got {code!r}",
                seg.name(position),
                2,
            )
        if entity and not (entity.isalnum() and len(entity) <= 3):
            self.problem(
                loop,
                seg,
                f"expected an entity identifier code, got {entity!r}",
                seg.name(position),
                3,
            )
        return StatusCode(category, code, entity, comps[3])

    def status(self, loop: str, seg: Segment) -> Status:
        if self.request:
            self.problem(loop, seg, "expected no STC in a 276, got one")
        primary = self.status_code(loop, seg, 1)
        more = tuple(self.status_code(loop, seg, p) for p in (10, 11) if seg.get(p))
        return Status(
            primary=primary,
            effective=self.day(loop, seg, seg.get(2), 2),
            action=seg.get(3),
            amount=self.decimal(loop, seg, 4),
            paid=self.decimal(loop, seg, 5),
            adjudicated=self.day(loop, seg, seg.get(6), 6),
            payment_method=seg.get(7),
            payment_date=self.day(loop, seg, seg.get(8), 8),
            check_number=seg.get(9),
            more=more,
            message=seg.get(12),
        )

    def tree(self) -> tuple[Segment | None, list[_Node]]:
        loops = codes.HL_LOOPS.get(self.reference, codes.HL_LOOPS[codes.REQUEST_REFERENCE])
        parents = codes.HL_PARENT.get(self.reference, codes.HL_PARENT[codes.REQUEST_REFERENCE])
        bht: Segment | None = None
        roots: list[_Node] = []
        nodes: list[_Node] = []
        current: _Node | None = None
        for seg in self.txn.body:
            if seg.id != "HL":
                if current is not None:
                    current.segments.append(seg)
                elif seg.id == "BHT" and bht is None:
                    bht = seg
                else:
                    self.problem(None, seg, f"expected BHT or HL, got {seg.id!r}")
                continue
            code = seg.get(3)
            loop = loops.get(code, "")
            if not loop:
                self.problem(None, seg, f"expected one of {', '.join(loops)}, got {code!r}", "HL03")
            if seg.get(1) != str(len(nodes) + 1):
                self.problem(
                    loop or None, seg, f"expected {len(nodes) + 1}, got {seg.get(1)!r}", "HL01"
                )
            node = _Node(seg, code, loop)
            want = parents.get(code)
            if not loop:
                roots.append(node)  # unknown level: reported above, kept apart
            elif want is None:
                if seg.get(2):
                    self.problem(
                        loop or None,
                        seg,
                        f"expected no parent for level {code}, got {seg.get(2)!r}",
                        "HL02",
                    )
                roots.append(node)
            else:
                parent = next((n for n in nodes if n.hl.get(1) == seg.get(2)), None)
                if parent is None or parent.code != want:
                    self.problem(
                        loop,
                        seg,
                        f"expected the id of an HL of level {want}, got {seg.get(2)!r}",
                        "HL02",
                    )
                    roots.append(node)
                else:
                    parent.children.append(node)
            nodes.append(node)
            current = node
        for node in nodes:
            flag = node.hl.get(4)
            if flag:
                expected = "1" if node.children else "0"
                if flag != expected:
                    self.problem(
                        node.loop or None, node.hl, f"expected {expected}, got {flag!r}", "HL04"
                    )
        return bht, roots

    def level(self, node: _Node) -> Level:
        segs = node.segments
        loop = node.loop or "2000"
        name_loop = loop.replace("2000", "2100")
        claim_loop = loop.replace("2000", "2200")
        i = 0
        demographics: Demographics | None = None
        if i < len(segs) and segs[i].id == "DMG":
            seg = segs[i]
            demographics = Demographics(self.day(loop, seg, seg.get(2), 2), seg.get(3))
            i += 1
        parties: list[Entity] = []
        while i < len(segs) and segs[i].id == "NM1":
            n = segs[i]
            parties.append(
                Entity(
                    entity_code=n.get(1),
                    entity_type=n.get(2),
                    last_or_organization=n.get(3),
                    first=n.get(4),
                    middle=n.get(5),
                    prefix=n.get(6),
                    suffix=n.get(7),
                    id_qualifier=n.get(8),
                    id=n.get(9),
                )
            )
            i += 1
        if not parties:
            got = repr(segs[i].id) if i < len(segs) else "none"
            self.problem(
                name_loop, segs[i] if i < len(segs) else node.hl, f"expected NM1, got {got}"
            )
        claims: list[ClaimStatus] = []
        while i < len(segs):
            seg = segs[i]
            if seg.id != "TRN":
                self.problem(claim_loop, seg, f"expected TRN, got {seg.id!r}")
                i += 1
                continue
            start = i
            claim, i = self.claim(claim_loop, segs, i)
            if not self.request and node.code != "20" and not claim.statuses:
                self.problem(
                    claim_loop,
                    segs[start],
                    "expected STC after TRN, got none",
                    level="segment",
                    code=ack_codes.SEGMENT_REQUIRED_MISSING,
                )
            claims.append(claim)
        return Level(
            code=node.code,
            demographics=demographics,
            parties=tuple(parties),
            claims=tuple(claims),
            children=tuple(self.level(c) for c in node.children),
        )

    def claim(self, loop: str, segs: list[Segment], i: int) -> tuple[ClaimStatus, int]:
        trn = segs[i]
        i += 1
        parts: dict[str, list[Segment]] = {k: [] for k in _CLAIM_PARTS}
        rank = 0
        while i < len(segs) and segs[i].id in parts:
            position = _CLAIM_PARTS.index(segs[i].id)
            if position < rank:
                self.problem(
                    loop,
                    segs[i],
                    f"expected {segs[i].id} before {_CLAIM_PARTS[rank]}, got it after",
                )
            rank = max(rank, position)
            parts[segs[i].id].append(segs[i])
            i += 1
        services: list[ServiceStatus] = []
        service_loop = loop.replace("2200", "2210" if self.request else "2220")
        while i < len(segs) and segs[i].id == "SVC":
            svc = segs[i]
            i += 1
            sparts: dict[str, list[Segment]] = {k: [] for k in _SERVICE_PARTS}
            while i < len(segs) and segs[i].id in sparts:
                sparts[segs[i].id].append(segs[i])
                i += 1
            services.append(
                ServiceStatus(
                    procedure=svc.components(1),
                    charge=self.decimal(service_loop, svc, 2),
                    paid=self.decimal(service_loop, svc, 3),
                    revenue_code=svc.get(4),
                    units=self.decimal(service_loop, svc, 7),
                    statuses=tuple(self.status(service_loop, s) for s in sparts["STC"]),
                    references=tuple(Reference(s.get(1), s.get(2)) for s in sparts["REF"]),
                    dates=tuple(d for d in (self.dtp(service_loop, s) for s in sparts["DTP"]) if d),
                )
            )
        return (
            ClaimStatus(
                trace=Trace(trn.get(1), trn.get(2), trn.get(3), trn.get(4)),
                statuses=tuple(self.status(loop, s) for s in parts["STC"]),
                references=tuple(Reference(s.get(1), s.get(2)) for s in parts["REF"]),
                quantities=tuple(
                    (s.get(1), self.decimal(loop, s, 2) or Decimal(0)) for s in parts["QTY"]
                ),
                amounts=tuple(
                    (s.get(1), self.decimal(loop, s, 2) or Decimal(0)) for s in parts["AMT"]
                ),
                dates=tuple(d for d in (self.dtp(loop, s) for s in parts["DTP"]) if d),
                services=tuple(services),
            ),
            i,
        )

    def header_checks(self) -> None:
        ctx = self.txn.context
        st = self.txn.segments[0]
        allowed = (
            (codes.REQUEST_REFERENCE,)
            if self.request
            else (codes.REQUEST_REFERENCE, codes.ACK_REFERENCE)
        )
        if ctx.implementation_reference not in allowed:
            self.problem(
                None,
                st,
                f"expected one of {', '.join(allowed)}, got {ctx.implementation_reference!r}",
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

    def model(self) -> ClaimStatusDocument | None:
        ctx = self.txn.context
        st = self.txn.segments[0]
        set_id = "276" if self.request else "277"
        if ctx.transaction_set_id != set_id:
            self.problem(None, st, f"expected {set_id!r}, got {ctx.transaction_set_id!r}", "ST01")
            return None
        self.header_checks()
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
            structure = codes.BHT_STRUCTURE.get(
                self.reference, codes.BHT_STRUCTURE[codes.REQUEST_REFERENCE]
            )
            if bht.get(1) != structure:
                self.problem(None, bht, f"expected {structure!r}, got {bht.get(1)!r}", "BHT01")
            purpose = codes.PURPOSE_REQUEST if self.request else codes.PURPOSE_RESPONSE
            if bht.get(2) != purpose:
                self.problem(None, bht, f"expected {purpose!r}, got {bht.get(2)!r}", "BHT02")
            header = Header(
                reference_id=bht.get(3),
                created=self.day(None, bht, bht.get(4), 4) or date(1, 1, 1),
                time=bht.get(5),
                transaction_type=bht.get(6),
            )
        if not roots:
            self.problem(
                "2000A",
                st,
                "expected HL level 20, got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
            return None
        cls = StatusRequest if self.request else StatusResponse
        reference = self.reference if self.reference in codes.HL_LOOPS else codes.REQUEST_REFERENCE
        return cls(
            header=header,
            levels=tuple(self.level(r) for r in roots),
            implementation_reference=reference,
            envelope=ctx,
        )


def read_transaction(txn: Transaction) -> tuple[StatusRequest | None, list[Problem]]:
    """One 276 transaction set already split out by the envelope reader: its model (None when
    it cannot be modelled) and its problems, the transaction's envelope problems first."""
    parser = _Parser(txn, request=True)
    model = parser.model()
    problems = [*txn.problems, *parser.problems]
    return (model if isinstance(model, StatusRequest) else None), problems


def read_claim_status(
    text: str | bytes, request: bool
) -> tuple[list[ClaimStatusDocument], list[Problem]]:
    problems: list[Problem] = []
    models: list[ClaimStatusDocument] = []
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


def read_276(text: str | bytes) -> tuple[list[StatusRequest], list[Problem]]:
    """Every 276 in `text`, and every problem found (empty when valid)."""
    models, problems = read_claim_status(text, request=True)
    return [m for m in models if isinstance(m, StatusRequest)], problems
