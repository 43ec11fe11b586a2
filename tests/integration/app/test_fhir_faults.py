"""A FHIR server that is slow, fails for a while, pages oddly or lets tokens expire."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from integration.store.models import SmartSession
from tests.integration.app.test_launch import SKYRIZI, error_kind
from tests.support.servers import AppServer, Fault, FaultyFhir, Sandbox, start_faulty_sandbox
from tests.support.smart_flow import ehr_launch


@pytest.fixture
def faulty(app_server: AppServer, tmp_path: Path) -> Iterator[tuple[Sandbox, FaultyFhir]]:
    sandbox, faults = start_faulty_sandbox(app_server.url)
    with (
        sandbox.server,
        app_server.using(f"sqlite:///{tmp_path / 'a.db'}", [sandbox.fhir], fhir_timeout=1.0),
    ):
        yield sandbox, faults


def test_retries_503_and_429_then_shows_evidence(
    faulty: tuple[Sandbox, FaultyFhir], browser: requests.Session
) -> None:
    sandbox, faults = faulty
    faults.faults = [
        Fault("/fhir/Observation", status=503, times=2),
        Fault("/fhir/Condition", status=429, times=1, retry_after="0"),
    ]
    page = ehr_launch(browser, sandbox.url, SKYRIZI)
    assert page.status_code == 200
    assert 'data-measure="PASI">15.6<' in page.text
    assert faults.seen.count("/fhir/Observation") == 3
    assert faults.seen.count("/fhir/Condition") == 2


def test_persistent_server_error_is_a_clear_page(
    faulty: tuple[Sandbox, FaultyFhir], browser: requests.Session
) -> None:
    sandbox, faults = faulty
    faults.faults = [Fault("/fhir/Observation", status=500, times=99)]
    page = ehr_launch(browser, sandbox.url, SKYRIZI)
    assert (page.status_code, error_kind(page)) == (502, "fhir-http-error")
    assert "/fhir/Observation: HTTP 500: injected fault" in page.text


def test_slow_search_times_out_with_a_clear_page(
    faulty: tuple[Sandbox, FaultyFhir], browser: requests.Session
) -> None:
    sandbox, faults = faulty
    faults.faults = [Fault("/fhir/Procedure", delay=2.0, times=5)]
    page = ehr_launch(browser, sandbox.url, SKYRIZI)
    assert (page.status_code, error_kind(page)) == (504, "fhir-timeout")
    assert "/fhir/Procedure" in page.text


def test_access_token_is_refreshed_before_it_expires(
    app_server: AppServer, tmp_path: Path, browser: requests.Session
) -> None:
    # the launch must finish before the margin starts (6 - 3 s), even on a loaded CI machine
    sandbox, faults = start_faulty_sandbox(app_server.url, access_token_lifetime=6)
    with (
        sandbox.server,
        app_server.using(f"sqlite:///{tmp_path / 'a.db'}", [sandbox.fhir], refresh_margin=3) as app,
    ):
        first = ehr_launch(browser, sandbox.url, SKYRIZI)
        assert first.status_code == 200
        time.sleep(3.2)  # within the refresh margin: refreshed before use
        again = browser.get(first.url, timeout=10)
        assert again.status_code == 200
        assert faults.seen.count("/oauth2/token") == 2
        with app.extensions["dermrcm.engine"].connect() as conn:
            assert conn.execute(select(SmartSession.refresh_count)).scalar_one() == 1


def test_token_refused_mid_session_is_refreshed_once_and_retried(
    app_server: AppServer, tmp_path: Path, browser: requests.Session
) -> None:
    sandbox, faults = start_faulty_sandbox(app_server.url)
    with sandbox.server, app_server.using(f"sqlite:///{tmp_path / 'a.db'}", [sandbox.fhir]):
        first = ehr_launch(browser, sandbox.url, SKYRIZI)
        faults.faults = [Fault("/fhir/Observation", status=401, times=1)]
        again = browser.get(first.url, timeout=10)
        assert again.status_code == 200
        assert 'data-measure="PASI">15.6<' in again.text
        assert faults.seen.count("/oauth2/token") == 2


def test_refresh_refused_ends_the_session(
    app_server: AppServer, tmp_path: Path, browser: requests.Session
) -> None:
    sandbox, faults = start_faulty_sandbox(app_server.url, access_token_lifetime=1)
    with (
        sandbox.server,
        app_server.using(f"sqlite:///{tmp_path / 'a.db'}", [sandbox.fhir], refresh_margin=0),
    ):
        first = ehr_launch(browser, sandbox.url, SKYRIZI)
        time.sleep(1.5)
        faults.faults = [
            Fault("/oauth2/token", status=400, times=9, body='{"error": "invalid_grant"}')
        ]
        again = browser.get(first.url, timeout=10)
        assert (again.status_code, error_kind(again)) == (401, "expired-session")
