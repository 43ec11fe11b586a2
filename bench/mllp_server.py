"""Benchmark: the MLLP server's own CPU per frame, without HL7 or a database (make bench).

Serves `MllpServer` in this process, pinned to CPU 0 (`taskset` when available), with a handler
that answers every frame at once with a short ACK-like reply; a separate Python process pinned to
CPU 1 runs 8 connections, each sending a 700-byte frame and waiting for its reply, 2,500 times.
Reports this process's CPU time (user + system, from getrusage) per frame, on uvloop's event
loop (what `dermrcm hl7 listen` uses when installed) and on asyncio's. What the HL7 listener
spends per message on top of this is the ingest (bench/hl7_ingest.py).

Usage: python bench/mllp_server.py [--frames-per-connection 2500] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from machine import cpu_name  # noqa: E402  (bench/, the script's own folder)

from integration.hl7v2.listener import event_loop_factory  # noqa: E402
from integration.hl7v2.server import MllpServer  # noqa: E402

CONNECTIONS = 8
CLIENT = r"""
import socket, sys, threading
port, count = int(sys.argv[1]), int(sys.argv[2])
def run():
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    message = b"\x0b" + b"X" * 700 + b"\x1c\r"
    for _ in range(count):
        sock.sendall(message)
        reply = b""
        while not reply.endswith(b"\x1c\r"):
            reply += sock.recv(65536)
    sock.close()
threads = [threading.Thread(target=run) for _ in range(int(sys.argv[3]))]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


async def _reply(payload: bytes, peer: str) -> bytes:
    return b"MSH|^~\\&|ACK\rMSA|AA|" + payload[-12:]


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_run(loop_factory: Callable[[], asyncio.AbstractEventLoop] | None, count: int) -> float:
    """Server CPU microseconds per frame for one client run."""
    ready = threading.Event()
    state: dict[str, object] = {}

    async def main() -> None:
        server = MllpServer(_reply)
        await server.start("127.0.0.1", 0)
        stop = asyncio.Event()
        state.update(port=server.port, stop=stop, loop=asyncio.get_running_loop())
        ready.set()
        await stop.wait()
        await server.close()

    def serve() -> None:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    pin = ["taskset", "-c", "1"] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []
    before = cpu()
    subprocess.run(
        [*pin, sys.executable, "-c", CLIENT, str(state["port"]), str(count), str(CONNECTIONS)],
        check=True,
    )
    used = cpu() - before
    loop = state["loop"]
    stop = state["stop"]
    assert isinstance(loop, asyncio.AbstractEventLoop) and isinstance(stop, asyncio.Event)
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    return used / (count * CONNECTIONS) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames-per-connection", type=int, default=2500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1 and not os.environ.get("PINNED"):
        os.execvpe(
            "taskset",
            ["taskset", "-c", "0", sys.executable, *sys.argv],
            {**os.environ, "PINNED": "1"},
        )
    print(
        f"machine: {platform.machine()}, nproc {os.cpu_count()} ({cpu_name()}), "
        f"Python {platform.python_version()}"
    )
    print(
        f"command: python bench/mllp_server.py --frames-per-connection "
        f"{args.frames_per_connection} --runs {args.runs}"
    )
    print(
        f"{CONNECTIONS} connections x {args.frames_per_connection} frames of 700 bytes, "
        "one in flight per connection; server on CPU 0, clients on CPU 1"
    )
    print()
    print("| event loop | server CPU per frame (each run) |")
    print("|---|---|")
    for name in ("uvloop", "asyncio"):
        try:
            factory = event_loop_factory(name)
        except ImportError:
            print(f"| {name} | not installed |")
            continue
        runs = [one_run(factory, args.frames_per_connection) for _ in range(args.runs)]
        print(f"| {name} | {', '.join(f'{r:.1f} us' for r in runs)} |")


if __name__ == "__main__":
    main()
