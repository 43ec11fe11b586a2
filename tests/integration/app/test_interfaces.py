"""The interface engineer's screens over real HTTP: counts, errors, dead letters, and who may look.

Messages are put in the store by the ingest pipeline itself (no socket), then read back
through /interfaces/hl7, /interfaces/hl7/<id> and /interfaces/hl7.json.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from flask import Flask

from integration.hl7v2.ingest import Inbound, Ingest
from integration.mapping.hl7v2 import Hl7Maps
from integration.mapping.hl7v2_transforms import load_feed_maps
from integration.store.database import make_engine, session_factory
from tests.integration.app.test_launch import error_kind
from tests.support.servers import AppServer

#: a synthetic patient: the name must never show on a page unless the content was asked for
FAMILY = "Quillonova"
GIVEN = "Zephyrine"
TOKEN = "interfaces-test-token-7f3a9c"
PEER = "10.20.30.40:51234"
UNSUPPORTED = "MSH-9 (segment 1): expected a supported message type"
BAD_DATE = "PID-7 (segment 3): expected a date"


def adt(
    control_id: str,
    *,
    message_type: str = "ADT^A04^ADT_A01",
    birth_date: str = "19800101",
    family: str = FAMILY,
) -> bytes:
    """A small synthetic registration (or, with another type, something we don't take)."""
    return (
        f"MSH|^~\\&|EPIC|DERMCLINIC|DERMRCM|DERM|20260102030405||{message_type}|{control_id}|P|2.5.1\r"
        f"EVN|A04|20260102030405\r"
        f"PID|1||MRN-{control_id}^^^DERMCLINIC^MR||{family}^{GIVEN}||{birth_date}|F\r"
        f"PV1|1|O\r"
    ).encode()


#: one of each outcome: processed, duplicate, rejected (a local Z type no map takes),
#: error (PID-7), rejected (not HL7)
STANDARD = (
    adt("CTRL-1"),
    adt("CTRL-1"),
    adt("CTRL-2", message_type="ZDR^Z01^ZDR_Z01"),
    adt("CTRL-3", birth_date="2026-13"),
    b"this is not an HL7 message",
)


@pytest.fixture(scope="module")
def maps() -> Hl7Maps:
    return load_feed_maps()


def put(database_url: str, maps: Hl7Maps, payloads: Sequence[bytes]) -> None:
    """Store and process `payloads` the way the MLLP listener does, one group commit."""
    engine = make_engine(database_url)
    try:
        now = datetime.now(UTC)
        Ingest(session_factory(engine), maps).handle([Inbound(p, PEER, now) for p in payloads])
    finally:
        engine.dispose()


@pytest.fixture
def inbox(app_server: AppServer, database_url: str, maps: Hl7Maps) -> Iterator[Flask]:
    """The app (SQLite and PostgreSQL) over an inbox holding STANDARD; no admin token."""
    with app_server.using(database_url, []) as app:
        put(database_url, maps, STANDARD)
        yield app


@pytest.fixture
def sqlite_inbox(app_server: AppServer, tmp_path: Path, maps: Hl7Maps) -> Iterator[str]:
    """The database URL of an app on SQLite over STANDARD; no admin token."""
    url = f"sqlite:///{tmp_path / 'inbox.db'}"
    with app_server.using(url, []):
        put(url, maps, STANDARD)
        yield url


@pytest.fixture
def guarded(app_server: AppServer, tmp_path: Path, maps: Hl7Maps) -> Iterator[Flask]:
    """The app with an admin token set, over STANDARD."""
    url = f"sqlite:///{tmp_path / 'guarded.db'}"
    with app_server.using(url, [], admin_token=TOKEN) as app:
        put(url, maps, STANDARD)
        yield app


def counts(page: requests.Response) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'id="count-(\w+)" data-count="(\d+)"', page.text)}


def rows(page: requests.Response) -> list[tuple[int, str]]:
    """(id, status) of each message row on a list page."""
    return [
        (int(i), s) for i, s in re.findall(r'<tr data-id="(\d+)" data-status="(\w+)">', page.text)
    ]


def test_counts_and_rows(inbox: Flask, app_server: AppServer) -> None:
    page = requests.get(f"{app_server.url}/interfaces/hl7", timeout=10)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert counts(page) == {
        "received": 5,
        "processed": 1,
        "duplicates": 1,
        "errors": 1,
        "rejected": 2,
        "pending": 0,
    }
    assert rows(page) == [
        (5, "rejected"),
        (4, "error"),
        (3, "rejected"),
        (2, "duplicate"),
        (1, "processed"),
    ]
    assert "CTRL-3" in page.text and "EPIC|DERMCLINIC" in page.text and PEER in page.text
    assert '<th scope="col">Control id (MSH-10)</th>' in page.text

    data = requests.get(f"{app_server.url}/interfaces/hl7.json", timeout=10).json()
    assert data["counts"] == {
        "received": 5,
        "processed": 1,
        "duplicates": 1,
        "errors": 1,
        "rejected": 2,
        "pending": 0,
        "applied": 1,
    }
    assert [m["status"] for m in data["messages"]] == [s for _i, s in rows(page)]
    error = data["messages"][1]
    assert error["control_id"] == "CTRL-3"
    assert error["message_type"] == "ADT^A04"
    assert error["version"] == "2.5.1"
    assert error["peer"] == PEER
    assert error["sender"] == "EPIC|DERMCLINIC"
    assert (error["ack_code"], error["error_code"], error["error_name"]) == (
        "AE",
        "102",
        "Data type error",
    )
    assert error["error"].startswith(BAD_DATE)
    assert error["attempts"] == 1
    assert error["size"] == len(STANDARD[3])
    assert error["url"] == "/interfaces/hl7/4"
    assert datetime.fromisoformat(error["received_at"]).tzinfo is not None
    assert data["next_before_id"] is None


def test_rejected_message_shows_its_located_error(sqlite_inbox: str, app_server: AppServer) -> None:
    listing = requests.get(f"{app_server.url}/interfaces/hl7?status=rejected", timeout=10)
    assert rows(listing) == [(5, "rejected"), (3, "rejected")]
    assert f"{UNSUPPORTED} (ADT^A01, ADT^A03, ADT^A04" in listing.text
    assert "got &#39;ZDR^Z01&#39;" in listing.text
    assert 'aria-current="page">Rejected (dead letters)' in listing.text

    page = requests.get(f"{app_server.url}/interfaces/hl7/3", timeout=10)
    assert page.status_code == 200
    located = re.search(r'<p class="located" id="located-error">([^<]*)</p>', page.text)
    assert located is not None
    assert located.group(1).startswith(UNSUPPORTED)
    assert "got &#39;ZDR^Z01&#39;" in located.group(1)
    assert "Unsupported message type" in page.text
    # the structure: segment ids and field counts, the segment in error marked
    structure = re.findall(
        r'<tr data-segment="(\d+)"( class="at-error")?>\s*<td class="num">\d+</td>\s*'
        r'<th scope="row" class="mono">(\w{3})',
        page.text,
    )
    assert [(int(i), bool(mark), seg) for i, mark, seg in structure] == [
        (1, True, "MSH"),
        (2, False, "EVN"),
        (3, False, "PID"),
        (4, False, "PV1"),
    ]
    assert re.search(r'data-segment="3">.*?<td class="num">8</td>', page.text, re.S)

    garbage = requests.get(f"{app_server.url}/interfaces/hl7/5", timeout=10)
    assert "segment 1: expected the message to start with MSH" in garbage.text
    assert 'id="structure-error"' in garbage.text


def test_patient_data_only_behind_show_content(
    sqlite_inbox: str, app_server: AppServer, caplog: pytest.LogCaptureFixture
) -> None:
    base = f"{app_server.url}/interfaces"
    with caplog.at_level(logging.INFO, logger="smart_app"):
        for path in ("/hl7", "/hl7?status=error", "/hl7.json", "/hl7/1", "/hl7/4"):
            page = requests.get(base + path, timeout=10)
            assert page.status_code == 200, path
            assert FAMILY not in page.text and GIVEN not in page.text, path
            assert "MRN-CTRL" not in page.text, path
        assert not [r for r in caplog.records if "content shown" in r.getMessage()]

        hidden = requests.get(f"{base}/hl7/1", timeout=10)
        assert 'id="show-content"' in hidden.text
        shown = requests.get(f"{base}/hl7/1", params={"content": "1"}, timeout=10)
    assert shown.status_code == 200
    assert shown.headers["Cache-Control"] == "no-store"
    assert f"PID|1||MRN-CTRL-1^^^DERMCLINIC^MR||{FAMILY}^{GIVEN}||19800101|F" in shown.text
    logged = [r.getMessage() for r in caplog.records if "content shown" in r.getMessage()]
    assert logged == ["hl7 message content shown message_id=1 requester=127.0.0.1 via=loopback"]
    assert not [r for r in caplog.records if FAMILY in r.getMessage()]


def test_tabs_and_paging(sqlite_inbox: str, app_server: AppServer) -> None:
    base = f"{app_server.url}/interfaces"
    errors = requests.get(f"{base}/hl7", params={"status": "error"}, timeout=10)
    assert rows(errors) == [(4, "error")]
    assert BAD_DATE in errors.text
    duplicates = requests.get(f"{base}/hl7", params={"status": "duplicate"}, timeout=10)
    assert rows(duplicates) == [(2, "duplicate")]

    first = requests.get(f"{base}/hl7", params={"limit": "2"}, timeout=10)
    assert rows(first) == [(5, "rejected"), (4, "error")]
    older = re.search(r'id="page-older" href="([^"]+)"', first.text)
    assert older is not None
    second = requests.get(app_server.url + older.group(1).replace("&amp;", "&"), timeout=10)
    assert rows(second) == [(3, "rejected"), (2, "duplicate")]
    assert counts(second)["received"] == 5  # counts are over the whole inbox

    page = requests.get(f"{base}/hl7.json", params={"limit": "2", "before_id": "3"}, timeout=10)
    data = page.json()
    assert [m["id"] for m in data["messages"]] == [2, 1]
    assert data["next_before_id"] is None
    rejected = requests.get(
        f"{base}/hl7.json", params={"status": "rejected", "limit": "1"}, timeout=10
    ).json()
    assert ([m["id"] for m in rejected["messages"]], rejected["next_before_id"]) == ([5], 5)


def test_bad_requests_are_explained(sqlite_inbox: str, app_server: AppServer) -> None:
    base = f"{app_server.url}/interfaces"
    bad = requests.get(f"{base}/hl7.json", params={"status": "bogus"}, timeout=10)
    assert bad.status_code == 400
    assert bad.json()["code"] == "bad-request"
    assert "status: expected one of all, received, processed" in bad.json()["description"]
    page = requests.get(f"{base}/hl7", params={"before_id": "x1"}, timeout=10)
    assert (page.status_code, error_kind(page)) == (400, "bad-request")
    missing = requests.get(f"{base}/hl7/999", timeout=10)
    assert (missing.status_code, error_kind(missing)) == (404, "not-found")
    assert "no HL7 message 999" in missing.text


def test_token_is_required_when_set(
    guarded: Flask, app_server: AppServer, caplog: pytest.LogCaptureFixture
) -> None:
    base = f"{app_server.url}/interfaces"
    with caplog.at_level(logging.DEBUG):
        # loopback is not enough once a token is set
        page = requests.get(f"{base}/hl7", timeout=10)
        assert (page.status_code, error_kind(page)) == (403, "forbidden")
        assert "DERMRCM_ADMIN_TOKEN" in page.text
        assert 'id="interfaces-login"' in page.text
        assert "CTRL-" not in page.text
        refused = requests.get(f"{base}/hl7.json", timeout=10)
        assert refused.status_code == 403
        assert refused.json()["code"] == "forbidden"
        assert "Authorization: Bearer" in refused.json()["description"]
        for path in ("/hl7/1", "/hl7/1?content=1"):
            assert requests.get(base + path, timeout=10).status_code == 403
        wrong = {"Authorization": "Bearer not-the-token"}
        assert requests.get(f"{base}/hl7.json", headers=wrong, timeout=10).status_code == 403

        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert (
            requests.get(f"{base}/hl7.json", headers=bearer, timeout=10).json()["counts"][
                "received"
            ]
            == 5
        )
        basic = requests.get(f"{base}/hl7", auth=("engineer", TOKEN), timeout=10)
        assert basic.status_code == 200 and counts(basic)["rejected"] == 2
        shown = requests.get(f"{base}/hl7/1?content=1", headers=bearer, timeout=10)
        assert FAMILY in shown.text

        # the small sign-in form: a cookie for these screens only
        with requests.Session() as browser:
            no = browser.post(f"{base}/login", data={"token": "guess"}, allow_redirects=False)
            assert (no.status_code, error_kind(no)) == (403, "forbidden")
            cross_site = browser.post(
                f"{base}/login",
                data={"token": TOKEN},
                headers={"Origin": "https://evil.example"},
                allow_redirects=False,
            )
            assert cross_site.status_code == 403 and "dermrcm_interfaces" not in browser.cookies
            yes = browser.post(
                f"{base}/login",
                data={"token": TOKEN, "next": "/interfaces/hl7?status=error"},
                headers={"Origin": app_server.url},
                allow_redirects=False,
            )
            assert yes.status_code == 303
            assert yes.headers["Location"] == "/interfaces/hl7?status=error"
            cookie = yes.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            assert "Path=/interfaces" in cookie and TOKEN not in cookie
            page = browser.get(f"{base}/hl7?status=error", timeout=10)
            assert page.status_code == 200 and rows(page) == [(4, "error")]
            assert 'id="interfaces-sign-out"' in page.text
            browser.post(f"{base}/logout", headers={"Origin": app_server.url}, timeout=10)
            assert browser.get(f"{base}/hl7", timeout=10).status_code == 403
            evil = browser.post(
                f"{base}/login",
                data={"token": TOKEN, "next": "//evil.example/"},
                allow_redirects=False,
            )
            assert evil.headers["Location"] == "/interfaces/hl7"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "interfaces access refused" in logged
    assert TOKEN not in logged
    assert base64.b64encode(f"engineer:{TOKEN}".encode()).decode() not in logged


def test_only_loopback_without_a_token(sqlite_inbox: str, app_server: AppServer) -> None:
    base = f"{app_server.url}/interfaces"
    assert requests.get(f"{base}/hl7", timeout=10).status_code == 200
    # a request relayed by a proxy on this machine comes from loopback but is not local
    proxied = requests.get(
        f"{base}/hl7.json", headers={"X-Forwarded-For": "198.51.100.7"}, timeout=10
    )
    assert proxied.status_code == 403
    assert proxied.json()["code"] == "forbidden"
    assert "loopback" in proxied.json()["description"]
    page = requests.get(f"{base}/hl7", headers={"Forwarded": "for=198.51.100.7"}, timeout=10)
    assert (page.status_code, error_kind(page)) == (403, "forbidden")
    assert 'id="interfaces-login"' not in page.text  # no token to sign in with
    # a token presented while none is configured opens nothing either
    bearer = {"Authorization": "Bearer anything", "X-Real-IP": "198.51.100.7"}
    assert requests.get(f"{base}/hl7", headers=bearer, timeout=10).status_code == 403


def test_remote_address_not_on_loopback_is_refused(
    app_server: AppServer, sqlite_inbox: str
) -> None:
    """The server socket listens on loopback only, so the far address is set in the WSGI environ."""
    app = app_server.holder.app
    assert app is not None
    client = app.test_client()
    for remote in ("203.0.113.9", "10.0.0.8", "::ffff:192.0.2.1", "fe80::1"):
        answer = client.get("/interfaces/hl7.json", environ_base={"REMOTE_ADDR": remote})
        assert answer.status_code == 403, remote
        assert answer.json is not None and answer.json["code"] == "forbidden"
    for local in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"):
        answer = client.get("/interfaces/hl7.json", environ_base={"REMOTE_ADDR": local})
        assert answer.status_code == 200, local
