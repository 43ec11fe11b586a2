"""Benchmark: draft an appeal letter with its attachments for a denial (issue 7).

Target (issue): drafting a letter with attachments takes <= 5 s.

Starts the sandbox EHR as its own process (`dermrcm sandbox --no-auth` over fixtures/patients),
unless --fhir-base names one already running. Each run does what `dermrcm appeal draft --pdf`
does for a CO-50 denial of the psoriasis fixture patient's Skyrizi line: read the chart over
HTTP (`chart_evidence`), find the chart's order the payer has a rule for and assess it, draft the
letter from its template, run the pre-sign check, then render the PDF with the prior-therapy
table and the three photographs embedded (WeasyPrint). One untimed warm-up run first (imports
WeasyPrint and Pango, loads fonts and the mapping files). Phases are timed separately.

Usage: python bench/appeal_draft.py [--runs 10] [--fhir-base URL] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import cpu_name  # noqa: E402  (bench/, the script's own folder)
from waiting import wait_for  # noqa: E402

from integration.appeals.draft import draft_for_denial  # noqa: E402
from integration.appeals.factcheck import check_letter  # noqa: E402
from integration.appeals.pdf import render_letter_pdf  # noqa: E402
from integration.appeals.templates import default_templates  # noqa: E402
from integration.fhir.client import FhirClient  # noqa: E402
from integration.mapping.evidence_maps import load_evidence_maps  # noqa: E402
from integration.priorauth.references import load_pa_references  # noqa: E402
from tests.unit.appeals.support import make_denial  # noqa: E402

DAY = date(2026, 11, 15)
TARGET_S = 5.0
DERMRCM = str(ROOT / ".venv" / "bin" / "dermrcm")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def one_run(fhir: str, maps: Any, refs: Any) -> dict[str, float | int]:
    denial = make_denial()
    started = time.perf_counter()
    client = FhirClient(fhir, token=lambda: None)
    try:
        result = draft_for_denial(
            denial, client, maps, DAY, refs=refs, templates=default_templates()
        )
    finally:
        client.close()
    drafted = time.perf_counter()
    check = check_letter(result.letter)
    checked = time.perf_counter()
    pdf = render_letter_pdf(result.letter, result.evidence, result.resources)
    done = time.perf_counter()
    if not check.ok or not pdf.startswith(b"%PDF"):
        raise SystemExit(f"bad run: check {check.message()!r}, pdf {pdf[:8]!r}")
    return {
        "total_s": done - started,
        "chart_and_draft_s": drafted - started,
        "check_s": checked - drafted,
        "pdf_s": done - checked,
        "pdf_bytes": len(pdf),
        "sentences": len(result.letter.sentences),
        "attachments": len(result.letter.attachments),
    }


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered) + 0.5) - 1)]
    return {
        "min": ordered[0],
        "median": statistics.median(ordered),
        "p95": p95,
        "max": ordered[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--fhir-base", default=None, help="a running sandbox's FHIR base (no auth)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    process = None
    fhir = args.fhir_base
    if fhir is None:
        port = free_port()
        fhir = f"http://127.0.0.1:{port}/fhir"
        process = subprocess.Popen(
            [
                DERMRCM,
                "sandbox",
                "--data",
                str(ROOT / "fixtures" / "patients"),
                "--port",
                str(port),
                "--no-auth",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "DERMRCM_LOG_LEVEL": "WARNING"},
        )
    try:
        wait_for(f"{fhir}/metadata")
        maps = load_evidence_maps()
        refs = load_pa_references()
        warm = time.perf_counter()
        one_run(fhir, maps, refs)
        warm_s = time.perf_counter() - warm
        runs = [one_run(fhir, maps, refs) for _ in range(args.runs)]
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
    phases = {
        key: summary([float(r[key]) for r in runs])
        for key in ("total_s", "chart_and_draft_s", "check_s", "pdf_s")
    }
    report = {
        "benchmark": "appeal_draft",
        "chart": "psoriasis-skyrizi",
        "runs": args.runs,
        "warm_up_s": warm_s,
        "phases": phases,
        "pdf_bytes": runs[-1]["pdf_bytes"],
        "sentences": runs[-1]["sentences"],
        "attachments": runs[-1]["attachments"],
        "target_s": TARGET_S,
        "meets_target": phases["total_s"]["max"] <= TARGET_S,
        "machine": {"cpu": cpu_name(), "cpus": os.cpu_count(), "python": platform.python_version()},
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"appeal draft + PDF, psoriasis-skyrizi, {args.runs} runs ({cpu_name()}, {os.cpu_count()} CPUs)"
    )
    print(f"  warm-up (imports, fonts, mappings): {warm_s:.2f} s")
    for key, values in phases.items():
        print(
            f"  {key:18} min {values['min']:.3f}  median {values['median']:.3f}  "
            f"p95 {values['p95']:.3f}  max {values['max']:.3f} s"
        )
    print(
        f"  letter: {report['sentences']} sentences, {report['attachments']} attachments, "
        f"PDF {report['pdf_bytes']:,} bytes"
    )
    verdict = "meets" if report["meets_target"] else "MISSES"
    print(
        f"  target <= {TARGET_S:.0f} s per letter: {verdict} (max {phases['total_s']['max']:.2f} s)"
    )


if __name__ == "__main__":
    main()
