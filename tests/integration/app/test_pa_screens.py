"""The PA screens over real HTTP against the sandbox EHR (SQLite and PostgreSQL): the checklist
of the chart's orders, its JSON equal to `dermrcm pa check`, opening a case, the work queue,
and the clinician's review (save, attest, sign, versions, packet PDF).

Fixture: psoriasis-skyrizi (fixtures/patients/psoriasis-skyrizi.json): a draft Skyrizi
MedicationRequest, UnitedHealthcare coverage; the UHC Skyrizi rule's `severity` criterion is a
clinician attestation (mappings/payers/unitedhealthcare/skyrizi-plaque-psoriasis.yaml)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import requests
from click.testing import CliRunner
from flask import Flask
from pypdf import PdfReader
from sqlalchemy.orm import Session

from integration.cli import main
from integration.paths import fixtures_dir
from integration.store.models import PaCase
from tests.support.html_forms import press
from tests.support.servers import AppServer, Sandbox
from tests.support.smart_flow import ehr_launch, follow

SKYRIZI = "psoriasis-skyrizi-patient"
ORDER = "MedicationRequest/psoriasis-skyrizi-medreq-skyrizi"


def launch_key(page: requests.Response) -> str:
    match = re.search(r"/evidence/([^/?#]+)$", page.url)
    assert match, page.url
    return match.group(1)


def access_token(app: Flask, browser: requests.Session) -> str:
    """The launched session's access token, as the app stored it (for the CLI run)."""
    cookie = next(c.value for c in browser.cookies if c.name == "dermrcm")
    data = app.session_interface.get_signing_serializer(app).loads(cookie)  # type: ignore[attr-defined]
    session = app.extensions["dermrcm"].session(data["launches"][data["latest"]])
    return str(session.access_token)


def order_file(tmp_path: Path) -> Path:
    bundle = json.loads((fixtures_dir() / "patients" / "psoriasis-skyrizi.json").read_text())
    resource = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["id"] == ORDER.split("/")[1]
    )
    path = tmp_path / "order.json"
    path.write_text(json.dumps(resource))
    return path


def error_of(page: requests.Response) -> str:
    match = re.search(r'data-kind="([^"]+)"', page.text)
    return match.group(1) if match else ""


def test_api_check_is_the_cli_json(
    app: Flask,
    sandbox: Sandbox,
    app_server: AppServer,
    browser: requests.Session,
    tmp_path: Path,
) -> None:
    key = launch_key(ehr_launch(browser, sandbox.url, SKYRIZI))
    response = browser.get(
        f"{app_server.url}/api/pa/check", params={"key": key, "order": ORDER}, timeout=60
    )
    assert response.status_code == 200, response.text[:500]

    cli = CliRunner().invoke(
        main,
        [
            "pa",
            "check",
            "--fhir-base",
            sandbox.fhir,
            "--patient",
            SKYRIZI,
            "--order",
            str(order_file(tmp_path)),
            "--token",
            access_token(app, browser),
            "--compact",
        ],
    )
    assert cli.exit_code == 0, cli.output
    assert response.json() == json.loads(cli.output)
    assert response.json()["rule"]["id"] == "unitedhealthcare-skyrizi-plaque-psoriasis"

    # an order that isn't this patient's, or not an order at all, is refused with a message
    other = browser.get(
        f"{app_server.url}/api/pa/check",
        params={
            "key": key,
            "order": "MedicationRequest/atopic-dermatitis-dupixent-medreq-dupixent",
        },
        timeout=30,
    )
    assert other.status_code == 404
    assert other.json()["code"] == "not-found"
    bad = browser.get(
        f"{app_server.url}/api/pa/check", params={"key": key, "order": "Patient/x"}, timeout=30
    )
    assert bad.status_code == 400
    assert "expected MedicationRequest/<id> or ServiceRequest/<id>" in bad.json()["description"]


def test_checklist_open_case_queue_and_review(
    app: Flask, sandbox: Sandbox, app_server: AppServer, browser: requests.Session
) -> None:
    key = launch_key(ehr_launch(browser, sandbox.url, SKYRIZI))
    page = browser.get(f"{app_server.url}/pa/{key}", timeout=60)
    assert page.status_code == 200, page.text[:500]
    assert f'data-order="{ORDER}"' in page.text
    assert 'data-pa-required="yes"' in page.text
    assert "unitedhealthcare-skyrizi-plaque-psoriasis v" in page.text
    # a missing criterion with what is missing and its owner role
    row = re.search(
        r'<tr data-criterion="severity" data-status="missing">(.*?)</tr>', page.text, re.S
    )
    assert row, page.text[:2000]
    assert "clinician attestation: Plaque psoriasis is moderate to severe" in row.group(1)
    assert 'data-owner="clinician"' in row.group(1)
    assert re.search(
        r'data-criterion="prescriber" data-status="missing">.*?data-owner="coordinator"',
        page.text,
        re.S,
    )
    # every evidence link goes to the source view
    assert f'href="/source/{key}/Condition/' in page.text

    opened = press(page, f"open-{ORDER.replace('/', '-')}", session=browser)
    assert opened.status_code == 303, opened.text[:500]
    case_page = follow(browser, opened)
    assert case_page.status_code == 200
    case_id = re.search(r'data-case="([0-9a-f-]{36})"', case_page.text)
    assert case_id
    assert 'data-state="draft"' in case_page.text
    assert 'data-event="opened"' in case_page.text

    # the owner roles' queues show the case's tasks
    clinician = browser.get(
        f"{app_server.url}/pa/queue/{key}", params={"role": "clinician"}, timeout=30
    )
    assert f'data-case="{case_id.group(1)}" data-criterion="severity"' in clinician.text
    coordinator = browser.get(
        f"{app_server.url}/pa/queue/{key}", params={"role": "coordinator"}, timeout=30
    )
    assert f'data-case="{case_id.group(1)}" data-criterion="prescriber"' in coordinator.text
    assert 'data-criterion="severity"' not in coordinator.text
    bad_role = browser.get(f"{app_server.url}/pa/queue/{key}", params={"role": "payer"}, timeout=30)
    assert bad_role.status_code == 400 and "role: expected one of" in bad_role.text

    # a rule-change flag (as `dermrcm pa publish` sets it) shows in the queue
    with Session(app.extensions["dermrcm.engine"]) as db:
        row = db.get(PaCase, case_id.group(1))
        assert row is not None
        row.flag = "unitedhealthcare-skyrizi-plaque-psoriasis v2 changes this case"
        db.commit()
    flagged = browser.get(
        f"{app_server.url}/pa/queue/{key}", params={"role": "coordinator"}, timeout=30
    )
    assert '<tr data-case="' + case_id.group(1) + '" data-state="draft" class="pa-flagged">' in (
        flagged.text
    )
    assert "v2 changes this case" in flagged.text

    # the checklist now links to the open case instead of opening another
    again = browser.get(f"{app_server.url}/pa/{key}", timeout=60)
    assert f"/pa/case/{key}/{case_id.group(1)}" in again.text


def open_skyrizi_case(
    app_server: AppServer, sandbox: Sandbox, browser: requests.Session
) -> tuple[str, str, requests.Response]:
    key = launch_key(ehr_launch(browser, sandbox.url, SKYRIZI))
    page = browser.get(f"{app_server.url}/pa/{key}", timeout=60)
    case_page = follow(browser, press(page, f"open-{ORDER.replace('/', '-')}", session=browser))
    found = re.search(r'data-case="([0-9a-f-]{36})"', case_page.text)
    assert found, case_page.text[:1000]
    return key, found.group(1), case_page


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_clinician_reviews_attests_signs_and_gets_the_packet(
    app: Flask, sandbox: Sandbox, app_server: AppServer, browser: requests.Session
) -> None:
    key, case_id, page = open_skyrizi_case(app_server, sandbox, browser)
    case_url = f"{app_server.url}/pa/case/{key}/{case_id}"
    assert 'id="attest-severity"' in page.text  # the signed-in user is a Practitioner

    saved = browser.post(
        f"{case_url}/review",
        data={
            "narrative": "Skyrizi is medically necessary: PASI 15.6 despite methotrexate.",
            "attest": "severity",
            "note-severity": "PASI 15.6, BSA 12%",
        },
        allow_redirects=False,
        timeout=30,
    )
    assert saved.status_code == 303, saved.text[:500]
    page = browser.get(case_url, timeout=30)
    assert '<tr data-criterion="severity" data-status="met">' in page.text
    assert 'data-event="attested"' in page.text
    assert 'data-task="severity"' not in page.text  # its task is closed
    assert 'data-version="1" data-signed="no"' in page.text

    signed = follow(browser, press(page, "sign", session=browser))
    assert signed.status_code == 200
    assert re.search(
        r"Signed by <strong class=\"pa-signer\">Practitioner/[^<]+</strong>", signed.text
    )
    assert 'data-version="1" data-signed="yes"' in signed.text
    assert 'data-state="ready-for-review"' in signed.text
    assert 'id="sign"' not in signed.text  # nothing left to sign

    # signing again, or an older version, is refused with the reason
    again = browser.post(f"{case_url}/sign", data={"version": "1"}, timeout=30)
    assert again.status_code == 409 and "already signed by Practitioner/" in again.text
    assert error_of(again) == "not-now"

    pdf = browser.get(f"{case_url}/packet/1.pdf", timeout=60)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    text = re.sub(r"\s+", "", pdf_text(pdf.content))
    assert "Skyriziismedicallynecessary:PASI15.6despitemethotrexate." in text
    assert "PASI15.6,BSA12%" in text
    assert "SignedelectronicallybyPractitioner/" in text

    # an edit after signing is a new unsigned version; the signed one stays
    browser.post(
        f"{case_url}/review",
        data={"narrative": "Amended.", "attest": "severity"},
        allow_redirects=False,
        timeout=30,
    )
    page = browser.get(case_url, timeout=30)
    assert 'data-version="2" data-signed="no"' in page.text
    assert 'data-version="1" data-signed="yes"' in page.text
    assert 'id="sign"' in page.text


def test_a_post_from_another_site_is_refused(
    app: Flask, sandbox: Sandbox, app_server: AppServer, browser: requests.Session
) -> None:
    key, case_id, _page = open_skyrizi_case(app_server, sandbox, browser)
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        refused = browser.post(
            f"{app_server.url}/pa/case/{key}/{case_id}/review",
            data={"narrative": "x"},
            headers=headers,
            timeout=30,
        )
        assert (refused.status_code, error_of(refused)) == (403, "cross-site")
        assert "posted from another site" in refused.text
        assert "Form from another site ignored" in refused.text
    page = browser.get(f"{app_server.url}/pa/case/{key}/{case_id}", timeout=30)
    assert "data-version=" not in page.text
