"""SIGKILL the listener in the middle of a burst, restart it, resend what wasn't acknowledged:
every message is applied exactly once (SQLite and PostgreSQL, real processes, real TCP)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from integration.hl7v2.client import MllpClient
from integration.store.database import make_engine, session_factory, upgrade
from integration.store.models import FhirResource, FhirResourceVersion, Hl7Applied, Hl7Message
from tests.support.hl7_messages import adt_a04

ROOT = Path(__file__).resolve().parents[3]
SENDERS = 4
PER_SENDER = 100
KILL_AFTER = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_listener(database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": database_url, "DERMRCM_HL7_BATCH_SIZE": "16"}
    process = subprocess.Popen(
        [sys.executable, "-m", "integration.cli", "hl7", "listen", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("listener did not start")


@pytest.fixture
def migrated(database_url: str) -> str:
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    return database_url


def send_all(port: int, numbers: list[int], acked: set[int], lock: threading.Lock) -> None:
    try:
        with MllpClient("127.0.0.1", port, timeout=10) as client:
            for n in numbers:
                reply = client.send(adt_a04(n).encode())[0]
                assert b"MSA|AA|" in reply, reply
                with lock:
                    acked.add(n)
    except (OSError, ConnectionError):
        return  # the listener died under us: the rest is resent after the restart


def test_sigkill_mid_burst_then_resend_applies_every_message_once(migrated: str) -> None:
    port = free_port()
    numbers = [list(range(s * PER_SENDER, (s + 1) * PER_SENDER)) for s in range(SENDERS)]
    acked: set[int] = set()
    lock = threading.Lock()
    process = start_listener(migrated, port)
    try:
        threads = [
            threading.Thread(target=send_all, args=(port, chunk, acked, lock)) for chunk in numbers
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(acked) < KILL_AFTER and time.monotonic() < deadline:
            time.sleep(0.001)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        for thread in threads:
            thread.join(30)
    finally:
        if process.poll() is None:
            process.kill()
    total = SENDERS * PER_SENDER
    assert KILL_AFTER <= len(acked) < total, f"the kill should land mid-burst ({len(acked)} acked)"

    # Restart and resend everything without an ACK, plus a few that had one (as a sender
    # that lost the ACK in transit would).
    process = start_listener(migrated, port)
    try:
        missing = [n for n in range(total) if n not in acked]
        again = sorted(acked)[:10]
        with MllpClient("127.0.0.1", port, timeout=10) as client:
            for n in missing + again:
                reply = client.send(adt_a04(n).encode())[0]
                assert b"MSA|AA|" in reply, reply
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)

    engine = make_engine(migrated)
    try:
        with session_factory(engine)() as session:
            applied = session.scalar(select(func.count()).select_from(Hl7Applied))
            processed_per_id = session.execute(
                select(Hl7Message.control_id, func.count())
                .where(Hl7Message.status == "processed")
                .group_by(Hl7Message.control_id)
            ).all()
            patients = session.scalar(
                select(func.count())
                .select_from(FhirResource)
                .where(FhirResource.resource_type == "Patient", FhirResource.version_id == 1)
            )
            patient_versions = session.scalar(
                select(func.count())
                .select_from(FhirResourceVersion)
                .where(FhirResourceVersion.resource_type == "Patient")
            )
            statuses = set(session.scalars(select(Hl7Message.status).distinct()))
    finally:
        engine.dispose()
    assert applied == total
    assert len(processed_per_id) == total and all(n == 1 for _, n in processed_per_id)
    # Applied once: each Patient at its first version, and no version replaced.
    assert patients == total and patient_versions == 0
    assert statuses <= {"processed", "duplicate"}
