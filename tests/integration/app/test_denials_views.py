"""The denial and appeal screens over real HTTP (SQLite and PostgreSQL): the worklist from a
posted 835 (tabs, filters, sort, assignment, its JSON), who may see it, a denial's page, drafting
the appeal from the chart, editing, the pre-sign check refusing "PASI 22", the clinician's
signature from a launched session, the payer's decision, a second level and the dashboard.

Fixtures: fixtures/x12/835-denials.x12 with the claims it pays (fixtures/denials/835-denials.claims.json;
DRM-2001 is risankizumab for Patient/psoriasis-skyrizi-patient, denied CO-50), and the sandbox
chart of psoriasis-skyrizi (PASI 15.6 on 2026-09-10)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from flask import Flask

from integration.appeals.polish import PolishSettings
from integration.denials.remittance import SubmittedLine
from integration.paths import fixtures_dir
from integration.store.database import session_factory
from integration.store.remittances import RemittanceStore
from tests.support.servers import AppServer, Sandbox
from tests.support.smart_flow import ehr_launch

SKYRIZI = "psoriasis-skyrizi-patient"
PASI_22 = "The Psoriasis Area and Severity Index (PASI) was 22 on 2026-09-10."


def post_fixture_835(app: Flask) -> None:
    """Record the claims of the fixture 835 and post it, as the clearinghouse inbox would."""
    store = RemittanceStore(session_factory(app.extensions["dermrcm.engine"]))
    claims = json.loads((fixtures_dir() / "denials" / "835-denials.claims.json").read_text())
    for claim in claims["claims"]:
        store.record_submitted_claim(
            patient_control_number=claim["patient_control_number"],
            payer_id=claim["payer_id"],
            total_charge=Decimal(claim["total_charge"]),
            patient_ref=claim["patient_ref"],
            lines=tuple(
                SubmittedLine(
                    line["line_number"],
                    line["procedure"],
                    tuple(line["modifiers"]),
                    date.fromisoformat(line["service_date"]),
                    Decimal(line["charge"]),
                    Decimal(line["units"]),
                )
                for line in claim["lines"]
            ),
        )
    raw = (fixtures_dir() / "x12" / "835-denials.x12").read_bytes()
    assert store.post_file(raw, "835-denials.x12").status == "posted"


def rows(page: requests.Response) -> list[dict[str, str]]:
    """The worklist's rows as their data attributes."""
    found = re.findall(r"<tr (data-denial=[^>]*)>", page.text)
    return [dict(re.findall(r'data-([a-z-]+)="([^"]*)"', attrs)) for attrs in found]


def denial_id(app_url: str, browser: requests.Session, reason: str) -> int:
    listing = browser.get(f"{app_url}/denials.json", params={"status": "all"}, timeout=30)
    return int(next(d["id"] for d in listing.json()["denials"] if d["reason"] == reason))


def post(
    browser: requests.Session, url: str, data: dict[str, Any], origin: str
) -> requests.Response:
    return browser.post(url, data=data, headers={"Origin": origin}, timeout=60)


def form_values(page: str, form_id: str) -> dict[str, str]:
    """The named inputs and textareas of one form (enough for these pages)."""
    match = re.search(rf'<form[^>]*id="{form_id}"[^>]*>(.*?)</form>', page, re.S)
    assert match, f"no form {form_id}"
    body = match.group(1)
    values = {}
    for tag in re.findall(r"<input[^>]*>", body):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if not name or not value or ('type="checkbox"' in tag and " checked" not in tag):
            continue  # a box not ticked is not sent
        values[name.group(1)] = unescape(value.group(1))
    for name, text in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', body, re.S):
        values[name] = unescape(text)
    return values


@dataclass
class Drafted:
    url: str  # the appeal page, with the launch key
    appeal_id: str
    key: str
    page: str


def draft_co50(app: Flask, app_url: str, sandbox_url: str, browser: requests.Session) -> Drafted:
    """Post the 835, launch the clinician from the psoriasis chart and draft the CO-50 appeal
    from the denial's page through that launch."""
    post_fixture_835(app)
    co50 = denial_id(app_url, browser, "CO-50")
    launched = ehr_launch(browser, sandbox_url, SKYRIZI)
    found_key = re.search(r"/evidence/([^/?#]+)", launched.url)
    assert found_key, launched.url
    key = found_key.group(1)
    denial_page = browser.get(f"{app_url}/denials/{co50}", timeout=30)
    opened = form_values(denial_page.text, "draft-form")["opened"]
    drafted = post(
        browser, f"{app_url}/denials/{co50}/draft", {"opened": opened, "key": key}, app_url
    )
    assert drafted.status_code == 200, drafted.text[:500]
    found = re.search(r"/appeals/([0-9a-f-]{36})\?key=", drafted.url)
    assert found, drafted.url
    return Drafted(drafted.url.split("#")[0], found.group(1), key, drafted.text)


def test_the_worklist_filters_sorts_and_assigns(
    app: Flask, app_server: AppServer, browser: requests.Session
) -> None:
    post_fixture_835(app)
    url = app_server.url

    page = browser.get(f"{url}/denials", timeout=30)
    assert page.status_code == 200, page.text[:300]
    found = rows(page)
    # CO-45 alone is not a denial; the paid line is not one either
    assert sorted(r["reason"] for r in found) == [
        "CO-15",
        "CO-16",
        "CO-197",
        "CO-50",
        "CO-97",
        "PR-1",
    ]
    # soonest deadline first: Medicare's 120 days are known, the UHC plan's are not
    assert [r["reason"] for r in found][:3] == ["CO-16", "CO-97", "PR-1"]
    assert "unknown" in page.text
    # no decided appeals yet: no likelihood is invented
    assert "no history: 0 decided appeals, need 20" in page.text

    by_amount = rows(browser.get(f"{url}/denials", params={"sort": "amount"}, timeout=30))
    assert by_amount[0]["reason"] == "CO-50"

    authorization = rows(
        browser.get(f"{url}/denials", params={"category": "authorization"}, timeout=30)
    )
    assert sorted(r["reason"] for r in authorization) == ["CO-15", "CO-197"]
    coder = rows(browser.get(f"{url}/denials", params={"tab": "coder"}, timeout=30))
    assert {r["queue"] for r in coder} == {"coder"}
    unknown = rows(browser.get(f"{url}/denials", params={"window": "unknown"}, timeout=30))
    assert sorted(r["reason"] for r in unknown) == ["CO-15", "CO-197", "CO-50"]

    co50 = denial_id(url, browser, "CO-50")
    response = post(browser, f"{url}/denials/{co50}/assign", {"to": "alex", "me": "sam"}, url)
    assert response.status_code == 200 and response.url.startswith(f"{url}/denials"), response.text[
        :300
    ]
    mine = rows(browser.get(f"{url}/denials", params={"tab": "mine", "me": "alex"}, timeout=30))
    assert [r["reason"] for r in mine] == ["CO-50"]
    detail = browser.get(f"{url}/denials/{co50}", timeout=30)
    assert "assignee - -&gt; alex" in detail.text and "sam" in detail.text

    everything = browser.get(f"{url}/denials.json", timeout=30).json()["denials"]
    medicare = next(d["payer"]["id"] for d in everything if "MEDICARE" in d["payer"]["name"])
    listing = browser.get(f"{url}/denials.json", params={"payer": medicare}, timeout=30).json()
    assert listing["count"] == 3
    assert {d["reason"] for d in listing["denials"]} == {"CO-16", "CO-97", "PR-1"}


def test_a_denial_shows_why_what_next_and_where_it_came_from(
    sqlite_app: Flask, app_server: AppServer, browser: requests.Session
) -> None:
    post_fixture_835(sqlite_app)
    url = app_server.url
    page = browser.get(f"{url}/denials/{denial_id(url, browser, 'CO-16')}", timeout=30)
    assert page.status_code == 200
    text = unescape(page.text)
    assert 'data-next-step="correct-resubmit"' in page.text
    assert "N290" in text
    assert "405.942" in text  # the deadline's basis cites its rule
    assert "TRN" in text and "CAS CO-16" in text  # the 835 origin
    # not an appeal: drafting asks to confirm
    assert 'id="draft-anyway"' in page.text


def test_other_sites_and_other_machines_are_refused(
    app_server: AppServer, sandbox: Sandbox, browser: requests.Session, tmp_path: Any
) -> None:
    with app_server.using(
        f"sqlite:///{tmp_path / 'app.db'}", [sandbox.fhir], admin_token="s3cret-token"
    ) as flask_app:
        post_fixture_835(flask_app)
        url = app_server.url
        refused = browser.get(f"{url}/denials", timeout=30)
        assert refused.status_code == 403 and 'id="denials-login"' in refused.text
        assert browser.get(f"{url}/denials/dashboard.json", timeout=30).status_code == 403
        bearer = {"Authorization": "Bearer s3cret-token"}
        assert browser.get(f"{url}/denials", headers=bearer, timeout=30).status_code == 200
        signed_in = post(
            browser, f"{url}/denials/login", {"token": "s3cret-token", "next": "/denials"}, url
        )
        assert signed_in.status_code == 200 and signed_in.url == f"{url}/denials"
        listing = browser.get(f"{url}/denials.json", timeout=30).json()
        first = listing["denials"][0]["id"]
        evil = post(
            browser, f"{url}/denials/{first}/assign", {"to": "mallory"}, "http://evil.example"
        )
        assert evil.status_code == 403
        after = browser.get(f"{url}/denials.json", timeout=30).json()["denials"][0]
        assert after["assignee"] is None


def test_draft_edit_refuse_sign_decide_and_the_dashboard(
    app: Flask, app_server: AppServer, sandbox: Sandbox, browser: requests.Session
) -> None:
    url = app_server.url
    drafted = draft_co50(app, url, sandbox.url, browser)
    appeal_id, key, appeal_url = drafted.appeal_id, drafted.key, drafted.url
    page = drafted.page
    assert 'data-status="draft"' in page
    pasi = re.search(r'<tr data-sentence="pasi".*?</tr>', page, re.S)
    assert pasi, "the psoriasis letter states the PASI"
    assert "PASI 15.6 on 2026-09-10" in pasi.group(0)  # its source, beside it
    assert f"/source/{key}/Observation/" in pasi.group(0)  # linked through the launch
    assert 'data-ok="yes"' in page
    assert 'class="dn-own"' not in page

    # a person edits the PASI to 22 and adds a sentence in their own words
    values = form_values(page, "edit-form")
    values["text-pasi"] = PASI_22
    values["add"] = "I have treated this patient for seven years."
    saved = post(browser, f"{url}/appeals/{appeal_id}/edit", values, url)
    assert saved.status_code == 200
    assert 'data-version="2"' in saved.text
    assert 'data-ok="no"' in saved.text and "“22”" in saved.text
    own = re.search(r'<tr data-sentence="c1" data-origin="clinician".*?</tr>', saved.text, re.S)
    assert own and "clinician's own words" in own.group(0)
    versions = re.findall(
        r'<tr data-version="(\d)" data-kind="(\w+)" data-origin="(\w+)"', saved.text
    )
    assert versions == [("2", "edit", "person"), ("1", "draft", "system")]

    # an edit from a stale page is refused, the newer version kept
    stale = post(browser, f"{url}/appeals/{appeal_id}/edit", {**values, "base_version": "1"}, url)
    assert stale.status_code == 409 and "version 2 was saved since" in stale.text

    signing = form_values(saved.text, "sign-form")
    refused = post(browser, f"{url}/appeals/{appeal_id}/sign", signing, url)
    assert refused.status_code == 422
    assert 'id="sign-refused"' in refused.text
    assert 'data-sentence="pasi" data-span="22"' in refused.text
    assert 'data-status="draft"' in refused.text

    fixed = form_values(refused.text, "edit-form")
    fixed["text-pasi"] = PASI_22.replace("22", "15.6")
    post(browser, f"{url}/appeals/{appeal_id}/edit", fixed, url)
    page = browser.get(appeal_url, timeout=30).text
    assert 'data-ok="yes"' in page
    signed = post(browser, f"{url}/appeals/{appeal_id}/sign", form_values(page, "sign-form"), url)
    assert signed.status_code == 200, signed.text[:500]
    status = re.search(r'id="signed-status"[^>]*>(.*?)</p>', signed.text, re.S)
    assert status and "Practitioner/" in status.group(1)

    # billing staff see it too, without the launch; the clinician's list shows it signed
    assert 'data-status="signed"' in browser.get(f"{url}/appeals/{appeal_id}", timeout=30).text
    mine = browser.get(f"{url}/launch/{key}/appeals", timeout=30)
    assert f'data-appeal="{appeal_id}" data-status="signed"' in mine.text

    sent = post(browser, f"{url}/appeals/{appeal_id}/submit", {"channel": "fax"}, url)
    assert 'id="sent"' in sent.text
    decided = post(
        browser,
        f"{url}/appeals/{appeal_id}/outcome",
        {"result": "upheld", "recovered": "0.00", "decided_on": date.today().isoformat()},
        url,
    )
    assert 'data-outcome="upheld"' in decided.text
    second = post(browser, f"{url}/appeals/{appeal_id}/second-level", {"key": key}, url)
    assert second.status_code == 200, second.text[:500]
    assert 'data-level="2"' in second.text and 'data-status="draft"' in second.text

    figures = browser.get(f"{url}/denials/dashboard.json", timeout=30).json()
    assert figures["denial_rate"]["numerator"] == 5  # PR-1 is the plan, not a denial
    assert figures["outcomes"]["upheld"] == 1
    assert figures["median_drafting_time"]["count"] == 1
    dashboard = browser.get(f"{url}/denials/dashboard", timeout=30)
    assert dashboard.status_code == 200
    for chart in ("chart-payer", "chart-category", "chart-deadlines", "chart-outcomes"):
        assert f'id="{chart}"' in dashboard.text
    assert 'data-label="MEDICARE PART B SANDBOX"' in dashboard.text


class StubModel:
    """A local stand-in for an OpenAI-compatible endpoint: it rewords the sentences it is sent
    with `reword` (id -> new text) and echoes the others."""

    def __init__(self) -> None:
        self.reword: dict[str, str] = {}
        self.calls = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.calls += 1
                sent = json.loads(body["messages"][-1]["content"])["sentences"]
                answer = [
                    {"id": s["id"], "text": stub.reword.get(s["id"], s["text"])} for s in sent
                ]
                content = json.dumps({"sentences": answer})
                data = json.dumps({"choices": [{"message": {"content": content}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub_model() -> Iterator[StubModel]:
    stub = StubModel()
    yield stub
    stub.close()


def test_polish_is_off_by_default_and_refused_when_it_adds_a_fact(
    sqlite_app: Flask,
    app_server: AppServer,
    sandbox: Sandbox,
    browser: requests.Session,
    stub_model: StubModel,
) -> None:
    url = app_server.url
    drafted = draft_co50(sqlite_app, url, sandbox.url, browser)
    assert 'id="polish-off"' in drafted.page and 'id="polish"' not in drafted.page

    sqlite_app.extensions["dermrcm.appeals.polish"] = PolishSettings(
        endpoint=stub_model.url, allow_phi=True, model="stub"
    )
    page = browser.get(drafted.url, timeout=30).text
    assert 'id="polish"' in page
    stub_model.reword = {"pasi": PASI_22}
    refused = post(
        browser, f"{url}/appeals/{drafted.appeal_id}/polish", form_values(page, "polish-form"), url
    )
    assert refused.status_code == 422 and stub_model.calls == 1
    assert "polish rejected" in refused.text and "22" in refused.text
    assert 'data-version="1"' in refused.text

    closing = "For these reasons I ask you to reverse the denial and pay the claim."
    stub_model.reword = {"closing": closing}
    accepted = post(
        browser, f"{url}/appeals/{drafted.appeal_id}/polish", form_values(page, "polish-form"), url
    )
    assert accepted.status_code == 200
    row = re.search(
        r'<tr data-sentence="closing" data-origin="polish".*?</tr>', accepted.text, re.S
    )
    assert row and closing in row.group(0)
    assert re.search(r'<tr data-version="2" data-kind="polish" data-origin="llm"', accepted.text)


def test_the_clinician_may_confirm_a_statement_as_their_own(
    sqlite_app: Flask, app_server: AppServer, sandbox: Sandbox, browser: requests.Session
) -> None:
    url = app_server.url
    drafted = draft_co50(sqlite_app, url, sandbox.url, browser)
    values = form_values(drafted.page, "edit-form")
    values["text-pasi"] = PASI_22
    edited = post(browser, f"{url}/appeals/{drafted.appeal_id}/edit", values, url)
    signing = form_values(edited.text, "sign-form")
    box = re.search(r'<input type="checkbox" name="confirm" value="([^"]+)"', edited.text)
    assert box and box.group(1).endswith("22")
    signing["confirm"] = unescape(box.group(1))
    # a clinician launched for another patient signs nothing of this one
    other = requests.Session()
    ad = ehr_launch(other, sandbox.url, "atopic-dermatitis-dupixent-patient")
    other_key = re.search(r"/evidence/([^/?#]+)", ad.url)
    assert other_key
    elsewhere = post(
        other,
        f"{url}/appeals/{drafted.appeal_id}/sign",
        {**signing, "key": other_key.group(1)},
        url,
    )
    assert elsewhere.status_code == 403 and 'data-kind="clinician-only"' in elsewhere.text

    signed = post(browser, f"{url}/appeals/{drafted.appeal_id}/sign", signing, url)
    assert signed.status_code == 200 and 'id="signed-status"' in signed.text
    assert "confirmed as the clinician" in signed.text
