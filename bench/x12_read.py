"""Benchmark: the X12 engine (issue 3): 835 and 837P reading, 837P validation against pyx12,
837P writing, and the memory of per-claim 835 streaming.

Every figure is CPU time of this process (`time.process_time`; wall time beside it), so a shared
machine slows the wall clock but not the comparison. In one run, side by side:

835, one synthetic file of --mb megabytes (one transaction, many copies of a dermatology claim
from tests/unit/denials/era_scenarios.py, balanced), in memory:
- a bare `str.split` tokenizer (segments, then elements): the floor the targets are relative to,
- pyx12 4.0's `X12Reader` (tokenizing and envelope checks only, no map validation) on the first
  --pyx12-mb megabytes (it is much slower),
- our `read_835` (tokenize, envelope, models, validation, balancing) and `iter_835_claims` over
  the same text (streamed from memory).
837P, one transaction of --claims claims (the BIOPSY, MOHS and BIOLOGIC scenarios of
tests/unit/x12/scenarios_837p.py in turn, each with its own patient control number):
- `write_837p` of the whole model: claims per second,
- `str.split` and `read_837p` on what it wrote (MB/s, claims/s),
- validation on a copy with a few seeded errors: `read_837p` (its problems are the implementation-
  guide validation) against pyx12's full validation (`x12n_document`, as its x12valid script),
  claims per second, and which claims each flags.
linuxforhealth-x12 (optional, --lfh-python: a Python with linuxforhealth-x12 and pydantic<2,
run as a child process) reads the same 835 and 837P (the 837P relabelled 005010X222A2, the only
837P version it has).
Then, in a child process, `iter_835_claims` over a generated --big-mb file: throughput and peak
RSS (VmHWM) against the same child's RSS before reading, to show memory stays flat.

Generated files go to --dir (default /tmp) and are deleted afterwards (--keep to keep them).
Usage: python bench/x12_read.py [--mb 20] [--claims 5000] [--big-mb 1024] [--pyx12-mb 5]
       [--dir /tmp] [--lfh-python /tmp/lfh/bin/python]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import logging
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu_name  # noqa: E402  (bench/, the script's own folder)

from integration.x12.segments import paused_gc  # noqa: E402
from integration.x12.t835_005010x221a1 import (  # noqa: E402
    iter_835_claims,
    read_835,
    write_835,
)
from integration.x12.t837_005010x222a1 import (  # noqa: E402
    Claim837Transaction,
    read_837p,
    write_837p,
)
from tests.unit.denials.era_scenarios import (  # noqa: E402
    PAID_CLAIM,
    PAYER_PARAMS,
    clock,
    control_numbers,
    remittance,
)
from tests.unit.x12 import scenarios_837p as s837  # noqa: E402

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


def rate(
    label: str, megabytes: float, fn: Callable[[], object], claims: int | None = None
) -> dict[str, Any]:
    """Run `fn` once; print and return its CPU and wall time, MB/s and claims/s (on CPU time)."""
    wall, cpu = time.perf_counter(), time.process_time()
    detail = fn()
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    result: dict[str, Any] = {
        "reader": label,
        "mb": round(megabytes, 2),
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 3),
        "mb_per_s": round(megabytes / cpu, 2) if megabytes else None,
    }
    if claims is not None:
        result["claims"] = claims
        result["claims_per_s"] = round(claims / cpu)
    result["detail"] = detail
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


def model_floor(label: str, models: object, split: dict[str, Any]) -> None:
    """What the typed models alone cost, every argument ready: the ceiling of any reader that
    returns them, as a ratio to `split` (the str.split floor of the same text).

    It walks what the reader returned and times, on their own: calling each model class with
    the values it holds (frozen dataclasses, `Decimal` money, `date` dates); the same number
    of plain tuples instead of the dataclasses (the cheapest object Python makes); and the
    `Decimal` and `date` values. `tokenize + tuples + values` is the best any typed reader
    with Decimal money and dates could do, before it looks at a single segment. The collector
    is paused, as the readers pause it (`segments.paused_gc`)."""
    calls: list[tuple[Any, dict[str, Any]]] = []
    decimals: list[str] = []
    dates: list[tuple[int, int, int]] = []

    def walk(obj: Any) -> None:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.init}
            for value in fields.values():
                walk(value)
            calls.append((type(obj), fields))
        elif isinstance(obj, list | tuple):
            for item in obj:
                walk(item)
        elif isinstance(obj, Decimal):
            decimals.append(str(obj))
        elif isinstance(obj, date):
            dates.append((obj.year, obj.month, obj.day))

    walk(models)
    values = [list(fields.values()) for _cls, fields in calls]  # tuple(a tuple) would not copy

    def cpu(fn: Callable[[], object]) -> float:  # collector paused, as read_835 does
        best = float("inf")
        for _ in range(3):
            with paused_gc():
                started = time.process_time()
                fn()
                best = min(best, time.process_time() - started)
        return best

    models_s = cpu(lambda: [cls(**fields) for cls, fields in calls])
    tuples_s = cpu(lambda: [tuple(v) for v in values])
    values_s = cpu(lambda: ([Decimal(d) for d in decimals], [date(*d) for d in dates]))
    split_s = float(split["cpu_s"])
    print(
        json.dumps(
            {
                "floor": label,
                "objects": len(calls),
                "decimals": len(decimals),
                "dates": len(dates),
                "construct_models_s": round(models_s, 3),
                "construct_tuples_s": round(tuples_s, 3),
                "construct_values_s": round(values_s, 3),
                "ceiling_with_these_models": round(split_s / (split_s + models_s + values_s), 3),
                "ceiling_with_any_objects": round(split_s / (split_s + tuples_s + values_s), 3),
            }
        ),
        flush=True,
    )


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


def ours_streamed(text: str) -> str:
    problems: list[object] = []
    claims = 0
    for _ in iter_835_claims(io.StringIO(text), problems):  # type: ignore[arg-type]
        claims += 1
    return f"{claims} claims, {len(problems)} problems"


# -- 837P ------------------------------------------------------------------------------------


def claims_837p(count: int, per_subscriber: int = 5) -> Claim837Transaction:
    """One transaction of `count` claims: the BIOPSY, MOHS and BIOLOGIC scenarios in turn,
    `per_subscriber` claims per subscriber (2000B), each subscriber with its own member id (the
    TR3 allows at most 100 claims (2300) per subscriber)."""
    kinds = (s837.BIOPSY, s837.MOHS, s837.BIOLOGIC)
    claims = [
        dataclasses.replace(kinds[i % 3], patient_control_number=f"DRCM-BENCH-{i:06d}")
        for i in range(count)
    ]
    one = s837.transaction(*claims[:1])
    provider = one.billing_providers[0]
    template = provider.subscribers[0]
    subscribers = tuple(
        dataclasses.replace(
            template,
            subscriber=dataclasses.replace(template.subscriber, id=f"SBX{j:09d}"),
            claims=tuple(claims[j * per_subscriber : (j + 1) * per_subscriber]),
        )
        for j in range((count + per_subscriber - 1) // per_subscriber)
    )
    return dataclasses.replace(
        one, billing_providers=(dataclasses.replace(provider, subscribers=subscribers),)
    )


def write_claims(model: Claim837Transaction) -> str:
    return write_837p(
        model, s837.CLINIC_PARAMS, s837.clock, s837.control_numbers(), segment_suffix="\n"
    )


def seed_errors(text: str) -> tuple[str, dict[int, str]]:
    """A copy of the 837P `text` with a defect in a few claims (0-based claim ordinal -> what):
    an impossible service date, a missing entity type (NM102) and a missing HI segment (SE01
    corrected). Every other claim is valid."""
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("CLM*")]
    seeded: dict[int, str] = {}

    def in_claim(k: int, prefix: str) -> int:
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        return next(i for i in range(starts[k], end) if lines[i].startswith(prefix))

    k = len(starts) // 5
    i = in_claim(k, "DTP*472*D8*")
    lines[i] = lines[i][: len("DTP*472*D8*")] + "20260231~"
    seeded[k] = "DTP03 impossible date 20260231"
    k = len(starts) // 2
    i = in_claim(k, "NM1*82*")
    lines[i] = lines[i].replace("NM1*82*1*", "NM1*82**", 1)
    seeded[k] = "NM102 (rendering provider) missing"
    k = (len(starts) * 4) // 5
    i = in_claim(k, "HI*")
    del lines[i]
    seeded[k] = "HI (diagnoses) missing"
    se = next(i for i, line in enumerate(lines) if line.startswith("SE*"))
    count = int(lines[se].split("*")[1]) - 1
    lines[se] = f"SE*{count}*" + lines[se].split("*", 2)[2]
    return "\n".join(lines), seeded


def claim_of_segments(text: str) -> list[int]:
    """For each segment position in the transaction (ST = 1), the 0-based claim it belongs to
    (-1 before the first CLM): both validators' findings are compared per claim."""
    owner: list[int] = [-1]
    claim = -1
    in_txn = False
    for raw in text.split("~"):
        seg = raw.strip()
        if seg.startswith("ST*"):
            in_txn = True
        if not in_txn:
            continue
        if seg.startswith("CLM*"):
            claim += 1
        owner.append(claim)
        if seg.startswith("SE*"):
            break
    return owner


def ours_validate(text: str, owner: list[int]) -> tuple[int, list[str], set[int]]:
    """`read_837p`'s errors (warnings left out) and the claims they are in (`owner` from
    `claim_of_segments`, computed outside the timing)."""
    models, problems = read_837p(text)
    errors = [p for p in problems if p.severity == "error"]
    claims: set[int] = set()
    for p in errors:
        if p.segment_index is not None and 0 <= p.segment_index - 1 < len(owner):
            claims.add(owner[p.segment_index - 1])
    n = sum(len(c.claims) for m in models for b in m.billing_providers for c in b.subscribers)
    return n, [p.render() for p in errors], claims


def pyx12_validate(text: str, owner: list[int]) -> tuple[list[str], set[int]]:
    """pyx12's full validation (what its x12valid script runs), its errors read from the error
    tree it writes as JSON, and the claims they are in."""
    import pyx12.params
    import pyx12.x12n_document

    logging.disable(logging.CRITICAL)
    try:
        out = io.StringIO()
        pyx12.x12n_document.x12n_document(
            param=pyx12.params.params(),
            src_file=io.StringIO(text),
            fd_997=None,
            fd_html=None,
            fd_xmldoc=None,
            fd_json=out,
        )
    finally:
        logging.disable(logging.NOTSET)
    messages: list[str] = []
    claims: set[int] = set()

    def walk(node: object, seg_count: int | None) -> None:
        if isinstance(node, dict):
            here = node.get("seg_count", seg_count)
            for err in node.get("errors", []):
                messages.append(f"segment {here}: {err.get('err_cde')} {err.get('err_str')}")
                if isinstance(here, int) and 0 <= here < len(owner):
                    claims.add(owner[here])
            for key in ("interchanges", "groups", "transactions", "segments", "elements"):
                for child in node.get(key, []):
                    walk(child, here)

    walk(json.loads(out.getvalue() or "{}"), None)
    return messages, claims


def bench_837p(args: argparse.Namespace) -> list[Path]:
    model = claims_837p(args.claims)
    holder: dict[str, str] = {}

    def do_write() -> str:
        holder["text"] = write_claims(model)
        return f"{len(holder['text'])} characters"

    rate("write_837p (ours)", 0, do_write, args.claims)
    text = holder["text"]
    size = len(text) / MB
    path = args.dir / f"bench-837p-{args.claims}.837"
    path.write_text(text, encoding="ascii")
    print(json.dumps({"file": str(path), "mb": round(size, 2), "claims": args.claims}))
    split = rate("str.split tokenizer (837P)", size, lambda: f"{split_tokenizer(text)} segments")
    read = rate(
        "read_837p (ours, whole text)",
        size,
        lambda: _describe_837p(text),
        args.claims,
    )
    print(
        json.dumps(
            {
                "ratio_read_837p_to_split": round(
                    float(read["mb_per_s"]) / float(split["mb_per_s"]),
                    3,
                ),
                "ratio_basis": "same text, same run",
            }
        ),
        flush=True,
    )

    model_floor("read_837p", read_837p(text)[0], split)
    seeded, defects = seed_errors(text)
    seeded_path = args.dir / f"bench-837p-{args.claims}-seeded.837"
    seeded_path.write_text(seeded, encoding="ascii")
    owner = claim_of_segments(seeded)
    found: dict[str, tuple[list[str], set[int]]] = {}

    def ours_v() -> str:
        _n, messages, claims = ours_validate(seeded, owner)
        found["ours"] = (messages, claims)
        return f"{len(messages)} errors in claims {sorted(claims)}"

    def theirs_v() -> str:
        found["pyx12"] = pyx12_validate(seeded, owner)
        messages, claims = found["pyx12"]
        return f"{len(messages)} errors in claims {sorted(claims)}"

    ours_r = rate("validate 837P: read_837p (ours)", len(seeded) / MB, ours_v, args.claims)
    theirs_r = rate("validate 837P: pyx12 x12n_document", len(seeded) / MB, theirs_v, args.claims)
    ours_m, ours_c = found["ours"]
    theirs_m, theirs_c = found["pyx12"]
    print(
        json.dumps(
            {
                "seeded": {str(k): v for k, v in defects.items()},
                "ours_claims_flagged": sorted(ours_c),
                "pyx12_claims_flagged": sorted(theirs_c),
                "same_claims": ours_c == theirs_c == set(defects),
                "ours_errors": ours_m,
                "pyx12_errors": theirs_m,
                "speedup_claims_per_s": round(
                    float(ours_r["claims_per_s"]) / float(theirs_r["claims_per_s"]),
                    1,
                ),
            }
        ),
        flush=True,
    )
    return [path, seeded_path]


def _describe_837p(text: str) -> str:
    n, messages, _claims = ours_validate(text, [])
    return f"{n} claims, {len(messages)} errors"


# -- linuxforhealth-x12 ------------------------------------------------------------------------

LFH_CHILD = """
import json, sys, time
from linuxforhealth.x12.io import X12ModelReader
for label, path in zip(sys.argv[1::2], sys.argv[2::2]):
    wall, cpu = time.perf_counter(), time.process_time()
    models = 0
    try:
        with X12ModelReader(path) as reader:
            for _model in reader.models():
                models += 1
        error = None
    except Exception as exc:  # report what it could not read, and go on
        error = f"{type(exc).__name__}: {str(exc)[:300]}"
    cpu = time.process_time() - cpu
    print(json.dumps({"label": label, "models": models, "cpu_s": round(cpu, 3),
                      "wall_s": round(time.perf_counter() - wall, 3), "error": error}), flush=True)
"""


def bench_lfh(python: str, files: list[tuple[str, Path, int]]) -> None:
    """linuxforhealth-x12 in its own interpreter; `files` are (label, path, claims)."""
    if not python or not Path(python).exists():
        print(json.dumps({"reader": "linuxforhealth-x12", "skipped": f"no {python!r}"}))
        return
    argv: list[str] = []
    for label, path, _claims in files:
        argv += [label, str(path)]
    done = subprocess.run(
        [python, "-c", LFH_CHILD, *argv], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        print(json.dumps({"reader": "linuxforhealth-x12", "error": done.stderr[-800:]}))
        return
    sizes = {label: (path.stat().st_size / MB, claims) for label, path, claims in files}
    for line in done.stdout.splitlines():
        row = json.loads(line)
        mb, claims = sizes[row["label"]]
        cpu = row["cpu_s"] or 1e-9
        row.update(
            reader=f"linuxforhealth-x12 X12ModelReader ({row.pop('label')})",
            mb=round(mb, 2),
            mb_per_s=round(mb / cpu, 2),
            claims=claims,
            claims_per_s=round(claims / cpu),
        )
        print(json.dumps(row), flush=True)


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
    start, cpu = time.perf_counter(), time.process_time()
    claims = 0
    paid = Decimal(0)
    with open(path, "rb") as stream:
        for _header, claim in iter_835_claims(stream, problems, chunk_size=chunk_size):  # type: ignore[arg-type]
            claims += 1
            paid += claim.paid
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    peak_kb = peak_rss_kb()
    size = Path(path).stat().st_size / MB
    print(
        json.dumps(
            {
                "reader": "iter_835_claims (stream)",
                "mb": round(size, 1),
                "cpu_s": round(cpu, 2),
                "wall_s": round(seconds, 2),
                "mb_per_s": round(size / cpu, 2),
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
    parser.add_argument("--claims", type=int, default=5000)
    parser.add_argument("--big-mb", type=float, default=1024)
    parser.add_argument("--pyx12-mb", type=float, default=5)
    parser.add_argument("--dir", type=Path, default=Path("/tmp"))
    parser.add_argument("--chunk-size", type=int, default=1 << 20)
    parser.add_argument("--lfh-python", default="/tmp/lfh/bin/python")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--skip", default="", help="comma-separated: 835,837p,lfh,big")
    parser.add_argument("--child-stream", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_stream:
        child_stream(args.child_stream, args.chunk_size)
        return
    skip = set(filter(None, args.skip.split(",")))

    print(
        json.dumps(
            {
                "cpu": cpu_name(),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "load_average": os.getloadavg(),
            }
        ),
        flush=True,
    )
    made: list[Path] = []
    lfh_files: list[tuple[str, Path, int]] = []
    try:
        if "835" not in skip:
            small = args.dir / f"bench-835-{args.mb:g}mb.835"
            claims = generate(small, args.mb)
            made.append(small)
            text = small.read_text(encoding="ascii")
            size = len(text) / MB
            print(json.dumps({"file": str(small), "mb": round(size, 1), "claims": claims}))
            split = rate("str.split tokenizer", size, lambda: f"{split_tokenizer(text)} segments")
            head = text[: int(args.pyx12_mb * MB)]
            head = head[: head.rfind("~") + 1]
            rate(
                "pyx12 X12Reader (no map)", len(head) / MB, lambda: f"{pyx12_reader(head)} segments"
            )
            whole = rate("read_835 (ours, whole text)", size, lambda: ours(text), claims)
            streamed = rate(
                "iter_835_claims (ours, from memory)", size, lambda: ours_streamed(text), claims
            )
            floor = float(split["mb_per_s"])
            model_floor("read_835", read_835(text)[0], split)
            print(
                json.dumps(
                    {
                        "ratio_read_835_to_split": round(float(whole["mb_per_s"]) / floor, 3),
                        "ratio_iter_835_claims_to_split": round(
                            float(streamed["mb_per_s"]) / floor,
                            3,
                        ),
                    }
                ),
                flush=True,
            )
            lfh_files.append(("835", small, claims))
        if "837p" not in skip:
            written, seeded = bench_837p(args)
            made += [written, seeded]
            relabelled = args.dir / f"bench-837p-{args.claims}-x222a2.837"
            relabelled.write_text(
                written.read_text(encoding="ascii").replace("005010X222A1", "005010X222A2"),
                encoding="ascii",
            )
            made.append(relabelled)
            lfh_files.append(("837P", relabelled, args.claims))
        if "lfh" not in skip and lfh_files:
            bench_lfh(args.lfh_python, lfh_files)
        if "big" not in skip:
            big = args.dir / f"bench-835-{args.big_mb:g}mb.835"
            made.append(big)
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
    finally:
        if not args.keep:
            for path in made:
                path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
