"""The EHR pages a person clicks, and the `dermrcm sandbox` command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests
from sandbox_testkit import (
    LAUNCH_URL,
    OTHER_CLIENT_ID,
    OTHER_PATIENT,
    PATIENT,
    Sandbox,
    outcome_text,
    parse_page,
    pkce_pair,
    query_of,
)


def test_patient_list_shows_patients_and_launch_buttons(sandbox: Sandbox) -> None:
    page = requests.get(sandbox.base_url + "/", timeout=10)

    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    _, element_ids = parse_page(page.text)
    for text in ("Avery Testperson", "1980-04-02", "female", "Blake Otherperson", "1975-09-30"):
        assert text in page.text
    assert "Observation 130" in page.text, "a short summary of the chart"
    assert {f"launch-{PATIENT}", f"launch-{OTHER_PATIENT}", f"frame-{PATIENT}"} <= element_ids
    assert not [i for i in element_ids if OTHER_CLIENT_ID in i], "that client has no launch URL"


def test_launch_button_redirects_to_the_app_with_iss_and_launch(sandbox: Sandbox) -> None:
    page = requests.get(sandbox.base_url + "/", timeout=10)
    forms, _ = parse_page(page.text)
    [form] = [f for f in forms.values() if f"launch-{PATIENT}" in f.buttons]

    response = requests.post(
        sandbox.base_url + form.action, data=form.fields, allow_redirects=False, timeout=10
    )

    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith(LAUNCH_URL + "?")
    params = query_of(location)
    assert params["iss"] == sandbox.fhir_base
    _, challenge = pkce_pair()
    consent = sandbox.authorize("launch patient/*.rs", launch=params["launch"], challenge=challenge)
    assert consent.status_code == 200
    assert "Avery Testperson" in consent.text


def test_ehr_frame_embeds_the_app_at_its_launch_url(sandbox: Sandbox) -> None:
    page = requests.get(
        sandbox.base_url + "/ehr-frame",
        params={"client_id": "derm-rcm", "patient": OTHER_PATIENT},
        timeout=10,
    )

    assert page.status_code == 200
    assert "X-Frame-Options" not in page.headers
    src = page.text.split('id="app-frame"', 1)[1].split('src="', 1)[1].split('"', 1)[0]
    src = src.replace("&amp;", "&")
    assert src.startswith(LAUNCH_URL + "?")
    launch = query_of(src)["launch"]
    token = sandbox.token("launch patient/*.rs", ehr_patient=None, extra={"launch": launch})
    assert token["patient"] == OTHER_PATIENT


def test_launch_refuses_unknown_client_or_patient(sandbox: Sandbox) -> None:
    unknown_client = requests.post(
        sandbox.base_url + "/launch",
        data={"client_id": OTHER_CLIENT_ID, "patient": PATIENT},
        timeout=10,
    )
    unknown_patient = requests.post(
        sandbox.base_url + "/launch",
        data={"client_id": "derm-rcm", "patient": "nobody"},
        timeout=10,
    )

    assert unknown_client.status_code == 400
    assert "expected a client with a launch URL (derm-rcm)" in outcome_text(unknown_client.json())
    assert unknown_patient.status_code == 404
    assert "Patient/nobody is not in the data" in outcome_text(unknown_patient.json())


def test_cli_serves_until_interrupted(chart_dir: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable,
        "-c",
        "from integration.cli import main; main()",
        "sandbox",
        "--data",
        str(chart_dir),
        "--port",
        "0",
        "--no-auth",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Sandbox EHR patient list: http://127.0.0.1:"), first
        base_url = first.split(": ", 1)[1].strip().rstrip("/")
        conditions = requests.get(base_url + "/fhir/Condition", timeout=10)
        assert conditions.status_code == 200
        assert conditions.json()["total"] == 3
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "WARNING: --no-auth" in stderr
    assert "path=/fhir/Condition status=200" in stderr
    assert "Testperson" not in stderr


def test_cli_refuses_a_missing_data_folder(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from integration.cli import main; main()",
            "sandbox",
            "--data",
            str(tmp_path / "missing"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "does not exist" in result.stderr
