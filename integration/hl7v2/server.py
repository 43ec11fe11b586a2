"""A generic asyncio MLLP server: frames in, the handler's replies out. Knows nothing about HL7.

Each connection is served one frame at a time: the handler is awaited for a frame, its reply is
written and drained, then the next frame is handed over, so replies come in request order.
Logs carry peers, counts and lengths, never payload bytes (they are patient data).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from integration.hl7v2.mllp import Frame, Junk, MllpDecoder, Oversized, frame

log = logging.getLogger(__name__)

Reply = bytes | tuple[bytes, ...] | None
Handler = Callable[[bytes, str], Awaitable[Reply]]
"""(payload, peer "ip:port") -> the reply payload (the server frames it), several payloads
(each framed, in order: an enhanced-mode accept ACK then the application ACK), or None."""
OversizedHandler = Callable[[int, str], Awaitable[bytes | None]]
"""(bytes seen, peer) -> the reply payload for a frame over `max_frame`, or None."""


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """Limits of an `MllpServer`: bytes, seconds, connection count."""

    max_frame: int = 1_048_576
    idle_timeout: float = 300.0
    max_connections: int = 256
    read_size: int = 65536


class _Connection:
    __slots__ = ("reading", "writer")

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.reading = False  # waiting for bytes (not inside a handler or a write)


class _Close(Exception):
    """End this connection (already logged)."""


class MllpServer:
    """MLLP listener calling `handler` for each frame; `start`, then `serve_forever` or `close`.

    Counters (read them from the server's event loop, or after it stopped): `connections` open
    now, `rejected` connections over `max_connections`, `frames_in` frames handed to the handler,
    `replies_out` replies written, `junk_bytes` discarded outside frames (unfinished frames at
    EOF included), `oversized` frames over `max_frame`.
    """

    def __init__(
        self,
        handler: Handler,
        options: ServerOptions = ServerOptions(),
        on_oversized: OversizedHandler | None = None,
    ) -> None:
        self._handler = handler
        self._options = options
        self._on_oversized = on_oversized
        self._server: asyncio.Server | None = None
        self._port: int | None = None
        self._conns: dict[asyncio.Task[None], _Connection] = {}
        self._closing = False
        self._closed: asyncio.Event | None = None
        self.connections = 0
        self.rejected = 0
        self.frames_in = 0
        self.replies_out = 0
        self.junk_bytes = 0
        self.oversized = 0

    async def start(self, host: str, port: int) -> None:
        """Listen on `host`:`port` (0 picks a free port: see `port`)."""
        if self._server is not None:
            raise RuntimeError("MllpServer.start: already started")
        self._closed = asyncio.Event()
        self._server = await asyncio.start_server(self._accept, host, port)
        self._port = self._server.sockets[0].getsockname()[1]
        log.info("mllp listening host=%s port=%d", host, self.port)

    @property
    def port(self) -> int:
        """The port bound by `start` (the one picked when started with port 0)."""
        if self._port is None:
            raise RuntimeError("MllpServer.port: call start first")
        return self._port

    async def serve_forever(self) -> None:
        """Return once `close` has finished; if cancelled, `close` first."""
        if self._closed is None:
            raise RuntimeError("MllpServer.serve_forever: call start first")
        try:
            await self._closed.wait()
        except asyncio.CancelledError:
            await self.close()
            raise

    async def close(self) -> None:
        """Stop accepting; let handlers in flight finish and their replies be written; close all.

        Connections waiting for bytes are closed at once (a partial frame is logged and dropped);
        frames already read but not yet handed to the handler are dropped unanswered (the sender
        resends what it has no reply for). Waits as long as the slowest handler in flight.
        """
        if self._server is None or self._closed is None:
            return
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        self._server.close()
        for conn in self._conns.values():
            if conn.reading:
                conn.writer.close()  # the pending read then sees EOF
        while self._conns:
            await asyncio.wait(list(self._conns))
        await self._server.wait_closed()
        self._closed.set()
        log.info("mllp closed port=%s", self._port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer(writer)
        if self._closing or self.connections >= self._options.max_connections:
            self.rejected += 1
            log.warning(
                "mllp connection refused peer=%s open=%d max_connections=%d closing=%s",
                peer,
                self.connections,
                self._options.max_connections,
                self._closing,
            )
            await _close_writer(writer)
            return
        task = asyncio.current_task()
        assert task is not None
        conn = _Connection(writer)
        self._conns[task] = conn
        self.connections += 1
        log.info("mllp connection open peer=%s open=%d", peer, self.connections)
        try:
            await self._serve(reader, conn, peer)
        except _Close:
            pass
        except OSError as exc:  # reset by peer, broken pipe
            log.info("mllp connection lost peer=%s error=%s", peer, type(exc).__name__)
        except Exception as exc:
            log.error(
                "mllp connection failed peer=%s error=%s at %s",
                peer,
                type(exc).__name__,
                _where(exc),
            )
        finally:
            self.connections -= 1
            del self._conns[task]
            await _close_writer(writer)
            log.info("mllp connection closed peer=%s open=%d", peer, self.connections)

    async def _serve(self, reader: asyncio.StreamReader, conn: _Connection, peer: str) -> None:
        decoder = MllpDecoder(self._options.max_frame)
        read_size = self._options.read_size
        idle_timeout = self._options.idle_timeout
        task = asyncio.current_task()
        assert task is not None
        deadline = _ReadDeadline(asyncio.get_running_loop(), task, idle_timeout)
        try:
            while not self._closing:
                conn.reading = True
                deadline.start()
                try:
                    data = await reader.read(read_size)
                except asyncio.CancelledError:
                    if not deadline.expired():
                        raise
                    log.info("mllp idle timeout peer=%s idle_timeout=%s", peer, idle_timeout)
                    data = b""
                finally:
                    conn.reading = False
                    deadline.stop()
                if not data:
                    partial = decoder.eof()
                    if partial is not None:
                        self.junk_bytes += partial.size
                        log.warning(
                            "mllp unfinished frame dropped at end of input peer=%s bytes=%d",
                            peer,
                            partial.size,
                        )
                    return
                for event in decoder.feed(data):
                    if self._closing:
                        return
                    await self._on_event(event, conn.writer, peer)
        finally:
            deadline.close()

    async def _on_event(
        self, event: Frame | Oversized | Junk, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        if isinstance(event, Frame):
            self.frames_in += 1
            payload = event.payload
            reply = await self._call("handler", lambda: self._handler(payload, peer), peer)
        elif isinstance(event, Oversized):
            self.oversized += 1
            log.warning(
                "mllp frame over max_frame peer=%s bytes_seen=%d max_frame=%d",
                peer,
                event.size,
                self._options.max_frame,
            )
            if self._on_oversized is None:
                return
            on_oversized, size = self._on_oversized, event.size
            reply = await self._call("on_oversized", lambda: on_oversized(size, peer), peer)
        else:
            self.junk_bytes += event.size
            log.info("mllp junk outside frames discarded peer=%s bytes=%d", peer, event.size)
            return
        if not reply:
            return
        try:
            framed = b"".join(frame(r) for r in (reply if isinstance(reply, tuple) else (reply,)))
        except ValueError:
            log.error("mllp reply holds MLLP framing bytes peer=%s; connection closed", peer)
            raise _Close from None
        writer.write(framed)
        if not writer.transport.get_write_buffer_size():
            self.replies_out += 1  # all of it handed to the kernel: nothing to wait for
            return
        try:
            async with asyncio.timeout(self._options.idle_timeout):
                await writer.drain()
        except TimeoutError:
            log.warning(
                "mllp peer not reading replies peer=%s idle_timeout=%s; connection closed",
                peer,
                self._options.idle_timeout,
            )
            raise _Close from None
        self.replies_out += 1

    async def _call(self, what: str, call: Callable[[], Awaitable[Reply]], peer: str) -> Reply:
        """Await a handler; on an exception log its type and place only, and end the connection."""
        try:
            return await call()
        except Exception as exc:
            log.error(
                "mllp %s raised %s at %s peer=%s; connection closed without a reply",
                what,
                type(exc).__name__,
                _where(exc),
                peer,
            )
            raise _Close from None


class _ReadDeadline:
    """Ends a connection's read that has waited `seconds` for bytes: one timer per connection,
    re-armed only when it fires. (`asyncio.timeout` around each read, and around each drain,
    made and cancelled a timer for every frame: bench/mllp_server.py measured 28-35 us of the
    server's CPU per frame with them on uvloop, 18-27 us without.)

    `start` before awaiting the read, `stop` after it; when the timer finds the read waiting
    past the deadline it cancels the connection's task, and `expired` (asked on the
    CancelledError) says it was the deadline, not a cancellation from elsewhere.
    """

    __slots__ = ("_fired", "_handle", "_loop", "_reading", "_seconds", "_since", "_task")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any], seconds: float
    ) -> None:
        self._loop, self._task, self._seconds = loop, task, seconds
        self._since = loop.time()
        self._reading = False
        self._fired = False
        self._handle: asyncio.TimerHandle | None = None
        if math.isfinite(seconds):
            self._handle = loop.call_at(self._since + seconds, self._check)

    def start(self) -> None:
        self._since = self._loop.time()
        self._reading = True

    def stop(self) -> None:
        self._reading = False

    def expired(self) -> bool:
        """On a CancelledError from the read: True if the deadline caused it and nothing else
        cancelled the task (then the cancellation is withdrawn)."""
        if not self._fired:
            return False
        self._fired = False
        return self._task.uncancel() == 0

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _check(self) -> None:
        now = self._loop.time()
        due = self._since + self._seconds if self._reading else now + self._seconds
        if self._reading and due <= now:
            self._fired = True
            self._handle = None
            self._task.cancel()
            return
        self._handle = self._loop.call_at(due, self._check)


def _peer(writer: asyncio.StreamWriter) -> str:
    address = writer.get_extra_info("peername")
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(address)


def _where(exc: BaseException) -> str:
    """File:line:function of the innermost frame of `exc` (no message: it may hold payload)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename}:{last.lineno}:{last.name}"


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


def send_frames(
    host: str, port: int, payloads: Sequence[bytes], timeout: float = 10.0
) -> list[bytes]:
    """Send each payload framed on one TCP connection and wait for its framed reply (blocking).

    Returns the replies' payloads. Raises ConnectionError if the server closes before replying,
    TimeoutError if `timeout` seconds pass without a byte from it, ValueError on anything but
    exactly one reply frame per message.
    """
    decoder = MllpDecoder()
    replies: list[bytes] = []
    with socket.create_connection((host, port), timeout=timeout) as sock:
        for payload in payloads:
            sock.sendall(frame(payload))
            reply: bytes | None = None
            while reply is None:
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError(
                        f"MLLP {host}:{port}: expected a reply to message {len(replies) + 1}, "
                        "got end of connection"
                    )
                for event in decoder.feed(data):
                    if not isinstance(event, Frame):
                        raise ValueError(
                            f"MLLP {host}:{port}: expected a reply frame, got {event!r}"
                        )
                    if reply is not None:
                        raise ValueError(
                            f"MLLP {host}:{port}: expected one reply to message "
                            f"{len(replies) + 1}, got more"
                        )
                    reply = event.payload
            replies.append(reply)
    return replies
