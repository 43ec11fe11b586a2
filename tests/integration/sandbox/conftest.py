"""Fixtures: a sandbox over the synthetic chart (shared), and a factory for special configs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sandbox_testkit import (
    CLIENT_ID,
    LAUNCH_URL,
    OTHER_CLIENT_ID,
    OTHER_REDIRECT_URI,
    REDIRECT_URI,
    Sandbox,
    write_chart,
)

from integration.sandbox.config import SandboxClient, SandboxConfig, fhir_base
from integration.sandbox.server import RunningServer, start_sandbox

CLIENTS = (
    SandboxClient(CLIENT_ID, (REDIRECT_URI,), LAUNCH_URL),
    SandboxClient(OTHER_CLIENT_ID, (OTHER_REDIRECT_URI,)),
)


def _config(data_dir: Path, base_url: str, **overrides: Any) -> SandboxConfig:
    """Overrides that are callables get the bound base URL (e.g. for next_link_base)."""
    settings: dict[str, Any] = {"clients": CLIENTS}
    for name, value in overrides.items():
        settings[name] = value(base_url) if callable(value) else value
    return SandboxConfig(data_dir=data_dir, base_url=base_url, **settings)


@pytest.fixture(scope="session")
def chart_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_chart(tmp_path_factory.mktemp("chart"))


@pytest.fixture(scope="session")
def sandbox(chart_dir: Path) -> Iterator[Sandbox]:
    running, config = start_sandbox(lambda base: _config(chart_dir, base))
    with running:
        yield Sandbox(config.base_url, fhir_base(config))


@pytest.fixture
def start_sandbox_with(chart_dir: Path) -> Iterator[Callable[..., Sandbox]]:
    """Start another sandbox: `start_sandbox_with(data_dir=..., auto_approve=True, ...)`."""
    started: list[RunningServer] = []

    def start(data_dir: Path | None = None, **overrides: Any) -> Sandbox:
        running, config = start_sandbox(
            lambda base: _config(data_dir or chart_dir, base, **overrides)
        )
        started.append(running)
        return Sandbox(config.base_url, fhir_base(config))

    yield start
    for running in started:
        running.shutdown()


@pytest.fixture(scope="session")
def patient_token(sandbox: Sandbox) -> dict[str, Any]:
    """An EHR launch for PATIENT with patient/*.rs, openid fhirUser and offline_access."""
    return sandbox.token("launch patient/*.rs openid fhirUser offline_access")


@pytest.fixture(scope="session")
def user_token(sandbox: Sandbox) -> str:
    """A standalone launch without a patient, user/*.rs: sees every patient."""
    token: str = sandbox.token("user/*.rs", ehr_patient=None)["access_token"]
    return token
