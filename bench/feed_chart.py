"""Benchmark: the HL7 feeds' resources joined to a chart at launch, in a large store (make bench).

Every chart launch looks up the feed's Patient by the chart's identifiers, follows merges and
reads that patient's resources (`FeedCharts.resources_for`). This fills a fresh store (SQLite
file, and PostgreSQL when reachable) with N synthetic feed patients through the ingest's own
`ResourceWriter` (each with an MRN, a Coverage and two Observations; one in a hundred merged
into another), then times the lookup for 100 patients picked at random: p50 and p95 in ms.

Usage: python bench/feed_chart.py [--patients 20000] [--db sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from machine import cpu_name  # noqa: E402  (bench/, the script's own folder)
from scratch_db import pg_create, pg_drop  # noqa: E402

from integration.store.database import make_engine, session_factory, upgrade  # noqa: E402
from integration.store.feed_chart import FeedCharts  # noqa: E402
from integration.store.fhir_store import ResourceWriter  # noqa: E402

MRN = "urn:oid:2.16.840.1.113883.3.9999.1"
PG_DB = "dermrcm_bench_feed_chart"
NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def patient(n: int) -> list[dict[str, Any]]:
    """A feed patient's resources (a merged one names its survivor, patient n + 1)."""
    pid = f"p{n:07d}"
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": MRN, "value": f"MRN{n:07d}"}],
        "name": [{"family": f"Family{n % 997}", "given": [f"Given{n % 89}"]}],
        "gender": "female" if n % 2 else "male",
        "birthDate": f"{1940 + n % 60}-{1 + n % 12:02d}-{1 + n % 28:02d}",
        "address": [{"line": [f"{n % 900} Elm St"], "city": "Springfield", "state": "IL"}],
    }
    if n % 100 == 0:
        body["active"] = False
        body["link"] = [{"other": {"reference": f"Patient/p{n + 1:07d}"}, "type": "replaced-by"}]
    out = [
        body,
        {
            "resourceType": "Coverage",
            "id": f"c{n:07d}",
            "status": "active",
            "beneficiary": {"reference": f"Patient/{pid}"},
            "payor": [{"display": "Aetna"}],
        },
    ]
    for k, (code, value) in enumerate((("1742-6", 18 + n % 40), ("1920-8", 14 + n % 30))):
        out.append(
            {
                "resourceType": "Observation",
                "id": f"o{n:07d}{k}",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "subject": {"reference": f"Patient/{pid}"},
                "valueQuantity": {"value": value, "unit": "U/L"},
            }
        )
    return out


def fill(url: str, count: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    for start in range(0, count, 2000):
        with engine.begin() as connection:
            writer = ResourceWriter(connection)
            for n in range(start, min(count, start + 2000)):
                for body in patient(n):
                    writer.write(body, "replace", NOW, None, "urn:bench")
            writer.flush()
    engine.dispose()


def time_lookups(url: str, count: int, runs: int) -> tuple[float, float, int]:
    engine = make_engine(url)
    feed = FeedCharts(session_factory(engine))
    rng = random.Random(7)
    picks = [rng.randrange(count) for _ in range(runs)]
    feed.resources_for([(MRN, "MRN0000001")])  # warm the connection and caches
    times, found = [], 0
    for n in picks:
        started = time.perf_counter()
        resources = feed.resources_for([(MRN, f"MRN{n:07d}")])
        times.append((time.perf_counter() - started) * 1000)
        found += len(resources)
    engine.dispose()
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    print(f"machine: nproc {os.cpu_count()} ({cpu_name()}); command: python bench/feed_chart.py")
    print()
    print("| database | feed patients | resources found (100 launches) | p50 | p95 |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="dermrcm-feed-bench-") as tmp:
        urls = []
        if args.db in ("sqlite", "both"):
            urls.append(("SQLite", f"sqlite:///{tmp}/feed.db", None))
        if args.db in ("postgresql", "both"):
            try:
                urls.append(("PostgreSQL", pg_create(PG_DB), PG_DB))
            except Exception as exc:  # no server: say so, bench the rest
                print(f"(PostgreSQL skipped: {type(exc).__name__})")
        for name, url, database in urls:
            try:
                fill(url, args.patients)
                p50, p95, found = time_lookups(url, args.patients, args.runs)
                print(f"| {name} | {args.patients:,} | {found} | {p50:.1f} ms | {p95:.1f} ms |")
            finally:
                if database is not None:
                    pg_drop(database)


if __name__ == "__main__":
    main()
