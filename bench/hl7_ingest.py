"""Benchmark: durable HL7 v2 ingest over MLLP on loopback (make bench).

Starts `dermrcm hl7 listen` as a separate process (pinned to CPU 0 with `taskset -c 0` when
available; this process and its client threads are pinned to the other CPUs), with
DATABASE_URL pointing at a fresh SQLite file (WAL, in a temporary folder) or a fresh
PostgreSQL database. It then sends synthetic ADT^A04 (PID, PV1, IN1) and ORU^R01 (OBR and five
OBX) messages, each with its own MSH-10, and times each one on the client from the send to the
ACK's arrival. Scenarios:

  1 connection   one message at a time (latency-bound: shown for reference)
  8 connections  eight threads, each with its own MllpClient, one message at a time each
                 (the listener's capacity on its one core: what the target is judged on)

An ACK is only sent after the message, its FHIR resources and its exactly-once key are
committed, so "ACKed" means "durably stored". After each database's run the listener is stopped
and the store is checked: rows in hl7_message with status processed == messages sent == AA
ACKs received. Target (issue): >= 1,000 msg/s with p99 ACK latency < 50 ms.

The listener runs the hot path compiled with mypyc when `make native` has built it (`make bench`
does), else as Python; its start-up line, printed with the durability check, says which.
DERMRCM_NATIVE=0 runs it as Python even where it is built, for an A/B measurement
(integration/native.py).

Usage: python bench/hl7_ingest.py [--db sqlite|postgresql|both] [--seconds 8 | --messages N]
       [--connections 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from machine import core_seconds, cpu_name  # noqa: E402  (bench/, the script's own folder)
from scratch_db import pg_create, pg_drop  # noqa: E402

from integration.hl7v2.client import MllpClient  # noqa: E402

DERMRCM = str(ROOT / ".venv" / "bin" / "dermrcm")
PG_DB = "dermrcm_bench_hl7"
TARGET_RATE = 1000.0
TARGET_P99_MS = 50.0
WARMUP = 200
PREBUILT_RATE = 3000  # msg/s of messages built ahead of a timed run (see Source)

# ---------------------------------------------------------------- synthetic messages

FAMILY = [
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Tanaka",
    "Silva",
    "Novak",
    "Haddad",
    "Kowalski",
    "Reyes",
    "Brennan",
]
GIVEN = [
    "Avery",
    "Jordan",
    "Rowan",
    "Emerson",
    "Quinn",
    "Harper",
    "Sasha",
    "Morgan",
    "Kai",
    "Devon",
]
PAYERS = [
    ("60054", "Aetna", "PPO1^Open Access PPO"),
    ("87726", "UnitedHealthcare", "CHOICE^Choice Plus"),
    ("00590", "BCBS Illinois", "BLUEPPO^Blue PPO"),
    ("62308", "Cigna", "OAP^Open Access Plus"),
]
# A hepatic function panel, as drawn before and during methotrexate for psoriasis.
PANEL = ("24325-3", "Hepatic function panel")
RESULTS = [
    ("1742-6", "ALT", "U/L", "7-56", 18, 60),
    ("1920-8", "AST", "U/L", "10-40", 14, 48),
    ("6768-6", "Alkaline phosphatase", "U/L", "44-147", 40, 150),
    ("1975-2", "Bilirubin total", "mg/dL", "0.1-1.2", 0.2, 1.4),
    ("1751-7", "Albumin", "g/dL", "3.5-5.0", 3.2, 5.1),
]


def segment(seg_id: str, fields: dict[int, str]) -> str:
    """A segment from {field number: value}; MSH-1 (the separator) is implied."""
    if seg_id == "MSH":
        size = max(fields)
        values = ["" for _ in range(size - 1)]
        for n, v in fields.items():
            values[n - 2] = v
        return "MSH|" + "|".join(values)
    size = max(fields)
    values = ["" for _ in range(size)]
    for n, v in fields.items():
        values[n - 1] = v
    return seg_id + "|" + "|".join(values)


def msh(run: str, n: int, kind: str, structure: str, stamp: str) -> str:
    return segment(
        "MSH",
        {
            2: "^~\\&",
            3: "EPIC",
            4: "DERMCLINIC",
            5: "DERMRCM",
            6: "DERMRCM",
            7: stamp,
            9: f"{kind}^{structure}",
            10: f"{run}-{n:08d}",
            11: "P",
            12: "2.5.1",
        },
    )


def pid(k: int) -> str:
    family, given = FAMILY[k % len(FAMILY)], GIVEN[(k // len(FAMILY)) % len(GIVEN)]
    year, month, day = 1950 + k % 55, 1 + k % 12, 1 + k % 28
    return segment(
        "PID",
        {
            1: "1",
            3: f"MRN{k:07d}^^^DERMCLINIC^MR",
            5: f"{family}^{given}^{chr(65 + k % 26)}",
            7: f"{year}{month:02d}{day:02d}",
            8: "FM"[k % 2],
            11: f"{100 + k % 900} Elm St^Apt {k % 40}^Springfield^IL^62701^USA",
            13: f"^PRN^PH^^^217^555{k % 10000:04d}",
            14: f"^WPN^PH^^^217^556{k % 10000:04d}",
        },
    )


def pv1(k: int, n: int, stamp: str) -> str:
    return segment(
        "PV1",
        {
            1: "1",
            2: "O",
            3: "DERM^EXAM3^1^MAIN",
            7: "1234567893^Derm^Dana^^^Dr^^^NPI",
            19: f"V{k:07d}",
            44: stamp,
        },
    )


def in1(k: int) -> str:
    payer_id, payer, plan = PAYERS[k % len(PAYERS)]
    family, given = FAMILY[k % len(FAMILY)], GIVEN[(k // len(FAMILY)) % len(GIVEN)]
    return segment(
        "IN1",
        {
            1: "1",
            2: plan,
            3: payer_id,
            4: payer,
            5: "PO Box 981106^^El Paso^TX^79998",
            7: "8005551234",
            8: f"GRP{k % 500:05d}",
            9: "Acme Manufacturing",
            12: "20260101",
            13: "20261231",
            15: "PPO",
            16: f"{family}^{given}",
            17: "SEL",
            18: "19800101",
            22: "1",
            36: f"W{k:09d}",
        },
    )


def adt_a04(run: str, n: int, k: int) -> str:
    stamp = f"202611231{(n // 60) % 10}{n % 60:02d}00"[:14]
    return "\r".join(
        [
            msh(run, n, "ADT^A04", "ADT_A01", stamp),
            segment("EVN", {1: "A04", 2: stamp}),
            pid(k),
            pv1(k, n, stamp),
            in1(k),
        ]
    )


def oru_r01(run: str, n: int, k: int) -> str:
    stamp = f"202611231{(n // 60) % 10}{n % 60:02d}00"[:14]
    lines = [
        msh(run, n, "ORU^R01", "ORU_R01", stamp),
        pid(k),
        pv1(k, n, stamp),
        segment(
            "OBR",
            {
                1: "1",
                2: f"ORD{n:08d}",
                3: f"LAB{n:08d}",
                4: f"{PANEL[0]}^{PANEL[1]}^LN",
                7: stamp,
                16: "1234567893^Derm^Dana^^^Dr^^^NPI",
                22: stamp,
                24: "CH",
                25: "F",
            },
        ),
    ]
    for i, (code, name, unit, ref, low, high) in enumerate(RESULTS, start=1):
        span = high - low
        value = low + span * (((n * 7 + i * 13) % 100) / 100)
        text = f"{value:.1f}" if isinstance(low, float) else str(round(value))
        lo, hi = (float(x) for x in ref.split("-"))
        flag = "H" if float(text) > hi else "L" if float(text) < lo else "N"
        lines.append(
            segment(
                "OBX",
                {
                    1: str(i),
                    2: "NM",
                    3: f"{code}^{name}^LN",
                    5: text,
                    6: f"{unit}^{unit}^UCUM",
                    7: ref,
                    8: flag,
                    11: "F",
                    14: stamp,
                },
            )
        )
    return "\r".join(lines)


def make_messages(run: str, start: int, count: int, types: list[str]) -> list[bytes]:
    """Alternating ADT^A04 / ORU^R01 (when both are mapped); patients reused in pairs."""
    out = []
    for n in range(start, start + count):
        kind = types[n % len(types)]
        k = n // len(types)
        text = adt_a04(run, n, k) if kind == "ADT^A04" else oru_r01(run, n, k)
        out.append(text.encode("utf-8"))
    return out


def supported_types() -> tuple[list[str], list[str]]:
    """The message kinds that map cleanly in-process (checked once, before any timing)."""
    from integration.hl7v2.message import parse_message
    from integration.mapping.hl7v2 import map_message
    from integration.mapping.hl7v2_transforms import load_feed_maps

    maps = load_feed_maps()
    ok, notes = [], []
    for kind, text in (("ADT^A04", adt_a04("CHECK", 1, 1)), ("ORU^R01", oru_r01("CHECK", 2, 1))):
        try:
            resources = map_message(parse_message(text), maps)
            ok.append(kind)
            notes.append(f"{kind}: {len(text)} bytes -> {', '.join(r.type for r in resources)}")
        except Exception as exc:  # no map yet, or the map refuses the synthetic message
            notes.append(f"{kind}: NOT SENT ({getattr(exc, 'message', exc)})")
    return ok, notes


# ---------------------------------------------------------------- the listener process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


class ListenerProcess:
    def __init__(
        self, url: str, log_path: Path, pin: bool, extra_env: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.command = [DERMRCM, "hl7", "listen", "--port", str(self.port)]
        if pin:
            self.command = ["taskset", "-c", "0", *self.command]
        env = {**os.environ, "DATABASE_URL": url, **(extra_env or {})}
        self.log = log_path.open("wb")
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=self.log, env=env
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"listener exited ({self.process.returncode}); see {log_path}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise SystemExit("listener did not accept connections within 120 s")

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# ---------------------------------------------------------------- load


@dataclass
class Result:
    db: str
    scenario: str
    connections: int
    messages: int
    seconds: float
    rate: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    listener_cpu: float  # listener CPU seconds / wall seconds (1.0 = one core busy)
    cpu_ms_per_message: float  # listener CPU per message: 1000 / this = the one-core ceiling
    acks: dict[str, int] = field(default_factory=dict)


def verdict(r: Result) -> str:
    """The target applies to the concurrent scenario (capacity); one connection is latency."""
    if r.connections == 1:
        return "reference (one in flight)"
    return "met" if r.rate >= TARGET_RATE and r.p99_ms < TARGET_P99_MS else "missed"


def ack_code(reply: bytes) -> str:
    for seg in reply.split(b"\r"):
        if seg.startswith(b"MSA"):
            return seg.split(b"|")[1].decode("ascii", "replace")
    return "??"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


class Source:
    """Hands out unique messages to the client threads (by count, or until a deadline).

    The messages are built before the clock starts (enough for `PREBUILT_RATE` msg/s over
    the run; past that, each is built when taken): a sender that formats its next message
    between an ACK and the next send is slower to turn round than an interface engine with
    its queue ready, and its 8 threads share one GIL, so the listener would wait for the
    benchmark's own Python."""

    def __init__(
        self, run: str, start: int, types: list[str], limit: int | None, seconds: float
    ) -> None:
        self.run, self.start, self.next, self.types = run, start, start, types
        self.end = None if limit is None else start + limit
        self.seconds = seconds
        self.deadline = 0.0
        self.lock = threading.Lock()
        count = limit if limit is not None else int(seconds * PREBUILT_RATE)
        self.ready = make_messages(run, start, count, types)

    def take(self) -> bytes | None:
        with self.lock:
            if self.end is not None and self.next >= self.end:
                return None
            if self.end is None and time.perf_counter() >= self.deadline:
                return None
            n = self.next
            self.next += 1
        i = n - self.start
        if i < len(self.ready):
            return self.ready[i]
        return make_messages(self.run, n, 1, self.types)[0]


def send_loop(
    port: int, source: Source, out: list[tuple[float, str]], errors: list[BaseException]
) -> None:
    try:
        with MllpClient("127.0.0.1", port, timeout=30) as client:
            client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while (payload := source.take()) is not None:
                started = time.perf_counter()
                replies = client.send(payload)
                out.append((time.perf_counter() - started, ack_code(replies[0])))
    except BaseException as exc:
        errors.append(exc)


def drive(
    listener: ListenerProcess, source: Source, connections: int
) -> tuple[list[tuple[float, str]], float, float]:
    """Run `connections` senders; (latency, ack code) per message, wall seconds, listener CPU s."""
    per_thread: list[list[tuple[float, str]]] = [[] for _ in range(connections)]
    errors: list[BaseException] = []
    threads = [
        threading.Thread(
            target=send_loop, args=(listener.port, source, per_thread[i], errors), daemon=True
        )
        for i in range(connections)
    ]
    cpu0 = listener.cpu()
    started = time.perf_counter()
    source.deadline = started + source.seconds
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    cpu = listener.cpu() - cpu0
    if errors:
        raise SystemExit(f"sender failed: {errors[0]!r}")
    return [x for xs in per_thread for x in xs], wall, cpu


def run_db(
    db: str, url: str, tmp: Path, args: argparse.Namespace, types: list[str], pin: bool
) -> tuple[list[Result], dict[str, Any]]:
    run = f"B{int(time.time())}{db[:2].upper()}"
    listener = ListenerProcess(url, tmp / f"listener-{db}.log", pin)
    sent = 0
    aa = 0
    results: list[Result] = []
    try:
        warm = Source(run, 0, types, WARMUP, 0)
        lat, _wall, _cpu = drive(listener, warm, 2)
        sent += len(lat)
        aa += sum(1 for _, c in lat if c == "AA")
        analyze(url)
        for connections in (1, args.connections):
            source = Source(run, sent, types, args.messages, args.seconds)
            lat, wall, cpu = drive(listener, source, connections)
            sent += len(lat)
            codes: dict[str, int] = {}
            for _, code in lat:
                codes[code] = codes.get(code, 0) + 1
            aa += codes.get("AA", 0)
            ms = [s * 1000 for s, _ in lat]
            results.append(
                Result(
                    db=db,
                    scenario=f"{connections} connection{'s' if connections > 1 else ''}",
                    connections=connections,
                    messages=len(lat),
                    seconds=wall,
                    rate=len(lat) / wall,
                    p50_ms=statistics.median(ms),
                    p99_ms=percentile(ms, 99),
                    max_ms=max(ms),
                    listener_cpu=cpu / wall,
                    cpu_ms_per_message=cpu * 1000 / len(lat),
                    acks=codes,
                )
            )
    finally:
        listener.stop()
    stored = verify(url)
    check = {"sent": sent, "acked_AA": aa, "runs": started_as(tmp / f"listener-{db}.log"), **stored}
    ok = stored["processed"] == sent == aa == stored["applied"] and stored["rows"] == sent
    check["ok"] = ok
    if not ok:
        log = (tmp / f"listener-{db}.log").read_text(errors="replace")[-3000:]
        raise AssertionError(f"{db}: durability check failed: {check}\nlistener log tail:\n{log}")
    return results, check


def started_as(log: Path) -> str:
    """What the listener said it runs on (event loop; hot path compiled or Python)."""
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("hl7 listener on ") and "(" in line:
            return line.split("(", 1)[1].rstrip(")")
    return "unknown (no start-up line in the listener's log)"


def analyze(url: str) -> None:
    """Planner statistics after the warm-up, as a database in use has them (PostgreSQL's
    autovacuum gathers them within a minute): a fresh table without them can make PostgreSQL
    scan instead of using the primary key for the store's lookups of a group's resources."""
    from sqlalchemy import text

    from integration.store.database import make_engine

    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    engine.dispose()


def verify(url: str) -> dict[str, Any]:
    """Count what the listener committed (after it has exited)."""
    from sqlalchemy import text

    from integration.store.database import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows: dict[str, int] = {
                str(k): int(v)
                for k, v in conn.execute(
                    text("SELECT status, count(*) FROM hl7_message GROUP BY status")
                )
            }
            acks: dict[str, int] = {
                str(k): int(v)
                for k, v in conn.execute(
                    text("SELECT ack_code, count(*) FROM hl7_message GROUP BY ack_code")
                )
            }
            applied = conn.execute(text("SELECT count(*) FROM hl7_applied")).scalar_one()
            resources = conn.execute(text("SELECT count(*) FROM fhir_resource")).scalar_one()
            versions = conn.execute(text("SELECT count(*) FROM fhir_resource_version")).scalar_one()
            extra: dict[str, Any] = {}
            if url.startswith("sqlite"):
                extra["journal_mode"] = conn.exec_driver_sql("PRAGMA journal_mode").scalar_one()
                extra["synchronous"] = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[
                    conn.exec_driver_sql("PRAGMA synchronous").scalar_one()
                ]
            else:
                for name in ("fsync", "synchronous_commit", "wal_sync_method", "server_version"):
                    extra[name] = conn.exec_driver_sql(f"SHOW {name}").scalar_one()
    finally:
        engine.dispose()
    return {
        "rows": sum(rows.values()),
        "processed": rows.get("processed", 0),
        "by_status": rows,
        "stored_ack_codes": acks,
        "applied": applied,
        "fhir_resources": resources,
        "fhir_replaced_versions": versions,
        **extra,
    }


# ---------------------------------------------------------------- PostgreSQL database


# ---------------------------------------------------------------- main


def machine() -> dict[str, str]:
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu_name(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "date": str(date.today()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--seconds", type=float, default=8.0, help="length of each scenario (default 8 s)"
    )
    parser.add_argument(
        "--messages", type=int, default=None, help="messages per scenario instead of --seconds"
    )
    parser.add_argument(
        "--connections", type=int, default=8, help="connections in the concurrent scenario"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    pin = shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    if pin:  # clients (this process and its threads) off the listener's core
        os.sched_setaffinity(0, set(range(1, os.cpu_count() or 2)))
    types, notes = supported_types()
    if not types:
        raise SystemExit("no synthetic message type maps: " + "; ".join(notes))
    command = " ".join(["python bench/hl7_ingest.py", shlex.join(sys.argv[1:])]).strip()
    info = machine()
    placement = (
        "listener pinned to CPU 0 (taskset -c 0); clients on CPU 1"
        + ("" if os.cpu_count() == 2 else f"-{(os.cpu_count() or 2) - 1}")
        if pin
        else "listener NOT pinned (no taskset or one CPU): listener and clients share the CPUs"
    )

    load = os.getloadavg()
    batch_size = os.environ.get("DERMRCM_HL7_BATCH_SIZE", "64 (default)")
    listener_command = ("taskset -c 0 " if pin else "") + ".venv/bin/dermrcm hl7 listen --port PORT"
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results: list[Result] = []
    checks: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="dermrcm-hl7-bench-") as tmp_name:
        tmp = Path(tmp_name)
        for db in dbs:
            core_loop = core_seconds(0 if pin else None)
            if db == "sqlite":
                url = f"sqlite:///{tmp / 'bench.db'}"
                res, check = run_db(db, url, tmp, args, types, pin)
            else:
                url = pg_create(PG_DB)
                try:
                    res, check = run_db(db, url, tmp, args, types, pin)
                finally:
                    pg_drop(PG_DB)
            results.extend(res)
            checks[db] = {**check, "core_loop_s": core_loop}

    if args.json:
        print(
            json.dumps(
                {
                    "machine": info,
                    "command": command,
                    "placement": placement,
                    "listener": listener_command,
                    "load_average": load,
                    "messages": notes,
                    "results": [{**asdict(r), "verdict": verdict(r)} for r in results],
                    "durability": checks,
                    "target": {"rate": TARGET_RATE, "p99_ms": TARGET_P99_MS},
                },
                indent=2,
            )
        )
        return
    print(
        f"machine: {platform.machine()}, nproc {info['nproc']} ({info['cpu']}), Python {info['python']}, {info['system']}"
    )
    print(f"command: {command}   (date {info['date']})")
    print(f"placement: {placement}")
    print(
        f"listener: {listener_command} (DATABASE_URL per database, DERMRCM_HL7_BATCH_SIZE {batch_size})"
    )
    print(
        f"load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (other work on the machine skews results)"
    )
    for note in notes:
        print(f"message: {note}")
    print()
    print(
        "| database | scenario | messages | msg/s (ACKed durably) | ACK p50 | p99 | max "
        "| listener CPU busy | CPU per message | target |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.db} | {r.scenario} | {r.messages} | {r.rate:,.0f} | {r.p50_ms:.1f} ms | {r.p99_ms:.1f} ms "
            f"| {r.max_ms:.1f} ms | {r.listener_cpu * 100:.0f}% | {r.cpu_ms_per_message:.1f} ms "
            f"| {verdict(r)} |"
        )
    print()
    print(
        "The target is the listener's sustained capacity on its one core, judged with concurrent "
        "senders. One connection has one message in flight (original mode: the sender waits for "
        "each ACK), so its rate is 1 / the round trip (processing, commit with fsync, loopback), "
        "shown for reference. Listener CPU busy below ~90% with one connection is that waiting; "
        "with 8, it means other processes took CPU 0. CPU per message caps one core at "
        "1000/that msg/s."
    )
    print()
    for db, check in checks.items():
        settings = {
            k: v
            for k, v in check.items()
            if k
            in (
                "journal_mode",
                "synchronous",
                "fsync",
                "synchronous_commit",
                "wal_sync_method",
                "server_version",
            )
        }
        print(
            f"durability {db}: sent {check['sent']} (incl. {WARMUP} warm-up), AA ACKs {check['acked_AA']}, "
            f"hl7_message processed {check['processed']} of {check['rows']} rows, hl7_applied {check['applied']}, "
            f"fhir_resource {check['fhir_resources']}, replaced versions {check['fhir_replaced_versions']}: "
            f"{'OK' if check['ok'] else 'FAILED'}  {settings}; listener ran: {check['runs']}"
        )
    print()
    for db, check in checks.items():
        print(
            f"core speed before the {db} run: a 5-million-addition Python loop took "
            f"{check['core_loop_s']:.2f} s of CPU on {'CPU 0' if pin else 'a CPU'} "
            "(bench/machine.py core_seconds; the host moves it: compare runs with similar values)"
        )


if __name__ == "__main__":
    main()
