"""Durable X12 control numbers: a `ControlNumberSource` backed by the `x12_control_number` table.

Each `next_*` call takes the next number of its kind (interchange ISA13, group GS06, transaction
ST02) for one sender id in its own database transaction, with a single
`UPDATE ... SET last_value = ... RETURNING last_value`: on PostgreSQL the UPDATE takes the row
lock a `SELECT ... FOR UPDATE` would (a second caller waits for the first to commit, then sees
its value); on SQLite a write statement takes the database's write lock for the rest of the
transaction (WAL; the engine's busy timeout makes a second writer wait). So two threads or
processes never get the same number, and the numbers survive a restart. A missing row is
created first (`INSERT ... ON CONFLICT DO NOTHING`, so two first callers don't collide).

Every kind wraps from 999,999,999 (ISA13 is nine digits; GS06 and ST02 are kept in the same
range) back to 1.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from sqlalchemy import case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from integration.store.models import X12ControlNumber

log = logging.getLogger(__name__)

MAX_CONTROL_NUMBER = 999_999_999
Kind = Literal["interchange", "group", "transaction"]
KINDS: tuple[Kind, ...] = ("interchange", "group", "transaction")


class StoredControlNumbers:
    """`integration.x12.envelope.ControlNumberSource` over the database, for one sender id."""

    def __init__(self, sessions: sessionmaker[Session], sender_id: str, *, start: int = 1) -> None:
        if not 1 <= start <= MAX_CONTROL_NUMBER:
            raise ValueError(f"start: expected 1..{MAX_CONTROL_NUMBER}, got {start}")
        if not sender_id or len(sender_id) > 15:
            raise ValueError(f"sender_id: expected 1..15 characters, got {len(sender_id)}")
        self.sessions = sessions
        self.sender_id = sender_id
        self.start = start

    def next_interchange(self) -> int:
        return self.take("interchange")

    def next_group(self) -> int:
        return self.take("group")

    def next_transaction(self) -> int:
        return self.take("transaction")

    def take(self, kind: Kind) -> int:
        """The next number of `kind`, committed before it is returned."""
        if kind not in KINDS:
            raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
        row = {"sender_id": self.sender_id, "kind": kind, "last_value": self.start - 1}
        with self.sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            create: Any
            if dialect == "postgresql":
                create = postgresql.insert(X12ControlNumber).values(**row).on_conflict_do_nothing()
            elif dialect == "sqlite":
                create = sqlite.insert(X12ControlNumber).values(**row).on_conflict_do_nothing()
            else:  # pragma: no cover - only SQLite and PostgreSQL are supported
                raise RuntimeError(f"control numbers: unsupported database {dialect!r}")
            session.execute(create)
            value = session.execute(
                update(X12ControlNumber)
                .where(
                    X12ControlNumber.sender_id == self.sender_id,
                    X12ControlNumber.kind == kind,
                )
                .values(
                    last_value=case(
                        (X12ControlNumber.last_value >= MAX_CONTROL_NUMBER, 1),
                        else_=X12ControlNumber.last_value + 1,
                    )
                )
                .returning(X12ControlNumber.last_value)
                .execution_options(synchronize_session=False)
            ).scalar_one()
        log.debug("control number taken", extra={"kind": kind, "control_number": value})
        return int(value)

    def last(self, kind: Kind) -> int | None:
        """The last number handed out (None: none yet); does not take one."""
        with self.sessions() as session:
            value = session.scalar(
                select(X12ControlNumber.last_value).where(
                    X12ControlNumber.sender_id == self.sender_id, X12ControlNumber.kind == kind
                )
            )
            return None if value is None else int(value)

    def set_last(self, kind: Kind, value: int) -> None:
        """Set the last number handed out (an operator aligning with a clearinghouse; tests)."""
        if not 0 <= value <= MAX_CONTROL_NUMBER:
            raise ValueError(f"value: expected 0..{MAX_CONTROL_NUMBER}, got {value}")
        self.take(kind)  # the row exists from here on
        with self.sessions.begin() as session:
            session.execute(
                update(X12ControlNumber)
                .where(X12ControlNumber.sender_id == self.sender_id, X12ControlNumber.kind == kind)
                .values(last_value=value)
                .execution_options(synchronize_session=False)
            )
