"""The CDS Hooks order-sign service over real HTTP: the app on a socket, the sandbox EHR (with
SMART auth: the service reads the chart with the bearer token the CDS client sends) over the
fixture charts, and a CDS client played by `requests`."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import logging
import re
import secrets
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import yaml
from flask import Flask

from integration.api.cds_hooks import EXTENSION, SERVICE_ID, CdsHooksService
from integration.domain.evidence import Owner
from integration.domain.priorauth import Assessment, Status
from integration.fhir.chart_evidence import chart_evidence
from integration.fhir.client import FhirClient
from integration.fhir.pa_check import read_prescriber
from integration.paths import project_root
from integration.priorauth.assess import assess
from integration.priorauth.order import order_from_fhir
from tests.support.servers import (
    CLIENT_ID,
    PATIENTS,
    AppServer,
    Sandbox,
    start_app_server,
    start_fixture_sandbox,
)

AS_OF = date(2026, 11, 15)  # the fixtures' as-of date
DUPIXENT = "atopic-dermatitis-dupixent"
MOHS = "bcc-mohs"
COSMETIC = "seborrheic-keratosis-cosmetic"
SCOPE = (
    "launch patient/Patient.rs patient/Coverage.rs patient/Condition.rs patient/Observation.rs "
    "patient/MedicationStatement.rs patient/MedicationRequest.rs patient/Medication.rs "
    "patient/Media.rs patient/DocumentReference.rs patient/Procedure.rs "
    "patient/DiagnosticReport.rs patient/Organization.rs patient/Practitioner.rs "
    "patient/PractitionerRole.rs"
)


# ---------------------------------------------------------------- servers


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/fhir"


@pytest.fixture(scope="module")
def app_server() -> Iterator[AppServer]:
    server = start_app_server()
    with server.server:
        yield server


@pytest.fixture(scope="module")
def sandbox(app_server: AppServer) -> Iterator[Sandbox]:
    started = start_fixture_sandbox(app_server.url, auto_approve=True)
    with started.server:
        yield started


@pytest.fixture(scope="module")
def down_fhir() -> str:
    """A trusted FHIR base on which nothing listens."""
    return _closed_port_url()


@pytest.fixture(scope="module")
def app(
    app_server: AppServer,
    sandbox: Sandbox,
    down_fhir: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Flask]:
    db = tmp_path_factory.mktemp("cds") / "app.db"
    with app_server.using(
        f"sqlite:///{db}", [sandbox.fhir, down_fhir], fhir_timeout=2.0, fhir_retries=0
    ) as flask_app:
        service(flask_app).today = lambda: AS_OF
        yield flask_app


def service(app: Flask) -> CdsHooksService:
    found = app.extensions[EXTENSION]
    assert isinstance(found, CdsHooksService)
    return found


def patient_token(sandbox: Sandbox, redirect_uri: str, patient_id: str) -> str:
    """An access token for one patient, the way an EHR obtains one: launch, authorize (PKCE),
    exchange the code."""
    launch = requests.post(
        f"{sandbox.url}/launch",
        data={"client_id": CLIENT_ID, "patient": patient_id},
        allow_redirects=False,
        timeout=10,
    )
    assert launch.status_code == 303, launch.text
    launch_token = parse_qs(urlsplit(launch.headers["Location"]).query)["launch"][0]
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    )
    authorized = requests.get(
        f"{sandbox.url}/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": redirect_uri,
            "scope": SCOPE,
            "state": "cds-test",
            "aud": sandbox.fhir,
            "launch": launch_token,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert authorized.status_code == 302, authorized.text[:500]
    code = parse_qs(urlsplit(authorized.headers["Location"]).query)["code"][0]
    token = requests.post(
        f"{sandbox.url}/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": CLIENT_ID,
            "code_verifier": verifier,
        },
        timeout=10,
    )
    assert token.status_code == 200, token.text
    access_token: str = token.json()["access_token"]
    return access_token


# ---------------------------------------------------------------- requests


def fixture_resource(slug: str, type_name: str, ident: str) -> dict[str, Any]:
    bundle = json.loads((PATIENTS / f"{slug}.json").read_text(encoding="utf-8"))
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == type_name and resource["id"] == ident:
            return dict(resource)
    raise AssertionError(f"{slug}.json: no {type_name}/{ident}")


def draft(resource: dict[str, Any]) -> dict[str, Any]:
    """The order as the EHR sends it while it is being signed."""
    order = copy.deepcopy(resource)
    order["status"] = "draft"
    return order


def hook_request(
    *,
    fhir: str | None,
    token: str | None,
    patient: str,
    orders: list[dict[str, Any]],
    hook: str = "order-sign",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": {
            "userId": "Practitioner/example",
            "patientId": patient,
            "draftOrders": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": o} for o in orders],
            },
        },
    }
    if fhir is not None:
        body["fhirServer"] = fhir
    if token is not None:
        body["fhirAuthorization"] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": SCOPE,
            "subject": "derm-rcm",
        }
    return body


def call(app_url: str, body: Any) -> requests.Response:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return requests.post(
        f"{app_url}/cds-services/{SERVICE_ID}",
        data=data,
        headers={"Content-Type": "application/json", "Origin": "https://sandbox.cds-hooks.org"},
        timeout=30,
    )


def expected_assessment(
    app: Flask, sandbox: Sandbox, token: str, patient: str, order: dict[str, Any]
) -> Assessment:
    """assess() on the same chart, computed here without the service."""
    refs = service(app).refs
    client = FhirClient(sandbox.fhir, token=lambda: token)
    try:
        evidence, _fetch = chart_evidence(client, patient, service(app).maps, AS_OF)
        fact = order_from_fhir(order)
        prescriber = read_prescriber(client, fact, refs)
    finally:
        client.close()
    return assess(evidence, fact, refs.library, refs.lookups, AS_OF, prescriber=prescriber)


def plain(markdown: str) -> str:
    """The card's Markdown with escapes removed, for comparing with plain text."""
    return re.sub(r"\\(.)", r"\1", markdown)


def check_card_shape(card: dict[str, Any]) -> None:
    assert uuid.UUID(card["uuid"])
    assert len(card["summary"]) <= 140
    assert card["indicator"] in ("info", "warning", "critical")
    assert card["source"]["label"] == "derm-rcm"


def check_checklist(card: dict[str, Any], expected: Assessment) -> None:
    detail = plain(card["detail"])
    for criterion in expected.criteria:
        label = {Status.MET: "Met", Status.UNMET: "Not met", Status.MISSING: "Missing"}[
            criterion.status
        ]
        owner = f" (owner: {criterion.owner.value})" if criterion.owner else ""
        line = f"- **{label}**{owner}: {' '.join(criterion.text.split())}"
        assert line in detail, (line, detail)
        for item in criterion.missing:
            assert " ".join(item.split()) in detail


# ---------------------------------------------------------------- discovery and CORS


def test_discovery_lists_the_service_with_prefetch(app: Flask, app_server: AppServer) -> None:
    response = requests.get(f"{app_server.url}/cds-services", timeout=10)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    (entry,) = response.json()["services"]
    assert entry["hook"] == "order-sign"
    assert entry["id"] == SERVICE_ID
    assert entry["title"] and entry["description"]
    assert entry["prefetch"] == {
        "patient": "Patient/{{context.patientId}}",
        "coverage": "Coverage?patient={{context.patientId}}",
    }


def test_cors_preflight_is_answered(app: Flask, app_server: AppServer) -> None:
    response = requests.options(
        f"{app_server.url}/cds-services/{SERVICE_ID}",
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
        timeout=10,
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "content-type" in allowed and "authorization" in allowed


# ---------------------------------------------------------------- cards


def test_dupixent_for_cigna_needs_pa_with_missing_items_and_a_smart_link(
    app: Flask, app_server: AppServer, sandbox: Sandbox
) -> None:
    patient = f"{DUPIXENT}-patient"
    order = draft(fixture_resource(DUPIXENT, "MedicationRequest", f"{DUPIXENT}-medreq-dupixent"))
    token = patient_token(sandbox, f"{app_server.url}/callback", patient)
    response = call(
        app_server.url,
        hook_request(fhir=sandbox.fhir, token=token, patient=patient, orders=[order]),
    )
    assert response.status_code == 200, response.text
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    (card,) = response.json()["cards"]
    check_card_shape(card)
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Prior authorization needed: Dupixent")
    assert card["summary"].endswith("(Cigna)")

    expected = expected_assessment(app, sandbox, token, patient, order)
    assert expected.pa_required is True
    assert expected.rule is not None
    check_checklist(card, expected)
    # mappings/payers/cigna/dupixent-atopic-dermatitis.yaml, criterion "prescriber": the
    # fixture's practitioners carry no specialty, so it is missing, the coordinator's to supply
    (prescriber,) = [c for c in expected.criteria if c.id == "prescriber"]
    assert (prescriber.status, prescriber.owner) == (Status.MISSING, Owner.COORDINATOR)
    assert (
        "- **Missing** (owner: coordinator): Prescribed by or in consultation with a "
        "dermatologist, allergist or immunologist"
    ) in card["detail"]

    (link,) = card["links"]
    assert link["type"] == "smart"
    assert link["label"] == "Open the prior-authorization case"
    assert link["url"] == f"{app_server.url}/launch"
    app_context = parse_qs(link["appContext"])
    assert app_context == {
        "order": [f"MedicationRequest/{DUPIXENT}-medreq-dupixent"],
        "rule": [expected.rule.id],
    }
    if expected.rule.source.get("url"):
        assert card["source"]["url"] == expected.rule.source["url"]


def _rule_file(payer: str, rule_id: str) -> dict[str, Any]:
    for path in sorted((project_root() / "mappings" / "payers" / payer).glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if data.get("id") == rule_id:
            return dict(data)
    raise AssertionError(f"no rule {rule_id} for {payer}")


def test_mohs_for_medicare_follows_the_library(
    app: Flask, app_server: AppServer, sandbox: Sandbox
) -> None:
    patient = f"{MOHS}-patient"
    order = draft(fixture_resource(MOHS, "ServiceRequest", f"{MOHS}-sr-mohs"))
    token = patient_token(sandbox, f"{app_server.url}/callback", patient)
    response = call(
        app_server.url,
        hook_request(fhir=sandbox.fhir, token=token, patient=patient, orders=[order]),
    )
    assert response.status_code == 200, response.text
    (card,) = response.json()["cards"]
    check_card_shape(card)

    expected = expected_assessment(app, sandbox, token, patient, order)
    assert expected.payer is not None and expected.payer.id == "medicare-part-b"
    if expected.pa_required is True:
        assert card["indicator"] == "warning"
        assert card["summary"].startswith("Prior authorization needed: ")
        check_checklist(card, expected)
        assert card["links"][0]["type"] == "smart"
    elif expected.pa_required is False:
        assert card["indicator"] == "info"
        assert card["summary"].startswith("No prior authorization needed for ")
        assert "links" not in card
    else:
        assert card["indicator"] == "info"
        assert "can't tell whether prior authorization is needed" in card["summary"]
        assert expected.reason in plain(card["detail"])
    assert card["summary"].endswith("(Medicare Part B)")
    assert expected.reason in plain(card["detail"])
    # mappings/payers/medicare-part-b/mohs-surgery.yaml: CPT 17311, pa_required false, LCD L35494
    assert expected.rule is not None
    assert expected.rule.id == "medicare-part-b-mohs-surgery"
    assert card["indicator"] == "info"
    assert card["summary"] == (
        "No prior authorization needed for Mohs micrographic surgery (Medicare Part B)"
    )
    assert card["source"]["url"] == (
        "https://www.cms.gov/medicare-coverage-database/view/lcd.aspx?lcdid=35494"
    )
    assert "Documentation to keep on file" in card["detail"]
    assert "acted as surgeon and as pathologist" in card["detail"]
    assert "Submit through" not in card["detail"]


def test_payer_not_in_the_library_gives_an_info_card_with_the_reason(
    app: Flask, app_server: AppServer, sandbox: Sandbox
) -> None:
    patient = f"{COSMETIC}-patient"
    order = {
        "resourceType": "MedicationRequest",
        "id": f"{COSMETIC}-medreq-draft",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {"text": "Dupixent (dupilumab) 300 mg/2 mL prefilled pen"},
        "subject": {"reference": f"Patient/{patient}"},
        "requester": {"reference": f"Practitioner/{COSMETIC}-practitioner-derm"},
    }
    token = patient_token(sandbox, f"{app_server.url}/callback", patient)
    response = call(
        app_server.url,
        hook_request(fhir=sandbox.fhir, token=token, patient=patient, orders=[order]),
    )
    assert response.status_code == 200, response.text
    (card,) = response.json()["cards"]
    check_card_shape(card)
    expected = expected_assessment(app, sandbox, token, patient, order)
    assert expected.pa_required is None
    assert "BlueCross BlueShield" in expected.reason
    assert card["indicator"] == "info"
    assert card["summary"] == (
        "derm-rcm can't tell whether prior authorization is needed for "
        "Dupixent (dupilumab) 300 mg/2 mL prefilled pen"
    )
    assert f"Why: {expected.reason}." in plain(card["detail"])
    assert "links" not in card


def test_an_order_no_payer_has_a_rule_for_gets_no_card(
    app_server: AppServer, sandbox: Sandbox
) -> None:
    patient = f"{COSMETIC}-patient"
    order = {
        "resourceType": "ServiceRequest",
        "id": f"{COSMETIC}-sr-draft",
        "status": "draft",
        "intent": "order",
        "code": {
            "coding": [
                {
                    "system": "http://www.ama-assn.org/go/cpt",
                    "code": "17110",
                    "display": "Destruction, benign lesions",
                }
            ],
            "text": "Wart destruction",
        },
        "subject": {"reference": f"Patient/{patient}"},
    }
    token = patient_token(sandbox, f"{app_server.url}/callback", patient)
    response = call(
        app_server.url,
        hook_request(fhir=sandbox.fhir, token=token, patient=patient, orders=[order]),
    )
    assert response.status_code == 200, response.text
    assert response.json()["cards"] == []


def test_orders_of_other_types_are_skipped(
    app: Flask, app_server: AppServer, sandbox: Sandbox
) -> None:
    nutrition = {"resourceType": "NutritionOrder", "id": "n1", "status": "draft"}
    body = hook_request(
        fhir=sandbox.fhir, token="unused", patient=f"{DUPIXENT}-patient", orders=[nutrition]
    )
    response = call(app_server.url, body)
    assert (response.status_code, response.json()) == (200, {"cards": []})


# ---------------------------------------------------------------- refusals


def _refusal(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    return response.status_code, body["code"], body["description"]


def test_body_that_is_not_json_is_a_400(app: Flask, app_server: AppServer) -> None:
    status, code, description = _refusal(call(app_server.url, "{not json"))
    assert (status, code) == (400, "bad-request")
    assert description.startswith("body: expected JSON")


def test_missing_fields_are_named_in_one_400(app: Flask, app_server: AppServer) -> None:
    body = hook_request(fhir="http://x.invalid/fhir", token=None, patient="p", orders=[])
    del body["hookInstance"]
    del body["context"]["patientId"]
    status, code, description = _refusal(call(app_server.url, body))
    assert (status, code) == (400, "bad-request")
    assert "hookInstance: expected a UUID identifying this call, got nothing" in description
    assert "context.patientId: expected the FHIR id of the patient" in description


def test_draft_orders_must_be_a_bundle(app: Flask, app_server: AppServer) -> None:
    body = hook_request(fhir="http://x.invalid/fhir", token=None, patient="p", orders=[])
    body["context"]["draftOrders"] = [{"resourceType": "MedicationRequest"}]
    status, _code, description = _refusal(call(app_server.url, body))
    assert status == 400
    assert description == (
        "context.draftOrders: expected a FHIR Bundle of the orders being signed, got a JSON array"
    )


def test_another_hook_is_a_400(app: Flask, app_server: AppServer) -> None:
    body = hook_request(fhir=None, token=None, patient="p", orders=[], hook="patient-view")
    status, code, description = _refusal(call(app_server.url, body))
    assert (status, code) == (400, "unsupported-hook")
    assert description.startswith("hook: expected 'order-sign'")
    assert "got 'patient-view'" in description


def test_no_fhir_server_is_a_412(app: Flask, app_server: AppServer) -> None:
    body = hook_request(fhir=None, token=None, patient="p", orders=[])
    status, code, description = _refusal(call(app_server.url, body))
    assert (status, code) == (412, "fhir-server-required")
    assert description.startswith("fhirServer: expected the FHIR base URL")


def test_untrusted_fhir_server_is_refused(app: Flask, app_server: AppServer) -> None:
    body = hook_request(fhir="http://169.254.169.254/fhir", token="t", patient="p", orders=[])
    status, code, description = _refusal(call(app_server.url, body))
    assert (status, code) == (403, "untrusted-fhir-server")
    assert "169.254.169.254" in description


def test_unknown_service_is_a_404(app: Flask, app_server: AppServer) -> None:
    response = requests.post(f"{app_server.url}/cds-services/other", json={}, timeout=10)
    status, code, _description = _refusal(response)
    assert (status, code) == (404, "unknown-service")


# ---------------------------------------------------------------- the chart can't be read


def test_fhir_server_down_still_answers_200_quickly(
    app: Flask, app_server: AppServer, down_fhir: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="integration.api.cds_hooks")
    patient = f"{DUPIXENT}-patient"
    order = draft(fixture_resource(DUPIXENT, "MedicationRequest", f"{DUPIXENT}-medreq-dupixent"))
    body = hook_request(fhir=down_fhir, token="any", patient=patient, orders=[order])
    started = time.perf_counter()
    response = call(app_server.url, body)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    assert elapsed < 5
    (card,) = response.json()["cards"]
    check_card_shape(card)
    assert card["indicator"] == "info"
    assert card["summary"].startswith("derm-rcm couldn't read the chart")
    assert "fhir-unavailable" in card["detail"]
    logged = [r.getMessage() for r in caplog.records if r.name == "integration.api.cds_hooks"]
    assert any(body["hookInstance"] in m and "error=FhirUnavailable" in m for m in logged), logged
    assert not any(patient in m or "Dupixent" in m for m in logged), logged


def test_refused_token_still_answers_200(
    app: Flask, app_server: AppServer, sandbox: Sandbox
) -> None:
    patient = f"{DUPIXENT}-patient"
    order = draft(fixture_resource(DUPIXENT, "MedicationRequest", f"{DUPIXENT}-medreq-dupixent"))
    body = hook_request(fhir=sandbox.fhir, token="not-a-token", patient=patient, orders=[order])
    response = call(app_server.url, body)
    assert response.status_code == 200, response.text
    (card,) = response.json()["cards"]
    assert card["summary"].startswith("derm-rcm couldn't read the chart")
    assert "fhir-unauthorized" in card["detail"]


def test_an_order_that_cant_be_read_gets_its_own_card(
    app: Flask, app_server: AppServer, sandbox: Sandbox
) -> None:
    patient = f"{DUPIXENT}-patient"
    broken = {"resourceType": "MedicationRequest", "id": "x", "status": "draft", "intent": "order"}
    token = patient_token(sandbox, f"{app_server.url}/callback", patient)
    body = hook_request(fhir=sandbox.fhir, token=token, patient=patient, orders=[broken])
    response = call(app_server.url, body)
    assert response.status_code == 200, response.text
    (card,) = response.json()["cards"]
    assert card["indicator"] == "info"
    assert card["summary"].startswith("derm-rcm couldn't read this order")
    assert "MedicationRequest" in plain(card["detail"])


def test_two_orders_share_one_read_of_the_chart(
    app: Flask, app_server: AppServer, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """A clinician signing two biologic orders at once waits for one chart read, not two."""
    patient = f"{DUPIXENT}-patient"
    first = draft(fixture_resource(DUPIXENT, "MedicationRequest", f"{DUPIXENT}-medreq-dupixent"))
    second = {**first, "id": "second-dupixent-order"}
    token = patient_token(sandbox, f"{app_server.url}/callback", patient)
    caplog.set_level(logging.INFO, logger="integration.sandbox.app")
    response = call(
        app_server.url,
        hook_request(fhir=sandbox.fhir, token=token, patient=patient, orders=[first, second]),
    )
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert [c["summary"].startswith("Prior authorization needed: Dupixent") for c in cards] == [
        True,
        True,
    ]
    assert cards[0]["detail"] == cards[1]["detail"]  # the same chart, the same checklist
    condition_searches = [r for r in caplog.records if "path=/fhir/Condition " in r.getMessage()]
    assert len(condition_searches) == 1
