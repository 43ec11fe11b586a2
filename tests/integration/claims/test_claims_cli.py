"""`dermrcm claims submit / poll / status` against the sandbox clearinghouse over HTTP, on SQLite
and PostgreSQL (synthetic claims from tests/unit/claims/scenarios.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from integration.claims.cli import claims_command
from integration.sandbox.clearinghouse import ClearinghouseSandbox, clearinghouse_of
from integration.x12.t837_005010x222a1 import claim_to_json
from tests.support.servers import start_fixture_sandbox
from tests.unit.claims import scenarios as s


@pytest.fixture(scope="module")
def clearinghouse_url() -> Iterator[tuple[str, ClearinghouseSandbox]]:
    apps: list[Flask] = []

    def keep(app: Flask) -> Any:
        apps.append(app)
        return app

    sandbox = start_fixture_sandbox(None, wrap=keep)
    try:
        yield f"{sandbox.url}/clearinghouse", clearinghouse_of(apps[0])
    finally:
        sandbox.server.shutdown()


def test_submit_poll_status(
    clearinghouse_url: tuple[str, ClearinghouseSandbox], database_url: str, tmp_path: Path
) -> None:
    url, state = clearinghouse_url
    state.reset()
    env = {"DERMRCM_DATABASE_URL": database_url, "DERMRCM_CLEARINGHOUSE_URL": url}
    claims = tmp_path / "claims.json"
    # as `dermrcm x12 parse` prints them (pretty, one document after another), and a plain one
    claims.write_text(
        json.dumps({"model": claim_to_json(s.transaction(s.PAID, 1))}, indent=2)
        + "\n"
        + json.dumps(claim_to_json(s.transaction(s.DENIED, 2)))
        + "\n"
    )
    runner = CliRunner()
    submitted = runner.invoke(claims_command, ["submit", str(claims)], env=env)
    assert submitted.exit_code == 0, submitted.output
    assert json.loads(submitted.output)["claims"] == ["DRCM-T-1001", "DRCM-T-1003"]

    polled = runner.invoke(claims_command, ["poll"], env=env)
    assert polled.exit_code == 0, polled.output
    assert [f["transaction_set"] for f in json.loads(polled.output)["files"]] == [
        "999",
        "277",
        "835",
    ]
    status = runner.invoke(claims_command, ["status", "--json"], env=env)
    assert status.exit_code == 0, status.output
    rows = {r["patient_control_number"]: r for r in json.loads(status.output)}
    assert (rows["DRCM-T-1001"]["status"], rows["DRCM-T-1001"]["paid"]) == ("paid", "290.00")
    assert (rows["DRCM-T-1003"]["status"], rows["DRCM-T-1003"]["835"]) == ("denied", "denied")
    table = runner.invoke(claims_command, ["status"], env=env)
    assert table.exit_code == 0 and table.output.splitlines()[0].split()[:3] == [
        "CLAIM",
        "STATUS",
        "FILE",
    ]
    # names and member ids never reach the output
    assert "TESTPATIENT" not in table.output + status.output + polled.output


def test_submit_without_a_clearinghouse_url_says_so(database_url: str, tmp_path: Path) -> None:
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps(claim_to_json(s.transaction(s.PAID))))
    result = CliRunner().invoke(
        claims_command,
        ["submit", str(claims)],
        env={"DERMRCM_DATABASE_URL": database_url, "DERMRCM_CLEARINGHOUSE_URL": ""},
    )
    assert result.exit_code == 1
    assert "DERMRCM_CLEARINGHOUSE_URL: expected" in result.output
