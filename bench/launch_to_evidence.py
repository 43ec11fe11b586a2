"""Benchmark: launch-to-evidence over loopback HTTP (make bench).

Starts the sandbox EHR and the app as two separate processes (`dermrcm sandbox`,
`dermrcm run --no-sandbox`), then, for each chart, repeats an EHR launch as a browser would:
press "Launch app" on the sandbox's patient list, follow the redirects through authorize
(consent auto-approved: a person's click is not the system's time) and the token exchange, and
receive the rendered evidence page. Reports p50/p95 wall time and the FHIR round trips the app
made (from the page footer). Also times the same chart read alone (FhirClient + evidence
assembly, in this process). Results are printed as a Markdown table for docs/benchmarks.md.

Usage: python bench/launch_to_evidence.py [--runs 30] [--chart psoriasis-large-chart-patient ...]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from machine import cpu_name  # noqa: E402  (bench/, the script's own folder)
from waiting import wait_for  # noqa: E402

from integration.fhir.chart_evidence import chart_evidence  # noqa: E402
from integration.fhir.client import FhirClient  # noqa: E402
from integration.mapping.evidence_maps import EvidenceMaps, load_evidence_maps  # noqa: E402
from tests.support.html_forms import press  # noqa: E402
from tests.support.smart_flow import follow  # noqa: E402

FOOTER = re.compile(r"Read (\d+) resources in (\d+) requests")
DERMRCM = str(ROOT / ".venv" / "bin" / "dermrcm")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def one_launch(sandbox_url: str, patient: str) -> tuple[float, int, int]:
    with requests.Session() as browser:
        listing = browser.get(f"{sandbox_url}/", timeout=30)
        started = time.perf_counter()
        page = follow(browser, press(listing, f"launch-{patient}", session=browser))
        elapsed = time.perf_counter() - started
    match = FOOTER.search(page.text)
    if page.status_code != 200 or match is None:
        raise SystemExit(f"launch failed: HTTP {page.status_code}: {page.text[:300]}")
    return elapsed, int(match.group(1)), int(match.group(2))


def read_only(fhir: str, patient: str, maps: EvidenceMaps) -> tuple[float, int]:
    started = time.perf_counter()
    client = FhirClient(fhir, token=lambda: None)
    try:
        _evidence, fetch = chart_evidence(client, patient, maps, date(2026, 11, 15))
    finally:
        client.close()
    return time.perf_counter() - started, fetch.round_trips


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--chart", action="append", default=None)
    args = parser.parse_args()
    charts = args.chart or ["psoriasis-large-chart-patient", "psoriasis-skyrizi-patient"]

    app_port, sandbox_port, open_port = free_port(), free_port(), free_port()
    app_url = f"http://127.0.0.1:{app_port}"
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    data = str(ROOT / "fixtures" / "patients")
    env = {**os.environ, "DERMRCM_LOG_LEVEL": "WARNING"}
    with tempfile.TemporaryDirectory() as tmp:
        processes = [
            subprocess.Popen(
                [
                    DERMRCM,
                    "sandbox",
                    "--data",
                    data,
                    "--port",
                    str(sandbox_port),
                    "--auto-approve",
                    "--redirect-uri",
                    f"{app_url}/callback",
                    "--launch-url",
                    f"{app_url}/launch",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
            ),
            subprocess.Popen(
                [DERMRCM, "sandbox", "--data", data, "--port", str(open_port), "--no-auth"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
            ),
            subprocess.Popen(
                [DERMRCM, "run", "--no-sandbox"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={
                    **env,
                    "DERMRCM_PORT": str(app_port),
                    "DERMRCM_ISSUERS": f"{sandbox_url}/fhir",
                    "DATABASE_URL": f"sqlite:///{tmp}/bench.db",
                    "DERMRCM_SECRET_KEY": "bench",
                },
            ),
        ]
        try:
            for url in (
                f"{sandbox_url}/fhir/metadata",
                f"http://127.0.0.1:{open_port}/fhir/metadata",
                f"{app_url}/",
            ):
                wait_for(url)
            maps = load_evidence_maps()
            rows = []
            for patient in charts:
                one_launch(sandbox_url, patient)  # warm-up
                launches = [one_launch(sandbox_url, patient) for _ in range(args.runs)]
                times = [t for t, _r, _q in launches]
                resources, trips = launches[-1][1], launches[-1][2]
                read_only(f"http://127.0.0.1:{open_port}/fhir", patient, maps)
                reads = [
                    read_only(f"http://127.0.0.1:{open_port}/fhir", patient, maps)
                    for _ in range(args.runs)
                ]
                read_times = [t for t, _ in reads]
                rows.append(
                    (
                        patient,
                        resources,
                        trips,
                        statistics.median(times),
                        percentile(times, 95),
                        statistics.median(read_times),
                        percentile(read_times, 95),
                        reads[-1][1],
                    )
                )
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=10)

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs ({cpu_name()}), Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
    print(
        f"command: python bench/launch_to_evidence.py --runs {args.runs}   (date {date.today()})\n"
    )
    print(
        "| chart | resources read | FHIR requests (app) | launch-to-evidence p50 | p95 | chart read + evidence p50 | p95 | requests |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for patient, resources, trips, p50, p95, r50, r95, rtrips in rows:
        print(
            f"| {patient} | {resources} | {trips} | {p50 * 1000:.0f} ms | {p95 * 1000:.0f} ms | {r50 * 1000:.0f} ms | {r95 * 1000:.0f} ms | {rtrips} |"
        )


if __name__ == "__main__":
    main()
