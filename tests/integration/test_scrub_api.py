"""POST /api/scrub and the coder's screen /coding/scrub over real HTTP (the app on a socket).

The app scrubs with the test rule family of tests/unit/test_scrub_cli.py (known findings and
fixes) so the tests check what reaches the wire and the page, not what the rule families find;
one test uses the project's scrubber to show the API answers with it."""

from __future__ import annotations

import copy
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from integration.paths import fixtures_dir
from tests.support.servers import AppServer, start_app_server
from tests.unit.test_scrub_cli import one_finding_scrubber
from tests.unit.test_scrub_request_schema import MINIMAL, RESULT_PATH, _schema_paths

TOKEN = "coding-test-token-41c9"


@pytest.fixture(scope="module")
def app_server() -> Iterator[AppServer]:
    server = start_app_server()
    with server.server:
        yield server


@pytest.fixture
def app(app_server: AppServer, tmp_path: Path) -> Iterator[Flask]:
    """The app (loopback, no admin token) scrubbing with the test rule family."""
    with app_server.using(f"sqlite:///{tmp_path / 'app.db'}", []) as flask_app:
        flask_app.extensions["dermrcm.scrubber"] = one_finding_scrubber()
        yield flask_app


def claim(**facts: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    for line, values in facts.items():
        data["facts"]["lines"][line.removeprefix("line")].update(values)
    return data


def post(url: str, body: Any, **headers: str) -> requests.Response:
    return requests.post(
        f"{url}/api/scrub",
        data=json.dumps(body),
        headers={"Content-Type": "application/json", **headers},
        timeout=10,
    )


def test_the_api_answers_findings_and_the_corrected_claim(
    app: Flask, app_server: AppServer
) -> None:
    reply = post(app_server.url, claim(line1={"cosmetic_request": True}))
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["Cache-Control"] == "no-store"
    result = reply.json()
    assert _schema_paths(RESULT_PATH, result) == []
    assert [(f["rule"], f["severity"], f["lines"]) for f in result["findings"]] == [
        ("testfam.cosmetic", "info", [1]),
        ("testfam.addon-units", "error", [2]),
    ]
    assert result["findings"][1]["source"]["url"] == "https://example.org/test-rules"
    assert [(s["procedure"]["code"], s["quantity"]) for s in result["corrected"]["services"]] == [
        ("11103", "1")
    ]
    assert [s["code"] for s in result["self_pay"]] == ["11102"]


def test_an_837p_document_gives_one_result_per_claim(app: Flask, app_server: AppServer) -> None:
    from click.testing import CliRunner

    from integration.cli import main

    source = fixtures_dir() / "x12" / "837p" / "biopsy-99213-25-11102-11103.x12"
    parsed = CliRunner().invoke(main, ["x12", "parse", str(source)], catch_exceptions=False)
    reply = post(app_server.url, json.loads(parsed.stdout))
    assert reply.status_code == 200
    assert reply.json()["claim_id"] == "DRCM-BX-1001"


@pytest.mark.parametrize(
    ("body", "description"),
    [
        ("{not json", "body: expected JSON, got Expecting property name enclosed in double quotes"),
        ([], "$: expected a JSON object, got list"),
        ({"payer": {}}, "$: expected 'claim', got nothing"),
        (
            {**MINIMAL, "history": [{"service_date": "yesterday", "code": "11102"}]},
            "$.history[0].service_date: expected YYYY-MM-DD, got 'yesterday'",
        ),
        (
            {"claim": {**MINIMAL["claim"], "services": [{"line_number": 1}]}},
            "$.claim.services[0]: ",
        ),
    ],
)
def test_a_bad_request_is_400_with_the_located_message(
    app: Flask, app_server: AppServer, body: Any, description: str
) -> None:
    if isinstance(body, str):
        reply = requests.post(
            f"{app_server.url}/api/scrub",
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
    else:
        reply = post(app_server.url, body)
    assert reply.status_code == 400
    answer = reply.json()
    assert answer["code"] == "bad-request"
    assert answer["description"].startswith(description)


def test_json_is_required(app: Flask, app_server: AppServer) -> None:
    reply = requests.post(
        f"{app_server.url}/api/scrub",
        data=json.dumps(MINIMAL),
        headers={"Content-Type": "text/plain"},
        timeout=10,
    )
    assert reply.status_code == 400
    assert reply.json()["description"].startswith("Content-Type: expected application/json")


def test_with_an_admin_token_the_api_and_screen_need_it(
    app_server: AppServer, tmp_path: Path
) -> None:
    with app_server.using(f"sqlite:///{tmp_path / 'g.db'}", [], admin_token=TOKEN) as flask_app:
        flask_app.extensions["dermrcm.scrubber"] = one_finding_scrubber()
        # the test client is on loopback, but with a token set loopback is not enough
        refused = post(app_server.url, MINIMAL)
        assert refused.status_code == 403
        assert refused.json()["code"] == "forbidden"
        page = requests.get(f"{app_server.url}/coding/scrub", timeout=10)
        assert page.status_code == 403
        assert "Claim scrubber: not allowed" in page.text
        allowed = post(app_server.url, MINIMAL, Authorization=f"Bearer {TOKEN}")
        assert allowed.status_code == 200
        assert allowed.json()["claim_id"] == "SCHEMA-01"

        # a coder signs in with the token on the refusal page: a cookie for /coding only
        assert 'id="coding-login"' in page.text
        with requests.Session() as browser:
            origin = {"Origin": app_server.url}
            wrong = browser.post(
                f"{app_server.url}/coding/login", data={"token": "guess"}, headers=origin
            )
            assert wrong.status_code == 403 and "dermrcm_interfaces" not in browser.cookies
            signed = browser.post(
                f"{app_server.url}/coding/login",
                data={"token": TOKEN},
                headers=origin,
                allow_redirects=False,
            )
            assert signed.status_code == 303 and signed.headers["Location"] == "/coding/scrub"
            cookie = signed.headers["Set-Cookie"]
            assert "Path=/coding" in cookie and "HttpOnly" in cookie and TOKEN not in cookie
            assert browser.get(f"{app_server.url}/coding/scrub", timeout=10).status_code == 200
            # the cookie opens the coding screens, not the interface engineer's
            assert browser.get(f"{app_server.url}/interfaces/hl7", timeout=10).status_code == 403


def test_the_project_scrubber_answers(app_server: AppServer, tmp_path: Path) -> None:
    with app_server.using(f"sqlite:///{tmp_path / 'real.db'}", []):
        reply = post(app_server.url, MINIMAL)
    assert reply.status_code == 200
    result = reply.json()
    assert result["claim_id"] == "SCHEMA-01"
    assert _schema_paths(RESULT_PATH, result) == []


def _hidden(page: str, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)">', page)
    assert match, name
    return html.unescape(match.group(1))


def test_the_screen_shows_findings_and_applies_a_rejected_fix(
    app: Flask, app_server: AppServer
) -> None:
    form = requests.get(f"{app_server.url}/coding/scrub", timeout=10)
    assert form.status_code == 200
    assert 'id="scrub-form"' in form.text

    text = json.dumps(claim(line1={"cosmetic_request": True}))
    page = requests.post(f"{app_server.url}/coding/scrub", data={"claim": text}, timeout=10)
    assert page.status_code == 200
    assert 'data-rule="testfam.addon-units" data-severity="error"' in page.text
    assert "Line 2: 11103 x 2 billed; the test rule allows x 1" in page.text
    assert 'href="https://example.org/test-rules"' in page.text
    assert 'id="reject-0"' in page.text and 'id="reject-1"' in page.text
    request_json = _hidden(page.text, "request")

    # reject the units fix, keep the self-pay move: line 2 is back as billed (x2), line 1 gone
    decided = requests.post(
        f"{app_server.url}/coding/scrub/decide",
        data={"request": request_json, "claim": text, "fix-0": "accept", "fix-1": "reject"},
        timeout=10,
    )
    assert decided.status_code == 200
    final = decided.text[decided.text.index('id="final"') :]
    assert re.search(r'class="decision-rejected"><span class="mono">testfam.addon-units', final)
    assert re.search(r'class="decision-accepted"><span class="mono">testfam.cosmetic', final)
    rows = re.findall(
        r'<tr data-line="(\d+)"><th scope="row">\d+</th><td class="mono code">([^<]+)</td>'
        r'<td class="num units">([^<]+)</td>',
        final,
    )
    assert rows == [("1", "11103", "2")]
    start = final.index('<textarea id="final-json"')
    body = final[final.index(">", start) + 1 : final.index("</textarea>", start)]
    final_claim = json.loads(html.unescape(body))
    assert [(s["procedure"]["code"], s["quantity"]) for s in final_claim["services"]] == [
        ("11103", "2")
    ]
    assert final_claim["total_charge"] == "150"
    kept = final[final.index('id="final-self-pay"') :]
    assert re.search(r'<tr data-line="1"><td>1</td><td class="mono">11102</td>', kept)

    # reject the self-pay move too: line 1 is back on the claim, nothing on the statement
    undone = requests.post(
        f"{app_server.url}/coding/scrub/decide",
        data={"request": request_json, "claim": text, "fix-0": "reject", "fix-1": "reject"},
        timeout=10,
    )
    final = undone.text[undone.text.index('id="final"') :]
    assert 'id="final-self-pay-none"' in final and 'id="final-self-pay"' not in final
    rows = re.findall(r'<tr data-line="(\d+)"><th scope="row">\d+</th>', final)
    assert rows == ["1", "2"]


def test_the_screen_names_what_is_wrong_with_a_pasted_claim(
    app: Flask, app_server: AppServer
) -> None:
    bad = copy.deepcopy(MINIMAL)
    bad["claim"]["services"][0]["charge"] = 150
    page = requests.post(
        f"{app_server.url}/coding/scrub", data={"claim": json.dumps(bad)}, timeout=10
    )
    assert page.status_code == 400
    assert "$.claim.services[0].charge: expected a decimal string, got 150" in html.unescape(
        page.text
    )
    uploaded = requests.post(
        f"{app_server.url}/coding/scrub",
        files={"file": ("claim.json", json.dumps(MINIMAL).encode(), "application/json")},
        timeout=10,
    )
    assert uploaded.status_code == 200
    assert 'id="claim-id">SCHEMA-01<' in uploaded.text


def test_a_form_from_another_site_is_refused(app: Flask, app_server: AppServer) -> None:
    page = requests.post(
        f"{app_server.url}/coding/scrub",
        data={"claim": json.dumps(MINIMAL)},
        headers={"Sec-Fetch-Site": "cross-site"},
        timeout=10,
    )
    assert page.status_code == 403
