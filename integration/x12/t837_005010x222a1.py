"""837P Health Care Claim: Professional (X12 005010X222A1), in both directions, and as JSON.

- `write_837p`: a typed model to an interchange (one ST/SE), the envelope filled from
  `EnvelopeParams`, an injected clock and control-number source; X12Error (located) for a claim
  the TR3 rejects (no diagnosis or line, frequency not 1/6/7/8, 7/8 without REF*F8).
- `read_837p`: text to models plus located problems; reading goes on after a problem whenever
  the rest can still be read. Any number of interchanges, transaction sets and claims. A set
  whose structure cannot be modelled (required loop or segment missing, broken HL hierarchy,
  an unreadable CLM02/SV1) is reported and left out of the models.
- `render_837p`: a model back into a given envelope (the one it was read in, for round trips),
  as read: the writer's claim rules are not applied there.
- `claim_to_json` / `claim_from_json`: the model as JSON (Decimals as strings, dates ISO 8601),
  lossless; fhir_profiles/claim-837p.schema.json describes it.

Modelled: 1000A/1000B, 2000A/2010AA/2010AB/2010AC, 2000B/2010BA/2010BB, 2000C/2010CA, 2300
(CLM, DTP, PWK, AMT, REF, NTE, the diagnosis HI), 2310A-F, 2320/2330A-G (SBR, CAS, AMT, OI),
2400 (LX, SV1, DTP, REF, AMT, NTE), 2410 (LIN/CTP/REF), 2420A-H, 2430 (SVD, CAS, DTP*573, AMT).
Any other segment (CR1, CRC, HCP, MOA, PAT beyond PAT01, K3, PS1, other HI, ...) is kept as a
`RawSegment` at its position in its loop, the 2440 forms (LQ/FRM) of a line are kept raw, and
a modelled segment whose text the model would not reproduce (NM110, CLM13, a time BHT05 with
zero seconds, ...) is kept whole in its place; so any file in TR3 segment order reads and writes
back segment for segment (HL numbers and HL04 are recomputed; trailing empty elements dropped).

Validation (pyx12 4.0 has the 837.5010.X222.A1 map, not 005010X222 or 005010X222A2; the tests
validate our goldens with it): envelope counts and control numbers (see `envelope`), ST01 837,
ST03 one of 005010X222, 005010X222A1, 005010X222A2 with GS08 = ST03, BHT01/02/06, the HL
hierarchy (HL01 numbered 1..n, HL02 naming an earlier HL of the parent level, HL03 20/22/23, HL04
matching whether children follow, claims under 2000C when there is one), required segments per
loop (NM1*41 with PER, NM1*40, NM1*85 with N3, N4 and one REF*EI/SY, SBR, NM1*IL, NM1*PR, PAT and
NM1*QC in 2000C, CLM, HI, LX and SV1, OI, NM1*IL and NM1*PR in 2320), NM101/NM102, the segment
identifiers each loop may hold, CLM05-2 B and CLM05-3 frequency 1/6/7/8 with REF*F8 for 7/8, HI
qualifiers ABK/BK then ABF/BF and at most 12, SV101 qualifier HC/ER/IV/WK with at most 4
modifiers, SV103 UN/MJ, diagnosis pointers (at most 4, each naming an existing diagnosis), CLM02 =
sum of SV102, LX01 numbered 1..n, SBR01 and CAS01 codes, LIN02 N4 with a CTP, D8/RD8 dates and
decimals. Element lengths, code lists from external sources (place of service, CARC, taxonomy)
and the TR3's other situational rules are not checked.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from integration.x12 import x222_codes as codes
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
from integration.x12.segments import ElementValue, Segment, ccyymmdd, paused_gc
from integration.x12.t278_005010x217 import (
    Address,
    Attachment,
    Contact,
    DatePeriod,
    Demographics,
    Diagnosis,
    Party,
    Procedure,
    ProviderInfo,
    Reference,
)

__all__ = [
    "Address",
    "Adjustment",
    "AdjustmentReason",
    "Amount",
    "Attachment",
    "BillingProvider",
    "Claim",
    "Claim837Transaction",
    "Contact",
    "DatePeriod",
    "Demographics",
    "Diagnosis",
    "DrugIdentification",
    "Header837",
    "LineAdjudication",
    "Note",
    "OtherInsurance",
    "OtherSubscriber",
    "Party",
    "PatientLoop",
    "Procedure",
    "ProviderInfo",
    "RawSegment",
    "Reference",
    "ServiceLine",
    "SubscriberInfo",
    "SubscriberLoop",
    "claim_from_json",
    "claim_to_json",
    "json_to_model",
    "model_to_json",
    "read_837p",
    "read_transaction",
    "render_837p",
    "write_837p",
]

# -- models -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawSegment:
    """A segment kept as read, at `position` among its loop's segments (0-based, the loop's name
    loops included, its HL excluded), elements split into components. Either a segment this
    module does not model (inserted there), or, with `replaces`, the original of a modelled
    segment whose text the model cannot reproduce (e.g. NM110, a CLM13): written instead of it."""

    position: int
    id: str
    elements: tuple[tuple[str, ...], ...] = ()
    replaces: bool = False


@dataclass(frozen=True, slots=True)
class Amount:
    """AMT: e.g. F5 patient paid (2300), D payer paid / A8 / EAF (2320), T tax, EAF (2430)."""

    qualifier: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Note:
    """NTE: reference code (ADD, CER, DCP, DGN, TPO) and free text."""

    code: str
    text: str


@dataclass(frozen=True, slots=True)
class AdjustmentReason:
    reason: str  # CARC
    amount: Decimal
    quantity: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Adjustment:
    """CAS: a group code (CO, OA, PI, PR) and up to six reason/amount/quantity triplets."""

    group: str
    reasons: tuple[AdjustmentReason, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriberInfo:
    """SBR (2000B and 2320)."""

    payer_responsibility: str  # SBR01: P, S, T, A..H, U
    relationship: str = ""  # SBR02: 18 self, blank when the patient is a dependent
    group_number: str = ""  # SBR03
    group_name: str = ""  # SBR04
    insurance_type: str = ""  # SBR05 (Medicare secondary payer type)
    claim_filing: str = ""  # SBR09: CI commercial, MB Medicare B, MC Medicaid, BL, HM, ...


@dataclass(frozen=True, slots=True, kw_only=True)
class LineAdjudication:
    """2430: what an earlier payer did with this line (SVD, CAS, DTP*573, AMT)."""

    payer_id: str  # SVD01, matches NM109 of a 2330B
    paid: Decimal  # SVD02
    procedure: Procedure  # SVD03
    paid_units: Decimal  # SVD05
    bundled_line: str = ""  # SVD06
    adjustments: tuple[Adjustment, ...] = ()
    adjudication_date: date | None = None  # DTP*573
    amounts: tuple[Amount, ...] = ()
    extras: tuple[RawSegment, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DrugIdentification:
    """2410: the NDC of a drug billed with a HCPCS code (LIN*N4, CTP quantity and unit, REF)."""

    ndc: str  # LIN03, 11 digits 5-4-2 without dashes
    quantity: Decimal  # CTP04
    unit: str  # CTP05-1: F2 international unit, GR gram, ME milligram, ML millilitre, UN unit
    qualifier: str = codes.NDC_QUALIFIER  # LIN02
    references: tuple[Reference, ...] = ()  # VY link sequence, XZ prescription number


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceLine:
    """2400: LX and SV1 with its dates, references, drug, providers and prior adjudication."""

    line_number: int  # LX01: 1..n within the claim
    procedure: Procedure  # SV101: HC:code:mod1..mod4
    charge: Decimal  # SV102
    quantity: Decimal  # SV104
    unit: str = "UN"  # SV103
    place_of_service: str = ""  # SV105, when it differs from CLM05-1
    pointers: tuple[int, ...] = (1,)  # SV107: 1-based positions in the claim's HI
    emergency: str = ""  # SV109: Y
    epsdt: str = ""  # SV111: Y
    family_planning: str = ""  # SV112: Y
    copay_exempt: str = ""  # SV115: 0
    dates: tuple[DatePeriod, ...] = ()
    references: tuple[Reference, ...] = ()
    amounts: tuple[Amount, ...] = ()
    notes: tuple[Note, ...] = ()
    drug: DrugIdentification | None = None
    providers: tuple[Party, ...] = ()  # 2420A-H
    adjudications: tuple[LineAdjudication, ...] = ()  # 2430
    forms: tuple[RawSegment, ...] = ()  # 2440 LQ/FRM, kept raw
    extras: tuple[RawSegment, ...] = ()

    @property
    def service_date(self) -> DatePeriod | None:
        return next((d for d in self.dates if d.qualifier == codes.DATE_SERVICE), None)


@dataclass(frozen=True, slots=True)
class OtherInsurance:
    """OI (required in 2320): assignment of benefits, signature source, release of information."""

    benefits_assignment: str = "Y"  # OI03: Y, N, W
    patient_signature_source: str = ""  # OI04: P
    release_of_information: str = "Y"  # OI06: I, Y


@dataclass(frozen=True, slots=True, kw_only=True)
class OtherSubscriber:
    """2320 with 2330A-G: another payer's coverage and, for a secondary claim, what it paid."""

    info: SubscriberInfo
    adjustments: tuple[Adjustment, ...] = ()  # claim-level CAS
    amounts: tuple[Amount, ...] = ()  # AMT*D payer paid, A8, EAF
    coverage: OtherInsurance | None = None  # OI
    parties: tuple[Party, ...] = ()  # 2330A subscriber (IL), 2330B payer (PR), 2330C-G
    extras: tuple[RawSegment, ...] = ()  # MOA, 2330B DTP, REF, ...

    @property
    def paid(self) -> Decimal | None:
        return next((a.amount for a in self.amounts if a.qualifier == codes.AMT_PAYER_PAID), None)

    @property
    def payer(self) -> Party | None:
        return next((p for p in self.parties if p.entity_code == "PR"), None)

    @property
    def subscriber(self) -> Party | None:
        return next((p for p in self.parties if p.entity_code == "IL"), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """2300: one claim (CLM) with its diagnoses, providers, other payers and service lines."""

    patient_control_number: str  # CLM01
    total_charge: Decimal  # CLM02
    facility_code: str  # CLM05-1 place of service
    facility_qualifier: str = codes.FACILITY_QUALIFIER  # CLM05-2
    frequency: str = "1"  # CLM05-3: 1 original, 6 corrected, 7 replacement, 8 void
    provider_signature: str = "Y"  # CLM06
    assignment: str = "A"  # CLM07: A, B, C
    benefits_assignment: str = "Y"  # CLM08: Y, N, W
    release_of_information: str = "Y"  # CLM09: I, Y
    patient_signature_source: str = ""  # CLM10: P
    related_causes: tuple[str, ...] = ()  # CLM11 components (AA, EM, OA, state, country)
    special_program: str = ""  # CLM12
    delay_reason: str = ""  # CLM20
    dates: tuple[DatePeriod, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    amounts: tuple[Amount, ...] = ()  # AMT*F5 patient amount paid
    references: tuple[Reference, ...] = ()  # G1 prior authorization, F8 payer claim number, ...
    notes: tuple[Note, ...] = ()
    diagnoses: tuple[Diagnosis, ...] = ()
    providers: tuple[Party, ...] = ()  # 2310A-F
    other_subscribers: tuple[OtherSubscriber, ...] = ()  # 2320
    services: tuple[ServiceLine, ...] = ()  # 2400
    extras: tuple[RawSegment, ...] = ()

    def reference(self, qualifier: str) -> str | None:
        return next((r.value for r in self.references if r.qualifier == qualifier), None)

    @property
    def prior_authorization(self) -> str | None:
        return self.reference(codes.REF_PRIOR_AUTHORIZATION)

    @property
    def payer_claim_control_number(self) -> str | None:
        return self.reference(codes.REF_PAYER_CLAIM_CONTROL)

    @property
    def referring(self) -> Party | None:
        return next((p for p in self.providers if p.entity_code in ("DN", "P3")), None)

    @property
    def rendering(self) -> Party | None:
        return next((p for p in self.providers if p.entity_code == "82"), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientLoop:
    """2000C/2010CA: the patient when not the subscriber, and that patient's claims."""

    relationship: str  # PAT01: 01 spouse, 19 child, 20 employee, 21 unknown, ...
    patient: Party
    claims: tuple[Claim, ...] = ()
    extras: tuple[RawSegment, ...] = ()  # a PAT with more than PAT01 is kept here whole


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriberLoop:
    """2000B/2010BA/2010BB: the subscriber, the payer, and claims (patient = subscriber) or
    dependents (2000C)."""

    info: SubscriberInfo
    subscriber: Party  # 2010BA NM1*IL
    payer: Party  # 2010BB NM1*PR
    claims: tuple[Claim, ...] = ()
    patients: tuple[PatientLoop, ...] = ()
    extras: tuple[RawSegment, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class BillingProvider:
    """2000A/2010AA/2010AB/2010AC."""

    provider: Party  # 2010AA NM1*85
    specialty: ProviderInfo | None = None  # 2000A PRV*BI
    pay_to: Party | None = None  # 2010AB NM1*87
    pay_to_plan: Party | None = None  # 2010AC NM1*PE
    subscribers: tuple[SubscriberLoop, ...] = ()
    extras: tuple[RawSegment, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Header837:
    """BHT."""

    reference_id: str  # BHT03, the originator's batch reference
    created: datetime  # BHT04/BHT05
    purpose: str = "00"  # BHT02: 00 original, 18 reissue
    claim_type: str = "CH"  # BHT06: CH chargeable, RP reporting (encounters), 31 subrogation


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim837Transaction:
    """One 837P transaction set."""

    header: Header837
    submitter: Party  # 1000A NM1*41 (+ PER)
    receiver: Party  # 1000B NM1*40
    billing_providers: tuple[BillingProvider, ...]
    extras: tuple[RawSegment, ...] = ()  # among BHT, 1000A and 1000B
    envelope: TransactionContext | None = field(default=None, compare=False, repr=False)

    @property
    def claims(self) -> tuple[Claim, ...]:
        out: list[Claim] = []
        for bp in self.billing_providers:
            for sub in bp.subscribers:
                out.extend(sub.claims)
                for pat in sub.patients:
                    out.extend(pat.claims)
        return tuple(out)


# -- writing ------------------------------------------------------------------------------------


def _num(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


def _date(value: date | None) -> str:
    return "" if value is None else value.strftime("%Y%m%d")


def _time(moment: datetime) -> str:
    return moment.strftime("%H%M") if moment.second == 0 else moment.strftime("%H%M%S")


def _either(allowed: Collection[str]) -> str:
    keys = list(allowed)
    return keys[0] if len(keys) == 1 else f"{', '.join(keys[:-1])} or {keys[-1]}"


def _raw_spec(raw: RawSegment) -> SegmentSpec:
    return raw.id, [c[0] if len(c) == 1 else tuple(c) for c in raw.elements]


def _merge(typed: list[SegmentSpec], extras: Sequence[RawSegment]) -> list[SegmentSpec]:
    """Put each kept segment back at its position among the typed ones (or in place of one)."""
    out = list(typed)
    for raw in sorted(extras, key=lambda r: r.position):
        if raw.replaces and raw.position < len(out):
            out[raw.position] = _raw_spec(raw)
        else:
            out.insert(min(raw.position, len(out)), _raw_spec(raw))
    return out


def _procedure(proc: Procedure, loop: str, element: str) -> tuple[str, ...]:
    if len(proc.modifiers) > codes.MAX_MODIFIERS:
        raise X12Error(
            [
                Problem(
                    loop_id=loop,
                    element=element,
                    message=f"expected at most {codes.MAX_MODIFIERS} modifiers, got {len(proc.modifiers)}",
                )
            ]
        )
    mods = list(proc.modifiers) + [""] * (codes.MAX_MODIFIERS - len(proc.modifiers))
    return (proc.qualifier, proc.code, *mods, proc.description)


def _dtp(period: DatePeriod) -> SegmentSpec:
    if period.end is None:
        return "DTP", [period.qualifier, "D8", _date(period.start)]
    return "DTP", [period.qualifier, "RD8", f"{_date(period.start)}-{_date(period.end)}"]


def _nm1(p: Party) -> SegmentSpec:
    return (
        "NM1",
        [
            p.entity_code,
            p.entity_type,
            p.last_or_organization,
            p.first,
            p.middle,
            "",
            p.suffix,
            p.id_qualifier,
            p.id,
        ],
    )


def _prv(p: ProviderInfo) -> SegmentSpec:
    return "PRV", [p.provider_code, p.qualifier, p.taxonomy]


def _n3(a: Address) -> SegmentSpec:
    return "N3", list(a.lines)


def _n4(a: Address) -> SegmentSpec:
    return "N4", [a.city, a.state, a.postal_code, a.country]


def _dmg(d: Demographics) -> SegmentSpec:
    return "DMG", ["D8" if d.birth_date else "", _date(d.birth_date), d.gender]


def _ref(r: Reference) -> SegmentSpec:
    return "REF", [r.qualifier, r.value]


def _per(c: Contact) -> SegmentSpec:
    return "PER", [c.function_code, c.name, *[x for pair in c.communications for x in pair]]


def _party(p: Party) -> list[SegmentSpec]:
    """A name loop in TR3 order: NM1, PRV, N3, N4, DMG, REF, PER."""
    out: list[SegmentSpec] = [_nm1(p)]
    if p.provider is not None:
        out.append(_prv(p.provider))
    if p.address is not None:
        a = p.address
        if a.lines:
            out.append(_n3(a))
        if a.city or a.state or a.postal_code or a.country:
            out.append(_n4(a))
    if p.demographics is not None:
        out.append(_dmg(p.demographics))
    out += [_ref(r) for r in p.references]
    out += [_per(c) for c in p.contacts]
    return out


def _sbr(info: SubscriberInfo) -> SegmentSpec:
    return (
        "SBR",
        [
            info.payer_responsibility,
            info.relationship,
            info.group_number,
            info.group_name,
            info.insurance_type,
            "",
            "",
            "",
            info.claim_filing,
        ],
    )


def _cas_segment(adj: Adjustment) -> SegmentSpec:
    elements: list[ElementValue] = [adj.group]
    for r in adj.reasons:
        elements += [r.reason, _num(r.amount), _num(r.quantity)]
    return "CAS", elements


def _cas(adjustments: Sequence[Adjustment], loop: str) -> list[SegmentSpec]:
    for adj in adjustments:
        if not 1 <= len(adj.reasons) <= codes.MAX_ADJUSTMENT_REASONS:
            raise X12Error(
                [
                    Problem(
                        loop_id=loop,
                        segment_id="CAS",
                        message=f"expected 1 to {codes.MAX_ADJUSTMENT_REASONS} adjustment reasons, got {len(adj.reasons)}",
                    )
                ]
            )
    return [_cas_segment(adj) for adj in adjustments]


def _amt(a: Amount) -> SegmentSpec:
    return "AMT", [a.qualifier, _num(a.amount)]


def _oi(o: OtherInsurance) -> SegmentSpec:
    return (
        "OI",
        ["", "", o.benefits_assignment, o.patient_signature_source, "", o.release_of_information],
    )


def _nte(n: Note) -> SegmentSpec:
    return "NTE", [n.code, n.text]


def _pwk(a: Attachment) -> SegmentSpec:
    return (
        "PWK",
        [
            a.report_type,
            a.transmission_code,
            "",
            "",
            "AC" if a.control_number else "",
            a.control_number,
            a.description,
        ],
    )


def _hi(diagnoses: Sequence[Diagnosis]) -> SegmentSpec:
    return (
        "HI",
        [
            (d.qualifier, d.code, "D8", _date(d.date)) if d.date else (d.qualifier, d.code)
            for d in diagnoses
        ],
    )


def _lx(number: int) -> SegmentSpec:
    return "LX", [str(number)]


def _sv1(line: ServiceLine) -> SegmentSpec:
    return (
        "SV1",
        [
            _procedure(line.procedure, "2400", "SV101"),
            _num(line.charge),
            line.unit,
            _num(line.quantity),
            line.place_of_service,
            "",
            tuple(str(p) for p in line.pointers),
            "",
            line.emergency,
            "",
            line.epsdt,
            line.family_planning,
            "",
            "",
            line.copay_exempt,
        ],
    )


def _lin(drug: DrugIdentification) -> SegmentSpec:
    return "LIN", ["", drug.qualifier, drug.ndc]


def _ctp(drug: DrugIdentification) -> SegmentSpec:
    return "CTP", ["", "", "", _num(drug.quantity), (drug.unit,)]


def _svd(adj: LineAdjudication) -> SegmentSpec:
    return (
        "SVD",
        [
            adj.payer_id,
            _num(adj.paid),
            _procedure(adj.procedure, "2430", "SVD03"),
            "",
            _num(adj.paid_units),
            adj.bundled_line,
        ],
    )


def _adjudication_date(day: date) -> SegmentSpec:
    return "DTP", [codes.DATE_ADJUDICATION, "D8", _date(day)]


def _clm(claim: Claim) -> SegmentSpec:
    return (
        "CLM",
        [
            claim.patient_control_number,
            _num(claim.total_charge),
            "",
            "",
            (claim.facility_code, claim.facility_qualifier, claim.frequency),
            claim.provider_signature,
            claim.assignment,
            claim.benefits_assignment,
            claim.release_of_information,
            claim.patient_signature_source,
            tuple(claim.related_causes),
            claim.special_program,
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            claim.delay_reason,
        ],
    )


def _bht(h: Header837) -> SegmentSpec:
    return (
        "BHT",
        [
            codes.HIERARCHICAL_STRUCTURE,
            h.purpose,
            h.reference_id,
            _date(h.created.date()),
            _time(h.created),
            h.claim_type,
        ],
    )


def _service(line: ServiceLine) -> list[SegmentSpec]:
    if not 1 <= len(line.pointers) <= codes.MAX_POINTERS:
        raise X12Error(
            [
                Problem(
                    loop_id="2400",
                    element="SV107",
                    message=f"expected 1 to {codes.MAX_POINTERS} diagnosis pointers, got {len(line.pointers)}",
                )
            ]
        )
    typed: list[SegmentSpec] = [_lx(line.line_number), _sv1(line)]
    typed += [_dtp(d) for d in line.dates]
    typed += [_ref(r) for r in line.references]
    typed += [_amt(a) for a in line.amounts]
    typed += [_nte(n) for n in line.notes]
    if line.drug is not None:
        typed += [_lin(line.drug), _ctp(line.drug), *[_ref(r) for r in line.drug.references]]
    for p in line.providers:
        typed += _party(p)
    out = _merge(typed, line.extras)
    for adj in line.adjudications:
        seg: list[SegmentSpec] = [_svd(adj), *_cas(adj.adjustments, "2430")]
        if adj.adjudication_date is not None:
            seg.append(_adjudication_date(adj.adjudication_date))
        seg += [_amt(a) for a in adj.amounts]
        out += _merge(seg, adj.extras)
    out += [_raw_spec(f) for f in line.forms]
    return out


def _claim_problems(claim: Claim) -> list[Problem]:
    problems: list[Problem] = []
    if not claim.diagnoses:
        problems.append(
            Problem(loop_id="2300", segment_id="HI", message="expected a diagnosis, got none")
        )
    if len(claim.diagnoses) > codes.MAX_DIAGNOSES:
        problems.append(
            Problem(
                loop_id="2300",
                segment_id="HI",
                message=f"expected at most {codes.MAX_DIAGNOSES} diagnoses, got {len(claim.diagnoses)}",
            )
        )
    if not claim.services:
        problems.append(
            Problem(loop_id="2400", segment_id="LX", message="expected a service line, got none")
        )
    if claim.frequency not in codes.CLAIM_FREQUENCY:
        problems.append(
            Problem(
                loop_id="2300",
                element="CLM05",
                component=3,
                message=f"expected {_either(codes.CLAIM_FREQUENCY)}, got {claim.frequency!r}",
            )
        )
    if (
        claim.frequency in codes.FREQUENCIES_NEEDING_ORIGINAL
        and claim.payer_claim_control_number is None
    ):
        problems.append(
            Problem(
                loop_id="2300",
                segment_id="REF",
                message=f"expected REF*F8 (payer claim control number) for frequency {claim.frequency}, got none",
            )
        )
    return problems


def _claim(claim: Claim, strict: bool) -> list[SegmentSpec]:
    problems = _claim_problems(claim) if strict else []
    if problems:
        raise X12Error(problems)
    typed: list[SegmentSpec] = [_clm(claim)]
    typed += [_dtp(d) for d in claim.dates]
    typed += [_pwk(a) for a in claim.attachments]
    typed += [_amt(a) for a in claim.amounts]
    typed += [_ref(r) for r in claim.references]
    typed += [_nte(n) for n in claim.notes]
    typed.append(_hi(claim.diagnoses))
    for p in claim.providers:
        typed += _party(p)
    out = _merge(typed, claim.extras)
    for other in claim.other_subscribers:
        seg: list[SegmentSpec] = [_sbr(other.info), *_cas(other.adjustments, "2320")]
        seg += [_amt(a) for a in other.amounts]
        if other.coverage is not None:
            seg.append(_oi(other.coverage))
        for p in other.parties:
            seg += _party(p)
        out += _merge(seg, other.extras)
    for line in claim.services:
        out += _service(line)
    return out


class _HL:
    def __init__(self) -> None:
        self.count = 0

    def open(self, parent: int | None, level: str, has_children: bool) -> tuple[int, SegmentSpec]:
        self.count += 1
        spec: SegmentSpec = (
            "HL",
            [
                str(self.count),
                "" if parent is None else str(parent),
                level,
                "1" if has_children else "0",
            ],
        )
        return self.count, spec


#: the TR3's repeat of loop 2300 under one 2000B or 2000C level
CLAIMS_PER_LEVEL = 100


def _too_many_claims(level: str, count: int) -> X12Error:
    return X12Error(
        [
            Problem(
                loop_id="2300",
                message=f"expected at most {CLAIMS_PER_LEVEL} claims (2300) under one "
                f"{'subscriber' if level == '2000B' else 'patient'} level ({level}), got {count}",
            )
        ]
    )


def _body(model: Claim837Transaction, strict: bool = True) -> list[SegmentSpec]:
    """The segments between ST and SE; `strict` refuses claims the TR3 rejects (no diagnosis,
    no line, a frequency other than 1/6/7/8, a 7/8 without REF*F8)."""
    if not model.billing_providers:
        raise X12Error([Problem(loop_id="2000A", message="expected a billing provider, got none")])
    typed: list[SegmentSpec] = [_bht(model.header), *_party(model.submitter)]
    typed += _party(model.receiver)
    out = _merge(typed, model.extras)
    hl = _HL()
    for bp in model.billing_providers:
        bp_id, spec = hl.open(None, "20", bool(bp.subscribers))
        seg: list[SegmentSpec] = [_prv(bp.specialty)] if bp.specialty is not None else []
        seg += _party(bp.provider)
        for extra in (bp.pay_to, bp.pay_to_plan):
            if extra is not None:
                seg += _party(extra)
        out += [spec, *_merge(seg, bp.extras)]
        for sub in bp.subscribers:
            if sub.claims and sub.patients:
                raise X12Error(
                    [
                        Problem(
                            loop_id="2000B",
                            message="expected claims under the subscriber or under its patients (2000C), got both",
                        )
                    ]
                )
            sub_id, spec = hl.open(bp_id, "22", bool(sub.patients))
            seg = [_sbr(sub.info), *_party(sub.subscriber), *_party(sub.payer)]
            out += [spec, *_merge(seg, sub.extras)]
            if strict and len(sub.claims) > CLAIMS_PER_LEVEL:
                raise _too_many_claims("2000B", len(sub.claims))
            for claim in sub.claims:
                out += _claim(claim, strict)
            for pat in sub.patients:
                _, spec = hl.open(sub_id, "23", False)
                seg = [("PAT", [pat.relationship]), *_party(pat.patient)]
                out += [spec, *_merge(seg, pat.extras)]
                if strict and len(pat.claims) > CLAIMS_PER_LEVEL:
                    raise _too_many_claims("2000C", len(pat.claims))
                for claim in pat.claims:
                    out += _claim(claim, strict)
    return out


def render_837p(
    model: Claim837Transaction, context: TransactionContext, segment_suffix: str = ""
) -> str:
    """`model` as one transaction set inside `context` (e.g. `model.envelope` after a read).

    Writes what was read as it was read: the claim rules `write_837p` enforces are not applied
    here (the reader has already reported what breaks them)."""
    return write_transaction(context, _body(model, strict=False), segment_suffix)


def write_837p(
    model: Claim837Transaction,
    params: EnvelopeParams,
    clock: Clock,
    control_numbers: ControlNumberSource,
    *,
    segment_suffix: str = "",
) -> str:
    """One 837P in its own interchange; X12Error (located) if it cannot be written."""
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


@dataclass(slots=True)
class _Node:
    hl: Segment
    level: str
    loop: str
    segments: list[Segment] = field(default_factory=list)
    children: list[_Node] = field(default_factory=list)


def _raw(position: int, seg: Segment, replaces: bool = False) -> RawSegment:
    comp = seg.delimiters.component
    return RawSegment(position, seg.id, tuple(tuple(e.split(comp)) for e in seg.elements), replaces)


def _spec_text(spec: SegmentSpec, component: str) -> tuple[str, ...]:
    out: list[str] = []
    for value in spec[1]:
        if type(value) is str:  # most values: what `str(value)` gives, without the call
            out.append(value)
        elif isinstance(value, tuple):
            comps = list(value)
            while comps and comps[-1] == "":
                comps.pop()
            out.append(component.join(comps))
        else:
            out.append(str(value))
    while out and out[-1] == "":
        out.pop()
    return tuple(out)


def _seg_text(seg: Segment) -> tuple[str, ...]:
    out = list(seg.elements)
    while out and out[-1] == "":
        out.pop()
    return tuple(out)


def _cut(segs: Sequence[Segment], starts: Callable[[Segment], bool]) -> list[list[Segment]]:
    """Split `segs` before every segment for which `starts` holds (the first part may be empty)."""
    parts: list[list[Segment]] = [[]]
    for seg in segs:
        if starts(seg):
            parts.append([seg])
        else:
            parts[-1].append(seg)
    return parts


class _Kept:
    """The kept segments of one loop: unmodelled ones, and originals the model cannot rewrite."""

    def __init__(self) -> None:
        self.items: list[RawSegment] = []

    def raw(self, position: int, seg: Segment) -> None:
        self.items.append(_raw(position, seg))

    def typed(self, position: int, seg: Segment, spec: SegmentSpec) -> None:
        """`seg` was modelled as `spec`: keep the original when the spec would not rewrite it."""
        if spec[0] != seg.id:
            self.items.append(_raw(position, seg, replaces=True))
            return
        values = spec[1]
        # Most segments: the spec's values are the segment's elements, all plain text, no
        # trailing empties on either side; one tuple comparison says so.
        if values and values[-1] != "" and tuple(values) == seg.elements:
            return
        if _spec_text(spec, seg.delimiters.component) != _seg_text(seg):
            self.items.append(_raw(position, seg, replaces=True))

    def done(self) -> tuple[RawSegment, ...]:
        return tuple(sorted(self.items, key=lambda r: r.position))


class _Order:
    """Segments are modelled only while they come in the writer's (TR3) order."""

    def __init__(self, *ids: str) -> None:
        self.ids = ids
        self.last = 0

    def fits(self, seg_id: str) -> bool:
        return seg_id in self.ids and self.ids.index(seg_id) >= self.last

    def take(self, seg_id: str) -> None:
        self.last = self.ids.index(seg_id)


class _Parser(GuideParser):
    def __init__(self, txn: Transaction) -> None:
        self.txn = txn
        self.txn_context = txn.context
        self.problems: list[Problem] = []
        self.orphans: list[_Node] = []  # HL levels whose parent could not be found

    # -- helpers --

    def code(
        self,
        loop: str | None,
        seg: Segment,
        position: int,
        allowed: Collection[str],
        component: int | None = None,
    ) -> str:
        value = seg.get(position) if component is None else seg.component(position, component)
        if value not in allowed:
            self.problem(
                loop,
                seg,
                f"expected {_either(allowed)}, got {value!r}",
                seg.name(position),
                component,
                level="element",
                code=ack_codes.ELEMENT_REQUIRED_MISSING
                if not value
                else ack_codes.ELEMENT_INVALID_CODE,
            )
        return value

    def decimal(
        self, loop: str, seg: Segment, position: int, what: str | None = None
    ) -> Decimal | None:
        """Element `position` as a number; with `what`, the element is required."""
        raw = seg.get(position)
        if not raw:
            if what is not None:
                self.problem(loop, seg, f"expected {what}, got nothing", seg.name(position))
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite():
            self.problem(loop, seg, f"expected a number, got {raw!r}", seg.name(position))
            return None
        return value

    def day(
        self, loop: str | None, seg: Segment, raw: str, position: int, component: int | None = None
    ) -> date | None:
        day = ccyymmdd(raw)
        if day is None:
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
        return day

    def dtp(self, loop: str, seg: Segment) -> DatePeriod | None:
        fmt, raw = seg.get(2), seg.get(3)
        if fmt == "D8":
            start = self.day(loop, seg, raw, 3)
            return DatePeriod(seg.get(1), start) if start else None
        if fmt == "RD8":
            first, _, last = raw.partition("-")
            start, end = self.day(loop, seg, first, 3), self.day(loop, seg, last, 3)
            return DatePeriod(seg.get(1), start, end) if start and end else None
        if fmt not in ("DT", "TM"):
            self.problem(loop, seg, f"expected D8 or RD8, got {fmt!r}", "DTP02")
        return None  # other formats are kept raw

    def amount(self, loop: str, seg: Segment) -> Amount | None:
        value = self.decimal(loop, seg, 2, "an amount")
        return None if value is None else Amount(seg.get(1), value)

    def cas(self, loop: str, seg: Segment) -> Adjustment | None:
        group = self.code(loop, seg, 1, codes.ADJUSTMENT_GROUP)
        reasons: list[AdjustmentReason] = []
        ok = True
        for start in range(2, max(len(seg.elements), 2) + 1, 3):
            if not seg.get(start) and not seg.get(start + 1) and not seg.get(start + 2):
                continue
            amount = self.decimal(loop, seg, start + 1, "an adjustment amount")
            quantity = self.decimal(loop, seg, start + 2)
            if amount is None or (seg.get(start + 2) and quantity is None):
                ok = False
                continue
            reasons.append(AdjustmentReason(seg.get(start), amount, quantity))
        if not reasons and ok:
            self.problem(loop, seg, "expected an adjustment reason, got none", "CAS02")
        if not ok or not reasons or len(reasons) > codes.MAX_ADJUSTMENT_REASONS:
            return None
        return Adjustment(group, tuple(reasons))

    def procedure(self, seg: Segment, position: int) -> Procedure | None:
        comps = seg.components(position)
        if not comps:
            return None
        padded = list(comps) + [""] * max(0, 7 - len(comps))
        return Procedure(padded[0], padded[1], tuple(m for m in padded[2:6] if m), padded[6])

    def check_ids(self, loop: str, segs: Sequence[Segment], allowed_key: str) -> None:
        allowed = codes.LOOP_SEGMENTS[allowed_key]
        for seg in segs:
            if seg.id not in allowed:
                self.problem(
                    loop, seg, f"expected one of {', '.join(sorted(allowed))}, got {seg.id!r}"
                )

    # -- name loops --

    def party(self, loop: str, segs: Sequence[Segment], base: int, kept: _Kept) -> Party:
        """A name loop (NM1 first, at `base` in its loop); what a Party cannot hold is kept."""
        nm1 = segs[0]
        self.code(loop, nm1, 2, codes.ENTITY_TYPE)
        refs: list[Reference] = []
        address: Address | None = None
        contacts: list[Contact] = []
        provider: ProviderInfo | None = None
        demographics: Demographics | None = None
        order = _Order("NM1", "PRV", "N3", "N4", "DMG", "REF", "PER")
        for offset, seg in enumerate(segs[1:], start=1):
            position = base + offset
            sid = seg.id
            spec: SegmentSpec
            if not order.fits(sid):
                kept.raw(position, seg)
                continue
            if sid == "PRV" and provider is None:
                provider = ProviderInfo(seg.get(1), seg.get(3), seg.get(2))
                spec = _prv(provider)
            elif sid == "N3" and address is None and seg.elements:
                address = Address(seg.elements)
                spec = _n3(address)
            elif (
                sid == "N4"
                and any(seg.get(i) for i in (1, 2, 3, 4))
                and not (
                    address
                    and (address.city or address.state or address.postal_code or address.country)
                )
            ):
                lines = address.lines if address else ()
                address = Address(lines, seg.get(1), seg.get(2), seg.get(3), seg.get(4))
                spec = _n4(address)
            elif sid == "DMG" and demographics is None and seg.get(1) == "D8":
                born = self.day(loop, seg, seg.get(2), 2)
                if born is None:
                    kept.raw(position, seg)
                    continue
                demographics = Demographics(born, seg.get(3))
                spec = _dmg(demographics)
            elif sid == "REF" and seg.get(1):
                refs.append(Reference(seg.get(1), seg.get(2)))
                spec = _ref(refs[-1])
            elif sid == "PER" and seg.get(1):
                pairs = tuple(
                    (seg.get(i), seg.get(i + 1)) for i in range(3, len(seg.elements) + 1, 2)
                )
                contacts.append(Contact(seg.get(1), seg.get(2), pairs))
                spec = _per(contacts[-1])
            else:
                kept.raw(position, seg)
                continue
            order.take(sid)
            kept.typed(position, seg, spec)
        party = Party(
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
            provider=provider,
            demographics=demographics,
        )
        kept.typed(base, nm1, _nm1(party))
        return party

    def parties(
        self,
        segs: Sequence[Segment],
        base: int,
        loops: Mapping[str, str],
        kept: _Kept,
    ) -> list[tuple[str, Party, Segment]]:
        """The name loops in `segs` (each starting with NM1), with the loop each one is."""
        out: list[tuple[str, Party, Segment]] = []
        position = base
        first = next(iter(loops.values()))
        for part in _cut(segs, lambda s: s.id == "NM1")[1:]:
            entity = part[0].get(1)
            loop = loops.get(entity)
            if loop is None:
                self.problem(
                    first,
                    part[0],
                    f"expected {_either(sorted(set(loops)))}, got {entity!r}",
                    "NM101",
                )
                loop = first
            out.append((loop, self.party(loop, part, position, kept), part[0]))
            position += len(part)
        return out

    def single(self, found: list[tuple[str, Party, Segment]], loops: Sequence[str]) -> bool:
        """Report a name loop that repeats or comes out of order; True when all is well."""
        ok = True
        seen: list[str] = []
        for loop, _, seg in found:
            if loop in seen and loop in loops:
                self.problem(loop, seg, "expected one NM1 in this loop, got another")
                ok = False
            elif (
                seen
                and loop in loops
                and seen[-1] in loops
                and loops.index(seen[-1]) > loops.index(loop)
            ):
                self.problem(loop, seg, f"expected {loop} before {seen[-1]}, got it after")
                ok = False
            seen.append(loop)
        return ok

    # -- structure --

    def tree(self) -> tuple[list[Segment], list[_Node]]:
        head: list[Segment] = []
        nodes: list[_Node] = []
        by_id: dict[str, _Node] = {}
        current: _Node | None = None
        for seg in self.txn.body:
            if seg.id == "HL":
                node = self.hl(seg, nodes, by_id)
                current = node if node is not None else current
                continue
            if current is None:
                head.append(seg)
            else:
                current.segments.append(seg)
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
        return head, [n for n in nodes if n.level == "20"]

    def hl(self, seg: Segment, nodes: list[_Node], by_id: dict[str, _Node]) -> _Node | None:
        level = seg.get(3)
        loop = codes.HL_LOOPS.get(level)
        expected_id = str(len(nodes) + 1)
        if seg.get(1) != expected_id:
            self.problem(loop, seg, f"expected {expected_id!r}, got {seg.get(1)!r}", "HL01")
        if loop is None:
            self.problem(None, seg, f"expected {_either(codes.HL_LOOPS)}, got {level!r}", "HL03")
            return None
        node = _Node(seg, level, loop)
        nodes.append(node)
        parents = codes.HL_PARENTS[level]
        parent_id = seg.get(2)
        parent = by_id.get(parent_id) if parent_id != seg.get(1) else None
        by_id[seg.get(1)] = node  # a repeated HL01 (reported) names its latest level
        if not parents:
            if parent_id:
                self.problem(loop, seg, f"expected no parent, got {parent_id!r}", "HL02")
            return node
        if parent is None:
            self.problem(
                loop,
                seg,
                f"expected the HL01 of an earlier level as parent, got {parent_id!r}",
                "HL02",
            )
            self.orphans.append(node)
            return node
        if parent.level not in parents:
            want = " or ".join(codes.HL_LOOPS[p] for p in parents)
            self.problem(
                loop,
                seg,
                f"expected a parent in {want}, got HL {parent_id} ({parent.loop})",
                "HL02",
            )
            self.orphans.append(node)
            return node
        parent.children.append(node)
        return node

    # -- loops --

    def header(
        self, head: list[Segment]
    ) -> tuple[Header837, Party | None, Party | None, tuple[RawSegment, ...]]:
        kept = _Kept()
        st = self.txn.segments[0]
        self.check_ids("1000A", head, "1000")
        parts = _cut(head, lambda s: s.id == "NM1")
        lead = parts[0]
        header = Header837(reference_id="", created=datetime(1, 1, 1))
        bht = lead[0] if lead and lead[0].id == "BHT" else None
        for i, seg in enumerate(lead):
            if seg is not bht:
                kept.raw(i, seg)
        if bht is None:
            self.problem(
                None,
                st,
                "expected BHT after ST, got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        else:
            if bht.get(1) != codes.HIERARCHICAL_STRUCTURE:
                self.problem(
                    None,
                    bht,
                    f"expected {codes.HIERARCHICAL_STRUCTURE!r}, got {bht.get(1)!r}",
                    "BHT01",
                )
            purpose = self.code("", bht, 2, codes.BHT_PURPOSE)
            claim_type = self.code("", bht, 6, codes.BHT_CLAIM_TYPE)
            created = self.day(None, bht, bht.get(4), 4) or date(1, 1, 1)
            raw_time = bht.get(5)
            moment: datetime | None = None
            if raw_time.isdigit() and len(raw_time) in (4, 6, 7, 8):
                try:
                    moment = datetime.strptime(
                        raw_time[:6], "%H%M%S" if len(raw_time) >= 6 else "%H%M"
                    )
                except ValueError:
                    moment = None
            if moment is None:
                self.problem(None, bht, f"expected HHMM or HHMMSS, got {raw_time!r}", "BHT05")
                moment = datetime(1, 1, 1)
            header = Header837(
                reference_id=bht.get(3),
                created=datetime.combine(created, moment.time()),
                purpose=purpose,
                claim_type=claim_type,
            )
            kept.typed(0, bht, _bht(header))
        found = self.parties(
            [s for p in parts[1:] for s in p], len(lead), codes.HEADER_PARTIES, kept
        )
        self.single(found, ("1000A", "1000B"))
        submitter = next((p for loop, p, _ in found if loop == "1000A"), None)
        receiver = next((p for loop, p, _ in found if loop == "1000B"), None)
        if submitter is None:
            self.problem(
                "1000A",
                st,
                "expected NM1*41 (submitter), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        elif not submitter.contacts:
            nm1 = next(seg for loop, _, seg in found if loop == "1000A")
            self.problem(
                "1000A",
                nm1,
                "expected PER (submitter contact), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        if receiver is None:
            self.problem(
                "1000B",
                st,
                "expected NM1*40 (receiver), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        return header, submitter, receiver, kept.done()

    def billing(self, node: _Node) -> BillingProvider | None:
        self.check_ids(node.loop, node.segments, "2000A")
        kept = _Kept()
        parts = _cut(node.segments, lambda s: s.id == "NM1")
        specialty: ProviderInfo | None = None
        for i, seg in enumerate(parts[0]):
            if seg.id == "PRV" and i == 0:
                specialty = ProviderInfo(seg.get(1), seg.get(3), seg.get(2))
                kept.typed(0, seg, _prv(specialty))
            else:
                kept.raw(i, seg)
        found = self.parties(
            [s for p in parts[1:] for s in p], len(parts[0]), codes.BILLING_PARTIES, kept
        )
        ok = self.single(found, ("2010AA", "2010AB", "2010AC"))
        by_loop = {loop: p for loop, p, _ in reversed(found)}
        provider = by_loop.get("2010AA")
        if provider is None:
            self.problem(
                "2010AA",
                node.hl,
                "expected NM1*85 (billing provider), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        else:
            nm1 = next(seg for loop, _, seg in found if loop == "2010AA")
            self.billing_name(provider, nm1)
        subscribers = [self.subscriber(child) for child in node.children]
        if not node.children:
            self.problem(
                node.loop,
                node.hl,
                "expected a subscriber level (HL 22), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        if provider is None or not ok or any(s is None for s in subscribers):
            return None
        return BillingProvider(
            provider=provider,
            specialty=specialty,
            pay_to=by_loop.get("2010AB"),
            pay_to_plan=by_loop.get("2010AC"),
            subscribers=tuple(s for s in subscribers if s is not None),
            extras=kept.done(),
        )

    def billing_name(self, provider: Party, nm1: Segment) -> None:
        """2010AA requires an address (N3, N4) and exactly one tax id (REF*EI or REF*SY)."""
        address = provider.address
        if address is None or not address.lines:
            self.problem(
                "2010AA",
                nm1,
                "expected N3 (billing provider address), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        if address is None or not (address.city or address.state or address.postal_code):
            self.problem(
                "2010AA",
                nm1,
                "expected N4 (billing provider city, state, ZIP), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        tax_ids = [r for r in provider.references if r.qualifier in codes.TAX_ID_QUALIFIERS]
        if len(tax_ids) != 1:
            self.problem(
                "2010AA",
                nm1,
                f"expected one REF*EI or REF*SY (billing provider tax id), got {len(tax_ids)}",
            )

    def sbr(self, loop: str, seg: Segment) -> SubscriberInfo:
        self.code(loop, seg, 1, codes.PAYER_RESPONSIBILITY)
        return SubscriberInfo(
            payer_responsibility=seg.get(1),
            relationship=seg.get(2),
            group_number=seg.get(3),
            group_name=seg.get(4),
            insurance_type=seg.get(5),
            claim_filing=seg.get(9),
        )

    def subscriber(self, node: _Node) -> SubscriberLoop | None:
        parts = _cut(node.segments, lambda s: s.id == "CLM")
        own, claim_parts = parts[0], parts[1:]
        self.check_ids(node.loop, own, "2000B")
        kept = _Kept()
        names = _cut(own, lambda s: s.id == "NM1")
        info: SubscriberInfo | None = None
        for i, seg in enumerate(names[0]):
            if seg.id == "SBR" and i == 0:
                info = self.sbr(node.loop, seg)
                kept.typed(0, seg, _sbr(info))
            else:
                kept.raw(i, seg)
        if info is None:
            self.problem(
                node.loop,
                node.hl,
                "expected SBR, got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        found = self.parties(
            [s for p in names[1:] for s in p], len(names[0]), codes.SUBSCRIBER_PARTIES, kept
        )
        ok = self.single(found, ("2010BA", "2010BB"))
        by_loop = {loop: p for loop, p, _ in reversed(found)}
        subscriber, payer = by_loop.get("2010BA"), by_loop.get("2010BB")
        if subscriber is None:
            self.problem(
                "2010BA",
                node.hl,
                "expected NM1*IL (subscriber), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        if payer is None:
            self.problem(
                "2010BB",
                node.hl,
                "expected NM1*PR (payer), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        if node.children and claim_parts:
            self.problem(
                "2300",
                claim_parts[0][0],
                "expected the claims under the patient level (2000C), got a CLM under the subscriber",
            )
        if not node.children and not claim_parts:
            self.problem(
                node.loop, node.hl, "expected a claim (CLM) or a patient level (HL 23), got neither"
            )
        self.claim_limit(node.loop, claim_parts)
        claims = [self.claim(part) for part in claim_parts]
        patients = [self.patient(child) for child in node.children]
        if info is None or subscriber is None or payer is None or not ok:
            return None
        if any(c is None for c in claims) or any(p is None for p in patients):
            return None
        if node.children and claim_parts:
            return None
        return SubscriberLoop(
            info=info,
            subscriber=subscriber,
            payer=payer,
            claims=tuple(c for c in claims if c is not None),
            patients=tuple(p for p in patients if p is not None),
            extras=kept.done(),
        )

    def patient(self, node: _Node) -> PatientLoop | None:
        parts = _cut(node.segments, lambda s: s.id == "CLM")
        own, claim_parts = parts[0], parts[1:]
        self.check_ids(node.loop, own, "2000C")
        kept = _Kept()
        names = _cut(own, lambda s: s.id == "NM1")
        relationship: str | None = None
        for i, seg in enumerate(names[0]):
            if seg.id == "PAT" and i == 0:
                relationship = seg.get(1)
                kept.typed(0, seg, ("PAT", [relationship]))
            else:
                kept.raw(i, seg)
        if relationship is None:
            self.problem(
                node.loop,
                node.hl,
                "expected PAT, got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        found = self.parties(
            [s for p in names[1:] for s in p], len(names[0]), codes.PATIENT_PARTIES, kept
        )
        ok = self.single(found, ("2010CA",))
        patient = found[0][1] if found and found[0][0] == "2010CA" else None
        if patient is None:
            self.problem(
                "2010CA",
                node.hl,
                "expected NM1*QC (patient), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        if not claim_parts:
            self.problem(
                node.loop,
                node.hl,
                "expected a claim (CLM), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        self.claim_limit(node.loop, claim_parts)
        claims = [self.claim(part) for part in claim_parts]
        if relationship is None or patient is None or not ok or any(c is None for c in claims):
            return None
        return PatientLoop(
            relationship=relationship,
            patient=patient,
            claims=tuple(c for c in claims if c is not None),
            extras=kept.done(),
        )

    def claim_limit(self, level: str, claim_parts: Sequence[list[Segment]]) -> None:
        """The TR3 repeats loop 2300 at most 100 times under one subscriber or patient level."""
        if len(claim_parts) > CLAIMS_PER_LEVEL:
            who = "subscriber" if level == "2000B" else "patient"
            self.problem(
                "2300",
                claim_parts[CLAIMS_PER_LEVEL][0],
                f"expected at most {CLAIMS_PER_LEVEL} claims (2300) under one {who} level "
                f"({level}), got {len(claim_parts)}",
                level="segment",
                code=ack_codes.SEGMENT_LOOP_OVER_MAXIMUM,
            )

    def clm(self, clm: Segment, kept: _Kept) -> dict[str, Any] | None:
        loop = "2300"
        if not clm.get(1):
            self.problem(loop, clm, "expected a patient control number, got nothing", "CLM01")
        charge = self.decimal(loop, clm, 2, "the total claim charge")
        comps = clm.components(5)
        if not comps:
            self.problem(
                loop, clm, "expected facility code, qualifier and frequency, got nothing", "CLM05"
            )
        else:
            self.code(loop, clm, 5, [codes.FACILITY_QUALIFIER], 2)
            self.code(loop, clm, 5, codes.CLAIM_FREQUENCY, 3)
        if charge is None:
            return None
        padded = list(comps) + [""] * max(0, 3 - len(comps))
        fields: dict[str, Any] = {
            "patient_control_number": clm.get(1),
            "total_charge": charge,
            "facility_code": padded[0],
            "facility_qualifier": padded[1],
            "frequency": padded[2],
            "provider_signature": clm.get(6),
            "assignment": clm.get(7),
            "benefits_assignment": clm.get(8),
            "release_of_information": clm.get(9),
            "patient_signature_source": clm.get(10),
            "related_causes": clm.components(11),
            "special_program": clm.get(12),
            "delay_reason": clm.get(20),
        }
        kept.typed(0, clm, _clm(Claim(**fields)))
        return fields

    def diagnoses(self, loop: str, seg: Segment) -> tuple[Diagnosis, ...]:
        out: list[Diagnosis] = []
        for position in range(1, len(seg.elements) + 1):
            comps = seg.components(position)
            if not comps:
                self.problem(loop, seg, "expected a diagnosis, got nothing", seg.name(position))
                continue
            allowed = codes.DIAGNOSIS_PRINCIPAL if position == 1 else codes.DIAGNOSIS_OTHER
            self.code(loop, seg, position, allowed, 1)
            if len(comps) < 2 or not comps[1]:
                self.problem(
                    loop, seg, "expected a diagnosis code, got nothing", seg.name(position), 2
                )
            when: date | None = None
            if len(comps) >= 4 and comps[2] == "D8":
                when = self.day(loop, seg, comps[3], position, 4)
            out.append(Diagnosis(comps[0], comps[1] if len(comps) > 1 else "", when))
        if len(out) > codes.MAX_DIAGNOSES:
            self.problem(
                loop, seg, f"expected at most {codes.MAX_DIAGNOSES} diagnoses, got {len(out)}"
            )
        return tuple(out)

    def claim(self, segs: list[Segment]) -> Claim | None:
        loop = "2300"
        clm = segs[0]
        parts = _cut(segs, lambda s: s.id in ("SBR", "LX"))
        own = parts[0]
        others: list[list[Segment]] = []
        lines: list[list[Segment]] = []
        for part in parts[1:]:
            if part[0].id == "LX":
                lines.append(part)
            elif lines:
                self.problem(
                    "2320", part[0], "expected SBR (2320) before the service lines, got it after"
                )
            else:
                others.append(part)
        self.check_ids(loop, own, "2300")
        kept = _Kept()
        names = _cut(own, lambda s: s.id == "NM1")
        head = names[0]
        fields = self.clm(clm, kept)
        dates: list[DatePeriod] = []
        attachments: list[Attachment] = []
        amounts: list[Amount] = []
        refs: list[Reference] = []
        notes: list[Note] = []
        diagnoses: tuple[Diagnosis, ...] | None = None
        order = _Order("CLM", "DTP", "PWK", "AMT", "REF", "NTE", "HI")
        for i, seg in enumerate(head[1:], start=1):
            sid = seg.id
            spec: SegmentSpec
            if not order.fits(sid):
                kept.raw(i, seg)
                continue
            if sid == "DTP" and (period := self.dtp(loop, seg)):
                dates.append(period)
                spec = _dtp(period)
            elif sid == "PWK" and seg.get(1):
                attachments.append(Attachment(seg.get(1), seg.get(2), seg.get(6), seg.get(7)))
                spec = _pwk(attachments[-1])
            elif sid == "AMT" and (amount := self.amount(loop, seg)):
                amounts.append(amount)
                spec = _amt(amount)
            elif sid == "REF" and seg.get(1):
                refs.append(Reference(seg.get(1), seg.get(2)))
                spec = _ref(refs[-1])
            elif sid == "NTE" and seg.get(2):
                notes.append(Note(seg.get(1), seg.get(2)))
                spec = _nte(notes[-1])
            elif (
                sid == "HI"
                and diagnoses is None
                and seg.component(1, 1) not in codes.NON_DIAGNOSIS_HI
            ):
                diagnoses = self.diagnoses(loop, seg)
                spec = _hi(diagnoses)
            else:
                kept.raw(i, seg)
                continue
            order.take(sid)
            kept.typed(i, seg, spec)
        if diagnoses is None:
            self.problem(
                loop,
                clm,
                "expected HI (diagnoses), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        frequency = fields.get("frequency", "") if fields else ""
        if frequency in codes.FREQUENCIES_NEEDING_ORIGINAL and not any(
            r.qualifier == codes.REF_PAYER_CLAIM_CONTROL for r in refs
        ):
            self.problem(
                loop,
                clm,
                f"expected REF*F8 (payer claim control number) for frequency {frequency}, got none",
            )
        found = self.parties(
            [s for p in names[1:] for s in p], len(head), codes.CLAIM_PARTIES, kept
        )
        other_subscribers = [self.other_subscriber(p) for p in others]
        count = len(diagnoses or ())
        services = [self.service(part, n, count) for n, part in enumerate(lines, start=1)]
        if not lines:
            self.problem(
                "2400",
                clm,
                "expected a service line (LX), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        if fields is not None and lines and all(s is not None for s in services):
            total = sum((s.charge for s in services if s is not None), Decimal(0))
            if total != fields["total_charge"]:
                self.problem(
                    loop,
                    clm,
                    f"expected the sum of the line charges SV102 ({_num(total)}), "
                    f"got {_num(fields['total_charge'])}",
                    "CLM02",
                )
        if fields is None or not diagnoses or not lines:
            return None
        if any(s is None for s in services):
            return None
        return Claim(
            dates=tuple(dates),
            attachments=tuple(attachments),
            amounts=tuple(amounts),
            references=tuple(refs),
            notes=tuple(notes),
            diagnoses=diagnoses,
            providers=tuple(p for _, p, _ in found),
            other_subscribers=tuple(other_subscribers),
            services=tuple(s for s in services if s is not None),
            extras=kept.done(),
            **fields,
        )

    def other_subscriber(self, segs: list[Segment]) -> OtherSubscriber:
        loop = "2320"
        self.check_ids(loop, segs, "2320")
        kept = _Kept()
        names = _cut(segs, lambda s: s.id == "NM1")
        info = self.sbr(loop, segs[0])
        kept.typed(0, segs[0], _sbr(info))
        adjustments: list[Adjustment] = []
        amounts: list[Amount] = []
        coverage: OtherInsurance | None = None
        order = _Order("SBR", "CAS", "AMT", "OI")
        for i, seg in enumerate(names[0][1:], start=1):
            spec: SegmentSpec
            if not order.fits(seg.id):
                kept.raw(i, seg)
                continue
            if seg.id == "CAS" and (adj := self.cas(loop, seg)):
                adjustments.append(adj)
                spec = _cas_segment(adj)
            elif seg.id == "AMT" and (amount := self.amount(loop, seg)):
                amounts.append(amount)
                spec = _amt(amount)
            elif seg.id == "OI" and coverage is None:
                coverage = OtherInsurance(seg.get(3), seg.get(4), seg.get(6))
                spec = _oi(coverage)
            else:
                kept.raw(i, seg)
                continue
            order.take(seg.id)
            kept.typed(i, seg, spec)
        found = self.parties(
            [s for p in names[1:] for s in p], len(names[0]), codes.OTHER_PAYER_PARTIES, kept
        )
        loops = [name for name, _, _ in found]
        if coverage is None:
            self.problem(
                loop,
                segs[0],
                "expected OI (other insurance coverage), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        if "2330A" not in loops:
            self.problem(
                "2330A",
                segs[0],
                "expected NM1*IL (other subscriber), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        if "2330B" not in loops:
            self.problem(
                "2330B",
                segs[0],
                "expected NM1*PR (other payer), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        return OtherSubscriber(
            info=info,
            adjustments=tuple(adjustments),
            amounts=tuple(amounts),
            coverage=coverage,
            parties=tuple(p for _, p, _ in found),
            extras=kept.done(),
        )

    def sv1(self, sv1: Segment, diagnosis_count: int) -> dict[str, Any] | None:
        loop = "2400"
        proc = self.procedure(sv1, 1)
        qualifier = sv1.component(1, 1)
        if qualifier not in codes.SV1_PROCEDURE_QUALIFIERS:
            self.problem(
                loop,
                sv1,
                f"expected {_either(codes.SV1_PROCEDURE_QUALIFIERS)}, got {qualifier!r}",
                "SV101",
                1,
            )
        elif not sv1.component(1, 2):
            self.problem(loop, sv1, "expected a procedure code, got nothing", "SV101", 2)
        elif len(sv1.components(1)) > 7:
            self.problem(
                loop,
                sv1,
                f"expected at most {codes.MAX_MODIFIERS} modifiers and a description, "
                f"got {len(sv1.components(1))} components",
                "SV101",
            )
        charge = self.decimal(loop, sv1, 2, "the line charge")
        self.code(loop, sv1, 3, codes.SV1_UNITS)
        quantity = self.decimal(loop, sv1, 4, "the units of service")
        raw_pointers = sv1.components(7)
        pointers: list[int] = []
        if not raw_pointers:
            self.problem(loop, sv1, "expected a diagnosis pointer, got none", "SV107")
        elif len(raw_pointers) > codes.MAX_POINTERS:
            self.problem(
                loop,
                sv1,
                f"expected at most {codes.MAX_POINTERS} diagnosis pointers, got {len(raw_pointers)}",
                "SV107",
            )
        for sub, raw in enumerate(raw_pointers, start=1):
            if not raw.isdigit() or not 1 <= int(raw) <= diagnosis_count:
                self.problem(
                    loop,
                    sv1,
                    f"expected a pointer to one of the claim's {diagnosis_count} diagnoses, got {raw!r}",
                    "SV107",
                    sub,
                )
            if raw.isdigit():
                pointers.append(int(raw))
        if proc is None or charge is None or quantity is None:
            return None
        return {
            "procedure": proc,
            "charge": charge,
            "unit": sv1.get(3),
            "quantity": quantity,
            "place_of_service": sv1.get(5),
            "pointers": tuple(pointers[: codes.MAX_POINTERS]) or (1,),
            "emergency": sv1.get(9),
            "epsdt": sv1.get(11),
            "family_planning": sv1.get(12),
            "copay_exempt": sv1.get(15),
        }

    def service(self, segs: list[Segment], number: int, diagnosis_count: int) -> ServiceLine | None:
        loop = "2400"
        lx = segs[0]
        forms_at = next((i for i, s in enumerate(segs) if s.id == "LQ"), len(segs))
        body, form_segs = segs[:forms_at], segs[forms_at:]
        self.check_ids("2440", form_segs, "2440")
        parts = _cut(body, lambda s: s.id == "SVD")
        own, adjudication_parts = parts[0], parts[1:]
        self.check_ids(loop, own, "2400")
        kept = _Kept()
        if lx.get(1) != str(number):
            self.problem(loop, lx, f"expected {str(number)!r}, got {lx.get(1)!r}", "LX01")
        line_number = int(lx.get(1)) if lx.get(1).isdigit() else number
        kept.typed(0, lx, _lx(line_number))
        sv1 = own[1] if len(own) > 1 and own[1].id == "SV1" else None
        if sv1 is None:
            self.problem(
                loop,
                lx,
                "expected SV1 after LX, got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
            return None
        fields = self.sv1(sv1, diagnosis_count)
        split_at = next((i for i, s in enumerate(own) if s.id in ("LIN", "NM1")), len(own))
        head, rest = own[:split_at], own[split_at:]
        dates: list[DatePeriod] = []
        refs: list[Reference] = []
        amounts: list[Amount] = []
        notes: list[Note] = []
        order = _Order("SV1", "DTP", "REF", "AMT", "NTE")
        for i, seg in enumerate(head[2:], start=2):
            sid = seg.id
            spec: SegmentSpec
            if not order.fits(sid):
                kept.raw(i, seg)
                continue
            if sid == "DTP" and (period := self.dtp(loop, seg)):
                dates.append(period)
                spec = _dtp(period)
            elif sid == "REF" and seg.get(1):
                refs.append(Reference(seg.get(1), seg.get(2)))
                spec = _ref(refs[-1])
            elif sid == "AMT" and (amount := self.amount(loop, seg)):
                amounts.append(amount)
                spec = _amt(amount)
            elif sid == "NTE" and seg.get(2):
                notes.append(Note(seg.get(1), seg.get(2)))
                spec = _nte(notes[-1])
            else:
                kept.raw(i, seg)
                continue
            order.take(sid)
            kept.typed(i, seg, spec)
        drug: DrugIdentification | None = None
        position = len(head)
        if rest and rest[0].id == "LIN":
            end = next((i for i, s in enumerate(rest) if s.id == "NM1"), len(rest))
            drug = self.drug(rest[:end], position, kept)
            position += end
            rest = rest[end:]
        found = self.parties(rest, position, codes.LINE_PARTIES, kept)
        adjudications = [self.adjudication(p) for p in adjudication_parts]
        if fields is None or any(a is None for a in adjudications):
            return None
        values: dict[str, Any] = dict(
            line_number=line_number,
            dates=tuple(dates),
            references=tuple(refs),
            amounts=tuple(amounts),
            notes=tuple(notes),
            drug=drug,
            providers=tuple(p for _, p, _ in found),
            adjudications=tuple(a for a in adjudications if a is not None),
            forms=tuple(_raw(i, s) for i, s in enumerate(form_segs)),
            **fields,
        )
        kept.typed(1, sv1, _sv1(ServiceLine(**values)))
        # built again rather than `dataclasses.replace` (which inspects the fields per call)
        return ServiceLine(**values, extras=kept.done())

    def drug(self, segs: list[Segment], base: int, kept: _Kept) -> DrugIdentification | None:
        loop = "2410"
        lin = segs[0]
        ctp = segs[1] if len(segs) > 1 and segs[1].id == "CTP" else None
        if lin.get(2) != codes.NDC_QUALIFIER:
            self.problem(
                loop, lin, f"expected {codes.NDC_QUALIFIER!r}, got {lin.get(2)!r}", "LIN02"
            )
        if ctp is None:
            self.problem(
                loop,
                lin,
                "expected CTP (drug quantity) after LIN, got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
        quantity = self.decimal(loop, ctp, 4, "the drug quantity") if ctp is not None else None
        if ctp is None or quantity is None or any(s.id != "REF" for s in segs[2:]):
            for i, seg in enumerate(segs):
                kept.raw(base + i, seg)
            return None
        drug = DrugIdentification(
            ndc=lin.get(3),
            quantity=quantity,
            unit=ctp.component(5, 1),
            qualifier=lin.get(2),
            references=tuple(Reference(s.get(1), s.get(2)) for s in segs[2:]),
        )
        kept.typed(base, lin, _lin(drug))
        kept.typed(base + 1, ctp, _ctp(drug))
        for i, (seg, ref) in enumerate(zip(segs[2:], drug.references, strict=True), start=2):
            kept.typed(base + i, seg, _ref(ref))
        return drug

    def adjudication(self, segs: list[Segment]) -> LineAdjudication | None:
        loop = "2430"
        self.check_ids(loop, segs, "2430")
        svd = segs[0]
        kept = _Kept()
        paid = self.decimal(loop, svd, 2, "the amount paid")
        proc = self.procedure(svd, 3)
        if proc is None:
            self.problem(loop, svd, "expected a procedure, got none", "SVD03")
        units = self.decimal(loop, svd, 5, "the paid units")
        adjustments: list[Adjustment] = []
        amounts: list[Amount] = []
        when: date | None = None
        order = _Order("SVD", "CAS", "DTP", "AMT")
        for i, seg in enumerate(segs[1:], start=1):
            spec: SegmentSpec
            if not order.fits(seg.id):
                kept.raw(i, seg)
                continue
            if seg.id == "CAS" and (adj := self.cas(loop, seg)):
                adjustments.append(adj)
                spec = _cas_segment(adj)
            elif (
                seg.id == "DTP"
                and when is None
                and seg.get(1) == codes.DATE_ADJUDICATION
                and seg.get(2) == "D8"
                and (day := self.day(loop, seg, seg.get(3), 3))
            ):
                when = day
                spec = _adjudication_date(day)
            elif seg.id == "AMT" and (amount := self.amount(loop, seg)):
                amounts.append(amount)
                spec = _amt(amount)
            else:
                kept.raw(i, seg)
                continue
            order.take(seg.id)
            kept.typed(i, seg, spec)
        if paid is None or proc is None or units is None:
            return None
        values: dict[str, Any] = dict(
            payer_id=svd.get(1),
            paid=paid,
            procedure=proc,
            paid_units=units,
            bundled_line=svd.get(6),
            adjustments=tuple(adjustments),
            adjudication_date=when,
            amounts=tuple(amounts),
        )
        kept.typed(0, svd, _svd(LineAdjudication(**values)))
        return LineAdjudication(**values, extras=kept.done())

    # -- transaction --

    def model(self) -> Claim837Transaction | None:
        ctx = self.txn.context
        st = self.txn.segments[0]
        if ctx.transaction_set_id != codes.TRANSACTION_SET_ID:
            self.problem(None, st, f"expected '837', got {ctx.transaction_set_id!r}", "ST01")
            return None
        if ctx.implementation_reference not in codes.ACCEPTED_REFERENCES:
            self.problem(
                None,
                st,
                f"expected {_either(codes.ACCEPTED_REFERENCES)}, got {ctx.implementation_reference!r}",
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
        head, roots = self.tree()
        header, submitter, receiver, extras = self.header(head)
        if not roots:
            self.problem(
                "2000A",
                st,
                "expected HL level 20 (billing provider), got none",
                level="segment",
                code=ack_codes.SEGMENT_REQUIRED_MISSING,
            )
            return None
        billing = [self.billing(root) for root in roots]
        for orphan in self.orphans:  # read for their problems; the hierarchy is broken
            if orphan.level == "22":
                self.subscriber(orphan)
            elif orphan.level == "23":
                self.patient(orphan)
        if submitter is None or receiver is None or any(b is None for b in billing):
            return None
        if self.orphans:
            return None
        return Claim837Transaction(
            header=header,
            submitter=submitter,
            receiver=receiver,
            billing_providers=tuple(b for b in billing if b is not None),
            extras=extras,
            envelope=ctx,
        )


def read_transaction(txn: Transaction) -> tuple[Claim837Transaction | None, list[Problem]]:
    """One 837P transaction set already split out by the envelope reader: its model (None when
    it cannot be modelled) and its problems, the transaction's envelope problems first."""
    parser = _Parser(txn)
    with paused_gc():
        model = parser.model()
    return model, [*txn.problems, *parser.problems]


def read_837p(text: str | bytes) -> tuple[list[Claim837Transaction], list[Problem]]:
    """Every 837P transaction set in `text`, and every problem found (empty when valid).

    A transaction set whose structure cannot be modelled (a required loop or segment missing,
    a loop repeated or misplaced) is reported and left out of the models; the rest are read."""
    problems: list[Problem] = []
    models: list[Claim837Transaction] = []
    with paused_gc():
        _read_837p(text, models, problems)
    return models, problems


def _read_837p(
    text: str | bytes, models: list[Claim837Transaction], problems: list[Problem]
) -> None:
    try:
        for txn in read_transactions(text, problems):
            problems.extend(txn.problems)
            parser = _Parser(txn)
            model = parser.model()
            problems.extend(parser.problems)
            if model is not None:
                models.append(model)
    except X12Error as exc:
        problems.extend(exc.problems)


# -- JSON ---------------------------------------------------------------------------------------

JsonValue = Any


def _to_json(value: object) -> JsonValue:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _to_json(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name != "envelope"
        }
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    return value


def claim_to_json(model: Claim837Transaction) -> dict[str, JsonValue]:
    """The transaction set as JSON-ready data (no envelope: `dermrcm x12 build` writes a new one).

    Decimals are strings (exact, as written in the file), dates and times ISO 8601."""
    data = _to_json(model)
    assert isinstance(data, dict)
    return data


_M = typing.TypeVar("_M")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _from_json(kind: Any, data: JsonValue, path: str) -> Any:
    origin = typing.get_origin(kind)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        if data is None:
            return None
        return _from_json(options[0], data, path)
    if origin is tuple:
        args = typing.get_args(kind)
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a list, got {type(data).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_json(args[0], v, f"{path}[{i}]") for i, v in enumerate(data))
        if len(data) != len(args):
            raise ValueError(f"{path}: expected {len(args)} items, got {len(data)}")
        return tuple(
            _from_json(a, v, f"{path}[{i}]")
            for i, (a, v) in enumerate(zip(args, data, strict=True))
        )
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected an object, got {type(data).__name__}")
        hints = _hints(kind)
        names = {f.name for f in dataclasses.fields(kind) if f.name != "envelope"}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"{path}: unexpected field {unknown[0]!r}")
        values = {k: _from_json(hints[k], v, f"{path}.{k}") for k, v in data.items()}
        try:
            return kind(**values)
        except TypeError as exc:
            raise ValueError(f"{path}: {exc}") from exc
    if kind is Decimal:
        if not isinstance(data, str):
            raise ValueError(f"{path}: expected a decimal string, got {data!r}")
        try:
            return Decimal(data)
        except InvalidOperation as exc:
            raise ValueError(f"{path}: expected a decimal string, got {data!r}") from exc
    if kind in (datetime, date):
        if not isinstance(data, str):
            raise ValueError(f"{path}: expected an ISO 8601 string, got {data!r}")
        try:
            return kind.fromisoformat(data)
        except ValueError as exc:
            raise ValueError(f"{path}: expected an ISO 8601 string, got {data!r}") from exc
    if kind is int:
        if not isinstance(data, int) or isinstance(data, bool):
            raise ValueError(f"{path}: expected an integer, got {data!r}")
        return data
    if kind is str:
        if not isinstance(data, str):
            raise ValueError(f"{path}: expected a string, got {data!r}")
        return data
    if kind is bool:
        if not isinstance(data, bool):
            raise ValueError(f"{path}: expected true or false, got {data!r}")
        return data
    raise ValueError(f"{path}: cannot read {kind!r}")


def model_to_json(value: object) -> JsonValue:
    """Any model of this module (a `Claim`, a `ServiceLine`...) as JSON-ready data, the way
    `claim_to_json` writes it inside a transaction."""
    return _to_json(value)


def json_to_model(kind: type[_M], data: JsonValue, path: str = "$") -> _M:
    """A model of type `kind` back from `model_to_json` output; ValueError naming the path (under
    `path`) of a bad field."""
    model = _from_json(kind, data, path)
    assert isinstance(model, kind)
    return model


def claim_from_json(data: Mapping[str, JsonValue]) -> Claim837Transaction:
    """The model back from `claim_to_json` output; ValueError naming the path of a bad field."""
    model = _from_json(Claim837Transaction, dict(data), "$")
    assert isinstance(model, Claim837Transaction)
    return model
