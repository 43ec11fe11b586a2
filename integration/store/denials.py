"""The denial worklist in the database (SQLite and PostgreSQL).

- `derive_from_posting(session, claim_posting_id, ...)` turns one posted 835 claim into denial
  items (`integration.denials.worklist.derive_items`) inside the caller's transaction: the
  remittance store calls it while posting the payment, so the items commit with the posting or
  not at all. Each item has a `dedupe_key` ("835-line:<line posting id>", "835-claim:<claim
  posting id>"): deriving twice adds nothing, and since a payment is posted once (TRN + payer
  id), the same 835 arriving twice makes one item per denied line.
- `sync_pa_denials()` adds an item for each PA case in state denied ("pa:<case id>"), once.
- `list`, `get`, `assign`, `set_status`, `events`: the worklist and its audit trail.
- `set_patient(id, "Patient/<id>")`: the FHIR patient of a denial whose claim named none (a
  claim we did not record, or recorded without its patient), told by the biller who knows it
  from the 835: stored on the item, on the other items of the same claim that name no patient,
  and on our claim, with an event on each item.
- `ids_from_remittance_file(file_id)`: the items derived from one 835 file's payments.

Logs and events carry ids and codes only: no names, member ids or patient control numbers.
"""

from __future__ import annotations

import builtins
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from integration.denials.categories import DenialCategories, default_categories
from integration.denials.deadlines import DeadlineRules, default_deadlines
from integration.denials.items import STATUSES, DenialAdjustment, DenialItem
from integration.denials.likelihood import DecidedAppeal, LikelihoodModel
from integration.denials.next_steps import NextStepRules, default_next_steps
from integration.denials.worklist import PostedClaim, PostedLine, derive_items
from integration.store.models import (
    Appeal,
    Claim,
    DenialEvent,
    PaCase,
    RemittanceAdjustment,
    RemittanceClaimPosting,
    RemittanceLinePosting,
    RemittancePayment,
)
from integration.store.models import DenialItem as DenialRow

log = logging.getLogger(__name__)
CENT = Decimal("0.01")
SORTS = ("amount", "deadline", "id")
#: "Patient/<id>", the id as FHIR R4 allows it (http://hl7.org/fhir/R4/datatypes.html#id)
PATIENT_REF = re.compile(r"^Patient/[A-Za-z0-9\-.]{1,64}$")


class PatientConflict(ValueError):
    """The denial or its claim already names another patient."""


def _cents(amount: Decimal) -> int:
    return int((amount / CENT).to_integral_value())


def _money(value: int) -> Decimal:
    return (Decimal(value) * CENT).quantize(CENT)


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True, slots=True)
class DenialEventView:
    at: datetime
    actor: str
    kind: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "actor": self.actor,
            "kind": self.kind,
            "detail": self.detail,
        }


def item_from_row(row: DenialRow) -> DenialItem:
    return DenialItem(
        id=row.id,
        source=row.source,
        payer_id=row.payer_id,
        payer_name=row.payer_name,
        category=row.category,
        group_code=row.group_code,
        reason_code=row.reason_code,
        rarcs=tuple(r for r in row.rarcs.split(",") if r),
        adjustments=tuple(
            DenialAdjustment.from_json(a) for a in json.loads(row.adjustments_json or "[]")
        ),
        amount=_money(row.amount_cents),
        next_step=row.next_step,
        next_step_reason=row.next_step_reason,
        deadline=_day(row.deadline),
        deadline_basis=row.deadline_basis,
        status=row.status,
        queue=row.queue,
        origin=row.origin,
        remit_date=_day(row.remit_date),
        claim_id=row.claim_id,
        claim_posting_id=row.claim_posting_id,
        line_posting_id=row.line_posting_id,
        pa_case_id=row.pa_case_id,
        patient_ref=row.patient_ref,
        patient_control_number=row.patient_control_number,
        payer_claim_number=row.payer_claim_number,
        procedure=row.procedure,
        modifiers=tuple(m for m in row.modifiers.split(",") if m),
        service_date=_day(row.service_date),
        assignee=row.assignee,
    )


def dedupe_key(item: DenialItem) -> str:
    if item.source == "pa":
        return f"pa:{item.pa_case_id}"
    if item.line_posting_id is not None:
        return f"835-line:{item.line_posting_id}"
    return f"835-claim:{item.claim_posting_id}"


class DenialStore:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        next_steps: NextStepRules | None = None,
        deadlines: DeadlineRules | None = None,
        categories: DenialCategories | None = None,
        plan_types: Mapping[str, str] | None = None,
    ) -> None:
        """`plan_types`: payer id -> a plan type the practice recorded (e.g. "erisa-group"),
        used by the deadline rules."""
        self.sessions = sessions
        self.clock = clock
        self.next_steps = next_steps or default_next_steps()
        self.deadlines = deadlines or default_deadlines()
        self.categories = categories or default_categories()
        self.plan_types = dict(plan_types or {})

    # -- deriving ----------------------------------------------------------------------------

    def add_items(self, session: Session, items: Sequence[DenialItem], actor: str) -> list[int]:
        """Insert the items not already present (by dedupe key); the new ids. No commit."""
        new: list[int] = []
        now = self.clock()
        for item in items:
            key = dedupe_key(item)
            if session.scalar(select(DenialRow.id).where(DenialRow.dedupe_key == key)):
                continue
            row = DenialRow(
                dedupe_key=key,
                source=item.source,
                claim_id=item.claim_id,
                claim_posting_id=item.claim_posting_id,
                line_posting_id=item.line_posting_id,
                pa_case_id=item.pa_case_id,
                payer_id=item.payer_id[:80],
                payer_name=item.payer_name[:60],
                patient_ref=item.patient_ref,
                patient_control_number=item.patient_control_number,
                payer_claim_number=item.payer_claim_number,
                procedure=item.procedure,
                modifiers=",".join(item.modifiers),
                service_date=_iso(item.service_date),
                group_code=item.group_code,
                reason_code=item.reason_code,
                rarcs=",".join(item.rarcs),
                adjustments_json=json.dumps([a.to_json() for a in item.adjustments]),
                category=item.category,
                amount_cents=_cents(item.amount),
                remit_date=_iso(item.remit_date),
                deadline=_iso(item.deadline),
                deadline_basis=item.deadline_basis,
                next_step=item.next_step,
                next_step_reason=item.next_step_reason,
                origin=item.origin,
                status=item.status,
                queue=item.queue,
                assignee=item.assignee,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            session.add(
                DenialEvent(
                    denial_id=row.id,
                    at=now,
                    actor=actor,
                    kind="created",
                    detail=f"{key} {item.reason} {item.category} -> {item.next_step}",
                )
            )
            new.append(row.id)
        return new

    def _authorization(
        self, session: Session, patient_ref: str | None, day: date | None, procedure: str | None
    ) -> tuple[bool | None, str | None]:
        """(True, number): an approved PA case of this patient for this procedure (its order's
        code) covers `day`; (False, None): the patient has PA cases here and none does; (None,
        None): we can't tell (no patient, no date, or no PA case of the patient here)."""
        if not patient_ref or not patient_ref.startswith("Patient/") or day is None:
            return None, None
        cases = session.scalars(
            select(PaCase).where(PaCase.patient_id == patient_ref.removeprefix("Patient/"))
        ).all()
        if not cases:
            return None, None
        for case in cases:
            if case.state != "approved" or not case.auth_number:
                continue
            if procedure and _order_code(json.loads(case.order_json or "{}")) != procedure:
                continue
            start, end = _day(case.approved_from), _day(case.approved_to)
            if (start is None or start <= day) and (end is None or day <= end):
                return True, case.auth_number
        return False, None

    def posted_claim(
        self,
        session: Session,
        claim_posting_id: int,
        *,
        filing_indicator: str = "",
        claim_remarks: Sequence[str] = (),
        line_remarks: Mapping[int, Sequence[str]] | None = None,
    ) -> PostedClaim:
        """The posted claim as the pure derivation takes it, read from the ledger rows.
        CLP06 and the LQ/MOA remark codes are not kept by the ledger: the poster passes them
        (`line_remarks` by SVC position from 1)."""
        posting = session.get(RemittanceClaimPosting, claim_posting_id)
        if posting is None:
            raise KeyError(f"remittance_claim_posting: no posting {claim_posting_id}")
        payment = session.get(RemittancePayment, posting.payment_id)
        assert payment is not None
        claim = session.get(Claim, posting.claim_id) if posting.claim_id else None
        adjustments = session.scalars(
            select(RemittanceAdjustment)
            .where(RemittanceAdjustment.claim_posting_id == claim_posting_id)
            .order_by(RemittanceAdjustment.id)
        ).all()
        lines = session.scalars(
            select(RemittanceLinePosting)
            .where(RemittanceLinePosting.claim_posting_id == claim_posting_id)
            .order_by(RemittanceLinePosting.id)
        ).all()

        def adj(row: RemittanceAdjustment) -> DenialAdjustment:
            return DenialAdjustment(
                group=row.group_code,
                reason=row.reason_code,
                amount=_money(row.amount_cents),
                quantity=row.quantity,
                category=row.category or self.categories.of_carc(row.reason_code),
            )

        remarks = line_remarks or {}
        return PostedClaim(
            file_id=payment.file_id,
            trace_number=payment.trace_number,
            payer_id=payment.payer_id,
            payer_name=payment.payer_name,
            remit_date=_day(payment.payment_date) or _day(payment.production_date),
            claim_posting_id=posting.id,
            claim_id=posting.claim_id,
            patient_ref=claim.patient_ref if claim else None,
            patient_control_number=posting.patient_control_number,
            payer_claim_number=posting.payer_claim_number,
            status_code=posting.status_code,
            filing_indicator=filing_indicator,
            charge=_money(posting.charge_cents),
            paid=_money(posting.paid_cents),
            adjustments=tuple(adj(a) for a in adjustments if a.line_posting_id is None),
            rarcs=tuple(claim_remarks),
            lines=tuple(
                PostedLine(
                    number=n,
                    line_posting_id=line.id,
                    procedure=line.procedure,
                    modifiers=tuple(m for m in line.modifiers.split(",") if m),
                    service_date=_day(line.service_date),
                    charge=_money(line.charge_cents),
                    paid=_money(line.paid_cents),
                    adjustments=tuple(adj(a) for a in adjustments if a.line_posting_id == line.id),
                    rarcs=tuple(remarks.get(n, ())),
                )
                for n, line in enumerate(lines, start=1)
            ),
        )

    def derive_from_posting(
        self,
        session: Session,
        claim_posting_id: int,
        *,
        filing_indicator: str = "",
        claim_remarks: Sequence[str] = (),
        line_remarks: Mapping[int, Sequence[str]] | None = None,
        actor: str = "system:835",
    ) -> list[int]:
        """Add the denial items of one posted claim in the caller's transaction; new ids."""
        posted = self.posted_claim(
            session,
            claim_posting_id,
            filing_indicator=filing_indicator,
            claim_remarks=claim_remarks,
            line_remarks=line_remarks,
        )
        per_line = {
            line.number: self._authorization(
                session, posted.patient_ref, line.service_date, line.procedure
            )
            for line in posted.lines
        }
        items = derive_items(
            posted,
            self.next_steps,
            self.deadlines,
            plan_type=self.plan_types.get(posted.payer_id),
            line_authorizations=per_line,
        )
        ids = self.add_items(session, items, actor)
        if ids:
            log.info(
                "denial items derived",
                extra={"claim_posting_id": claim_posting_id, "items": len(ids)},
            )
        return ids

    def close_reversed(
        self, session: Session, claim_posting_id: int, actor: str = "system:835"
    ) -> list[int]:
        """Close the still-open items of a claim posting the payer reversed (CLP02 22), in the
        caller's transaction; the corrected claim's posting derives its own items. The ids."""
        rows = session.scalars(
            select(DenialRow).where(
                DenialRow.claim_posting_id == claim_posting_id, DenialRow.status == "open"
            )
        ).all()
        now = self.clock()
        for row in rows:
            row.status = "closed"
            row.updated_at = now
            session.add(
                DenialEvent(
                    denial_id=row.id,
                    at=now,
                    actor=actor,
                    kind="status",
                    detail=f"status open -> closed: claim posting {claim_posting_id} reversed "
                    "by the payer (CLP02 22)",
                )
            )
        return [r.id for r in rows]

    def sync_pa_denials(self, actor: str = "system:pa") -> list[int]:
        """An item for each PA case in state denied that has none yet; the new ids."""
        with self.sessions.begin() as session:
            items = []
            for case in session.scalars(select(PaCase).where(PaCase.state == "denied")):
                items.append(self.pa_item(case))
            return self.add_items(session, items, actor)

    def pa_item(self, case: PaCase) -> DenialItem:
        order = json.loads(case.order_json or "{}")
        procedure = _order_code(order)
        decided = case.updated_at.date()
        deadline = self.deadlines.deadline(
            level=1,
            notice_date=decided,
            payer_id=case.payer_id,
            plan_type=self.plan_types.get(case.payer_id or ""),
        )
        step = self.next_steps.decide(
            category="medical-necessity", group="PA", reason="DENY", procedure=procedure
        )
        return DenialItem(
            id=None,
            source="pa",
            payer_id=case.payer_id or "unknown",
            payer_name=(case.payer_id or "unknown payer")[:60],
            category="medical-necessity",
            group_code="PA",
            reason_code="DENY",
            rarcs=(),
            adjustments=(),
            amount=Decimal("0.00"),  # a PA denial has no remitted amount yet
            next_step=step.next_step,
            next_step_reason=step.reason,
            deadline=deadline.due,
            deadline_basis=deadline.basis,
            status="open",
            queue=step.queue,
            origin=f"PA case {case.id} · payer reference {case.payer_reference or '-'}",
            remit_date=decided,
            pa_case_id=case.id,
            patient_ref=f"Patient/{case.patient_id}",
            procedure=procedure,
            service_date=_day(case.service_date),
        )

    # -- the worklist ------------------------------------------------------------------------

    def list(
        self,
        *,
        payer: str | None = None,
        category: str | None = None,
        status: str | None = None,
        queue: str | None = None,
        assignee: str | None = None,
        patient_ref: str | None = None,
        deadline_before: date | None = None,
        sort: str = "deadline",
    ) -> list[DenialItem]:
        """Items matching every filter given; `payer` matches the payer id or name. Sorted by
        amount (largest first), deadline (soonest first, unknown last) or id."""
        if sort not in SORTS:
            raise ValueError(f"sort: expected one of {', '.join(SORTS)}, got {sort!r}")
        query = select(DenialRow)
        if payer:
            query = query.where((DenialRow.payer_id == payer) | (DenialRow.payer_name == payer))
        for column, value in (
            (DenialRow.category, category),
            (DenialRow.status, status),
            (DenialRow.queue, queue),
            (DenialRow.assignee, assignee),
            (DenialRow.patient_ref, patient_ref),
        ):
            if value:
                query = query.where(column == value)
        if deadline_before is not None:
            query = query.where(DenialRow.deadline.is_not(None)).where(
                DenialRow.deadline <= deadline_before.isoformat()
            )
        with self.sessions() as session:
            items = [item_from_row(r) for r in session.scalars(query.order_by(DenialRow.id))]
        if sort == "amount":
            items.sort(key=lambda i: (-i.amount, i.id or 0))
        elif sort == "deadline":
            items.sort(key=lambda i: (i.deadline is None, i.deadline or date.max, i.id or 0))
        return items

    def get(self, denial_id: int) -> DenialItem | None:
        with self.sessions() as session:
            row = session.get(DenialRow, denial_id)
            return item_from_row(row) if row else None

    def _change(
        self, denial_id: int, actor: str, kind: str, detail: str, **values: Any
    ) -> DenialItem:
        with self.sessions.begin() as session:
            row = session.get(DenialRow, denial_id, with_for_update=True)
            if row is None:
                raise KeyError(f"denial: no denial item {denial_id}")
            now = self.clock()
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = now
            session.add(
                DenialEvent(denial_id=row.id, at=now, actor=actor, kind=kind, detail=detail)
            )
            session.flush()
            return item_from_row(row)

    def assign(self, denial_id: int, to: str | None, *, actor: str) -> DenialItem:
        """Assign the item to `to` (None: unassign); audited."""
        current = self.get(denial_id)
        if current is None:
            raise KeyError(f"denial: no denial item {denial_id}")
        detail = f"assignee {current.assignee or '-'} -> {to or '-'}"
        return self._change(denial_id, actor, "assigned", detail, assignee=to)

    def set_status(self, denial_id: int, status: str, *, reason: str, actor: str) -> DenialItem:
        """Move the item to `status` (one of STATUSES) with a reason; audited."""
        if status not in STATUSES:
            raise ValueError(f"status: expected one of {', '.join(STATUSES)}, got {status!r}")
        if not reason.strip():
            raise ValueError("reason: expected why the status changes, got nothing")
        current = self.get(denial_id)
        if current is None:
            raise KeyError(f"denial: no denial item {denial_id}")
        detail = f"status {current.status} -> {status}: {reason.strip()}"
        return self._change(denial_id, actor, "status", detail, status=status)

    def set_patient(
        self, denial_id: int, patient_ref: str, *, actor: str, replace: bool = False
    ) -> DenialItem:
        """Record the FHIR patient ("Patient/<id>") of a denial whose claim named none: on the
        item, on the other items of its claim (same claim, or same 835 claim posting) that
        name no patient (or, replacing, the old one), and on our claim; an event on each item
        changed.
        The same patient again changes nothing. Another patient already on the item or the
        claim raises PatientConflict unless `replace` (a correction, audited old -> new).
        KeyError for an unknown item, ValueError for a reference that is not "Patient/<id>"."""
        if not PATIENT_REF.match(patient_ref):
            raise ValueError(f"patient: expected 'Patient/<id>', got {patient_ref!r}")
        with self.sessions.begin() as session:
            row = session.get(DenialRow, denial_id, with_for_update=True)
            if row is None:
                raise KeyError(f"denial: no denial item {denial_id}")
            claim = session.get(Claim, row.claim_id, with_for_update=True) if row.claim_id else None
            for where, current in (
                (f"denial {denial_id}", row.patient_ref),
                (f"claim {row.claim_id}", claim.patient_ref if claim else None),
            ):
                if current and current != patient_ref and not replace:
                    raise PatientConflict(
                        f"{where}: patient: expected none (or {patient_ref}), got {current}; "
                        "use --replace to correct it"
                    )
            now = self.clock()
            siblings: builtins.list[DenialRow] = []
            if row.claim_id is not None or row.claim_posting_id is not None:
                # a correction (replace) moves the claim's items off the old patient too
                olds = {row.patient_ref, claim.patient_ref if claim else None} - {None}
                olds.discard(patient_ref)
                query = select(DenialRow).where(
                    DenialRow.id != row.id,
                    DenialRow.patient_ref.is_(None) | DenialRow.patient_ref.in_(sorted(olds)),
                )
                if row.claim_id is not None:
                    query = query.where(DenialRow.claim_id == row.claim_id)
                else:
                    query = query.where(DenialRow.claim_posting_id == row.claim_posting_id)
                siblings = list(session.scalars(query.order_by(DenialRow.id)))
            claim_changed = claim is not None and claim.patient_ref != patient_ref
            if claim is not None and claim_changed:
                claim.patient_ref = patient_ref
                claim.updated_at = now
            for item in [row, *siblings]:
                if item.patient_ref == patient_ref:
                    if item is row and claim_changed and claim is not None:
                        detail = f"claim {claim.id} patient -> {patient_ref}: told for this denial"
                        session.add(
                            DenialEvent(
                                denial_id=item.id,
                                at=now,
                                actor=actor,
                                kind="patient",
                                detail=detail,
                            )
                        )
                    continue
                how = (
                    "told for this denial"
                    if item is row
                    else f"told for denial {row.id} of the same claim"
                )
                detail = f"patient {item.patient_ref or '-'} -> {patient_ref}: {how}"
                if claim_changed and item is row and claim is not None:
                    detail += f"; claim {claim.id} too"
                item.patient_ref = patient_ref
                item.updated_at = now
                session.add(
                    DenialEvent(
                        denial_id=item.id, at=now, actor=actor, kind="patient", detail=detail
                    )
                )
            session.flush()
            log.info(
                "denial patient set",
                extra={
                    "denial_id": denial_id,
                    "claim_id": row.claim_id,
                    "siblings": len(siblings),
                    "claim_changed": claim_changed,
                },
            )
            return item_from_row(row)

    def ids_from_remittance_file(self, file_id: int) -> builtins.list[int]:
        """Ids of the denial items derived from the payments of 835 file `file_id`."""
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(DenialRow.id)
                    .join(
                        RemittanceClaimPosting,
                        RemittanceClaimPosting.id == DenialRow.claim_posting_id,
                    )
                    .join(
                        RemittancePayment, RemittancePayment.id == RemittanceClaimPosting.payment_id
                    )
                    .where(RemittancePayment.file_id == file_id)
                    .order_by(DenialRow.id)
                )
            )

    def decided_appeals(self, level: int = 1) -> builtins.list[DecidedAppeal]:
        """Every appeal at `level` with an outcome, with its denial's payer and category."""
        with self.sessions() as session:
            rows = session.execute(
                select(DenialRow.payer_id, DenialRow.category, Appeal.outcome, Appeal.decided_on)
                .join(Appeal, Appeal.denial_id == DenialRow.id)
                .where(Appeal.outcome.is_not(None), Appeal.level == level)
                .order_by(Appeal.decided_on, Appeal.id)
            ).all()
        return [
            DecidedAppeal(payer, category, str(outcome), _day(decided) or date.min)
            for payer, category, outcome, decided in rows
        ]

    def likelihood_model(self, *, min_decided: int = 20, strength: float = 5.0) -> LikelihoodModel:
        """The overturn-likelihood model fitted on this practice's decided first-level appeals."""
        return LikelihoodModel.fit(
            self.decided_appeals(), min_decided=min_decided, strength=strength
        )

    def events(self, denial_id: int) -> builtins.list[DenialEventView]:
        with self.sessions() as session:
            rows = session.scalars(
                select(DenialEvent)
                .where(DenialEvent.denial_id == denial_id)
                .order_by(DenialEvent.id)
            ).all()
            return [DenialEventView(r.at, r.actor, r.kind, r.detail) for r in rows]


def _order_code(order: Mapping[str, Any]) -> str | None:
    """The first code of a FHIR order (ServiceRequest.code / MedicationRequest medication)."""
    for key in ("code", "medicationCodeableConcept"):
        concept = order.get(key)
        if isinstance(concept, dict):
            for coding in concept.get("coding") or []:
                if isinstance(coding, dict) and coding.get("code"):
                    return str(coding["code"])[:48]
    return None
