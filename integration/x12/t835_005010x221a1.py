"""835 Health Care Claim Payment/Advice (X12 005010X221A1): read, stream and write.

- `read_835(text)`: text to models plus located problems; reading goes on after a problem
  whenever the rest can still be read. Every transaction set of the input is read (pyx12 4.0
  crashes on some multi-transaction files; this reader does not depend on it).
- `iter_835_claims(stream, problems)`: a text or binary file object read in chunks, yielding
  `(PaymentHeader, ClaimPayment)` one claim at a time; memory is bounded by one claim however
  large the file (the balancing of a whole transaction is checked with running sums).
- `write_835(model, params, clock, control_numbers)`: a model to an interchange, the envelope
  filled from `EnvelopeParams`, an injected clock and control-number source.
- `render_835(model, context)`: a model back into a given envelope (the one it was read in).

Validation: envelope counts and control numbers (see `envelope`); ST01 835, ST03 005010X221A1 or
absent (pyx12's map marks it not used), GS08 005010X221A1, GS01 HP; BPR first and BPR16, TRN,
N1*PR with PER*BL (1000A), N1*PE (1000B) and NM1*QC per claim required;
the code lists of BPR01/03/04, CLP02, CLP06, CAS01, SVC01-1, LQ01 (`x221_codes`); decimals and
CCYYMMDD dates; at most 6 CAS triplets, 4 modifiers, 6 PLB pairs; the three TR3 balancing rules
(service line, claim, transaction; sources in `x221_codes`). Not checked: element lengths,
CARC/RARC values against the published lists, TS3/TS2/MIA contents (kept as read), the TR3's
situational rules beyond those above.

Round trips: the writer emits segments in TR3 order from the model, so a file in TR3 order is
written back segment for segment; a value the reader reported as unreadable (a bad number or
date) is not kept, so its segment differs, and trailing empty elements are not written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from integration.x12 import x221_codes as codes
from integration.x12 import x231_codes as ack_codes
from integration.x12.envelope import (
    Clock,
    ControlNumberSource,
    EnvelopeParams,
    SegmentSpec,
    SupportsRead,
    Transaction,
    TransactionContext,
    TransactionEnd,
    TransactionStart,
    iter_text_events,
    iter_transaction_events,
    write_new_transaction,
    write_transaction,
)
from integration.x12.errors import Problem, X12Error
from integration.x12.guide_parser import GuideParser
from integration.x12.segments import ElementValue, Segment, ccyymmdd, paused_gc
from integration.x12.t278_005010x217 import (
    Address,
    Contact,
    DatePeriod,
    Party,
    Procedure,
    Reference,
    Trace,
)

__all__ = [
    "Adjustment",
    "AdjustmentReason",
    "AdjustmentSegment",
    "Amount",
    "ClaimPayment",
    "HeaderNumber",
    "InpatientAdjudication",
    "Organization",
    "OutpatientAdjudication",
    "Payment",
    "PaymentHeader",
    "ProviderAdjustment",
    "ProviderAdjustmentItem",
    "Quantity",
    "Remark",
    "Remittance835",
    "ServicePayment",
    "flatten",
    "iter_835_claims",
    "read_835",
    "render_835",
    "write_835",
]

ZERO = Decimal(0)

# -- models -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AdjustmentReason:
    """One CAS triplet without its group: reason (CARC), amount, quantity."""

    reason: str
    amount: Decimal
    quantity: Decimal | None = None


@dataclass(frozen=True, slots=True)
class AdjustmentSegment:
    """One CAS segment: a group code and up to six triplets."""

    group: str  # CAS01: CO, OA, PI, PR
    reasons: tuple[AdjustmentReason, ...]


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A CAS triplet with its group: what posting works with."""

    group: str
    reason: str
    amount: Decimal
    quantity: Decimal | None = None


def flatten(segments: Iterable[AdjustmentSegment]) -> tuple[Adjustment, ...]:
    return tuple(
        Adjustment(s.group, r.reason, r.amount, r.quantity) for s in segments for r in s.reasons
    )


@dataclass(frozen=True, slots=True)
class Amount:
    qualifier: str  # AMT01, e.g. AU coverage amount, B6 allowed, I interest
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Quantity:
    qualifier: str  # QTY01, e.g. CA covered actual, ZK units
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class Remark:
    qualifier: str  # LQ01: HE (RARC), RX (NCPDP)
    code: str


@dataclass(frozen=True, slots=True)
class InpatientAdjudication:
    """MIA, kept element by element as read (MIA01..MIA24)."""

    values: tuple[str, ...]

    @property
    def remark_codes(self) -> tuple[str, ...]:
        padded = self.values + ("",) * (24 - len(self.values))
        return tuple(padded[i - 1] for i in (5, 20, 21, 22, 23) if padded[i - 1])


@dataclass(frozen=True, slots=True)
class OutpatientAdjudication:
    """MOA: reimbursement rate, HCPCS payable amount, remark codes (MOA03..MOA07)."""

    reimbursement_rate: Decimal | None = None
    payable_amount: Decimal | None = None
    remark_codes: tuple[str, ...] = ()
    esrd_amount: Decimal | None = None
    nonpayable_professional: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServicePayment:
    """2110 service payment information."""

    procedure: Procedure  # SVC01 (HC:code:mod1..mod4)
    charge: Decimal  # SVC02
    paid: Decimal  # SVC03
    revenue_code: str = ""  # SVC04
    units: Decimal | None = None  # SVC05
    original_procedure: Procedure | None = None  # SVC06, when the payer paid a different code
    original_units: Decimal | None = None  # SVC07
    dates: tuple[DatePeriod, ...] = ()  # DTM 472, 150, 151
    cas: tuple[AdjustmentSegment, ...] = ()
    references: tuple[Reference, ...] = ()  # 6R line item control number, ...
    amounts: tuple[Amount, ...] = ()  # B6 allowed, KH deduction, ...
    quantities: tuple[Quantity, ...] = ()
    remarks: tuple[Remark, ...] = ()  # LQ

    @property
    def adjustments(self) -> tuple[Adjustment, ...]:
        return flatten(self.cas)

    @property
    def line_control_number(self) -> str | None:
        return next((r.value for r in self.references if r.qualifier == "6R"), None)

    @property
    def allowed(self) -> Decimal | None:
        return next((a.amount for a in self.amounts if a.qualifier == "B6"), None)

    @property
    def service_date(self) -> date | None:
        for qualifier in ("472", "150"):
            for d in self.dates:
                if d.qualifier == qualifier:
                    return d.start
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimPayment:
    """2100 claim payment information."""

    patient_control_number: str  # CLP01: our claim's patient control number
    status: str  # CLP02 (x221_codes.ClaimStatus)
    charge: Decimal  # CLP03
    paid: Decimal  # CLP04
    patient_responsibility: Decimal | None = None  # CLP05
    filing_indicator: str = ""  # CLP06
    payer_claim_control_number: str = ""  # CLP07
    facility_code: str = ""  # CLP08
    frequency: str = ""  # CLP09
    additional: tuple[str, ...] = ()  # CLP10..CLP14 as read (institutional)
    cas: tuple[AdjustmentSegment, ...] = ()
    parties: tuple[Party, ...] = ()  # NM1 QC, IL, 74, 82, TT, PR, GB
    inpatient: InpatientAdjudication | None = None
    outpatient: OutpatientAdjudication | None = None
    references: tuple[Reference, ...] = ()
    dates: tuple[DatePeriod, ...] = ()  # DTM 232, 233, 050, 036
    contacts: tuple[Contact, ...] = ()
    amounts: tuple[Amount, ...] = ()
    quantities: tuple[Quantity, ...] = ()
    services: tuple[ServicePayment, ...] = ()

    @property
    def adjustments(self) -> tuple[Adjustment, ...]:
        """Claim-level CAS only."""
        return flatten(self.cas)

    @property
    def all_adjustments(self) -> tuple[Adjustment, ...]:
        """Claim-level and line-level CAS."""
        return self.adjustments + tuple(a for s in self.services for a in s.adjustments)

    @property
    def is_reversal(self) -> bool:
        return self.status == codes.ClaimStatus.REVERSAL

    def party(self, entity_code: str) -> Party | None:
        return next((p for p in self.parties if p.entity_code == entity_code), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Payment:
    """BPR financial information."""

    handling_code: str  # BPR01
    amount: Decimal  # BPR02 total actual provider payment
    credit_debit: str  # BPR03
    method: str  # BPR04: ACH, CHK, NON, ...
    format_code: str = ""  # BPR05
    bank: tuple[str, ...] = ()  # BPR06..BPR15 as read (DFI and account numbers)
    payment_date: date | None = None  # BPR16
    extra: tuple[str, ...] = ()  # BPR17..BPR21 as read


@dataclass(frozen=True, slots=True, kw_only=True)
class Organization:
    """N1 loop: 1000A payer (N1*PR) or 1000B payee (N1*PE)."""

    entity_code: str
    name: str
    id_qualifier: str = ""  # N103: XV plan id, XX NPI, FI tax id
    id: str = ""
    address: Address | None = None
    references: tuple[Reference, ...] = ()  # 2U payer id, TJ tax id, PQ payee id, ...
    contacts: tuple[Contact, ...] = ()  # PER CX, BL, IC

    @property
    def npi(self) -> str | None:
        return self.id if self.id_qualifier == "XX" else None

    @property
    def tax_id(self) -> str | None:
        if self.id_qualifier == "FI":
            return self.id
        return next((r.value for r in self.references if r.qualifier == "TJ"), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentHeader:
    """Table 1: BPR, TRN, REF, DTM and the payer/payee loops."""

    payment: Payment
    trace: Trace  # TRN02 check/EFT trace number, TRN03 payer id
    references: tuple[Reference, ...] = ()  # EV receiver id, F2 version
    dates: tuple[DatePeriod, ...] = ()  # DTM*405 production date
    payer: Organization
    payee: Organization

    @property
    def production_date(self) -> date | None:
        return next((d.start for d in self.dates if d.qualifier == "405"), None)

    @property
    def trace_number(self) -> str:
        return self.trace.number

    @property
    def payer_id(self) -> str:
        return self.trace.originator_id


@dataclass(frozen=True, slots=True, kw_only=True)
class HeaderNumber:
    """2000: LX header number with TS3/TS2 provider summaries (kept as read) and its claims."""

    number: str
    facility_summary: tuple[str, ...] = ()  # TS3 elements
    supplemental_summary: tuple[str, ...] = ()  # TS2 elements
    claims: tuple[ClaimPayment, ...] = ()


@dataclass(frozen=True, slots=True)
class ProviderAdjustmentItem:
    reason: str  # PLBnn-1, e.g. WO overpayment recovery, L6 interest
    reference: str  # PLBnn-2
    amount: Decimal  # positive decreases the payment


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderAdjustment:
    """PLB: provider-level adjustments not tied to a claim of this remittance."""

    provider_id: str
    fiscal_period_date: date | None
    items: tuple[ProviderAdjustmentItem, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Remittance835:
    header: PaymentHeader
    groups: tuple[HeaderNumber, ...] = ()
    provider_adjustments: tuple[ProviderAdjustment, ...] = ()
    envelope: TransactionContext | None = field(default=None, compare=False)

    @property
    def claims(self) -> tuple[ClaimPayment, ...]:
        return tuple(c for g in self.groups for c in g.claims)


# -- writing ------------------------------------------------------------------------------------


def _num(value: Decimal | None) -> str:
    """X12 R (decimal) form: no exponent, no leading zero before the point ('.28', '-.5')."""
    if value is None:
        return ""
    text = format(value, "f")
    if text.startswith("0."):
        return text[1:]
    if text.startswith("-0."):
        return "-" + text[2:]
    return text


def _show(value: Decimal) -> str:
    """An amount in a message: plain decimal notation."""
    return format(value, "f")


def _date(value: date | None) -> str:
    return "" if value is None else value.strftime("%Y%m%d")


def _procedure(proc: Procedure, where: str, loop: str) -> tuple[str, ...]:
    if len(proc.modifiers) > codes.MAX_MODIFIERS:
        raise X12Error(
            [
                Problem(
                    loop_id=loop,
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

    def add(self, segment_id: str, *elements: ElementValue) -> None:
        self.segments.append((segment_id, list(elements)))

    def cas(self, items: Sequence[AdjustmentSegment], loop: str) -> None:
        for seg in items:
            if not 0 < len(seg.reasons) <= codes.MAX_CAS_TRIPLETS:
                raise X12Error(
                    [
                        Problem(
                            loop_id=loop,
                            segment_id="CAS",
                            message=f"expected 1 to {codes.MAX_CAS_TRIPLETS} adjustment triplets, "
                            f"got {len(seg.reasons)}",
                        )
                    ]
                )
            triplets = [
                x for r in seg.reasons for x in (r.reason, _num(r.amount), _num(r.quantity))
            ]
            self.add("CAS", seg.group, *triplets)

    def dates(self, items: Sequence[DatePeriod]) -> None:
        for d in items:
            self.add("DTM", d.qualifier, _date(d.start))

    def refs(self, items: Sequence[Reference]) -> None:
        for r in items:
            self.add("REF", r.qualifier, r.value)

    def contacts(self, items: Sequence[Contact]) -> None:
        for c in items:
            self.add(
                "PER", c.function_code, c.name, *[x for pair in c.communications for x in pair]
            )

    def amounts(self, amounts: Sequence[Amount], quantities: Sequence[Quantity]) -> None:
        for a in amounts:
            self.add("AMT", a.qualifier, _num(a.amount))
        for q in quantities:
            self.add("QTY", q.qualifier, _num(q.quantity))

    def organization(self, o: Organization) -> None:
        self.add("N1", o.entity_code, o.name, o.id_qualifier, o.id)
        if o.address is not None:
            a = o.address
            if a.lines:
                self.add("N3", *a.lines)
            if a.city or a.state or a.postal_code or a.country:
                self.add("N4", a.city, a.state, a.postal_code, a.country)
        self.refs(o.references)
        self.contacts(o.contacts)

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

    def header(self, h: PaymentHeader) -> None:
        p = h.payment
        self.add(
            "BPR",
            p.handling_code,
            _num(p.amount),
            p.credit_debit,
            p.method,
            p.format_code,
            *(list(p.bank) + [""] * (10 - len(p.bank))),
            _date(p.payment_date),
            *p.extra,
        )
        t = h.trace
        self.add("TRN", t.type_code, t.number, t.originator_id, t.supplemental_id)
        self.refs(h.references)
        self.dates(h.dates)
        self.organization(h.payer)
        self.organization(h.payee)

    def claim(self, c: ClaimPayment) -> None:
        self.add(
            "CLP",
            c.patient_control_number,
            c.status,
            _num(c.charge),
            _num(c.paid),
            _num(c.patient_responsibility),
            c.filing_indicator,
            c.payer_claim_control_number,
            c.facility_code,
            c.frequency,
            *c.additional,
        )
        self.cas(c.cas, "2100")
        for party in c.parties:
            self.party(party)
        if c.inpatient is not None:
            self.add("MIA", *c.inpatient.values)
        if c.outpatient is not None:
            o = c.outpatient
            remarks = list(o.remark_codes) + [""] * (5 - len(o.remark_codes))
            self.add(
                "MOA",
                _num(o.reimbursement_rate),
                _num(o.payable_amount),
                *remarks,
                _num(o.esrd_amount),
                _num(o.nonpayable_professional),
            )
        self.refs(c.references)
        self.dates(c.dates)
        self.contacts(c.contacts)
        self.amounts(c.amounts, c.quantities)
        for s in c.services:
            self.service(s)

    def service(self, s: ServicePayment) -> None:
        self.add(
            "SVC",
            _procedure(s.procedure, "SVC01", "2110"),
            _num(s.charge),
            _num(s.paid),
            s.revenue_code,
            _num(s.units),
            _procedure(s.original_procedure, "SVC06", "2110") if s.original_procedure else "",
            _num(s.original_units),
        )
        self.dates(s.dates)
        self.cas(s.cas, "2110")
        self.refs(s.references)
        self.amounts(s.amounts, s.quantities)
        for r in s.remarks:
            self.add("LQ", r.qualifier, r.code)

    def plb(self, adj: ProviderAdjustment) -> None:
        if not 0 < len(adj.items) <= codes.MAX_PLB_PAIRS:
            raise X12Error(
                [
                    Problem(
                        segment_id="PLB",
                        message=f"expected 1 to {codes.MAX_PLB_PAIRS} adjustments, got {len(adj.items)}",
                    )
                ]
            )
        pairs: list[ElementValue] = []
        for item in adj.items:
            pairs += [(item.reason, item.reference), _num(item.amount)]
        self.add("PLB", adj.provider_id, _date(adj.fiscal_period_date), *pairs)


def _body(model: Remittance835) -> list[SegmentSpec]:
    """The 835 body (BPR .. PLB) in TR3 order; X12Error (located) for what cannot be written."""
    w = _Writer()
    w.header(model.header)
    for group in model.groups:
        w.add("LX", group.number)
        if group.facility_summary:
            w.add("TS3", *group.facility_summary)
        if group.supplemental_summary:
            w.add("TS2", *group.supplemental_summary)
        for claim in group.claims:
            w.claim(claim)
    for adj in model.provider_adjustments:
        w.plb(adj)
    return w.segments


def render_835(model: Remittance835, context: TransactionContext, segment_suffix: str = "") -> str:
    """`model` as one transaction set inside `context` (e.g. `model.envelope` after a read)."""
    return write_transaction(context, _body(model), segment_suffix)


def write_835(
    model: Remittance835,
    params: EnvelopeParams,
    clock: Clock,
    control_numbers: ControlNumberSource,
    *,
    segment_suffix: str = "",
) -> str:
    """One 835 in its own interchange; X12Error (located) if it cannot be written."""
    body = _body(model)  # validate before consuming control numbers
    return write_new_transaction(
        body,
        params,
        clock,
        control_numbers,
        segment_suffix,
        transaction_set_id=codes.TRANSACTION_SET_ID,
        implementation_reference=codes.IMPLEMENTATION_REFERENCE,
        functional_id=codes.FUNCTIONAL_ID,
    )


# -- reading ------------------------------------------------------------------------------------

_CLAIM_START = ("CLP", "LX", "PLB")


@dataclass(frozen=True, slots=True)
class _GroupStart:
    group: HeaderNumber  # without claims


def _cas_total(segments: Sequence[AdjustmentSegment], start: Decimal) -> Decimal:
    """`start` plus every CAS amount of `segments`, added in order (as `sum` over `flatten`)."""
    total = start
    for s in segments:
        for r in s.reasons:
            total += r.amount
    return total


_Event = PaymentHeader | _GroupStart | ClaimPayment | ProviderAdjustment


class _Parser(GuideParser):
    """Walks the body of one 835 transaction set segment by segment, yielding the header, each
    LX group start, each claim (as soon as the next loop starts) and each PLB."""

    def __init__(self, context: TransactionContext, st: Segment) -> None:
        self.context = context
        self.txn_context = context
        self.st = st
        self.problems: list[Problem] = []
        self.total_paid = ZERO
        self.total_plb = ZERO
        self.header: PaymentHeader | None = None
        self.bpr: Segment | None = None

    # -- helpers --

    def parse_decimal(
        self, loop: str | None, seg: Segment, raw: str, position: int, component: int | None = None
    ) -> Decimal | None:
        if not raw:
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite():
            self.problem(
                loop, seg, f"expected a number, got {raw!r}", seg.name(position), component
            )
            return None
        return value

    def decimal(self, loop: str | None, seg: Segment, position: int) -> Decimal | None:
        return self.parse_decimal(loop, seg, seg.get(position), position)

    def required_decimal(self, loop: str | None, seg: Segment, position: int) -> Decimal:
        raw = seg.get(position)
        if not raw:
            self.problem(loop, seg, "expected an amount, got nothing", seg.name(position))
            return ZERO
        value = self.parse_decimal(loop, seg, raw, position)
        return ZERO if value is None else value

    def day(self, loop: str | None, seg: Segment, position: int) -> date | None:
        raw = seg.get(position)
        day = ccyymmdd(raw)
        if day is None:
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
        return day

    def dtm(self, loop: str | None, seg: Segment, allowed: dict[str, str]) -> DatePeriod | None:
        qualifier = self.code(loop, seg, 1, allowed)
        day = self.day(loop, seg, 2)
        return None if day is None else DatePeriod(qualifier, day)

    def procedure(self, loop: str, seg: Segment, position: int) -> Procedure | None:
        comps = seg.components(position)
        if not comps:
            return None
        padded = list(comps) + [""] * (7 - len(comps))
        if padded[0] not in codes.SERVICE_QUALIFIERS:
            self.problem(
                loop,
                seg,
                f"expected one of {', '.join(codes.SERVICE_QUALIFIERS)}, got {padded[0]!r}",
                seg.name(position),
                1,
            )
        if len(comps) > 7:
            self.problem(
                loop,
                seg,
                f"expected at most 7 components, got {len(comps)}",
                seg.name(position),
            )
        return Procedure(padded[0], padded[1], tuple(m for m in padded[2:6] if m), padded[6])

    def cas(self, loop: str, seg: Segment) -> AdjustmentSegment:
        group = self.code(loop, seg, 1, codes.ADJUSTMENT_GROUPS)
        reasons: list[AdjustmentReason] = []
        triplets = (len(seg.elements) - 1 + 2) // 3
        if triplets > codes.MAX_CAS_TRIPLETS:
            self.problem(
                loop,
                seg,
                f"expected at most {codes.MAX_CAS_TRIPLETS} adjustment triplets "
                f"(CAS02..CAS19), got {triplets}",
            )
        for first in range(2, len(seg.elements) + 1, 3):
            reason = seg.get(first)
            raw_amount, raw_qty = seg.get(first + 1), seg.get(first + 2)
            if not (reason or raw_amount or raw_qty):
                continue
            if not reason:
                self.problem(
                    loop, seg, "expected an adjustment reason code, got nothing", seg.name(first)
                )
                continue
            if not raw_amount:
                self.problem(
                    loop,
                    seg,
                    f"expected the amount of adjustment reason {reason!r}, got nothing",
                    seg.name(first + 1),
                )
                continue
            amount = self.parse_decimal(loop, seg, raw_amount, first + 1)
            quantity = self.parse_decimal(loop, seg, raw_qty, first + 2)
            if amount is None:
                continue
            reasons.append(AdjustmentReason(reason, amount, quantity))
        if not seg.get(2):
            self.problem(loop, seg, "expected an adjustment reason code, got nothing", "CAS02")
        return AdjustmentSegment(group, tuple(reasons))

    def reference(self, seg: Segment) -> Reference:
        return Reference(seg.get(1), seg.get(2))

    def contact(self, seg: Segment) -> Contact:
        pairs = tuple((seg.get(i), seg.get(i + 1)) for i in (3, 5, 7) if seg.get(i))
        return Contact(seg.get(1), seg.get(2), pairs)

    def amount(self, loop: str, seg: Segment) -> Amount | None:
        value = self.required_decimal(loop, seg, 2) if seg.get(2) else None
        if value is None:
            self.problem(loop, seg, "expected an amount, got nothing", "AMT02")
            return None
        return Amount(seg.get(1), value)

    def quantity(self, loop: str, seg: Segment) -> Quantity | None:
        value = self.decimal(loop, seg, 2)
        if value is None:
            if not seg.get(2):
                self.problem(loop, seg, "expected a quantity, got nothing", "QTY02")
            return None
        return Quantity(seg.get(1), value)

    def unexpected(self, loop: str | None, seg: Segment, where: str) -> None:
        self.problem(
            loop,
            seg,
            f"expected a segment of {where}, got {seg.id!r}",
            level="segment",
            code=ack_codes.SEGMENT_UNEXPECTED,
        )

    # -- loops --

    def check_envelope(self) -> bool:
        ctx, st = self.context, self.st
        if ctx.transaction_set_id != codes.TRANSACTION_SET_ID:
            self.problem(None, st, f"expected '835', got {ctx.transaction_set_id!r}", "ST01")
            return False
        # ST03 is optional here: pyx12's 835.5010.X221.A1 map marks it not used, and payers omit it.
        if ctx.implementation_reference not in ("", codes.IMPLEMENTATION_REFERENCE):
            self.problem(
                None,
                st,
                f"expected {codes.IMPLEMENTATION_REFERENCE!r} or nothing, "
                f"got {ctx.implementation_reference!r}",
                "ST03",
            )
        group_problems: list[tuple[str, str]] = []
        if ctx.group.version != codes.IMPLEMENTATION_REFERENCE:
            group_problems.append(
                (
                    "GS08",
                    f"expected {codes.IMPLEMENTATION_REFERENCE!r}, got {ctx.group.version!r}",
                )
            )
        if ctx.group.functional_id != codes.FUNCTIONAL_ID:
            group_problems.append(
                ("GS01", f"expected {codes.FUNCTIONAL_ID!r}, got {ctx.group.functional_id!r}")
            )
        for element, message in group_problems:
            self.problems.append(
                Problem(
                    message=message,
                    segment_id="GS",
                    segment_index=ctx.group.segment_index,
                    element=element,
                    interchange_control_number=ctx.interchange.control_number,
                    group_control_number=ctx.group.control_number,
                    transaction_control_number=ctx.control_number,
                )
            )
        return True

    def organization(self, loop: str, segs: list[Segment]) -> Organization:
        n1 = segs[0]
        address: Address | None = None
        refs: list[Reference] = []
        contacts: list[Contact] = []
        for seg in segs[1:]:
            if seg.id == "N3":
                address = Address(tuple(e for e in seg.elements if e))
            elif seg.id == "N4":
                lines = address.lines if address else ()
                address = Address(lines, seg.get(1), seg.get(2), seg.get(3), seg.get(4))
            elif seg.id == "REF":
                refs.append(self.reference(seg))
            elif seg.id == "PER" and loop == "1000A":
                contacts.append(self.contact(seg))
            else:
                self.unexpected(loop, seg, f"the {loop} loop (N1, N3, N4, REF, PER)")
        if loop == "1000B" and n1.get(3) and n1.get(3) not in codes.PAYEE_ID_QUALIFIERS:
            self.code(loop, n1, 3, codes.PAYEE_ID_QUALIFIERS)
        if loop == "1000A" and not any(c.function_code == "BL" for c in contacts):
            # Required by the TR3 but situational in practice (many payers omit it): a receiver
            # should not reject the remittance for it, so it is a warning.
            self.problem(
                loop,
                n1,
                "expected PER*BL (payer technical contact), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
                severity="warning",
            )
        return Organization(
            entity_code=n1.get(1),
            name=n1.get(2),
            id_qualifier=n1.get(3),
            id=n1.get(4),
            address=address,
            references=tuple(refs),
            contacts=tuple(contacts),
        )

    def parse_header(self, segs: list[Segment], next_seg: Segment | None) -> PaymentHeader:
        bpr: Segment | None = None
        trn: Segment | None = None
        refs: list[Reference] = []
        dates: list[DatePeriod] = []
        loops: dict[str, list[Segment]] = {}
        current: list[Segment] | None = None
        for seg in segs:
            if seg.id == "N1":
                entity = seg.get(1)
                if entity in (codes.PAYER_ENTITY, codes.PAYEE_ENTITY) and entity not in loops:
                    current = loops[entity] = [seg]
                else:
                    self.problem(
                        None,
                        seg,
                        f"expected N1*PR (1000A) then N1*PE (1000B), once each, got N1*{entity}",
                        "N101",
                    )
                    current = []
            elif current is not None:
                current.append(seg)
            elif seg.id == "BPR" and bpr is None:
                bpr = self.bpr = seg
            elif seg.id == "TRN" and trn is None:
                trn = seg
            elif seg.id == "REF":
                refs.append(self.reference(seg))
            elif seg.id == "DTM":
                d = self.dtm(None, seg, codes.HEADER_DATES)
                if d is not None:
                    dates.append(d)
            else:
                self.unexpected(None, seg, "the 835 header (BPR, TRN, CUR, REF, DTM, N1)")
        where = next_seg or self.st
        if segs and bpr is not None and segs[0] is not bpr:
            self.problem(None, bpr, "expected BPR as the first segment after ST")
        payment = Payment(handling_code="", amount=ZERO, credit_debit="", method="")
        if bpr is None:
            self.problem(
                None,
                segs[0] if segs else where,
                "expected BPR after ST, got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        else:
            payment = Payment(
                handling_code=self.code(None, bpr, 1, codes.HANDLING_CODES),
                amount=self.required_decimal(None, bpr, 2),
                credit_debit=self.code(None, bpr, 3, codes.CREDIT_DEBIT),
                method=self.code(None, bpr, 4, codes.PAYMENT_METHODS),
                format_code=bpr.get(5),
                bank=tuple(bpr.get(i) for i in range(6, 16)),
                payment_date=self.day(None, bpr, 16),
                extra=bpr.elements[16:],
            )
        trace = Trace("", "", "")
        if trn is None:
            self.problem(
                None,
                bpr or where,
                "expected TRN (reassociation trace number), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        else:
            if not trn.get(2):
                self.problem(
                    None, trn, "expected a check or EFT trace number, got nothing", "TRN02"
                )
            trace = Trace(trn.get(1), trn.get(2), trn.get(3), trn.get(4))
        payer = Organization(entity_code="PR", name="")
        payee = Organization(entity_code="PE", name="")
        if codes.PAYER_ENTITY in loops:
            payer = self.organization("1000A", loops[codes.PAYER_ENTITY])
        else:
            self.problem(
                "1000A",
                where,
                "expected N1*PR (payer identification), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        if codes.PAYEE_ENTITY in loops:
            payee = self.organization("1000B", loops[codes.PAYEE_ENTITY])
        else:
            self.problem(
                "1000B",
                where,
                "expected N1*PE (payee identification), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        return PaymentHeader(
            payment=payment,
            trace=trace,
            references=tuple(refs),
            dates=tuple(dates),
            payer=payer,
            payee=payee,
        )

    def parse_group(self, segs: list[Segment]) -> HeaderNumber:
        lx = segs[0]
        ts3: tuple[str, ...] = ()
        ts2: tuple[str, ...] = ()
        for seg in segs[1:]:
            if seg.id == "TS3" and not ts3:
                ts3 = seg.elements
            elif seg.id == "TS2" and not ts2:
                ts2 = seg.elements
            else:
                self.unexpected("2000", seg, "the 2000 loop (LX, TS3, TS2)")
        if not lx.get(1).isdigit():
            self.problem("2000", lx, f"expected a header number, got {lx.get(1)!r}", "LX01")
        return HeaderNumber(number=lx.get(1), facility_summary=ts3, supplemental_summary=ts2)

    def parse_service(self, segs: list[Segment]) -> ServicePayment:
        loop = "2110"
        svc = segs[0]
        procedure = self.procedure(loop, svc, 1)
        if procedure is None:
            self.problem(loop, svc, "expected a procedure (SVC01), got nothing", "SVC01")
            procedure = Procedure("", "")
        charge = self.required_decimal(loop, svc, 2)
        paid = self.required_decimal(loop, svc, 3)
        dates: list[DatePeriod] = []
        cas: list[AdjustmentSegment] = []
        refs: list[Reference] = []
        amounts: list[Amount] = []
        quantities: list[Quantity] = []
        remarks: list[Remark] = []
        for seg in segs[1:]:
            if seg.id == "DTM":
                d = self.dtm(loop, seg, codes.SERVICE_DATES)
                if d is not None:
                    dates.append(d)
            elif seg.id == "CAS":
                line_cas = self.cas(loop, seg)
                if line_cas.reasons:  # else its problems are reported and nothing is left
                    cas.append(line_cas)
            elif seg.id == "REF":
                refs.append(self.reference(seg))
            elif seg.id == "AMT":
                a = self.amount(loop, seg)
                if a is not None:
                    amounts.append(a)
            elif seg.id == "QTY":
                q = self.quantity(loop, seg)
                if q is not None:
                    quantities.append(q)
            elif seg.id == "LQ":
                remarks.append(Remark(self.code(loop, seg, 1, codes.REMARK_QUALIFIERS), seg.get(2)))
            else:
                self.unexpected(loop, seg, "the 2110 loop (SVC, DTM, CAS, REF, AMT, QTY, LQ)")
        line = ServicePayment(
            procedure=procedure,
            charge=charge,
            paid=paid,
            revenue_code=svc.get(4),
            units=self.decimal(loop, svc, 5),
            original_procedure=self.procedure(loop, svc, 6),
            original_units=self.decimal(loop, svc, 7),
            dates=tuple(dates),
            cas=tuple(cas),
            references=tuple(refs),
            amounts=tuple(amounts),
            quantities=tuple(quantities),
            remarks=tuple(remarks),
        )
        adjusted = _cas_total(line.cas, ZERO)
        if charge - adjusted != paid:
            self.problem(
                loop,
                svc,
                f"expected SVC02 - line adjustments ({_show(charge)} - {_show(adjusted)} = "
                f"{_show(charge - adjusted)}) to equal SVC03, got {_show(paid)}",
                "SVC03",
            )
        return line

    def parse_claim(self, segs: list[Segment]) -> ClaimPayment:
        loop = "2100"
        clp = segs[0]
        if not clp.get(1):
            self.problem(loop, clp, "expected a patient control number, got nothing", "CLP01")
        status = self.code(loop, clp, 2, codes.CLAIM_STATUSES)
        charge = self.required_decimal(loop, clp, 3)
        paid = self.required_decimal(loop, clp, 4)
        if clp.get(6):
            self.code(loop, clp, 6, codes.FILING_INDICATORS)
        cas: list[AdjustmentSegment] = []
        parties: list[Party] = []
        inpatient: InpatientAdjudication | None = None
        outpatient: OutpatientAdjudication | None = None
        refs: list[Reference] = []
        dates: list[DatePeriod] = []
        contacts: list[Contact] = []
        amounts: list[Amount] = []
        quantities: list[Quantity] = []
        services: list[ServicePayment] = []
        line: list[Segment] | None = None
        for seg in segs[1:]:
            if seg.id == "SVC":
                if line is not None:
                    services.append(self.parse_service(line))
                line = [seg]
            elif line is not None:
                line.append(seg)
            elif seg.id == "CAS":
                claim_cas = self.cas(loop, seg)
                if claim_cas.reasons:  # else its problems are reported and nothing is left
                    cas.append(claim_cas)
            elif seg.id == "NM1":
                self.code(loop, seg, 1, codes.CLAIM_ENTITIES)
                parties.append(
                    Party(
                        entity_code=seg.get(1),
                        entity_type=seg.get(2),
                        last_or_organization=seg.get(3),
                        first=seg.get(4),
                        middle=seg.get(5),
                        suffix=seg.get(7),
                        id_qualifier=seg.get(8),
                        id=seg.get(9),
                    )
                )
            elif seg.id == "MIA" and inpatient is None:
                inpatient = InpatientAdjudication(seg.elements)
            elif seg.id == "MOA" and outpatient is None:
                outpatient = OutpatientAdjudication(
                    reimbursement_rate=self.decimal(loop, seg, 1),
                    payable_amount=self.decimal(loop, seg, 2),
                    remark_codes=tuple(seg.get(i) for i in range(3, 8) if seg.get(i)),
                    esrd_amount=self.decimal(loop, seg, 8),
                    nonpayable_professional=self.decimal(loop, seg, 9),
                )
            elif seg.id == "REF":
                refs.append(self.reference(seg))
            elif seg.id == "DTM":
                d = self.dtm(loop, seg, codes.CLAIM_DATES)
                if d is not None:
                    dates.append(d)
            elif seg.id == "PER":
                contacts.append(self.contact(seg))
            elif seg.id == "AMT":
                a = self.amount(loop, seg)
                if a is not None:
                    amounts.append(a)
            elif seg.id == "QTY":
                q = self.quantity(loop, seg)
                if q is not None:
                    quantities.append(q)
            else:
                self.unexpected(
                    loop,
                    seg,
                    "the 2100 loop (CLP, CAS, NM1, MIA, MOA, REF, DTM, PER, AMT, QTY, SVC)",
                )
        if line is not None:
            services.append(self.parse_service(line))
        if not any(p.entity_code == "QC" for p in parties):
            self.problem(
                loop,
                clp,
                "expected NM1*QC (patient name) in the claim, got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        claim = ClaimPayment(
            patient_control_number=clp.get(1),
            status=status,
            charge=charge,
            paid=paid,
            patient_responsibility=self.decimal(loop, clp, 5),
            filing_indicator=clp.get(6),
            payer_claim_control_number=clp.get(7),
            facility_code=clp.get(8),
            frequency=clp.get(9),
            additional=clp.elements[9:],
            cas=tuple(cas),
            parties=tuple(parties),
            inpatient=inpatient,
            outpatient=outpatient,
            references=tuple(refs),
            dates=tuple(dates),
            contacts=tuple(contacts),
            amounts=tuple(amounts),
            quantities=tuple(quantities),
            services=tuple(services),
        )
        # the order of `claim.all_adjustments`, without building its Adjustment tuples
        adjusted = _cas_total(claim.cas, ZERO)
        for service in claim.services:
            adjusted = _cas_total(service.cas, adjusted)
        if charge - adjusted != paid:
            self.problem(
                loop,
                clp,
                f"expected CLP03 - claim and line adjustments ({_show(charge)} - {_show(adjusted)} = "
                f"{_show(charge - adjusted)}) to equal CLP04, got {_show(paid)}",
                "CLP04",
            )
        self.total_paid += paid
        return claim

    def parse_plb(self, seg: Segment) -> ProviderAdjustment:
        if not seg.get(1):
            self.problem(None, seg, "expected a provider identifier, got nothing", "PLB01")
        fiscal = self.day(None, seg, 2)
        items: list[ProviderAdjustmentItem] = []
        pairs = (len(seg.elements) - 2 + 1) // 2
        if pairs > codes.MAX_PLB_PAIRS:
            self.problem(
                None,
                seg,
                f"expected at most {codes.MAX_PLB_PAIRS} adjustments (PLB03..PLB14), got {pairs}",
            )
        for position in range(3, len(seg.elements) + 1, 2):
            comps = seg.components(position)
            raw_amount = seg.get(position + 1)
            if not comps and not raw_amount:
                continue
            reason = comps[0] if comps else ""
            if reason not in codes.PLB_REASONS:
                self.problem(
                    None,
                    seg,
                    f"expected one of {', '.join(codes.PLB_REASONS)}, got {reason!r}",
                    seg.name(position),
                    1,
                )
            if not raw_amount:
                self.problem(
                    None, seg, "expected an adjustment amount, got nothing", seg.name(position + 1)
                )
                continue
            amount = self.parse_decimal(None, seg, raw_amount, position + 1)
            if amount is None:
                continue
            reference = seg.delimiters.component.join(comps[1:])
            items.append(ProviderAdjustmentItem(reason, reference, amount))
            self.total_plb += amount
        return ProviderAdjustment(
            provider_id=seg.get(1), fiscal_period_date=fiscal, items=tuple(items)
        )

    # -- walking --

    def walk(self, body: Iterable[Segment]) -> Iterator[_Event]:
        if not self.check_envelope():
            for _ in body:
                pass
            return
        head: list[Segment] = []
        pending: list[Segment] | None = None  # the open 2000 or 2100 loop
        in_plb = False
        seen_lx = False
        for seg in body:
            if self.header is None:
                if seg.id not in _CLAIM_START:
                    head.append(seg)
                    continue
                self.header = self.parse_header(head, seg)
                head = []
                yield self.header
            if seg.id in _CLAIM_START:
                if pending is not None:
                    yield from self.close(pending)
                    pending = None
                if seg.id == "PLB":
                    in_plb = True
                    plb = self.parse_plb(seg)
                    if plb.items:  # else its problems are reported and nothing is left
                        yield plb
                    continue
                if in_plb:
                    self.problem(None, seg, f"expected PLB or SE after PLB, got {seg.id!r}")
                if seg.id == "LX":
                    seen_lx = True
                elif not seen_lx:
                    self.problem("2000", seg, "expected LX (header number) before the first CLP")
                    seen_lx = True
                pending = [seg]
            elif pending is not None:
                pending.append(seg)
            else:
                self.unexpected(None, seg, "table 3 (PLB)")
        if self.header is None:
            self.header = self.parse_header(head, None)
            yield self.header
        if pending is not None:
            yield from self.close(pending)
        self.check_total()

    def close(self, segs: list[Segment]) -> Iterator[_Event]:
        if segs[0].id == "LX":
            # TS3/TS2 follow LX; anything else before the first CLP is reported by parse_group.
            yield _GroupStart(self.parse_group(segs))
        else:
            yield self.parse_claim(segs)

    def check_total(self) -> None:
        assert self.header is not None
        expected = self.total_paid - self.total_plb
        amount = self.header.payment.amount
        if expected != amount:
            self.problem(
                None,
                self.bpr,
                f"expected BPR02 = sum of CLP04 - sum of PLB amounts ({_show(self.total_paid)} - "
                f"{_show(self.total_plb)} = {_show(expected)}), got {_show(amount)}",
                "BPR02",
            )


def _assemble(parser: _Parser, body: Iterable[Segment]) -> Remittance835 | None:
    header: PaymentHeader | None = None
    groups: list[HeaderNumber] = []
    claims: list[ClaimPayment] = []
    plbs: list[ProviderAdjustment] = []
    current: HeaderNumber | None = None

    def close_group() -> None:
        if current is not None:
            groups.append(_with_claims(current, claims))
        elif claims:
            groups.append(HeaderNumber(number="", claims=tuple(claims)))

    for event in parser.walk(body):
        if isinstance(event, PaymentHeader):
            header = event
        elif isinstance(event, _GroupStart):
            close_group()
            current, claims = event.group, []
        elif isinstance(event, ClaimPayment):
            claims.append(event)
        else:
            plbs.append(event)
    close_group()
    if header is None:
        return None
    return Remittance835(
        header=header,
        groups=tuple(groups),
        provider_adjustments=tuple(plbs),
        envelope=parser.context,
    )


def _with_claims(group: HeaderNumber, claims: list[ClaimPayment]) -> HeaderNumber:
    return HeaderNumber(
        number=group.number,
        facility_summary=group.facility_summary,
        supplemental_summary=group.supplemental_summary,
        claims=tuple(claims),
    )


def read_transaction(txn: Transaction) -> tuple[Remittance835 | None, list[Problem]]:
    """One 835 transaction set already split out by the envelope reader: its model (None when it
    cannot be modelled) and its problems, the transaction's envelope problems first."""
    parser = _Parser(txn.context, txn.segments[0])
    with paused_gc():
        model = _assemble(parser, txn.body)
    return model, [*txn.problems, *parser.problems]


def read_835(text: str | bytes) -> tuple[list[Remittance835], list[Problem]]:
    """Every 835 in `text`, and every problem found (empty when valid)."""
    problems: list[Problem] = []
    models: list[Remittance835] = []
    with paused_gc():
        _read_835(text, models, problems)
    return models, problems


def _read_835(text: str | bytes, models: list[Remittance835], problems: list[Problem]) -> None:
    try:
        # Parsed as the segments arrive (like `read_transactions`, whose transactions' envelope
        # problems come first, then the parser's), so a transaction's segments are not all held.
        events = iter_text_events(text, problems)
        for event in events:
            if not isinstance(event, TransactionStart):
                continue  # body segments and ends are consumed by `_body_until_end`
            parser = _Parser(event.context, event.st)
            end: list[TransactionEnd] = []
            model = _assemble(parser, _body_until_end(events, end))
            if end:
                problems.extend(end[0].problems)
            problems.extend(parser.problems)
            if model is not None:
                models.append(model)
    except X12Error as exc:
        problems.extend(exc.problems)


def iter_835_claims(
    stream: SupportsRead, problems: list[Problem] | None = None, chunk_size: int = 1 << 20
) -> Iterator[tuple[PaymentHeader, ClaimPayment]]:
    """Each claim of every 835 in `stream` with its payment header, one at a time.

    Memory stays bounded by one claim: segments are read in chunks and a claim is parsed as soon
    as the next loop starts. Problems (envelope, per claim, and the transaction balance found
    at its SE) are appended to `problems` as they are found; an unreadable ISA is one problem.
    """
    sink = problems if problems is not None else []
    try:
        yield from _claims(iter_transaction_events(stream, sink, chunk_size), sink)
    except X12Error as exc:
        sink.extend(exc.problems)


def _claims(
    events: Iterator[TransactionStart | Segment | TransactionEnd], sink: list[Problem]
) -> Iterator[tuple[PaymentHeader, ClaimPayment]]:
    for event in events:
        if not isinstance(event, TransactionStart):
            continue  # a body segment outside a transaction cannot happen; ends are handled below
        parser = _Parser(event.context, event.st)
        end: list[TransactionEnd] = []
        body = _body_until_end(events, end)
        header: PaymentHeader | None = None
        for item in parser.walk(body):
            sink.extend(parser.problems)
            parser.problems.clear()
            if isinstance(item, PaymentHeader):
                header = item
            elif isinstance(item, ClaimPayment) and header is not None:
                yield header, item
        sink.extend(parser.problems)
        if end:
            sink.extend(end[0].problems)


def _body_until_end(
    events: Iterator[TransactionStart | Segment | TransactionEnd], end: list[TransactionEnd]
) -> Iterator[Segment]:
    for event in events:
        if isinstance(event, TransactionEnd):
            end.append(event)
            return
        if isinstance(event, Segment):
            yield event
