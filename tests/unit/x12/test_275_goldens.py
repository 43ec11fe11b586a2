"""The 275 we send for an appeal, frozen in fixtures/x12/275/ (UPDATE_GOLDENS=1 rewrites it:
review the diff before committing). Clock and control numbers are injected, so the file is
byte-for-byte deterministic; it reads back, without problems, to the model that wrote it, the
PDF intact although it holds every delimiter."""

from __future__ import annotations

import io
import json
import os

from click.testing import CliRunner

from integration.paths import fixtures_dir
from integration.x12.envelope import read_transactions_from
from integration.x12.errors import Problem
from integration.x12.guides import parse_transaction
from integration.x12.t275_005010x210 import read_275, render_275, write_275
from tests.unit.x12.scenarios_275 import CLINIC_PARAMS, TINY_PDF, appeal, clock, control_numbers

GOLDEN = fixtures_dir() / "x12" / "275" / "unsolicited-appeal-pdf.275"


def written() -> bytes:
    return write_275(appeal(), CLINIC_PARAMS, clock, control_numbers(), segment_suffix="\n")


def test_golden_is_what_we_write() -> None:
    data = written()
    if os.environ.get("UPDATE_GOLDENS") == "1":
        GOLDEN.write_bytes(data)
    assert GOLDEN.exists(), f"{GOLDEN} is missing: run with UPDATE_GOLDENS=1 and review it"
    assert data == GOLDEN.read_bytes()


def test_golden_reads_back_to_its_model_and_its_pdf() -> None:
    models, problems = read_275(GOLDEN.read_bytes())
    assert problems == []
    assert models == [appeal()]
    assert models[0].documents[0].data == TINY_PDF
    assert models[0].patient.payer_claim_number == "PCN20260917001"
    assert models[0].patient.patient_control_number == "CLM-2026-0042"


def test_golden_renders_back_byte_for_byte_in_its_own_envelope() -> None:
    (model,), _ = read_275(GOLDEN.read_bytes())
    assert model.envelope is not None
    assert render_275(model, model.envelope, segment_suffix="\n") == GOLDEN.read_bytes()


def test_segment_count_counts_the_bin_as_one_segment() -> None:
    text = GOLDEN.read_bytes().decode("latin-1")
    assert "SE*16*0001~" in text  # ST .. SE: 16 segments, though the PDF holds three '~'
    assert f"BIN*{len(TINY_PDF)}*".encode() in GOLDEN.read_bytes()


def test_registry_reads_it_streamed_in_small_chunks() -> None:
    envelope_problems: list[Problem] = []
    stream = io.BytesIO(GOLDEN.read_bytes())
    (txn,) = list(read_transactions_from(stream, envelope_problems, chunk_size=5))
    guide, model, problems = parse_transaction(txn)
    assert guide is not None and guide.name == "275"
    assert problems == [] and envelope_problems == []
    assert model == appeal()
    assert guide.counts(model) == {"attachments": 1}


def test_dermrcm_x12_parse_prints_the_attachment_without_its_bytes() -> None:
    from integration.cli import main

    result = CliRunner().invoke(main, ["x12", "parse", str(GOLDEN)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output.splitlines()[0])
    text = json.dumps(doc)
    assert "PCN20260917001" in text
    assert f'"octets": {len(TINY_PDF)}' in text
    assert "application/pdf" in text
    assert "endstream" not in text  # the document itself is not printed
