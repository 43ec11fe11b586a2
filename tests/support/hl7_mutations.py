"""Messages for equivalence tests: every fixture message, the benchmark's synthetic ones, and
seeded mutations of all of them (fields emptied, set to `""`, to junk, to an out-of-range date
or number, repetitions added, segments dropped or repeated), with what a map makes of each."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from integration.hl7v2.errors import Hl7Error
from integration.hl7v2.message import parse_message, split_batch
from integration.mapping.hl7v2 import Hl7Maps, MappingOptions, map_message
from integration.paths import fixtures_dir

OPTIONS = MappingOptions(timezone="America/New_York")
MUTATIONS_PER_MESSAGE = 150
_JUNK = ["", '""', "X", "abc", "20261399", "2026120612", "-1", "0", "1.5", "Y", "F", "~a~b", "^^^"]


def _bench_messages() -> list[str]:
    bench = Path(__file__).resolve().parents[2] / "bench"
    sys.path.insert(0, str(bench))
    try:
        import hl7_ingest
    finally:
        sys.path.remove(str(bench))
    return [m.decode("utf-8") for m in hl7_ingest.make_messages("EQ", 0, 4, ["ADT^A04", "ORU^R01"])]


def messages() -> list[str]:
    out: list[str] = []
    for path in sorted((fixtures_dir() / "hl7").glob("*.hl7")):
        out.extend(split_batch(path.read_bytes().decode("utf-8")).messages)
    return out + _bench_messages()


def mutated(text: str, rng: random.Random) -> str:
    segments = [s for s in text.split("\r") if s]
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(1, len(segments))  # MSH stays
        op = rng.random()
        if op < 0.1 and len(segments) > 2:
            del segments[i]
        elif op < 0.2:
            segments.insert(i, segments[i])
        else:
            fields = segments[i].split("|")
            if len(fields) < 2:
                continue
            f = rng.randrange(1, len(fields) + 2)
            fields.extend([""] * (f + 1 - len(fields)))
            if op < 0.3 and fields[f]:
                fields[f] = fields[f] + "~" + fields[f]
            elif op < 0.45 and "^" in fields[f]:
                parts = fields[f].split("^")
                parts[rng.randrange(len(parts))] = rng.choice(_JUNK)
                fields[f] = "^".join(parts)
            else:
                fields[f] = rng.choice(_JUNK)
            segments[i] = "|".join(fields)
    return "\r".join(segments) + "\r"


def cases(mutations: int = MUTATIONS_PER_MESSAGE) -> Iterator[str]:
    """Each message, then `mutations` mutations of it (the same ones on every run)."""
    rng = random.Random(20261206)
    for text in messages():
        yield text
        for _ in range(mutations):
            yield mutated(text, rng)


def outcome(text: str, maps: Hl7Maps) -> Any:
    """None if the text can't be parsed; the error (code, location, message) if it can't be
    mapped; else each resource's type, id, mode, body and map."""
    try:
        message = parse_message(text)
    except Hl7Error:
        return None
    try:
        resources = map_message(message, maps, OPTIONS)
    except Hl7Error as exc:
        return ("error", exc.code, exc.where, exc.message)
    return [(r.type, r.id, r.mode, r.body, r.map_name) for r in resources]
