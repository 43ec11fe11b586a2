"""The sandbox clearinghouse: a test double for claim submission over real HTTP.

Mounted by the sandbox app at `/clearinghouse` (`clearinghouse_blueprint`), it speaks the protocol
of `integration.clearinghouse.http`:

- `POST /clearinghouse/files` (an 837P, 270 or 276 interchange, name in `X-Filename`): stored,
  answered 202 with its id (the same bytes sent again get the same id and nothing new);
- `GET /clearinghouse/inbox` lists what waits for the submitter, oldest first;
  `GET /clearinghouse/inbox/<id>` gives its bytes, `DELETE` acknowledges (drops) it.

What it answers, decided by `mappings/sandbox/clearinghouse-adjudication.yaml` (a synthetic
decision table, validated against its schema at load):

- an 837P: a 999 (`build_999` from the reader's problems; a rejected transaction set gets R and
  nothing else); for the claims of accepted sets a 277CA (each claim A1:20, or A7 with the
  status code and message of the first front-end edit that holds); then an 835 of the accepted
  claims, each service line adjudicated by the first rule that holds (pay in full, pay the
  allowed percent with CO-45, deny with a CARC and RARCs) and, when a line's rule says
  `reverse-and-correct`, a later 835 with the claim reversed (CLP02 22) and paid again;
- a 270: a 271 per subscriber from the fixed benefit table;
- a 276: a 277 per claim asked about, from the claims this clearinghouse has adjudicated.

State is in memory (a sandbox). Everything is deterministic given the input and the clock: file
ids are hashes of the bytes, payer claim numbers and trace numbers hashes of the file id and the
claim, outbound control numbers sequential. Logs carry ids, control numbers and counts only.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any, Literal

from flask import Blueprint, Response, jsonify, request

from integration.mapping.loader import MappingError, iter_documents, load_document
from integration.paths import mappings_dir
from integration.x12 import x212_codes
from integration.x12.envelope import (
    Clock,
    EnvelopeParams,
    SequentialControlNumbers,
    decode,
    read_transactions,
)
from integration.x12.errors import X12Error
from integration.x12.t270_005010x279a1 import (
    Benefit,
    Member,
    Receiver,
    Request270,
    Response271,
    Source,
    read_270,
)
from integration.x12.t270_005010x279a1 import Header as EligibilityHeader
from integration.x12.t271_005010x279a1 import write_271
from integration.x12.t276_005010x212 import (
    ClaimStatus,
    Entity,
    Header,
    Level,
    Status,
    StatusCode,
    StatusRequest,
    StatusResponse,
    read_276,
)
from integration.x12.t277_005010x212 import write_277
from integration.x12.t278_005010x217 import (
    Address,
    Contact,
    DatePeriod,
    Party,
    Procedure,
    Reference,
    Trace,
)
from integration.x12.t835_005010x221a1 import (
    AdjustmentReason,
    AdjustmentSegment,
    Amount,
    ClaimPayment,
    HeaderNumber,
    Organization,
    Payment,
    PaymentHeader,
    ProviderAdjustment,
    ProviderAdjustmentItem,
    Remark,
    Remittance835,
    ServicePayment,
    write_835,
)
from integration.x12.t837_005010x222a1 import (
    Claim,
    Claim837Transaction,
    ServiceLine,
    read_837p,
)
from integration.x12.t999_005010x231a1 import build_999, write_999

log = logging.getLogger(__name__)

KIND = "sandbox-clearinghouse-adjudication"
ZERO = Decimal(0)
CENT = Decimal("0.01")
HUNDRED = Decimal(100)
Outcome = Literal["pay", "deny", "reverse-and-correct"]

# the benefit table's words -> X12 EB01, EB06, EB12 (closed vocabulary, see the schema)
_BENEFIT_INFO = {"deductible": "C", "coinsurance": "A", "copay": "B", "out-of-pocket": "G"}
_PERIODS = {"calendar-year": "23", "remaining": "29", "visit": "27"}
_NETWORKS = {"in": "Y", "out": "N", "both": "W"}
# synthetic payer details the 835 requires (N3/N4, PER*BL, payer identifier in TRN03/BPR10)
_PAYER_ADDRESS = Address(("1 SANDBOX WAY",), "SPRINGFIELD", "IL", "62701")
_PAYER_CONTACT = Contact("BL", "SANDBOX EDI", (("TE", "5555550199"),))
_PAYER_COMPANY_ID = "1999999999"


# -- the decision table ---------------------------------------------------------------------------


def _normal_dx(code: str) -> str:
    return code.replace(".", "").upper()


@dataclass(frozen=True, slots=True)
class LineFacts:
    """What a rule looks at for one service line (with its claim)."""

    procedure: str
    modifiers: tuple[str, ...]
    diagnoses: tuple[str, ...]  # the line's pointed diagnoses, normalised (no dot)
    place_of_service: str
    frequency: str


def line_facts(claim: Claim, line: ServiceLine) -> LineFacts:
    diagnoses = tuple(
        _normal_dx(claim.diagnoses[p - 1].code)
        for p in line.pointers
        if 0 < p <= len(claim.diagnoses)
    )
    return LineFacts(
        procedure=line.procedure.code.upper(),
        modifiers=tuple(m.upper() for m in line.procedure.modifiers),
        diagnoses=diagnoses,
        place_of_service=line.place_of_service or claim.facility_code,
        frequency=claim.frequency,
    )


_Test = Callable[[Any, LineFacts], bool]
_PREDICATES: dict[str, _Test] = {
    "procedures": lambda v, f: f.procedure in v,
    "modifiers": lambda v, f: bool(set(f.modifiers) & set(v)),
    "no_modifiers": lambda v, f: not set(f.modifiers) & set(v),
    "diagnosis_prefixes": lambda v, f: any(
        d.startswith(_normal_dx(p)) for d in f.diagnoses for p in v
    ),
    "no_diagnosis_prefixes": lambda v, f: (
        not any(d.startswith(_normal_dx(p)) for d in f.diagnoses for p in v)
    ),
    "places_of_service": lambda v, f: f.place_of_service in v,
    "frequencies": lambda v, f: f.frequency in v,
}


def holds(when: Mapping[str, Any], facts: LineFacts) -> bool:
    """Every condition of `when` holds for the line (names resolve through `_PREDICATES`)."""
    return all(_PREDICATES[key](value, facts) for key, value in when.items())


def claim_holds(when: Mapping[str, Any], claim: Claim) -> bool:
    """A front-end edit's `when` on a whole claim: line conditions hold on any line, diagnosis
    conditions look at the principal (`diagnosis_prefixes`) or every diagnosis (`no_...`)."""
    principal = _normal_dx(claim.diagnoses[0].code) if claim.diagnoses else ""
    every = tuple(_normal_dx(d.code) for d in claim.diagnoses)
    facts = [line_facts(claim, line) for line in claim.services] or [
        LineFacts("", (), (), claim.facility_code, claim.frequency)
    ]
    for key, value in when.items():
        if key == "diagnosis_prefixes":
            ok = any(principal.startswith(_normal_dx(p)) for p in value)
        elif key == "no_diagnosis_prefixes":
            ok = not any(d.startswith(_normal_dx(p)) for d in every for p in value)
        elif key == "no_modifiers":
            ok = all(_PREDICATES[key](value, f) for f in facts)
        else:
            ok = any(_PREDICATES[key](value, f) for f in facts)
        if not ok:
            return False
    return True


@dataclass(frozen=True, slots=True)
class Edit:
    id: str
    when: Mapping[str, Any]
    status_code: str
    message: str


@dataclass(frozen=True, slots=True)
class LineRule:
    id: str
    when: Mapping[str, Any]
    outcome: Outcome
    allowed_percent: int = 100
    group: str = ""
    reason: str = ""
    remarks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BenefitEntry:
    info: str
    service_type: str
    network: str
    period: str = ""
    amount: Decimal | None = None
    percent: Decimal | None = None


def _status(text: str) -> StatusCode:
    category, _, code = text.partition(":")
    return StatusCode(category, code)


@dataclass(frozen=True, slots=True, kw_only=True)
class AdjudicationTable:
    """The decision table, loaded and checked once."""

    clearinghouse_id: str
    clearinghouse_name: str
    payer_id: str
    payer_name: str
    payer_claim_prefix: str
    trace_prefix: str
    claim_status: Mapping[str, StatusCode]
    edits: tuple[Edit, ...]
    rules: tuple[LineRule, ...]
    otherwise: LineRule
    plan_description: str
    coverage_level: str
    inactive_member_prefix: str | None
    benefits: tuple[BenefitEntry, ...]

    @classmethod
    def from_file(cls, path: Path, root: Path | None = None) -> AdjudicationTable:
        doc = load_document(path, root)
        if doc.kind != KIND:
            raise MappingError(f"{path}: kind: expected {KIND}, got {doc.kind!r}")
        data = doc.data

        def rule(raw: Mapping[str, Any], rule_id: str) -> LineRule:
            adjustment = raw.get("adjustment") or {}
            return LineRule(
                id=rule_id,
                when=raw.get("when", {}),
                outcome=raw["outcome"],
                allowed_percent=int(raw.get("allowed_percent", 100)),
                group=adjustment.get("group", ""),
                reason=adjustment.get("reason", ""),
                remarks=tuple(raw.get("remarks", ())),
            )

        ids = [r["id"] for r in data["rules"]] + [e["id"] for e in data["edits"]]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise MappingError(f"{path}: rules/edits id: expected unique, got {duplicates[0]!r}")
        benefits = data["benefits"]
        return cls(
            clearinghouse_id=data["clearinghouse"]["id"],
            clearinghouse_name=data["clearinghouse"]["name"],
            payer_id=data["payer"]["id"],
            payer_name=data["payer"]["name"],
            payer_claim_prefix=data["payer_claim_prefix"],
            trace_prefix=data["trace_prefix"],
            claim_status={k: _status(v) for k, v in data["claim_status"].items()},
            edits=tuple(
                Edit(e["id"], e["when"], e["status_code"], e["message"]) for e in data["edits"]
            ),
            rules=tuple(rule(r, r["id"]) for r in data["rules"]),
            otherwise=rule(data["otherwise"], "otherwise"),
            plan_description=benefits["plan_description"],
            coverage_level=benefits["coverage_level"],
            inactive_member_prefix=benefits.get("inactive_member_prefix"),
            benefits=tuple(
                BenefitEntry(
                    info=b["info"],
                    service_type=b["service_type"],
                    network=b["network"],
                    period=b.get("period", ""),
                    amount=Decimal(b["amount"]) if "amount" in b else None,
                    percent=Decimal(b["percent"]) if "percent" in b else None,
                )
                for b in benefits["entries"]
            ),
        )

    def edit_for(self, claim: Claim) -> Edit | None:
        """The first front-end edit that rejects `claim` (277CA A7), None when accepted."""
        return next((e for e in self.edits if claim_holds(e.when, claim)), None)

    def rule_for(self, claim: Claim, line: ServiceLine) -> LineRule:
        facts = line_facts(claim, line)
        return next((r for r in self.rules if holds(r.when, facts)), self.otherwise)


@cache
def default_adjudication(root: Path | None = None) -> AdjudicationTable:
    """The one `kind: sandbox-clearinghouse-adjudication` file under `mappings/`."""
    base = root or mappings_dir()
    docs = list(iter_documents(base, kind=KIND))
    if len(docs) != 1:
        raise MappingError(f"kind {KIND}: expected exactly one file, got {len(docs)}")
    return AdjudicationTable.from_file(docs[0].path, base)


# -- adjudication (pure) ----------------------------------------------------------------------


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _short_hash(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:10].upper()


@dataclass(frozen=True, slots=True)
class AdjudicatedClaim:
    """A claim the sandbox payer decided: the first 835 claim payment and, for a reverse and
    correct, the correction that a later 835 carries after the reversal."""

    patient_control_number: str
    payer_claim_number: str
    first: ClaimPayment
    correction: ClaimPayment | None
    service_start: date | None
    service_end: date | None
    rules: tuple[str, ...]

    @property
    def final(self) -> ClaimPayment:
        return self.correction or self.first


def _service_day(line: ServiceLine) -> date | None:
    period = line.service_date
    return None if period is None else period.start


def _line_payment(line: ServiceLine, rule: LineRule, percent: int) -> ServicePayment:
    charge = line.charge
    cas: list[AdjustmentSegment] = []
    if rule.outcome == "deny":
        paid = ZERO
        cas.append(AdjustmentSegment(rule.group, (AdjustmentReason(rule.reason, charge),)))
    else:
        paid = _money(charge * Decimal(percent) / HUNDRED)
        if charge - paid:
            cas.append(AdjustmentSegment("CO", (AdjustmentReason("45", charge - paid),)))
    day = _service_day(line)
    control = next((r.value for r in line.references if r.qualifier == "6R"), "")
    return ServicePayment(
        procedure=Procedure("HC", line.procedure.code, line.procedure.modifiers),
        charge=charge,
        paid=paid,
        units=line.quantity,
        dates=(DatePeriod("472", day),) if day else (),
        cas=tuple(cas),
        references=(Reference("6R", control),) if control else (),
        amounts=(Amount("B6", paid),) if paid else (),
        remarks=tuple(Remark("HE", r) for r in rule.remarks) if rule.outcome == "deny" else (),
    )


def _claim_payment(
    claim: Claim, patient: Party, payer_claim_number: str, services: Sequence[ServicePayment]
) -> ClaimPayment:
    paid = sum((s.paid for s in services), ZERO)
    patient_share = sum(
        (r.amount for s in services for c in s.cas if c.group == "PR" for r in c.reasons), ZERO
    )
    return ClaimPayment(
        patient_control_number=claim.patient_control_number,
        status="1" if paid > ZERO else "4",
        charge=claim.total_charge,
        paid=paid,
        patient_responsibility=patient_share,
        filing_indicator="12",
        payer_claim_control_number=payer_claim_number,
        facility_code=claim.facility_code,
        frequency=claim.frequency,
        parties=(
            Party(
                entity_code="QC",
                entity_type="1",
                last_or_organization=patient.last_or_organization,
                first=patient.first,
                id_qualifier="MI" if patient.id else "",
                id=patient.id,
            ),
        ),
        services=tuple(services),
    )


def adjudicate(
    table: AdjudicationTable, claim: Claim, patient: Party, payer_claim_number: str
) -> AdjudicatedClaim:
    rules = [table.rule_for(claim, line) for line in claim.services]
    # a reverse-and-correct line is paid in full first, at its allowed percent in the correction
    first = [
        _line_payment(
            line, rule, 100 if rule.outcome == "reverse-and-correct" else rule.allowed_percent
        )
        for line, rule in zip(claim.services, rules, strict=True)
    ]
    correction = None
    if any(r.outcome == "reverse-and-correct" for r in rules):
        corrected = [
            _line_payment(line, rule, rule.allowed_percent)
            for line, rule in zip(claim.services, rules, strict=True)
        ]
        correction = _claim_payment(claim, patient, payer_claim_number, corrected)
    days = [d for d in (_service_day(s) for s in claim.services) if d is not None]
    return AdjudicatedClaim(
        patient_control_number=claim.patient_control_number,
        payer_claim_number=payer_claim_number,
        first=_claim_payment(claim, patient, payer_claim_number, first),
        correction=correction,
        service_start=min(days) if days else None,
        service_end=max(days) if days else None,
        rules=tuple(r.id for r in rules),
    )


def reversal_of(original: ClaimPayment) -> ClaimPayment:
    """The payer's reversal (CLP02 22) of `original`: every amount with the opposite sign."""

    def negated(segment: AdjustmentSegment) -> AdjustmentSegment:
        return AdjustmentSegment(
            segment.group,
            tuple(AdjustmentReason(r.reason, -r.amount, r.quantity) for r in segment.reasons),
        )

    return replace(
        original,
        status="22",
        charge=-original.charge,
        paid=-original.paid,
        patient_responsibility=-(original.patient_responsibility or ZERO),
        cas=tuple(negated(s) for s in original.cas),
        services=tuple(
            replace(
                s,
                charge=-s.charge,
                paid=-s.paid,
                cas=tuple(negated(c) for c in s.cas),
                amounts=(),
                remarks=(),
            )
            for s in original.services
        ),
    )


def remittance(
    table: AdjudicationTable,
    claims: Sequence[ClaimPayment],
    *,
    trace_number: str,
    payee: Party,
    today: date,
) -> Remittance835:
    """One 835 paying `claims`; a negative total is carried forward (PLB FB) to pay 0."""
    total = sum((c.paid for c in claims), ZERO)
    adjustments: tuple[ProviderAdjustment, ...] = ()
    if total < ZERO:
        adjustments = (
            ProviderAdjustment(
                provider_id=payee.id,
                fiscal_period_date=date(today.year, 12, 31),
                items=(ProviderAdjustmentItem("FB", trace_number, total),),
            ),
        )
        total = ZERO
    if total > ZERO:
        payment = Payment(
            handling_code="I",
            amount=total,
            credit_debit="C",
            method="ACH",
            format_code="CCP",
            bank=(
                "01",
                "999999992",
                "DA",
                "123456",
                _PAYER_COMPANY_ID,
                "",
                "01",
                "999988880",
                "DA",
                "98765",
            ),
            payment_date=today,
        )
    else:
        payment = Payment(
            handling_code="H", amount=ZERO, credit_debit="C", method="NON", payment_date=today
        )
    return Remittance835(
        header=PaymentHeader(
            payment=payment,
            trace=Trace("1", trace_number, _PAYER_COMPANY_ID),
            dates=(DatePeriod("405", today),),
            payer=Organization(
                entity_code="PR",
                name=table.payer_name,
                address=_PAYER_ADDRESS,
                references=(Reference("2U", table.payer_id),),
                contacts=(_PAYER_CONTACT,),
            ),
            payee=Organization(
                entity_code="PE",
                name=payee.last_or_organization,
                id_qualifier="XX" if payee.id_qualifier == "XX" else "",
                id=payee.id if payee.id_qualifier == "XX" else "",
            ),
        ),
        groups=(HeaderNumber(number="1", claims=tuple(claims)),),
        provider_adjustments=adjustments,
    )


# -- the clearinghouse state and its answers --------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboxFile:
    id: str
    name: str
    transaction_set: str
    data: bytes


@dataclass(frozen=True, slots=True)
class _Located:
    claim: Claim
    patient: Party
    billing: Party
    transaction: Claim837Transaction


def _claims_of(model: Claim837Transaction) -> list[_Located]:
    out: list[_Located] = []
    for bp in model.billing_providers:
        for sub in bp.subscribers:
            out += [_Located(c, sub.subscriber, bp.provider, model) for c in sub.claims]
            for pat in sub.patients:
                out += [_Located(c, pat.patient, bp.provider, model) for c in pat.claims]
    return out


def _first_transaction_set(text: str) -> str:
    try:
        for txn in read_transactions(text, []):
            return txn.context.transaction_set_id
    except X12Error:
        return ""
    return ""


@dataclass
class ClearinghouseSandbox:
    """The in-memory clearinghouse (thread-safe); `clock` may be replaced by tests."""

    table: AdjudicationTable
    clock: Clock = field(default=lambda: datetime.now(UTC).replace(tzinfo=None))
    control_numbers: SequentialControlNumbers = field(
        default_factory=lambda: SequentialControlNumbers(1001, 1001, 1001)
    )
    received: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    inbox: dict[str, InboxFile] = field(default_factory=dict)
    adjudicated: dict[str, AdjudicatedClaim] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def receive(self, name: str, data: bytes) -> tuple[str, bool]:
        """Store and answer one file: (its id, True when it was new)."""
        file_id = "F" + hashlib.sha256(data).hexdigest()[:16].upper()
        with self._lock:
            if file_id in self.received:
                return file_id, False
            self.received[file_id] = (name, data)
            text = decode(data)
            kind = _first_transaction_set(text)
            if kind == "837":
                answers = self._answer_837(file_id, text)
            elif kind == "270":
                answers = self._answer_270(file_id, text)
            elif kind == "276":
                answers = self._answer_276(file_id, text)
            else:
                answers = self._answer_other(file_id, text)
            for answer in answers:
                self.inbox[answer.id] = answer
        log.info(
            "clearinghouse file received",
            extra={"clearinghouse_id": file_id, "transaction_set": kind, "answers": len(answers)},
        )
        return file_id, True

    def reset(self) -> None:
        """Forget every file and claim (tests; a fresh sandbox)."""
        with self._lock:
            self.received.clear()
            self.inbox.clear()
            self.adjudicated.clear()

    def list_inbox(self) -> list[InboxFile]:
        with self._lock:
            return list(self.inbox.values())

    def get(self, inbound_id: str) -> InboxFile | None:
        with self._lock:
            return self.inbox.get(inbound_id)

    def ack(self, inbound_id: str) -> bool:
        with self._lock:
            return self.inbox.pop(inbound_id, None) is not None

    # -- answers --

    def _params(self, text: str) -> EnvelopeParams:
        """Back to whoever sent `text` (ISA06/ISA05), with its usage indicator (ISA15)."""
        sender_qualifier, sender, usage = "ZZ", "SUBMITTER", "T"
        for txn in read_transactions(text, []):
            h = txn.context.interchange
            sender_qualifier, sender, usage = h.sender_qualifier, h.sender_id, h.usage_indicator
            break
        return EnvelopeParams(
            sender_qualifier="ZZ",
            sender_id=self.table.clearinghouse_id,
            receiver_qualifier=sender_qualifier,
            receiver_id=sender,
            usage_indicator="P" if usage == "P" else "T",
        )

    def _file(self, inbound_id: str, kind: str, text: str) -> InboxFile:
        return InboxFile(inbound_id, f"{inbound_id}.{kind.lower()}", kind, text.encode())

    def _answer_other(self, file_id: str, text: str) -> list[InboxFile]:
        acks = build_999(text, [])
        if not acks:
            return []
        params = self._params(text)
        body = "".join(write_999(a, params, self.clock, self.control_numbers) for a in acks)
        return [self._file(f"{file_id}-999", "999", body)]

    def _answer_837(self, file_id: str, text: str) -> list[InboxFile]:
        models, problems = read_837p(text)
        acks = build_999(text, problems)
        params = self._params(text)
        out: list[InboxFile] = []
        if acks:
            body = "".join(write_999(a, params, self.clock, self.control_numbers) for a in acks)
            out.append(self._file(f"{file_id}-999", "999", body))
        accepted = {
            (a.group_control_number, t.control_number)
            for a in acks
            for t in a.transactions
            if t.accepted
        }
        located = [
            item
            for model in models
            if model.envelope is not None
            and (model.envelope.group.control_number, model.envelope.control_number) in accepted
            for item in _claims_of(model)
        ]
        if not located:
            return out
        now = self.clock()
        decisions: list[tuple[_Located, Edit | None, str]] = [
            (
                item,
                self.table.edit_for(item.claim),
                self.table.payer_claim_prefix
                + _short_hash(file_id, item.claim.patient_control_number),
            )
            for item in located
        ]
        out.append(
            self._file(
                f"{file_id}-277CA",
                "277",
                write_277(
                    self._acknowledgment(file_id, decisions, now),
                    params,
                    self.clock,
                    self.control_numbers,
                ),
            )
        )
        adjudicated = [
            adjudicate(self.table, item.claim, item.patient, number)
            for item, edit, number in decisions
            if edit is None
        ]
        if not adjudicated:
            return out
        for claim in adjudicated:
            self.adjudicated[claim.patient_control_number] = claim
        billing = located[0].billing
        first = remittance(
            self.table,
            [c.first for c in adjudicated],
            trace_number=self.table.trace_prefix + _short_hash(file_id, "1"),
            payee=billing,
            today=now.date(),
        )
        out.append(
            self._file(
                f"{file_id}-835", "835", write_835(first, params, self.clock, self.control_numbers)
            )
        )
        corrections = [c for c in adjudicated if c.correction is not None]
        if corrections:
            claims: list[ClaimPayment] = []
            for c in corrections:
                assert c.correction is not None
                claims += [reversal_of(c.first), c.correction]
            later = remittance(
                self.table,
                claims,
                trace_number=self.table.trace_prefix + _short_hash(file_id, "2"),
                payee=billing,
                today=now.date(),
            )
            out.append(
                self._file(
                    f"{file_id}-835-2",
                    "835",
                    write_835(later, params, self.clock, self.control_numbers),
                )
            )
        log.info(
            "claims adjudicated",
            extra={
                "clearinghouse_id": file_id,
                "claims": len(located),
                "rejected": len(located) - len(adjudicated),
                "reprocessed": len(corrections),
            },
        )
        return out

    def _acknowledgment(
        self, file_id: str, decisions: Sequence[tuple[_Located, Edit | None, str]], now: datetime
    ) -> StatusResponse:
        today = now.date()
        accepted_status = self.table.claim_status["accepted"]

        def totals(items: Iterable[tuple[_Located, Edit | None, str]]) -> tuple[int, Decimal]:
            chosen = list(items)
            return len(chosen), sum((i.claim.total_charge for i, _, _ in chosen), ZERO)

        n_ok, ok_total = totals(d for d in decisions if d[1] is None)
        n_bad, bad_total = totals(d for d in decisions if d[1] is not None)

        def counts(accepted_code: str, rejected_code: str) -> dict[str, Any]:
            quantities: list[tuple[str, Decimal]] = []
            amounts: list[tuple[str, Decimal]] = []
            if n_ok:
                quantities.append((accepted_code, Decimal(n_ok)))
                amounts.append(("YU", ok_total))
            if n_bad:
                quantities.append((rejected_code, Decimal(n_bad)))
                amounts.append(("YY", bad_total))
            return {"quantities": tuple(quantities), "amounts": tuple(amounts)}

        patients: list[Level] = []
        for item, edit, number in decisions:
            claim = item.claim
            if edit is None:
                status = Status(
                    primary=accepted_status, effective=today, action="WQ", amount=claim.total_charge
                )
                references: tuple[Reference, ...] = (Reference("1K", number),)
            else:
                status = Status(
                    primary=StatusCode("A7", edit.status_code),
                    effective=today,
                    action="U",
                    amount=claim.total_charge,
                    message=edit.message,
                )
                references = ()
            days = [d for d in (_service_day(s) for s in claim.services) if d is not None]
            patients.append(
                Level(
                    code="PT",
                    parties=(
                        Entity(
                            entity_code="QC",
                            entity_type="1",
                            last_or_organization=item.patient.last_or_organization,
                            first=item.patient.first,
                            id_qualifier="MI" if item.patient.id else "",
                            id=item.patient.id,
                        ),
                    ),
                    claims=(
                        ClaimStatus(
                            trace=Trace("2", claim.patient_control_number, ""),
                            statuses=(status,),
                            references=references,
                            dates=(DatePeriod("472", min(days), max(days)),) if days else (),
                        ),
                    ),
                )
            )
        model = decisions[0][0].transaction
        billing = decisions[0][0].billing
        overall = Status(
            primary=StatusCode("A1", "19"), effective=today, action="WQ", amount=ok_total
        )
        provider = Level(
            code="19",
            parties=(
                Entity(
                    entity_code="85",
                    entity_type="2",
                    last_or_organization=billing.last_or_organization,
                    id_qualifier=billing.id_qualifier,
                    id=billing.id,
                ),
            ),
            claims=(
                ClaimStatus(trace=Trace("1", "0", ""), statuses=(overall,), **counts("QA", "QC")),
            ),
            children=tuple(patients),
        )
        receiver = Level(
            code="21",
            parties=(
                Entity(
                    entity_code="41",
                    entity_type="2",
                    last_or_organization=model.submitter.last_or_organization,
                    id_qualifier=model.submitter.id_qualifier,
                    id=model.submitter.id,
                ),
            ),
            claims=(
                ClaimStatus(
                    trace=Trace("2", model.header.reference_id, ""),
                    statuses=(replace(overall, primary=StatusCode("A1", "19")),),
                    **counts("90", "AA"),
                ),
            ),
            children=(provider,),
        )
        source = Level(
            code="20",
            parties=(
                Entity(
                    entity_code="PR",
                    entity_type="2",
                    last_or_organization=self.table.clearinghouse_name,
                    id_qualifier="46",
                    id=self.table.clearinghouse_id,
                ),
            ),
            claims=(
                ClaimStatus(
                    trace=Trace("1", f"CA{file_id[1:9]}", ""),
                    dates=(DatePeriod("050", today), DatePeriod("009", today)),
                ),
            ),
            children=(receiver,),
        )
        return StatusResponse(
            header=Header(
                reference_id=f"CA{file_id[1:9]}",
                created=today,
                time=now.strftime("%H%M"),
                transaction_type="TH",
            ),
            levels=(source,),
            implementation_reference=x212_codes.ACK_REFERENCE,
        )

    def _answer_270(self, file_id: str, text: str) -> list[InboxFile]:
        models, problems = read_270(text)
        acks = build_999(text, problems)
        params = self._params(text)
        if problems or not models:
            body = "".join(write_999(a, params, self.clock, self.control_numbers) for a in acks)
            return [self._file(f"{file_id}-999", "999", body)] if acks else []
        body = "".join(
            write_271(self._eligibility(m), params, self.clock, self.control_numbers)
            for m in models
        )
        return [self._file(f"{file_id}-271", "271", body)]

    def _benefits(self, member_id: str) -> tuple[Benefit, ...]:
        level = self.table.coverage_level
        prefix = self.table.inactive_member_prefix
        if prefix and member_id.startswith(prefix):
            return (Benefit(info_code="6", coverage_level=level, service_types=("30",)),)
        out = [
            Benefit(
                info_code="1",
                coverage_level=level,
                service_types=("30",),
                plan_description=self.table.plan_description,
            )
        ]
        out += [
            Benefit(
                info_code=_BENEFIT_INFO[b.info],
                coverage_level=level,
                service_types=(b.service_type,),
                time_period=_PERIODS.get(b.period, ""),
                amount=b.amount,
                percent=b.percent,
                in_network=_NETWORKS[b.network],
            )
            for b in self.table.benefits
        ]
        return tuple(out)

    def _eligibility(self, request_270: Request270) -> Response271:
        now = self.clock()

        def member(m: Member) -> Member:
            return Member(
                traces=tuple(replace(t, type_code="2") for t in m.traces),
                party=m.party,
                benefits=self._benefits(m.party.id),
                dependents=tuple(member(d) for d in m.dependents),
            )

        return Response271(
            header=EligibilityHeader(
                reference_id=request_270.header.reference_id,
                created=now.date(),
                time=now.strftime("%H%M"),
            ),
            sources=tuple(
                Source(
                    party=s.party,
                    receivers=tuple(
                        Receiver(party=r.party, subscribers=tuple(member(m) for m in r.subscribers))
                        for r in s.receivers
                    ),
                )
                for s in request_270.sources
            ),
        )

    def _answer_276(self, file_id: str, text: str) -> list[InboxFile]:
        models, problems = read_276(text)
        params = self._params(text)
        if problems or not models:
            acks = build_999(text, problems)
            body = "".join(write_999(a, params, self.clock, self.control_numbers) for a in acks)
            return [self._file(f"{file_id}-999", "999", body)] if acks else []
        body = "".join(
            write_277(self._claim_status(m), params, self.clock, self.control_numbers)
            for m in models
        )
        return [self._file(f"{file_id}-277", "277", body)]

    def _find(self, asked: ClaimStatus) -> AdjudicatedClaim | None:
        if asked.patient_account and asked.patient_account in self.adjudicated:
            return self.adjudicated[asked.patient_account]
        number = asked.payer_claim_number
        return next(
            (c for c in self.adjudicated.values() if number and c.payer_claim_number == number),
            None,
        )

    def _claim_status(self, request_276: StatusRequest) -> StatusResponse:
        now = self.clock()
        today = now.date()
        codes = self.table.claim_status

        def answer(asked: ClaimStatus) -> ClaimStatus:
            found = self._find(asked)
            trace = replace(asked.trace, type_code="2")
            if found is None:
                return ClaimStatus(
                    trace=trace,
                    statuses=(Status(primary=codes["not_found"], effective=today),),
                    references=asked.references,
                )
            final = found.final
            paid = final.paid > ZERO
            refs = [Reference("1K", found.payer_claim_number)]
            refs.append(Reference("EJ", found.patient_control_number))
            days = (
                (DatePeriod("472", found.service_start, found.service_end),)
                if found.service_start and found.service_end
                else ()
            )
            return ClaimStatus(
                trace=trace,
                statuses=(
                    Status(
                        primary=codes["paid"] if paid else codes["denied"],
                        effective=today,
                        amount=final.charge,
                        paid=final.paid,
                        adjudicated=today,
                    ),
                ),
                references=tuple(refs),
                dates=days,
            )

        def level(lv: Level) -> Level:
            return replace(
                lv,
                demographics=None,
                claims=tuple(answer(c) for c in lv.claims),
                children=tuple(level(c) for c in lv.children),
            )

        return StatusResponse(
            header=Header(
                reference_id=request_276.header.reference_id,
                created=today,
                time=now.strftime("%H%M"),
                transaction_type="DG",
            ),
            levels=tuple(level(lv) for lv in request_276.levels),
            implementation_reference=x212_codes.REQUEST_REFERENCE,
        )


# -- HTTP ---------------------------------------------------------------------------------------


def _error(status: int, code: str, description: str) -> Response:
    response = jsonify({"code": code, "description": description})
    response.status_code = status
    return response


def clearinghouse_blueprint(state: ClearinghouseSandbox | None = None) -> Blueprint:
    """The blueprint (mount it at `/clearinghouse`); `clearinghouse_of(app)` finds its state."""
    sandbox = state or ClearinghouseSandbox(default_adjudication())
    bp = Blueprint("sandbox_clearinghouse", __name__)
    bp.record_once(lambda s: s.app.extensions.setdefault("dermrcm_clearinghouse", sandbox))

    @bp.post("/files")
    def submit() -> Response:
        data = request.get_data()
        if not data.lstrip().startswith(b"ISA"):
            return _error(
                400,
                "invalid",
                "POST /clearinghouse/files: expected an X12 interchange (ISA...), got something else",
            )
        name = (request.headers.get("X-Filename") or "upload.x12")[-255:]
        file_id, new = sandbox.receive(name, data)
        response = jsonify({"id": file_id, "name": name, "duplicate": not new})
        response.status_code = 202
        return response

    @bp.get("/inbox")
    def inbox() -> Response:
        return jsonify(
            {
                "files": [
                    {
                        "id": f.id,
                        "name": f.name,
                        "transaction_set": f.transaction_set,
                        "size": len(f.data),
                    }
                    for f in sandbox.list_inbox()
                ]
            }
        )

    @bp.get("/inbox/<inbound_id>")
    def download(inbound_id: str) -> Response:
        found = sandbox.get(inbound_id)
        if found is None:
            return _error(404, "not-found", f"GET /clearinghouse/inbox/{inbound_id}: no such file")
        return Response(found.data, mimetype="application/edi-x12")

    @bp.delete("/inbox/<inbound_id>")
    def acknowledge(inbound_id: str) -> Response:
        if not sandbox.ack(inbound_id):
            return _error(
                404, "not-found", f"DELETE /clearinghouse/inbox/{inbound_id}: no such file"
            )
        return Response(status=204)

    return bp


def clearinghouse_of(app: Any) -> ClearinghouseSandbox:
    """The clearinghouse state of a sandbox app (tests set its clock)."""
    state = app.extensions.get("dermrcm_clearinghouse")
    if not isinstance(state, ClearinghouseSandbox):
        raise TypeError("clearinghouse_of: this app has no sandbox clearinghouse")
    return state


__all__ = [
    "AdjudicatedClaim",
    "AdjudicationTable",
    "ClearinghouseSandbox",
    "InboxFile",
    "LineFacts",
    "adjudicate",
    "clearinghouse_blueprint",
    "clearinghouse_of",
    "default_adjudication",
    "holds",
    "line_facts",
    "remittance",
    "reversal_of",
]
