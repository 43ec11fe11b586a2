"""In-process HL7 ingest, no sockets: CPU per message in each stage of `Ingest.handle`.

Splits, maps, stores (one transaction per group) and builds the ACKs of the ingest benchmark's
messages (bench/hl7_ingest.py: ADT^A04 and ORU^R01, alternating) in groups of 8, timing each
stage with `time.process_time`. For paired runs (`DERMRCM_NATIVE=0` runs the mypyc-compiled
modules as Python, integration/native.py) and for instruction counts, which leave the host's
speed out:

    DERMRCM_NATIVE=0 N=800 WARM=160 valgrind --tool=callgrind \\
        --callgrind-out-file=/dev/null .venv/bin/python bench/hl7_handle.py

(run it again with N=0: the difference of the two "Collected" counts over N is the cost of a
message, start-up left out). Env: N messages timed (4000), WARM before them (400),
URL=sqlite (a fresh file) or postgresql (a fresh database on 127.0.0.1:5432).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hl7_ingest import make_messages  # noqa: E402  (bench/, the script's own folder)
from scratch_db import pg_create, pg_drop  # noqa: E402

from integration.hl7v2.ingest import Inbound, Ingest  # noqa: E402
from integration.mapping.hl7v2 import MappingOptions  # noqa: E402
from integration.mapping.hl7v2_transforms import load_feed_maps  # noqa: E402
from integration.store.database import make_engine, session_factory, upgrade  # noqa: E402

GROUP = 8
PG_DB = "dermrcm_bench_handle"


def run(url: str, count: int, warm: int) -> dict[str, float]:
    engine = make_engine(url, pre_ping=False)
    upgrade(engine)
    ingest = Ingest(session_factory(engine), load_feed_maps(), MappingOptions())
    now = datetime.now(UTC)
    items = [
        Inbound(payload, "127.0.0.1:1", now)
        for payload in make_messages("H", 0, count + warm, ["ADT^A04", "ORU^R01"])
    ]
    spent = {"split": 0.0, "map": 0.0, "store": 0.0, "ack": 0.0}
    clock = time.process_time
    for start in range(0, len(items), GROUP):
        t0 = clock()
        pending = [ingest._split(item) for item in items[start : start + GROUP]]
        entries = [entry for p in pending for entry in p.entries]
        t1 = clock()
        for entry in entries:
            ingest._map(entry)
        t2 = clock()
        outcomes = iter(ingest._store(entries))
        t3 = clock()
        stamp = ingest.clock()
        for p in pending:
            ingest._reply(p, [next(outcomes) for _ in p.entries], stamp)
        t4 = clock()
        if start >= warm:
            for stage, seconds in zip(spent, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                spent[stage] += seconds
    engine.dispose()
    return spent


def main() -> None:
    count, warm = int(os.environ.get("N", 4000)), int(os.environ.get("WARM", 400))
    kind = os.environ.get("URL", "sqlite")
    with tempfile.TemporaryDirectory(prefix="dermrcm-handle-") as tmp:
        if kind == "sqlite":
            spent = run(f"sqlite:///{tmp}/handle.db", count, warm)
        else:
            try:
                spent = run(pg_create(PG_DB), count, warm)
            finally:
                pg_drop(PG_DB)
    per = {stage: 1000 * seconds / max(count, 1) for stage, seconds in spent.items()}
    stages = "  ".join(f"{stage} {ms:.3f}" for stage, ms in per.items())
    hot = "Python" if os.environ.get("DERMRCM_NATIVE") == "0" else "compiled if built"
    print(
        f"{kind}, {count} messages, hot path {hot}: ms of CPU a message: {stages}  total {sum(per.values()):.3f}"
    )


if __name__ == "__main__":
    main()
