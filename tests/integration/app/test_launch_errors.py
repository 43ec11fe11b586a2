"""Every error page a user can meet, over real HTTP: each says what happened and what to do."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest
import requests
from flask import Flask

from tests.integration.app.test_launch import SKYRIZI, error_kind
from tests.support.servers import AppServer, Sandbox
from tests.support.smart_flow import ehr_launch, follow


def test_unknown_iss_is_refused(
    sqlite_app: Flask, app_server: AppServer, browser: requests.Session
) -> None:
    page = browser.get(
        f"{app_server.url}/launch",
        params={"iss": "https://evil.example/fhir", "launch": "x"},
        timeout=10,
    )
    assert page.status_code == 400
    assert error_kind(page) == "unknown-iss"
    assert "https://evil.example/fhir" in page.text


def test_launch_without_iss(
    sqlite_app: Flask, app_server: AppServer, browser: requests.Session
) -> None:
    page = browser.get(f"{app_server.url}/launch", timeout=10)
    assert (page.status_code, error_kind(page)) == (400, "missing-iss")


def test_user_denies_access(sqlite_app: Flask, sandbox: Sandbox, browser: requests.Session) -> None:
    page = ehr_launch(browser, sandbox.url, SKYRIZI, decision="deny")
    assert (page.status_code, error_kind(page)) == (403, "denied")
    assert "Launch the app again" in page.text


def test_unknown_launch_token_from_the_ehr(
    sqlite_app: Flask, sandbox: Sandbox, app_server: AppServer, browser: requests.Session
) -> None:
    start = browser.get(
        f"{app_server.url}/launch",
        params={"iss": sandbox.fhir, "launch": "forged"},
        allow_redirects=False,
        timeout=10,
    )
    page = follow(browser, start)
    assert (page.status_code, error_kind(page)) == (400, "authorization-error")
    assert "invalid_request" in page.text


def test_callback_state_is_single_use(
    sqlite_app: Flask, sandbox: Sandbox, app_server: AppServer, browser: requests.Session
) -> None:
    listing = browser.get(f"{sandbox.url}/", timeout=10)
    from tests.support.html_forms import press

    consent = follow(browser, press(listing, f"launch-{SKYRIZI}", session=browser))
    redirect = press(consent, "allow", session=browser)
    callback_url = redirect.headers["Location"]
    first = follow(browser, browser.get(callback_url, allow_redirects=False, timeout=10))
    assert first.status_code == 200
    replay = browser.get(callback_url, timeout=10)
    assert (replay.status_code, error_kind(replay)) == (400, "expired-session")
    forged = browser.get(
        f"{app_server.url}/callback", params={"code": "x", "state": "made-up"}, timeout=10
    )
    assert (forged.status_code, error_kind(forged)) == (400, "expired-session")


def test_expired_or_unknown_session(
    sqlite_app: Flask, sandbox: Sandbox, app_server: AppServer, browser: requests.Session
) -> None:
    page = ehr_launch(browser, sandbox.url, SKYRIZI)
    key = page.url.rsplit("/", 1)[1]
    assert browser.get(f"{app_server.url}/evidence/nope", timeout=10).status_code == 401
    fresh = requests.get(page.url, timeout=10)  # another browser: no cookie
    assert (fresh.status_code, error_kind(fresh)) == (401, "expired-session")
    sign_out = browser.post(f"{app_server.url}/signout/{key}", timeout=10)
    assert sign_out.status_code == 200
    after = browser.get(page.url, timeout=10)
    assert (after.status_code, error_kind(after)) == (401, "expired-session")
    api = browser.get(f"{app_server.url}/api/evidence", timeout=10)
    assert api.status_code == 401
    assert api.json()["code"] == "expired-session"


def test_insufficient_scope_for_observations(
    sqlite_app: Flask, sandbox: Sandbox, browser: requests.Session
) -> None:
    page = ehr_launch(browser, sandbox.url, SKYRIZI, untick=("patient/Observation.rs",))
    assert (page.status_code, error_kind(page)) == (403, "insufficient-scope")
    assert "Observation" in page.text


def test_a_missing_optional_scope_gives_partial_evidence_that_says_so(
    sqlite_app: Flask, sandbox: Sandbox, browser: requests.Session
) -> None:
    page = ehr_launch(browser, sandbox.url, SKYRIZI, untick=("patient/Media.rs",))
    assert page.status_code == 200
    assert 'id="problems"' in page.text
    assert "not read: the launch was not granted a scope to search Media" in page.text
    assert "No photos in the chart." in page.text


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_fhir_server_down(app_server: AppServer, tmp_path, browser: requests.Session) -> None:  # type: ignore[no-untyped-def]
    dead = f"http://127.0.0.1:{_closed_port()}/fhir"
    with app_server.using(f"sqlite:///{tmp_path / 'a.db'}", [dead]):
        page = browser.get(
            f"{app_server.url}/launch", params={"iss": dead, "launch": "x"}, timeout=10
        )
    assert (page.status_code, error_kind(page)) == (502, "fhir-unavailable")


class _Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        threading.Event().wait(3)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def slow_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/fhir"
    server.shutdown()
    server.server_close()


def test_fhir_server_too_slow_at_discovery(
    app_server: AppServer, slow_server: str, tmp_path, browser: requests.Session
) -> None:  # type: ignore[no-untyped-def]
    with app_server.using(f"sqlite:///{tmp_path / 'a.db'}", [slow_server], fhir_timeout=0.5):
        page = browser.get(
            f"{app_server.url}/launch", params={"iss": slow_server, "launch": "x"}, timeout=10
        )
    assert (page.status_code, error_kind(page)) == (504, "fhir-timeout")
    assert "0.5 s" in page.text
