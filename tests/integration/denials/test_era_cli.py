"""`dermrcm era post FILE` (the click group `era_command`, wired into `dermrcm` by
integration/cli.py): a JSON summary per payment, "duplicate": true the second time, and a
malformed file exits 1 with located messages and no traceback, posting nothing."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from integration.denials.cli import era_command
from integration.x12.t835_005010x221a1 import write_835
from tests.unit.denials.era_scenarios import PAYER_PARAMS, clock, control_numbers, remittance


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return {"DERMRCM_DATABASE_URL": database_url, "DATABASE_URL": database_url}


def test_post_twice_reports_duplicate(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "era.835"
    path.write_text(write_835(remittance(), PAYER_PARAMS, clock, control_numbers()))
    runner = CliRunner()
    first = runner.invoke(era_command, ["post", str(path), "--compact"], env=env)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["status"] == "posted"
    (payment,) = summary["payments"]
    assert (payment["trace_number"], payment["amount"], payment["duplicate"]) == (
        "EFT0000001",
        "201.50",
        False,
    )
    assert payment["claims"] == {"posted": 2, "matched": 0, "unmatched": 2, "reversals": 0}
    assert payment["adjustments_by_group"] == {"CO": "1000.00", "PR": "50.00"}
    second = runner.invoke(era_command, ["post", str(path), "--compact"], env=env)
    assert second.exit_code == 0, second.output
    again = json.loads(second.stdout)
    assert again["status"] == "duplicate"
    assert again["payments"][0]["duplicate"] is True


def test_malformed_file_exits_1_with_located_messages(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "bad.835"
    path.write_text("ISA*00*short~ST*835*1~")
    result = CliRunner().invoke(era_command, ["post", str(path)], env=env)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.strip() == (
        "ISA (segment 0): expected a fixed-width ISA of 106 characters, got 22"
    )
    summary = json.loads(result.stdout)
    assert summary["status"] == "rejected" and summary["payments"] == []


def test_a_warning_is_reported_and_the_file_posts(env: dict[str, str], tmp_path: Path) -> None:
    model = remittance()
    payer = dataclasses.replace(model.header.payer, contacts=())
    model = dataclasses.replace(model, header=dataclasses.replace(model.header, payer=payer))
    path = tmp_path / "no-contact.835"
    path.write_text(write_835(model, PAYER_PARAMS, clock, control_numbers()))
    result = CliRunner().invoke(era_command, ["post", str(path), "--compact"], env=env)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "posted" and len(summary["payments"]) == 1
    assert summary["warnings"] == [
        "warning: 1000A N1 (segment 7): expected PER*BL (payer technical contact), got none"
    ]
