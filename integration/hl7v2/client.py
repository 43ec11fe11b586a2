"""A small blocking MLLP sender for `dermrcm hl7 send`, the benchmark and tests.

Original mode gets exactly one ACK per message. In enhanced mode (MSH-15 / MSH-16) the
receiver may send an accept ACK, an application ACK, both or neither, so the client takes
what arrives until the line has been quiet for `quiet` seconds.
"""

from __future__ import annotations

import socket
import time
from types import TracebackType

from integration.hl7v2.mllp import Frame, MllpDecoder, frame


class MllpClient:
    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.decoder = MllpDecoder(max_frame=64 * 1024 * 1024)
        self.pending: list[bytes] = []

    def __enter__(self) -> MllpClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, payload: bytes, expect: int | None = 1, quiet: float = 0.5) -> list[bytes]:
        """Send one message; `expect` replies (None: until `quiet` seconds pass with none)."""
        self.sock.sendall(frame(payload))
        replies: list[bytes] = []
        deadline = time.monotonic() + self.timeout
        while expect is None or len(replies) < expect:
            if self.pending:
                replies.append(self.pending.pop(0))
                continue
            wait = quiet if expect is None else max(0.01, deadline - time.monotonic())
            self.sock.settimeout(wait)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                if expect is None:
                    break
                raise TimeoutError(
                    f"expected {expect} ACK(s), got {len(replies)} in {self.timeout}s"
                ) from None
            if not data:
                raise ConnectionError(f"connection closed after {len(replies)} of the ACKs")
            self.pending.extend(e.payload for e in self.decoder.feed(data) if isinstance(e, Frame))
        return replies


def expected_acks(payload: bytes) -> int | None:
    """1 in original mode; None (take what comes) when MSH-15 / MSH-16 ask for enhanced mode."""
    first = payload.split(b"\r", 1)[0].split(b"\n", 1)[0]
    if len(first) < 4:
        return 1
    fields = first.split(first[3:4])
    accept = fields[14] if len(fields) > 14 else b""
    application = fields[15] if len(fields) > 15 else b""
    return None if (accept or application) else 1
