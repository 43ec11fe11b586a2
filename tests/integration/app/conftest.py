"""One app socket and one sandbox for the session; each test builds its own app and database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask

from tests.support.servers import AppServer, Sandbox, start_app_server, start_fixture_sandbox


@pytest.fixture(scope="session")
def app_server() -> Iterator[AppServer]:
    server = start_app_server()
    with server.server:
        yield server


@pytest.fixture(scope="session")
def sandbox(app_server: AppServer) -> Iterator[Sandbox]:
    started = start_fixture_sandbox(app_server.url)
    with started.server:
        yield started


@pytest.fixture
def app(app_server: AppServer, sandbox: Sandbox, database_url: str) -> Iterator[Flask]:
    """The app on SQLite and on PostgreSQL, trusting the sandbox."""
    with app_server.using(database_url, [sandbox.fhir]) as flask_app:
        yield flask_app


@pytest.fixture
def sqlite_app(app_server: AppServer, sandbox: Sandbox, tmp_path: Path) -> Iterator[Flask]:
    """The app on SQLite only, for tests about HTTP behaviour rather than storage."""
    with app_server.using(f"sqlite:///{tmp_path / 'app.db'}", [sandbox.fhir]) as flask_app:
        yield flask_app


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    """A cookie-keeping HTTP client, like a browser tab."""
    with requests.Session() as session:
        yield session
