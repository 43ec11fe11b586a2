"""The 837P model as JSON (what `dermrcm x12 parse` prints and `dermrcm x12 build 837p` reads):
every sample's and golden's JSON validates against fhir_profiles/claim-837p.schema.json, reads
back to an equal model, and that model writes the same X12."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from integration.paths import fixtures_dir, profiles_dir
from integration.x12.t837_005010x222a1 import (
    Claim837Transaction,
    claim_from_json,
    claim_to_json,
    read_837p,
    render_837p,
    write_837p,
)
from tests.unit.x12.scenarios_837p import CLINIC_PARAMS, TRANSACTIONS, clock, control_numbers

SCHEMA_PATH = profiles_dir() / "claim-837p.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text("utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
SAMPLES = [
    p for p in sorted(Path("/work/shared/data/x12").glob("837P__*")) if p.stat().st_size < 100_000
]
GOLDENS = sorted((fixtures_dir() / "x12" / "837p").glob("*.x12"))


def models_of(path: Path) -> list[Claim837Transaction]:
    return read_837p(path.read_bytes())[0]


def through_json(model: Claim837Transaction) -> tuple[dict[str, Any], Claim837Transaction]:
    data = json.loads(json.dumps(claim_to_json(model)))  # as printed, then parsed
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(data)]
    assert errors == []
    return data, claim_from_json(data)


def test_the_schema_is_a_valid_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["title"] == "Claim837Transaction"


@pytest.mark.parametrize("path", SAMPLES + GOLDENS, ids=lambda p: p.name)
def test_json_validates_and_round_trips(path: Path) -> None:
    for model in models_of(path):
        assert model.envelope is not None
        _, back = through_json(model)
        assert back == model
        assert render_837p(back, model.envelope) == render_837p(model, model.envelope)


@pytest.mark.parametrize("name", sorted(TRANSACTIONS))
def test_build_from_json_writes_the_golden(name: str) -> None:
    _, back = through_json(TRANSACTIONS[name])
    text = write_837p(back, CLINIC_PARAMS, clock, control_numbers(), segment_suffix="\n")
    golden = fixtures_dir() / "x12" / "837p" / f"{name}.x12"
    assert text == golden.read_bytes().decode("ascii")


def test_json_shapes() -> None:
    data = claim_to_json(TRANSACTIONS["biologic-j3357-ndc"])
    claim = data["billing_providers"][0]["subscribers"][0]["claims"][0]
    assert claim["total_charge"] == "2740.00"
    assert claim["services"][0]["dates"] == [
        {"qualifier": "472", "start": "2026-02-17", "end": None}
    ]
    assert claim["services"][0]["drug"]["quantity"] == "0.5"
    assert data["header"]["created"] == "2026-03-02T09:30:00"
    assert "envelope" not in data


def test_bad_json_names_the_path() -> None:
    data = claim_to_json(TRANSACTIONS["biologic-j3357-ndc"])
    data["billing_providers"][0]["subscribers"][0]["claims"][0]["total_charge"] = 2740
    with pytest.raises(
        ValueError,
        match=r"\$\.billing_providers\[0\]\.subscribers\[0\]\.claims\[0\]\.total_charge: expected a decimal string, got 2740",
    ):
        claim_from_json(data)
    data = claim_to_json(TRANSACTIONS["biologic-j3357-ndc"])
    data["header"]["colour"] = "blue"
    with pytest.raises(ValueError, match=r"\$\.header: unexpected field 'colour'"):
        claim_from_json(data)
    assert list(VALIDATOR.iter_errors(data))
