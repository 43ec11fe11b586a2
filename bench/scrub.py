"""Benchmark: the claim scrubber (issue 6), claims scrubbed per second per core.

Builds --claims synthetic dermatology claims (a seeded mix of E/M with procedures: biopsies,
destructions, warts with corn paring, nail debridement, excision with repair, Mohs with
pathology, injections with drug units; documentation facts on most lines), loads the full rule
set (`Scrubber.load`, every family of `FAMILY_MODULES`) with the NCCI PTP and MUE tables of the
test extracts (tests/support/coding.py: ../shared/refdata converted to CMS layouts, else the
fixtures/coding/cms excerpts), and scrubs each claim once in this one process. Requests are
built before timing (`request_from_json` is not timed); `Scrubber.scrub` is.

Reported: claims per second of CPU time (`time.process_time`, one core) and of wall time, and
the p50 / p99 / max wall time per claim. Target: >= 2,000 claims/s per core.

Usage: python bench/scrub.py [--claims 20000] [--seed 6] [--warmup 500]
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine import cpu_name  # noqa: E402

from integration.coding.engine import FAMILY_MODULES, Scrubber  # noqa: E402
from integration.coding.model import ScrubRequest, request_from_json  # noqa: E402
from tests.support.coding import have_shared_refdata, reference_for_tests  # noqa: E402

SITES = ["face", "scalp", "neck", "trunk", "back", "arm", "hand", "leg", "foot", "nose", "ear"]
EM = ["99212", "99213", "99214"]


def _claim(rnd: random.Random, n: int) -> dict[str, Any]:
    """One synthetic claim: lines (code, units, modifiers, facts), diagnoses, encounter facts."""
    em = rnd.random() < 0.6
    dx: list[str] = []
    lines: list[tuple[str, int, list[str], dict[str, Any], int]] = []
    kind = rnd.randrange(8)
    site = rnd.choice(SITES)
    if kind == 0:  # biopsies
        dx.append("D485")
        count = rnd.randint(1, 4)
        lines.append(
            ("11102", 1, [], {"technique": "tangential", "lesion_count": 1, "site": site}, 1)
        )
        if count > 1:
            lines.append(
                (
                    "11103",
                    count - 1,
                    [],
                    {"technique": "tangential", "lesion_count": count - 1, "site": site},
                    1,
                )
            )
    elif kind == 1:  # actinic keratoses
        dx.append("L570")
        count = rnd.randint(1, 18)
        lines.append(
            (
                "17000",
                1,
                [],
                {"lesion_type": "actinic-keratosis", "lesion_count": 1, "site": "face"},
                1,
            )
        )
        if count > 1:
            lines.append(
                (
                    "17003",
                    count - 1,
                    [],
                    {"lesion_type": "actinic-keratosis", "lesion_count": count - 1, "site": "face"},
                    1,
                )
            )
    elif kind == 2:  # corn paring and warts
        dx += ["L84", "B079"]
        lines.append(("11055", 1, [], {"site": "foot", "laterality": "left", "lesion_count": 1}, 1))
        lines.append(
            (
                "17110",
                1,
                [],
                {
                    "site": rnd.choice(["foot", "hand"]),
                    "laterality": "right",
                    "lesion_type": "wart",
                    "lesion_count": rnd.randint(1, 8),
                    "indications": ["pain"],
                },
                2,
            )
        )
    elif kind == 3:  # nail debridement
        dx.append("B351")
        lines.append(("11721", rnd.choice([1, 1, 2]), [], {"site": "toe", "lesion_count": 6}, 1))
        if rnd.random() < 0.4:
            lines.append(("11720", 1, [], {"site": "toe", "lesion_count": 2}, 1))
    elif kind == 4:  # malignant excision with repair
        dx.append("C44319")
        lines.append(
            (
                "11642",
                1,
                [],
                {
                    "site": "face",
                    "pathology": "malignant",
                    "lesion_diameter_cm": "1.2",
                    "margin_cm": "0.4",
                    "excised_diameter_cm": "2.0",
                },
                1,
            )
        )
        lines.append(
            (
                "12051",
                1,
                [],
                {"site": "face", "repair_type": "intermediate", "repair_length_cm": "2.5"},
                1,
            )
        )
    elif kind == 5:  # Mohs
        dx.append("C44311")
        lines.append(("17311", 1, [], {"site": "nose", "mohs_stage": 1, "mohs_blocks": 3}, 1))
        if rnd.random() < 0.5:
            lines.append(("17312", 1, [], {"site": "nose", "mohs_stage": 2, "mohs_blocks": 2}, 1))
    elif kind == 6:  # keloid injection with drug
        dx.append("L910")
        lines.append(
            ("11900", 1, [], {"site": "chest", "lesion_count": 3, "indications": ["itching"]}, 1)
        )
        lines.append(("J3301", rnd.randint(2, 20), [], {}, 1))
    else:  # seborrheic keratosis shave
        dx.append("L821")
        lines.append(
            (
                "11300",
                rnd.randint(1, 6),
                [],
                {
                    "site": "trunk",
                    "lesion_type": "seborrheic-keratosis",
                    "lesion_diameter_cm": "0.4",
                    "indications": rnd.choice([["bleeding"], ["itching"], []]),
                },
                1,
            )
        )
    if em:
        dx.append("L700")
        lines.insert(0, (rnd.choice(EM), 1, ["25"] if rnd.random() < 0.7 else [], {}, len(dx)))
    services = []
    facts: dict[str, Any] = {}
    for i, (code, units, mods, line_facts, pointer) in enumerate(lines, start=1):
        services.append(
            {
                "line_number": i,
                "procedure": {"qualifier": "HC", "code": code, "modifiers": mods},
                "charge": "100",
                "quantity": str(units),
                "pointers": [pointer],
                "dates": [{"qualifier": "472", "start": "2026-10-01"}],
            }
        )
        if line_facts:
            facts[str(i)] = line_facts
    return {
        "claim": {
            "patient_control_number": f"BENCH{n:07d}",
            "total_charge": str(100 * len(services)),
            "facility_code": "11",
            "diagnoses": [
                {"qualifier": "ABK" if i == 0 else "ABF", "code": c} for i, c in enumerate(dx)
            ],
            "services": services,
        },
        "payer": {"id": "SANDBOX01", "name": "Sandbox Medicare", "claim_filing": "MB"},
        "facts": {
            "lines": facts,
            "encounter": {"separately_identifiable_em": em and rnd.random() < 0.8},
        },
        "history": [],
    }


def _placeholders() -> list[str]:
    out = []
    for name in FAMILY_MODULES:
        path = ROOT / "integration" / "coding" / "rules" / f"{name}.py"
        if path.read_text().lstrip('"').startswith("PLACEHOLDER"):
            out.append(name)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=500)
    args = parser.parse_args()

    t0 = time.perf_counter()
    reference = reference_for_tests()
    scrubber = Scrubber.load(reference=reference)
    load_s = time.perf_counter() - t0
    rnd = random.Random(args.seed)
    requests: list[ScrubRequest] = [
        request_from_json(_claim(rnd, n)) for n in range(args.claims + args.warmup)
    ]
    for request in requests[: args.warmup]:
        scrubber.scrub(request)
    timed = requests[args.warmup :]
    per_claim: list[int] = []
    findings = 0
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for request in timed:
        start = time.perf_counter_ns()
        result = scrubber.scrub(request)
        per_claim.append(time.perf_counter_ns() - start)
        findings += len(result.findings)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    per_claim.sort()
    lines = sum(len(r.claim.services) for r in timed)
    p50 = statistics.median(per_claim) / 1000
    p99 = per_claim[int(len(per_claim) * 0.99) - 1] / 1000
    ptp = reference["ncci-ptp"]
    pairs = sum(len(q.edits) for q in ptp.quarters)
    print(f"machine: {cpu_name()}, Python {platform.python_version()}, one process")
    print(
        f"tables: NCCI PTP {pairs:,} code pairs, MUE {sum(len(q.edits) for q in reference['mue'].quarters)} codes "
        f"({'../shared/refdata extracts' if have_shared_refdata() else 'fixtures/coding/cms excerpts'}); "
        f"load {load_s:.2f} s"
    )
    placeholders = _placeholders()
    print(
        f"families: {len(scrubber.families)} loaded"
        + (f"; still placeholders: {', '.join(placeholders)}" if placeholders else "")
    )
    print(f"claims: {len(timed):,} ({lines:,} lines, {findings:,} findings), seed {args.seed}")
    print(
        f"throughput: {len(timed) / cpu:,.0f} claims/s per core (CPU), {len(timed) / wall:,.0f} claims/s wall"
    )
    print(f"per claim: p50 {p50:.0f} us, p99 {p99:.0f} us, max {per_claim[-1] / 1000:.0f} us")
    print(f"target >= 2,000 claims/s per core: {'met' if len(timed) / cpu >= 2000 else 'NOT met'}")


if __name__ == "__main__":
    main()
