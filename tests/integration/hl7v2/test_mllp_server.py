"""The MLLP server over real TCP on 127.0.0.1: ordering, fragmentation, limits, failures, close."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest

from integration.hl7v2.mllp import Frame, MllpDecoder, frame
from integration.hl7v2.server import (
    Handler,
    MllpServer,
    OversizedHandler,
    ServerOptions,
    send_frames,
)

pytestmark = pytest.mark.timeout(10)

HOST = "127.0.0.1"
T = TypeVar("T")


class Running:
    """An `MllpServer` serving from its own event loop in a background thread."""

    def __init__(self, server: MllpServer, loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.loop = loop

    @property
    def port(self) -> int:
        return self.server.port

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def counters(self) -> dict[str, int]:
        async def read() -> dict[str, int]:
            s = self.server
            return {
                "connections": s.connections,
                "rejected": s.rejected,
                "frames_in": s.frames_in,
                "replies_out": s.replies_out,
                "junk_bytes": s.junk_bytes,
                "oversized": s.oversized,
            }

        return self.submit(read()).result(5)


@contextmanager
def running(
    handler: Handler,
    options: ServerOptions | None = None,
    on_oversized: OversizedHandler | None = None,
) -> Iterator[Running]:
    """The server on an ephemeral port until the block ends (tests may `close` it earlier)."""
    started = threading.Event()
    box: list[tuple[Running, asyncio.Event]] = []
    errors: list[BaseException] = []

    async def main() -> None:
        server = MllpServer(handler, options or ServerOptions(), on_oversized)
        await server.start(HOST, 0)
        stop = asyncio.Event()
        box.append((Running(server, asyncio.get_running_loop()), stop))
        started.set()
        await stop.wait()
        await server.close()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            errors.append(exc)
            started.set()

    thread = threading.Thread(target=run, name="mllp-test-server", daemon=True)
    thread.start()
    assert started.wait(5)
    assert not errors, errors
    srv, stop = box[0]
    try:
        yield srv
    finally:
        srv.loop.call_soon_threadsafe(stop.set)
        thread.join(5)
        assert not thread.is_alive()
        assert not errors, errors


def connect(port: int) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_frames(sock: socket.socket, count: int) -> list[bytes]:
    """Exactly `count` reply payloads (fails on end of connection or anything but frames)."""
    decoder = MllpDecoder()
    got: list[bytes] = []
    while len(got) < count:
        data = sock.recv(65536)
        assert data, f"connection closed after {len(got)} of {count} replies"
        for event in decoder.feed(data):
            assert isinstance(event, Frame), event
            got.append(event.payload)
    assert len(got) == count
    return got


def recv_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset counts as closed)."""
    chunks = []
    try:
        while data := sock.recv(65536):
            chunks.append(data)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


async def echo(payload: bytes, peer: str) -> bytes | None:
    assert peer.startswith("127.0.0.1:")
    if payload == b"no reply":
        return None
    return b"ACK " + payload


async def shuffled_echo(payload: bytes, peer: str) -> bytes | None:
    await asyncio.sleep(random.random() / 1000)  # interleave connections
    return b"ACK " + payload


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]


# --- traffic -------------------------------------------------------------------------------


def test_many_concurrent_connections_get_their_own_replies_in_order() -> None:
    clients, per_client = 50, 20
    with running(shuffled_echo) as srv:

        def client(c: int) -> tuple[list[bytes], list[bytes]]:
            sent = [f"MSH|client {c}|message {i}".encode() for i in range(per_client)]
            return sent, send_frames(HOST, srv.port, sent, timeout=5)

        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(client, range(clients)))
        counters = srv.counters()
    for sent, replies in results:
        assert replies == [b"ACK " + p for p in sent]
    assert counters["frames_in"] == counters["replies_out"] == clients * per_client


def test_pipelined_requests_on_one_connection_are_answered_in_order() -> None:
    with running(shuffled_echo) as srv, connect(srv.port) as sock:
        sock.sendall(b"".join(frame(b"m%d" % i) for i in range(200)))
        assert recv_frames(sock, 200) == [b"ACK m%d" % i for i in range(200)]


def test_frame_sent_byte_by_byte() -> None:
    data = frame(b"MSH|^~\\&|fragmented\rPID|1\r")
    with running(echo) as srv, connect(srv.port) as sock:
        for i in range(len(data)):
            sock.sendall(data[i : i + 1])
            time.sleep(0.002)
        assert recv_frames(sock, 1) == [b"ACK MSH|^~\\&|fragmented\rPID|1\r"]


def test_two_frames_in_one_sendall() -> None:
    with running(echo) as srv, connect(srv.port) as sock:
        sock.sendall(frame(b"first") + frame(b"second"))
        assert recv_frames(sock, 2) == [b"ACK first", b"ACK second"]


def test_junk_between_frames_is_discarded_and_counted() -> None:
    with running(echo) as srv:
        with connect(srv.port) as sock:
            sock.sendall(b"hello" + frame(b"a") + b"\r\n" + frame(b"b"))
            assert recv_frames(sock, 2) == [b"ACK a", b"ACK b"]
        assert srv.counters()["junk_bytes"] == 7


def test_handler_returning_none_sends_nothing_for_that_frame() -> None:
    with running(echo) as srv, connect(srv.port) as sock:
        sock.sendall(frame(b"no reply") + frame(b"x"))
        assert recv_frames(sock, 1) == [b"ACK x"]


# --- limits --------------------------------------------------------------------------------


async def too_big(size: int, peer: str) -> bytes | None:
    return b"NAK too big: %d" % size


def test_oversized_frame_gets_the_oversized_reply_and_the_connection_goes_on() -> None:
    options = ServerOptions(max_frame=1000)
    with running(echo, options, on_oversized=too_big) as srv:
        with connect(srv.port) as sock:
            sock.sendall(frame(b"x" * 5000))
            [nak] = recv_frames(sock, 1)
            assert nak.startswith(b"NAK too big: ")
            assert int(nak.rsplit(b" ", 1)[1]) > 1000
            sock.sendall(frame(b"normal"))
            assert recv_frames(sock, 1) == [b"ACK normal"]
            # an oversized frame spread over several sends, then a normal one
            sock.sendall(b"\x0b" + b"y" * 800)
            time.sleep(0.05)
            sock.sendall(b"y" * 800)
            time.sleep(0.05)
            sock.sendall(b"y" * 800 + b"\x1c\x0d" + frame(b"again"))
            [nak2, reply] = recv_frames(sock, 2)
            assert nak2.startswith(b"NAK too big: ")
            assert reply == b"ACK again"
        assert srv.counters()["oversized"] == 2


def test_oversized_frame_without_oversized_handler_gets_no_reply() -> None:
    with running(echo, ServerOptions(max_frame=10)) as srv, connect(srv.port) as sock:
        sock.sendall(frame(b"z" * 11) + frame(b"ok"))
        assert recv_frames(sock, 1) == [b"ACK ok"]


def test_idle_connection_is_closed_after_idle_timeout(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="integration.hl7v2.server")
    with running(echo, ServerOptions(idle_timeout=0.2)) as srv, connect(srv.port) as sock:
        assert send_frames(HOST, srv.port, [b"still works"]) == [b"ACK still works"]
        started = time.monotonic()
        sock.sendall(b"\x0bunfinished")
        assert recv_until_closed(sock) == b""
        assert 0.15 < time.monotonic() - started < 3
    messages = [r.getMessage() for r in caplog.records]
    assert any("idle timeout" in m for m in messages)
    assert any("unfinished frame" in m and "bytes=11" in m for m in messages)


def test_a_connection_that_keeps_sending_outlives_the_idle_timeout() -> None:
    """The idle timeout counts from the last read: frames every 0.1 s over 1 s, with a 0.3 s
    timeout, all answered on the one connection."""
    with running(echo, ServerOptions(idle_timeout=0.3)) as srv, connect(srv.port) as sock:
        for n in range(10):
            sock.sendall(frame(b"beat %d" % n))
            assert recv_frames(sock, 1) == [b"ACK beat %d" % n]
            time.sleep(0.1)
        assert srv.counters()["connections"] == 1


def test_a_handler_slower_than_the_idle_timeout_still_replies() -> None:
    """Only waiting for bytes is idle: a handler taking 0.5 s, with a 0.2 s timeout, replies
    and the connection goes on."""

    async def slow(payload: bytes, peer: str) -> bytes:
        await asyncio.sleep(0.5)
        return b"ACK " + payload

    with running(slow, ServerOptions(idle_timeout=0.2)) as srv, connect(srv.port) as sock:
        sock.sendall(frame(b"one"))
        assert recv_frames(sock, 1) == [b"ACK one"]
        sock.sendall(frame(b"two"))
        assert recv_frames(sock, 1) == [b"ACK two"]


def test_a_peer_not_reading_its_replies_is_closed_after_idle_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Replies of 256 KiB to a sender that never reads them: once the kernel's buffers and the
    transport's are full, the server waits at most idle_timeout, then closes."""
    caplog.set_level(logging.INFO, logger="integration.hl7v2.server")

    async def large(payload: bytes, peer: str) -> bytes:
        return b"A" * 262_144

    with running(large, ServerOptions(idle_timeout=0.3)) as srv, connect(srv.port) as sock:
        deadline = time.monotonic() + 8
        closed = False
        while time.monotonic() < deadline and not closed:
            try:
                sock.sendall(frame(b"more"))
            except OSError:  # reset once the server closed
                closed = True
            if not closed:
                counters = srv.counters()  # (connections is 0 until the server accepted)
                closed = counters["frames_in"] > 0 and counters["connections"] == 0
                time.sleep(0.01)
        assert closed
    messages = [r.getMessage() for r in caplog.records]
    assert any("peer not reading replies" in m for m in messages), messages


def test_connections_over_the_limit_are_closed_at_once(caplog: pytest.LogCaptureFixture) -> None:
    with (
        running(echo, ServerOptions(max_connections=2)) as srv,
        connect(srv.port) as a,
        connect(srv.port) as b,
    ):
        for sock in (a, b):  # both accepted and served
            sock.sendall(frame(b"hi"))
            assert recv_frames(sock, 1) == [b"ACK hi"]
        with connect(srv.port) as c:
            c.sendall(frame(b"over"))
            assert recv_until_closed(c) == b""
        assert srv.counters()["rejected"] == 1
        a.sendall(frame(b"still"))
        assert recv_frames(a, 1) == [b"ACK still"]
    assert any("refused" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


# --- end of connection and failures --------------------------------------------------------


def test_half_close_after_sending_still_gets_the_replies() -> None:
    with running(shuffled_echo) as srv, connect(srv.port) as sock:
        sock.sendall(frame(b"one") + frame(b"two"))
        sock.shutdown(socket.SHUT_WR)
        replies = MllpDecoder().feed(recv_until_closed(sock))
        assert replies == [Frame(b"ACK one"), Frame(b"ACK two")]


def test_handler_exception_closes_only_that_connection(caplog: pytest.LogCaptureFixture) -> None:
    async def fragile(payload: bytes, peer: str) -> bytes | None:
        if payload.startswith(b"boom"):
            raise ValueError(f"cannot parse {payload!r}")  # message holds patient data
        return b"ACK " + payload

    with running(fragile) as srv, connect(srv.port) as other:
        other.sendall(frame(b"before"))
        assert recv_frames(other, 1) == [b"ACK before"]
        with pytest.raises(ConnectionError):
            send_frames(HOST, srv.port, [b"fine", b"boom PID|Smith^Jane"])
        other.sendall(frame(b"after"))
        assert recv_frames(other, 1) == [b"ACK after"]
        assert send_frames(HOST, srv.port, [b"new"]) == [b"ACK new"]
    [failure] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "ValueError" in failure.getMessage()
    assert failure.exc_info is None
    assert "Smith" not in caplog.text and "boom" not in caplog.text


def test_peer_reset_is_logged_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="integration.hl7v2.server")
    handler_started = threading.Event()

    async def slow(payload: bytes, peer: str) -> bytes | None:
        handler_started.set()
        await asyncio.sleep(0.2)
        return b"ACK " + payload

    with running(slow) as srv:
        sock = connect(srv.port)
        sock.sendall(frame(b"then reset"))
        assert handler_started.wait(5)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # RST
        deadline = time.monotonic() + 3
        while srv.counters()["connections"] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert srv.counters()["connections"] == 0
        assert send_frames(HOST, srv.port, [b"next"]) == [b"ACK next"]
    no_errors_logged(caplog)
    assert any("connection lost" in r.getMessage() for r in caplog.records)


def test_reply_holding_framing_bytes_closes_the_connection() -> None:
    async def broken(payload: bytes, peer: str) -> bytes | None:
        return b"bad \x0b reply"

    with running(broken) as srv, pytest.raises(ConnectionError):
        send_frames(HOST, srv.port, [b"x"])


# --- close ---------------------------------------------------------------------------------


def test_close_waits_for_the_handler_in_flight_and_delivers_its_reply() -> None:
    handler_started = threading.Event()

    async def slow(payload: bytes, peer: str) -> bytes | None:
        handler_started.set()
        await asyncio.sleep(0.3)
        return b"ACK " + payload

    with running(slow) as srv, connect(srv.port) as busy, connect(srv.port) as idle:
        assert send_frames(HOST, srv.port, [b"warm up"]) == [b"ACK warm up"]
        handler_started.clear()
        busy.sendall(frame(b"slow one"))
        assert handler_started.wait(5)
        closing = srv.submit(srv.server.close())
        assert recv_frames(busy, 1) == [b"ACK slow one"]
        assert recv_until_closed(busy) == b""
        assert recv_until_closed(idle) == b""
        closing.result(5)
        with pytest.raises(ConnectionRefusedError):
            send_frames(HOST, srv.port, [b"too late"], timeout=1)


def test_close_does_not_wait_for_idle_connections() -> None:
    with running(echo, ServerOptions(idle_timeout=60)) as srv, connect(srv.port) as idle:
        idle.sendall(frame(b"hi"))
        assert recv_frames(idle, 1) == [b"ACK hi"]
        started = time.monotonic()
        srv.submit(srv.server.close()).result(5)
        assert time.monotonic() - started < 1
        assert recv_until_closed(idle) == b""


def test_serve_forever_returns_after_close() -> None:
    async def scenario() -> None:
        server = MllpServer(echo)
        with pytest.raises(RuntimeError):
            _ = server.port
        await server.start(HOST, 0)
        port = server.port
        assert port > 0
        forever = asyncio.create_task(server.serve_forever())
        reply = await asyncio.to_thread(send_frames, HOST, port, [b"x"])
        assert reply == [b"ACK x"]
        await server.close()
        await asyncio.wait_for(forever, 2)
        assert server.port == port
        await server.close()  # again: nothing to do

    asyncio.run(scenario())
