"""fhir_profiles/scrub-request.schema.json says what `request_from_json` reads, and
scrub-result.schema.json what `ScrubResult.to_json` writes.

The request's claim is the 837P model's Claim with only the fields the model cannot default
required (a golden request leaves most of them out), so its `$defs` are generated here from
claim-837p.schema.json and the model's dataclasses; `UPDATE_GOLDENS=1` rewrites them (review the
diff). Leaf types (decimal, date) are `$ref`s into claim-837p.schema.json itself."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from integration.coding.engine import Scrubber
from integration.coding.model import request_from_json
from integration.paths import profiles_dir
from integration.x12 import t278_005010x217, t837_005010x222a1
from tests.unit.test_scrub_golden import CASES

CLAIM_PATH = profiles_dir() / "claim-837p.schema.json"
REQUEST_PATH = profiles_dir() / "scrub-request.schema.json"
RESULT_PATH = profiles_dir() / "scrub-result.schema.json"
CLAIM_SCHEMA_ID = "claim-837p.schema.json"

MINIMAL: dict[str, Any] = {
    "claim": {
        "patient_control_number": "SCHEMA-01",
        "total_charge": "300",
        "facility_code": "11",
        "diagnoses": [{"qualifier": "ABK", "code": "D485"}],
        "services": [
            {
                "line_number": 1,
                "procedure": {"qualifier": "HC", "code": "11102", "modifiers": []},
                "charge": "150",
                "quantity": "1",
                "pointers": [1],
                "dates": [{"qualifier": "472", "start": "2026-10-01"}],
            },
            {
                "line_number": 2,
                "procedure": {"qualifier": "HC", "code": "11103", "modifiers": []},
                "charge": "150",
                "quantity": "2",
                "pointers": [1],
            },
        ],
    },
    "payer": {"id": "SANDBOX01", "name": "Sandbox Medicare", "claim_filing": "MB"},
    "facts": {
        "lines": {
            "1": {"technique": "punch", "lesion_count": 1, "site": "trunk"},
            "2": {"excised_diameter_cm": "1.2", "margin_cm": 0.2, "indications": ["bleeding"]},
        },
        "encounter": {"separately_identifiable_em": True, "em_evidence": ["new rash"]},
    },
    "history": [{"service_date": "2026-09-20", "code": "11602", "same_provider": False}],
}


def _model_class(name: str) -> type | None:
    for module in (t837_005010x222a1, t278_005010x217):
        found = getattr(module, name, None)
        if isinstance(found, type) and dataclasses.is_dataclass(found):
            return found
    return None


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        out = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        for value in node.values():
            out.extend(_refs(value))
        return out
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


def relaxed_claim_defs() -> dict[str, Any]:
    """claim-837p.schema.json's object defs reachable from Claim, each requiring only the
    fields its dataclass cannot default; scalar defs referenced in the 837P schema itself."""
    source = json.loads(CLAIM_PATH.read_text(encoding="utf-8"))["$defs"]
    wanted: list[str] = []
    todo = ["Claim"]
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted.append(name)
        for ref in _refs(source[name]):
            target = ref.removeprefix("#/$defs/")
            if source[target].get("type") == "object":
                todo.append(target)

    def relink(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: relink(v) for k, v in node.items()}
            ref = out.get("$ref")
            if isinstance(ref, str) and source[ref.removeprefix("#/$defs/")]["type"] != "object":
                out["$ref"] = f"{CLAIM_SCHEMA_ID}{ref}"
            return out
        if isinstance(node, list):
            return [relink(v) for v in node]
        return node

    defs: dict[str, Any] = {}
    for name in sorted(wanted):
        kind = _model_class(name)
        assert kind is not None, name
        schema = relink(copy.deepcopy(source[name]))
        schema["required"] = [
            f.name
            for f in dataclasses.fields(kind)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        defs[name] = schema
    return defs


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _validator(path: Path) -> jsonschema.Draft202012Validator:
    claim = _load(CLAIM_PATH)
    registry: Registry[Any] = Registry().with_resource(claim["$id"], Resource.from_contents(claim))
    return jsonschema.Draft202012Validator(
        _load(path), registry=registry, format_checker=jsonschema.FormatChecker()
    )


def _located(error: jsonschema.ValidationError) -> str:
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _schema_paths(path: Path, data: Any) -> list[str]:
    return sorted({_located(e) for e in _validator(path).iter_errors(data)})


def test_the_claim_defs_are_the_837p_schema_with_the_model_defaults() -> None:
    schema = _load(REQUEST_PATH)
    generated = relaxed_claim_defs()
    if os.environ.get("UPDATE_GOLDENS"):
        schema["$defs"].update(generated)
        REQUEST_PATH.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    assert {k: schema["$defs"][k] for k in generated} == generated
    assert schema["$defs"]["Claim"]["required"] == [
        "patient_control_number",
        "total_charge",
        "facility_code",
    ]
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator.check_schema(_load(RESULT_PATH))


def test_a_minimal_request_and_every_golden_request_fit_the_schema() -> None:
    assert _schema_paths(REQUEST_PATH, MINIMAL) == []
    request_from_json(MINIMAL)  # and the reader agrees
    for case in CASES:
        request = json.loads(case.read_text(encoding="utf-8"))["request"]
        assert _schema_paths(REQUEST_PATH, request) == [], case.name


def test_a_full_claim_as_x12_parse_prints_it_fits() -> None:
    """The claims of an 837P parsed from X12 are requests too (every field present)."""
    from integration.coding.model import claim_json
    from integration.x12.t837_005010x222a1 import read_837p

    path = (
        Path(__file__).resolve().parents[2]
        / "fixtures"
        / "x12"
        / "837p"
        / "mohs-17311-17312-13132-prior-auth.x12"
    )
    models, _problems = read_837p(path.read_text(encoding="utf-8"))
    claims = [
        c
        for model in models
        for bp in model.billing_providers
        for s in bp.subscribers
        for c in (*s.claims, *(c for p in s.patients for c in p.claims))
    ]
    assert claims
    for claim in claims:
        assert _schema_paths(REQUEST_PATH, {"claim": claim_json(claim)}) == []


def _bad(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    change(data)
    return data


BAD: list[tuple[str, Any, str | None]] = [
    ("no claim", lambda d: d.pop("claim"), "$"),
    ("unknown top field", lambda d: d.update(note="x"), "$"),
    ("charge not a string", lambda d: d["claim"]["services"][0].update(charge=150), None),
    ("unknown claim field", lambda d: d["claim"].update(colour="red"), "$.claim"),
    ("payer id a number", lambda d: d["payer"].update(id=5), "$.payer.id"),
    ("unknown payer field", lambda d: d["payer"].update(plan="gold"), "$.payer"),
    (
        "negative lesion count",
        lambda d: d["facts"]["lines"]["1"].update(lesion_count=-1),
        "$.facts.lines.1.lesion_count",
    ),
    (
        "diameter not a number",
        lambda d: d["facts"]["lines"]["2"].update(excised_diameter_cm="wide"),
        "$.facts.lines.2.excised_diameter_cm",
    ),
    (
        "indications not a list",
        lambda d: d["facts"]["lines"]["2"].update(indications="bleeding"),
        "$.facts.lines.2.indications",
    ),
    (
        "unknown line fact",
        lambda d: d["facts"]["lines"]["1"].update(colour="red"),
        "$.facts.lines.1",
    ),
    (
        "E/M flag a string",
        lambda d: d["facts"]["encounter"].update(separately_identifiable_em="yes"),
        "$.facts.encounter.separately_identifiable_em",
    ),
    (
        "history date not a date",
        lambda d: d["history"][0].update(service_date="20 Sept"),
        "$.history[0].service_date",
    ),
    ("history not a list", lambda d: d.update(history={"code": "11602"}), "$.history"),
]


@pytest.mark.parametrize(("name", "change", "where"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_request_is_refused_at_the_same_path_by_schema_and_reader(
    name: str, change: Any, where: str | None
) -> None:
    data = _bad(change)
    with pytest.raises(ValueError, match=r"^\$") as caught:
        request_from_json(data)
    reader_path = str(caught.value).split(":", 1)[0]
    if where is None:  # the 837P model names the element: the schema must name the same one
        where = reader_path
    assert reader_path == where
    assert where in _schema_paths(REQUEST_PATH, data)


def test_a_line_facts_key_that_is_no_line_number_is_refused_by_both() -> None:
    data = _bad(lambda d: d["facts"]["lines"].update({"one": {}}))
    assert "$.facts.lines" in _schema_paths(REQUEST_PATH, data)
    with pytest.raises(ValueError, match=r"^\$\.facts\.lines\.one: expected the number"):
        request_from_json(data)


def test_the_result_of_a_scrub_fits_the_result_schema() -> None:
    """A real result with a finding, a fix, a self-pay line and a null fee."""
    from tests.unit.test_scrub_cli import one_finding_scrubber

    scrubber: Scrubber = one_finding_scrubber()
    data = copy.deepcopy(MINIMAL)
    data["facts"]["lines"]["1"]["cosmetic_request"] = True
    data["facts"]["lines"]["2"]["cosmetic_request"] = True  # 11103 has no cosmetic fee: null
    result = scrubber.scrub(request_from_json(data)).to_json()
    assert result["findings"] and [s["fee"] for s in result["self_pay"]] == ["120", None]
    assert _schema_paths(RESULT_PATH, result) == []
    result["findings"][0]["severity"] = "fatal"
    result["self_pay"][0]["units"] = 1  # a number: the schema wants a decimal string
    assert _schema_paths(RESULT_PATH, result) == ["$.findings[0].severity", "$.self_pay[0].units"]
