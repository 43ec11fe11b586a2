"""A denial item: one denied or reduced 835 line (or claim), or one denied prior authorization,
with why it was denied, what is at stake, by when it can be appealed and what to do next.

Shared by the worklist (`integration.denials.worklist`, `integration.store.denials`), the
appeal letters (`integration.appeals`) and the app. Money is `Decimal`, dates `date`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

#: what to do next with a denial
NEXT_STEPS: tuple[str, ...] = ("correct-resubmit", "appeal", "bill-patient", "write-off")
#: a denial item's states
STATUSES: tuple[str, ...] = (
    "open",
    "appealing",
    "resubmitted",
    "patient-billed",
    "written-off",
    "closed",
)
#: the worklists denials go to
QUEUES: tuple[str, ...] = ("biller", "coder", "coordinator")


@dataclass(frozen=True, slots=True)
class DenialAdjustment:
    """One CAS triplet of the denied line (or claim): group, CARC, amount, quantity, and our
    category of the CARC (None: not a denial reason, e.g. CO-45 contractual)."""

    group: str
    reason: str
    amount: Decimal
    quantity: str | None = None
    category: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "reason": self.reason,
            "amount": str(self.amount),
            "quantity": self.quantity,
            "category": self.category,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DenialAdjustment:
        return cls(
            group=str(data["group"]),
            reason=str(data["reason"]),
            amount=Decimal(str(data["amount"])),
            quantity=data.get("quantity"),
            category=data.get("category"),
        )


@dataclass(frozen=True, slots=True)
class DenialItem:
    """`origin` says where the denial was read: for an 835, the file id, TRN trace number, CLP01,
    the SVC procedure and the CAS group/reason ("835 file 3 · TRN 12345 · CLP PCN1 · SVC 11104
    · CAS CO-50"); for a PA denial, the case id and the payer's reference. It is the source of a
    letter's sentences about the denial. No names, birth dates or member ids anywhere here."""

    id: int | None
    source: str  # "835" | "pa"
    payer_id: str
    payer_name: str
    category: str  # our root-cause category (mappings/denials/carc-categories.yaml)
    group_code: str
    reason_code: str
    rarcs: tuple[str, ...]
    adjustments: tuple[DenialAdjustment, ...]
    amount: Decimal  # at stake
    next_step: str  # one of NEXT_STEPS
    next_step_reason: str
    deadline: date | None  # None: unknown (deadline_basis says why)
    deadline_basis: str
    status: str  # one of STATUSES
    queue: str  # one of QUEUES
    origin: str
    remit_date: date | None = None
    claim_id: int | None = None
    claim_posting_id: int | None = None
    line_posting_id: int | None = None
    pa_case_id: str | None = None
    patient_ref: str | None = None  # "Patient/<id>"
    patient_control_number: str | None = None
    payer_claim_number: str | None = None
    procedure: str | None = None
    modifiers: tuple[str, ...] = ()
    service_date: date | None = None
    assignee: str | None = None

    @property
    def reason(self) -> str:
        """ "CO-50"."""
        return f"{self.group_code}-{self.reason_code}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "payer": {"id": self.payer_id, "name": self.payer_name},
            "claim": {
                "id": self.claim_id,
                "patient_control_number": self.patient_control_number,
                "payer_claim_number": self.payer_claim_number,
            },
            "line": {
                "procedure": self.procedure,
                "modifiers": list(self.modifiers),
                "service_date": self.service_date.isoformat() if self.service_date else None,
                "line_posting_id": self.line_posting_id,
            },
            "pa_case_id": self.pa_case_id,
            "patient": self.patient_ref,
            "reason": self.reason,
            "group_code": self.group_code,
            "reason_code": self.reason_code,
            "rarcs": list(self.rarcs),
            "adjustments": [a.to_json() for a in self.adjustments],
            "category": self.category,
            "amount": str(self.amount),
            "remit_date": self.remit_date.isoformat() if self.remit_date else None,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "deadline_basis": self.deadline_basis,
            "next_step": self.next_step,
            "next_step_reason": self.next_step_reason,
            "status": self.status,
            "queue": self.queue,
            "assignee": self.assignee,
            "origin": self.origin,
        }
