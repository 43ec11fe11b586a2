"""Loading the data folder: Synthea transaction Bundles, single resources, junk, duplicates."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sandbox_testkit import OBS_7_ID, PATIENT, Sandbox, ids, urn

from integration.sandbox.config import SandboxConfig
from integration.sandbox.server import start_sandbox
from integration.sandbox.store import SandboxDataError, load_store

SYNTHEA = Path("/work/shared/data/fhir/generated-sample-data-r4")
GARRETT = "3ed2a74a-739a-4f67-8492-c7b94e61515f"
"""The Patient id inside Garrett_Thompson_*.json (the file name carries another uuid)."""


def _references(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                found.append(value)
            else:
                found += _references(value)
    elif isinstance(node, list):
        for item in node:
            found += _references(item)
    return found


@pytest.fixture(scope="module")
def synthea_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synthea")
    [source] = SYNTHEA.glob("Garrett_Thompson_*.json")
    shutil.copy(source, folder / source.name)
    return folder


def test_synthea_bundle_keeps_ids_and_rewrites_urn_uuid_references(
    start_sandbox_with: Callable[..., Sandbox], synthea_dir: Path
) -> None:
    sandbox = start_sandbox_with(data_dir=synthea_dir, auth_enabled=False)

    patient = sandbox.get(f"/Patient/{GARRETT}")
    observations = sandbox.get("/Observation", params={"patient": GARRETT, "_count": "1000"}).json()
    dermatitis = sandbox.get(
        "/Condition", params={"patient": GARRETT, "code": "http://snomed.info/sct|24079001"}
    ).json()
    claims = sandbox.get("/Claim", params={"patient": GARRETT}).json()

    assert patient.status_code == 200
    assert patient.json()["meta"]["versionId"] == "1"
    assert "lastUpdated" in patient.json()["meta"]
    assert observations["total"] == 47
    references = _references([e["resource"] for e in observations["entry"]])
    assert references
    assert not [r for r in references if r.startswith("urn:uuid:")]
    assert {e["resource"]["subject"]["reference"] for e in observations["entry"]} == {
        f"Patient/{GARRETT}"
    }
    encounter_ref = observations["entry"][0]["resource"]["encounter"]["reference"]
    assert sandbox.get("/" + encounter_ref).status_code == 200, "references resolve"
    assert len(ids(dermatitis)) == 1, "the atopic dermatitis diagnosis"
    assert claims["total"] == 15, "types outside the search table still search by patient"


def test_synthetic_transaction_bundle_loads_resources_without_ids(
    sandbox: Sandbox, user_token: str
) -> None:
    observation = sandbox.get(f"/Observation/{OBS_7_ID}", user_token)

    assert observation.status_code == 200, "id taken from the urn:uuid fullUrl"
    assert observation.json()["subject"]["reference"] == f"Patient/{PATIENT}"
    performer = sandbox.get("/Observation/obs-005", user_token).json()["performer"]
    assert performer == [{"reference": "Practitioner/dr-1"}]
    organization = sandbox.get("/Organization/payer-1", user_token)
    assert organization.status_code == 200, "single-resource files in subfolders load too"


def test_junk_files_are_skipped_with_a_warning(
    chart_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="integration.sandbox.store"):
        store = load_store(chart_dir)

    messages = [r.getMessage() for r in caplog.records]
    assert any("notes.json: expected a FHIR R4 resource" in m for m in messages)
    assert any("broken.json: not JSON (line 1 column 3" in m for m in messages)
    assert store.get("Patient", PATIENT) is not None


def test_later_file_wins_a_duplicate_and_conditional_references_resolve(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    practitioner = {
        "resourceType": "Practitioner",
        "id": "dr-7",
        "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "9999999999"}],
    }
    (tmp_path / "a.json").write_text(
        json.dumps({"resourceType": "Organization", "id": "org-1", "name": "first"})
    )
    (tmp_path / "b.json").write_text(
        json.dumps(
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [
                    {"resource": {"resourceType": "Organization", "id": "org-1", "name": "second"}},
                    {"resource": practitioner},
                    {
                        "fullUrl": urn("enc"),
                        "resource": {
                            "resourceType": "Encounter",
                            "status": "finished",
                            "class": {"code": "AMB"},
                            "participant": [
                                {
                                    "individual": {
                                        "reference": "Practitioner?identifier="
                                        "http://hl7.org/fhir/sid/us-npi|9999999999"
                                    }
                                }
                            ],
                            "serviceProvider": {"reference": "Organization?identifier=x|nope"},
                        },
                    },
                ],
            }
        )
    )

    with caplog.at_level(logging.WARNING, logger="integration.sandbox.store"):
        store = load_store(tmp_path)

    organization = store.get("Organization", "org-1")
    assert organization is not None
    assert organization.body["name"] == "second"
    assert any(
        "Organization/org-1 in b.json replaces the one from a.json" in r.getMessage()
        for r in caplog.records
    )
    [encounter] = store.of_type("Encounter")
    assert encounter.id == urn("enc").removeprefix("urn:uuid:")
    assert encounter.body["participant"][0]["individual"]["reference"] == "Practitioner/dr-7"
    assert any("1 conditional references to Organization" in r.getMessage() for r in caplog.records)
    assert store.get("Practitioner", "sandbox-dermatologist") is None, "data has a Practitioner"


def test_builtin_practitioner_when_the_data_has_none(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(json.dumps({"resourceType": "Patient", "id": "p1"}))

    store = load_store(tmp_path)

    assert store.user_practitioner_id() == "sandbox-dermatologist"
    assert store.get("Practitioner", "sandbox-dermatologist") is not None


def test_missing_data_folder_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"

    with pytest.raises(SandboxDataError, match="nowhere: expected a folder of FHIR JSON files"):
        start_sandbox(lambda base: SandboxConfig(data_dir=missing, base_url=base))


def test_logs_carry_no_names_birth_dates_or_identifiers(
    start_sandbox_with: Callable[..., Sandbox], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        sandbox = start_sandbox_with()
        token = sandbox.token("launch patient/*.rs openid fhirUser")["access_token"]
        sandbox.get(f"/Patient/{PATIENT}", token)
        sandbox.get("/Patient", token, {"identifier": "urn:example:mrn|MRN-0001"})
        sandbox.get("/Observation", token, {"code": "pasi", "date": "ge2021-01-01"})

    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "request method=GET path=/fhir/Patient status=200" in text
    for secret in ("Testperson", "Avery", "1980-04-02", "MRN-0001", token):
        assert secret not in text
