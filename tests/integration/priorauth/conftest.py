"""Fixtures the submission tests share: the PA references, the sandbox payer over real HTTP
(one per module), and the case and submission stores on the test's database (SQLite and
PostgreSQL, by `database_url`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from integration.priorauth.references import PaReferences, load_pa_references
from integration.store.database import make_engine, session_factory, upgrade
from integration.store.pa_cases import PaCaseStore
from integration.store.pa_submissions import PaSubmissionStore
from tests.support.servers import Sandbox, start_fixture_sandbox


@pytest.fixture(scope="module")
def refs() -> PaReferences:
    return load_pa_references()


@pytest.fixture(scope="module")
def payer() -> Iterator[Sandbox]:
    sandbox = start_fixture_sandbox(None)
    with sandbox.server:
        yield sandbox


@pytest.fixture
def stores(database_url: str) -> Iterator[tuple[PaCaseStore, PaSubmissionStore, Any]]:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    yield PaCaseStore(sessions), PaSubmissionStore(sessions), sessions
    engine.dispose()
