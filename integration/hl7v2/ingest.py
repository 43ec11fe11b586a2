"""Store, then process, then acknowledge: the durable, exactly-once path for HL7 v2 messages.

`Ingest.handle(items)` takes the payloads that arrived (from one or many connections) and,
in ONE database transaction (group commit):

1. stores every message's raw bytes in `hl7_message` (status received);
2. for each, in a savepoint: skips it as a duplicate if its (sender, MSH-10) is in
   `hl7_applied` with the same content, else maps it to FHIR, writes the resources and
   the `hl7_applied` key; a mapping error rolls the savepoint back and marks it `error`
   (AE, kept for replay), an unsupported or unreadable message is `rejected` (AR);
3. commits; only then are the ACKs returned for sending.

If the process dies before the commit, nothing was acknowledged and the sender resends;
if it dies after, the resend finds the key and gets AA again without a second apply.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from integration.hl7v2.ack import AckCode, AckRequest, batch_ack, build_ack, wanted
from integration.hl7v2.errors import ErrorCode, Hl7Error, Location
from integration.hl7v2.message import (
    DEFAULT_ENCODING,
    Encoding,
    Header,
    Message,
    Segment,
    parse_message,
    read_header,
    split_batch,
)
from integration.mapping.hl7v2 import Hl7Maps, MappingOptions, map_message
from integration.store.fhir_store import FhirStore
from integration.store.models import Hl7Applied, Hl7Message

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
class _Pending:
    item: Inbound
    text: str
    charset: str
    encoding: Encoding
    batch_header: Segment | None
    messages: list[tuple[str, Message | None, Header | None, Hl7Error | None]]


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
        outcomes: list[list[MessageOutcome]] = []
        with self.sessions() as session, session.begin():
            for p in pending:
                outcomes.append(
                    [
                        self._one(session, p, text, message, header, err)
                        for text, message, header, err in p.messages
                    ]
                )
        now = self.clock()
        replies = [self._reply(p, outs, now) for p, outs in zip(pending, outcomes, strict=True)]
        for outs in outcomes:
            for outcome in outs:
                log.info(
                    "hl7 message id=%s control_id=%s status=%s ack=%s%s",
                    outcome.message_id,
                    outcome.control_id,
                    outcome.status,
                    outcome.code.value,
                    f" error={outcome.error.code.value} at={outcome.error.where}"
                    if outcome.error
                    else "",
                )
        return replies

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
        out: list[MessageOutcome] = []
        with self.sessions() as session, session.begin():
            for message_id in message_ids:
                row = session.get(Hl7Message, message_id)
                if row is None:
                    continue
                text, _charset = decode(row.raw)
                try:
                    message = parse_message(text)
                    header = message.header
                except Hl7Error as exc:
                    out.append(MessageOutcome(row.id, row.control_id, "rejected", AckCode.AR, exc))
                    continue
                outcome = self._process(session, row, message, header, replay=True)
                out.append(outcome)
        return out

    # ---------------------------------------------------------------- steps

    def _split(self, item: Inbound) -> _Pending:
        text, charset = decode(item.payload)
        try:
            batch = split_batch(text)
        except Hl7Error as exc:
            return _Pending(item, text, charset, DEFAULT_ENCODING, None, [(text, None, None, exc)])
        messages: list[tuple[str, Message | None, Header | None, Hl7Error | None]] = []
        encoding = DEFAULT_ENCODING
        for part in batch.messages:
            try:
                message = parse_message(part)
                encoding = message.encoding
                messages.append((part, message, message.header, None))
            except Hl7Error as exc:
                messages.append((part, None, _header_guess(part), exc))
        return _Pending(item, text, charset, encoding, batch.header, messages)

    def _one(
        self,
        session: Session,
        pending: _Pending,
        text: str,
        message: Message | None,
        header: Header | None,
        error: Hl7Error | None,
    ) -> MessageOutcome:
        raw = (
            text.encode(pending.charset, errors="replace")
            if pending.batch_header
            else pending.item.payload
        )
        row = Hl7Message(
            received_at=pending.item.received_at,
            peer=pending.item.peer[:100],
            sender=(header.sender if header else "|")[:455],
            control_id=(header.control_id if header else "")[:199],
            message_type=(header.message_type if header else "")[:20],
            version=(header.version if header else "")[:10],
            raw=raw,
            charset=pending.charset,
            sha256=hashlib.sha256(raw).hexdigest(),
            status="received",
            attempts=0,
        )
        session.add(row)
        session.flush()
        if message is None or header is None or error is not None:
            err = error or Hl7Error(Location(), "a readable message", None)
            return self._finish(row, "rejected", AckCode.AR, err)
        return self._process(session, row, message, header)

    def _process(
        self,
        session: Session,
        row: Hl7Message,
        message: Message,
        header: Header,
        replay: bool = False,
    ) -> MessageOutcome:
        row.attempts += 1
        content_hash = content_key(message)
        applied = session.get(Hl7Applied, (header.sender[:455], header.control_id[:199]))
        if applied is not None:
            if applied.sha256 == content_hash or applied.message_id == row.id:
                return self._finish(
                    row,
                    "processed" if applied.message_id == row.id else "duplicate",
                    AckCode.AA,
                    None,
                )
            error = Hl7Error(
                Location(segment_id="MSH", segment_index=1, field=10),
                f"a control id not used before for other content (message {applied.message_id} has it)",
                header.control_id,
                ErrorCode.DUPLICATE_KEY,
            )
            return self._finish(row, "error", AckCode.AE, error)
        if header.processing_id and header.processing_id[:1] not in ("P", "T", "D"):
            error = Hl7Error(
                Location(segment_id="MSH", segment_index=1, field=11),
                "processing id P, T or D",
                header.processing_id,
                ErrorCode.UNSUPPORTED_PROCESSING_ID,
            )
            return self._finish(row, "rejected", AckCode.AR, error)
        savepoint = session.begin_nested()
        try:
            resources = map_message(message, self.maps, self.options)
            store = FhirStore(session)
            store.preload((str(r.body["resourceType"]), str(r.body["id"])) for r in resources)
            now = self.clock()
            source = f"urn:derm-rcm:hl7v2:message:{row.id}"
            for resource in resources:
                store.write(resource.body, resource.mode, now, row.id, source)
            session.add(
                Hl7Applied(
                    sender=header.sender[:455],
                    control_id=header.control_id[:199],
                    message_id=row.id,
                    sha256=content_hash,
                    applied_at=now,
                )
            )
            savepoint.commit()
        except Hl7Error as exc:
            savepoint.rollback()
            if exc.code in REJECTED_CODES:
                return self._finish(row, "rejected", AckCode.AR, exc)
            return self._finish(row, "error", AckCode.AE, exc)
        except Exception as exc:  # a bug or a database problem inside the savepoint
            savepoint.rollback()
            log.error(
                "hl7 processing failed id=%s control_id=%s error=%s",
                row.id,
                header.control_id,
                type(exc).__name__,
            )
            return self._finish(row, "error", AckCode.AE, _internal(type(exc).__name__))
        return self._finish(row, "processed", AckCode.AA, None)

    def _finish(
        self, row: Hl7Message, status: str, code: AckCode, error: Hl7Error | None
    ) -> MessageOutcome:
        row.status = status
        row.ack_code = code.value
        row.error_code = error.code.value if error else None
        row.error = error.message if error else None
        row.processed_at = self.clock()
        return MessageOutcome(row.id, row.control_id, status, code, error)

    def _reply(self, pending: _Pending, outcomes: Sequence[MessageOutcome], now: datetime) -> Reply:
        acks: list[str] = []
        for (_text, message, header, _err), outcome in zip(pending.messages, outcomes, strict=True):
            request = AckRequest(header, message.encoding if message else pending.encoding)

            def ack(code: AckCode, error: Hl7Error | None, request: AckRequest = request) -> None:
                acks.append(
                    build_ack(request, code, control_id=self.control_ids(), now=now, error=error)
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


def content_key(message: Message) -> str:
    """Hash of what a message says, MSH-7 left out: an engine that stamps a resend with a new
    time is still resending the same message."""
    fields = list(message.msh.fields)
    if len(fields) > 6:
        fields[6] = ""
    lines = [message.encoding.field.join(fields)]
    lines += [message.encoding.field.join(s.fields) for s in message.segments[1:]]
    return hashlib.sha256("\r".join(lines).encode("utf-8")).hexdigest()


def _internal(kind: str) -> Hl7Error:
    return Hl7Error(
        Location(),
        f"to be processed (internal {kind}; stored for replay)",
        None,
        ErrorCode.INTERNAL_ERROR,
    )


def _header_guess(text: str) -> Header | None:
    """The header of a message whose body is broken, so its ACK can still name MSH-10."""
    first = text.split("\r", 1)[0]
    try:
        encoding = Encoding.from_header(first)
        return read_header(Segment(first.split(encoding.field), encoding, 1))
    except Hl7Error:
        return None


def stored_ids(session: Session, since: datetime, statuses: Sequence[str]) -> list[int]:
    query = select(Hl7Message.id).where(Hl7Message.received_at >= since)
    if statuses:
        query = query.where(Hl7Message.status.in_(statuses))
    return list(session.scalars(query.order_by(Hl7Message.id)))
