"""The `dermrcm` command as a user runs it: a real process, real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fixture_facts import fixture_charts
from tests.support.servers import Sandbox, start_fixture_sandbox

DERMRCM = [sys.executable, "-m", "integration.cli"]
ROOT = Path(__file__).resolve().parents[3]


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DERMRCM, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def open_sandbox() -> Iterator[Sandbox]:
    sandbox = start_fixture_sandbox(None, auth_enabled=False)
    with sandbox.server:
        yield sandbox


def test_evidence_command_prints_the_golden_evidence(open_sandbox: Sandbox) -> None:
    chart = next(c for c in fixture_charts() if c.name == "psoriasis-skyrizi")
    result = run(
        "evidence",
        "--fhir-base",
        open_sandbox.fhir,
        "--patient",
        chart.patient_id,
        "--as-of",
        "2026-11-15",
        "--stats",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(chart.golden.read_text())
    assert "round_trips=" in result.stderr


def test_evidence_command_errors_are_located_not_tracebacks() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run("evidence", "--fhir-base", f"http://127.0.0.1:{port}/fhir", "--patient", "x")
    assert result.returncode == 2
    assert (
        f"error: http://127.0.0.1:{port}/fhir/" in result.stderr
        and "could not connect" in result.stderr
    )
    assert "Traceback" not in result.stderr
    bad_date = run(
        "evidence",
        "--fhir-base",
        "http://127.0.0.1:1/fhir",
        "--patient",
        "x",
        "--as-of",
        "yesterday",
    )
    assert bad_date.returncode == 2 and "expected YYYY-MM-DD, got 'yesterday'" in bad_date.stderr


def test_evidence_command_with_a_token(open_sandbox: Sandbox) -> None:
    secured = start_fixture_sandbox(None)
    with secured.server:
        refused = run(
            "evidence",
            "--fhir-base",
            secured.fhir,
            "--patient",
            "psoriasis-skyrizi-patient",
            "--token",
            "expired-or-made-up",
        )
    assert refused.returncode == 2
    assert "token refused (401)" in refused.stderr


def test_mappings_check_and_db_upgrade(tmp_path: Path) -> None:
    checked = run("mappings", "check")
    assert checked.returncode == 0, checked.stderr
    assert "severity-map" in checked.stdout and "evidence-requirements" in checked.stdout
    broken = tmp_path / "mappings"
    (broken / "schemas").mkdir(parents=True)
    for schema in (ROOT / "mappings" / "schemas").glob("*.json"):
        (broken / "schemas" / schema.name).write_text(schema.read_text())
    (broken / "bad.yaml").write_text(
        "kind: screening-tests\nid: bad\nversion: 1\nsource: {title: a test}\ntests: []\n"
    )
    failed = run("mappings", "check", "--root", str(broken))
    assert failed.returncode == 1 and "tests: [] should be non-empty" in failed.stderr
    db = tmp_path / "x.db"
    upgraded = run("db", "upgrade", env={"DATABASE_URL": f"sqlite:///{db}"})
    assert upgraded.returncode == 0, upgraded.stderr
    assert db.exists() and "database at revision head" in upgraded.stdout
