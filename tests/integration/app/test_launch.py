"""EHR and standalone launch against the sandbox over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re

import jsonschema
import requests
from flask import Flask
from sqlalchemy import select

from integration.paths import profiles_dir
from integration.store.models import SmartSession
from tests.support.servers import AppServer, Sandbox
from tests.support.smart_flow import ehr_launch, standalone_launch

SKYRIZI = "psoriasis-skyrizi-patient"
EVIDENCE_SCHEMA = json.loads((profiles_dir() / "clinical-evidence.schema.json").read_text())


def error_kind(page: requests.Response) -> str | None:
    match = re.search(r'id="error" data-kind="([^"]+)"', page.text)
    return match.group(1) if match else None


def test_ehr_launch_shows_sourced_evidence(
    app: Flask, sandbox: Sandbox, app_server: AppServer, browser: requests.Session
) -> None:
    page = ehr_launch(browser, sandbox.url, SKYRIZI)

    assert page.status_code == 200, page.text[:500]
    assert page.url.startswith(f"{app_server.url}/evidence/")
    assert (
        'data-measure="PASI">15.6<' in page.text
    )  # the newest counted PASI, not the entered-in-error one
    assert "methotrexate 2.5 mg tablet" in page.text
    assert (
        'data-therapy="methotrexate 2.5 mg tablet" data-outcome="inadequate response"' in page.text
    )
    assert 'data-source="Observation/psoriasis-skyrizi-obs-pasi-7/_history/1"' in page.text
    assert 'id="patient-banner"' not in page.text  # EHR launch: need_patient_banner is false

    body = browser.get(f"{app_server.url}/api/evidence", timeout=30).json()
    jsonschema.validate(body, EVIDENCE_SCHEMA)
    assert body["patient"]["id"] == SKYRIZI
    assert (body["measures"]["PASI"][0]["value"], body["measures"]["PASI"][0]["date"]) == (
        15.6,
        "2026-09-10",
    )
    assert len(body["measures"]["PASI"]) == 7
    sources = [m["source"] for m in body["measures"]["PASI"]]
    assert "Observation/psoriasis-skyrizi-obs-pasi-eie/_history/1" not in sources


def test_tokens_stay_on_the_server_and_are_encrypted(
    app: Flask, sandbox: Sandbox, browser: requests.Session
) -> None:
    ehr_launch(browser, sandbox.url, SKYRIZI)
    engine = app.extensions["dermrcm.engine"]
    with engine.connect() as conn:
        row = conn.execute(select(SmartSession)).one()
    stored = app.extensions["dermrcm"].store.get(row.id)
    assert stored is not None and stored.patient_id == SKYRIZI
    assert stored.access_token not in row.access_token  # encrypted at rest
    assert stored.fhir_user and stored.fhir_user.startswith(f"{sandbox.fhir}/Practitioner/")
    cookies = " ".join(f"{c.name}={c.value}" for c in browser.cookies)
    assert stored.access_token not in cookies and (stored.refresh_token or "-") not in cookies


def test_standalone_launch_picks_a_patient_and_shows_the_banner(
    app: Flask, sandbox: Sandbox, app_server: AppServer, browser: requests.Session
) -> None:
    start = browser.get(f"{app_server.url}/", timeout=30)
    assert sandbox.fhir in start.text
    page = standalone_launch(
        browser, app_server.url, sandbox.fhir, "atopic-dermatitis-dupixent-patient"
    )
    assert page.status_code == 200, page.text[:300]
    assert 'id="patient-banner"' in page.text
    assert 'data-measure="EASI"' in page.text


def test_two_tabs_keep_their_own_patients(
    sqlite_app: Flask, sandbox: Sandbox, app_server: AppServer, browser: requests.Session
) -> None:
    first = ehr_launch(browser, sandbox.url, SKYRIZI)
    second = ehr_launch(browser, sandbox.url, "bcc-mohs-patient")
    again = browser.get(first.url, timeout=30)
    assert "methotrexate" in again.text
    assert "Basal cell carcinoma" in browser.get(second.url, timeout=30).text
    key = first.url.rsplit("/", 1)[1]
    assert (
        browser.get(f"{app_server.url}/api/evidence", params={"key": key}, timeout=30).json()[
            "patient"
        ]["id"]
        == SKYRIZI
    )


def test_source_link_shows_the_resource_and_photos_are_served(
    sqlite_app: Flask, sandbox: Sandbox, app_server: AppServer, browser: requests.Session
) -> None:
    page = ehr_launch(browser, sandbox.url, SKYRIZI)
    key = page.url.rsplit("/", 1)[1]
    source = browser.get(
        f"{app_server.url}/source/{key}/Observation/psoriasis-skyrizi-obs-pasi-7/_history/1",
        timeout=30,
    )
    assert source.status_code == 200
    assert (
        "&#34;resourceType&#34;: &#34;Observation&#34;" in source.text
        or '"resourceType": "Observation"' in source.text
    )
    photo = browser.get(f"{app_server.url}/photo/{key}/Media/psoriasis-skyrizi-media-1", timeout=30)
    assert photo.status_code == 200
    assert photo.headers["Content-Type"] == "image/jpeg"
    assert photo.content[:3] == b"\xff\xd8\xff"
    missing = browser.get(f"{app_server.url}/source/{key}/Observation/not-there", timeout=30)
    assert missing.status_code == 404
    assert error_kind(missing) == "not-found"
    bad = browser.get(f"{app_server.url}/source/{key}/Observation/..%2F..%2Fetc", timeout=30)
    assert bad.status_code == 404
