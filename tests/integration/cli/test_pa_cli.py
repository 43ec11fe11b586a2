"""`dermrcm pa check|open|cases|tasks|publish` as a user runs them: a real process, real HTTP
to the sandbox EHR, a real database."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.servers import Sandbox, start_fixture_sandbox

DERMRCM = [sys.executable, "-m", "integration.cli"]
ROOT = Path(__file__).resolve().parents[3]
ORDERS = ROOT / "fixtures" / "orders"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DERMRCM, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    running = start_fixture_sandbox(None, auth_enabled=False)
    with running.server:
        yield running


def chart_order(tmp_path: Path, slug: str, order_id: str) -> Path:
    bundle = json.loads((ROOT / "fixtures" / "patients" / f"{slug}.json").read_text())
    (resource,) = [e["resource"] for e in bundle["entry"] if e["resource"]["id"] == order_id]
    path = tmp_path / f"{order_id}.json"
    path.write_text(json.dumps(resource))
    return path


def test_pa_check_prints_the_documented_json(sandbox: Sandbox, tmp_path: Path) -> None:
    order = chart_order(
        tmp_path, "atopic-dermatitis-dupixent", "atopic-dermatitis-dupixent-medreq-dupixent"
    )
    done = run(
        "pa",
        "check",
        "--fhir-base",
        sandbox.fhir,
        "--patient",
        "atopic-dermatitis-dupixent-patient",
        "--order",
        str(order),
        "--date",
        "2026-11-15",
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["pa_required"] is True
    assert out["payer"]["id"] == "cigna"  # from the chart's Coverage ("Cigna")
    assert out["rule"]["id"] == "cigna-dupixent-atopic-dermatitis" and out["rule"]["version"] == 1
    assert out["rule"]["source"]["secondary"] is True
    assert out["channel"] == "ncpdp-epa"
    by_id = {c["id"]: c for c in out["criteria"]}
    assert set(by_id["topical-corticosteroid-trial"]) >= {
        "id",
        "text",
        "status",
        "evidence",
        "owner",
    }
    steroid = by_id["topical-corticosteroid-trial"]
    assert steroid["status"] == "met"
    assert steroid["evidence"] == [
        "MedicationRequest/atopic-dermatitis-dupixent-medreq-triamcinolone/_history/1"
    ]
    assert (
        by_id["prescriber"]["status"] == "missing" and by_id["prescriber"]["owner"] == "coordinator"
    )


def test_a_chart_without_a_recent_score_shows_it_missing_for_the_clinician(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    order = chart_order(tmp_path, "psoriasis-gaps", "psoriasis-gaps-medreq-cosentyx")
    done = run(
        "pa",
        "check",
        "--fhir-base",
        sandbox.fhir,
        "--patient",
        "psoriasis-gaps-patient",
        "--order",
        str(order),
        "--date",
        "2026-11-15",
        "--payer",
        "unitedhealthcare",
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["pa_required"] is True
    missing = [c for c in out["criteria"] if c["status"] == "missing"]
    # the BSA is only in a note and the one PASI is from 2025-06: the clinician must supply one
    severity = [c for c in missing if "BSA" in c["text"] or "body surface" in c["text"].lower()]
    assert severity and all(c["owner"] == "clinician" for c in severity)


def test_pa_check_without_coverage_says_why(sandbox: Sandbox, tmp_path: Path) -> None:
    done = run(
        "pa",
        "check",
        "--fhir-base",
        sandbox.fhir,
        "--patient",
        "psoriasis-gaps-patient",
        "--order",
        str(ORDERS / "cosentyx.json"),
        "--date",
        "2026-11-15",
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["pa_required"] is None and out["reason"] == "no current coverage in the chart"
    assert out["criteria"] == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"resourceType": "Patient", "id": "x"}',
            "resourceType: expected MedicationRequest or ServiceRequest, got 'Patient'",
        ),
        (
            '{"resourceType": "MedicationRequest", "status": "draft", "intent": "order", "subject": {"reference": "Patient/x"}, "medicationCodeableConcept": {"text": "Dupixent"}, "authoredOn": "yesterday"}',
            "MedicationRequest.authoredOn",
        ),
        ('{"resourceType": ', "line 1 column"),
    ],
)
def test_a_bad_order_file_is_refused_with_where(
    sandbox: Sandbox, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "order.json"
    path.write_text(content)
    done = run(
        "pa",
        "check",
        "--fhir-base",
        sandbox.fhir,
        "--patient",
        "psoriasis-gaps-patient",
        "--order",
        str(path),
        "--date",
        "2026-11-15",
    )
    assert done.returncode == 2
    assert message in done.stderr


def test_open_then_publish_flags_the_case(sandbox: Sandbox, tmp_path: Path) -> None:
    mappings = tmp_path / "mappings"
    shutil.copytree(ROOT / "mappings", mappings)
    env = {
        "DERMRCM_DATABASE_URL": f"sqlite:///{tmp_path / 'pa.db'}",
        "DERMRCM_MAPPINGS_DIR": str(mappings),
    }
    order = chart_order(
        tmp_path, "atopic-dermatitis-dupixent", "atopic-dermatitis-dupixent-medreq-dupixent"
    )
    opened = run(
        "pa",
        "open",
        "--fhir-base",
        sandbox.fhir,
        "--patient",
        "atopic-dermatitis-dupixent-patient",
        "--order",
        str(order),
        "--date",
        "2026-11-15",
        env=env,
    )
    assert opened.returncode == 0, opened.stderr
    case_id = opened.stdout.strip()
    tasks = run("pa", "tasks", "--role", "coordinator", env=env)
    assert case_id in tasks.stdout and "prescriber's specialty" in tasks.stdout

    rule = yaml.safe_load(
        (mappings / "payers" / "cigna" / "dupixent-atopic-dermatitis.yaml").read_text()
    )
    rule["version"] = 2
    rule["effective_from"] = "2026-11-01"
    for criterion in rule["criteria"]:
        if criterion["id"] == "topical-corticosteroid-trial":
            criterion["rule"]["therapy"]["min_days"] = 84  # 8 weeks -> 12 weeks
    new = tmp_path / "dupixent-atopic-dermatitis.v2.yaml"
    new.write_text(yaml.safe_dump(rule, sort_keys=False))
    published = run("pa", "publish", str(new), env=env)
    assert published.returncode == 0, published.stderr
    assert (
        f"flagged {case_id}: criterion topical-corticosteroid-trial: met -> unmet"
        in published.stdout
    )
    assert (mappings / "payers" / "cigna" / "dupixent-atopic-dermatitis.v2.yaml").exists()
    again = run("pa", "publish", str(new), env=env)
    assert again.returncode == 1 and "already in the library" in again.stderr
    listed = run("pa", "cases", env=env)
    assert "FLAG: cigna-dupixent-atopic-dermatitis v2 changes this case" in listed.stdout
