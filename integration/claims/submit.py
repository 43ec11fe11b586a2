"""The claim submission loop.

`submit_claims(claims, clearinghouse, store, control_numbers, clock, params)`:
1. reads the claims (typed 837P transactions, or the JSON `dermrcm x12 parse` prints: a
   document with a "model" key or the model itself) and merges them into one 837P transaction
   set (their billing provider loops in order, the first one's submitter and receiver);
2. validates and writes it as one interchange with durable control numbers (a claim the TR3
   rejects raises `SubmissionError` before a control number is taken);
3. stores the file raw (SHA-256, ISA13/GS06/ST02) and records each claim with its lines
   (`RemittanceStore.record_submitted_claim`) BEFORE sending; a claim already submitted refuses
   the whole batch and nothing is stored;
4. sends it. When the clearinghouse cannot be reached the file stays stored (`send_failed`)
   and `send_stored` sends it again, byte for byte.

`fhir_claim_inputs(documents, submitter=..., receiver=...)` turns the FHIR R4 Claims among the
documents (a Claim, or a Bundle holding one with the resources it names) into their 837P
transactions (`integration.x12.fhir_claim.claim_837_from_fhir`) and keeps each one's patient
(`Claim.patient`, resolved to "Patient/<id>" through the Bundle) by CLM01, for
`submit_claims(patient_refs=...)`: the claim is recorded with its patient, so its denials name
the chart an appeal reads.

`poll(clearinghouse, store)` fetches every waiting file, stores it raw first (clearinghouse id and
SHA-256 unique), then routes it by ST01: 999 -> the claim file with that GS06/ST02 is accepted
or rejected; 277CA -> each claim (TRN02 of the patient level, else REF*EJ) is accepted or
rejected by the clearinghouse with its STC codes; 835 -> `RemittanceStore.post_file`; 271/277
are kept for their readers. Then it acknowledges the file. A file stored and processed before
is only acknowledged again, never processed twice.

Logs carry file ids, control numbers, hashes and counts: no names, member ids or patient control
numbers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from integration.claims.repository import ClaimsStore, ClaimToRecord, StoredInbound
from integration.clearinghouse.port import Clearinghouse, ClearinghouseError
from integration.denials.remittance import SubmittedLine
from integration.x12.envelope import (
    ControlNumberSource,
    EnvelopeParams,
    decode,
    read_transactions,
)
from integration.x12.errors import X12Error
from integration.x12.fhir_claim import FhirClaimError, claim_837_from_fhir
from integration.x12.t277_005010x212 import claim_statuses, read_277
from integration.x12.t837_005010x222a1 import (
    Claim,
    Claim837Transaction,
    Party,
    claim_from_json,
    write_837p,
)
from integration.x12.t999_005010x231a1 import read_999
from integration.x12.x212_codes import ACK_REFERENCE

log = logging.getLogger(__name__)

#: 277CA claim status categories that mean the clearinghouse or payer did not take the claim
REJECTED_CATEGORIES = frozenset({"A3", "A4", "A6", "A7", "A8"})
ClaimInput = Claim837Transaction | Mapping[str, Any]


class SubmissionError(Exception):
    """A batch that could not be written, stored or sent: where and what (control numbers and
    file ids, never patient data)."""

    def __init__(self, message: str, claim_file_id: int | None = None) -> None:
        super().__init__(message)
        self.claim_file_id = claim_file_id


@dataclass(frozen=True, slots=True)
class SubmissionResult:
    claim_file_id: int
    filename: str
    interchange_control_number: str
    group_control_number: str
    transaction_control_number: str
    claims: tuple[str, ...]  # patient control numbers, in file order
    clearinghouse_id: str | None
    status: str  # sent | send_failed
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "claim_file": self.claim_file_id,
            "filename": self.filename,
            "isa13": self.interchange_control_number,
            "gs06": self.group_control_number,
            "st02": self.transaction_control_number,
            "claims": list(self.claims),
            "clearinghouse_id": self.clearinghouse_id,
            "status": self.status,
            "error": self.error,
        }


# -- reading the input ------------------------------------------------------------------------


def read_claims_json(text: str) -> list[Mapping[str, Any]]:
    """Every JSON document in `text`: one per line, pretty-printed one after another, or one
    array of them; ValueError naming the document (1-based) that is not an object."""
    decoder = json.JSONDecoder()
    out: list[Mapping[str, Any]] = []
    position, number = 0, 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            break
        number += 1
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise ValueError(f"document {number}: not JSON: {exc.msg} (char {exc.pos})") from None
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                where = f"document {number}" + (f"[{i}]" if isinstance(value, list) else "")
                raise ValueError(f"{where}: expected a JSON object, got {type(item).__name__}")
            out.append(item)
    return out


def is_fhir_claim(document: Mapping[str, Any]) -> bool:
    """A FHIR Claim, or a Bundle (the 837 JSON has no resourceType)."""
    return document.get("resourceType") in ("Claim", "Bundle")


def _fhir_claim_of(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if document.get("resourceType") == "Claim":
        return document
    for entry in document.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if isinstance(resource, Mapping) and resource.get("resourceType") == "Claim":
            return resource
    return None


def _patient_reference(document: Mapping[str, Any], claim: Mapping[str, Any]) -> str | None:
    """Claim.patient as "Patient/<id>": as written, through the Bundle's fullUrl (urn:uuid or
    absolute), or the tail of an absolute URL; None when it names no Patient."""
    patient = claim.get("patient")
    ref = patient.get("reference") if isinstance(patient, Mapping) else None
    if not isinstance(ref, str) or not ref:
        return None
    for entry in document.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if (
            isinstance(resource, Mapping)
            and entry.get("fullUrl") == ref
            and resource.get("resourceType") == "Patient"
            and resource.get("id")
        ):
            return f"Patient/{resource['id']}"
    if ref.startswith("urn:"):
        return None
    tail = ref.split("/_history/")[0].rstrip("/").split("/")[-2:]
    return "/".join(tail) if len(tail) == 2 and tail[0] == "Patient" and tail[1] else None


def fhir_claim_inputs(
    documents: Sequence[Mapping[str, Any]], *, submitter: Party, receiver: Party
) -> tuple[list[ClaimInput], dict[str, str]]:
    """The documents with each FHIR Claim (or Bundle) replaced by its 837P transaction, and
    the patient of each such claim by CLM01 (module docstring); 837 JSON passes through.
    SubmissionError naming the document (1-based) and every located problem of a Claim that
    can't be made an 837P."""
    out: list[ClaimInput] = []
    claims: list[Mapping[str, Any]] = []
    for number, document in enumerate(documents, start=1):
        if not is_fhir_claim(document):
            out.append(document)
            continue
        try:
            model = claim_837_from_fhir(document, submitter=submitter, receiver=receiver)
        except FhirClaimError as exc:
            raise SubmissionError(f"document {number}: {exc}") from None
        out.append(model)
        claim = _fhir_claim_of(document)
        if claim is not None:
            claims.append(
                {
                    "identifier": claim.get("identifier") or [],
                    "patient": {"reference": _patient_reference(document, claim)},
                }
            )
    return out, fhir_patient_refs(claims)


def as_transaction(item: ClaimInput, where: str = "$") -> Claim837Transaction:
    if isinstance(item, Claim837Transaction):
        return item
    data = item.get("model", item) if "model" in item else item
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}.model: expected an object, got {type(data).__name__}")
    try:
        return claim_from_json(data)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def merge(models: Sequence[Claim837Transaction], created: datetime) -> Claim837Transaction:
    """One transaction set holding every billing provider loop of `models`, in order."""
    first = models[0]
    return replace(
        first,
        header=replace(first.header, created=created),
        billing_providers=tuple(bp for m in models for bp in m.billing_providers),
        envelope=None,
    )


def _payer_id(model: Claim837Transaction, claim: Claim) -> str:
    for bp in model.billing_providers:
        for sub in bp.subscribers:
            if claim in sub.claims or any(claim in p.claims for p in sub.patients):
                return sub.payer.id or sub.payer.last_or_organization
    return ""


def _to_record(
    model: Claim837Transaction, claim: Claim, patient_ref: str | None = None
) -> ClaimToRecord:
    lines: list[SubmittedLine] = []
    for line in claim.services:
        period = line.service_date
        day: date | None = period.start if period is not None else None
        if day is None:
            day = next((d.start for d in claim.dates if d.qualifier == "472"), None)
        if day is None:
            raise SubmissionError(
                f"claim {claim.patient_control_number} 2400 LX {line.line_number} DTP*472: "
                "expected a service date, got none"
            )
        lines.append(
            SubmittedLine(
                line_number=line.line_number,
                procedure=line.procedure.code,
                modifiers=tuple(line.procedure.modifiers),
                service_date=day,
                charge=line.charge,
                units=line.quantity,
            )
        )
    return ClaimToRecord(
        patient_control_number=claim.patient_control_number,
        payer_id=_payer_id(model, claim),
        total_charge=claim.total_charge,
        lines=tuple(lines),
        patient_ref=patient_ref,
    )


def _envelope_numbers(text: str) -> tuple[str, str, str]:
    for txn in read_transactions(text, []):
        ctx = txn.context
        return ctx.interchange.control_number, ctx.group.control_number, ctx.control_number
    raise SubmissionError("837P: expected a transaction set in the written file, got none")


# -- submitting -------------------------------------------------------------------------------


def submit_claims(
    claims: Sequence[ClaimInput],
    clearinghouse: Clearinghouse,
    store: ClaimsStore,
    control_numbers: ControlNumberSource,
    clock: Callable[[], datetime],
    params: EnvelopeParams,
    patient_refs: Mapping[str, str] | None = None,
) -> SubmissionResult:
    """Write, store and send one 837P interchange for `claims` (see the module docstring).
    `patient_refs`: patient control number (CLM01) -> the FHIR Claim's patient ("Patient/<id>"),
    recorded with the claim so a denial's appeal can read that chart."""
    if not claims:
        raise SubmissionError("claims: expected at least one claim, got none")
    try:
        models = [as_transaction(c, f"claims[{i}]") for i, c in enumerate(claims)]
    except ValueError as exc:
        raise SubmissionError(str(exc)) from None
    model = merge(models, clock())
    found = model.claims
    numbers = [c.patient_control_number for c in found]
    repeated = sorted({n for n in numbers if numbers.count(n) > 1})
    if repeated:
        raise SubmissionError(
            f"2300 CLM01: expected each patient control number once in a batch, "
            f"got {repeated[0]} {numbers.count(repeated[0])} times"
        )
    known = store.already_recorded(numbers)
    if known:
        raise SubmissionError(
            f"2300 CLM01: claim {known[0]} was submitted before; a claim file that failed to "
            "send is sent again with `dermrcm claims resend`, a correction needs frequency 7"
        )
    refs = patient_refs or {}
    records = [_to_record(model, c, refs.get(c.patient_control_number)) for c in found]
    try:
        text = write_837p(model, params, clock, control_numbers)
    except X12Error as exc:
        raise SubmissionError(
            "837P not written: " + "; ".join(p.render() for p in exc.problems)
        ) from None
    isa13, gs06, st02 = _envelope_numbers(text)
    filename = f"{params.sender_id}-{isa13}.837"
    raw = text.encode()
    file_id = store.record_file(
        filename=filename,
        raw=raw,
        interchange=isa13,
        group=gs06,
        transaction=st02,
        claims=records,
    )
    result = SubmissionResult(
        claim_file_id=file_id,
        filename=filename,
        interchange_control_number=isa13,
        group_control_number=gs06,
        transaction_control_number=st02,
        claims=tuple(numbers),
        clearinghouse_id=None,
        status="stored",
    )
    return _send(clearinghouse, store, result, raw)


def _send(
    clearinghouse: Clearinghouse, store: ClaimsStore, result: SubmissionResult, raw: bytes
) -> SubmissionResult:
    try:
        receipt = clearinghouse.submit(result.filename, raw)
    except ClearinghouseError as exc:
        message = f"claim file {result.claim_file_id} (ISA13 {result.interchange_control_number}) stored, not sent: {exc}"
        store.mark_send_failed(result.claim_file_id, str(exc))
        log.warning(
            "claim file not sent",
            extra={
                "claim_file_id": result.claim_file_id,
                "isa13": result.interchange_control_number,
            },
        )
        raise SubmissionError(message, result.claim_file_id) from None
    store.mark_sent(result.claim_file_id, receipt.id)
    log.info(
        "claim file sent",
        extra={
            "claim_file_id": result.claim_file_id,
            "isa13": result.interchange_control_number,
            "clearinghouse_id": receipt.id,
        },
    )
    return replace(result, clearinghouse_id=receipt.id, status="sent")


def send_stored(
    clearinghouse: Clearinghouse, store: ClaimsStore, file_ids: Iterable[int] = ()
) -> list[SubmissionResult]:
    """Send again each stored claim file not yet sent (or only `file_ids`), byte for byte; a
    failure is reported in its result and the rest are still tried."""
    wanted = set(file_ids)
    out: list[SubmissionResult] = []
    for f in store.files_to_send():
        if wanted and f.id not in wanted:
            continue
        result = SubmissionResult(
            claim_file_id=f.id,
            filename=f.filename,
            interchange_control_number=f.interchange_control_number,
            group_control_number=f.group_control_number,
            transaction_control_number=f.transaction_control_number,
            claims=(),
            clearinghouse_id=None,
            status=f.status,
        )
        try:
            out.append(_send(clearinghouse, store, result, f.raw))
        except SubmissionError as exc:
            out.append(replace(result, status="send_failed", error=str(exc)))
    return out


# -- polling ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboundOutcome:
    clearinghouse_id: str
    transaction_set: str
    status: str  # processed | failed | ignored | duplicate
    detail: str = ""
    acknowledged: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "clearinghouse_id": self.clearinghouse_id,
            "transaction_set": self.transaction_set,
            "status": self.status,
            "detail": self.detail,
            "acknowledged": self.acknowledged,
        }


@dataclass(frozen=True, slots=True)
class PollResult:
    files: tuple[InboundOutcome, ...] = ()
    errors: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {"files": [f.to_json() for f in self.files], "errors": list(self.errors)}


def _transaction_set(raw: bytes) -> tuple[str, str]:
    """(ST01, ST03) of the first transaction set, ("", "") when unreadable."""
    try:
        for txn in read_transactions(decode(raw), []):
            return txn.context.transaction_set_id, txn.context.implementation_reference
    except X12Error:
        pass
    return "", ""


def _process_999(store: ClaimsStore, raw: bytes) -> tuple[str, str]:
    acks, problems = read_999(raw)
    if problems and not acks:
        return "failed", "; ".join(p.render() for p in problems)[:2000]
    matched: list[str] = []
    unmatched: list[str] = []
    for ack in acks:
        for txn in ack.transactions:
            if txn.transaction_set_id != "837":
                continue
            codes = ",".join([txn.status, *txn.error_codes, *(s.segment_id for s in txn.segments)])
            file_id = store.apply_999(
                ack.group_control_number, txn.control_number, txn.accepted, codes
            )
            label = f"GS06 {ack.group_control_number} ST02 {txn.control_number} {txn.status}"
            (matched if file_id is not None else unmatched).append(
                label if file_id is None else f"{label} -> claim file {file_id}"
            )
    detail = "; ".join(matched + [f"{u} (no claim file)" for u in unmatched])
    return ("processed" if matched else "ignored"), detail


def _process_277ca(store: ClaimsStore, raw: bytes) -> tuple[str, str]:
    responses, problems = read_277(raw)
    if problems and not responses:
        return "failed", "; ".join(p.render() for p in problems)[:2000]
    accepted = rejected = unknown = 0
    for response in responses:
        by_claim: dict[str, list[str]] = {}
        payer_numbers: dict[str, str | None] = {}
        for line in claim_statuses(response):
            if line.level != "PT" or line.service:
                continue
            pcn = line.trace_number or line.patient_account or ""
            code = line.status.primary
            by_claim.setdefault(pcn, []).append(f"{code.category}:{code.code}")
            payer_numbers.setdefault(pcn, line.payer_claim_number)
        for pcn, codes in by_claim.items():
            ok = not any(c.split(":")[0] in REJECTED_CATEGORIES for c in codes)
            if store.apply_277ca(pcn, ok, "|".join(codes), payer_numbers.get(pcn)):
                accepted += ok
                rejected += not ok
            else:
                unknown += 1
    detail = f"claims accepted {accepted}, rejected {rejected}, not ours {unknown}"
    return ("processed" if accepted + rejected else "ignored"), detail


def _process(store: ClaimsStore, stored: StoredInbound) -> tuple[str, str]:
    st01, st03 = _transaction_set(stored.raw)
    if st01 == "999":
        return _process_999(store, stored.raw)
    if st01 == "277" and st03 == ACK_REFERENCE:
        return _process_277ca(store, stored.raw)
    if st01 == "835":
        posting = store.remittances.post_file(stored.raw, stored.name)
        detail = f"835 {posting.status}: remittance file {posting.file_id}, payments {len(posting.payments)}"
        if posting.problems:
            detail += "; " + "; ".join(posting.problems)
        return ("processed" if posting.status != "rejected" else "failed"), detail[:4000]
    if st01 in ("271", "277"):
        return "processed", f"{st01} kept for its reader"
    return "ignored", f"ST01 {st01 or 'unreadable'}: not a file this loop processes"


def poll(clearinghouse: Clearinghouse, store: ClaimsStore) -> PollResult:
    """Fetch, store, process once and acknowledge every waiting file (module docstring)."""
    outcomes: list[InboundOutcome] = []
    errors: list[str] = []
    for inbound in clearinghouse.fetch():
        st01, _ = _transaction_set(inbound.data)
        stored = store.store_inbound(inbound.id, inbound.name, st01, inbound.data)
        if not stored.new and stored.status in ("processed", "ignored"):
            status, detail = "duplicate", f"stored before as inbound file {stored.id}"
        else:
            try:
                status, detail = _process(store, stored)
            except Exception as exc:
                # no exception text: database errors quote row values
                store.finish_inbound(
                    stored.id, "failed", f"processing failed: {type(exc).__name__}"
                )
                log.error(
                    "inbound file failed",
                    extra={"inbound_id": stored.id, "st01": st01, "error": type(exc).__name__},
                )
                errors.append(
                    f"inbound {inbound.id} (ST01 {st01}): processing failed: {type(exc).__name__}"
                )
                outcomes.append(InboundOutcome(inbound.id, st01, "failed", type(exc).__name__))
                continue  # not acknowledged: fetched again next time
            store.finish_inbound(stored.id, status, detail)
        if status == "failed":
            # stored, with its problems; acknowledged so the inbox moves on (a person looks)
            log.warning("inbound file not processed", extra={"inbound_id": stored.id, "st01": st01})
        acknowledged = True
        try:
            clearinghouse.ack(inbound.id)
        except ClearinghouseError as exc:
            acknowledged = False
            errors.append(str(exc))
        outcomes.append(InboundOutcome(inbound.id, st01, status, detail, acknowledged))
        log.info(
            "inbound file handled",
            extra={"inbound_id": stored.id, "st01": st01, "status": status},
        )
    return PollResult(tuple(outcomes), tuple(errors))


__all__ = [
    "ClaimInput",
    "InboundOutcome",
    "PollResult",
    "SubmissionError",
    "SubmissionResult",
    "as_transaction",
    "fhir_claim_inputs",
    "fhir_patient_refs",
    "is_fhir_claim",
    "merge",
    "poll",
    "read_claims_json",
    "send_stored",
    "submit_claims",
]


def fhir_patient_refs(fhir_claims: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Patient control number (the FHIR Claim's first identifier, 2300 CLM01) -> its
    `Claim.patient.reference` ("Patient/<id>"), for `submit_claims(patient_refs=...)`. Claims
    without both, or with a patient reference that is not "Patient/<id>", are left out."""
    refs: dict[str, str] = {}
    for claim in fhir_claims:
        identifiers = [i for i in claim.get("identifier") or [] if i.get("value")]
        patient = claim.get("patient") or {}
        reference = patient.get("reference") if isinstance(patient, Mapping) else None
        if identifiers and isinstance(reference, str) and reference.startswith("Patient/"):
            refs[str(identifiers[0]["value"])] = reference
    return refs
