"""MLLP framing: bytes in, frames out. Pure (no I/O) and knows nothing about HL7.

A frame is START (0x0B), the payload, END (0x1C 0x0D): the Minimal Lower Layer Protocol of
HL7 v2, Appendix C (Lower Layer Protocols), and "MLLP Release 1" in the HL7 Transport
Specification. Payloads and junk are patient data: the events' reprs show lengths only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

START = b"\x0b"
END = b"\x1c\x0d"
JUNK_PREVIEW = 64
"""At most this many bytes of junk are kept in a `Junk` event (its `size` counts them all)."""

_FS = 0x1C
_CR = 0x0D
_OUTSIDE, _IN_FRAME, _DISCARDING = 0, 1, 2


def frame(payload: bytes) -> bytes:
    """`payload` as one MLLP frame; ValueError if it holds START or END (it could not be read)."""
    if START in payload or END in payload:
        raise ValueError("MLLP payload: expected no 0x0B and no 0x1C 0x0D, got one")
    return START + payload + END


@dataclass(frozen=True, slots=True, repr=False)
class Frame:
    """One complete frame's payload, START and END removed."""

    payload: bytes

    def __repr__(self) -> str:
        return f"Frame(<{len(self.payload)} bytes>)"


@dataclass(frozen=True, slots=True)
class Oversized:
    """A frame longer than `max_frame`; `size` is the payload bytes seen when the decoder gave up.

    The decoder gives up as soon as the frame exceeds `max_frame`, so `size` is more than
    `max_frame` and at most the frame's full length (the full length when the whole frame came
    in one `feed`). The rest of that frame is discarded without further events.
    """

    size: int


@dataclass(frozen=True, slots=True, repr=False)
class Junk:
    """Discarded bytes outside any complete frame; `data` is the first `JUNK_PREVIEW` of `size`."""

    data: bytes
    size: int

    def __repr__(self) -> str:
        return f"Junk(<{self.size} bytes>)"


Event: TypeAlias = Frame | Oversized | Junk


class MllpDecoder:
    """Incremental MLLP decoder: `feed` it reads as they come, act on the events it returns.

    - Bytes before a START (before the first frame or between frames) become one `Junk` per
      `feed` call in which they occur.
    - A START inside a frame abandons the partial frame: it is reported as `Junk` (its START
      byte included) and a new frame begins. A START also ends the discarding of an oversized
      frame, so a sender that never finishes one frame does not lose the next.
    - A 0x1C not followed by 0x0D is payload.
    - END may be split across reads anywhere, including between 0x1C and 0x0D.
    - It holds at most `max_frame` bytes plus one `feed` of a frame in progress.
    """

    __slots__ = ("_buf", "_fs_pending", "_state", "max_frame")

    def __init__(self, max_frame: int = 1_048_576) -> None:
        if max_frame < 1:
            raise ValueError(f"max_frame: expected a positive number of bytes, got {max_frame}")
        self.max_frame = max_frame
        self._state = _OUTSIDE
        self._buf = bytearray()  # payload so far of the frame being read, across feeds
        self._fs_pending = False  # discarding, and the last byte seen was 0x1C

    def feed(self, data: bytes) -> list[Event]:
        """The events completed by `data`, in stream order."""
        events: list[Event] = []
        buf = self._buf
        max_frame = self.max_frame
        pos = 0
        n = len(data)
        while pos < n:
            state = self._state
            if state == _OUTSIDE:
                start = data.find(START, pos)
                stop = n if start < 0 else start
                if stop > pos:
                    events.append(
                        Junk(bytes(data[pos : min(stop, pos + JUNK_PREVIEW)]), stop - pos)
                    )
                if start < 0:
                    break
                pos = start + 1
                self._state = _IN_FRAME
            elif state == _IN_FRAME:
                if buf and buf[-1] == _FS and data[pos] == _CR:  # END split between two feeds
                    del buf[-1]
                    events.append(Frame(bytes(buf)))  # within max_frame: checked when buffered
                    buf.clear()
                    pos += 1
                    self._state = _OUTSIDE
                    continue
                end = data.find(END, pos)
                start = data.find(START, pos, n if end < 0 else end)
                if start >= 0:
                    preview = (
                        START + buf[: JUNK_PREVIEW - 1] + data[pos : min(start, pos + JUNK_PREVIEW)]
                    )
                    events.append(Junk(preview[:JUNK_PREVIEW], 1 + len(buf) + start - pos))
                    buf.clear()
                    pos = start + 1
                elif end >= 0:
                    size = len(buf) + end - pos
                    if size > max_frame:
                        events.append(Oversized(size))
                        buf.clear()
                    elif buf:
                        buf += data[pos:end]
                        events.append(Frame(bytes(buf)))
                        buf.clear()
                    else:
                        events.append(Frame(bytes(data[pos:end])))
                    pos = end + 2
                    self._state = _OUTSIDE
                else:
                    buf += data[pos:]
                    pos = n
                    trailing_fs = buf[-1] == _FS  # may be the first half of END
                    seen = len(buf) - trailing_fs
                    if seen > max_frame:
                        events.append(Oversized(seen))
                        buf.clear()
                        self._fs_pending = trailing_fs
                        self._state = _DISCARDING
            else:  # _DISCARDING the rest of an oversized frame
                fs_pending = self._fs_pending
                self._fs_pending = False
                if fs_pending and data[pos] == _CR:
                    pos += 1
                    self._state = _OUTSIDE
                    continue
                end = data.find(END, pos)
                start = data.find(START, pos, n if end < 0 else end)
                if start >= 0:
                    pos = start + 1
                    self._state = _IN_FRAME
                elif end >= 0:
                    pos = end + 2
                    self._state = _OUTSIDE
                else:
                    self._fs_pending = data[-1] == _FS
                    pos = n
        return events

    def eof(self) -> Junk | None:
        """Call when the peer has finished sending: the unfinished frame, if any, as `Junk`.

        The decoder is reset and may be fed again.
        """
        state = self._state
        buf = self._buf
        self._state = _OUTSIDE
        self._fs_pending = False
        junk = None
        if state == _IN_FRAME:
            junk = Junk(START + buf[: JUNK_PREVIEW - 1], 1 + len(buf))
        buf.clear()
        return junk
