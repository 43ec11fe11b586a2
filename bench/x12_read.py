"""Benchmark: 835 read throughput and the memory of per-claim streaming.

Times, on one synthetic 835 of --mb megabytes (one transaction, many copies of a dermatology
claim from tests/unit/denials/era_scenarios.py, balanced), in memory:
- a bare `str.split` tokenizer (segments, then elements): the floor,
- pyx12 4.0's `X12Reader` (tokenizing and envelope checks only, no map validation) on the first
  --pyx12-mb megabytes (it is much slower),
- our `read_835` (tokenize, envelope, models, validation, balancing).
Then, in a child process, `iter_835_claims` over a generated --big-mb file: throughput and peak
RSS (VmHWM) against the same child's RSS before reading, to show memory stays flat.

Generated files go to --dir (default /tmp) and are not part of the repository.
Usage: python bench/x12_read.py [--mb 20] [--big-mb 200] [--pyx12-mb 5] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import platform
import resource
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu_name  # noqa: E402  (bench/, the script's own folder)

from integration.x12.t835_005010x221a1 import (  # noqa: E402
    iter_835_claims,
    read_835,
    write_835,
)
from tests.unit.denials.era_scenarios import (  # noqa: E402
    PAID_CLAIM,
    PAYER_PARAMS,
    clock,
    control_numbers,
    remittance,
)

MB = 1 << 20


def generate(path: Path, megabytes: float) -> int:
    """Write a balanced 835 of about `megabytes` to `path` without holding it in memory;
    returns the number of claims."""
    one = remittance(claims=(PAID_CLAIM,), plb=())
    sample = write_835(one, PAYER_PARAMS, clock, control_numbers(), segment_suffix="\n")
    lines = sample.splitlines(keepends=True)
    lx = next(i for i, s in enumerate(lines) if s.startswith("LX*"))
    se = next(i for i, s in enumerate(lines) if s.startswith("SE*"))
    claim_lines = lines[lx + 1 : se]
    claim_text = "".join(claim_lines)
    count = max(1, int(megabytes * MB / len(claim_text)))
    payment = dataclasses.replace(one.header.payment, amount=PAID_CLAIM.paid * count)
    big_header = dataclasses.replace(one, header=dataclasses.replace(one.header, payment=payment))
    head = write_835(big_header, PAYER_PARAMS, clock, control_numbers(), segment_suffix="\n")
    head_lines = head.splitlines(keepends=True)[: lx + 1]
    st_index = next(i for i, s in enumerate(head_lines) if s.startswith("ST*"))
    segments_in_set = (lx + 1 - st_index) + count * len(claim_lines) + 1  # ST..LX, claims, SE
    with path.open("w", encoding="ascii", newline="") as out:
        out.writelines(head_lines)
        for _ in range(count):
            out.write(claim_text)
        out.write(f"SE*{segments_in_set}*0501~\nGE*1*501~\nIEA*1*000000501~\n")
    return count


def rate(label: str, megabytes: float, fn: object) -> dict[str, object]:
    assert callable(fn)
    start = time.perf_counter()
    detail = fn()
    seconds = time.perf_counter() - start
    result = {
        "reader": label,
        "mb": round(megabytes, 2),
        "seconds": round(seconds, 3),
        "mb_per_s": round(megabytes / seconds, 2),
        "detail": detail,
    }
    print(json.dumps(result), flush=True)
    return result


def split_tokenizer(text: str) -> int:
    count = 0
    for raw in text.split("~"):
        raw = raw.strip()
        if raw:
            raw.split("*")
            count += 1
    return count


def pyx12_reader(text: str) -> int:
    import logging

    import pyx12.x12file

    logging.disable(logging.CRITICAL)
    count = 0
    for _seg in pyx12.x12file.X12Reader(io.StringIO(text)):
        count += 1
    return count


def ours(text: str) -> str:
    models, problems = read_835(text)
    return f"{sum(len(m.claims) for m in models)} claims, {len(problems)} problems"


def peak_rss_kb() -> int:
    """This process's peak RSS: VmHWM (reset by exec, unlike ru_maxrss, which a child started
    by fork keeps from its parent), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child_stream(path: str, chunk_size: int) -> None:
    """Run in a fresh process: RSS before, then stream every claim and report."""
    before_kb = peak_rss_kb()
    problems: list[object] = []
    start = time.perf_counter()
    claims = 0
    paid = Decimal(0)
    with open(path, "rb") as stream:
        for _header, claim in iter_835_claims(stream, problems, chunk_size=chunk_size):  # type: ignore[arg-type]
            claims += 1
            paid += claim.paid
    seconds = time.perf_counter() - start
    peak_kb = peak_rss_kb()
    size = Path(path).stat().st_size / MB
    print(
        json.dumps(
            {
                "reader": "iter_835_claims (stream)",
                "mb": round(size, 1),
                "seconds": round(seconds, 2),
                "mb_per_s": round(size / seconds, 2),
                "claims": claims,
                "problems": len(problems),
                "rss_before_read_mb": round(before_kb / 1024, 1),
                "peak_rss_mb": round(peak_kb / 1024, 1),
                "chunk_size": chunk_size,
            }
        ),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mb", type=float, default=20)
    parser.add_argument("--big-mb", type=float, default=200)
    parser.add_argument("--pyx12-mb", type=float, default=5)
    parser.add_argument("--dir", type=Path, default=Path("/tmp"))
    parser.add_argument("--chunk-size", type=int, default=1 << 20)
    parser.add_argument("--child-stream", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_stream:
        child_stream(args.child_stream, args.chunk_size)
        return

    print(json.dumps({"cpu": cpu_name(), "python": platform.python_version()}), flush=True)
    small = args.dir / f"bench-835-{args.mb:g}mb.835"
    claims = generate(small, args.mb)
    text = small.read_text(encoding="ascii")
    size = len(text) / MB
    print(json.dumps({"file": str(small), "mb": round(size, 1), "claims": claims}), flush=True)

    rate("str.split tokenizer", size, lambda: f"{split_tokenizer(text)} segments")
    head = text[: int(args.pyx12_mb * MB)]
    head = head[: head.rfind("~") + 1]
    rate("pyx12 X12Reader (no map)", len(head) / MB, lambda: f"{pyx12_reader(head)} segments")
    rate("read_835 (ours, whole text)", size, lambda: ours(text))

    big = args.dir / f"bench-835-{args.big_mb:g}mb.835"
    generate(big, args.big_mb)
    subprocess.run(
        [
            sys.executable,
            __file__,
            "--child-stream",
            str(big),
            "--chunk-size",
            str(args.chunk_size),
        ],
        check=True,
    )


if __name__ == "__main__":
    main()
