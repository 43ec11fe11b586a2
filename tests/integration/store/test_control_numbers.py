"""Durable X12 control numbers on SQLite and PostgreSQL: unique under concurrency, kept across
store instances (a restart), ISA13 wrapping at 999,999,999."""

from __future__ import annotations

import multiprocessing
import threading

from sqlalchemy import Engine

from integration.store.control_numbers import MAX_CONTROL_NUMBER, StoredControlNumbers
from integration.store.database import make_engine, session_factory
from integration.x12.envelope import ControlNumberSource


def test_numbers_start_at_one_per_kind_and_survive_a_new_instance(engine: Engine) -> None:
    source: ControlNumberSource = StoredControlNumbers(session_factory(engine), "DERMRCM")
    assert [source.next_interchange() for _ in range(3)] == [1, 2, 3]
    assert source.next_group() == 1
    assert source.next_transaction() == 1
    again = StoredControlNumbers(session_factory(engine), "DERMRCM")
    assert again.next_interchange() == 4
    assert again.next_group() == 2
    other_sender = StoredControlNumbers(session_factory(engine), "OTHERCLINIC")
    assert other_sender.next_interchange() == 1


def test_interchange_wraps_at_nine_digits(engine: Engine) -> None:
    source = StoredControlNumbers(session_factory(engine), "DERMRCM")
    source.set_last("interchange", MAX_CONTROL_NUMBER - 1)
    assert source.next_interchange() == MAX_CONTROL_NUMBER
    assert source.next_interchange() == 1
    assert source.last("interchange") == 1


def test_start_is_the_first_number(engine: Engine) -> None:
    source = StoredControlNumbers(session_factory(engine), "DERMRCM", start=5000)
    assert source.next_group() == 5000
    assert source.next_group() == 5001


def test_threads_never_get_the_same_number(engine: Engine) -> None:
    taken: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        source = StoredControlNumbers(session_factory(engine), "DERMRCM")
        try:
            for _ in range(15):
                value = source.next_interchange()
                with lock:
                    taken.append(value)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(taken) == list(range(1, 91))


def _take_in_process(url: str, count: int, out: multiprocessing.Queue[list[int]]) -> None:
    engine = make_engine(url)
    try:
        source = StoredControlNumbers(session_factory(engine), "DERMRCM")
        out.put([source.next_transaction() for _ in range(count)])
    finally:
        engine.dispose()


def test_processes_never_get_the_same_number(engine: Engine, database_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[list[int]] = context.Queue()
    procs = [
        context.Process(target=_take_in_process, args=(database_url, 20, queue)) for _ in range(3)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    taken = sorted(n for r in results for n in r)
    assert taken == list(range(1, 61))
