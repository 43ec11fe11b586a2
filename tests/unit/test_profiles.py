"""fhir_profiles/ is consistent with itself, with mappings/ and with the fixture charts."""

from __future__ import annotations

import json

import jsonschema
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.structuredefinition import StructureDefinition
from fhir.resources.R4B.valueset import ValueSet

from integration.mapping.severity import MEASURE_OF_TARGET, REGION_OF_TARGET
from integration.paths import mappings_dir, profiles_dir
from tests.support.fixture_facts import fixture_charts

OURS = "http://derm-rcm.org/fhir/CodeSystem/derm-severity"


def load(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((profiles_dir() / name).read_text(encoding="utf-8"))


def test_code_system_mapping_schema_and_code_agree() -> None:
    codes = {
        c.code
        for c in CodeSystem.model_validate(load("CodeSystem-derm-severity.json")).concept or []
    }
    schema = json.loads((mappings_dir() / "schemas" / "severity-map.schema.json").read_text())
    assert set(schema["$defs"]["target"]["enum"]) == codes
    assert set(MEASURE_OF_TARGET) | set(REGION_OF_TARGET) == codes
    profile = StructureDefinition.model_validate(
        load("StructureDefinition-derm-severity-observation.json")
    )
    value_set = ValueSet.model_validate(load("ValueSet-derm-severity.json"))
    assert [i.system for i in value_set.compose.include] == [OURS]
    bound = [e.binding.valueSet for e in profile.differential.element if e.binding]
    assert bound == [value_set.url]


def test_every_fixture_observation_in_our_code_system_fits_the_profile_schema() -> None:
    validator = jsonschema.Draft202012Validator(load("severity-observation.schema.json"))
    checked = 0
    for chart in fixture_charts():
        for entry in json.loads(chart.bundle.read_text(encoding="utf-8"))["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] != "Observation":
                continue
            if any(c.get("system") == OURS for c in resource["code"].get("coding", [])):
                errors = [
                    f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                    for e in validator.iter_errors(resource)
                ]
                assert errors == [], f"{chart.name} Observation/{resource['id']}: {errors}"
                checked += 1
    assert checked >= 4  # the atopic dermatitis chart codes its scores with our CodeSystem


def test_the_profile_schema_refuses_loinc_8277_6_for_bsa() -> None:
    validator = jsonschema.Draft202012Validator(load("severity-observation.schema.json"))
    wrong = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8277-6"}]},
        "subject": {"reference": "Patient/p"},
        "effectiveDateTime": "2026-01-01",
        "valueQuantity": {"value": 12},
    }
    assert not validator.is_valid(wrong)
