"""`dermrcm appeal draft` as a script runs it: the denial from a real database, the chart over
real HTTP from the sandbox EHR, the letter printed as JSON and the PDF written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from integration.appeals.draft import draft_for_denial
from integration.appeals.draft_cli import draft_command
from integration.appeals.factcheck import check_letter
from integration.denials.items import DenialItem
from integration.fhir.client import FhirClient
from integration.mapping.evidence_maps import load_evidence_maps
from integration.store.database import make_engine, session_factory, upgrade
from integration.store.denials import DenialStore
from tests.support.servers import Sandbox, start_fixture_sandbox
from tests.unit.appeals.support import TODAY, make_denial


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    running = start_fixture_sandbox(None, auth_enabled=False)
    with running.server:
        yield running


@pytest.fixture
def denial_id(database_url: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """One denial item in a real database (SQLite and PostgreSQL), as the worklist stores it."""
    url = database_url
    monkeypatch.setenv("DERMRCM_DATABASE_URL", url)
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    item = make_denial(id=None, claim_id=None, line_posting_id=None, claim_posting_id=None)
    with sessions() as session:
        (new_id,) = DenialStore(sessions).add_items(session, [item], "test")
        session.commit()
    engine.dispose()
    return new_id


def test_draft_prints_the_letter_with_sources_and_writes_the_pdf(
    sandbox: Sandbox, denial_id: int, tmp_path: Path
) -> None:
    pdf = tmp_path / "letter.pdf"
    args = [
        "--denial",
        str(denial_id),
        "--fhir-base",
        sandbox.fhir,
        "--date",
        "2026-11-15",
        "--pdf",
        str(pdf),
    ]
    done = CliRunner().invoke(draft_command, args)
    assert done.exit_code == 0, done.output
    out = json.loads(done.output)
    assert out["denial_id"] == denial_id
    assert out["template"] == {"id": "medical-necessity-biologic", "version": 1}
    by_id = {s["id"]: s for s in out["sentences"]}
    pasi = by_id["pasi"]
    assert "15.6 on 2026-09-10" in pasi["text"]
    assert {
        "kind": "fhir",
        "ref": "Observation/psoriasis-skyrizi-obs-pasi-7/_history/1",
    }.items() <= pasi["sources"][0].items()
    # the chart's Skyrizi order found the UnitedHealthcare rule: criteria cite the policy
    assert any(s["sources"] and s["sources"][0]["kind"] == "rule" for s in out["sentences"])
    assert out["check"] == {"ok": True, "problems": [], "confirmed": []}
    assert pdf.read_bytes().startswith(b"%PDF")
    assert out["pdf"] == str(pdf)


def test_an_unknown_denial_is_refused(sandbox: Sandbox, denial_id: int) -> None:
    done = CliRunner().invoke(draft_command, ["--denial", "999", "--fhir-base", sandbox.fhir])
    assert done.exit_code == 2
    assert "--denial: expected a denial item id, got 999 (not found)" in done.output


def test_draft_for_denial_reads_the_chart_and_the_edit_to_pasi_22_is_refused(
    sandbox: Sandbox,
) -> None:
    denial: DenialItem = make_denial()
    client = FhirClient(sandbox.fhir)
    try:
        result = draft_for_denial(denial, client, load_evidence_maps(), TODAY)
    finally:
        client.close()
    letter = result.letter
    assert result.assessment is not None and result.assessment.rule is not None
    assert result.assessment.rule.id == "unitedhealthcare-skyrizi-plaque-psoriasis"
    assert any(ref.startswith("Media/") for ref in result.resources)
    pasi = letter.sentence("pasi")
    assert pasi is not None
    edited = letter.with_text("pasi", pasi.text.replace("15.6", "22"))
    found = check_letter(edited)
    assert [(p.sentence_id, p.span) for p in found.problems] == [("pasi", "22")]


def test_polish_is_off_unless_the_settings_name_an_endpoint(
    sandbox: Sandbox, denial_id: int
) -> None:
    args = [
        "--denial",
        str(denial_id),
        "--fhir-base",
        sandbox.fhir,
        "--date",
        "2026-11-15",
        "--polish",
    ]
    done = CliRunner().invoke(draft_command, args)
    assert done.exit_code == 0, done.output
    out = json.loads(done.output)
    assert out["polish"]["accepted"] is False
    assert out["polish"]["rejected"].startswith("polish is off")
    assert all(s["origin"] == "template" for s in out["sentences"])
