"""Queries over the HL7 v2 inbox for the CLI, the app's interface screens and metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integration.store.models import Hl7Applied, Hl7Message

STATUSES = ("received", "processed", "duplicate", "error", "rejected")


def inbox_stats(session: Session) -> dict[str, int]:
    """Counts from the store: received (all rows) and each outcome; `applied` = distinct keys."""
    rows = session.execute(
        select(Hl7Message.status, func.count()).group_by(Hl7Message.status)
    ).all()
    by_status = {str(status): int(n) for status, n in rows}
    applied = session.scalar(select(func.count()).select_from(Hl7Applied)) or 0
    return {
        "received": sum(by_status.values()),
        "processed": by_status.get("processed", 0),
        "duplicates": by_status.get("duplicate", 0),
        "errors": by_status.get("error", 0),
        "rejected": by_status.get("rejected", 0),
        "pending": by_status.get("received", 0),
        "applied": int(applied),
    }


@dataclass(frozen=True, slots=True)
class InboxRow:
    """A message as an interface engineer sees it: no message content, only its envelope."""

    id: int
    received_at: datetime
    peer: str
    sender: str
    control_id: str
    message_type: str
    version: str
    status: str
    ack_code: str | None
    error_code: str | None
    error: str | None
    attempts: int
    size: int


def list_messages(
    session: Session, statuses: tuple[str, ...] = (), limit: int = 100, before_id: int | None = None
) -> list[InboxRow]:
    query = select(Hl7Message).order_by(Hl7Message.id.desc()).limit(limit)
    if statuses:
        query = query.where(Hl7Message.status.in_(statuses))
    if before_id is not None:
        query = query.where(Hl7Message.id < before_id)
    return [_row(m) for m in session.scalars(query)]


def get_message(session: Session, message_id: int) -> tuple[InboxRow, bytes] | None:
    row = session.get(Hl7Message, message_id)
    return (_row(row), row.raw) if row else None


def _row(m: Hl7Message) -> InboxRow:
    return InboxRow(
        id=m.id,
        received_at=m.received_at,
        peer=m.peer,
        sender=m.sender,
        control_id=m.control_id,
        message_type=m.message_type,
        version=m.version,
        status=m.status,
        ack_code=m.ack_code,
        error_code=m.error_code,
        error=m.error,
        attempts=m.attempts,
        size=len(m.raw),
    )
