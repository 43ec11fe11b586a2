"""Store, then process, then acknowledge: the durable, exactly-once path for HL7 v2 messages.

`Ingest.handle(items)` takes the payloads that arrived (from one or many connections):

1. reads and maps each message to FHIR, with no database (a mapping error is kept, not raised);
2. in ONE database transaction (group commit), with one statement per table: reads the
   group's exactly-once keys (sender + MSH-10) from `hl7_applied`; decides each message in
   arrival order (a key already applied with the same content is a duplicate, AA; with other
   content AE 205; a mapping error AE, or AR for what is unsupported or unreadable); inserts
   every message's raw bytes and outcome into `hl7_message`; writes the resources of the
   applied ones and their keys;
3. commits; only then are the ACKs returned for sending.

If the database refuses the group (a constraint, a value it won't take), the group is redone
one message per savepoint: the others are applied, the refused one is stored with AE 207 for
replay. If the process dies before the commit, nothing was acknowledged and the sender
resends; if it dies after, the resend finds the key and gets AA again without a second apply.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from integration.hl7v2.ack import AckCode, AckRequest, batch_ack, build_ack, wanted
from integration.hl7v2.errors import ErrorCode, Hl7Error, Location
from integration.hl7v2.message import (
    DEFAULT_ENCODING,
    Encoding,
    Header,
    Message,
    Segment,
    header_fields,
    parse_message,
    split_batch,
    split_lines,
)
from integration.mapping.hl7v2 import Hl7Maps, MappedResource, MappingOptions, map_message
from integration.store.fhir_store import Driver, ResourceWriter
from integration.store.models import Hl7Applied, Hl7Message, table_of

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# MSH-18 values (HL7 table 0211) -> Python codecs.
_CHARSETS = {
    "": "utf-8",
    "ASCII": "ascii",
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "8859/1": "latin-1",
    "8859/15": "iso8859-15",
    "ISO IR100": "latin-1",
    "UNICODE": "utf-8",
}
REJECTED_CODES = frozenset(
    {
        ErrorCode.UNSUPPORTED_MESSAGE_TYPE,
        ErrorCode.UNSUPPORTED_EVENT,
        ErrorCode.UNSUPPORTED_PROCESSING_ID,
        ErrorCode.UNSUPPORTED_VERSION,
        ErrorCode.SEGMENT_SEQUENCE,
    }
)


def decode(raw: bytes) -> tuple[str, str]:
    """Text and the charset used: MSH-18 when it names one, UTF-8, else Latin-1 (never fails)."""
    head = raw[:1024].decode("latin-1")
    declared = ""
    if head.startswith(("MSH", "FHS", "BHS")) and len(head) > 4:
        first_line = head.replace("\n", "\r").split("\r", 1)[0]
        if first_line.startswith("MSH"):
            fields = first_line.split(first_line[3])
            declared = (
                fields[17].split(first_line[4:5] or "^")[0].strip().upper()
                if len(fields) > 17
                else ""
            )
    codec = _CHARSETS.get(declared)
    if codec:
        try:
            return raw.decode(codec), codec
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


@dataclass(frozen=True, slots=True)
class Inbound:
    payload: bytes
    peer: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class MessageOutcome:
    message_id: int | None
    control_id: str
    status: str  # processed | duplicate | error | rejected
    code: AckCode
    error: Hl7Error | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """What to send back for one payload: zero, one or two ACK payloads (enhanced mode)."""

    payloads: tuple[bytes, ...]
    outcomes: tuple[MessageOutcome, ...]


class ControlIds:
    """ACK control ids: a prefix unique to this process start, then a counter."""

    def __init__(self, prefix: str | None = None) -> None:
        self.prefix = prefix if prefix is not None else f"D{int(time.time() * 1000):x}"
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"{self.prefix}-{self.n}"


@dataclass(slots=True)
class _Entry:
    """One message of a payload, read and mapped before the transaction starts."""

    raw: bytes
    received_at: datetime
    peer: str
    charset: str
    message: Message | None
    header: Header | None
    error: Hl7Error | None  # unreadable: AR
    content_key: str = ""
    resources: list[MappedResource] | None = None
    map_error: Hl7Error | None = None
    message_id: int | None = None  # a stored row (replay)
    attempts: int = 0


@dataclass(slots=True)
class _Pending:
    item: Inbound
    charset: str
    encoding: Encoding
    batch_header: Segment | None
    entries: list[_Entry]


@dataclass(slots=True)
class _Applied:
    """An exactly-once key: stored, or applied earlier in this group (message_id not known yet)."""

    message_id: int | None
    sha256: str


_MESSAGE = table_of(Hl7Message)
_APPLIED = table_of(Hl7Applied)
# Built once: a statement made per group costs more than running it (SQLAlchemy's cache key).
_INSERT_MESSAGE = insert(_MESSAGE).returning(_MESSAGE.c.id, sort_by_parameter_order=True)
_UPDATE_MESSAGE = update(_MESSAGE).where(_MESSAGE.c.id == bindparam("b_id"))
_INSERT_APPLIED = insert(_APPLIED)
# The same, on the DB-API cursor (`Driver`): columns in the order the rows are built.
_MESSAGE_COLUMNS = (
    "received_at",
    "peer",
    "sender",
    "control_id",
    "message_type",
    "version",
    "raw",
    "charset",
    "sha256",
    "status",
    "ack_code",
    "error_code",
    "error",
    "attempts",
    "processed_at",
)
_APPLIED_COLUMNS = ("sender", "control_id", "message_id", "sha256", "applied_at")
_APPLIED_KEYS = select(
    _APPLIED.c.sender, _APPLIED.c.control_id, _APPLIED.c.message_id, _APPLIED.c.sha256
).where(
    _APPLIED.c.sender.in_(bindparam("senders", expanding=True)),
    _APPLIED.c.control_id.in_(bindparam("control_ids", expanding=True)),
)


class Ingest:
    """The message pipeline behind the listener, `dermrcm hl7 replay` and the tests."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        maps: Hl7Maps,
        options: MappingOptions | None = None,
        clock: Clock | None = None,
        control_ids: Callable[[], str] | None = None,
    ) -> None:
        self.sessions = sessions
        self.maps = maps
        self.options = options or MappingOptions()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.control_ids = control_ids or ControlIds()

    # ---------------------------------------------------------------- entry points

    def handle(self, items: Sequence[Inbound]) -> list[Reply]:
        """Store and process a group of payloads in one transaction; the replies to send."""
        pending = [self._split(item) for item in items]
        entries = [entry for p in pending for entry in p.entries]
        for entry in entries:
            self._map(entry)
        outcomes = iter(self._store(entries))
        now = self.clock()
        return [self._reply(p, [next(outcomes) for _ in p.entries], now) for p in pending]

    def oversized(self, size: int, peer: str) -> bytes:
        """AR for a frame larger than the limit (nothing of it could be stored)."""
        error = Hl7Error(
            Location(),
            f"a message of at most the configured frame size (received {size} bytes)",
            None,
            ErrorCode.VALUE_TOO_LONG,
        )
        log.warning("hl7 frame too large peer=%s size=%d", peer, size)
        ack = build_ack(
            AckRequest(None),
            AckCode.AR,
            control_id=self.control_ids(),
            now=self.clock(),
            error=error,
        )
        return ack.encode("utf-8")

    def replay(self, message_ids: Sequence[int]) -> list[MessageOutcome]:
        """Re-process stored messages (idempotent: already-applied keys are duplicates)."""
        with self.sessions() as session:
            rows = session.execute(
                select(
                    _MESSAGE.c.id,
                    _MESSAGE.c.raw,
                    _MESSAGE.c.received_at,
                    _MESSAGE.c.peer,
                    _MESSAGE.c.attempts,
                ).where(_MESSAGE.c.id.in_(message_ids))
            ).all()
        by_id = {row.id: row for row in rows}
        entries: list[_Entry] = []
        for message_id in message_ids:
            row = by_id.get(message_id)
            if row is None:
                continue
            text, charset = decode(row.raw)
            try:
                message: Message | None = parse_message(text)
                header, error = message.header if message else None, None
            except Hl7Error as exc:
                message, header, error = None, _header_guess(text), exc
            entry = _Entry(row.raw, row.received_at, row.peer, charset, message, header, error)
            entry.message_id, entry.attempts = row.id, row.attempts
            self._map(entry)
            entries.append(entry)
        return self._store(entries)

    # ---------------------------------------------------------------- before the transaction

    def _split(self, item: Inbound) -> _Pending:
        text, charset = decode(item.payload)

        def entry(
            raw: bytes, message: Message | None, header: Header | None, err: Hl7Error | None
        ) -> _Entry:
            return _Entry(raw, item.received_at, item.peer, charset, message, header, err)

        try:
            batch = split_batch(text)
        except Hl7Error as exc:
            return _Pending(
                item, charset, DEFAULT_ENCODING, None, [entry(item.payload, None, None, exc)]
            )
        entries: list[_Entry] = []
        encoding = DEFAULT_ENCODING
        # each message of a batch, or of several sent back to back in one frame, is stored
        # as its own text: a replay must find that message, not the payload's first one
        whole = batch.header is None and len(batch.messages) == 1
        for part in batch.messages:
            raw = item.payload if whole else part.encode(charset, errors="replace")
            try:
                message = parse_message(part)
                encoding = message.encoding
                entries.append(entry(raw, message, message.header, None))
            except Hl7Error as exc:
                entries.append(entry(raw, None, _header_guess(part), exc))
        return _Pending(item, charset, encoding, batch.header, entries)

    def _map(self, entry: _Entry) -> None:
        """Map a readable message to FHIR (pure: no database); a failure is kept for later."""
        if entry.message is None or entry.header is None or entry.error is not None:
            return
        entry.content_key = content_key(entry.message)
        try:
            entry.resources = map_message(entry.message, self.maps, self.options)
        except Hl7Error as exc:
            entry.map_error = exc
        except Exception as exc:  # a bug in a map or a transform: AE, kept for replay
            log.error(
                "hl7 mapping failed control_id=%s error=%s",
                entry.header.control_id,
                type(exc).__name__,
            )
            entry.map_error = _internal(type(exc).__name__)

    # ---------------------------------------------------------------- the transaction

    def _store(self, entries: list[_Entry]) -> list[MessageOutcome]:
        """Store and apply `entries` in one transaction, one statement per table.

        If the database refuses the group (a value it won't take, a constraint), the group is
        redone one message per savepoint, so one bad message can't hold back the others.
        """
        if not entries:
            return []
        stored_ids = [e.message_id for e in entries]  # set for replays; new rows get theirs
        try:
            with self._transaction() as connection:
                outcomes = self._write(connection, entries, commit=True)
        except DBAPIError as exc:
            if len(entries) == 1:
                raise
            log.warning(
                "hl7 group of %d refused by the database (%s); storing one by one",
                len(entries),
                type(exc).__name__,
            )
            outcomes = []
            with self._transaction() as connection:
                for entry, stored_id in zip(entries, stored_ids, strict=True):
                    entry.message_id = stored_id  # the refused group's INSERT gave it an id
                    try:
                        with connection.begin_nested():
                            outcomes.extend(self._write(connection, [entry]))
                        continue
                    except DBAPIError as one:
                        problem = type(one).__name__
                    log.error(
                        "hl7 message refused by the database control_id=%s error=%s",
                        entry.header.control_id if entry.header else "",
                        problem,
                    )
                    entry.message_id = stored_id  # and so did the refused savepoint
                    entry.resources, entry.map_error = None, _internal(problem)
                    outcomes.extend(self._write(connection, [entry]))
        _log_group(outcomes)
        return outcomes

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A connection in a transaction, committed on leaving (rolled back on an exception).

        On the engine the sessions are bound to: a Session per group only to reach it cost
        about 30 us more (the ORM is not used here)."""
        bind = self.sessions.kw.get("bind")
        if isinstance(bind, Engine):
            with bind.begin() as connection:
                yield connection
            return
        with self.sessions() as session, session.begin():
            yield session.connection()

    def _write(
        self, connection: Connection, entries: list[_Entry], *, commit: bool = False
    ) -> list[MessageOutcome]:
        """Decide and store `entries` on `connection`; `commit`: the caller commits right after
        (on psycopg the COMMIT then goes with the writes: see `Driver.commit`).

        On psycopg the whole of it runs in pipeline mode, in two round trips: the reads (the
        BEGIN, the exactly-once keys, the resources' current rows, the new messages' ids),
        then every write with the COMMIT (at 8 messages a group it was six)."""
        driver = Driver.of(connection)
        if driver is None:
            return self._write_on(connection, None, entries)
        with driver.pipelined():
            outcomes = self._write_on(connection, driver, entries)
            if commit:
                driver.commit()
        return outcomes

    def _write_on(
        self, connection: Connection, driver: Driver | None, entries: list[_Entry]
    ) -> list[MessageOutcome]:
        keys_sent = self._send_applied_keys(connection, driver, entries)
        writer = ResourceWriter(connection, driver)
        # every mapped message's resources, before the decisions (a duplicate's are read in
        # vain), so that the reads travel together
        take_current = writer.request(
            (r.type, r.id)
            for e in entries
            if e.resources is not None and e.error is None and e.header is not None
            for r in e.resources
        )
        new = [e for e in entries if e.message_id is None]
        new_ids = driver.send_new_ids(_MESSAGE, len(new)) if driver is not None and new else None
        applied = keys_sent()
        decisions: list[_Decision] = []
        for entry in entries:
            decision = _decide(entry, applied)
            decisions.append(decision)
            if decision.apply and entry.header is not None:
                applied[_key(entry.header)] = _Applied(None, entry.content_key)
        now = self.clock()
        stored = [(e, d) for e, d in zip(entries, decisions, strict=True) if e.message_id]
        fresh = [(e, d) for e, d in zip(entries, decisions, strict=True) if e.message_id is None]
        if fresh and driver is not None:
            stamp = driver.timestamp
            processed_at = stamp(now)
            received: dict[datetime, Any] = {}
            rows = []
            for e, d in fresh:
                at = received.get(e.received_at)
                if at is None:
                    at = received[e.received_at] = stamp(e.received_at)
                rows.append((at, *_envelope_values(e), *_status_values(e, d), processed_at))
            if new_ids is not None:
                ids = new_ids()
                driver.executemany(
                    driver.insert_sql(_MESSAGE, ("id", *_MESSAGE_COLUMNS)),
                    [(message_id, *row) for message_id, row in zip(ids, rows, strict=True)],
                )
            else:
                ids = driver.insert_returning_ids(
                    driver.insert_sql(_MESSAGE, _MESSAGE_COLUMNS), rows
                )
            for (entry, _d), message_id in zip(fresh, ids, strict=True):
                entry.message_id = message_id
        elif fresh:
            inserted = connection.execute(
                _INSERT_MESSAGE,
                [{**_envelope(e), **_status(e, d, now)} for e, d in fresh],
            ).scalars()
            for (entry, _d), message_id in zip(fresh, inserted, strict=True):
                entry.message_id = message_id
        if stored:
            connection.execute(
                _UPDATE_MESSAGE,
                [{"b_id": e.message_id, **_status(e, d, now)} for e, d in stored],
            )
        take_current()
        to_apply = [
            (e, e.header, e.resources)
            for e, d in zip(entries, decisions, strict=True)
            if d.apply and e.header is not None and e.resources is not None
        ]
        keys: list[tuple[tuple[str, str], int | None, str]] = []
        for entry, header, resources in to_apply:
            source = f"urn:derm-rcm:hl7v2:message:{entry.message_id}"
            for resource in resources:
                writer.write(
                    resource.body, resource.mode, now, entry.message_id, source, resource.keep
                )
            keys.append((_key(header), entry.message_id, entry.content_key))
        writer.flush()
        if keys and driver is not None:
            applied_at = driver.timestamp(now)
            driver.executemany(
                driver.insert_sql(_APPLIED, _APPLIED_COLUMNS),
                [(*k, message_id, sha256, applied_at) for k, message_id, sha256 in keys],
            )
        elif keys:
            connection.execute(
                _INSERT_APPLIED,
                [
                    {
                        "sender": sender,
                        "control_id": control_id,
                        "message_id": message_id,
                        "sha256": sha256,
                        "applied_at": now,
                    }
                    for (sender, control_id), message_id, sha256 in keys
                ],
            )
        return [
            MessageOutcome(
                e.message_id,
                e.header.control_id[:199] if e.header else "",
                d.status,
                d.code,
                d.error,
            )
            for e, d in zip(entries, decisions, strict=True)
        ]

    @staticmethod
    def _send_applied_keys(
        connection: Connection, driver: Driver | None, entries: Sequence[_Entry]
    ) -> Callable[[], dict[tuple[str, str], _Applied]]:
        """The stored exactly-once keys of these messages, in one query, sent now and read
        when the returned function is called (see `Driver.send_query`)."""
        wanted = {_key(e.header) for e in entries if e.header is not None and e.error is None}
        if not wanted:
            return dict
        rows: Callable[[], Iterable[Any]]
        if driver is not None:
            rows = driver.send_rows_by_keys(
                "hl7_applied",
                ("sender", "control_id"),
                ("sender", "control_id", "message_id", "sha256"),
                sorted(wanted),
            )
        else:
            senders = sorted({k[0] for k in wanted})
            control_ids = sorted({k[1] for k in wanted})
            result = connection.execute(
                _APPLIED_KEYS, {"senders": senders, "control_ids": control_ids}
            ).all()
            rows = lambda: result  # noqa: E731

        def take() -> dict[tuple[str, str], _Applied]:
            return {
                (sender, control_id): _Applied(message_id, sha256)
                for sender, control_id, message_id, sha256 in rows()
                if (sender, control_id) in wanted
            }

        return take

    def _reply(self, pending: _Pending, outcomes: Sequence[MessageOutcome], now: datetime) -> Reply:
        acks: list[str] = []
        for entry, outcome in zip(pending.entries, outcomes, strict=True):
            header = entry.header
            request = AckRequest(
                header, entry.message.encoding if entry.message else pending.encoding
            )

            def ack(
                code: AckCode,
                error: Hl7Error | None,
                request: AckRequest = request,
                message: Message | None = entry.message,
            ) -> None:
                acks.append(
                    build_ack(
                        request,
                        code,
                        control_id=self.control_ids(),
                        now=now,
                        error=error,
                        occurrence=_occurrence(message, error),
                    )
                )

            if header is None or not header.enhanced_mode:
                ack(outcome.code, outcome.error)
                continue
            # Enhanced mode: the accept ACK (stored?) then the application ACK, each as asked.
            stored = outcome.status != "rejected"
            if wanted(header.accept_ack_type, stored):
                ack(AckCode.CA if stored else AckCode.CR, None if stored else outcome.error)
            if wanted(header.application_ack_type, outcome.code == AckCode.AA):
                ack(outcome.code, outcome.error)
        if pending.batch_header is not None:
            payloads: tuple[bytes, ...] = (
                batch_ack(
                    acks, pending.batch_header, control_id=self.control_ids(), now=now
                ).encode(pending.charset, errors="replace"),
            )
        else:
            payloads = tuple(a.encode(pending.charset, errors="replace") for a in acks)
        return Reply(payloads, tuple(outcomes))


@dataclass(frozen=True, slots=True)
class _Decision:
    status: str  # processed | duplicate | error | rejected
    code: AckCode
    error: Hl7Error | None = None
    apply: bool = False  # write its resources and its exactly-once key now


def _log_group(outcomes: Sequence[MessageOutcome]) -> None:
    """One line per transaction for the messages acknowledged AA (their ids: the inbox has each
    one's detail), and one line per message that was not, with its error and where (a line per
    message was about 3% of the listener's CPU at its full rate)."""
    accepted: dict[str, int] = {}
    ids: list[int] = []
    for outcome in outcomes:
        if outcome.code == AckCode.AA:
            accepted[outcome.status] = accepted.get(outcome.status, 0) + 1
            if outcome.message_id is not None:
                ids.append(outcome.message_id)
            continue
        log.warning(
            "hl7 message id=%s control_id=%s status=%s ack=%s%s",
            outcome.message_id,
            outcome.control_id,
            outcome.status,
            outcome.code.value,
            f" error={outcome.error.code.value} at={outcome.error.where}" if outcome.error else "",
        )
    if accepted:
        log.info(
            "hl7 stored %s ack=AA ids=%s",
            " ".join(f"{status}={n}" for status, n in sorted(accepted.items())),
            _id_ranges(ids),
        )


def _id_ranges(ids: Sequence[int]) -> str:
    """`101-108,110`: message ids, consecutive ones as a range."""
    out: list[str] = []
    for n in sorted(ids):
        if out and out[-1].rpartition("-")[2].isdigit():
            last = int(out[-1].rpartition("-")[2])
            if n == last + 1:
                first = out[-1].partition("-")[0]
                out[-1] = f"{first}-{n}"
                continue
        out.append(str(n))
    return ",".join(out)


def _key(header: Header) -> tuple[str, str]:
    return header.sender[:455], header.control_id[:199]


def _decide(entry: _Entry, applied: Mapping[tuple[str, str], _Applied]) -> _Decision:
    """What becomes of a message, given the keys already applied (stored or earlier in the group)."""
    if entry.message is None or entry.header is None or entry.error is not None:
        return _Decision(
            "rejected", AckCode.AR, entry.error or Hl7Error(Location(), "a readable message", None)
        )
    header = entry.header
    found = applied.get(_key(header))
    if found is not None:
        if found.message_id is not None and found.message_id == entry.message_id:
            return _Decision("processed", AckCode.AA)  # a replay of the message that applied it
        if found.sha256 == entry.content_key:
            return _Decision("duplicate", AckCode.AA)
        holder = found.message_id if found.message_id is not None else "earlier in this batch"
        return _Decision(
            "error",
            AckCode.AE,
            Hl7Error(
                Location(segment_id="MSH", segment_index=1, field=10),
                f"a control id not used before for other content (message {holder} has it)",
                header.control_id,
                ErrorCode.DUPLICATE_KEY,
            ),
        )
    if header.processing_id and header.processing_id[:1] not in ("P", "T", "D"):
        return _Decision(
            "rejected",
            AckCode.AR,
            Hl7Error(
                Location(segment_id="MSH", segment_index=1, field=11),
                "processing id P, T or D",
                header.processing_id,
                ErrorCode.UNSUPPORTED_PROCESSING_ID,
            ),
        )
    if entry.map_error is not None:
        if entry.map_error.code in REJECTED_CODES:
            return _Decision("rejected", AckCode.AR, entry.map_error)
        return _Decision("error", AckCode.AE, entry.map_error)
    return _Decision("processed", AckCode.AA, apply=True)


def _envelope(entry: _Entry) -> dict[str, Any]:
    """The columns of a new `hl7_message` row that say what arrived."""
    header = entry.header
    return {
        "received_at": entry.received_at,
        "peer": entry.peer[:100],
        "sender": (header.sender if header else "|")[:455],
        "control_id": (header.control_id if header else "")[:199],
        "message_type": (header.message_type if header else "")[:20],
        "version": (header.version if header else "")[:10],
        "raw": entry.raw,
        "charset": entry.charset,
        "sha256": hashlib.sha256(entry.raw).hexdigest(),
    }


def _envelope_values(entry: _Entry) -> tuple[Any, ...]:
    """`_envelope` as a row, received_at left out, in the order of `_MESSAGE_COLUMNS`."""
    header = entry.header
    if header is None:
        sender, control_id, message_type, version = "|", "", "", ""
    else:
        sender, control_id = header.sender[:455], header.control_id[:199]
        message_type, version = header.message_type[:20], header.version[:10]
    return (
        entry.peer[:100],
        sender,
        control_id,
        message_type,
        version,
        entry.raw,
        entry.charset,
        hashlib.sha256(entry.raw).hexdigest(),
    )


def _status_values(entry: _Entry, decision: _Decision) -> tuple[Any, ...]:
    """`_status` as a row, processed_at left out, in the order of `_MESSAGE_COLUMNS`."""
    error = decision.error
    return (
        decision.status,
        decision.code.value,
        error.code.value if error else None,
        error.message if error else None,
        entry.attempts + (1 if entry.message is not None and entry.error is None else 0),
    )


def _status(entry: _Entry, decision: _Decision, now: datetime) -> dict[str, Any]:
    """The columns that say what became of it (a message that was read counts an attempt)."""
    error = decision.error
    return {
        "status": decision.status,
        "ack_code": decision.code.value,
        "error_code": error.code.value if error else None,
        "error": error.message if error else None,
        "processed_at": now,
        "attempts": entry.attempts
        + (1 if entry.message is not None and entry.error is None else 0),
    }


def content_key(message: Message) -> str:
    """Hash of what a message says, MSH-7 left out: an engine that stamps a resend with a new
    time is still resending the same message."""
    fields = list(message.msh.fields)
    if len(fields) > 6:
        fields[6] = ""
    lines = [message.encoding.field.join(fields)]
    lines += [message.encoding.field.join(s.fields) for s in message.segments[1:]]
    return hashlib.sha256("\r".join(lines).encode("utf-8")).hexdigest()


def _occurrence(message: Message | None, error: Hl7Error | None) -> int | None:
    """Which of its kind the segment an error is at is (the 2nd OBX: 2), for ERR-2."""
    if message is None or error is None:
        return None
    seg_id, index = error.where.segment_id, error.where.segment_index
    if not seg_id or index is None or not 0 < index <= len(message.segments):
        return None
    segments = message.segments[:index]
    if segments[-1].fields[0] != seg_id:
        return None
    return sum(1 for segment in segments if segment.fields[0] == seg_id)


def _internal(kind: str) -> Hl7Error:
    return Hl7Error(
        Location(),
        f"to be processed (internal {kind}; stored for replay)",
        None,
        ErrorCode.INTERNAL_ERROR,
    )


def _header_guess(text: str) -> Header | None:
    """The header of a message that can't be read, as far as its MSH goes, so that its AR
    still names its MSH-10 in MSA-2 (how the sender matches it) and goes back to its sender:
    None only when there is no MSH or no control id."""
    lines = split_lines(text.lstrip())
    first = lines[0] if lines else ""
    if not first.startswith("MSH"):
        return None
    try:
        encoding = Encoding.from_header(first)
    except Hl7Error:
        return None
    header = header_fields(Segment(first.split(encoding.field), encoding, 1))
    return header if header.control_id else None


def stored_ids(session: Session, since: datetime, statuses: Sequence[str]) -> list[int]:
    query = select(Hl7Message.id).where(Hl7Message.received_at >= since)
    if statuses:
        query = query.where(Hl7Message.status.in_(statuses))
    return list(session.scalars(query.order_by(Hl7Message.id)))
