"""The database side of claim submission: claim files (stored before they are sent), each
claim's clearinghouse outcome, and the inbound clearinghouse files (stored before they are
processed, each processed once). Claims and their lines are recorded by
`RemittanceStore.record_submitted_claim`, so an 835 posts against them.

Logs carry file ids, control numbers, hashes and counts only: no names, member ids or patient
control numbers.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from integration.denials.remittance import SubmittedLine
from integration.store.models import (
    Claim,
    ClaimFile,
    ClaimLine,
    ClaimSubmission,
    ClearinghouseInbound,
)
from integration.store.remittances import RemittanceStore, money

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClaimToRecord:
    patient_control_number: str
    payer_id: str
    total_charge: Decimal
    lines: tuple[SubmittedLine, ...]
    #: the FHIR Claim's patient ("Patient/<id>") when the claim came from FHIR, else None
    patient_ref: str | None = None


@dataclass(frozen=True, slots=True)
class StoredFile:
    id: int
    filename: str
    raw: bytes
    status: str
    interchange_control_number: str
    group_control_number: str
    transaction_control_number: str
    clearinghouse_id: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class StoredInbound:
    id: int
    clearinghouse_id: str
    name: str
    transaction_set: str
    raw: bytes
    status: str
    detail: str | None
    new: bool  # False: this clearinghouse id or these bytes were stored before


@dataclass(frozen=True, slots=True)
class ClaimStatusRow:
    """One claim as `dermrcm claims status` shows it (control numbers and codes, no PHI)."""

    patient_control_number: str
    status: str
    claim_file_id: int
    interchange_control_number: str
    ack: str  # 999: pending | accepted | rejected
    clearinghouse: str  # 277CA: pending | accepted | rejected
    status_codes: str
    remittance: str  # the ledger's status once an 835 posted (paid, denied, ...), else ""
    payer_claim_number: str | None
    charge: Decimal
    paid: Decimal

    def to_json(self) -> dict[str, object]:
        return {
            "patient_control_number": self.patient_control_number,
            "status": self.status,
            "claim_file": self.claim_file_id,
            "interchange_control_number": self.interchange_control_number,
            "999": self.ack,
            "277ca": self.clearinghouse,
            "277ca_codes": self.status_codes,
            "835": self.remittance,
            "payer_claim_number": self.payer_claim_number,
            "charge": str(self.charge),
            "paid": str(self.paid),
        }


def _stored(row: ClaimFile) -> StoredFile:
    return StoredFile(
        id=row.id,
        filename=row.filename,
        raw=row.raw,
        status=row.status,
        interchange_control_number=row.interchange_control_number,
        group_control_number=row.group_control_number,
        transaction_control_number=row.transaction_control_number,
        clearinghouse_id=row.clearinghouse_id,
        error=row.error,
    )


def _inbound(row: ClearinghouseInbound, new: bool) -> StoredInbound:
    return StoredInbound(
        row.id,
        row.clearinghouse_id,
        row.name,
        row.transaction_set,
        row.raw,
        row.status,
        row.detail,
        new,
    )


class ClaimsStore:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        remittances: RemittanceStore | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.remittances = remittances or RemittanceStore(sessions, clock=clock)

    # -- outbound --

    def already_recorded(self, patient_control_numbers: Sequence[str]) -> list[str]:
        with self.sessions() as session:
            return sorted(
                session.scalars(
                    select(Claim.patient_control_number).where(
                        Claim.patient_control_number.in_(list(patient_control_numbers))
                    )
                )
            )

    def record_file(
        self,
        *,
        filename: str,
        raw: bytes,
        interchange: str,
        group: str,
        transaction: str,
        claims: Sequence[ClaimToRecord],
    ) -> int:
        """Store the file and its claims before anything is sent; the file id. If a claim cannot
        be recorded (already submitted), nothing of the file is kept."""
        now = self.clock()
        with self.sessions.begin() as session:
            row = ClaimFile(
                created_at=now,
                filename=filename[-255:],
                sha256=hashlib.sha256(raw).hexdigest(),
                raw=raw,
                interchange_control_number=interchange,
                group_control_number=group,
                transaction_control_number=transaction,
                claims=len(claims),
                status="stored",
            )
            session.add(row)
            session.flush()
            file_id = row.id
        claim_ids: list[int] = []
        try:
            for c in claims:
                claim_ids.append(
                    self.remittances.record_submitted_claim(
                        patient_control_number=c.patient_control_number,
                        payer_id=c.payer_id,
                        total_charge=c.total_charge,
                        lines=c.lines,
                        patient_ref=c.patient_ref,
                    )
                )
            with self.sessions.begin() as session:
                for claim_id in claim_ids:
                    session.add(
                        ClaimSubmission(
                            claim_id=claim_id,
                            claim_file_id=file_id,
                            ack_status="pending",
                            clearinghouse_status="pending",
                            status_codes="",
                            updated_at=now,
                        )
                    )
        except Exception:
            self._forget(file_id, claim_ids)
            raise
        log.info(
            "claim file stored",
            extra={"claim_file_id": file_id, "isa13": interchange, "claims": len(claims)},
        )
        return file_id

    def _forget(self, file_id: int, claim_ids: Sequence[int]) -> None:
        with self.sessions.begin() as session:
            for sub in session.scalars(
                select(ClaimSubmission).where(ClaimSubmission.claim_file_id == file_id)
            ):
                session.delete(sub)
            session.flush()
            for claim_id in claim_ids:
                for line in session.scalars(
                    select(ClaimLine).where(ClaimLine.claim_id == claim_id)
                ):
                    session.delete(line)
                session.flush()
                claim = session.get(Claim, claim_id)
                if claim is not None:
                    session.delete(claim)
            session.flush()
            row = session.get(ClaimFile, file_id)
            if row is not None:
                session.delete(row)

    def claim_file(self, file_id: int) -> StoredFile | None:
        with self.sessions() as session:
            row = session.get(ClaimFile, file_id)
            return None if row is None else _stored(row)

    def files_to_send(self) -> list[StoredFile]:
        with self.sessions() as session:
            rows = session.scalars(
                select(ClaimFile)
                .where(ClaimFile.status.in_(("stored", "send_failed")))
                .order_by(ClaimFile.id)
            )
            return [_stored(r) for r in rows]

    def mark_sent(self, file_id: int, clearinghouse_id: str) -> None:
        with self.sessions.begin() as session:
            row = session.get(ClaimFile, file_id)
            assert row is not None
            row.status = "sent"
            row.clearinghouse_id = clearinghouse_id[:80]
            row.sent_at = self.clock()
            row.error = None

    def mark_send_failed(self, file_id: int, error: str) -> None:
        with self.sessions.begin() as session:
            row = session.get(ClaimFile, file_id)
            assert row is not None
            row.status = "send_failed"
            row.error = error

    # -- acknowledgments --

    def apply_999(self, group: str, transaction: str, accepted: bool, codes: str) -> int | None:
        """The 999 answer for the claim file with GS06 `group` and ST02 `transaction`: the file
        id, or None when no sent file has these numbers."""
        now = self.clock()
        with self.sessions.begin() as session:
            row = session.scalars(
                select(ClaimFile)
                .where(
                    ClaimFile.group_control_number == group,
                    ClaimFile.transaction_control_number == transaction,
                    ClaimFile.status.in_(("sent", "accepted", "rejected")),
                )
                .order_by(ClaimFile.id.desc())
            ).first()
            if row is None:
                return None
            row.status = "accepted" if accepted else "rejected"
            row.error = None if accepted else f"999 rejected: {codes}"[:2000]
            for sub in session.scalars(
                select(ClaimSubmission).where(ClaimSubmission.claim_file_id == row.id)
            ):
                sub.ack_status = "accepted" if accepted else "rejected"
                sub.updated_at = now
            return row.id

    def apply_277ca(
        self,
        patient_control_number: str,
        accepted: bool,
        codes: str,
        payer_claim_number: str | None,
    ) -> bool:
        """The 277CA answer for one claim; False when it is not a claim of ours."""
        now = self.clock()
        with self.sessions.begin() as session:
            found = session.execute(
                select(ClaimSubmission, Claim)
                .join(Claim, Claim.id == ClaimSubmission.claim_id)
                .where(Claim.patient_control_number == patient_control_number)
            ).first()
            if found is None:
                return False
            sub, claim = found
            sub.clearinghouse_status = "accepted" if accepted else "rejected"
            sub.status_codes = codes[:200]
            sub.updated_at = now
            if payer_claim_number and not claim.payer_claim_number:
                claim.payer_claim_number = payer_claim_number
            if not accepted and claim.status == "submitted":
                claim.status = "rejected"
                claim.updated_at = now
            return True

    # -- inbound --

    def store_inbound(
        self, clearinghouse_id: str, name: str, transaction_set: str, raw: bytes
    ) -> StoredInbound:
        """Store the file raw and commit; a file seen before (same clearinghouse id or same
        bytes) is returned as it was stored, with `new` False."""
        digest = hashlib.sha256(raw).hexdigest()
        try:
            with self.sessions.begin() as session:
                row = ClearinghouseInbound(
                    clearinghouse_id=clearinghouse_id[:80],
                    sha256=digest,
                    name=name[-255:],
                    transaction_set=transaction_set[:3],
                    raw=raw,
                    received_at=self.clock(),
                    status="received",
                )
                session.add(row)
                session.flush()
                stored = _inbound(row, True)
        except IntegrityError:
            with self.sessions() as session:
                existing = session.scalars(
                    select(ClearinghouseInbound).where(
                        or_(
                            ClearinghouseInbound.clearinghouse_id == clearinghouse_id[:80],
                            ClearinghouseInbound.sha256 == digest,
                        )
                    )
                ).first()
                assert existing is not None
                return _inbound(existing, False)
        log.info(
            "clearinghouse file stored",
            extra={"inbound_id": stored.id, "sha256": digest[:16], "st01": transaction_set},
        )
        return stored

    def finish_inbound(self, inbound_id: int, status: str, detail: str | None) -> None:
        with self.sessions.begin() as session:
            row = session.get(ClearinghouseInbound, inbound_id)
            assert row is not None
            row.status = status
            row.detail = detail
            row.processed_at = self.clock()

    def inbound(self, transaction_set: str | None = None) -> list[StoredInbound]:
        with self.sessions() as session:
            query = select(ClearinghouseInbound).order_by(ClearinghouseInbound.id)
            if transaction_set:
                query = query.where(ClearinghouseInbound.transaction_set == transaction_set)
            return [_inbound(r, False) for r in session.scalars(query)]

    # -- status --

    def statuses(self) -> list[ClaimStatusRow]:
        with self.sessions() as session:
            rows = session.execute(
                select(Claim, ClaimSubmission, ClaimFile)
                .join(ClaimSubmission, ClaimSubmission.claim_id == Claim.id)
                .join(ClaimFile, ClaimFile.id == ClaimSubmission.claim_file_id)
                .order_by(ClaimFile.id, Claim.id)
            ).all()
            found = [(c.patient_control_number, c.total_charge_cents, s, f) for c, s, f in rows]
        out: list[ClaimStatusRow] = []
        for pcn, charge_cents, sub, file in found:
            ledger = self.remittances.claim_ledger(pcn)
            posted = ledger is not None and ledger.postings > 0
            if posted and ledger is not None:
                status = ledger.status
            elif sub.ack_status == "rejected" or sub.clearinghouse_status == "rejected":
                status = "rejected"
            elif sub.clearinghouse_status == "accepted":
                status = "accepted"
            elif file.status in ("stored", "send_failed"):
                status = file.status
            else:
                status = "submitted"
            out.append(
                ClaimStatusRow(
                    patient_control_number=pcn,
                    status=status,
                    claim_file_id=file.id,
                    interchange_control_number=file.interchange_control_number,
                    ack=sub.ack_status,
                    clearinghouse=sub.clearinghouse_status,
                    status_codes=sub.status_codes,
                    remittance=ledger.status if posted and ledger is not None else "",
                    payer_claim_number=ledger.payer_claim_number if ledger else None,
                    charge=money(charge_cents),
                    paid=ledger.paid if ledger is not None else Decimal("0.00"),
                )
            )
        return out
