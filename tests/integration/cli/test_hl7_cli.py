"""`dermrcm hl7 stats / replay / parse` against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integration.cli import main
from integration.hl7v2.ingest import Inbound, Ingest
from integration.hl7v2.message import split_lines
from integration.mapping.hl7v2 import MappingOptions
from integration.mapping.hl7v2_transforms import load_feed_maps
from integration.paths import fixtures_dir, mappings_dir
from integration.store.database import make_engine, session_factory, upgrade
from integration.store.models import FhirResource, FhirResourceVersion, Hl7Message
from tests.support.hl7_messages import adt_a04

SCORES = fixtures_dir() / "hl7" / "oru-r01-severity-scores.hl7"


def unknown_status_oru() -> bytes:
    """The severity ORU with one OBX-11 code outside HL7 table 0085 ('Q')."""
    lines = split_lines(SCORES.read_text(encoding="utf-8"))
    for i, line in enumerate(lines):
        if line.startswith("OBX|1|"):
            fields = line.split("|")
            fields[11] = "Q"
            lines[i] = "|".join(fields)
    return "\r".join(lines).encode()


@pytest.fixture
def ingest(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ingest]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    engine = make_engine(database_url)
    upgrade(engine)
    yield Ingest(session_factory(engine), load_feed_maps(), MappingOptions())
    engine.dispose()


def send(ingest: Ingest, *payloads: bytes) -> list[str]:
    replies = ingest.handle([Inbound(p, "127.0.0.1:9", datetime.now(UTC)) for p in payloads])
    return [o.status for r in replies for o in r.outcomes]


def test_stats_counts_what_the_store_holds(ingest: Ingest) -> None:
    assert send(ingest, adt_a04(1).encode(), adt_a04(1).encode(), adt_a04(2).encode()) == [
        "processed",
        "duplicate",
        "processed",
    ]
    assert send(ingest, unknown_status_oru(), b"not hl7 at all") == ["error", "rejected"]
    result = CliRunner().invoke(main, ["hl7", "stats", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "received": 5,
        "processed": 2,
        "duplicates": 1,
        "errors": 1,
        "rejected": 1,
        "pending": 0,
        "applied": 2,
    }


def stored_versions(session: Session) -> int:
    """Versions stored of every resource: the current ones and those an update replaced."""
    current = session.scalar(select(func.count()).select_from(FhirResource)) or 0
    return current + (session.scalar(select(func.count()).select_from(FhirResourceVersion)) or 0)


def test_replay_is_idempotent_and_applies_an_error_once_its_map_is_fixed(
    ingest: Ingest, tmp_path: Path
) -> None:
    send(ingest, adt_a04(3).encode(), unknown_status_oru())
    with ingest.sessions() as session:
        stored = stored_versions(session)
        error = session.scalars(select(Hl7Message).where(Hl7Message.status == "error")).one()
    assert error.error_code == "103" and "OBX-11 (segment" in (error.error or "")

    # Replaying everything changes nothing: applied messages are not applied again.
    result = CliRunner().invoke(
        main,
        ["hl7", "replay", "--since", "2000-01-01", "--status", "processed", "--status", "error"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"replayed": 2, "outcomes": {"processed": 1, "error": 1}}
    with ingest.sessions() as session:
        assert stored_versions(session) == stored

    # The interface engineer adds the code to the table; the replay now applies the message.
    root = tmp_path / "mappings"
    shutil.copytree(mappings_dir(), root)
    table = root / "hl7v2" / "tables" / "observation-result-status.yaml"
    table.write_text(table.read_text(encoding="utf-8") + "  Q: final\n", encoding="utf-8")
    fixed = Ingest(ingest.sessions, load_feed_maps(root), MappingOptions())
    outcomes = fixed.replay([error.id])
    assert [o.status for o in outcomes] == ["processed"]
    assert [o.status for o in fixed.replay([error.id])] == ["processed"]  # and only once
    with ingest.sessions() as session:
        assert session.get(Hl7Message, error.id).status == "processed"  # type: ignore[union-attr]
        assert stored_versions(session) > stored


def test_replay_since_must_be_a_date() -> None:
    result = CliRunner().invoke(main, ["hl7", "replay", "--since", "last week"])
    assert result.exit_code == 2 and "expected YYYY-MM-DD" in result.output


def test_parse_prints_the_fhir_and_fails_on_a_located_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["hl7", "parse", str(SCORES)])
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.output)
    assert parsed[0]["message_type"] == "ORU^R01"
    assert any(r["resource"]["resourceType"] == "Observation" for r in parsed[0]["resources"])
    bad = tmp_path / "bad.hl7"
    shutil.copy(fixtures_dir() / "hl7" / "oru-r01-malformed-nm.hl7", bad)
    result = CliRunner().invoke(main, ["hl7", "parse", str(bad)])
    assert result.exit_code == 1
    assert "OBX-5 (segment" in result.output and "expected a number" in result.output
