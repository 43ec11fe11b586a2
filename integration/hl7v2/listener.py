"""The MLLP listener: frames from many connections -> one writer (group commit) -> ACKs.

Each frame waits in a queue with a future; one writer thread takes whatever has arrived (up to
`batch_size`), reads, maps, stores and applies it in one transaction (`Ingest.handle`) and
resolves the futures, so concurrent senders share a commit. A sender waits for its ACK before
sending again, so without a pause the senders split into two halves that take turns (8
connections, groups of 4): a group waits up to `group_wait` for every connection that sent in
the last `ACTIVE_WINDOW` seconds; a lone sender never waits (nor, for a while, do senders that
left a group waiting in vain). If the transaction fails, no ACK is sent and the connection is
closed: the sender keeps the message and resends.

Mapping stays on the writer thread. Done on the event loop as frames arrive, with only storing
on the writer, the two threads contend for the GIL on the listener's one core: 630-704 msg/s
against 718-733 this way (bench/hl7_ingest.py, SQLite, 8 connections)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from integration import native
from integration.hl7v2.ingest import Inbound, Ingest, Reply
from integration.hl7v2.metrics import Metrics
from integration.hl7v2.server import MllpServer, ServerOptions
from integration.hl7v2.server import Reply as WireReply

log = logging.getLogger(__name__)


EVENT_LOOPS = ("auto", "asyncio", "uvloop")
ACTIVE_WINDOW = 0.05  # seconds: a connection that sent a frame this recently is a sender
WAIT_BACKOFF = 16  # groups taken without waiting after a wait that the senders didn't fill


def event_loop_factory(name: str = "auto") -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop to serve on: uvloop's (written in C) when installed and `name` is auto or
    uvloop, else None (asyncio's own). uvloop asked for by name and not installed: ImportError."""
    if name not in EVENT_LOOPS:
        raise ValueError(f"event loop: expected one of {', '.join(EVENT_LOOPS)}, got {name!r}")
    if name == "asyncio":
        return None
    try:
        uvloop = importlib.import_module("uvloop")  # optional: not a dependency
    except ImportError:
        if name == "uvloop":
            raise
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


@dataclass(slots=True)
class _Job:
    item: Inbound
    started: float
    future: asyncio.Future[Reply]


@dataclass
class Listener:
    ingest: Ingest
    options: ServerOptions = field(default_factory=ServerOptions)
    batch_size: int = 64
    metrics: Metrics = field(default_factory=Metrics)
    group_wait: float = 0.002  # seconds

    def __post_init__(self) -> None:
        self._queue: asyncio.Queue[_Job] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hl7-writer")
        self._server = MllpServer(self._handle, self.options, on_oversized=self._oversized)
        self._writer: asyncio.Task[None] | None = None
        self._last_frame: dict[str, float] = {}  # peer -> time of its last frame
        self._no_wait = 0  # groups still to take without waiting (after a wait in vain)

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def server(self) -> MllpServer:
        return self._server

    async def start(self, host: str, port: int) -> None:
        self._queue = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_loop(), name="hl7-writer")
        await self._server.start(host, port)
        log.info("hl7 listener on %s:%d (%s)", host, self.port, native.describe())

    async def serve_forever(self) -> None:
        await self._server.serve_forever()

    async def close(self) -> None:
        await self._server.close()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        self._executor.shutdown(wait=True)

    async def _handle(self, payload: bytes, peer: str) -> WireReply:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        self._last_frame[peer] = started
        job = _Job(Inbound(payload, peer, datetime.now(UTC)), started, loop.create_future())
        self._queue.put_nowait(job)
        reply = await job.future
        self.metrics.ack_latency(time.perf_counter() - job.started)
        return reply.payloads

    async def _oversized(self, size: int, peer: str) -> bytes:
        self.metrics.count("rejected")
        self.metrics.count_ack("AR")
        return self.ingest.oversized(size, peer)

    async def _write_loop(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self._queue.get()]
            while len(jobs) < self.batch_size and not self._queue.empty():
                jobs.append(self._queue.get_nowait())
            if self.group_wait > 0 and len(jobs) < self.batch_size:
                await self._gather(jobs)
            try:
                replies = await loop.run_in_executor(
                    self._executor, self.ingest.handle, [job.item for job in jobs]
                )
            except Exception as exc:
                log.error(
                    "hl7 store failed for %d message(s): %s; no ACK sent, senders will resend",
                    len(jobs),
                    type(exc).__name__,
                )
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            self.metrics.count_commit()
            for job, reply in zip(jobs, replies, strict=True):
                for outcome in reply.outcomes:
                    self.metrics.count(outcome.status)
                    self.metrics.count_ack(outcome.code.value)
                if not job.future.done():
                    job.future.set_result(reply)

    def _senders(self) -> int:
        """Connections that sent a frame in the last `ACTIVE_WINDOW` seconds (older ones are
        forgotten)."""
        since = time.perf_counter() - ACTIVE_WINDOW
        last = self._last_frame
        for peer in [p for p, at in last.items() if at < since]:
            del last[peer]
        return len(last)

    async def _gather(self, jobs: list[_Job]) -> None:
        """Add to `jobs` the frames of the other active senders, waiting at most `group_wait`.

        Senders that don't send while others wait (one program taking turns over several
        connections) would make every group wait in vain: after a wait that times out, the
        next `WAIT_BACKOFF` groups take what has arrived."""
        assert self._queue is not None
        if self._no_wait:
            self._no_wait -= 1
            return
        want = min(self.batch_size, self._senders())
        if len(jobs) >= want:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.group_wait
        while len(jobs) < want:
            remaining = deadline - loop.time()
            if remaining <= 0:
                self._no_wait = WAIT_BACKOFF
                return
            try:
                async with asyncio.timeout(remaining):
                    jobs.append(await self._queue.get())
            except TimeoutError:
                self._no_wait = WAIT_BACKOFF
                return
            while len(jobs) < self.batch_size and not self._queue.empty():
                jobs.append(self._queue.get_nowait())


@dataclass
class ListenerThread:
    """A listener on its own event loop in a background thread (for `dermrcm run` and tests)."""

    listener: Listener
    host: str
    port: int

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hl7-listener", daemon=True)
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None

    def start(self) -> ListenerThread:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    @property
    def bound_port(self) -> int:
        return self.listener.port

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            await self.listener.start(self.host, self.port)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            raise
        self._ready.set()
        await self._stop.wait()
        await self.listener.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:  # reported by start()
            self._error = self._error or exc
        finally:
            self._loop.close()

    def stop(self) -> None:
        if self._thread.is_alive() and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
