"""Resources an HL7 v2 feed wrote join the chart read over FHIR: the evidence screen and API
show a PASI that came by ORU, with a source link that opens the stored Observation."""

from __future__ import annotations

from datetime import UTC, datetime

import requests
from flask import Flask

from integration.hl7v2.ingest import Inbound, Ingest
from integration.mapping.hl7v2 import MappingOptions
from integration.mapping.hl7v2_transforms import load_feed_maps
from integration.paths import fixtures_dir
from integration.store.database import session_factory
from tests.support.servers import AppServer, Sandbox
from tests.support.smart_flow import ehr_launch

PATIENT = "psoriasis-gaps-patient"  # MRN SBX100203 in the sandbox's MRN system


def feed_scores(app: Flask, pid3: str) -> None:
    text = (fixtures_dir() / "hl7" / "oru-r01-severity-scores.hl7").read_text(encoding="utf-8")
    text = text.replace("MRN700412^^^SYNDERM^MR", pid3)
    ingest = Ingest(
        session_factory(app.extensions["dermrcm.engine"]), load_feed_maps(), MappingOptions()
    )
    reply = ingest.handle([Inbound(text.encode(), "127.0.0.1:1", datetime.now(UTC))])[0]
    assert [o.status for o in reply.outcomes] == ["processed"]


def test_a_pasi_sent_by_oru_shows_in_the_evidence_with_its_source(
    app: Flask, sandbox: Sandbox, app_server: AppServer, browser: requests.Session
) -> None:
    feed_scores(app, "SBX100203^^^SANDBOX^MR")
    page = ehr_launch(browser, sandbox.url, PATIENT)
    assert page.status_code == 200, page.text[:300]
    body = browser.get(f"{app_server.url}/api/evidence", timeout=30).json()
    from_feed = [m for m in body["measures"]["PASI"] if m["value"] == 14.2]
    assert len(from_feed) == 1 and from_feed[0]["date"] == "2025-03-04"
    source = from_feed[0]["source"]
    assert source.startswith("Observation/")
    key = page.url.rsplit("/", 1)[1]
    shown = browser.get(
        f"{app_server.url}/source/{key}/{source.split('/_history/')[0]}", timeout=30
    )
    assert shown.status_code == 200
    assert "urn:derm-rcm:hl7v2:message:" in shown.text  # the stored resource names its message


def test_a_feed_patient_with_another_identifier_does_not_join(
    app: Flask, sandbox: Sandbox, app_server: AppServer, browser: requests.Session
) -> None:
    feed_scores(app, "SBX999999^^^SANDBOX^MR")
    ehr_launch(browser, sandbox.url, PATIENT)
    body = browser.get(f"{app_server.url}/api/evidence", timeout=30).json()
    assert all(m["value"] != 14.2 for m in body["measures"].get("PASI", []))
