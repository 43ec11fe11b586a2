"""Synthetic HL7 v2 messages for tests (made-up people and ids)."""

from __future__ import annotations

from typing import Any

from integration.hl7v2.message import parse_message, split_batch
from integration.mapping.hl7v2 import Hl7Maps, MappedResource, MappingOptions, map_message
from integration.paths import fixtures_dir


def segment(seg_id: str, fields: dict[int, str]) -> str:
    """A segment with the given fields (HL7 numbering) and empty ones between."""
    last = max(fields)
    return "|".join([seg_id, *(fields.get(i, "") for i in range(1, last + 1))])


def adt_a04(n: int, *, control_id: str | None = None, sex: str = "F") -> str:
    """A register message for synthetic patient number n, with a visit and insurance."""
    cid = control_id or f"TEST{n:08d}"
    return (
        "\r".join(
            [
                f"MSH|^~\\&|TESTEHR|DERMCLINIC|DERM-RCM|DERMCLINIC|20261120093000-0500||ADT^A04^ADT_A01|{cid}|P|2.5.1",
                "EVN|A04|20261120093000-0500",
                segment(
                    "PID",
                    {
                        1: "1",
                        3: f"MRN{n:07d}^^^DERMCLINIC^MR",
                        5: f"TESTPATIENT^SYNTH{n}^Q",
                        7: "19800102",
                        8: sex,
                        11: "1 TEST ST^^SPRINGFIELD^IL^62701^USA",
                    },
                ),
                segment(
                    "PV1",
                    {
                        1: "1",
                        2: "O",
                        3: "DERM^101^1",
                        7: "1234567893^DOCTOR^TEST^^^^^^NPI",
                        19: f"V{n:07d}",
                        44: "20261120093000-0500",
                    },
                ),
                segment(
                    "IN1",
                    {
                        1: "1",
                        2: "PPO1^Test PPO",
                        3: "TESTPAYER",
                        4: "Test Health Plan",
                        8: f"GRP{n % 50:03d}",
                        9: "Test Group",
                        12: "20260101",
                        15: "PPO",
                        17: "SEL",
                        22: "1",
                        36: f"M{n:09d}",
                    },
                ),
            ]
        )
        + "\r"
    )


def held_after(*batches: list[MappedResource]) -> dict[str, dict[str, Any]]:
    """What a FHIR store holds after mapped messages in order, with the write modes of
    integration/store/fhir_store.py: create only if absent, replace, merge top-level elements;
    an element the message left to the map's `keep` stays as held."""
    held: dict[str, dict[str, Any]] = {}
    for batch in batches:
        for r in batch:
            old = held.get(r.reference)
            if r.mode == "create" and old is not None:
                continue
            body = {**old, **r.body} if r.mode == "merge" and old is not None else r.body
            if r.keep and old is not None:
                body = {**body, **{name: old[name] for name in r.keep if name in old}}
            held[r.reference] = body
    return held


def fixture_messages(
    name: str, maps: Hl7Maps, options: MappingOptions
) -> list[list[MappedResource]]:
    """Each message of fixtures/hl7/<name>.hl7 (one, or a batch), mapped."""
    text = (fixtures_dir() / "hl7" / f"{name}.hl7").read_text(encoding="utf-8")
    return [map_message(parse_message(m), maps, options) for m in split_batch(text).messages]
