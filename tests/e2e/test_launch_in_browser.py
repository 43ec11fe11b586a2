"""Click from the sandbox EHR's patient list through authorization to the evidence screen."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support.servers import AppServer, Sandbox

pytestmark = pytest.mark.browser


def test_ehr_launch_to_evidence_screen(page: Page, stack: tuple[AppServer, Sandbox]) -> None:
    app_server, sandbox = stack
    page.goto(f"{sandbox.url}/")
    page.click("#launch-psoriasis-skyrizi-patient")
    page.click("#allow")  # the EHR's consent screen
    expect(page).to_have_url(re.compile(rf"^{re.escape(app_server.url)}/evidence/"))

    expect(page.locator('[data-measure="PASI"]')).to_have_text("15.6")
    expect(page.locator("#measure-PASI svg.trend circle")).to_have_count(7)

    timeline = page.locator("#therapy-timeline")
    methotrexate = timeline.locator('[data-therapy="methotrexate 2.5 mg tablet"]')
    expect(methotrexate).to_contain_text("2025-05-20 to 2025-11-04, 24 weeks")
    expect(methotrexate).to_have_attribute("data-outcome", "inadequate response")
    expect(timeline.locator('[data-therapy="NB-UVB phototherapy"]')).to_contain_text("30 sessions")
    bar = methotrexate.locator(".bar")
    assert bar.bounding_box() is not None and bar.bounding_box()["width"] > 20  # type: ignore[index]

    expect(page.locator("#photos img")).to_have_count(3)
    first_photo = page.locator("#photos img").first
    assert page.evaluate("img => img.naturalWidth", first_photo.element_handle()) == 160

    page.locator("#measure-PASI a.src").first.click()
    expect(page.locator("#source h1")).to_have_text(
        "Observation/psoriasis-skyrizi-obs-pasi-7/_history/1"
    )
    expect(page.locator("#source-json")).to_contain_text('"resourceType": "Observation"')


def test_launch_inside_the_ehr_frame(page: Page, stack: tuple[AppServer, Sandbox]) -> None:
    """Epic shows apps in an iframe: the session cookie must work there."""
    _app_server, sandbox = stack
    page.goto(f"{sandbox.url}/")
    page.click("#frame-atopic-dermatitis-dupixent-patient")
    frame = page.frame_locator("iframe")
    frame.locator("#allow").click()
    expect(frame.locator('[data-measure="EASI"]')).to_be_visible()
    expect(frame.locator("#missing")).to_contain_text("Missing for a prior authorization")


def test_gaps_chart_shows_what_is_missing_and_who_owns_it(
    page: Page, stack: tuple[AppServer, Sandbox]
) -> None:
    _app_server, sandbox = stack
    page.goto(f"{sandbox.url}/")
    page.click("#launch-psoriasis-gaps-patient")
    page.click("#allow")
    missing = page.locator("#missing")
    expect(missing.locator('[data-missing="psoriasis/bsa-recent"]')).to_contain_text(
        "A note mentions BSA"
    )
    expect(missing.locator('[data-missing="psoriasis/bsa-recent"] .owner')).to_have_text(
        "clinician"
    )
    expect(missing.locator('[data-missing="coverage"] .owner')).to_have_text("front desk")
    expect(page.locator("#measure-BSA")).to_contain_text("Not recorded.")
