"""In the browser: from the evidence screen to the PA checklist, open a case, write the medical
necessity statement, attest, sign, and download the packet PDF of the signed version.

Fixture: psoriasis-skyrizi (fixtures/patients/psoriasis-skyrizi.json), UnitedHealthcare's
Skyrizi rule (mappings/payers/unitedhealthcare/skyrizi-plaque-psoriasis.yaml)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from tests.support.servers import AppServer, Sandbox

pytestmark = pytest.mark.browser

ORDER = "MedicationRequest/psoriasis-skyrizi-medreq-skyrizi"
NARRATIVE = "Risankizumab is medically necessary: PASI 15.6 after 24 weeks of methotrexate."


def test_review_sign_and_download_the_packet(
    page: Page, stack: tuple[AppServer, Sandbox], tmp_path: Path
) -> None:
    app_server, sandbox = stack
    page.goto(f"{sandbox.url}/")
    page.click("#launch-psoriasis-skyrizi-patient")
    page.click("#allow")
    expect(page).to_have_url(re.compile(rf"^{re.escape(app_server.url)}/evidence/"))

    page.click("#pa-link")
    order = page.locator(f'[data-order="{ORDER}"]')
    expect(order.locator("[data-pa-required]")).to_have_text("PA required: yes")
    severity = order.locator('tr[data-criterion="severity"]')
    expect(severity).to_have_attribute("data-status", "missing")
    expect(severity.locator(".owner")).to_have_text("clinician")
    expect(order.locator(".pa-citation")).to_contain_text("Source:")

    page.click(f"#open-{ORDER.replace('/', '-')}")
    expect(page.locator("#case-state")).to_have_text("draft")

    page.fill("#narrative", NARRATIVE)
    attest = page.locator("#attest-severity")
    if attest.count():
        attest.check()
        page.fill("#note-severity", "PASI 15.6 on 2026-09-10")
    page.click("#save-review")
    expect(page.locator('#versions tr[data-version="1"]')).to_have_attribute("data-signed", "no")
    if attest.count():
        expect(page.locator('#checklist tr[data-criterion="severity"]')).to_have_attribute(
            "data-status", "met"
        )

    page.click("#sign")
    status = page.locator("#signed-status")
    expect(status).to_contain_text("Signed by Practitioner/")
    expect(status).to_contain_text("version 1")
    signer = page.locator("#signed-status .pa-signer").inner_text()
    expect(page.locator('#versions tr[data-version="1"]')).to_contain_text(f"signed by {signer}")
    expect(page.locator("#case-state")).to_have_text("ready-for-review")

    with page.expect_download() as download:
        page.click("#packet-v1")
    saved = tmp_path / "packet.pdf"
    download.value.save_as(saved)
    reader = PdfReader(io.BytesIO(saved.read_bytes()))
    text = re.sub(r"\s+", "", "".join(p.extract_text() or "" for p in reader.pages))
    assert re.sub(r"\s+", "", NARRATIVE) in text
    assert re.sub(r"\s+", "", f"Signed electronically by {signer}") in text
