"""`dermrcm denials` (the click group `denials_command`) on SQLite and PostgreSQL: `list --json`
prints every item with its likelihood ("no history" until enough appeals are decided), filters
and sorts; `assign` and `status` change the item and show in `show`'s events."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner

from integration.denials.worklist_cli import denials_command
from integration.store.database import make_engine, session_factory, upgrade
from integration.store.denials import DenialStore
from integration.store.models import Appeal
from integration.store.remittances import RemittanceStore
from tests.unit.denials.denials_fixture import FIXTURE, record_fixture_claims

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    engine = make_engine(database_url)
    upgrade(engine)
    store = RemittanceStore(session_factory(engine), clock=lambda: NOW)
    record_fixture_claims(store)
    assert store.post_file(FIXTURE.read_bytes(), "835-denials.x12").status == "posted"
    engine.dispose()
    return {"DERMRCM_DATABASE_URL": database_url, "DATABASE_URL": database_url}


def run(env: dict[str, str], *args: str) -> Any:
    result = CliRunner().invoke(denials_command, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_list_json_prints_every_denial_with_its_likelihood(env: dict[str, str]) -> None:
    doc = json.loads(run(env, "list", "--json", "--sort", "amount"))
    assert doc["count"] == 6
    first = doc["denials"][0]
    assert (first["reason"], first["category"], first["next_step"], first["amount"]) == (
        "CO-50",
        "medical-necessity",
        "appeal",
        "4500.00",
    )
    assert first["patient"] == "Patient/psoriasis-skyrizi-patient"
    assert first["likelihood"] == {
        "probability": None,
        "reason": "no history: 0 decided appeals, need 20",
        "decided": {"payer_category": 0, "category": 0, "all": 0},
        "method": "smoothed-rate-v1",
    }
    coder = json.loads(run(env, "list", "--json", "--queue", "coder", "--sort", "deadline"))
    assert [d["reason"] for d in coder["denials"]] == ["CO-16", "CO-97"]
    auth = json.loads(run(env, "list", "--json", "--category", "authorization"))
    assert {d["reason"] for d in auth["denials"]} == {"CO-197", "CO-15"}
    table = run(env, "list")
    assert table.splitlines()[0].split()[:3] == ["ID", "REASON", "CATEGORY"]
    assert "6 denial(s)" in table


def test_assign_and_status_show_up_in_the_item_and_its_events(env: dict[str, str]) -> None:
    doc = json.loads(run(env, "list", "--json", "--sort", "amount"))
    denial_id = str(doc["denials"][0]["id"])
    assigned = json.loads(run(env, "assign", denial_id, "--to", "biller:ana", "--actor", "lead"))
    assert assigned["assignee"] == "biller:ana"
    moved = json.loads(
        run(env, "status", denial_id, "appealing", "--reason", "letter drafted", "--actor", "ana")
    )
    assert moved["status"] == "appealing"
    shown = json.loads(run(env, "show", denial_id))
    assert [(e["kind"], e["actor"]) for e in shown["events"]] == [
        ("created", "system:835"),
        ("assigned", "lead"),
        ("status", "ana"),
    ]
    assert json.loads(run(env, "list", "--json", "--status", "appealing"))["count"] == 1
    missing = CliRunner().invoke(denials_command, ["show", "999999"], env=env)
    assert missing.exit_code == 1 and "expected a denial item, got none" in missing.output


def test_with_enough_decided_appeals_the_likelihood_is_a_smoothed_rate(
    env: dict[str, str],
) -> None:
    engine = make_engine(env["DERMRCM_DATABASE_URL"])
    sessions = session_factory(engine)
    denials = DenialStore(sessions)
    items = denials.list(sort="amount")
    co50, co16 = items[0], items[3]
    with sessions.begin() as session:
        # 20 decided first-level appeals: CO-50 (UHC, medical-necessity) 12 overturned of 15,
        # CO-16 (Medicare, missing-information) 1 of 5
        for n in range(20):
            denial, won = (co50, n < 12) if n < 15 else (co16, n == 15)
            session.add(
                Appeal(
                    id=str(uuid.uuid4()),
                    denial_id=denial.id,
                    level=1,
                    template_id="t",
                    status="decided",
                    deadline_basis="x",
                    opened_at=NOW,
                    outcome="overturned" if won else "upheld",
                    decided_on=f"2026-11-{n + 1:02d}",
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
    engine.dispose()
    doc = json.loads(run(env, "list", "--json", "--sort", "likelihood"))
    first = doc["denials"][0]
    # p_all = 13/20; p_cat = (12 + 5 * 0.65) / (15 + 5); p = (12 + 5 * p_cat) / (15 + 5)
    p_cat = (12 + 5 * 0.65) / 20
    assert first["reason"] == "CO-50"
    assert first["likelihood"]["probability"] == round((12 + 5 * p_cat) / 20, 3)
    assert first["likelihood"]["decided"] == {"payer_category": 15, "category": 15, "all": 20}
    bundling = next(d for d in doc["denials"] if d["reason"] == "CO-97")
    assert bundling["likelihood"]["probability"] == 0.65  # no history: shrunk to the overall


def test_likelihood_eval_on_a_synthetic_history_beats_the_base_rate() -> None:
    result = CliRunner().invoke(denials_command, ["likelihood-eval", "--synthetic"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["synthetic"] is True
    assert (doc["train"], doc["test"]) == (458, 142)
    assert doc["brier"] == {"model": 0.1918, "base_rate": 0.2228}
