"""The maps compiled to generated Python source (the default) map every message as the closure
interpreter does (`load_hl7_maps(generate=False)`, the reference): the same resources (type, id,
mode, body, map) in the same order, or the same error (code, location, message). Over every
fixture message, the benchmark's synthetic messages and seeded mutations of all of them (fields
emptied, set to `""`, to junk, to an out-of-range date or number, repetitions added, segments
dropped or repeated)."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.hl7v2.errors import Hl7Error
from integration.hl7v2.message import parse_message, split_batch
from integration.mapping.evidence_maps import load_evidence_maps
from integration.mapping.hl7v2 import Hl7Maps, MappingOptions, load_hl7_maps, map_message
from integration.mapping.hl7v2_transforms import hl7_transforms
from integration.paths import fixtures_dir

FIXTURES = sorted((fixtures_dir() / "hl7").glob("*.hl7"))
OPTIONS = MappingOptions(timezone="America/New_York")
MUTATIONS_PER_MESSAGE = 150
_JUNK = ["", '""', "X", "abc", "20261399", "2026120612", "-1", "0", "1.5", "Y", "F", "~a~b", "^^^"]


@pytest.fixture(scope="module")
def both() -> tuple[Hl7Maps, Hl7Maps]:
    transforms = hl7_transforms(load_evidence_maps())
    return (
        load_hl7_maps(None, transforms, generate=True),
        load_hl7_maps(None, transforms, generate=False),
    )


def _bench_messages() -> list[str]:
    bench = Path(__file__).resolve().parents[3] / "bench"
    sys.path.insert(0, str(bench))
    try:
        import hl7_ingest
    finally:
        sys.path.remove(str(bench))
    return [m.decode("utf-8") for m in hl7_ingest.make_messages("EQ", 0, 4, ["ADT^A04", "ORU^R01"])]


def _messages() -> list[str]:
    out: list[str] = []
    for path in FIXTURES:
        out.extend(split_batch(path.read_bytes().decode("utf-8")).messages)
    return out + _bench_messages()


def _mutated(text: str, rng: random.Random) -> str:
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


def _outcome(text: str, maps: Hl7Maps) -> Any:
    try:
        message = parse_message(text)
    except Hl7Error:
        return None
    try:
        resources = map_message(message, maps, OPTIONS)
    except Hl7Error as exc:
        return ("error", exc.code, exc.where, exc.message)
    return [(r.type, r.id, r.mode, r.body, r.map_name) for r in resources]


def _cases() -> Iterator[str]:
    rng = random.Random(20261206)
    for text in _messages():
        yield text
        for _ in range(MUTATIONS_PER_MESSAGE):
            yield _mutated(text, rng)


def test_generated_maps_agree_with_the_closure_interpreter(both: tuple[Hl7Maps, Hl7Maps]) -> None:
    generated, reference = both
    compared = errors = 0
    for text in _cases():
        expected = _outcome(text, reference)
        if expected is None:
            continue
        assert _outcome(text, generated) == expected, text
        compared += 1
        errors += isinstance(expected, tuple)
    assert compared > 3000 and errors > 200, (compared, errors)


def test_generated_source_is_kept_for_reading(both: tuple[Hl7Maps, Hl7Maps]) -> None:
    generated, reference = both
    body = generated.by_type["ORU^R01"].resources[0].body
    assert "def run(scope):" in body.source  # type: ignore[attr-defined]
    assert not hasattr(reference.by_type["ORU^R01"].resources[0].body, "source")
