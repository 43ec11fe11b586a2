"""`dermrcm scrub` (integration/coding/scrub_cli.py): a request, an 837P as `x12 parse` prints
it, a JSON-lines batch or a FHIR Bundle in; one result (or JSON lines) out, exit 1 on error
findings, 2 with `error: FILE: where: what` on unreadable input; `--837p` writes the corrected
claims as a new 837P.

The rule families are being written, so these tests scrub with a small test family of their own
(`one_finding_scrubber`) whose findings and corrections are known, and check they reach the
output; one test runs the project's scrubber only to show the command works with it."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from integration.coding import scrub_cli
from integration.coding.engine import Family, FeeSchedule, Scrubber, _Loaded
from integration.coding.model import RuleSource, WorkClaim
from integration.paths import fixtures_dir
from integration.x12.t837_005010x222a1 import read_837p
from tests.unit.test_scrub_request_schema import MINIMAL

BIOPSY_837P = fixtures_dir() / "x12" / "837p" / "biopsy-99213-25-11102-11103.x12"
DEPENDENT_837P = fixtures_dir() / "x12" / "837p" / "dependent-2000c-biopsy.x12"
DFT_FHIR = fixtures_dir() / "hl7" / "dft-p03-biopsy-and-destruction.fhir.json"
SOURCE = RuleSource("Test rules for the scrub command", url="https://example.org/test-rules")
NOW = "2026-12-01T10:00:00"


def _check(work: WorkClaim, data: None) -> None:
    """11103 x N>1 -> x1 (an error, fixed); 17999 needs a person (an error, no fix); an E/M with
    25 but no documented separate E/M (a warning, no fix); a cosmetic request -> self-pay."""
    for line in list(work.active()):
        if line.code == "11103" and line.units > 1:
            work.add(
                "testfam.addon-units",
                "error",
                f"Line {line.origin}: 11103 x {line.units} billed; the test rule allows x 1",
                [line],
                source=SOURCE,
                fix=f"Line {line.origin}: 11103 units changed from {line.units} to 1",
            )
            line.units = Decimal("1")
        if line.code == "17999":
            work.add(
                "testfam.unlisted",
                "error",
                f"Line {line.origin}: 17999 is an unlisted procedure; a person must describe it",
                [line],
                source=SOURCE,
            )
        if line.code.startswith("992") and work.encounter.separately_identifiable_em is None:
            work.add(
                "testfam.em-gap",
                "warning",
                f"Line {line.origin}: {line.code} with procedures, and the note does not say "
                "whether the E/M was separately identifiable",
                [line],
                source=SOURCE,
            )
        if line.facts.cosmetic_request:
            line.self_pay = True
            line.self_pay_reason = "patient asked for removal for appearance"
            work.add(
                "testfam.cosmetic",
                "info",
                f"Line {line.origin}: {line.code} was requested for appearance; moved to self-pay",
                [line],
                source=SOURCE,
                fix=f"Line {line.origin} moved to the patient's self-pay statement",
            )


TEST_FAMILY: Family[None] = Family("testfam", lambda ctx: None, _check)


def one_finding_scrubber() -> Scrubber:
    return Scrubber(
        [_Loaded(TEST_FAMILY, None)],
        FeeSchedule(insurance={"11103": Decimal("95")}, cosmetic={"11102": Decimal("120")}),
    )


@pytest.fixture(autouse=True)
def test_rules(monkeypatch: pytest.MonkeyPatch) -> Scrubber:
    scrubber = one_finding_scrubber()
    monkeypatch.setattr(scrub_cli, "scrubber", lambda: scrubber)
    return scrubber


def run(*args: str) -> Result:
    return CliRunner().invoke(scrub_cli.scrub_command, list(args), catch_exceptions=False)


def request(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    for pcn, value in changes.items():
        data["claim"][pcn] = value
    return data


def lines(result: dict[str, Any]) -> list[str]:
    return [
        "-".join([s["procedure"]["code"], *s["procedure"]["modifiers"]]) + f" x{s['quantity']}"
        for s in result["corrected"]["services"]
    ]


def parsed_837p(tmp_path: Path, source: Path = BIOPSY_837P) -> Path:
    from integration.cli import main

    out = CliRunner().invoke(main, ["x12", "parse", str(source)], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    path = tmp_path / "claims.jsonl"
    path.write_text(out.stdout, encoding="utf-8")
    return path


def test_one_request_prints_its_findings_with_sources_and_the_corrected_claim(
    tmp_path: Path,
) -> None:
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(request()), encoding="utf-8")
    out = run(str(path), "--pretty")
    assert out.exit_code == 1  # an error finding
    result = json.loads(out.stdout)
    assert result["claim_id"] == "SCHEMA-01"
    [finding] = result["findings"]
    assert finding == {
        "rule": "testfam.addon-units",
        "severity": "error",
        "message": "Line 2: 11103 x 2 billed; the test rule allows x 1",
        "lines": [2],
        "source": {"title": SOURCE.title, "url": SOURCE.url},
        "fix": "Line 2: 11103 units changed from 2 to 1",
    }
    assert lines(result) == ["11102 x1", "11103 x1"]
    assert result["summary"] == {"errors": 1, "warnings": 0, "info": 0}


def test_a_clean_claim_exits_0_and_a_cosmetic_line_goes_to_self_pay(tmp_path: Path) -> None:
    data = request()
    data["claim"]["services"][1]["quantity"] = "1"
    data["facts"]["lines"]["1"]["cosmetic_request"] = True
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    out = run(str(path))
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert [f["rule"] for f in result["findings"]] == ["testfam.cosmetic"]
    assert lines(result) == ["11103 x1"]
    assert result["corrected"]["total_charge"] == "150"
    assert result["self_pay"] == [
        {
            "line": 1,
            "code": "11102",
            "units": "1",
            "fee": "120",
            "reason": "patient asked for removal for appearance",
        }
    ]


def test_a_json_lines_batch_gives_one_result_per_line_in_order(tmp_path: Path) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_text(
        "\n".join(json.dumps(request(patient_control_number=f"B-{n}")) for n in (1, 2, 3)) + "\n",
        encoding="utf-8",
    )
    quiet = run(str(batch))  # stderr is no terminal: no progress bar
    assert quiet.exit_code == 1
    results = [json.loads(line) for line in quiet.stdout.splitlines()]
    assert [r["claim_id"] for r in results] == ["B-1", "B-2", "B-3"]
    assert all(lines(r) == ["11102 x1", "11103 x1"] for r in results)
    assert "scrubbing" not in quiet.stderr

    shown = run(str(batch), "--progress")
    assert "scrubbing 3 claims" in shown.stderr
    assert shown.stdout == quiet.stdout


def test_an_837p_from_x12_parse_is_scrubbed_claim_by_claim(tmp_path: Path) -> None:
    out = run(str(parsed_837p(tmp_path)))
    assert out.exit_code == 1
    result = json.loads(out.stdout)
    assert result["claim_id"] == "DRCM-BX-1001"
    assert sorted(f["rule"] for f in result["findings"]) == [
        "testfam.addon-units",
        "testfam.em-gap",
    ]
    assert lines(result) == ["99213-25 x1", "11102 x1", "11103 x1"]
    # the payer comes from the subscriber loop: the corrected claim keeps every other field
    assert result["corrected"]["facility_code"] == "11"
    assert [d["code"] for d in result["corrected"]["diagnoses"]] == ["L570", "D485", "L821"]


def test_837p_out_writes_the_corrected_claim_in_a_new_envelope(tmp_path: Path) -> None:
    out_path = tmp_path / "corrected.x12"
    out = run(
        str(parsed_837p(tmp_path)), "--837p", str(out_path), "--now", NOW, "--control-number", "7"
    )
    assert out.exit_code == 1  # the finding was an error, even though it is fixed
    text = out_path.read_text(encoding="utf-8")
    assert "SV1*HC:11103*190.00*UN*1***2:3~" in text
    assert "*ZZ*DERMRCM        *ZZ*SANDBOXPAYER   *261201*1000*" in text
    assert "*000000007*" in text  # ISA13 from --control-number, not the input's
    [model], problems = read_837p(text)
    assert [p for p in problems if p.is_error] == []
    claim = model.billing_providers[0].subscribers[0].claims[0]
    result = json.loads(out.stdout)
    assert [str(s.quantity) for s in claim.services] == [
        s["quantity"] for s in result["corrected"]["services"]
    ]


def test_837p_out_leaves_out_a_claim_a_person_must_resolve(tmp_path: Path) -> None:
    source = parsed_837p(tmp_path, DEPENDENT_837P)
    doc = json.loads(source.read_text(encoding="utf-8"))
    claims = doc["model"]["billing_providers"][0]["subscribers"][0]["patients"][0]["claims"]
    claims[0]["services"][1]["procedure"]["code"] = "17999"
    source.write_text(json.dumps(doc), encoding="utf-8")
    out_path = tmp_path / "corrected.x12"
    out = run(str(source), "--837p", str(out_path), "--now", NOW)
    assert out.exit_code == 1
    assert "claim DRCM-BX-1001 left out: 1 error(s) a person must resolve (testfam.unlisted)" in (
        out.stderr
    )
    assert "not written: no claim is ready to send" in out.stderr
    assert not out_path.exists()


def test_837p_out_needs_837p_input(tmp_path: Path) -> None:
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(request()), encoding="utf-8")
    out = run(str(path), "--837p", str(tmp_path / "x.x12"))
    assert out.exit_code == 2
    assert "document is a scrub request, not an 837P document" in out.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "expected a JSON document, got none"),
        (
            json.dumps(MINIMAL) + "\nnot json\n",
            "line 2: expected JSON, got Expecting value at column 1",
        ),
        ("[1]", "[0]: expected a JSON object, got int"),
        (
            json.dumps({"claim": {**MINIMAL["claim"], "total_charge": 300}}),
            "document: $.claim.total_charge: expected a decimal string, got 300",
        ),
        (
            json.dumps({**MINIMAL, "facts": {"lines": {"9": {}}}}),
            "document: $.facts.lines.9: expected the number of a claim line, got '9'",
        ),
        (
            json.dumps({"transaction": {"set": "835"}, "problems": [], "model": {}}),
            "document: transaction: expected an 837P, got '835'",
        ),
    ],
)
def test_unreadable_input_exits_2_with_the_located_message(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    out = run(str(path))
    assert out.exit_code == 2
    assert out.stderr == f"error: {path}: {message}\n"
    assert out.stdout == ""


def test_a_missing_file_and_no_file_at_all(tmp_path: Path) -> None:
    missing = run(str(tmp_path / "nope.json"))
    assert missing.exit_code == 2
    assert "No such file or directory" in missing.stderr
    neither = run()
    assert neither.exit_code == 2
    assert "give FILE or --from-fhir" in neither.stderr


def _dft_bundle(tmp_path: Path) -> Path:
    messages = json.loads(DFT_FHIR.read_text(encoding="utf-8"))["messages"]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r["resource"]} for m in messages for r in m["resources"]],
    }
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    return path


def test_from_fhir_scrubs_the_visit_the_dft_charges_make(tmp_path: Path) -> None:
    bundle = _dft_bundle(tmp_path)
    refused = run("--from-fhir", str(bundle))
    assert refused.exit_code == 2
    assert "expected a place of service" in refused.stderr
    out = run("--from-fhir", str(bundle), "--place-of-service", "11")
    assert out.exit_code == 1  # 11103 x 2 -> x 1 by the test rule
    result = json.loads(out.stdout)
    assert result["claim_id"] == "V250310001"
    assert lines(result) == ["11102 x1", "11103 x1", "17000-59 x1", "17003-59 x3"]
    assert result["corrected"]["facility_code"] == "11"


def test_the_project_scrubber_runs_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the rule families find, the real scrubber gives a result for the claim."""
    monkeypatch.undo()
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(request()), encoding="utf-8")
    out = run(str(path))
    assert out.exit_code in (0, 1), out.stderr
    result = json.loads(out.stdout)
    assert result["claim_id"] == "SCHEMA-01"
    assert result["corrected"]["services"]
    assert all(f["source"]["title"] for f in result["findings"])
