"""A coder in chromium: paste a claim, read the findings with their sources, see the corrected
lines beside the billed ones, reject one fix and copy the final claim.

The app scrubs with the test rule family of tests/unit/test_scrub_cli.py, so what the page must
show is known whatever the real rule families find."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.servers import AppServer, start_app_server
from tests.unit.test_scrub_cli import one_finding_scrubber
from tests.unit.test_scrub_request_schema import MINIMAL

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def coding_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app on its own socket (loopback, no admin token) with the test rules."""
    app_server = start_app_server()
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('e2e-coding')) / 'app.db'}"
    with app_server.server, app_server.using(url, []) as app:
        app.extensions["dermrcm.scrubber"] = one_finding_scrubber()
        yield app_server


def _claim() -> str:
    data = copy.deepcopy(MINIMAL)
    data["facts"]["lines"]["1"]["cosmetic_request"] = True
    return json.dumps(data, indent=2)


def test_a_coder_reviews_findings_and_rejects_a_fix(page: Page, coding_app: AppServer) -> None:
    page.goto(f"{coding_app.url}/coding/scrub")
    expect(page.locator("h1")).to_have_text("Claim scrubber")
    page.fill("#claim", _claim())
    page.click("#scrub")

    expect(page.locator("#claim-id")).to_have_text("SCHEMA-01")
    findings = page.locator("tr.finding")
    expect(findings).to_have_count(2)
    units = page.locator('tr.finding[data-rule="testfam.addon-units"]')
    expect(units.locator(".sev")).to_have_text("error")
    expect(units.locator(".message")).to_have_text(
        "Line 2: 11103 x 2 billed; the test rule allows x 1"
    )
    expect(units.locator(".lines")).to_have_text("2")
    expect(units.locator("a.src")).to_have_attribute("href", "https://example.org/test-rules")
    expect(units.locator(".fix-text")).to_have_text("Line 2: 11103 units changed from 2 to 1")

    # as billed beside corrected: 11102 went to self-pay, 11103 x2 became x1
    expect(page.locator("#original-lines tbody tr .code")).to_have_text(["11102", "11103"])
    expect(page.locator("#original-lines tbody tr .units")).to_have_text(["1", "2"])
    expect(page.locator("#corrected-lines tbody tr .code")).to_have_text(["11103"])
    expect(page.locator("#corrected-lines tbody tr .units")).to_have_text(["1"])
    expect(page.locator("#self-pay")).to_contain_text("11102")

    # reject the units fix (accept the self-pay move, the default) and apply
    units.locator('input[value="reject"]').check()
    page.click("#apply")
    expect(page.locator("#final")).to_be_visible()
    expect(page.locator("#decisions li.decision-rejected")).to_contain_text("testfam.addon-units")
    expect(page.locator("#decisions li.decision-accepted")).to_contain_text("testfam.cosmetic")
    expect(page.locator("#final-lines tbody tr .code")).to_have_text(["11103"])
    expect(page.locator("#final-lines tbody tr .units")).to_have_text(["2"])
    final = json.loads(page.locator("#final-json").input_value())
    assert [(s["procedure"]["code"], s["quantity"]) for s in final["services"]] == [("11103", "2")]
    # the decision is kept on the page: the reject button is still chosen
    expect(units.locator('input[value="reject"]')).to_be_checked()


def test_a_bad_claim_is_named_on_the_page(page: Page, coding_app: AppServer) -> None:
    page.goto(f"{coding_app.url}/coding/scrub")
    pasted = json.dumps({**MINIMAL, "payer": []})
    page.fill("#claim", pasted)
    page.click("#scrub")
    expect(page.locator("#scrub-error")).to_have_text("$.payer: expected an object, got list")
    expect(page.locator("#claim")).to_have_value(pasted)  # kept for the coder to correct
    expect(page.locator("tr.finding")).to_have_count(0)
