"""An interface engineer in chromium: the HL7 inbox, the Errors tab, one message and its error."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from integration.mapping.hl7v2_transforms import load_feed_maps
from tests.integration.app.test_interfaces import BAD_DATE, FAMILY, STANDARD, put
from tests.support.servers import AppServer, start_app_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def inbox_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app on its own socket (loopback, no admin token) over an inbox with one of each outcome."""
    app_server = start_app_server()
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('e2e-interfaces')) / 'app.db'}"
    with app_server.server, app_server.using(url, []):
        put(url, load_feed_maps(), STANDARD)
        yield app_server


def test_errors_tab_to_a_message_and_its_located_error(page: Page, inbox_app: AppServer) -> None:
    page.goto(f"{inbox_app.url}/interfaces/hl7")
    expect(page.locator("h1")).to_have_text("HL7 v2 inbox")
    expect(page.locator("#count-received")).to_have_text("5")
    expect(page.locator("#count-errors")).to_have_text("1")
    expect(page.locator("#messages tbody tr")).to_have_count(5)
    expect(page.locator("main")).not_to_contain_text(FAMILY)

    page.click("#tab-error")
    expect(page).to_have_url(re.compile(r"/interfaces/hl7\?status=error$"))
    expect(page.locator("#tab-error")).to_have_attribute("aria-current", "page")
    rows = page.locator("#messages tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-status", "error")
    expect(rows.first.locator(".located")).to_contain_text(BAD_DATE)

    rows.first.locator("a.message-link").click()
    expect(page).to_have_url(re.compile(r"/interfaces/hl7/4$"))
    expect(page.locator("#located-error")).to_contain_text(BAD_DATE)
    expect(page.locator("#located-error")).to_contain_text("got '2026-13'")
    expect(page.locator('#structure tr[data-segment="3"]')).to_have_class("at-error")
    expect(page.locator("main")).not_to_contain_text(FAMILY)

    page.click("#show-content")
    expect(page.locator("#raw-content")).to_contain_text("PID|1||MRN-CTRL-3")
    expect(page.locator("#raw-content")).to_contain_text(FAMILY)
