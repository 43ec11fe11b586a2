"""In the browser, from a denied 835 line to a signed appeal and its outcome: the biller opens the
worklist, filters it, opens the CO-50 denial and drafts the appeal (derm-rcm reads the chart as
its backend service); each sentence shows its source; an edit to "PASI 22" is refused at the
signature with the sentence and the number; once fixed, the clinician, launched from the chart,
signs; the biller records the decision and sees the dashboard.

Fixtures: fixtures/x12/835-denials.x12 and the claims it pays (DRM-2001: risankizumab for
Patient/psoriasis-skyrizi-patient, denied CO-50), the sandbox chart of psoriasis-skyrizi (PASI
15.6 on 2026-09-10)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from integration.fhir.backend_auth import load_or_create_key, public_jwks
from integration.sandbox.config import BackendClient
from tests.integration.app.test_denials_views import PASI_22, post_fixture_835
from tests.support.servers import AppServer, Sandbox, start_app_server, start_fixture_sandbox

pytestmark = pytest.mark.browser

BACKEND = "derm-rcm-backend-e2e"


@pytest.fixture(scope="module")
def billing_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[AppServer, Sandbox]]:
    """The app (loopback: billing screens open, no admin token) reading charts from the sandbox
    as a registered backend service, with the fixture 835 posted."""
    folder = Path(tmp_path_factory.mktemp("e2e-appeals"))
    key_file = folder / "backend_key.pem"
    key = load_or_create_key(key_file)
    app_server = start_app_server()
    sandbox = start_fixture_sandbox(
        app_server.url, backend_clients=(BackendClient(BACKEND, public_jwks(key)),)
    )
    with (
        app_server.server,
        sandbox.server,
        app_server.using(
            f"sqlite:///{folder / 'app.db'}",
            [sandbox.fhir],
            chart_fhir_base=sandbox.fhir,
            backend_client_id=BACKEND,
            backend_key_file=key_file,
        ) as app,
    ):
        post_fixture_835(app)
        yield app_server, sandbox


def test_from_the_worklist_to_a_signed_appeal_and_its_outcome(
    page: Page, billing_stack: tuple[AppServer, Sandbox], tmp_path: Path
) -> None:
    app_server, sandbox = billing_stack
    app = app_server.url

    # the biller's worklist, filtered to medical necessity
    page.goto(f"{app}/denials")
    expect(page.locator("#denials tbody tr")).to_have_count(6)
    page.select_option("#filter-category", "medical-necessity")
    page.click("#apply-filters")
    rows = page.locator("#denials tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-reason", "CO-50")
    expect(rows.first.locator(".dn-amount")).to_have_text("$4,500.00")

    rows.first.locator("a[id^=open-denial-]").click()
    expect(page.locator("#denial-category")).to_have_text("medical-necessity")
    expect(page.locator("#next-step strong")).to_have_text("appeal")
    expect(page.locator("#denial-deadline")).to_contain_text("unknown")
    expect(page.locator("#denial-origin")).to_contain_text("CAS CO-50")

    # draft: the chart is read, each sentence shows its source beside it
    page.click("#draft-appeal")
    expect(page).to_have_url(re.compile(rf"^{re.escape(app)}/appeals/[0-9a-f-]{{36}}"))
    appeal_url = page.url.split("#")[0]
    appeal_id = appeal_url.rsplit("/", 1)[1]
    expect(page.locator("#appeal")).to_have_attribute("data-status", "draft")
    pasi = page.locator('tr[data-sentence="pasi"]')
    expect(pasi.locator(".dn-source-fhir")).to_contain_text(["PASI 15.6 on 2026-09-10"])
    expect(page.locator('tr[data-sentence="re-claim"] .dn-source-x12')).to_contain_text("835")
    expect(page.locator("#check")).to_have_attribute("data-ok", "yes")
    expect(page.locator("#sign-from-chart")).to_be_visible()  # billing staff don't sign

    # an unsupported number slips into the letter
    page.fill("#text-pasi", PASI_22)
    page.click("#save-edit")
    expect(page.locator("#appeal")).to_have_attribute("data-version", "2")
    expect(page.locator("#check")).to_have_attribute("data-ok", "no")
    expect(pasi).to_have_attribute("data-origin", "clinician")

    # the clinician launches from the chart and opens the appeal awaiting signature
    page.goto(f"{sandbox.url}/")
    page.click("#launch-psoriasis-skyrizi-patient")
    page.click("#allow")
    expect(page).to_have_url(re.compile(rf"^{re.escape(app)}/evidence/"))
    key = page.url.rstrip("/").rsplit("/", 1)[1]
    page.goto(f"{app}/launch/{key}/appeals")
    expect(page.locator(f'tr[data-appeal="{appeal_id}"] .dn-awaiting')).to_have_text(
        "awaiting signature"
    )
    page.click(f"#review-{appeal_id}")
    expect(page.locator("#signer")).to_contain_text("Practitioner/")
    # with the launch, a chart source opens the resource through it
    expect(page.locator('tr[data-sentence="pasi"] .dn-source-fhir a').first).to_have_attribute(
        "href", re.compile(rf"/source/{re.escape(key)}/Observation/")
    )

    page.click("#sign")
    refused = page.locator("#sign-refused")
    expect(refused).to_be_visible()
    expect(refused.locator('li[data-sentence="pasi"]')).to_contain_text("“22”")
    expect(page.locator("#message")).to_contain_text("Not signed")
    expect(page.locator("#appeal")).to_have_attribute("data-status", "draft")

    page.fill("#text-pasi", PASI_22.replace("22", "15.6"))
    page.click("#save-edit")
    expect(page.locator("#check")).to_have_attribute("data-ok", "yes")
    page.click("#sign")
    expect(page.locator("#signed-status")).to_contain_text("Signed by Practitioner/")
    expect(page.locator("#appeal")).to_have_attribute("data-status", "signed")
    expect(page.locator('#versions tr[data-kind="sign"]')).to_have_attribute(
        "data-origin", "person"
    )
    expect(page.locator('#versions tr[data-kind="draft"]')).to_have_attribute(
        "data-origin", "system"
    )

    # the biller makes the PDF for the fax, sends it and records the payer's decision
    page.goto(appeal_url)
    page.click("#make-package")
    link = page.locator("#documents a").first
    expect(link).to_contain_text("version 4")
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "appeal.pdf"
    download.value.save_as(saved)
    reader = PdfReader(io.BytesIO(saved.read_bytes()))
    text = re.sub(r"\s+", "", "".join(p.extract_text() or "" for p in reader.pages))
    assert re.sub(r"\s+", "", PASI_22.replace("22", "15.6")) in text
    page.select_option("#channel", "fax")
    page.click("#record-sent")
    expect(page.locator("#sent")).to_contain_text("fax")
    page.select_option("#result", "overturned")
    page.fill("#recovered", "4500.00")
    page.fill("#decided-on", date.today().isoformat())
    page.click("#record-outcome")
    expect(page.locator("#outcome-result")).to_have_attribute("data-outcome", "overturned")

    page.click("#nav-dashboard")
    expect(page.locator("#fig-overturn-rate dd").first).to_have_text("100.0%")
    expect(page.locator("#fig-recovered dd").first).to_have_text("$4,500.00")
    expect(page.locator("#fig-drafting")).to_contain_text("1 signed")
    for chart in ("chart-payer", "chart-category", "chart-deadlines", "chart-outcomes"):
        expect(page.locator(f"#{chart} svg")).to_be_visible()
    expect(page.locator('#chart-category g[data-label="medical-necessity"]')).to_have_count(1)
