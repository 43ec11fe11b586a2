"""Interchange (ISA/IEA), functional group (GS/GE) and transaction set (ST/SE) envelopes.

Reading: `read_transactions(text)` is a generator yielding one `Transaction` at a time with its
envelope context. It checks control numbers (ISA13 = IEA02, GS06 = GE02, ST02 = SE02) and counts
(IEA01 groups, GE01 transaction sets, SE01 segments including ST and SE). Problems of a
transaction set are on the `Transaction`; group and interchange problems, found only after their
transactions were yielded, go to the `problems` list passed in.

Writing: `write_interchange` computes every count; `new_transaction_context` fills the envelope
from `EnvelopeParams`, an injected clock and an injected control-number source, so output is
deterministic under test.

Streaming: `read_transactions_from(stream)` reads a text or binary file object in chunks (the
delimiters come from the ISA in the first chunks) and yields the same transactions as
`read_transactions` on the whole text; `iter_transaction_events(stream)` goes one level lower
(start, each body segment, end) so a reader can walk a single huge transaction set in bounded
memory. Bytes are decoded as UTF-8 (BOM dropped) with a switch to Latin-1 for the rest of the
stream at the first invalid sequence (the text reader decides for the whole input at once; the
two differ only on input that mixes valid multi-byte UTF-8 with invalid bytes).

Binary (BIN, e.g. the 275's attachment): BIN01 counts octets, so from the first BIN segment (the
ISA's segment terminator, at most 4 spaces/CR/LF, `BIN` and the ISA's element separator) both
readers decode the rest of the input as Latin-1 (one character per octet, every byte value kept),
and `encode` writes text back the same way (UTF-8 before that point, Latin-1 from it). Input
without a BIN segment is decoded exactly as before (a name such as `ROBIN*` is not one).
"""

from __future__ import annotations

import codecs
import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from integration.x12 import x231_codes as ack_codes
from integration.x12.delimiters import (
    DEFAULT_DELIMITERS,
    ISA_LENGTH,
    Delimiters,
    read_delimiters,
    strip_preamble,
)
from integration.x12.errors import CodeLevel, Problem, X12Error
from integration.x12.segments import (
    ElementValue,
    Segment,
    build_segment,
    iter_segments,
    iter_segments_from,
)

Clock = Callable[[], datetime]
SegmentSpec = tuple[str, Sequence[ElementValue]]
ISA_VERSION = "00501"  # ISA12 we read and write
UNKNOWN_TIME = datetime(1, 1, 1)  # placeholder when a header date cannot be read


@dataclass(frozen=True, slots=True, kw_only=True)
class InterchangeHeader:
    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    created: datetime
    control_number: str  # ISA13, 9 digits
    usage_indicator: str  # ISA15: T test, P production
    ack_requested: bool = False  # ISA14
    version: str = "00501"  # ISA12
    repetition_field: str = "^"  # ISA11 as written (the repetition separator from 00501 on)
    authorization_qualifier: str = "00"
    authorization_information: str = " " * 10
    security_qualifier: str = "00"
    security_information: str = " " * 10


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupHeader:
    functional_id: str  # GS01, e.g. HI for 278
    application_sender: str
    application_receiver: str
    created: datetime
    control_number: str  # GS06
    version: str  # GS08, e.g. 005010X217
    agency: str = "X"  # GS07
    segment_index: int | None = field(default=None, compare=False)  # where it was read
    time_sent: str = field(default="", compare=False)  # GS05 as read (HHMM..HHMMSSdd), kept


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionContext:
    interchange: InterchangeHeader
    group: GroupHeader
    transaction_set_id: str  # ST01
    control_number: str  # ST02
    implementation_reference: str  # ST03
    delimiters: Delimiters = DEFAULT_DELIMITERS


@dataclass(frozen=True, slots=True)
class Transaction:
    context: TransactionContext
    segments: tuple[Segment, ...]  # ST .. SE inclusive (SE absent when the set is truncated)
    problems: tuple[Problem, ...] = ()

    @property
    def body(self) -> tuple[Segment, ...]:
        """Segments between ST and SE."""
        end = -1 if self.segments and self.segments[-1].id == "SE" else len(self.segments)
        return self.segments[1:end]


@dataclass(frozen=True, slots=True)
class TransactionBody:
    transaction_set_id: str
    control_number: str
    implementation_reference: str
    segments: Sequence[SegmentSpec]


class ControlNumberSource(Protocol):
    def next_interchange(self) -> int: ...
    def next_group(self) -> int: ...
    def next_transaction(self) -> int: ...


@dataclass(slots=True)
class SequentialControlNumbers:
    """Counters starting at the given numbers (tests, sandbox); production reads a durable store."""

    interchange: int = 1
    group: int = 1
    transaction: int = 1

    def next_interchange(self) -> int:
        self.interchange += 1
        return self.interchange - 1

    def next_group(self) -> int:
        self.group += 1
        return self.group - 1

    def next_transaction(self) -> int:
        self.transaction += 1
        return self.transaction - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvelopeParams:
    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    usage_indicator: Literal["T", "P"]
    ack_requested: bool = False
    application_sender: str | None = None  # GS02, defaults to the ISA sender id
    application_receiver: str | None = None  # GS03, defaults to the ISA receiver id
    delimiters: Delimiters = DEFAULT_DELIMITERS
    authorization_qualifier: str = "00"
    authorization_information: str = " " * 10
    security_qualifier: str = "00"
    security_information: str = " " * 10


def new_transaction_context(
    params: EnvelopeParams,
    *,
    transaction_set_id: str,
    implementation_reference: str,
    functional_id: str,
    clock: Clock,
    control_numbers: ControlNumberSource,
) -> TransactionContext:
    """An envelope for one transaction set: the clock is read once for ISA and GS."""
    now = clock()
    d = params.delimiters
    interchange = InterchangeHeader(
        sender_qualifier=params.sender_qualifier,
        sender_id=params.sender_id,
        receiver_qualifier=params.receiver_qualifier,
        receiver_id=params.receiver_id,
        created=now,
        control_number=f"{control_numbers.next_interchange():09d}",
        usage_indicator=params.usage_indicator,
        ack_requested=params.ack_requested,
        version="00501",
        repetition_field=d.repetition or "U",
        authorization_qualifier=params.authorization_qualifier,
        authorization_information=params.authorization_information,
        security_qualifier=params.security_qualifier,
        security_information=params.security_information,
    )
    group = GroupHeader(
        functional_id=functional_id,
        application_sender=params.application_sender or params.sender_id,
        application_receiver=params.application_receiver or params.receiver_id,
        created=now,
        control_number=str(control_numbers.next_group()),
        version=implementation_reference,
    )
    return TransactionContext(
        interchange=interchange,
        group=group,
        transaction_set_id=transaction_set_id,
        control_number=f"{control_numbers.next_transaction():04d}",
        implementation_reference=implementation_reference,
        delimiters=d,
    )


# -- writing ----------------------------------------------------------------------------------


def _gs_time(group: GroupHeader) -> str:
    """GS05: as it was read (so a file round-trips), else HHMM or HHMMSS from `created`."""
    if group.time_sent:
        return group.time_sent
    moment = group.created
    return moment.strftime("%H%M") if moment.second == 0 else moment.strftime("%H%M%S")


def _isa_elements(h: InterchangeHeader, d: Delimiters) -> list[ElementValue]:
    return [
        h.authorization_qualifier,
        h.authorization_information.ljust(10),
        h.security_qualifier,
        h.security_information.ljust(10),
        h.sender_qualifier,
        h.sender_id.ljust(15),
        h.receiver_qualifier,
        h.receiver_id.ljust(15),
        h.created.strftime("%y%m%d"),
        h.created.strftime("%H%M"),
        h.repetition_field,
        h.version,
        h.control_number.rjust(9, "0"),
        "1" if h.ack_requested else "0",
        h.usage_indicator,
    ]


def write_interchange(
    interchange: InterchangeHeader,
    groups: Sequence[tuple[GroupHeader, Sequence[TransactionBody]]],
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    segment_suffix: str = "",
    interchange_segments: Sequence[SegmentSpec] = (),
) -> str:
    """The whole interchange; every count (SE01, GE01, IEA01) is computed here.

    `interchange_segments` (TA1s) are written between the ISA and the first GS; an interchange
    may hold only those (IEA01 0)."""
    delimiters.check()
    d = delimiters
    out: list[str] = []

    def emit(segment_id: str, elements: Sequence[ElementValue]) -> None:
        out.append(build_segment(segment_id, elements, d, index=len(out)) + segment_suffix)

    # ISA16 is the component separator itself, so the ISA is assembled without value checks.
    isa = d.element.join(["ISA", *(str(e) for e in _isa_elements(interchange, d)), d.component])
    out.append(isa + d.segment + segment_suffix)
    for segment_id, elements in interchange_segments:
        emit(segment_id, elements)
    for group, transactions in groups:
        emit(
            "GS",
            [
                group.functional_id,
                group.application_sender,
                group.application_receiver,
                group.created.strftime("%Y%m%d"),
                _gs_time(group),
                group.control_number,
                group.agency,
                group.version,
            ],
        )
        for txn in transactions:
            emit("ST", [txn.transaction_set_id, txn.control_number, txn.implementation_reference])
            for segment_id, elements in txn.segments:
                emit(segment_id, elements)
            emit("SE", [str(len(txn.segments) + 2), txn.control_number])
        emit("GE", [str(len(transactions)), group.control_number])
    emit("IEA", [str(len(groups)), interchange.control_number.rjust(9, "0")])
    return "".join(out)


def write_new_transaction(
    body: Sequence[SegmentSpec],
    params: EnvelopeParams,
    clock: Clock,
    control_numbers: ControlNumberSource,
    segment_suffix: str = "",
    *,
    transaction_set_id: str,
    implementation_reference: str,
    functional_id: str,
) -> str:
    """`body` as the one transaction set of a new interchange (`new_transaction_context`, then
    `write_transaction`): what each guide's `write_*` does once its body is validated."""
    context = new_transaction_context(
        params,
        transaction_set_id=transaction_set_id,
        implementation_reference=implementation_reference,
        functional_id=functional_id,
        clock=clock,
        control_numbers=control_numbers,
    )
    return write_transaction(context, body, segment_suffix)


def write_transaction(
    context: TransactionContext, segments: Sequence[SegmentSpec], segment_suffix: str = ""
) -> str:
    """One transaction set in its own interchange and group."""
    body = TransactionBody(
        context.transaction_set_id,
        context.control_number,
        context.implementation_reference,
        segments,
    )
    return write_interchange(
        context.interchange, [(context.group, [body])], context.delimiters, segment_suffix
    )


# -- reading ----------------------------------------------------------------------------------


def _parse_datetime(day: str, time: str, day_format: str) -> datetime | None:
    time_format = {4: "%H%M", 6: "%H%M%S"}.get(len(time))
    if time_format is None and len(time) in (7, 8):
        time, time_format = time[:6], "%H%M%S"
    if (
        time_format is None
        or not (day + time).isdigit()
        or len(day) != (6 if day_format == "%y%m%d" else 8)
    ):
        return None
    try:
        return datetime.strptime(day + time, day_format + time_format)  # X12 dates carry no zone
    except ValueError:
        return None


@dataclass(slots=True)
class _OpenTransaction:
    st: Segment
    context: TransactionContext
    count: int = 1  # segments so far, ST included


@dataclass(frozen=True, slots=True)
class TransactionStart:
    """Streaming event: an ST opened a transaction set in `context`."""

    context: TransactionContext
    st: Segment


@dataclass(frozen=True, slots=True)
class TransactionEnd:
    """Streaming event: the transaction set closed (`se` is None when it was truncated);
    `problems` are its envelope problems (SE01/SE02, missing SE)."""

    context: TransactionContext
    se: Segment | None
    problems: tuple[Problem, ...]


# What `iter_transaction_events` yields: a start, the body segments one by one, an end.
TransactionEvent = TransactionStart | Segment | TransactionEnd


class SupportsRead(Protocol):
    def read(self, size: int, /) -> str | bytes: ...


class _Reader:
    def __init__(self, sink: list[Problem]) -> None:
        self.sink = sink
        self.isa: Segment | None = None
        self.interchange: InterchangeHeader | None = None
        self.group_count = 0
        self.gs: Segment | None = None
        self.group: GroupHeader | None = None
        self.txn_count = 0
        self.txn: _OpenTransaction | None = None
        self.interchange_segments: list[Segment] = []  # TA1s of the current interchange

    def problem(
        self,
        segment: Segment | None,
        message: str,
        element: str | None = None,
        *,
        level: CodeLevel | None = None,
        code: str | None = None,
    ) -> None:
        self.sink.append(
            Problem(
                message=message,
                segment_id=segment.id if segment else None,
                segment_index=segment.index if segment else None,
                element=element,
                interchange_control_number=self.interchange.control_number
                if self.interchange
                else None,
                group_control_number=self.group.control_number if self.group else None,
                level=level,
                code=code,
            )
        )

    def open_interchange(self, seg: Segment) -> None:
        created = _parse_datetime(seg.get(9), seg.get(10), "%y%m%d")
        if created is None:
            self.problem(
                seg,
                f"expected YYMMDD and HHMM, got {seg.get(9)!r} {seg.get(10)!r}",
                "ISA09",
                level="interchange",
                code=ack_codes.ISA_ELEMENT_NOTES["ISA09"],
            )
        self.isa = seg
        self.interchange = InterchangeHeader(
            authorization_qualifier=seg.get(1),
            authorization_information=seg.get(2),
            security_qualifier=seg.get(3),
            security_information=seg.get(4),
            sender_qualifier=seg.get(5),
            sender_id=seg.get(6).rstrip(),
            receiver_qualifier=seg.get(7),
            receiver_id=seg.get(8).rstrip(),
            created=created or UNKNOWN_TIME,
            repetition_field=seg.get(11),
            version=seg.get(12),
            control_number=seg.get(13),
            ack_requested=seg.get(14) == "1",
            usage_indicator=seg.get(15),
        )
        self.group_count = 0
        self.interchange_segments = []
        if seg.get(12) != ISA_VERSION:
            self.problem(
                seg,
                f"expected {ISA_VERSION!r}, got {seg.get(12)!r}",
                "ISA12",
                level="interchange",
                code=ack_codes.ISA_ELEMENT_NOTES["ISA12"],
            )

    def close_interchange(self, iea: Segment) -> None:
        assert self.interchange is not None
        if iea.get(1) != str(self.group_count):
            self.problem(
                iea,
                f"expected functional group count {self.group_count}, got {iea.get(1)!r}",
                "IEA01",
                level="interchange",
                code=ack_codes.NOTE_GROUP_COUNT,
            )
        if iea.get(2) != self.interchange.control_number:
            self.problem(
                iea,
                f"expected interchange control number {self.interchange.control_number!r} (ISA13), "
                f"got {iea.get(2)!r}",
                "IEA02",
                level="interchange",
                code=ack_codes.NOTE_CONTROL_MISMATCH,
            )
        self.isa = None
        self.interchange = None

    def open_group(self, seg: Segment) -> None:
        created = _parse_datetime(seg.get(4), seg.get(5), "%Y%m%d")
        if created is None:
            self.problem(
                seg,
                f"expected CCYYMMDD and HHMM, got {seg.get(4)!r} {seg.get(5)!r}",
                "GS04",
            )
        self.gs = seg
        self.group = GroupHeader(
            functional_id=seg.get(1),
            application_sender=seg.get(2),
            application_receiver=seg.get(3),
            created=created or UNKNOWN_TIME,
            control_number=seg.get(6),
            agency=seg.get(7),
            version=seg.get(8),
            segment_index=seg.index,
            time_sent=seg.get(5),
        )
        self.group_count += 1
        self.txn_count = 0

    def close_group(self, ge: Segment) -> None:
        assert self.group is not None
        if ge.get(1) != str(self.txn_count):
            self.problem(
                ge,
                f"expected transaction set count {self.txn_count}, got {ge.get(1)!r}",
                "GE01",
                level="group",
                code=ack_codes.GROUP_COUNT_MISMATCH,
            )
        if ge.get(2) != self.group.control_number:
            self.problem(
                ge,
                f"expected group control number {self.group.control_number!r} (GS06), got {ge.get(2)!r}",
                "GE02",
                level="group",
                code=ack_codes.GROUP_CONTROL_MISMATCH,
            )
        self.gs = None
        self.group = None

    def start_transaction(self, st: Segment, delimiters: Delimiters) -> TransactionStart:
        assert self.interchange is not None and self.group is not None
        context = TransactionContext(
            interchange=self.interchange,
            group=self.group,
            transaction_set_id=st.get(1),
            control_number=st.get(2),
            implementation_reference=st.get(3),
            delimiters=delimiters,
        )
        self.txn = _OpenTransaction(st, context)
        return TransactionStart(context, st)

    def finish_transaction(self, se: Segment | None, last: Segment) -> TransactionEnd:
        assert self.txn is not None
        st, context = self.txn.st, self.txn.context
        problems: list[Problem] = []
        icn, gcn, tcn = context.interchange.control_number, context.group.control_number, st.get(2)

        def located(problem: Problem) -> Problem:
            return problem.in_envelope(interchange=icn, group=gcn, transaction=tcn)

        if se is None:
            problems.append(
                located(
                    Problem(
                        message="expected SE before the end of the transaction set",
                        segment_id=last.id,
                        segment_index=last.index,
                        level="transaction",
                        code=ack_codes.TRANSACTION_TRAILER_MISSING,
                    )
                )
            )
        else:
            count = self.txn.count + 1
            if se.get(1) != str(count):
                problems.append(
                    located(
                        Problem(
                            message=f"expected segment count {count}, got {se.get(1)!r}",
                            segment_id="SE",
                            segment_index=se.index,
                            element="SE01",
                            level="transaction",
                            code=ack_codes.TRANSACTION_COUNT_MISMATCH,
                        )
                    )
                )
            if se.get(2) != st.get(2):
                problems.append(
                    located(
                        Problem(
                            message=f"expected transaction set control number {st.get(2)!r} (ST02), "
                            f"got {se.get(2)!r}",
                            segment_id="SE",
                            segment_index=se.index,
                            element="SE02",
                            level="transaction",
                            code=ack_codes.TRANSACTION_CONTROL_MISMATCH,
                        )
                    )
                )
        self.txn = None
        self.txn_count += 1
        return TransactionEnd(context, se, tuple(problems))


_BOM = b"\xef\xbb\xbf"
_MARK_SPACE = 4  # CR/LF or spaces allowed between a segment terminator and the BIN segment
_MARK_HOLD = 1 + _MARK_SPACE + 4 - 1  # bytes a marker may span into the next chunk
BinaryMarker = re.Pattern[bytes]


def _binary_marker(head: bytes) -> BinaryMarker | Literal[False] | None:
    """The start of a BIN segment in the interchange `head` begins (its ISA's segment terminator,
    up to 4 whitespace characters, `BIN` and its element separator): group 1 is the BIN. None
    while `head` is too short to say, False when it does not start with an ISA."""
    body = head[len(_BOM) :] if head.startswith(_BOM) else head
    body = body.lstrip(b" \t\r\n")
    if len(body) < ISA_LENGTH:
        return None if b"ISA".startswith(body[:3]) else False
    if not body.startswith(b"ISA"):
        return False
    element, terminator = body[3:4], body[ISA_LENGTH - 1 : ISA_LENGTH]
    return re.compile(
        re.escape(terminator)
        + b"[ \t\r\n]{0,%d}" % _MARK_SPACE
        + b"(BIN"
        + re.escape(element)
        + b")"
    )


def _decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def decode(data: str | bytes) -> str:
    """X12 text from bytes (UTF-8 with or without BOM, else Latin-1), and from the first BIN
    segment on Latin-1 (one character per octet, so BIN01 counts characters)."""
    if isinstance(data, str):
        return data
    marker = _binary_marker(data[: ISA_LENGTH + 64])
    found = marker.search(data) if marker else None
    if found is None:
        return _decode_text(data)
    at = found.start(1)
    return _decode_text(data[:at]) + data[at:].decode("latin-1")


def encode(text: str) -> bytes:
    """The inverse of `decode` for text it produced or a writer built: UTF-8 up to the first BIN
    segment, Latin-1 from it (X12Error when a character there is not an octet)."""
    marker = _binary_marker(strip_preamble(text)[:ISA_LENGTH].encode("latin-1", "replace"))
    found = None
    if marker:
        pattern = re.compile(marker.pattern.decode("latin-1"))
        found = pattern.search(text)
    if found is None:
        return text.encode("utf-8")
    at = found.start(1)
    try:
        tail = text[at:].encode("latin-1")
    except UnicodeEncodeError as exc:
        raise X12Error(
            [
                Problem(
                    segment_id="BIN",
                    message="expected octets (characters 0x00-0xFF) from the first BIN segment on, "
                    f"got {text[at + exc.start]!r}",
                )
            ]
        ) from exc
    return text[:at].encode("utf-8") + tail


def _events(
    segments: Iterator[Segment], delimiters: Delimiters, sink: list[Problem]
) -> Iterator[TransactionEvent]:
    reader = _Reader(sink)
    last: Segment | None = None
    previous: Segment | None = None
    for seg in segments:
        previous, last = last, seg
        if reader.txn is not None and seg.id not in ("SE", "ST", "GE", "IEA", "GS", "ISA"):
            reader.txn.count += 1
            yield seg
            continue
        if reader.txn is not None and seg.id != "SE":
            assert previous is not None
            yield reader.finish_transaction(None, previous)
        if seg.id == "ISA":
            if reader.interchange is not None:
                reader.problem(
                    seg,
                    "expected IEA before the next ISA",
                    level="interchange",
                    code=ack_codes.NOTE_CONTROL_STRUCTURE,
                )
            reader.open_interchange(seg)
        elif reader.interchange is None:
            reader.problem(
                seg,
                f"expected ISA, got {seg.id!r}",
                level="interchange",
                code=ack_codes.NOTE_CONTROL_STRUCTURE,
            )
        elif seg.id == "IEA":
            if reader.group is not None:
                reader.problem(
                    seg,
                    "expected GE before IEA",
                    level="group",
                    code=ack_codes.GROUP_TRAILER_MISSING,
                )
                reader.gs, reader.group = None, None  # reported once, not again at the end
            reader.close_interchange(seg)
        elif seg.id == "GS":
            if reader.group is not None:
                reader.problem(
                    seg,
                    "expected GE before the next GS",
                    level="group",
                    code=ack_codes.GROUP_TRAILER_MISSING,
                )
            reader.open_group(seg)
        elif seg.id == "TA1" and reader.group is None and not reader.group_count:
            reader.interchange_segments.append(seg)  # interchange-level: read by `ta1.read_ta1`
        elif reader.group is None:
            reader.problem(
                seg,
                f"expected GS, got {seg.id!r}",
                level="interchange",
                code=ack_codes.NOTE_INVALID_CONTENT,
            )
        elif seg.id == "GE":
            reader.close_group(seg)
        elif seg.id == "ST":
            yield reader.start_transaction(seg, delimiters)
        elif seg.id == "SE":
            if reader.txn is None:
                reader.problem(
                    seg,
                    "expected ST before SE",
                    level="transaction",
                    code=ack_codes.TRANSACTION_TRAILER_MISSING,
                )
            else:
                yield reader.finish_transaction(seg, seg)
        else:
            reader.problem(seg, f"expected ST, got {seg.id!r}")
    if reader.txn is not None:
        assert last is not None
        yield reader.finish_transaction(None, last)
    if reader.group is not None:
        reader.problem(
            last,
            "expected GE before the end of the interchange",
            level="group",
            code=ack_codes.GROUP_TRAILER_MISSING,
        )
    if reader.interchange is not None:
        reader.problem(
            last,
            "expected IEA at the end of the interchange",
            level="interchange",
            code=ack_codes.NOTE_PREMATURE_END,
        )


def _assemble(events: Iterator[TransactionEvent]) -> Iterator[Transaction]:
    st: Segment | None = None
    body: list[Segment] = []
    for event in events:
        if isinstance(event, TransactionStart):
            st, body = event.st, []
        elif isinstance(event, TransactionEnd):
            assert st is not None
            segments = [st, *body] if event.se is None else [st, *body, event.se]
            yield Transaction(event.context, tuple(segments), event.problems)
            st, body = None, []
        else:
            body.append(event)


def read_transactions(
    text: str | bytes, problems: list[Problem] | None = None
) -> Iterator[Transaction]:
    """Yield each transaction set of the interchange(s) in `text` with its envelope context.

    Raises X12Error when no delimiters can be read (missing or malformed ISA). Envelope problems
    outside a transaction set are appended to `problems` when given.
    """
    text = decode(text)
    sink = problems if problems is not None else []
    delimiters = read_delimiters(text)
    yield from _assemble(_events(iter_segments(text, delimiters), delimiters, sink))


def iter_text_events(
    text: str | bytes, problems: list[Problem] | None = None
) -> Iterator[TransactionEvent]:
    """`iter_transaction_events` over text already in memory: the same events as
    `read_transactions` assembles, without holding a transaction's segments, so a reader that
    parses as it goes keeps only its models (and the garbage collector has less to walk).

    Raises X12Error (on the first `next`) when no delimiters can be read from the ISA."""
    text = decode(text)
    sink = problems if problems is not None else []
    delimiters = read_delimiters(text)
    yield from _events(iter_segments(text, delimiters), delimiters, sink)


class _ChunkDecoder:
    """Bytes to text as `decode` does, chunk by chunk: UTF-8 (a BOM dropped) switching to Latin-1
    for the rest at the first invalid sequence or at the first BIN segment."""

    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.latin1 = False
        self.marker: BinaryMarker | Literal[False] | None = None  # see `_binary_marker`
        self.held = b""  # bytes not decoded yet (the ISA head, or a marker's possible start)

    def text(self, data: bytes, final: bool = False) -> str:
        if self.latin1:
            return data.decode("latin-1")
        pending, _ = self.decoder.getstate()
        try:
            return self.decoder.decode(data, final=final)
        except UnicodeDecodeError:
            self.latin1 = True
            return (pending + data).decode("latin-1")

    def feed(self, data: bytes) -> str:
        held, self.held = self.held + data, b""
        if self.latin1:
            return held.decode("latin-1")
        if self.marker is None:
            self.marker = _binary_marker(held)
            if self.marker is None:
                self.held = held
                return ""
        if not self.marker:
            return self.text(held)
        found = self.marker.search(held)
        if found is not None:
            at = found.start(1)
            before = self.text(held[:at], final=True)
            self.latin1 = True
            return before + held[at:].decode("latin-1")
        # a marker may start in this chunk and end in the next
        self.held = held[-_MARK_HOLD:] if len(held) > _MARK_HOLD else held
        return self.text(held[: len(held) - len(self.held)])

    def close(self) -> str:
        held, self.held = self.held, b""
        if self.latin1:
            return held.decode("latin-1")
        try:
            return self.decoder.decode(held, final=True)
        except UnicodeDecodeError:
            return (self.decoder.getstate()[0] + held).decode("latin-1")


def _decoded_chunks(stream: SupportsRead, chunk_size: int) -> Iterator[str]:
    """Text chunks of `stream`: str as is; bytes as UTF-8 (a BOM dropped), switching to Latin-1
    for the rest of the stream at the first byte sequence that is not UTF-8 or at the first BIN
    segment (binary data is counted in octets)."""
    decoder = _ChunkDecoder()
    while True:
        data = stream.read(chunk_size)
        if not data:
            break
        if isinstance(data, str):
            yield data
            continue
        yield decoder.feed(data)
    tail = decoder.close()
    if tail:
        yield tail


def _stream_segments(stream: SupportsRead, chunk_size: int) -> tuple[Delimiters, Iterator[Segment]]:
    if chunk_size < 1:
        raise ValueError(f"expected a chunk size of at least 1, got {chunk_size}")
    chunks = _decoded_chunks(stream, chunk_size)
    head = ""
    for chunk in chunks:
        head += chunk
        if len(strip_preamble(head)) >= ISA_LENGTH:
            break
    delimiters = read_delimiters(head)  # X12Error when there is no usable ISA
    return delimiters, iter_segments_from(itertools.chain([head], chunks), delimiters)


def iter_transaction_events(
    stream: SupportsRead, problems: list[Problem] | None = None, chunk_size: int = 1 << 20
) -> Iterator[TransactionEvent]:
    """Read `stream` (a text or binary file object) in chunks of `chunk_size`, yielding a
    `TransactionStart`, each body segment and a `TransactionEnd` per transaction set: memory stays
    bounded by the chunk size and the longest segment, however large the transaction.

    Raises X12Error (on the first `next`) when no delimiters can be read from the ISA."""
    sink = problems if problems is not None else []
    delimiters, segments = _stream_segments(stream, chunk_size)
    yield from _events(segments, delimiters, sink)


def read_transactions_from(
    stream: SupportsRead, problems: list[Problem] | None = None, chunk_size: int = 1 << 20
) -> Iterator[Transaction]:
    """`read_transactions` over a text or binary file object read in chunks: each transaction set
    is yielded as soon as its SE arrives, and only the current one is held in memory."""
    yield from _assemble(iter_transaction_events(stream, problems, chunk_size))
