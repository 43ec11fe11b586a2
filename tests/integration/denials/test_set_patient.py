"""`dermrcm denials set-patient ID --patient Patient/<id>` on SQLite and PostgreSQL: the biller
names the FHIR patient of a denial whose claim named none (read off the 835); it is stored on the
item, the claim's other items and our claim, each change an event, so the appeal can read the
chart and the claim's later remittances carry the patient. And `dermrcm era post` says how many
denial items the posting created. Fixture: the synthetic 835 of fixtures/x12/835-denials.x12."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from integration.denials.cli import era_command
from integration.denials.worklist_cli import denials_command
from integration.store.database import make_engine, session_factory, upgrade
from integration.store.denials import DenialStore, PatientConflict
from integration.store.models import Claim
from integration.store.remittances import RemittanceStore
from tests.unit.denials.denials_fixture import FIXTURE, record_fixture_claims

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
MOHS_PATIENT = "Patient/bcc-mohs-patient"


@pytest.fixture
def stores(database_url: str) -> Iterator[tuple[RemittanceStore, DenialStore]]:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    denials = DenialStore(sessions, lambda: NOW)
    yield RemittanceStore(sessions, clock=lambda: NOW, denials=denials), denials
    engine.dispose()


def env_for(database_url: str) -> dict[str, str]:
    return {"DERMRCM_DATABASE_URL": database_url, "DATABASE_URL": database_url}


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(denials_command, list(args), env=env)


def ok(env: dict[str, str], *args: str) -> Any:
    result = invoke(env, *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def claim_patient(denials: DenialStore, pcn: str) -> str | None:
    with denials.sessions() as session:
        return session.scalar(select(Claim.patient_ref).where(Claim.patient_control_number == pcn))


def test_era_post_reports_the_denial_items_it_created(database_url: str, tmp_path: Any) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    record_fixture_claims(RemittanceStore(session_factory(engine)))
    engine.dispose()
    env = env_for(database_url)
    path = tmp_path / "835-denials.x12"
    path.write_bytes(FIXTURE.read_bytes())
    first = CliRunner().invoke(era_command, ["post", str(path), "--compact"], env=env)
    assert first.exit_code == 0, first.output
    posted = json.loads(first.stdout)
    assert posted["status"] == "posted"
    assert posted["denials"]["created"] == 6
    listed = ok(env, "list", "--json", "--sort", "amount")
    assert sorted(posted["denials"]["ids"]) == sorted(d["id"] for d in listed["denials"])
    # the same 835 again (another name): a duplicate, nothing created
    copy = tmp_path / "835-denials-copy.x12"
    copy.write_bytes(FIXTURE.read_bytes())
    again = CliRunner().invoke(era_command, ["post", str(copy), "--compact"], env=env)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["denials"] == {"created": 0, "ids": []}


def test_set_patient_stores_it_on_the_item_its_claim_and_the_claims_other_items(
    stores: tuple[RemittanceStore, DenialStore], database_url: str
) -> None:
    remittances, denials = stores
    record_fixture_claims(remittances)
    assert remittances.post_file(FIXTURE.read_bytes(), "835-denials.x12").status == "posted"
    co197 = next(i for i in denials.list(sort="id") if i.reason == "CO-197")
    assert co197.patient_ref is None and co197.claim_id is not None
    assert claim_patient(denials, "DRM-2002") is None
    # a second item of the same claim (the payer's claim-level adjustment), naming no patient
    with denials.sessions.begin() as session:
        (sibling_id,) = denials.add_items(
            session, [dataclasses.replace(co197, id=None, line_posting_id=None)], "test"
        )
    env = env_for(database_url)

    shown = ok(env, "set-patient", str(co197.id), "--patient", MOHS_PATIENT, "--actor", "biller")
    assert shown["patient"] == MOHS_PATIENT
    assert shown["events"][-1]["kind"] == "patient"
    assert shown["events"][-1]["actor"] == "biller"
    assert shown["events"][-1]["detail"] == (
        f"patient - -> {MOHS_PATIENT}: told for this denial; claim {co197.claim_id} too"
    )
    assert claim_patient(denials, "DRM-2002") == MOHS_PATIENT
    sibling = denials.get(sibling_id)
    assert sibling is not None and sibling.patient_ref == MOHS_PATIENT
    assert denials.events(sibling_id)[-1].detail == (
        f"patient - -> {MOHS_PATIENT}: told for denial {co197.id} of the same claim"
    )
    # items of other claims are untouched; the worklist filters by the patient now
    assert [i.id for i in denials.list(patient_ref=MOHS_PATIENT, sort="id")] == [
        co197.id,
        sibling_id,
    ]

    # the same patient again changes nothing
    count = len(denials.events(co197.id or 0))
    ok(env, "set-patient", str(co197.id), "--patient", MOHS_PATIENT)
    assert len(denials.events(co197.id or 0)) == count

    # another patient is refused without --replace, and corrected with it
    refused = invoke(env, "set-patient", str(co197.id), "--patient", "Patient/other-1")
    assert refused.exit_code == 1
    assert f"denial {co197.id}: patient: expected none (or Patient/other-1), got " in (
        refused.output
    )
    assert "use --replace" in refused.output
    fixed = ok(env, "set-patient", str(co197.id), "--patient", "Patient/other-1", "--replace")
    assert fixed["patient"] == "Patient/other-1"
    assert fixed["events"][-1]["detail"].startswith(f"patient {MOHS_PATIENT} -> Patient/other-1")
    assert claim_patient(denials, "DRM-2002") == "Patient/other-1"
    moved = denials.get(sibling_id)
    assert moved is not None and moved.patient_ref == "Patient/other-1"
    assert [i.id for i in denials.list(patient_ref=MOHS_PATIENT)] == []


def test_a_claim_we_never_recorded_takes_the_patient_on_its_items_only(
    stores: tuple[RemittanceStore, DenialStore],
) -> None:
    remittances, denials = stores
    assert remittances.post_file(FIXTURE.read_bytes(), "835-denials.x12").status == "posted"
    item = next(i for i in denials.list(sort="id") if i.reason == "CO-50")
    assert item.claim_id is None and item.patient_ref is None
    with denials.sessions.begin() as session:
        (sibling_id,) = denials.add_items(
            session, [dataclasses.replace(item, id=None, line_posting_id=None)], "test"
        )
    done = denials.set_patient(item.id or 0, "Patient/psoriasis-skyrizi-patient", actor="t")
    assert done.patient_ref == "Patient/psoriasis-skyrizi-patient"
    sibling = denials.get(sibling_id)
    assert sibling is not None and sibling.patient_ref == done.patient_ref
    others = [i for i in denials.list(sort="id") if i.id not in (item.id, sibling_id)]
    assert all(i.patient_ref is None for i in others)
    with pytest.raises(PatientConflict, match="use --replace"):
        denials.set_patient(item.id or 0, "Patient/x", actor="t")


@pytest.mark.parametrize(
    "bad",
    ["psoriasis-skyrizi-patient", "Patient/", "Group/1", "Patient/a b", "Patient/" + "x" * 65],
)
def test_anything_but_patient_id_is_refused(
    stores: tuple[RemittanceStore, DenialStore], database_url: str, bad: str
) -> None:
    remittances, denials = stores
    assert remittances.post_file(FIXTURE.read_bytes(), "835-denials.x12").status == "posted"
    first = denials.list(sort="id")[0]
    result = invoke(env_for(database_url), "set-patient", str(first.id), "--patient", bad)
    assert result.exit_code == 2
    assert "--patient" in result.output and "expected Patient/<id>" in result.output
    with pytest.raises(ValueError, match="patient: expected 'Patient/<id>'"):
        denials.set_patient(first.id or 0, bad, actor="t")
    assert denials.get(first.id or 0) == first


def test_an_unknown_denial_is_refused(stores: Any, database_url: str) -> None:
    result = invoke(env_for(database_url), "set-patient", "999", "--patient", MOHS_PATIENT)
    assert result.exit_code == 1
    assert "denial 999: expected a denial item, got none" in result.output
