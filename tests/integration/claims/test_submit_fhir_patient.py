"""`dermrcm claims submit` from a FHIR R4 Claim (the synthetic bundle of
fixtures/fhir/claims/derm-biopsy-claim.json) on SQLite and PostgreSQL, to the sandbox
clearinghouse over HTTP: the claim is sent as an 837P and recorded with its FHIR patient, so a
denial of it names the chart an appeal reads."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import select

from integration.claims.cli import claims_command
from integration.paths import fixtures_dir
from integration.sandbox.clearinghouse import ClearinghouseSandbox, clearinghouse_of
from integration.store.database import make_engine, session_factory
from integration.store.models import Claim
from integration.x12.t837_005010x222a1 import claim_to_json
from tests.support.servers import start_fixture_sandbox
from tests.unit.claims import scenarios as s

BUNDLE = fixtures_dir() / "fhir" / "claims" / "derm-biopsy-claim.json"
HEADER = [
    "--submitter-name",
    "SANDBOX DERMATOLOGY GROUP",
    "--submitter-phone",
    "5555550100",
    "--receiver-name",
    "SANDBOX CLEARINGHOUSE",
]


@pytest.fixture(scope="module")
def clearinghouse() -> Iterator[tuple[str, ClearinghouseSandbox]]:
    apps: list[Flask] = []

    def keep(app: Flask) -> Any:
        apps.append(app)
        return app

    sandbox = start_fixture_sandbox(None, wrap=keep)
    try:
        yield f"{sandbox.url}/clearinghouse", clearinghouse_of(apps[0])
    finally:
        sandbox.server.shutdown()


def bundle() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(BUNDLE.read_text())
    return data


def submit(env: dict[str, str], path: Path, *extra: str) -> Result:
    return CliRunner().invoke(claims_command, ["submit", str(path), *extra], env=env)


def patients(database_url: str) -> dict[str, str | None]:
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as session:
            rows = session.execute(select(Claim.patient_control_number, Claim.patient_ref))
            return {pcn: ref for pcn, ref in rows}
    finally:
        engine.dispose()


def test_a_fhir_claim_is_sent_and_recorded_with_its_patient(
    clearinghouse: tuple[str, ClearinghouseSandbox], database_url: str, tmp_path: Path
) -> None:
    url, state = clearinghouse
    state.reset()
    env = {"DERMRCM_DATABASE_URL": database_url, "DERMRCM_CLEARINGHOUSE_URL": url}
    # the bundle, and beside it a claim as `dermrcm x12 parse` prints it (no FHIR patient)
    path = tmp_path / "claims.json"
    path.write_text(
        json.dumps(bundle()) + "\n" + json.dumps({"model": claim_to_json(s.transaction(s.PAID))})
    )
    done = submit(env, path, *HEADER)
    assert done.exit_code == 0, done.output
    out = json.loads(done.output)
    assert out["status"] == "sent"
    assert out["claims"] == ["DRCM-FHIR-3001", "DRCM-T-1001"]
    assert patients(database_url) == {"DRCM-FHIR-3001": "Patient/pat-3001", "DRCM-T-1001": None}
    # what the clearinghouse received: our 1000A (with its contact) and 1000B
    ((_name, sent),) = state.received.values()
    assert b"NM1*41*2*SANDBOX DERMATOLOGY GROUP*****46*" in sent
    assert b"PER*IC**TE*5555550100~" in sent
    assert b"NM1*40*2*SANDBOX CLEARINGHOUSE*****46*" in sent
    assert b"CLM*DRCM-FHIR-3001*" in sent


def test_a_bundle_with_urn_uuid_references_names_the_patient_by_its_id(
    clearinghouse: tuple[str, ClearinghouseSandbox], database_url: str, tmp_path: Path
) -> None:
    url, state = clearinghouse
    state.reset()
    data = bundle()
    uuids = {}
    for n, entry in enumerate(data["entry"]):
        r = entry["resource"]
        uuids[f"{r['resourceType']}/{r['id']}"] = f"urn:uuid:00000000-0000-4000-8000-{n:012d}"
        entry["fullUrl"] = uuids[f"{r['resourceType']}/{r['id']}"]
    claim = data["entry"][0]["resource"]
    claim["patient"] = {"reference": uuids["Patient/pat-3001"]}
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(data))
    env = {"DERMRCM_DATABASE_URL": database_url, "DERMRCM_CLEARINGHOUSE_URL": url}
    done = submit(env, path, *HEADER)
    assert done.exit_code == 0, done.output
    assert patients(database_url) == {"DRCM-FHIR-3001": "Patient/pat-3001"}


def test_a_fhir_claim_without_the_header_names_is_refused_before_anything_is_stored(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(bundle()))
    env = {"DERMRCM_DATABASE_URL": database_url, "DERMRCM_CLEARINGHOUSE_URL": "http://127.0.0.1:9"}
    done = submit(env, path, "--submitter-name", "SANDBOX DERMATOLOGY GROUP")
    assert done.exit_code == 2
    assert "--submitter-phone: expected the submitter's contact phone (1000A PER04)" in (
        done.output
    )


def test_a_fhir_claim_that_cannot_be_an_837p_says_where(database_url: str, tmp_path: Path) -> None:
    data = copy.deepcopy(bundle())
    del data["entry"][0]["resource"]["identifier"]
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(data))
    env = {"DERMRCM_DATABASE_URL": database_url, "DERMRCM_CLEARINGHOUSE_URL": "http://127.0.0.1:9"}
    done = submit(env, path, *HEADER)
    assert done.exit_code == 1
    assert "document 1: Claim.identifier" in done.output
    assert "2300 CLM01" in done.output
    assert "Traceback" not in done.output
