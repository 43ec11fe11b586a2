"""Benchmark: HL7 v2 parse throughput on one core (docs/hl7apy-speed.md).

Can hl7apy be on the hot path (target: >= 20,000 msg/s on one core for ADT/ORU messages of
10-30 segments)? This times, on the same messages, hl7apy with each of its options, python-hl7,
a bare `str.split`, and our tokenizer (`integration.hl7v2.message.parse_message`), alone and
followed by reading 11 values (MSH-9.1, 9.2, 10, 12, PID-3.1, 5.1, 5.2, 7, 8, PV1-2, OBR-4.1).

Messages: every sample in ../shared/data/hl7 (PROVENANCE.md there; fixtures/hl7/*.hl7 if
that directory is missing) that all three parsers accept, batches split into messages,
segments CR-terminated (hl7apy splits on CR only), plus two synthetic dermatology messages
below (an ADT^A04 of 13 segments and an ORU^R01 of 18), since the public samples hold few
ADT/ORU messages of 10-30 segments. "10-30 seg" is the subset the target is about.

Timing: each variant gets --seconds after a warm-up pass; each message is timed in batches of
calls lasting >= ~0.2 ms (timer overhead < 1%) and keeps its best batch; a rate is 1 / the
mean of those per-message times (each message counts once).

Usage: python bench/hl7_parse.py [--seconds 2] [--only hl7apy] [--json [PATH]]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import hl7  # noqa: E402
import hl7apy  # noqa: E402
import hl7apy.core  # noqa: E402
import hl7apy.parser  # noqa: E402
from hl7apy.consts import VALIDATION_LEVEL  # noqa: E402
from machine import cpu_name  # noqa: E402  (bench/, the script's own folder)

from integration.hl7v2.errors import Hl7Error  # noqa: E402
from integration.hl7v2.message import parse_message, split_batch, split_lines  # noqa: E402

SAMPLES = ROOT.parent / "shared" / "data" / "hl7"
FALLBACK = ROOT / "fixtures" / "hl7"
TARGET = 20_000
TYPICAL = range(10, 31)  # segments
READ = (
    ("MSH", 9, 1),
    ("MSH", 9, 2),
    ("MSH", 10, 1),
    ("MSH", 12, 1),
    ("PID", 3, 1),
    ("PID", 5, 1),
    ("PID", 5, 2),
    ("PID", 7, 1),
    ("PID", 8, 1),
    ("PV1", 2, 1),
    ("OBR", 4, 1),
)

SYNTHETIC = (
    "MSH|^~\\&|EHR|DERM|RCM|DERM|20260105093000||ADT^A04^ADT_A01|MSG0001|P|2.5.1|||AL|NE\r"
    "EVN|A04|20260105093000\r"
    "PID|1||MRN000123^^^DERM^MR~SSN0000^^^SSA^SS||DOE^JANE^Q^^^^L||19800101|F|||"
    "1 MAIN ST^^SPRINGFIELD^IL^62701^USA^H||^PRN^PH^^1^217^5550100|||S||ACCT0001\r"
    "PD1|||DERM CLINIC^^1234\r"
    "NK1|1|DOE^JOHN|SPO^Spouse^HL70063|1 MAIN ST^^SPRINGFIELD^IL^62701\r"
    "PV1|1|O|DERM^101^1^DERM||||1234567890^SMITH^ANNA^^^DR^MD|||DER||||||||OP|V0001\r"
    "PV2|||L40.0^Psoriasis vulgaris^I10\r"
    "OBX|1|NM|8302-2^Body height^LN||165|cm|||||F\r"
    "OBX|2|NM|29463-7^Body weight^LN||70|kg|||||F\r"
    "AL1|1|DA|70618^Penicillin^RXNORM|MO|Hives\r"
    "DG1|1||L40.0^Psoriasis vulgaris^I10||20260105|W\r"
    "GT1|1||DOE^JANE||1 MAIN ST^^SPRINGFIELD^IL^62701\r"
    "IN1|1|PLAN01^Commercial PPO|PAYER01|ACME HEALTH|PO BOX 1^^CHICAGO^IL^60601|||GRP01||||"
    "20260101|20261231|||DOE^JANE|SEL|19800101\r",
    "MSH|^~\\&|LAB|DERMPATH|RCM|DERM|20260105120000||ORU^R01^ORU_R01|MSG0002|P|2.5.1\r"
    "PID|1||MRN000123^^^DERM^MR||DOE^JANE^Q||19800101|F\r"
    "PV1|1|O|DERM^101^1\r"
    "ORC|RE|ORD0001|FIL0001\r"
    "OBR|1|ORD0001|FIL0001|88305^Surgical pathology^CPT|||20260104100000\r"
    + "".join(
        f"OBX|{n}|TX|22634-0^Path report^LN|{n}|Line {n} of the report\\.br\\text||||||F\r"
        for n in range(1, 13)
    )
    + "NTE|1||Reviewed\r",
)


@dataclass(frozen=True, slots=True)
class Corpus:
    messages: tuple[str, ...]
    source: str
    skipped: tuple[str, ...]

    def segments(self, index: int) -> int:
        return len(split_lines(self.messages[index]))


@dataclass(slots=True)
class Result:
    variant: str
    how: str
    all_rate: float
    typical_rate: float
    typical_us: float
    rejected: int
    calls: int


def load_corpus() -> Corpus:
    if SAMPLES.is_dir():
        files, source = sorted(SAMPLES.glob("*.hl7")), str(SAMPLES)
    elif FALLBACK.is_dir():
        files, source = sorted(FALLBACK.glob("*.hl7")), str(FALLBACK)
    else:
        files, source = [], "no sample directory"
    named = [(path.name, path.read_bytes().decode("utf-8")) for path in files]
    named += [(f"synthetic-{n}", text) for n, text in enumerate(SYNTHETIC, start=1)]
    messages: list[str] = []
    skipped: list[str] = []
    for name, text in named:
        try:
            parts = split_batch(text).messages
        except Hl7Error as error:
            skipped.append(f"{name}: ours: {error.message}")
            continue
        for part in parts:
            message = "\r".join(line.strip() for line in split_lines(part)) + "\r"
            try:
                parse_message(message)
                hl7.parse(message)
                hl7apy.parser.parse_message(
                    message, find_groups=False, validation_level=VALIDATION_LEVEL.TOLERANT
                )
            except Exception as error:
                skipped.append(f"{name}: {type(error).__name__}: {str(error)[:80]}")
                continue
            messages.append(message)
    return Corpus(tuple(messages), source, tuple(skipped))


# --- variants: each is called with one prepared argument per message ----------------------


def bare_split(text: str) -> list[list[str]]:
    return [line.split("|") for line in text.split("\r") if line]


def ours_read(text: str) -> list[str]:
    message = parse_message(text)
    values = []
    for segment_id, field, component in READ:
        segment = message.first(segment_id)
        values.append(segment.value(field, component) if segment else "")
    return values


def python_hl7_read(text: str) -> list[str]:
    message = hl7.parse(text)
    values = []
    for segment_id, field, component in READ:
        try:
            values.append(message.extract_field(segment_id, 1, field, 1, component, 1))
        except (KeyError, IndexError):  # no such segment / field
            values.append("")
    return values


def hl7apy_default(text: str) -> Any:
    return hl7apy.parser.parse_message(text)


def hl7apy_flat(text: str) -> Any:
    return hl7apy.parser.parse_message(
        text, find_groups=False, validation_level=VALIDATION_LEVEL.TOLERANT
    )


def hl7apy_strict(text: str) -> Any:
    return hl7apy.parser.parse_message(text, validation_level=VALIDATION_LEVEL.STRICT)


def hl7apy_validated(text: str) -> Any:
    return hl7apy.parser.parse_message(
        text, validation_level=VALIDATION_LEVEL.STRICT, force_validation=True
    )


def hl7apy_info_then_segments(text: str) -> Any:
    encoding, _structure, version = hl7apy.parser.get_message_info(text)
    return hl7apy.parser.parse_segments(text, version, encoding, VALIDATION_LEVEL.TOLERANT)


def prepared_segments(text: str) -> tuple[str, str, dict[str, str]]:
    encoding, _structure, version = hl7apy.parser.get_message_info(text)
    return text, version, encoding


def hl7apy_segments_only(prepared: tuple[str, str, dict[str, str]]) -> Any:
    text, version, encoding = prepared
    return hl7apy.parser.parse_segments(text, version, encoding, VALIDATION_LEVEL.TOLERANT)


def prepared_needed(text: str) -> tuple[list[str], str, dict[str, str]]:
    encoding, _structure, version = hl7apy.parser.get_message_info(text)
    wanted = {segment_id for segment_id, _f, _c in READ}
    lines = [line for line in text.split("\r") if line[:3] in wanted]
    return lines, version, encoding


def hl7apy_needed_segments(prepared: tuple[list[str], str, dict[str, str]]) -> Any:
    lines, version, encoding = prepared
    return [
        hl7apy.parser.parse_segment(line, version, encoding, VALIDATION_LEVEL.TOLERANT)
        for line in lines
    ]


@contextmanager
def memoized_hl7apy() -> Iterator[None]:
    """hl7apy with its per-element lookups memoized (monkeypatched; restored afterwards)."""
    patched = {
        (hl7apy, "load_library"): hl7apy.load_library,
        (hl7apy.core, "load_library"): hl7apy.core.load_library,
        (hl7apy, "load_reference"): hl7apy.load_reference,
        (hl7apy.core, "load_reference"): hl7apy.core.load_reference,
        (hl7apy.core, "is_base_datatype"): hl7apy.core.is_base_datatype,
        (hl7apy.parser, "is_base_datatype"): hl7apy.parser.is_base_datatype,
    }
    cached = {id(f): functools.cache(f) for f in patched.values()}
    for (module, name), original in patched.items():
        setattr(module, name, cached[id(original)])
    try:
        yield
    finally:
        for (module, name), original in patched.items():
            setattr(module, name, original)


def identity(text: str) -> str:
    return text


VARIANTS: tuple[tuple[str, str, Callable[[Any], Any], Callable[[str], Any], bool], ...] = (
    ("str.split", "lines and fields, nothing else", bare_split, identity, False),
    ("ours: parse_message", "integration.hl7v2.message", parse_message, identity, False),
    ("ours: parse + read 11 values", "Segment.value, unescaped", ours_read, identity, False),
    ("python-hl7: hl7.parse", "hl7 0.4.5, eager tree", hl7.parse, identity, False),
    ("python-hl7: parse + read 11", "extract_field", python_hl7_read, identity, False),
    ("hl7apy: parse_message defaults", "find_groups, TOLERANT", hl7apy_default, identity, False),
    ("hl7apy: find_groups=False", "TOLERANT", hl7apy_flat, identity, False),
    (
        "hl7apy: find_groups=False + memoized",
        "lookups cached (monkeypatch)",
        hl7apy_flat,
        identity,
        True,
    ),
    ("hl7apy: STRICT", "find_groups", hl7apy_strict, identity, False),
    ("hl7apy: STRICT + force_validation", "on-demand cost", hl7apy_validated, identity, False),
    (
        "hl7apy: get_message_info + parse_segments",
        "no Message object",
        hl7apy_info_then_segments,
        identity,
        False,
    ),
    (
        "hl7apy: parse_segments, info precomputed",
        "encoding/version reused",
        hl7apy_segments_only,
        prepared_segments,
        False,
    ),
    (
        "hl7apy: parse_segment of MSH/PID/PV1/OBR only",
        "lines pre-split, lazy",
        hl7apy_needed_segments,
        prepared_needed,
        False,
    ),
)


def measure(
    corpus: Corpus, function: Callable[[Any], Any], prepare: Callable[[str], Any], seconds: float
) -> tuple[list[float], int, int]:
    """Best seconds per call for each message, messages rejected, calls made.

    Each message is timed in batches of calls (a batch lasts >= ~0.2 ms) until `seconds` have
    passed, at least twice; its time is the best batch's, as `timeit` advises: on a shared
    machine the slower batches measure the neighbours.
    """
    arguments = [prepare(message) for message in corpus.messages]
    rejected = 0
    first: list[float] = []
    for argument in arguments:  # warm-up and calibration
        started = time.perf_counter()
        try:
            function(argument)
        except Exception:
            rejected += 1
        first.append(max(time.perf_counter() - started, 1e-7))
    batch = [max(1, int(0.0002 / elapsed)) for elapsed in first]
    best = [float("inf")] * len(arguments)
    calls = 0
    rounds = 0
    deadline = time.perf_counter() + seconds
    while rounds < 2 or time.perf_counter() < deadline:
        rounds += 1
        for index, argument in enumerate(arguments):
            repeat = batch[index]
            started = time.perf_counter()
            if rejected:
                for _ in range(repeat):
                    try:  # noqa: SIM105 (a `with suppress()` per call would be timed too)
                        function(argument)
                    except Exception:
                        pass
            else:
                for _ in range(repeat):
                    function(argument)
            best[index] = min(best[index], (time.perf_counter() - started) / repeat)
            calls += repeat
    return best, rejected, calls


def run(seconds: float, only: str | None) -> tuple[Corpus, list[Result]]:
    corpus = load_corpus()
    if not corpus.messages:
        raise SystemExit("no messages to time")
    typical = [i for i in range(len(corpus.messages)) if corpus.segments(i) in TYPICAL]
    results = []
    for name, how, function, prepare, memoized in VARIANTS:
        if only and only.lower() not in name.lower():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if memoized:
                with memoized_hl7apy():
                    per_message, rejected, calls = measure(corpus, function, prepare, seconds)
            else:
                per_message, rejected, calls = measure(corpus, function, prepare, seconds)
        typical_mean = statistics.fmean(per_message[i] for i in typical) if typical else 0.0
        results.append(
            Result(
                name,
                how,
                1 / statistics.fmean(per_message),
                1 / typical_mean if typical_mean else 0.0,
                typical_mean * 1e6,
                rejected,
                calls,
            )
        )
        print(f"  {name}: {results[-1].typical_rate:,.0f} msg/s", file=sys.stderr, flush=True)
    return corpus, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per variant (default 2)")
    parser.add_argument("--only", help="run the variants whose name contains this text")
    parser.add_argument(
        "--json", nargs="?", const="-", metavar="PATH", help="also write JSON (to stdout: -)"
    )
    args = parser.parse_args()
    corpus, results = run(args.seconds, args.only)
    sizes = [corpus.segments(i) for i in range(len(corpus.messages))]
    typical = [n for n in sizes if n in TYPICAL]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    machine = (
        f"{platform.machine()}, {os.cpu_count()} CPUs ({cpu_name()}), "
        f"Python {platform.python_version()}, hl7apy {metadata.version('hl7apy')}, "
        f"hl7 {metadata.version('hl7')}, "
        f"{platform.system()} {platform.release()}, load {load:.2f}"
    )
    command = f"python bench/hl7_parse.py --seconds {args.seconds:g}"
    lines = [
        f"machine: {machine}",
        f"command: {command}   (date {date.today()})",
        f"messages: {len(sizes)} from {corpus.source} ({statistics.fmean(sizes):.1f} segments "
        f"on average); 10-30 segments: {len(typical)} "
        f"({statistics.fmean(typical) if typical else 0:.1f} on average)",
        *(f"skipped: {reason}" for reason in corpus.skipped),
        "",
        "| variant | | all msg/s | 10-30 seg msg/s | µs/msg (10-30) | vs 20,000 msg/s |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in results:
        ratio = TARGET / r.typical_rate
        verdict = "meets" if ratio <= 1 else f"{ratio:,.{1 if ratio < 10 else 0}f}x short"
        rejected = f"; rejects {r.rejected}/{len(sizes)}" if r.rejected else ""
        lines.append(
            f"| {r.variant} | {r.how}{rejected} | {r.all_rate:,.0f} | {r.typical_rate:,.0f} "
            f"| {r.typical_us:,.1f} | {verdict} |"
        )
    print("\n".join(lines))
    if args.json:
        payload = {
            "machine": machine,
            "command": command,
            "date": str(date.today()),
            "messages": len(sizes),
            "typical_messages": len(typical),
            "skipped": list(corpus.skipped),
            "target_msg_per_s": TARGET,
            "results": [asdict(r) for r in results],
        }
        text = json.dumps(payload, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
