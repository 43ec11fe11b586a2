"""SMART discovery and the CapabilityStatement, as an app (and fhir.resources) reads them."""

from __future__ import annotations

from collections.abc import Callable

import requests
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from sandbox_testkit import Sandbox


def test_smart_configuration_lists_endpoints_and_capabilities(sandbox: Sandbox) -> None:
    response = requests.get(sandbox.fhir_base + "/.well-known/smart-configuration", timeout=10)

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    config = response.json()
    assert config["authorization_endpoint"] == sandbox.base_url + "/oauth2/authorize"
    assert config["token_endpoint"] == sandbox.base_url + "/oauth2/token"
    assert config["jwks_uri"] == sandbox.base_url + "/oauth2/jwks"
    assert config["issuer"] == sandbox.fhir_base
    assert config["grant_types_supported"] == [
        "authorization_code",
        "refresh_token",
        "client_credentials",  # SMART Backend Services
    ]
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["response_types_supported"] == ["code"]
    assert config["token_endpoint_auth_methods_supported"] == ["none", "private_key_jwt"]
    assert {"launch", "launch/patient", "openid", "fhirUser", "offline_access"} <= set(
        config["scopes_supported"]
    )
    assert set(config["capabilities"]) == {
        "launch-ehr",
        "launch-standalone",
        "client-public",
        "client-confidential-asymmetric",
        "permission-user",
        "context-ehr-patient",
        "context-ehr-encounter",
        "context-standalone-patient",
        "permission-patient",
        "permission-v2",
        "permission-v1",
        "sso-openid-connect",
        "context-banner",
        "context-style",
    }
    jwks = requests.get(config["jwks_uri"], timeout=10).json()
    assert jwks["keys"][0]["kty"] == "RSA"
    assert "d" not in jwks["keys"][0], "the private exponent must never be published"


def test_metadata_is_a_valid_r4_capability_statement_with_smart_security(sandbox: Sandbox) -> None:
    response = requests.get(sandbox.fhir_base + "/metadata", timeout=10)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    CapabilityStatement.model_validate(body)  # raises if the statement is not valid FHIR
    assert body["fhirVersion"] == "4.0.1"
    rest = body["rest"][0]
    assert rest["security"]["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    [uris] = [
        e
        for e in rest["security"]["extension"]
        if e["url"] == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
    ]
    assert {e["url"]: e["valueUri"] for e in uris["extension"]} == {
        "authorize": sandbox.base_url + "/oauth2/authorize",
        "token": sandbox.base_url + "/oauth2/token",
    }
    resources = {r["type"]: r for r in rest["resource"]}
    for resource_type in (
        "Patient",
        "Coverage",
        "Condition",
        "Observation",
        "MedicationStatement",
        "MedicationRequest",
        "Medication",
        "Media",
        "DocumentReference",
        "Procedure",
        "DiagnosticReport",
        "Encounter",
        "Organization",
        "Practitioner",
        "ServiceRequest",
        "AllergyIntolerance",
        "Immunization",
        "Binary",
    ):
        assert resource_type in resources
    observation_params = {p["name"]: p["type"] for p in resources["Observation"]["searchParam"]}
    assert observation_params["patient"] == "reference"
    assert observation_params["code"] == "token"
    assert observation_params["date"] == "date"
    assert resources["Coverage"]["searchInclude"] == ["Coverage:payor"]


def test_fhir_at_the_root_keeps_auth_under_oauth2(
    start_sandbox_with: Callable[..., Sandbox],
) -> None:
    sandbox = start_sandbox_with(fhir_path="")
    assert sandbox.fhir_base == sandbox.base_url

    config = requests.get(sandbox.base_url + "/.well-known/smart-configuration", timeout=10).json()
    assert config["authorization_endpoint"] == sandbox.base_url + "/oauth2/authorize"
    metadata = requests.get(sandbox.base_url + "/metadata", timeout=10)
    assert metadata.json()["resourceType"] == "CapabilityStatement"

    token = sandbox.token("launch patient/*.rs")["access_token"]
    bundle = sandbox.get("/Condition", token).json()
    assert bundle["total"] == 2
    assert bundle["entry"][0]["fullUrl"].startswith(sandbox.base_url + "/Condition/")
    patient_list = requests.get(sandbox.base_url + "/", timeout=10)
    assert patient_list.headers["Content-Type"].startswith("text/html")
    assert "Testperson" in patient_list.text


def test_browser_apps_may_call_fhir_and_token_across_origins(sandbox: Sandbox) -> None:
    preflight = requests.options(
        sandbox.fhir_base + "/Observation",
        headers={
            "Origin": "http://app.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
        timeout=10,
    )
    token_error = requests.post(sandbox.base_url + "/oauth2/token", data={}, timeout=10)

    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    assert token_error.status_code == 400
    assert token_error.json()["error"] == "unsupported_grant_type"
    assert token_error.headers["Access-Control-Allow-Origin"] == "*"
