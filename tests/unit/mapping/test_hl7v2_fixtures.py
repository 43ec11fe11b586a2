"""Golden tests: every fixture message in fixtures/hl7/ maps to the FHIR beside it.

`<scenario>.hl7` holds one message or a batch; `<scenario>.fhir.json` holds, per message,
its control id and either the resources (with their write mode, and the elements the store
keeps as stored when the message does not give them) or the located error.
UPDATE_GOLDENS=1 rewrites the expected files: review the diff before committing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from integration.hl7v2.errors import Hl7Error
from integration.hl7v2.message import parse_message, split_batch
from integration.mapping.hl7v2 import Hl7Maps, MappingOptions, map_message
from integration.mapping.hl7v2_transforms import load_feed_maps
from integration.paths import fixtures_dir

FIXTURES = sorted((fixtures_dir() / "hl7").glob("*.hl7"))
OPTIONS = MappingOptions(timezone="America/New_York")


@pytest.fixture(scope="module")
def maps() -> Hl7Maps:
    return load_feed_maps()


def mapped(path: Path, maps: Hl7Maps) -> dict[str, Any]:
    out = []
    for text in split_batch(path.read_bytes().decode("utf-8")).messages:
        message = parse_message(text)
        entry: dict[str, Any] = {"control_id": message.header.control_id}
        try:
            entry["resources"] = [
                {"mode": r.mode, **({"keep": list(r.keep)} if r.keep else {}), "resource": r.body}
                for r in map_message(message, maps, OPTIONS)
            ]
        except Hl7Error as exc:
            entry["error"] = {"code": exc.code.value, "message": exc.message}
        out.append(entry)
    return {"messages": out}


def test_there_are_fixtures_for_every_mapped_message_type(maps: Hl7Maps) -> None:
    seen = set()
    for path in FIXTURES:
        for text in split_batch(path.read_text(encoding="utf-8")).messages:
            seen.add(parse_message(text).header.message_type)
    assert set(maps.message_types) <= seen, set(maps.message_types) - seen


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture_maps_to_expected_fhir(path: Path, maps: Hl7Maps) -> None:
    expected_path = path.with_suffix(".fhir.json")
    actual = mapped(path, maps)
    if os.environ.get("UPDATE_GOLDENS") == "1":
        expected_path.write_text(
            json.dumps(actual, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    assert expected_path.is_file(), (
        f"{expected_path.name} missing: run with UPDATE_GOLDENS=1 and review it"
    )
    assert actual == json.loads(expected_path.read_text(encoding="utf-8"))
