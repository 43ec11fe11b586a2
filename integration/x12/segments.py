"""Segments: tokenizing an interchange and building segments with given delimiters.

`iter_segments` yields `Segment(id, elements, index)` one at a time; elements keep their raw text
so components (`Segment.components`) and repetitions (`Segment.repetitions`) stay splittable.
Line breaks (CR, LF, CRLF) after segment terminators and whitespace around segments are skipped.
`iter_segments_from` does the same over an iterable of text chunks (a file read piecewise): it
keeps only the unfinished segment between chunks, so memory stays bounded by the longest segment.

`build_segment` writes one segment: an element is a `str`, a composite (`tuple` of components)
or a repetition (`list` of simple or composite values). It refuses, with a located error, a value
that contains a delimiter character; trailing empty elements and components are dropped.

Binary data (BIN): BIN01 is "the length in integral octets of the binary data" and BIN02 "a
string of octets which can assume any binary pattern from hexadecimal 00 to FF" (X12 BIN segment,
stedi.com/edi/x12-005020/segment/BIN), so BIN02 may hold every delimiter. The tokenizers take a
segment that starts with `BIN` and an element separator as BIN01 digits, the separator, exactly
BIN01 characters and the segment terminator; when the declared length does not end on a segment
terminator (or runs past the end of the text) the segment is split the ordinary way, so the
reader of the transaction reports the mismatch where it is. Binary is carried one character per
octet (Latin-1): `envelope.decode` decodes from the first BIN segment on as Latin-1 and
`envelope.encode` writes it back the same way. `build_segment` writes BIN02 as is, after checking
that BIN01 is its length and that it holds only octets. Text without a BIN segment is tokenized
by the same fast split as before.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from integration.x12.delimiters import Delimiters, strip_preamble
from integration.x12.errors import Problem, X12Error

Composite = tuple[str, ...]
ElementValue = str | Composite | list[str | Composite]

_SURROUNDING = " \t\r\n"
BINARY_SEGMENT = "BIN"  # BIN01 length in octets, BIN02 the octets (any byte, delimiters included)
_MAX_BINARY_LENGTH_DIGITS = 15  # BIN01 is N0 1/15


@dataclass(frozen=True, slots=True)
class Segment:
    id: str
    elements: tuple[str, ...]  # raw text of element 1..n (index 0 is element 01)
    index: int  # 0-based position in the interchange (ISA = 0)
    delimiters: Delimiters

    def get(self, position: int) -> str:
        """Raw text of element `position` (1-based); '' when absent."""
        if position > 0:
            try:
                return self.elements[position - 1]
            except IndexError:
                pass
        return ""

    def components(self, position: int) -> tuple[str, ...]:
        raw = self.get(position)
        return tuple(raw.split(self.delimiters.component)) if raw else ()

    def component(self, position: int, sub: int) -> str:
        comps = self.components(position)
        return comps[sub - 1] if 0 < sub <= len(comps) else ""

    def repetitions(self, position: int) -> tuple[str, ...]:
        raw = self.get(position)
        if not raw:
            return ()
        rep = self.delimiters.repetition
        return tuple(raw.split(rep)) if rep else (raw,)

    def name(self, position: int) -> str:
        """Element reference such as 'UM01'."""
        return f"{self.id}{position:02d}"

    def values(self) -> list[ElementValue]:
        """The elements as `build_segment` takes them (repetitions as lists, composites as
        tuples), so a read segment can be written back with other delimiters."""
        d = self.delimiters
        if self.id == BINARY_SEGMENT:
            return list(self.elements)  # BIN02 is octets: never split on a delimiter
        out: list[ElementValue] = []
        for raw in self.elements:
            reps = raw.split(d.repetition) if d.repetition and d.repetition in raw else [raw]
            parts: list[str | Composite] = [
                tuple(r.split(d.component)) if d.component in r else r for r in reps
            ]
            out.append(parts if len(parts) > 1 else parts[0])
        return out


# Building a Segment without its dataclass __init__ (frozen: one object.__setattr__ per field):
# the same object, in half the time; the tokenizers build one per segment.
_new = object.__new__
_set_id = Segment.__dict__["id"].__set__
_set_elements = Segment.__dict__["elements"].__set__
_set_index = Segment.__dict__["index"].__set__
_set_delimiters = Segment.__dict__["delimiters"].__set__


def _segment(parts: list[str], index: int, delimiters: Delimiters) -> Segment:
    seg = _new(Segment)
    _set_id(seg, parts[0])
    _set_elements(seg, tuple(parts[1:]))
    _set_index(seg, index)
    _set_delimiters(seg, delimiters)
    return seg


def iter_segments(text: str, delimiters: Delimiters, start_index: int = 0) -> Iterator[Segment]:
    """Yield the segments of `text` (which starts with the ISA, after any BOM/whitespace)."""
    body = strip_preamble(text)
    index = start_index
    elem = delimiters.element
    if BINARY_SEGMENT + elem in body:
        parts, _ = _split_binary_aware(body, delimiters, final=True)
        for part in parts:
            yield _segment(part, index, delimiters)
            index += 1
        return
    for chunk in body.split(delimiters.segment):
        raw = chunk.strip(_SURROUNDING)
        if not raw:
            continue
        yield _segment(raw.split(elem), index, delimiters)
        index += 1


def iter_segments_from(
    chunks: Iterable[str], delimiters: Delimiters, start_index: int = 0
) -> Iterator[Segment]:
    """Yield the segments of the text made of `chunks`, each as soon as its terminator arrives.

    The result equals `iter_segments("".join(chunks), delimiters, start_index)`; a chunk may end
    anywhere (inside a segment, an element, or a CR LF pair).
    """
    index = start_index
    pending = ""
    started = False
    term, elem = delimiters.segment, delimiters.element
    marker = BINARY_SEGMENT + elem
    for chunk in chunks:
        if not chunk:
            continue
        if not started:
            chunk = strip_preamble(chunk)
            if not chunk:
                continue
            started = True
        pending += chunk
        if marker in pending:
            # a BIN segment: its length, not its terminator, says where it ends; the rest waits
            # for more text (memory is bounded by the longest binary payload)
            split, pending = _split_binary_aware(pending, delimiters, final=False)
            for elements in split:
                yield _segment(elements, index, delimiters)
                index += 1
            continue
        if term not in chunk:
            continue
        parts = pending.split(term)
        pending = parts.pop()
        for part in parts:
            raw = part.strip(_SURROUNDING)
            if not raw:
                continue
            yield _segment(raw.split(elem), index, delimiters)
            index += 1
    if marker in pending:
        split, _ = _split_binary_aware(pending, delimiters, final=True)
        for elements in split:
            yield _segment(elements, index, delimiters)
            index += 1
        return
    raw = pending.strip(_SURROUNDING)
    if raw:
        yield _segment(raw.split(elem), index, delimiters)


def _binary_end(text: str, pos: int, delimiters: Delimiters) -> tuple[int, int] | None:
    """For a BIN segment starting at `pos`: (end of BIN01, end of BIN02) when BIN01 is a length
    and the text holds that many characters after it; None when it is not (yet) one."""
    start = pos + len(BINARY_SEGMENT) + 1
    length_end = text.find(delimiters.element, start)
    if length_end < 0:
        return None
    digits = text[start:length_end]
    if not (digits.isascii() and digits.isdigit()) or len(digits) > _MAX_BINARY_LENGTH_DIGITS:
        return None
    return length_end, length_end + 1 + int(digits)


def _split_binary_aware(
    text: str, delimiters: Delimiters, *, final: bool
) -> tuple[list[list[str]], str]:
    """The segments of `text` as element lists, BIN segments cut by their BIN01 length, and the
    unfinished rest (kept for more text unless `final`). Equals the fast split on text without
    a BIN segment."""
    term, elem = delimiters.segment, delimiters.element
    marker = BINARY_SEGMENT + elem
    out: list[list[str]] = []
    pos, size = 0, len(text)
    while True:
        while pos < size and (text[pos] == term or text[pos] in _SURROUNDING):
            pos += 1
        if pos >= size:
            return out, ""
        if text.startswith(marker, pos):
            bounds = _binary_end(text, pos, delimiters)
            if bounds is None and not final and text.find(elem, pos + len(marker)) < 0:
                return out, text[pos:]  # BIN01 not complete yet
            if bounds is not None:
                length_end, data_end = bounds
                if data_end >= size and not final:
                    return out, text[pos:]  # the payload or its terminator has not arrived
                if data_end < size and text[data_end] == term:
                    start = pos + len(marker)
                    out.append(
                        [BINARY_SEGMENT, text[start:length_end], text[length_end + 1 : data_end]]
                    )
                    pos = data_end + 1
                    continue
            # not a usable length: split at the terminator; the transaction reader reports it
        end = text.find(term, pos)
        if end < 0:
            if not final:
                return out, text[pos:]
            end = size
        raw = text[pos:end].strip(_SURROUNDING)
        if raw:
            out.append(raw.split(elem))
        pos = end + 1


def ccyymmdd(raw: str) -> date | None:
    """`raw` as a date CCYYMMDD, None when it is not one; accepts exactly what
    `datetime.strptime(raw, "%Y%m%d")` accepts for 8 digits, without its regex machinery."""
    if len(raw) != 8 or not raw.isdigit():
        return None
    try:
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        return None


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a whole transaction is read into models.

    A read allocates hundreds of thousands of objects that all stay alive until it returns, and
    creates no reference cycles (all its garbage is freed by reference counting); the collector's
    full passes over that growing heap found nothing and took 30-50% of the read's CPU time.
    The collector is re-enabled on exit only if it was enabled on entry, so a program that
    disabled it keeps it disabled; other threads' cyclic garbage waits at most one read.
    Not for generators that yield to their caller (the caller's code would run without it)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def tokenize(text: str, delimiters: Delimiters) -> list[Segment]:
    return list(iter_segments(text, delimiters))


def _check_value(
    value: str,
    delimiters: Delimiters,
    segment_id: str,
    position: int,
    sub: int | None,
    index: int | None,
) -> None:
    names = {
        delimiters.element: "element separator",
        delimiters.component: "component separator",
        delimiters.segment: "segment terminator",
    }
    if delimiters.repetition is not None:
        names[delimiters.repetition] = "repetition separator"
    for char, label in names.items():
        if char in value:
            raise X12Error(
                [
                    Problem(
                        segment_id=segment_id,
                        segment_index=index,
                        element=f"{segment_id}{position:02d}",
                        component=sub,
                        message=f"expected a value without the {label} {char!r}, got {value!r}",
                    )
                ]
            )


def _composite(
    values: Composite, delimiters: Delimiters, segment_id: str, position: int, index: int | None
) -> str:
    comps = list(values)
    while comps and comps[-1] == "":
        comps.pop()
    for sub, comp in enumerate(comps, start=1):
        _check_value(comp, delimiters, segment_id, position, sub, index)
    return delimiters.component.join(comps)


def _octets(data: str) -> bool:
    try:
        data.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _check_binary(elements: Sequence[ElementValue], data: str, index: int | None) -> None:
    """BIN02 written as is: BIN01 must be its length, and each character one octet."""
    declared = elements[0] if elements else ""
    problems: list[Problem] = []
    if declared != str(len(data)):
        problems.append(
            Problem(
                segment_id=BINARY_SEGMENT,
                segment_index=index,
                element="BIN01",
                message=f"expected the length of BIN02 ({len(data)} octets), got {declared!r}",
            )
        )
    if not _octets(data):
        problems.append(
            Problem(
                segment_id=BINARY_SEGMENT,
                segment_index=index,
                element="BIN02",
                message="expected octets (one character 0x00-0xFF each), got a wider character",
            )
        )
    if problems:
        raise X12Error(problems)


def build_segment(
    segment_id: str,
    elements: Sequence[ElementValue],
    delimiters: Delimiters,
    index: int | None = None,
) -> str:
    """One segment, terminator included; X12Error (located at `index`) on a delimiter in a value."""
    rendered: list[str] = []
    for position, value in enumerate(elements, start=1):
        if segment_id == BINARY_SEGMENT and position == 2 and isinstance(value, str):
            _check_binary(elements, value, index)
            rendered.append(value)
            continue
        if isinstance(value, str):
            _check_value(value, delimiters, segment_id, position, None, index)
            rendered.append(value)
        elif isinstance(value, tuple):
            rendered.append(_composite(value, delimiters, segment_id, position, index))
        else:
            if delimiters.repetition is None and len(value) > 1:
                raise X12Error(
                    [
                        Problem(
                            segment_id=segment_id,
                            segment_index=index,
                            element=f"{segment_id}{position:02d}",
                            message="expected one value (the interchange has no repetition separator), "
                            f"got {len(value)}",
                        )
                    ]
                )
            reps: list[str] = []
            for rep in value:
                if isinstance(rep, tuple):
                    reps.append(_composite(rep, delimiters, segment_id, position, index))
                else:
                    _check_value(rep, delimiters, segment_id, position, None, index)
                    reps.append(rep)
            rendered.append((delimiters.repetition or "").join(reps))
    while rendered and rendered[-1] == "":
        rendered.pop()
    return delimiters.element.join([segment_id, *rendered]) + delimiters.segment


def render_raw(segment: Segment, delimiters: Delimiters | None = None) -> str:
    """A tokenized segment back to text (no value checks: its raw elements hold separators)."""
    d = delimiters or segment.delimiters
    return d.element.join([segment.id, *segment.elements]) + d.segment
