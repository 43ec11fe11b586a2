"""Debian's chromium driven by Playwright (never a downloaded browser), against real servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.servers import AppServer, Sandbox, start_app_server, start_fixture_sandbox

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def chromium(chromium_path: str) -> Iterator[Browser]:
    # Per module, not per session: Playwright's sync API keeps an event loop running in the
    # main thread while it is open, and later tests call asyncio.run (the MLLP server's).
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, Sandbox]]:
    app_server = start_app_server()
    sandbox = start_fixture_sandbox(app_server.url)
    db = Path(tmp_path_factory.mktemp("e2e")) / "app.db"
    with app_server.server, sandbox.server, app_server.using(f"sqlite:///{db}", [sandbox.fhir]):
        yield app_server, sandbox


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
