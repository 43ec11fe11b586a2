"""`dermrcm x12` (integration/x12/cli.py): parse streams one JSON document per transaction set,
validate prints located problems with their severity and writes 999/TA1 acknowledgments,
build 837p reads what parse prints, and `parse | build` gives back every 837P golden segment for
segment. Malformed input exits 1 (validation errors) or 2 (unreadable file, bad JSON) with
`error: FILE: where: what`, never a traceback.

Fixtures: the synthetic goldens in fixtures/x12/837p and fixtures/x12/835 (see PROVENANCE.md
there) and one public sample from /work/shared/data/x12 (see PROVENANCE.md there); the multi-MB
835 is generated here from the synthetic scenario of tests/unit/denials/era_scenarios.py."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from integration.cli import main
from integration.paths import fixtures_dir
from integration.x12.t835_005010x221a1 import write_835
from tests.unit.denials.era_scenarios import PAYER_PARAMS, clock, control_numbers, remittance

GOLDENS_837P = sorted((fixtures_dir() / "x12" / "837p").glob("*.x12"))
ERA = fixtures_dir() / "x12" / "835" / "paid-denied-interest.835"
SAMPLE_271 = Path("/work/shared/data/x12/271__imsweb__x271.txt")
NOW = "2026-03-02T10:00:00"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["x12", *args], catch_exceptions=False)


def segments(text: str) -> list[str]:
    return [s.strip() for s in text.split("~") if s.strip()]


def no_contact_835(tmp_path: Path) -> Path:
    model = remittance()
    payer = dataclasses.replace(model.header.payer, contacts=())
    model = dataclasses.replace(model, header=dataclasses.replace(model.header, payer=payer))
    path = tmp_path / "no-contact.835"
    path.write_text(write_835(model, PAYER_PARAMS, clock, control_numbers()))
    return path


# -- parse --------------------------------------------------------------------------------------


def test_parse_prints_one_json_line_per_transaction() -> None:
    result = run("parse", str(GOLDENS_837P[0]))
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    doc = json.loads(line)
    assert set(doc) == {"transaction", "problems", "model"}
    txn = doc["transaction"]
    assert (txn["set"], txn["guide"], txn["name"], txn["control_number"]) == (
        "837",
        "005010X222A1",
        "837P",
        "0001",
    )
    assert txn["interchange"]["control_number"] == "000002001"
    assert txn["group"]["control_number"] == "2001"
    assert doc["problems"] == []
    assert doc["model"]["billing_providers"]


def test_parse_pretty_indents_and_other_guides_use_generic_json() -> None:
    result = run("parse", "--pretty", str(ERA))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert result.stdout.startswith('{\n  "transaction"')
    assert doc["transaction"]["name"] == "835"
    header = doc["model"]["header"]
    assert header["payment"]["amount"] == "201.50"  # Decimal as a string
    assert "envelope" not in doc["model"]


def test_parse_reports_problems_with_severity_and_exits_1_on_errors() -> None:
    result = run("parse", str(SAMPLE_271))
    assert result.exit_code == 1
    doc = json.loads(result.stdout.splitlines()[0])
    assert "error: SE01 (segment 19): expected segment count 18, got '22'" in doc["problems"]
    assert f"{SAMPLE_271}: error: ISA12 (segment 0): expected '00501', got '00401'" in (
        result.stderr
    )
    assert "Traceback" not in result.output


def test_parse_stats() -> None:
    result = run("parse", "--stats", str(ERA))
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["transactions"] == 1 and stats["by_set"] == {"835": 1}
    assert (stats["payments"], stats["claims"]) == (1, 2)
    assert stats["problems"] == {"error": 0, "warning": 0}
    assert stats["bytes"] == ERA.stat().st_size and stats["seconds"] >= 0


# -- build --------------------------------------------------------------------------------------


@pytest.mark.parametrize("golden", GOLDENS_837P, ids=lambda p: p.name)
def test_parse_then_build_gives_the_golden_back(golden: Path, tmp_path: Path) -> None:
    parsed = run("parse", str(golden))
    assert parsed.exit_code == 0, parsed.output
    claims = tmp_path / "claims.jsonl"
    claims.write_text(parsed.stdout)
    built = run("build", "837p", str(claims))
    assert built.exit_code == 0, built.output
    assert segments(built.stdout) == segments(golden.read_text())


def test_build_reads_a_single_pretty_document(tmp_path: Path) -> None:
    golden = GOLDENS_837P[0]
    claims = tmp_path / "claim.json"
    claims.write_text(run("parse", "--pretty", str(golden)).stdout)
    built = run("build", "837p", str(claims), "--line-breaks")
    assert built.exit_code == 0, built.output
    assert built.stdout == golden.read_text().replace("~\r\n", "~\n")


def test_build_a_bare_model_in_a_new_envelope(tmp_path: Path) -> None:
    golden = GOLDENS_837P[0]
    model = json.loads(run("parse", str(golden)).stdout)["model"]
    claims = tmp_path / "model.json"
    claims.write_text(json.dumps(model))
    missing = run("build", "837p", str(claims))
    assert missing.exit_code == 2
    assert (
        missing.stderr
        == f"error: {claims}: document: expected --sender and --receiver (no envelope)\n"
    )
    args = ["--sender", "CLINIC", "--receiver", "PAYER", "--usage", "P", "--now", NOW]
    built = run("build", "837p", str(claims), *args)
    assert built.exit_code == 0, built.output
    out = segments(built.stdout)
    assert out[0].startswith("ISA*00*          *00*          *ZZ*CLINIC         *ZZ*PAYER")
    assert out[0].endswith("*260302*1000*^*00501*000000001*0*P*:")
    assert out[1] == "GS*HC*CLINIC*PAYER*20260302*1000*1*X*005010X222A1"
    assert out[3:-3] == segments(golden.read_text())[3:-3]  # the same body


def test_build_overrides_the_envelope_parties(tmp_path: Path) -> None:
    claims = tmp_path / "claims.jsonl"
    claims.write_text(run("parse", str(GOLDENS_837P[0])).stdout)
    built = run("build", "837p", str(claims), "--receiver", "OTHERPAYER")
    assert built.exit_code == 0, built.output
    isa, gs = segments(built.stdout)[:2]
    assert "*ZZ*OTHERPAYER     *" in isa and gs.split("*")[3] == "OTHERPAYER"


# -- validate -----------------------------------------------------------------------------------


def test_validate_a_clean_file_prints_nothing(tmp_path: Path) -> None:
    out = tmp_path / "ack.x12"
    result = run("validate", str(GOLDENS_837P[0]), "--ack", str(out), "--now", NOW)
    assert result.exit_code == 0 and result.stdout == ""
    ack = segments(out.read_text())
    # sender and receiver reversed from the inbound ISA/GS
    assert ack[0].startswith("ISA*00*          *00*          *ZZ*SANDBOXPAYER   *ZZ*DERMRCM ")
    assert ack[1] == "GS*FA*SANDBOXPAYER*DERMRCM*20260302*1000*1*X*005010X231A1"
    assert ack[3:7] == [
        "AK1*HC*2001*005010X222A1",
        "AK2*837*0001*005010X222A1",
        "IK5*A",
        "AK9*A*1*1*1",
    ]


def test_validate_warnings_only_accepts_with_errors(tmp_path: Path) -> None:
    path = no_contact_835(tmp_path)
    out = tmp_path / "ack.x12"
    result = run("validate", str(path), "--ack", str(out), "--now", NOW)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "warning: 1000A N1 (segment 7): expected PER*BL (payer technical contact), got none\n"
    )
    ack = segments(out.read_text())
    assert [s for s in ack if s.split("*")[0] in ("IK3", "IK5", "AK9")] == [
        "IK3*N1*6*1000*3",
        "IK5*E*5",
        "AK9*E*1*1*1",
    ]
    assert not any(s.startswith("TA1") for s in ack)


def test_validate_errors_exit_1_and_a_bad_envelope_gets_a_ta1(tmp_path: Path) -> None:
    golden = GOLDENS_837P[0]
    bad = tmp_path / "bad.x12"
    bad.write_text(golden.read_text().replace("IEA*1*000002001", "IEA*1*000002009"))
    out = tmp_path / "ack.x12"
    result = run("validate", str(bad), "--ack", str(out), "--now", NOW, "--control-number", "7")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == (
        "error: IEA02 (segment 34): expected interchange control number '000002001' (ISA13), "
        "got '000002009'"
    )
    ack = segments(out.read_text())
    assert ack[1] == "TA1*000002001*260302*0930*R*001"
    assert ack[2] == "IEA*0*000000007"
    assert "AK9*A*1*1*1" in ack  # the group itself was fine


# -- malformed input ----------------------------------------------------------------------------


def test_missing_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "nope.x12"
    for args in (["parse", str(path)], ["validate", str(path)], ["build", "837p", str(path)]):
        result = run(*args)
        assert result.exit_code == 2, args
        assert result.stderr.startswith(f"error: {path}: "), result.stderr
        assert "Traceback" not in result.output


def test_no_isa_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "no-isa.x12"
    path.write_text("ST*837*0001~SE*2*0001~")
    result = run("parse", str(path))
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {path}: (segment 0): expected the interchange to start with ISA, got 'ST*'\n"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"model": {}}\n{"model": \n', "line 2: expected JSON, got Expecting value at column 11"),
        ("[1, 2]", "document: expected a JSON object, got list"),
        ("", "expected a JSON document, got none"),
        (
            '{"transaction": {"set": "835"}, "model": {}}',
            "document: transaction: expected an 837P, got '835'",
        ),
        ('{"transaction": null, "model": null}', "document: model: expected an object, got null"),
    ],
)
def test_bad_json_exits_2(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "claims.json"
    path.write_text(content)
    result = run("build", "837p", str(path))
    assert result.exit_code == 2
    assert result.stderr == f"error: {path}: {message}\n"


def test_a_model_that_does_not_read_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "claims.json"
    path.write_text('{"model": {"header": 5}}')
    result = run("build", "837p", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}: document: ")
    assert "Traceback" not in result.output


# -- streaming, in a real process ---------------------------------------------------------------


def big_835(path: Path, copies: int) -> int:
    """One interchange holding `copies` 835 transaction sets (a few MB)."""
    text = write_835(remittance(), PAYER_PARAMS, clock, control_numbers())
    segs = segments(text)
    head, body, tail = segs[:2], segs[2:-2], segs[-2:]
    out = [*head]
    for n in range(1, copies + 1):
        number = f"{n:04d}"
        st = ["ST", "835", number, *body[0].split("*")[3:]]
        out.append("*".join(st))
        out.extend(body[1:-1])
        out.append(f"SE*{len(body)}*{number}")
    out.append(f"GE*{copies}*{tail[0].split('*')[2]}")
    out.append(tail[1])
    path.write_text("~\n".join(out) + "~\n")
    return copies


def test_a_multi_megabyte_835_streams_through_a_real_process(tmp_path: Path) -> None:
    path = tmp_path / "big.835"
    copies = big_835(path, 4000)
    assert path.stat().st_size > 4_000_000
    command = [sys.executable, "-c", "from integration.cli import main; main()", "x12", "parse"]
    with subprocess.Popen(
        [*command, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())  # arrives while the rest is still being read
        assert first["transaction"]["control_number"] == "0001"
        assert first["problems"] == [] and first["model"]["header"]["payment"]["amount"] == "201.50"
        rest = sum(1 for _ in proc.stdout)
        _, stderr = proc.communicate()
    assert proc.returncode == 0, stderr
    assert 1 + rest == copies
    stats = subprocess.run(
        [*command, "--stats", str(path)], capture_output=True, text=True, check=False
    )
    assert stats.returncode == 0, stats.stderr
    summary = json.loads(stats.stdout)
    assert summary["by_set"] == {"835": copies}
    assert (summary["payments"], summary["claims"]) == (copies, 2 * copies)
    assert summary["bytes"] == path.stat().st_size
    assert summary["problems"] == {"error": 0, "warning": 0}
