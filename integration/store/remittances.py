"""The remittance posting ledger in the database (SQLite and PostgreSQL).

`RemittanceStore.post_file(raw, filename)`:
1. stores the file raw, with its SHA-256, and commits, before anything else;
2. reads it (`read_835`); a file with any located problem of severity "error" is rejected:
   nothing is posted and the problems are kept on the file row (and returned). Warnings
   (situational rules such as a missing PER*BL payer contact) do not stop posting: they are
   returned as "warnings" in the summary;
3. posts each payment (835 transaction) in one database transaction: the payment row (TRN trace
   number + payer id unique: a payment seen before is reported as a duplicate and not posted
   again, whatever the file name or ISA control numbers), each claim (matched to our claims by
   `integration.denials.remittance`), its lines and adjustments, the PLB adjustments, and a work
   item for each thing a person must look at, and the denial items of each claim
   (`DenialStore.derive_from_posting`, in the same transaction: one item per denied line, once,
   however often the 835 arrives). A crash inside a payment leaves none of it.

`record_submitted_claim(...)` records a claim we submitted (the 837P writer calls it), with the
FHIR Patient it is for when known (`patient_ref`, "Patient/<id>": an appeal reads that chart).

Logs carry file ids, hashes, trace numbers and counts only: never names, member ids or patient
control numbers.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from integration.denials.categories import DenialCategories, default_categories
from integration.denials.remittance import (
    ClaimMatch,
    SubmittedClaim,
    SubmittedLine,
    by_group,
    claim_status_after,
    is_reversal,
    match_claim,
)
from integration.store.denials import DenialStore
from integration.store.models import (
    Claim,
    ClaimLine,
    RemittanceAdjustment,
    RemittanceClaimPosting,
    RemittanceFile,
    RemittanceLinePosting,
    RemittancePayment,
    RemittanceProviderAdjustment,
    RemittanceWorkItem,
)
from integration.x12.t835_005010x221a1 import (
    Adjustment,
    ClaimPayment,
    Remittance835,
    read_835,
)

log = logging.getLogger(__name__)
ZERO = Decimal(0)
CENT = Decimal("0.01")


def cents(amount: Decimal | None) -> int:
    if amount is None:
        return 0
    return int((amount / CENT).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def money(value: int) -> Decimal:
    return (Decimal(value) * CENT).quantize(CENT)


def _text(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


@dataclass(frozen=True, slots=True)
class PaymentSummary:
    trace_number: str
    payer_id: str
    payer_name: str
    amount: Decimal
    duplicate: bool
    claims_posted: int = 0
    claims_matched: int = 0
    claims_unmatched: int = 0
    reversals: int = 0
    lines_flagged: int = 0
    adjustments_by_group: dict[str, Decimal] = field(default_factory=dict)
    provider_adjustments: Decimal = ZERO
    queued: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "trace_number": self.trace_number,
            "payer_id": self.payer_id,
            "payer": self.payer_name,
            "amount": str(self.amount),
            "duplicate": self.duplicate,
            "claims": {
                "posted": self.claims_posted,
                "matched": self.claims_matched,
                "unmatched": self.claims_unmatched,
                "reversals": self.reversals,
            },
            "lines_flagged": self.lines_flagged,
            "adjustments_by_group": {k: str(v) for k, v in self.adjustments_by_group.items()},
            "provider_adjustments": str(self.provider_adjustments),
            "queued_for_review": self.queued,
        }


@dataclass(frozen=True, slots=True)
class FilePosting:
    file_id: int
    sha256: str
    filename: str
    status: str  # posted | duplicate | rejected
    problems: tuple[str, ...] = ()
    payments: tuple[PaymentSummary, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "file": {"id": self.file_id, "name": self.filename, "sha256": self.sha256},
            "status": self.status,
            "problems": list(self.problems),
            "warnings": list(self.warnings),
            "payments": [p.to_json() for p in self.payments],
        }


@dataclass(frozen=True, slots=True)
class ClaimLedger:
    """Our claim and the net of everything posted to it."""

    patient_control_number: str
    status: str
    payer_claim_number: str | None
    postings: int
    paid: Decimal
    patient_responsibility: Decimal
    adjustments_by_group: dict[str, Decimal]


@dataclass(frozen=True, slots=True)
class WorkItem:
    id: int
    kind: str
    detail: str
    status: str
    trace_number: str


@dataclass(slots=True)
class _ClaimOutcome:
    matched: bool
    reversal: bool
    flagged_lines: int
    queued: int
    adjustments: tuple[Adjustment, ...]


class RemittanceStore:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        categories: DenialCategories | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        denials: DenialStore | None = None,
    ) -> None:
        self.sessions = sessions
        self.categories = categories or default_categories()
        self.clock = clock
        self.denials = denials or DenialStore(sessions, clock, categories=self.categories)

    # -- our claims --

    def record_submitted_claim(
        self,
        *,
        patient_control_number: str,
        payer_id: str,
        total_charge: Decimal,
        lines: Sequence[SubmittedLine],
        payer_claim_number: str | None = None,
        status: str = "submitted",
        patient_ref: str | None = None,
    ) -> int:
        """Record a claim we submitted with its lines; returns its id. A second claim with the
        same patient control number is refused (IntegrityError). `patient_ref`: the FHIR Patient
        ("Patient/<id>") the claim is for, when known."""
        if patient_ref is not None and not (
            patient_ref.startswith("Patient/") and len(patient_ref) > len("Patient/")
        ):
            raise ValueError(f"patient_ref: expected 'Patient/<id>', got {patient_ref!r}")
        now = self.clock()
        with self.sessions.begin() as session:
            claim = Claim(
                patient_control_number=patient_control_number,
                payer_id=payer_id,
                payer_claim_number=payer_claim_number,
                total_charge_cents=cents(total_charge),
                patient_ref=patient_ref,
                status=status,
                created_at=now,
                updated_at=now,
            )
            session.add(claim)
            session.flush()
            for line in lines:
                session.add(
                    ClaimLine(
                        claim_id=claim.id,
                        line_number=line.line_number,
                        procedure=line.procedure,
                        modifiers=",".join(line.modifiers),
                        service_date=line.service_date.isoformat(),
                        charge_cents=cents(line.charge),
                        units=_text(line.units),
                    )
                )
            claim_id = claim.id
        log.info("claim recorded", extra={"claim_id": claim_id, "lines": len(lines)})
        return claim_id

    # -- posting --

    def store_file(self, raw: bytes, filename: str) -> tuple[int, str]:
        """Store the file raw with its SHA-256 and commit; (file id, sha256)."""
        digest = hashlib.sha256(raw).hexdigest()
        with self.sessions.begin() as session:
            row = RemittanceFile(
                received_at=self.clock(),
                filename=filename[-255:],
                sha256=digest,
                raw=raw,
                status="received",
            )
            session.add(row)
            session.flush()
            file_id = row.id
        log.info(
            "remittance file stored",
            extra={"file_id": file_id, "sha256": digest[:16], "bytes": len(raw)},
        )
        return file_id, digest

    def post_file(self, raw: bytes, filename: str) -> FilePosting:
        file_id, digest = self.store_file(raw, filename)
        models, found = read_835(raw)
        problems = [p for p in found if p.severity == "error"]
        warnings = tuple(f"warning: {p.render()}" for p in found if p.severity == "warning")
        if problems or not models:
            messages = tuple(p.render() for p in problems) or (
                "expected an 835 transaction, got none",
            )
            self._finish_file(file_id, "rejected", "\n".join((*messages, *warnings)))
            log.warning(
                "remittance file rejected", extra={"file_id": file_id, "problems": len(messages)}
            )
            return FilePosting(file_id, digest, filename, "rejected", messages, (), warnings)
        summaries: list[PaymentSummary] = []
        try:
            for model in models:
                summaries.append(self._post_payment(file_id, model))
        except Exception as exc:
            self._finish_file(
                file_id, "failed", "posting failed; nothing of the failed payment was posted"
            )
            # no traceback text here: database errors quote row values (control numbers)
            log.error(
                "remittance posting failed",
                extra={"file_id": file_id, "error": type(exc).__name__},
            )
            raise
        status = "duplicate" if all(s.duplicate for s in summaries) else "posted"
        self._finish_file(file_id, status, "\n".join(warnings) or None)
        if warnings:
            log.info(
                "remittance file warnings", extra={"file_id": file_id, "warnings": len(warnings)}
            )
        return FilePosting(file_id, digest, filename, status, (), tuple(summaries), warnings)

    def _finish_file(self, file_id: int, status: str, error: str | None) -> None:
        with self.sessions.begin() as session:
            row = session.get(RemittanceFile, file_id)
            assert row is not None
            row.status = status
            row.error = error
            row.processed_at = self.clock()

    def _duplicate(self, model: Remittance835) -> PaymentSummary:
        h = model.header
        return PaymentSummary(
            trace_number=h.trace_number,
            payer_id=h.payer_id,
            payer_name=h.payer.name,
            amount=h.payment.amount,
            duplicate=True,
        )

    def _post_payment(self, file_id: int, model: Remittance835) -> PaymentSummary:
        h = model.header
        try:
            with self.sessions.begin() as session:
                seen = session.scalar(
                    select(RemittancePayment.id).where(
                        RemittancePayment.trace_number == h.trace_number,
                        RemittancePayment.payer_id == h.payer_id,
                    )
                )
                if seen is not None:
                    log.info(
                        "remittance payment already posted",
                        extra={"trace_number": h.trace_number, "payment_id": seen},
                    )
                    return self._duplicate(model)
                summary = self._post_new_payment(session, file_id, model)
        except IntegrityError:
            # the same payment committed concurrently by another process: a duplicate
            log.info(
                "remittance payment posted concurrently", extra={"trace_number": h.trace_number}
            )
            return self._duplicate(model)
        log.info(
            "remittance payment posted",
            extra={
                "trace_number": h.trace_number,
                "claims": summary.claims_posted,
                "unmatched": summary.claims_unmatched,
            },
        )
        return summary

    def _post_new_payment(
        self, session: Session, file_id: int, model: Remittance835
    ) -> PaymentSummary:
        h = model.header
        plb_total = sum((i.amount for p in model.provider_adjustments for i in p.items), ZERO)
        envelope = model.envelope
        payment = RemittancePayment(
            file_id=file_id,
            trace_number=h.trace_number,
            payer_id=h.payer_id,
            payer_name=h.payer.name[:60],
            payee_id=h.payee.id[:80],
            transaction_control_number=envelope.control_number if envelope else "",
            amount_cents=cents(h.payment.amount),
            credit_debit=h.payment.credit_debit,
            method=h.payment.method,
            payment_date=h.payment.payment_date.isoformat() if h.payment.payment_date else None,
            production_date=h.production_date.isoformat() if h.production_date else None,
            provider_adjustment_cents=cents(plb_total),
            posted_at=self.clock(),
        )
        session.add(payment)
        session.flush()  # the unique (trace number, payer id) is checked here
        outcomes = [self._post_claim(session, payment.id, claim) for claim in model.claims]
        for plb in model.provider_adjustments:
            for item in plb.items:
                session.add(
                    RemittanceProviderAdjustment(
                        payment_id=payment.id,
                        provider_id=plb.provider_id,
                        fiscal_period_date=plb.fiscal_period_date.isoformat()
                        if plb.fiscal_period_date
                        else None,
                        reason_code=item.reason,
                        reference=item.reference[:50],
                        amount_cents=cents(item.amount),
                    )
                )
        return PaymentSummary(
            trace_number=h.trace_number,
            payer_id=h.payer_id,
            payer_name=h.payer.name,
            amount=h.payment.amount,
            duplicate=False,
            claims_posted=len(outcomes),
            claims_matched=sum(1 for o in outcomes if o.matched),
            claims_unmatched=sum(1 for o in outcomes if not o.matched),
            reversals=sum(1 for o in outcomes if o.reversal),
            lines_flagged=sum(o.flagged_lines for o in outcomes),
            adjustments_by_group=by_group(a for o in outcomes for a in o.adjustments),
            provider_adjustments=plb_total,
            queued=sum(o.queued for o in outcomes),
        )

    def _submitted(self, session: Session, claim: Claim | None) -> SubmittedClaim | None:
        if claim is None:
            return None
        lines = session.scalars(
            select(ClaimLine).where(ClaimLine.claim_id == claim.id).order_by(ClaimLine.line_number)
        ).all()
        return SubmittedClaim(
            id=claim.id,
            patient_control_number=claim.patient_control_number,
            payer_id=claim.payer_id,
            payer_claim_number=claim.payer_claim_number,
            total_charge=money(claim.total_charge_cents),
            status=claim.status,
            lines=tuple(
                SubmittedLine(
                    id=line.id,
                    line_number=line.line_number,
                    procedure=line.procedure,
                    modifiers=tuple(m for m in line.modifiers.split(",") if m),
                    service_date=datetime.fromisoformat(line.service_date).date(),
                    charge=money(line.charge_cents),
                    units=Decimal(line.units or "0"),
                )
                for line in lines
            ),
        )

    def _post_claim(self, session: Session, payment_id: int, cp: ClaimPayment) -> _ClaimOutcome:
        by_pcn = session.scalar(
            select(Claim).where(Claim.patient_control_number == cp.patient_control_number)
        )
        by_payer = None
        if by_pcn is None and cp.payer_claim_control_number:
            by_payer = session.scalar(
                select(Claim).where(Claim.payer_claim_number == cp.payer_claim_control_number)
            )
        match = match_claim(
            cp, self._submitted(session, by_pcn), self._submitted(session, by_payer)
        )
        ours = (by_pcn or by_payer) if match.claim is not None else None
        reverses: RemittanceClaimPosting | None = None
        if is_reversal(cp):
            query = select(RemittanceClaimPosting).where(
                RemittanceClaimPosting.patient_control_number == cp.patient_control_number,
                RemittanceClaimPosting.status_code != "22",
                RemittanceClaimPosting.reversed.is_(False),
            )
            if cp.payer_claim_control_number:
                query = query.where(
                    RemittanceClaimPosting.payer_claim_number == cp.payer_claim_control_number
                )
            reverses = session.scalars(query.order_by(RemittanceClaimPosting.id.desc())).first()
            if reverses is not None:
                reverses.reversed = True
                self.denials.close_reversed(session, reverses.id)
        posting = RemittanceClaimPosting(
            payment_id=payment_id,
            claim_id=ours.id if ours else None,
            patient_control_number=cp.patient_control_number,
            payer_claim_number=cp.payer_claim_control_number,
            status_code=cp.status,
            charge_cents=cents(cp.charge),
            paid_cents=cents(cp.paid),
            patient_responsibility_cents=cents(cp.patient_responsibility),
            reverses_id=reverses.id if reverses else None,
            reversed=False,
        )
        session.add(posting)
        session.flush()
        for adj in cp.adjustments:
            session.add(self._adjustment(posting.id, None, adj))
        queued = self._post_lines(session, payment_id, posting, match)
        self.denials.derive_from_posting(
            session,
            posting.id,
            filing_indicator=cp.filing_indicator,
            claim_remarks=cp.outpatient.remark_codes if cp.outpatient else (),
            line_remarks={
                n: [r.code for r in service.remarks if r.qualifier == "HE"]
                for n, service in enumerate(cp.services, start=1)
            },
        )
        if match.claim is None:
            queued += self._queue(
                session,
                payment_id,
                posting.id,
                "unmatched_claim",
                f"CLP07 {cp.payer_claim_control_number or '-'}: no claim of ours with this "
                "patient control number or payer claim number",
            )
        if is_reversal(cp) and reverses is None:
            queued += self._queue(
                session,
                payment_id,
                posting.id,
                "reversal_unmatched",
                f"CLP07 {cp.payer_claim_control_number or '-'}: reversal (CLP02 22) with no "
                "earlier posting to reverse",
            )
        if ours is not None:
            ours.status = claim_status_after(cp)
            if cp.payer_claim_control_number and not is_reversal(cp):
                ours.payer_claim_number = cp.payer_claim_control_number
            ours.updated_at = self.clock()
        return _ClaimOutcome(
            matched=match.claim is not None,
            reversal=is_reversal(cp),
            flagged_lines=len(match.flagged_lines),
            queued=queued,
            adjustments=cp.all_adjustments,
        )

    def _post_lines(
        self, session: Session, payment_id: int, posting: RemittanceClaimPosting, match: ClaimMatch
    ) -> int:
        queued = 0
        for number, lm in enumerate(match.lines, start=1):
            service = lm.service
            row = RemittanceLinePosting(
                claim_posting_id=posting.id,
                claim_line_id=lm.line.id if lm.line else None,
                procedure=lm.procedure,
                modifiers=",".join(lm.modifiers),
                service_date=lm.service_date.isoformat() if lm.service_date else None,
                charge_cents=cents(service.charge),
                paid_cents=cents(service.paid),
                units=_text(service.units),
                dropped_modifiers=",".join(lm.dropped_modifiers),
            )
            session.add(row)
            session.flush()
            for adj in service.adjustments:
                session.add(self._adjustment(posting.id, row.id, adj))
            where = f"SVC {number} ({lm.procedure})"
            if match.claim is not None and lm.line is None:
                queued += self._queue(
                    session,
                    payment_id,
                    posting.id,
                    "unmatched_line",
                    f"{where}: no line of the claim with this procedure, modifiers and date",
                )
            if lm.dropped_modifiers:
                queued += self._queue(
                    session,
                    payment_id,
                    posting.id,
                    "modifier_dropped",
                    f"{where}: matched line {lm.line.line_number if lm.line else '-'}; "
                    f"modifier(s) {', '.join(lm.dropped_modifiers)} billed but not on the remittance",
                )
        return queued

    def _adjustment(
        self, posting_id: int, line_posting_id: int | None, adj: Adjustment
    ) -> RemittanceAdjustment:
        return RemittanceAdjustment(
            claim_posting_id=posting_id,
            line_posting_id=line_posting_id,
            group_code=adj.group,
            reason_code=adj.reason,
            amount_cents=cents(adj.amount),
            quantity=_text(adj.quantity) or None,
            category=self.categories.of_carc(adj.reason),
        )

    def _queue(
        self, session: Session, payment_id: int, posting_id: int, kind: str, detail: str
    ) -> int:
        session.add(
            RemittanceWorkItem(
                payment_id=payment_id,
                claim_posting_id=posting_id,
                kind=kind,
                detail=detail,
                status="open",
                created_at=self.clock(),
            )
        )
        return 1

    # -- queries --

    def claim_ledger(self, patient_control_number: str) -> ClaimLedger | None:
        with self.sessions() as session:
            claim = session.scalar(
                select(Claim).where(Claim.patient_control_number == patient_control_number)
            )
            if claim is None:
                return None
            postings = session.scalars(
                select(RemittanceClaimPosting).where(RemittanceClaimPosting.claim_id == claim.id)
            ).all()
            ids = [p.id for p in postings]
            groups: dict[str, Decimal] = {}
            if ids:
                for adj in session.scalars(
                    select(RemittanceAdjustment).where(
                        RemittanceAdjustment.claim_posting_id.in_(ids)
                    )
                ):
                    groups[adj.group_code] = groups.get(adj.group_code, ZERO) + money(
                        adj.amount_cents
                    )
            return ClaimLedger(
                patient_control_number=claim.patient_control_number,
                status=claim.status,
                payer_claim_number=claim.payer_claim_number,
                postings=len(postings),
                paid=money(sum(p.paid_cents for p in postings)),
                patient_responsibility=money(sum(p.patient_responsibility_cents for p in postings)),
                adjustments_by_group=groups,
            )

    def work_items(self, status: str = "open") -> list[WorkItem]:
        with self.sessions() as session:
            rows = session.execute(
                select(RemittanceWorkItem, RemittancePayment.trace_number)
                .join(RemittancePayment, RemittancePayment.id == RemittanceWorkItem.payment_id)
                .where(RemittanceWorkItem.status == status)
                .order_by(RemittanceWorkItem.id)
            ).all()
            return [WorkItem(w.id, w.kind, w.detail, w.status, trace) for w, trace in rows]

    def counts(self) -> dict[str, int]:
        """Rows per ledger table (for tests and the CLI)."""
        tables: dict[str, Any] = {
            "files": RemittanceFile,
            "payments": RemittancePayment,
            "claim_postings": RemittanceClaimPosting,
            "line_postings": RemittanceLinePosting,
            "adjustments": RemittanceAdjustment,
            "provider_adjustments": RemittanceProviderAdjustment,
            "work_items": RemittanceWorkItem,
        }
        with self.sessions() as session:
            return {
                name: int(session.scalar(select(func.count()).select_from(model)) or 0)
                for name, model in tables.items()
            }

    def file_status(self, file_id: int) -> tuple[str, str | None, bytes] | None:
        with self.sessions() as session:
            row = session.get(RemittanceFile, file_id)
            return (row.status, row.error, row.raw) if row else None
