"""The ingest stores the same rows and sends the same ACK bytes whether the maps are compiled
to generated Python source (the default) or to closures (the reference interpreter): every
fixture message, the benchmark's messages and seeded mutations of them, in groups of 8, on
SQLite and PostgreSQL."""

from __future__ import annotations

import random

import pytest
from sqlalchemy.engine import Engine

from integration.mapping.evidence_maps import load_evidence_maps
from integration.mapping.hl7v2 import Hl7Maps, load_hl7_maps
from integration.mapping.hl7v2_transforms import hl7_transforms
from tests.integration.hl7v2 import test_ingest_driver as driver_test
from tests.support.hl7_mutations import messages, mutated


def _own_control_id(text: str, n: int) -> str:
    """A mutated copy with its own MSH-10, so it is mapped (not taken for a resend)."""
    msh, _, rest = text.partition("\r")
    fields = msh.split("|")
    fields[9] = f"GEN-{n}"
    return "|".join(fields) + "\r" + rest


def _groups() -> list[list[str]]:
    rng = random.Random(6)
    texts: list[str] = []
    for text in messages():
        texts += [text, *(_own_control_id(mutated(text, rng), len(texts) + k) for k in (0, 1))]
    return [texts[i : i + 8] for i in range(0, len(texts), 8)]


def _maps(generate: bool) -> Hl7Maps:
    return load_hl7_maps(None, hl7_transforms(load_evidence_maps()), generate=generate)


def test_generated_and_closure_maps_store_the_same(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(driver_test, "groups", _groups)
    monkeypatch.setattr(driver_test, "load_feed_maps", lambda: _maps(True))
    acks, rows = driver_test.ingest_and_dump(engine)
    monkeypatch.setattr(driver_test, "load_feed_maps", lambda: _maps(False))
    reference_acks, reference_rows = driver_test.ingest_and_dump(engine)

    assert len(acks) > 75 and any(b"|AE|" in ack or b"MSA|AE" in ack for ack in acks)
    assert acks == reference_acks
    assert rows == reference_rows
