"""Sending a signed case to the payer from the case screen, over real HTTP: the app posts to the
sandbox payer (NCPDP ePA for UnitedHealthcare Skyrizi), stores every message and shows the
payer's answer on the case; an unsigned case, or no payer endpoint, is refused with the reason."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from flask import Flask

from tests.integration.app.test_pa_screens import error_of, open_skyrizi_case
from tests.support.servers import AppServer, Sandbox


@pytest.fixture
def paying_app(app_server: AppServer, sandbox: Sandbox, database_url: str) -> Iterator[Flask]:
    """The app on SQLite and PostgreSQL, sending PA messages to the sandbox payer."""
    with app_server.using(
        database_url, [sandbox.fhir], payer_url=f"{sandbox.url}/payer"
    ) as flask_app:
        yield flask_app


def sign_case(browser: requests.Session, case_url: str) -> None:
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
    signed = browser.post(f"{case_url}/sign", data={"version": "1"}, timeout=30)
    assert signed.status_code == 200, signed.text[:500]


def test_a_signed_case_is_sent_and_the_answer_shown(
    paying_app: Flask, sandbox: Sandbox, app_server: AppServer, browser: requests.Session
) -> None:
    key, case_id, page = open_skyrizi_case(app_server, sandbox, browser)
    case_url = f"{app_server.url}/pa/case/{key}/{case_id}"
    assert 'id="sign-first"' in page.text and 'id="send"' not in page.text

    # unsigned: the send is refused with the reason, nothing is sent
    early = browser.post(f"{case_url}/submit", timeout=30)
    assert (early.status_code, error_of(early)) == (409, "not-now"), early.text[:300]
    assert "not signed" in early.text or "sign" in early.text
    assert 'data-direction="out"' not in browser.get(case_url, timeout=30).text

    sign_case(browser, case_url)
    page = browser.get(case_url, timeout=30)
    assert 'id="case-channel">ncpdp-epa<' in page.text
    assert re.search(r'id="send">Send signed version 1 by ncpdp-epa<', page.text)

    # the payer's question set asks what the chart doesn't record: nothing is sent, each
    # unanswered question becomes a task for its owner
    held = browser.post(f"{case_url}/submit", allow_redirects=False, timeout=60)
    assert (held.status_code, error_of(held)) == (409, "unanswered-questions"), held.text[-800:]
    assert "ps-pregnancy" in held.text
    page = browser.get(case_url, timeout=30)
    assert 'data-state="ready-for-review"' in page.text
    assert 'data-task="' in page.text

    sent = browser.post(
        f"{case_url}/submit",
        data={"allow_unanswered": "yes"},
        files=[("attach", ("pasi-worksheet.txt", b"PASI 15.6 on 2026-09-10", "text/plain"))],
        allow_redirects=False,
        timeout=60,
    )
    assert sent.status_code == 303, re.sub(r"\s+", " ", sent.text)[-1500:]
    assert sent.headers["Location"].endswith("#payer")
    page = browser.get(case_url, timeout=30)
    # the sandbox payer approves this Skyrizi request (its ePA question set is answered from
    # the chart): the case says so, with the authorization number and dates
    assert 'data-state="approved"' in page.text
    assert re.search(r'id="auth-number">SBXPA[0-9A-F]+<', page.text)
    assert re.search(r"from 20\d\d-\d\d-\d\d to 20\d\d-\d\d-\d\d", page.text)
    # the whole ePA exchange is on the case, outbound and inbound, in order
    kinds = re.findall(r'<tr data-kind="([A-Za-z]+)" data-direction="(\w+)">', page.text)
    assert kinds[:2] == [("PAInitiationRequest", "out"), ("PAInitiationResponse", "in")]
    assert kinds.count(("PARequest", "out")) == 1  # the held send stopped before PARequest
    # and the allowed send answered the payer's open case: no second initiation
    assert kinds.count(("PAInitiationRequest", "out")) == 1
    assert ("PARequest", "out") in kinds and ("PAResponse", "in") in kinds
    assert re.search(r"ready-for-review &rarr; submitted</td><td>[^<]*ncpdp-epa", page.text)
    assert "submitted &rarr; approved" in page.text
    assert 'id="send"' not in page.text  # nothing left to send


def test_without_a_payer_endpoint_the_screen_says_send_by_hand(
    app: Flask, sandbox: Sandbox, app_server: AppServer, browser: requests.Session
) -> None:
    key, case_id, _page = open_skyrizi_case(app_server, sandbox, browser)
    case_url = f"{app_server.url}/pa/case/{key}/{case_id}"
    sign_case(browser, case_url)
    page = browser.get(case_url, timeout=30)
    assert 'id="no-payer-endpoint"' in page.text and 'id="send"' not in page.text
    refused = browser.post(f"{case_url}/submit", timeout=30)
    assert (refused.status_code, error_of(refused)) == (409, "no-payer-endpoint")
    assert "No payer endpoint is configured" in refused.text


def test_a_cross_site_send_is_refused(
    paying_app: Flask, sandbox: Sandbox, app_server: AppServer, browser: requests.Session
) -> None:
    key, case_id, _page = open_skyrizi_case(app_server, sandbox, browser)
    case_url = f"{app_server.url}/pa/case/{key}/{case_id}"
    sign_case(browser, case_url)
    refused = browser.post(
        f"{case_url}/submit", headers={"Sec-Fetch-Site": "cross-site"}, timeout=30
    )
    assert (refused.status_code, error_of(refused)) == (403, "cross-site")
    assert 'data-direction="out"' not in browser.get(case_url, timeout=30).text
