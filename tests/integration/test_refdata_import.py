"""`dermrcm refdata import-ncci` / `import-mue` on SQLite and PostgreSQL: CMS files in, the
scrubber's tables out; a quarter imported again is replaced whole, other quarters stay, a bad
file changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from integration.coding.ncci import MueTable, PtpTable
from integration.coding.refdata_cli import refdata_command
from integration.coding.reference import load_reference
from integration.store.database import make_engine, session_factory
from integration.store.models import NcciPtpEdit
from tests.support.coding import FIXTURE_MUE, FIXTURE_PTP, cms_ptp_text


@pytest.fixture
def engine(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(refdata_command, list(args))
    return result.exit_code, result.stdout, result.stderr


def _edits(engine: Engine) -> int:
    with session_factory(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(NcciPtpEdit)) or 0)


def test_nothing_imported_means_no_tables(engine: Engine) -> None:
    assert load_reference(engine) == {}  # not even migrated
    code, out, _ = _run("list")
    assert code == 0 and out == ""


def test_import_both_and_load_for_the_scrubber(engine: Engine) -> None:
    code, out, err = _run("import-ncci", str(FIXTURE_PTP))
    assert code == 0, err
    record = json.loads(out)
    assert (record["kind"], record["quarter"], record["version"]) == ("ncci-ptp", "2024Q2", "30.1")
    assert record["rows"] == 179 and record["replaced"] is False
    code, out, err = _run("import-mue", str(FIXTURE_MUE))
    assert code == 0, err
    assert json.loads(out)["quarter"] == "2024Q2"

    reference = load_reference(engine)
    ptp, mue = reference["ncci-ptp"], reference["mue"]
    assert isinstance(ptp, PtpTable) and isinstance(mue, MueTable)
    found = ptp.edit("11721", "11720", date(2024, 5, 1))
    assert found is not None and found[0].modifier_indicator == "0"
    assert found[1].label == "NCCI PTP practitioner edits version 30.1, 2024Q2"
    assert ptp.edit("11055", "17000", date(2024, 5, 1)) is None  # deleted 2019-03-31
    hit = mue.edit("17003", date(2024, 5, 1))
    assert hit is not None and (hit[0].units, hit[0].mai) == (13, 2)

    code, out, _ = _run("list")
    assert [json.loads(line)["kind"] for line in out.splitlines()] == ["mue", "ncci-ptp"]


def test_same_quarter_replaced_other_quarter_kept(engine: Engine, tmp_path: Path) -> None:
    assert _run("import-ncci", str(FIXTURE_PTP))[0] == 0
    q3 = tmp_path / "ccipra-v302r0-f1.txt"  # version 30.2: 2024Q3, the nail edit changed
    q3.write_text(
        cms_ptp_text(
            [{"column1": "11721", "column2": "11720", "modifier_indicator": "1", "rationale": "x"}]
        )
    )
    code, out, err = _run("import-ncci", str(q3))
    assert code == 0, err
    assert json.loads(out)["quarter"] == "2024Q3"
    assert _edits(engine) == 180

    smaller = tmp_path / "again.txt"
    smaller.write_text(
        cms_ptp_text(
            [
                {"column1": "11721", "column2": "11720", "modifier_indicator": "0"},
                {"column1": "17004", "column2": "17000", "modifier_indicator": "0"},
            ]
        )
    )
    code, out, err = _run("import-ncci", "--quarter", "2024q2", str(smaller))
    assert code == 0, err
    assert json.loads(out)["replaced"] is True
    assert _edits(engine) == 3  # the old 179 rows of 2024Q2 are gone, 2024Q3's row stays

    ptp = load_reference(engine)["ncci-ptp"]
    assert [q.quarter for q in ptp.quarters] == ["2024Q2", "2024Q3"]
    may = ptp.edit("11721", "11720", date(2024, 5, 1))
    august = ptp.edit("11721", "11720", date(2024, 8, 1))
    assert may is not None and may[0].modifier_indicator == "0"
    assert august is not None and august[0].modifier_indicator == "1"
    assert ptp.edit("11055", "17110", date(2024, 5, 1)) is None


def test_a_bad_file_is_refused_and_nothing_changes(engine: Engine, tmp_path: Path) -> None:
    assert _run("import-ncci", str(FIXTURE_PTP))[0] == 0
    bad = tmp_path / "ccipra-v301r0-f2.txt"
    bad.write_text(
        cms_ptp_text(
            [
                {"column1": "11721", "column2": "11720", "modifier_indicator": "0"},
                {"column1": "1172", "column2": "11720", "modifier_indicator": "0"},
            ]
        )
    )
    code, _, err = _run("import-ncci", str(FIXTURE_PTP), str(bad))
    assert code == 1
    assert "ccipra-v301r0-f2.txt line 8 column 1 (Column 1): expected a 5-character" in err
    assert _edits(engine) == 179

    nameless = tmp_path / "edits.txt"
    nameless.write_text(FIXTURE_PTP.read_text())
    code, _, err = _run("import-ncci", str(nameless))
    assert code == 1 and "pass --quarter" in err
