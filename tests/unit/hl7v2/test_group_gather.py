"""How the listener forms a group: it waits for the other active senders, never for a lone one,
and stops waiting for senders that leave it waiting in vain."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from integration.hl7v2.listener import WAIT_BACKOFF, Listener, _Job


class _NoIngest:
    """`_gather` never reaches the ingest."""


def _listener(group_wait: float) -> Listener:
    listener = Listener(_NoIngest(), group_wait=group_wait)  # type: ignore[arg-type]
    listener._queue = asyncio.Queue()
    return listener


def _job(loop: asyncio.AbstractEventLoop) -> _Job:
    job: Any = _Job(None, time.perf_counter(), loop.create_future())  # type: ignore[arg-type]
    return job  # type: ignore[no-any-return]


def _senders(listener: Listener, *peers: str) -> None:
    now = time.perf_counter()
    for peer in peers:
        listener._last_frame[peer] = now


def test_a_lone_sender_is_never_kept_waiting() -> None:
    async def run() -> float:
        listener = _listener(group_wait=5.0)
        _senders(listener, "a")
        jobs = [_job(asyncio.get_running_loop())]
        started = time.perf_counter()
        await listener._gather(jobs)
        assert len(jobs) == 1
        return time.perf_counter() - started

    assert asyncio.run(run()) < 1.0


def test_a_group_waits_for_the_other_active_senders_and_no_longer() -> None:
    async def run() -> tuple[int, float]:
        listener = _listener(group_wait=5.0)
        assert listener._queue is not None
        queue = listener._queue
        loop = asyncio.get_running_loop()
        _senders(listener, "a", "b", "c")
        loop.call_later(0.01, queue.put_nowait, _job(loop))
        loop.call_later(0.02, queue.put_nowait, _job(loop))
        jobs = [_job(loop)]
        started = time.perf_counter()
        await listener._gather(jobs)
        return len(jobs), time.perf_counter() - started

    size, took = asyncio.run(run())
    assert size == 3
    assert took < 2.5  # done when the third arrived, not at the 5 s limit


def test_a_wait_in_vain_makes_the_next_groups_go_without_waiting() -> None:
    async def run() -> tuple[int, float, int]:
        listener = _listener(group_wait=0.2)
        _senders(listener, "a", "b")  # b never sends
        loop = asyncio.get_running_loop()
        jobs = [_job(loop)]
        await listener._gather(jobs)  # waits 0.2 s in vain
        _senders(listener, "a", "b")
        again = [_job(loop)]
        started = time.perf_counter()
        await listener._gather(again)
        return len(jobs), time.perf_counter() - started, listener._no_wait

    size, took, left = asyncio.run(run())
    assert size == 1
    assert took < 0.1  # no second wait
    assert left == WAIT_BACKOFF - 1
