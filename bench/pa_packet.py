"""Benchmark: build the prior-authorization packet (PDF + FHIR Bundle) for a chart.

Target (issue): <= 2 s to produce the packet once the evidence and the assessment exist.

For each chart the evidence is assembled in-process from the fixture bundle (no HTTP) and the
order assessed against the payer's rule once; then each run times `render_packet_pdf` (Jinja2
HTML, then WeasyPrint layout and PDF writing, photos embedded) followed by
`build_packet_bundle` with that PDF attached as a DocumentReference. One untimed warm-up run
first (imports WeasyPrint and Pango, loads fonts). The HTML step is also timed on its own.

Usage: python bench/pa_packet.py [--runs 10] [--chart SLUG] [--json]
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import cpu_name  # noqa: E402  (bench/, the script's own folder)
from pypdf import PdfReader  # noqa: E402

from integration.domain.evidence import ClinicalEvidence  # noqa: E402
from integration.domain.priorauth import Assessment  # noqa: E402
from integration.evidence.assemble import assemble_evidence  # noqa: E402
from integration.evidence.chart import ChartData  # noqa: E402
from integration.evidence.fhir_json import parse_resources  # noqa: E402
from integration.mapping.evidence_maps import load_evidence_maps  # noqa: E402
from integration.priorauth.assess import assess  # noqa: E402
from integration.priorauth.order import order_from_fhir  # noqa: E402
from integration.priorauth.packet import (  # noqa: E402
    PacketPhoto,
    build_packet_bundle,
    packet_photos,
    render_packet_html,
    render_packet_pdf,
)
from integration.priorauth.references import load_pa_references  # noqa: E402

DAY = date(2026, 11, 15)
CREATED = datetime(2026, 11, 15, 14, 30, tzinfo=UTC)
TARGET_MS = 2000
CHARTS = {
    # slug: (payer id, the order being authorized)
    "psoriasis-large-chart": (
        "unitedhealthcare",
        "MedicationRequest/psoriasis-large-chart-medreq-guselkumab",
    ),
    "atopic-dermatitis-dupixent": (
        "cigna",
        "MedicationRequest/atopic-dermatitis-dupixent-medreq-dupixent",
    ),
}


@dataclass
class Result:
    chart: str
    resources: int
    photos: int
    criteria: int
    pages: int
    pdf_kb: int
    html_p50_ms: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    first_ms: float


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Prepared:
    slug: str
    resources: int
    evidence: ClinicalEvidence
    assessment: Assessment
    photos: tuple[PacketPhoto, ...]


def prepare(slug: str) -> Prepared:
    """Evidence, assessment and photo bytes for the chart; the chart itself is not kept (a
    packet is built from these, as the worker that builds it would hold them)."""
    payer, order_ref = CHARTS[slug]
    bundle = json.loads((ROOT / "fixtures" / "patients" / f"{slug}.json").read_text("utf-8"))
    raws = [e["resource"] for e in bundle["entry"]]
    models, problems = parse_resources(raws)
    evidence = assemble_evidence(
        ChartData(f"{slug}-patient", models, problems), load_evidence_maps(), DAY
    )
    by_ref = {f"{r['resourceType']}/{r['id']}": r for r in raws}
    refs = load_pa_references()
    assessment = assess(
        evidence,
        order_from_fhir(by_ref[order_ref]),
        refs.library,
        refs.lookups,
        DAY,
        payer_id=payer,
    )
    return Prepared(slug, len(raws), evidence, assessment, packet_photos(evidence, by_ref))


def run(slug: str, runs: int) -> Result:
    prepared = prepare(slug)
    gc.collect()
    evidence, assessment, photos = prepared.evidence, prepared.assessment, prepared.photos

    def once() -> tuple[bytes, dict[str, Any]]:
        pdf = render_packet_pdf(
            assessment, evidence, photos=photos, attestation=None, created=CREATED, packet_id="B-1"
        )
        return pdf, build_packet_bundle(
            assessment,
            evidence,
            packet_id="B-1",
            created=CREATED,
            patient_ref=f"Patient/{slug}-patient",
            pdf=pdf,
        )

    start = time.perf_counter()
    pdf, _ = once()  # warm-up: WeasyPrint import, fonts
    first = (time.perf_counter() - start) * 1000
    times, html_times = [], []
    for _ in range(runs):
        start = time.perf_counter()
        render_packet_html(assessment, evidence, photos=photos, attestation=None, created=CREATED)
        html_times.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        pdf, _ = once()
        times.append((time.perf_counter() - start) * 1000)
    return Result(
        chart=slug,
        resources=prepared.resources,
        photos=len(photos),
        criteria=len(assessment.criteria),
        pages=len(PdfReader(io.BytesIO(pdf)).pages),
        pdf_kb=round(len(pdf) / 1024),
        html_p50_ms=statistics.median(html_times),
        p50_ms=statistics.median(times),
        p95_ms=p95(times),
        max_ms=max(times),
        first_ms=first,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--chart", choices=sorted(CHARTS), action="append")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    results = [run(slug, args.runs) for slug in args.chart or list(CHARTS)]
    if args.json:
        print(json.dumps([r.__dict__ for r in results], indent=2))
        return 0
    print(
        f"PA packet (PDF + Bundle), {args.runs} runs after a warm-up; {cpu_name()}, "
        f"Python {platform.python_version()}; target p95 <= {TARGET_MS} ms"
    )
    print(
        f"{'chart':<28} {'resources':>9} {'photos':>6} {'pages':>5} {'PDF KiB':>7} "
        f"{'HTML p50':>9} {'p50':>8} {'p95':>8} {'max':>8} {'first':>8}"
    )
    ok = True
    for r in results:
        ok = ok and r.p95_ms <= TARGET_MS
        print(
            f"{r.chart:<28} {r.resources:>9} {r.photos:>6} {r.pages:>5} {r.pdf_kb:>7} "
            f"{r.html_p50_ms:>7.0f}ms {r.p50_ms:>6.0f}ms {r.p95_ms:>6.0f}ms {r.max_ms:>6.0f}ms "
            f"{r.first_ms:>6.0f}ms"
        )
    print("target met" if ok else "TARGET MISSED")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
