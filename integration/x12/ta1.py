"""TA1 Interchange Acknowledgment (X12 00501 control segments): build, write and read.

- `build_ta1(text, problems)`: the TA1 for the first interchange of `text`: TA101..TA103 echo its
  ISA13, ISA09 and ISA10; TA104 is R with the TA105 note code of the first interchange-level
  problem (ISA/IEA, see `t999_005010x231a1.classify`), or A with 000. The ISA fields are read
  loosely (split at the element separator) so a TA1 can answer an ISA that is not fixed width.
- `write_ta1` / `render_ta1`: TA1s in their own interchange (ISA, TA1..., IEA with IEA01 0),
  written by `envelope.write_interchange` as interchange-level segments.
- `read_interchange_header(text)`: the ISA read the same loose way, to address a reply.
- `read_ta1(text)`: the TA1s of each interchange (also those before a GS in a 999 interchange)
  with located problems: TA101 nine digits, TA102 YYMMDD, TA103 HHMM, TA104 and TA105 codes,
  IEA01 counting the groups and IEA02 = ISA13.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time

from integration.x12 import x231_codes as codes
from integration.x12.delimiters import (
    DEFAULT_DELIMITERS,
    Delimiters,
    read_delimiters,
    strip_preamble,
)
from integration.x12.envelope import (
    Clock,
    ControlNumberSource,
    EnvelopeParams,
    InterchangeHeader,
    SegmentSpec,
    decode,
    read_transactions,
    write_interchange,
)
from integration.x12.errors import Problem, X12Error
from integration.x12.segments import Segment, iter_segments
from integration.x12.t999_005010x231a1 import classify


@dataclass(frozen=True, slots=True, kw_only=True)
class InterchangeAck:
    """One TA1."""

    control_number: str  # TA101 = ISA13 of the acknowledged interchange
    interchange_date: date | None  # TA102 = ISA09
    interchange_time: time | None  # TA103 = ISA10
    status: str  # TA104: A, E, R
    note_code: str  # TA105

    @property
    def accepted(self) -> bool:
        return self.status != "R"


@dataclass(frozen=True, slots=True, kw_only=True)
class TechnicalAcks:
    """The TA1s read from one interchange, with its header for rendering them back."""

    acks: tuple[InterchangeAck, ...]
    envelope: InterchangeHeader | None = field(default=None, compare=False)
    delimiters: Delimiters = field(default=DEFAULT_DELIMITERS, compare=False)


# -- building -----------------------------------------------------------------------------------


def _loose_isa(text: str) -> list[str] | None:
    body = strip_preamble(text)
    if not body.startswith("ISA") or len(body) < 4:
        return None
    fields = body.split(body[3], 14)
    return fields if len(fields) >= 14 else None


def _isa_moment(day: str, hhmm: str) -> tuple[date | None, time | None]:
    try:
        d = datetime.strptime(day, "%y%m%d").date() if len(day) == 6 else None
    except ValueError:
        d = None
    try:
        t = datetime.strptime(hhmm, "%H%M").time() if len(hhmm) == 4 else None
    except ValueError:
        t = None
    return d, t


def build_ta1(text: str | bytes, problems: Sequence[Problem] = ()) -> InterchangeAck | None:
    """The TA1 for the first interchange of `text` (None when there is no ISA to answer)."""
    text = decode(text)
    fields = _loose_isa(text)
    if fields is None:
        return None
    found: list[Problem] = list(problems)
    try:
        for txn in read_transactions(text, found):
            found.extend(txn.problems)
    except X12Error as exc:
        found.extend(exc.problems)
    notes = [
        c.code for c in map(classify, (p for p in found if p.is_error)) if c.level == "interchange"
    ]
    day, hhmm = _isa_moment(fields[9].strip(), fields[10].strip())
    return InterchangeAck(
        control_number=fields[13].strip(),
        interchange_date=day,
        interchange_time=hhmm,
        status="R" if notes else "A",
        note_code=notes[0] if notes else codes.NOTE_NO_ERROR,
    )


# -- writing ------------------------------------------------------------------------------------


def _ta1_elements(ack: InterchangeAck) -> list[str]:
    problems: list[Problem] = []
    if not (len(ack.control_number) == 9 and ack.control_number.isdigit()):
        problems.append(
            Problem(
                segment_id="TA1",
                element="TA101",
                message=f"expected a 9-digit interchange control number, got {ack.control_number!r}",
            )
        )
    if ack.interchange_date is None or ack.interchange_time is None:
        problems.append(
            Problem(segment_id="TA1", element="TA102", message="expected a date and time, got none")
        )
    if ack.status not in codes.INTERCHANGE_ACK_CODES:
        problems.append(
            Problem(
                segment_id="TA1",
                element="TA104",
                message=f"expected one of A, E, R, got {ack.status!r}",
            )
        )
    if ack.note_code not in codes.INTERCHANGE_NOTE_CODES:
        problems.append(
            Problem(
                segment_id="TA1",
                element="TA105",
                message=f"expected a note code 000..031, got {ack.note_code!r}",
            )
        )
    if problems:
        raise X12Error(problems)
    assert ack.interchange_date is not None and ack.interchange_time is not None
    return [
        ack.control_number,
        ack.interchange_date.strftime("%y%m%d"),
        ack.interchange_time.strftime("%H%M"),
        ack.status,
        ack.note_code,
    ]


def render_ta1(
    acks: Sequence[InterchangeAck],
    header: InterchangeHeader,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    segment_suffix: str = "",
) -> str:
    """`acks` as TA1 segments in an interchange with `header` and no functional group."""
    segments: list[SegmentSpec] = [("TA1", _ta1_elements(ack)) for ack in acks]
    return write_interchange(header, [], delimiters, segment_suffix, interchange_segments=segments)


def write_ta1(
    acks: Sequence[InterchangeAck],
    params: EnvelopeParams,
    clock: Clock,
    control_numbers: ControlNumberSource,
    *,
    segment_suffix: str = "",
) -> str:
    """TA1s in their own interchange; X12Error (located) if one cannot be written."""
    for ack in acks:
        _ta1_elements(ack)  # validate before consuming a control number
    d = params.delimiters
    header = InterchangeHeader(
        sender_qualifier=params.sender_qualifier,
        sender_id=params.sender_id,
        receiver_qualifier=params.receiver_qualifier,
        receiver_id=params.receiver_id,
        created=clock(),
        control_number=f"{control_numbers.next_interchange():09d}",
        usage_indicator=params.usage_indicator,
        ack_requested=False,
        repetition_field=d.repetition or "U",
        authorization_qualifier=params.authorization_qualifier,
        authorization_information=params.authorization_information,
        security_qualifier=params.security_qualifier,
        security_information=params.security_information,
    )
    return render_ta1(acks, header, d, segment_suffix)


# -- reading ------------------------------------------------------------------------------------


class _Reader:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.icn: str | None = None

    def problem(self, seg: Segment, element: str | None, message: str) -> None:
        self.problems.append(
            Problem(
                message=message,
                segment_id=seg.id,
                segment_index=seg.index,
                element=element,
                interchange_control_number=self.icn,
            )
        )

    def ta1(self, seg: Segment) -> InterchangeAck:
        number = seg.get(1)
        if not (len(number) == 9 and number.isdigit()):
            self.problem(
                seg, "TA101", f"expected a 9-digit interchange control number, got {number!r}"
            )
        day, hhmm = _isa_moment(seg.get(2), seg.get(3))
        if day is None:
            self.problem(seg, "TA102", f"expected a date YYMMDD, got {seg.get(2)!r}")
        if hhmm is None:
            self.problem(seg, "TA103", f"expected a time HHMM, got {seg.get(3)!r}")
        status, note = seg.get(4), seg.get(5)
        if status not in codes.INTERCHANGE_ACK_CODES:
            self.problem(seg, "TA104", f"expected one of A, E, R, got {status!r}")
        if note not in codes.INTERCHANGE_NOTE_CODES:
            self.problem(seg, "TA105", f"expected a note code 000..031, got {note!r}")
        return InterchangeAck(
            control_number=number,
            interchange_date=day,
            interchange_time=hhmm,
            status=status,
            note_code=note,
        )


def read_ta1(text: str | bytes) -> tuple[list[TechnicalAcks], list[Problem]]:
    """The TA1s of every interchange in `text`, and every problem found (empty when valid)."""
    text = decode(text)
    reader = _Reader()
    try:
        delimiters = read_delimiters(text)
    except X12Error as exc:
        return [], list(exc.problems)
    headers: dict[str, InterchangeHeader] = {}
    for txn in read_transactions(text, []):
        headers.setdefault(txn.context.interchange.control_number, txn.context.interchange)
    out: list[TechnicalAcks] = []
    acks: list[InterchangeAck] = []
    isa: Segment | None = None
    groups = 0
    for seg in iter_segments(text, delimiters):
        if seg.id == "ISA":
            isa, acks, groups = seg, [], 0
            reader.icn = seg.get(13)
        elif seg.id == "TA1" and isa is not None:
            if groups:
                reader.problem(seg, None, "expected TA1 before the first GS, got it after")
            acks.append(reader.ta1(seg))
        elif seg.id == "GS":
            groups += 1
        elif seg.id == "IEA" and isa is not None:
            if seg.get(1) != str(groups):
                reader.problem(
                    seg, "IEA01", f"expected functional group count {groups}, got {seg.get(1)!r}"
                )
            if seg.get(2) != isa.get(13):
                reader.problem(
                    seg,
                    "IEA02",
                    f"expected interchange control number {isa.get(13)!r} (ISA13), "
                    f"got {seg.get(2)!r}",
                )
            out.append(
                TechnicalAcks(
                    acks=tuple(acks),
                    envelope=headers.get(isa.get(13)) or _header(isa),
                    delimiters=delimiters,
                )
            )
            isa = None
    if isa is not None:
        reader.problem(isa, None, "expected IEA at the end of the interchange")
    return out, reader.problems


def read_interchange_header(text: str | bytes) -> InterchangeHeader | None:
    """The ISA of `text` read loosely (as `build_ta1` does), to answer it; None without an ISA."""
    body = strip_preamble(decode(text))
    if not body.startswith("ISA") or len(body) < 4:
        return None
    fields = body.split(body[3], 16)
    if len(fields) < 17:
        return None
    day, hhmm = _isa_moment(fields[9].strip(), fields[10].strip())
    return InterchangeHeader(
        authorization_qualifier=fields[1],
        authorization_information=fields[2],
        security_qualifier=fields[3],
        security_information=fields[4],
        sender_qualifier=fields[5].strip(),
        sender_id=fields[6].strip(),
        receiver_qualifier=fields[7].strip(),
        receiver_id=fields[8].strip(),
        created=datetime.combine(day or date(1, 1, 1), hhmm or time()),
        repetition_field=fields[11],
        version=fields[12],
        control_number=fields[13].strip(),
        ack_requested=fields[14].strip() == "1",
        usage_indicator=fields[15].strip()[:1],
    )


def _header(isa: Segment) -> InterchangeHeader:
    day, hhmm = _isa_moment(isa.get(9), isa.get(10))
    return InterchangeHeader(
        authorization_qualifier=isa.get(1),
        authorization_information=isa.get(2),
        security_qualifier=isa.get(3),
        security_information=isa.get(4),
        sender_qualifier=isa.get(5),
        sender_id=isa.get(6).rstrip(),
        receiver_qualifier=isa.get(7),
        receiver_id=isa.get(8).rstrip(),
        created=datetime.combine(day or date(1, 1, 1), hhmm or time()),
        repetition_field=isa.get(11),
        version=isa.get(12),
        control_number=isa.get(13),
        ack_requested=isa.get(14) == "1",
        usage_indicator=isa.get(15),
    )
