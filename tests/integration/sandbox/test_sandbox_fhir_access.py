"""Who may read what: bearer tokens, scopes (v1 and v2) and the patient compartment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from sandbox_testkit import OTHER_PATIENT, PATIENT, Sandbox, ids, outcome_text


def _assert_invalid_token(response: requests.Response, why: str) -> None:
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith(
        'Bearer realm="sandbox", error="invalid_token", error_description="'
    )
    assert why in challenge
    assert why in outcome_text(response.json())


def test_fhir_needs_a_bearer_token(sandbox: Sandbox) -> None:
    _assert_invalid_token(sandbox.get("/Patient"), "no Authorization header")
    _assert_invalid_token(
        sandbox.get("/Patient", Authorization="Basic dXNlcjpwYXNz"), "expected 'Bearer"
    )
    _assert_invalid_token(
        sandbox.get(f"/Patient/{PATIENT}", "garbage-token"), "unknown access token"
    )


def test_discovery_and_metadata_need_no_token(sandbox: Sandbox) -> None:
    assert sandbox.get("/metadata").status_code == 200
    assert sandbox.get("/.well-known/smart-configuration").status_code == 200


def test_scope_must_cover_type_and_interaction(sandbox: Sandbox) -> None:
    token = sandbox.token("launch patient/Patient.rs patient/Condition.r")["access_token"]

    observation = sandbox.get("/Observation", token)
    condition_search = sandbox.get("/Condition", token)
    condition_read = sandbox.get("/Condition/cond-psoriasis", token)

    assert observation.status_code == 403
    message = outcome_text(observation.json())
    assert "Observation search" in message
    assert "patient/Observation.s" in message
    assert "patient/Observation.read" in message
    assert 'error="insufficient_scope"' in observation.headers["WWW-Authenticate"]
    assert condition_search.status_code == 403, "v2 .r reads but does not search"
    assert condition_read.status_code == 200


@pytest.mark.parametrize(
    "scope",
    ["launch patient/*.read", "launch patient/Observation.read", "launch patient/Observation.*"],
)
def test_v1_scopes_read_and_search(sandbox: Sandbox, scope: str) -> None:
    token = sandbox.token(scope)["access_token"]

    assert sandbox.get("/Observation", token, {"_count": "1"}).status_code == 200
    assert sandbox.get("/Observation/obs-001", token).status_code == 200


def test_write_only_scope_reads_nothing(sandbox: Sandbox) -> None:
    token = sandbox.token("launch patient/Observation.write")["access_token"]
    assert sandbox.get("/Observation/obs-001", token).status_code == 403


def test_patient_token_cannot_read_another_patients_resources(
    sandbox: Sandbox, patient_token: dict[str, Any]
) -> None:
    token = patient_token["access_token"]

    other_patient = sandbox.get(f"/Patient/{OTHER_PATIENT}", token)
    other_condition = sandbox.get("/Condition/cond-other-patient", token)
    own_condition = sandbox.get("/Condition/cond-psoriasis", token)
    shared = sandbox.get("/Organization/payer-1", token)

    assert other_patient.status_code == 403
    assert f"limited to Patient/{PATIENT}" in outcome_text(other_patient.json())
    assert other_condition.status_code == 403
    assert own_condition.status_code == 200
    assert shared.status_code == 200, "shared resources have no patient"


def test_patient_token_searches_are_restricted_to_its_patient(
    sandbox: Sandbox, patient_token: dict[str, Any]
) -> None:
    token = patient_token["access_token"]

    unrestricted = sandbox.get("/Condition", token).json()
    patients = sandbox.get("/Patient", token).json()
    explicit_other = sandbox.get("/Condition", token, {"patient": OTHER_PATIENT})
    by_id = sandbox.get("/Condition", token, {"_id": "cond-other-patient,cond-ad"}).json()

    assert sorted(ids(unrestricted)) == ["cond-ad", "cond-psoriasis"]
    assert ids(patients) == [PATIENT]
    assert explicit_other.status_code == 403
    assert f"asks for Patient/{OTHER_PATIENT}" in outcome_text(explicit_other.json())
    assert ids(by_id) == ["cond-ad"]


def test_user_token_sees_every_patient(sandbox: Sandbox, user_token: str) -> None:
    conditions = sandbox.get("/Condition", user_token).json()
    other = sandbox.get(f"/Patient/{OTHER_PATIENT}", user_token)

    assert sorted(ids(conditions)) == ["cond-ad", "cond-other-patient", "cond-psoriasis"]
    assert other.status_code == 200


def test_patient_scope_without_patient_context_is_refused(sandbox: Sandbox) -> None:
    token = sandbox.token("patient/*.rs", ehr_patient=None)["access_token"]

    response = sandbox.get("/Condition", token)

    assert response.status_code == 403
    assert "no patient in context" in outcome_text(response.json())


def test_granular_v2_scope_limits_what_is_visible(sandbox: Sandbox) -> None:
    scope = (
        "launch patient/Observation.rs?category="
        "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
    )
    token = sandbox.token(scope)["access_token"]

    bundle = sandbox.get("/Observation", token, {"_count": "500"}).json()
    lab = sandbox.get("/Observation/obs-002", token)  # index 2: hemoglobin, laboratory
    survey = sandbox.get("/Observation/obs-000", token)  # index 0: PASI, survey

    assert bundle["total"] == 43  # every third of 130, starting at index 2
    assert all(
        e["resource"]["category"][0]["coding"][0]["code"] == "laboratory" for e in bundle["entry"]
    )
    assert lab.status_code == 200
    assert survey.status_code == 403
    assert "outside the granted scope" in outcome_text(survey.json())


def test_include_leaves_out_what_the_token_may_not_read(sandbox: Sandbox) -> None:
    token = sandbox.token("launch patient/Observation.rs")["access_token"]

    bundle = sandbox.get(
        "/Observation", token, {"_include": "Observation:performer", "_count": "10"}
    ).json()

    assert ids(bundle, "include") == [], "no Practitioner scope, so no Practitioner included"


def test_no_auth_mode_serves_without_a_token(start_sandbox_with: Callable[..., Sandbox]) -> None:
    sandbox = start_sandbox_with(auth_enabled=False)

    response = sandbox.get("/Condition")

    assert response.status_code == 200
    assert response.json()["total"] == 3
    page = requests.get(sandbox.base_url + "/", timeout=10)
    assert 'id="no-auth-warning"' in page.text
