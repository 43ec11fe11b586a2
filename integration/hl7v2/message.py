"""A small, fast HL7 v2 tokenizer: message text -> segments -> fields, lazily split further.

Tolerant of what real feeds send: v2.3 to v2.5.1 and later, Z-segments, empty and trailing
separators, escape sequences, non-default encoding characters, CR / LF / CRLF segment
ends. Values are unescaped only when asked for, so splitting a message costs little more
than `str.split`. Structure validation (which segments a message type allows) is not done
here: `integration.hl7v2.validate` asks hl7apy for that on demand.

Numbering follows HL7: fields, repetitions, components and subcomponents count from 1.
For MSH, MSH-1 is the field separator and MSH-2 the encoding characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

from integration.hl7v2.errors import ErrorCode, Hl7Error, Location

_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{2}$")
_LINE_ENDS = re.compile(r"\r\n|\n|\r")
HEADER_SEGMENTS = frozenset({"MSH", "FHS", "BHS"})


@dataclass(frozen=True, slots=True)
class Encoding:
    """The delimiters a message declares in MSH-1 and MSH-2."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"
    truncation: str = ""

    @property
    def characters(self) -> str:
        """MSH-2 as written back (component, repetition, escape, subcomponent[, truncation])."""
        return self.component + self.repetition + self.escape + self.subcomponent + self.truncation

    @classmethod
    def from_header(cls, line: str, segment_index: int = 1) -> Encoding:
        """Read the delimiters from an MSH / FHS / BHS line."""
        where = Location(segment_id=line[:3], segment_index=segment_index, field=1)
        if len(line) < 8:
            raise Hl7Error(where, "expected a field separator and 4 encoding characters", line[3:])
        sep = line[3]
        end = line.find(sep, 4)
        chars = line[4:] if end < 0 else line[4:end]
        if sep.isalnum() or sep in "\r\n":
            raise Hl7Error(where, "expected a non-alphanumeric field separator", sep)
        if len(chars) < 4 or len(chars) > 5:
            raise Hl7Error(
                where.at(field=2), "expected 4 or 5 encoding characters, e.g. '^~\\&'", chars
            )
        if len(set(chars + sep)) != len(chars) + 1 or any(c.isalnum() for c in chars):
            raise Hl7Error(
                where.at(field=2), "expected distinct non-alphanumeric encoding characters", chars
            )
        return cls(sep, chars[0], chars[1], chars[2], chars[3], chars[4:5])

    def unescape(self, value: str) -> str:
        """Resolve escape sequences (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\Xhh\\ \\.br\\ ...).

        Formatting commands other than line breaks and highlighting markers are dropped;
        an escape character without a closing one is kept as text.
        """
        esc = self.escape
        if esc not in value:
            return value
        out: list[str] = []
        i = 0
        while True:
            start = value.find(esc, i)
            if start < 0:
                out.append(value[i:])
                break
            end = value.find(esc, start + 1)
            if end < 0:
                out.append(value[i:])
                break
            out.append(value[i:start])
            out.append(self._escape_text(value[start + 1 : end]))
            i = end + 1
        return "".join(out)

    def _escape_text(self, code: str) -> str:
        simple = {
            "F": self.field,
            "S": self.component,
            "T": self.subcomponent,
            "R": self.repetition,
            "E": self.escape,
            "P": self.truncation,
        }
        if code in simple:
            return simple[code]
        if code.startswith("X") and len(code) > 1:
            try:
                return bytes.fromhex(code[1:]).decode("latin-1")
            except ValueError:
                return ""
        if code in (".br", ".sp") or code.startswith(".sp"):
            return "\n"
        # \H\ \N\ (highlight), \Zxx\ (local), \Cxxyy\ \Mxxyyzz\ (character sets), other
        # formatting commands (.in, .ti, .ce, .fi, .nf, .sk): no text of their own.
        return ""

    def escape_text(self, value: str) -> str:
        """Escape delimiters in free text (for ACK ERR and MSA text)."""
        esc = self.escape
        if (  # most text has nothing to escape (an ACK's names and control ids): as it is
            esc not in value
            and self.field not in value
            and self.component not in value
            and self.subcomponent not in value
            and self.repetition not in value
            and "\r" not in value
            and "\n" not in value
            and value != '""'
        ):
            return value
        out = value.replace(esc, f"{esc}E{esc}")
        for char, code in (
            (self.field, "F"),
            (self.component, "S"),
            (self.subcomponent, "T"),
            (self.repetition, "R"),
        ):
            out = out.replace(char, f"{esc}{code}{esc}")
        out = out.replace("\r", " ").replace("\n", " ")
        # Text that is exactly two double quotes would read back as HL7's explicit null.
        return f"{esc}X2222{esc}" if out == '""' else out


DEFAULT_ENCODING = Encoding()


class Segment:
    """One segment. `fields[0]` is the segment id; fields keep their escapes until read."""

    __slots__ = ("encoding", "fields", "index")

    def __init__(self, fields: list[str], encoding: Encoding, index: int) -> None:
        self.fields = fields
        self.encoding = encoding
        self.index = index  # 1-based position in the message

    @property
    def id(self) -> str:
        return self.fields[0]

    def __repr__(self) -> str:
        return f"Segment({self.id}, index={self.index}, fields={len(self.fields) - 1})"

    def _slot(self, number: int) -> int:
        # MSH-1 is the separator itself, so MSH's list is shifted by one.
        return number - 1 if self.fields[0] in HEADER_SEGMENTS else number

    def raw_field(self, number: int) -> str:
        """Field `number` as written (escapes, repetitions and components included)."""
        if number < 1:
            raise ValueError(f"field numbers start at 1, got {number}")
        if self.fields[0] in HEADER_SEGMENTS:
            if number == 1:
                return self.encoding.field
            if number == 2:
                return self.encoding.characters
        slot = self._slot(number)
        return self.fields[slot] if slot < len(self.fields) else ""

    def repetitions(self, number: int) -> list[str]:
        """The repetitions of a field (raw); [] when the field is empty."""
        raw = self.raw_field(number)
        if not raw:
            return []
        if self.fields[0] in HEADER_SEGMENTS and number == 2:
            return [raw]
        return raw.split(self.encoding.repetition)

    def value(self, number: int, component: int = 1, subcomponent: int = 1, rep: int = 1) -> str:
        """One unescaped value; '' when absent. HL7's explicit null `""` reads as ''."""
        if component < 1 or subcomponent < 1 or rep < 1:
            raise ValueError(
                f"component, subcomponent and repetition numbers start at 1, got {component}, {subcomponent}, {rep}"
            )
        if number == 2 and self.fields[0] in HEADER_SEGMENTS:
            return self.encoding.characters if component == subcomponent == rep == 1 else ""
        reps = self.repetitions(number)
        if rep > len(reps):
            return ""
        return component_value(reps[rep - 1], self.encoding, component, subcomponent)

    def field_count(self) -> int:
        """The number of the last field present (trailing empty fields included)."""
        last = len(self.fields) - 1
        return last + 1 if self.fields[0] in HEADER_SEGMENTS else last


def component_value(raw: str, encoding: Encoding, component: int = 1, subcomponent: int = 1) -> str:
    """Component / subcomponent of one field repetition, unescaped."""
    parts = raw.split(encoding.component) if encoding.component in raw else [raw]
    return component_of(parts, encoding, component, subcomponent)


def component_of(
    parts: Sequence[str], encoding: Encoding, component: int, subcomponent: int = 1
) -> str:
    """Component / subcomponent from a repetition already split into components, unescaped."""
    if component > len(parts):
        return ""
    part = parts[component - 1]
    if encoding.subcomponent in part:
        subs = part.split(encoding.subcomponent)
        part = subs[subcomponent - 1] if subcomponent <= len(subs) else ""
    elif subcomponent > 1:
        return ""
    if part == '""':
        return ""
    return encoding.unescape(part) if encoding.escape in part else part


@dataclass(frozen=True, slots=True)
class Header:
    """What MSH says about a message: routing, type, control id and acknowledgement modes."""

    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    timestamp: str
    message_code: str
    trigger_event: str
    structure: str
    control_id: str
    processing_id: str
    version: str
    accept_ack_type: str
    application_ack_type: str
    charset: str

    @property
    def message_type(self) -> str:
        """`ADT^A04` (code^event), or just the code when no event is given."""
        return (
            f"{self.message_code}^{self.trigger_event}" if self.trigger_event else self.message_code
        )

    @property
    def enhanced_mode(self) -> bool:
        """Enhanced acknowledgement mode: the sender filled MSH-15 or MSH-16."""
        return bool(self.accept_ack_type or self.application_ack_type)

    @property
    def sender(self) -> str:
        """`application|facility`: with MSH-10 it identifies a message for de-duplication."""
        return f"{self.sending_application}|{self.sending_facility}"


class Message:
    """One HL7 v2 message, split into segments and fields."""

    __slots__ = ("_header", "encoding", "segments", "text")

    def __init__(self, text: str, encoding: Encoding, segments: list[Segment]) -> None:
        self.text = text
        self.encoding = encoding
        self.segments = segments
        self._header: Header | None = None

    def __iter__(self) -> Iterator[Segment]:
        return iter(self.segments)

    def first(self, segment_id: str) -> Segment | None:
        for segment in self.segments:
            if segment.fields[0] == segment_id:
                return segment
        return None

    def all(self, segment_id: str) -> list[Segment]:
        return [s for s in self.segments if s.fields[0] == segment_id]

    @property
    def msh(self) -> Segment:
        return self.segments[0]

    @property
    def header(self) -> Header:
        if self._header is None:
            self._header = read_header(self.msh)
        return self._header


_VERSION = re.compile(r"2\.[1-9](?:\.\d{1,2})?")


def header_fields(msh: Segment) -> Header:
    """What an MSH segment says, as it is: no field is checked (see `read_header`)."""
    return Header(
        sending_application=msh.value(3, 1),
        sending_facility=msh.value(4, 1),
        receiving_application=msh.value(5, 1),
        receiving_facility=msh.value(6, 1),
        timestamp=msh.value(7, 1),
        message_code=msh.value(9, 1),
        trigger_event=msh.value(9, 2),
        structure=msh.value(9, 3),
        control_id=msh.value(10),
        processing_id=msh.value(11, 1),
        version=msh.value(12, 1),
        accept_ack_type=msh.value(15),
        application_ack_type=msh.value(16),
        charset=msh.value(18),
    )


def read_header(msh: Segment) -> Header:
    """Header fields of an MSH segment, checking the ones every message must have: MSH-9,
    MSH-10 and MSH-12 present (HL7 error 101 if not), and MSH-12 an HL7 v2 version, 2.1 to
    2.9.x (203 if not)."""

    def where(field: int, component: int | None = None) -> Location:
        return Location(segment_id="MSH", segment_index=msh.index, field=field, component=component)

    header = header_fields(msh)
    missing = ErrorCode.REQUIRED_FIELD_MISSING
    if not header.message_code:
        raise Hl7Error(where(9, 1), "expected a message type such as ADT^A04", "", missing)
    if not header.control_id:
        raise Hl7Error(where(10), "expected a message control id", "", missing)
    if not header.version:
        raise Hl7Error(where(12), "expected a version id such as 2.5.1", "", missing)
    if not _VERSION.fullmatch(header.version.strip()):
        raise Hl7Error(
            where(12),
            "an HL7 v2 version id (2.1 to 2.9.x, such as 2.5.1)",
            header.version,
            ErrorCode.UNSUPPORTED_VERSION,
        )
    return header


def split_lines(text: str) -> list[str]:
    """Segment lines: CR is the standard terminator; LF and CRLF are accepted too."""
    if "\n" in text:
        return [line for line in _LINE_ENDS.split(text) if line]
    return [line for line in text.split("\r") if line]


def parse_message(text: str) -> Message:
    """Split a message; the first segment must be MSH. Raises Hl7Error with a location."""
    lines = split_lines(text)
    if not lines:
        raise Hl7Error(Location(), "expected a message starting with MSH", "")
    first = lines[0].lstrip()
    if not first.startswith("MSH"):
        raise Hl7Error(
            Location(segment_index=1), "expected the message to start with MSH", first[:3]
        )
    encoding = Encoding.from_header(first)
    return _segments(text, [first, *lines[1:]], encoding)


def _segments(text: str, lines: list[str], encoding: Encoding) -> Message:
    sep = encoding.field
    segments: list[Segment] = []
    for index, line in enumerate(lines, start=1):
        fields = line.split(sep)
        seg_id = fields[0]
        if not _SEGMENT_ID.match(seg_id):
            raise Hl7Error(
                Location(segment_index=index),
                "expected a segment id of 3 capital letters or digits",
                seg_id[:10],
            )
        segments.append(Segment(fields, encoding, index))
    return Message(text, encoding, segments)


@dataclass(frozen=True, slots=True)
class Batch:
    """An HL7 batch file (FHS / BHS ... BTS / FTS) or a single message.

    `messages` are the message texts in order (CR-terminated segments); `header` is the
    FHS or BHS segment when there was one.
    """

    messages: tuple[str, ...]
    header: Segment | None
    declared_count: int | None

    @property
    def is_batch(self) -> bool:
        return self.header is not None


def split_batch(text: str) -> Batch:
    """Split a payload into messages. A payload without FHS / BHS is one message.

    BTS-1 (the batch's message count) is checked when present.
    """
    lines = split_lines(text)
    if not lines:
        raise Hl7Error(Location(), "expected a message starting with MSH", "")
    lines[0] = lines[0].lstrip()
    head = lines[0][:3]
    if head not in ("FHS", "BHS"):
        # No batch header: one message, or several back to back (a file of messages).
        # A message never holds a second MSH, so each MSH starts the next one; a stray
        # batch trailer (BTS / FTS without its header) is not part of any message.
        lines = [line for line in lines if line[:3] not in ("BTS", "FTS")]
        starts = [i for i, line in enumerate(lines) if line.startswith("MSH")] or [0]
        if starts[0] != 0:
            starts.insert(0, 0)
        bounds = [*starts, len(lines)]
        parts = tuple("\r".join(lines[a:b]) + "\r" for a, b in pairwise(bounds))
        return Batch(parts, None, None)
    encoding = Encoding.from_header(lines[0])
    header = Segment(lines[0].split(encoding.field), encoding, 1)
    messages: list[list[str]] = []
    declared: int | None = None
    for index, line in enumerate(lines, start=1):
        seg_id = line[:3]
        if seg_id in ("FHS", "BHS", "FTS"):
            continue
        if seg_id == "BTS":
            count = Segment(line.split(encoding.field), encoding, index).value(1)
            if count:
                if not count.isdigit():
                    raise Hl7Error(
                        Location(segment_id="BTS", segment_index=index, field=1),
                        "expected a message count",
                        count,
                    )
                declared = (declared or 0) + int(count)
            continue
        if seg_id == "MSH":
            messages.append([line])
        elif messages:
            messages[-1].append(line)
        else:
            raise Hl7Error(
                Location(segment_id=seg_id, segment_index=index),
                "expected MSH after the batch header",
                seg_id,
            )
    if declared is not None and declared != len(messages):
        raise Hl7Error(
            Location(segment_id="BTS", field=1),
            f"expected the batch count to equal the {len(messages)} messages sent",
            str(declared),
        )
    return Batch(tuple("\r".join(m) + "\r" for m in messages), header, declared)
