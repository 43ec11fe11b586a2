"""NCCI PTP and MUE: reading CMS's file layouts, picking the edit in force for the date of
service, and the two rule families' findings and corrections."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from integration.coding.engine import Scrubber
from integration.coding.model import (
    LineFacts,
    ScrubRequest,
    WorkClaim,
    request_from_json,
    work_claim,
)
from integration.coding.ncci import (
    MueEdit,
    MueQuarter,
    MueTable,
    PtpEdit,
    PtpQuarter,
    PtpTable,
    RefdataError,
    index_ptp,
    parse_mue_file,
    parse_mue_text,
    parse_ptp_file,
    parse_ptp_text,
    quarter_from_name,
)
from integration.coding.rules import mue, ncci_ptp
from tests.support.coding import (
    FIXTURE_MUE,
    FIXTURE_PTP,
    cms_mue_text,
    cms_ptp_text,
    reference_files,
)

DOS = date(2026, 10, 1)


# -- reading the CMS layouts ---------------------------------------------------------------------


def test_ptp_fixture_in_cms_layout_reads_with_wrapped_header() -> None:
    parsed = parse_ptp_file(FIXTURE_PTP)
    assert parsed.header_line == 3
    edits = {(e.column1, e.column2): e for e in parsed.ptp if e.deletion is None}
    nail = edits[("11721", "11720")]
    assert nail.modifier_indicator == "0"
    assert nail.rationale == "HCPCS/CPT procedure code definition"
    assert edits[("11055", "17110")].modifier_indicator == "1"
    deleted = [e for e in parsed.ptp if (e.column1, e.column2) == ("11055", "17000")]
    assert [d.deletion for d in deleted] == [date(2019, 3, 31)]


def test_mue_fixture_with_bom_and_title_lines() -> None:
    parsed = parse_mue_file(FIXTURE_MUE)
    by_code = {m.code: m for m in parsed.mue}
    assert (by_code["17003"].units, by_code["17003"].mai) == (13, 2)
    assert (by_code["17311"].units, by_code["17311"].mai) == (4, 3)
    assert (by_code["J3301"].units, by_code["J3301"].mai) == (16, 3)


def test_shared_extract_spot_checks_from_provenance() -> None:
    ptp, mue_file = reference_files()
    units = {m.code: m.units for m in mue_file.mue}
    assert units["17003"] == 13 and units["11102"] == 1 and units["17312"] == 6
    pairs = {(e.column1, e.column2, e.modifier_indicator) for e in ptp.ptp if e.deletion is None}
    assert ("11104", "11102", "0") in pairs and ("11102", "17000", "1") in pairs


def test_ptp_one_line_header_and_comma_delimited_csv() -> None:
    text = (
        "Column 1,Column 2,*=in existence prior to 1996,Effective Date,"
        "Deletion Date *=no data,Modifier 0=not allowed 1=allowed 9=not applicable,"
        "PTP Edit Rationale\n"
        "17004,17000,*,20070101,*,0,HCPCS/CPT procedure code definition\n"
        "17004,17003,,20070101,20191231,1,Misuse\n"
    )
    parsed = parse_ptp_text("ccipra-v301r0-f1.csv", text)
    first, second = parsed.ptp
    assert first.prior_1996 and first.effective == date(2007, 1, 1) and first.deletion is None
    assert not second.prior_1996 and second.deletion == date(2019, 12, 31)


def test_missing_modifier_column_is_located() -> None:
    text = "title\nColumn 1\tColumn 2\tEffective Date\tDeletion Date\n11721\t11720\t20200101\t*\n"
    with pytest.raises(RefdataError) as err:
        parse_ptp_text("ccipra-v301r0-f2.txt", text)
    assert str(err.value).startswith("ccipra-v301r0-f2.txt line 2: expected a column for modifier")


def test_no_header_at_all_is_reported() -> None:
    with pytest.raises(RefdataError) as err:
        parse_mue_text("mue.csv", "a,b,c\n1,2,3\n")
    assert "mue.csv lines 1-2" in str(err.value)
    assert "'HCPCS/CPT Code'" in str(err.value)


def test_bad_modifier_indicator_names_line_and_column() -> None:
    rows = [
        {"column1": "11721", "column2": "11720", "modifier_indicator": "0"},
        {"column1": "17004", "column2": "17000", "modifier_indicator": "2"},
    ]
    with pytest.raises(RefdataError) as err:
        parse_ptp_text("ccipra-v301r0-f1.txt", cms_ptp_text(rows))
    # the header ends on line 6; the second edit is on line 8, the modifier in column 6
    assert str(err.value) == (
        "ccipra-v301r0-f1.txt line 8 column 6 (Modifier 0=not allowed 1=allowed 9=not applicable): "
        "expected modifier indicator 0, 1 or 9, got '2'"
    )


def test_bad_date_and_bad_units_are_located() -> None:
    rows = [{"column1": "11721", "column2": "11720", "modifier_indicator": "0"}]
    text = cms_ptp_text(rows).replace("\t*\t0\t", "\t2024-13-01\t0\t")
    with pytest.raises(RefdataError, match=r"line 7 column 5 .*got '2024-13-01'"):
        parse_ptp_text("f1.txt", text)
    mue_rows = [
        {
            "hcpcs": "17003",
            "mue_units": "thirteen",
            "mai": "2",
            "mai_description": "Date of Service Edit: Policy",
            "rationale": "x",
        }
    ]
    with pytest.raises(RefdataError, match=r"mue.csv line 4 column 2 .*whole number"):
        parse_mue_text("mue.csv", cms_mue_text(mue_rows))


def test_quarter_from_cms_file_names() -> None:
    assert quarter_from_name("ncci-ptp", "ccipra-v301r0-f1.txt") == "2024Q2"
    assert quarter_from_name("ncci-ptp", "ccipra-v310r0-f4.xlsx") == "2025Q1"
    assert quarter_from_name("mue", "MCR_MUE_PractitionerServices_Eff_07-01-2024.csv") == "2024Q3"
    assert quarter_from_name("mue", "mue.csv") is None


# -- the date of service picks the quarter and the edit ------------------------------------------


def _quarter(name: str, *edits: PtpEdit) -> PtpQuarter:
    return PtpQuarter(quarter=name, version="", files=(f"{name}.txt",), edits=index_ptp(edits))


def test_date_of_service_picks_the_quarter_and_the_edit_in_force() -> None:
    q2 = _quarter("2024Q2", PtpEdit("17110", "17000", "1", date(2019, 1, 1), None))
    q3 = _quarter("2024Q3", PtpEdit("17110", "17000", "0", date(2024, 7, 1), None))
    table = PtpTable([q3, q2])
    assert table.quarters[0].quarter == "2024Q2"
    found = table.edit("17110", "17000", date(2024, 5, 15))
    assert found is not None and found[0].modifier_indicator == "1"
    found = table.edit("17110", "17000", date(2026, 1, 1))  # after every quarter: the latest
    assert found is not None and found[0].modifier_indicator == "0"
    found = table.edit("17110", "17000", date(2020, 1, 1))  # before all: the earliest
    assert found is not None and found[1].quarter == "2024Q2"
    assert table.edit("17110", "17000", date(2018, 12, 31)) is None  # not yet effective


def test_deletion_date_is_the_last_day_in_force() -> None:
    old = PtpEdit("11102", "17000", "1", None, date(2019, 12, 31))
    table = PtpTable([_quarter("2024Q2", old)])
    assert table.edit("11102", "17000", date(2019, 12, 31)) is not None
    assert table.edit("11102", "17000", date(2020, 1, 1)) is None


# -- the rules -----------------------------------------------------------------------------------


def _work(*lines: tuple[str, int, list[str], LineFacts]) -> WorkClaim:
    request = request_from_json(
        {
            "claim": {
                "patient_control_number": "U-1",
                "total_charge": "100",
                "facility_code": "11",
                "diagnoses": [{"qualifier": "ABK", "code": "L84"}],
                "services": [
                    {
                        "line_number": i,
                        "procedure": {"qualifier": "HC", "code": code, "modifiers": mods},
                        "charge": "50",
                        "quantity": str(units),
                        "pointers": [1],
                        "dates": [{"qualifier": "472", "start": DOS.isoformat()}],
                    }
                    for i, (code, units, mods, _facts) in enumerate(lines, start=1)
                ],
            }
        }
    )
    facts = {i: f for i, (_c, _u, _m, f) in enumerate(lines, start=1)}
    return work_claim(ScrubRequest(claim=request.claim, payer=request.payer, line_facts=facts))


def _ptp_data(*edits: PtpEdit) -> ncci_ptp.PtpData:
    return ncci_ptp.PtpData(table=PtpTable([_quarter("2024Q2", *edits)]), mue_loaded=True)


def _active(work: WorkClaim) -> list[str]:
    return ["-".join([ln.code, *ln.modifiers]) for ln in work.lines if ln.active]


def test_mi0_removes_column2_even_with_59() -> None:
    work = _work(("11721", 1, [], LineFacts()), ("11720", 1, ["59"], LineFacts()))
    ncci_ptp.check(work, _ptp_data(PtpEdit("11721", "11720", "0", None, None)))
    assert _active(work) == ["11721"]
    (finding,) = work.findings
    assert finding.severity == "error" and finding.fix and finding.lines == (1, 2)
    assert "Modifier 59 does not change that" in finding.message


def test_mi1_different_sites_adds_59_for_a_payer_without_x_modifiers() -> None:
    work = _work(("11055", 1, [], LineFacts(site="foot")), ("17110", 1, [], LineFacts(site="hand")))
    data = _ptp_data(PtpEdit("11055", "17110", "1", None, None))
    policy = ncci_ptp.PayerPolicy(no_x_payer_ids=frozenset({""}))
    ncci_ptp.check(work, ncci_ptp.PtpData(data.table, True, policy))
    assert _active(work) == ["11055", "17110-59"]


def test_mi1_four_modifiers_leaves_it_to_a_person() -> None:
    full = ["GA", "KX", "Q6", "GY"]
    work = _work(
        ("11055", 1, [], LineFacts(site="foot")), ("17110", 1, full, LineFacts(site="hand"))
    )
    ncci_ptp.check(work, _ptp_data(PtpEdit("11055", "17110", "1", None, None)))
    (finding,) = work.findings
    assert finding.fix is None and "no room" in finding.message
    assert _active(work) == ["11055", "17110-GA-KX-Q6-GY"]


def test_mi1_em_without_25_is_never_given_xs() -> None:
    work = _work(
        ("11720", 1, [], LineFacts(site="toe")), ("99213", 1, ["XS"], LineFacts(site="face"))
    )
    ncci_ptp.check(work, _ptp_data(PtpEdit("11720", "99213", "1", None, None)))
    (finding,) = work.findings
    assert finding.severity == "error" and finding.fix is None
    assert "modifier 25" in finding.message
    assert _active(work) == ["11720", "99213-XS"]


def test_mi1_different_anatomic_modifiers_bypass() -> None:
    work = _work(("11720", 1, ["TA"], LineFacts()), ("11055", 1, ["T5"], LineFacts()))
    ncci_ptp.check(work, _ptp_data(PtpEdit("11720", "11055", "1", None, None)))
    (finding,) = work.findings
    assert finding.severity == "info" and "T5" in finding.message


def test_mi9_and_other_days_are_left_alone() -> None:
    work = _work(("11201", 1, [], LineFacts()), ("17000", 1, [], LineFacts()))
    ncci_ptp.check(work, _ptp_data(PtpEdit("11201", "17000", "9", None, None)))
    assert work.findings == []
    other_day = _work(("11721", 1, [], LineFacts()), ("11720", 1, [], LineFacts()))
    other_day.lines[1].service_date = date(2026, 10, 2)
    ncci_ptp.check(other_day, _ptp_data(PtpEdit("11721", "11720", "0", None, None)))
    assert other_day.findings == [] and _active(other_day) == ["11721", "11720"]


def _mue_data(*edits: MueEdit) -> mue.MueData:
    quarter = MueQuarter("2024Q2", ("mue.csv",), {e.code: e for e in edits})
    return mue.MueData(table=MueTable([quarter]), ptp_loaded=True)


def test_mue_mai1_is_per_line_and_not_fixed() -> None:
    work = _work(("J3301", 3, [], LineFacts()), ("J3301", 3, [], LineFacts()))
    mue.check(work, _mue_data(MueEdit("J3301", 4, 1)))
    assert work.findings == []  # 6 on the day, but each line is within 4
    work = _work(("J3301", 5, [], LineFacts()))
    mue.check(work, _mue_data(MueEdit("J3301", 4, 1)))
    (finding,) = work.findings
    assert finding.rule == "mue.line" and finding.fix is None
    assert "J3301 x 5" in finding.message and "MUE of 4" in finding.message
    assert work.lines[0].units == Decimal(5)


def test_mue_mai2_caps_the_day_from_the_last_line_back() -> None:
    work = _work(("17003", 10, [], LineFacts()), ("17003", 6, [], LineFacts()))
    mue.check(work, _mue_data(MueEdit("17003", 13, 2)))
    assert [ln.units for ln in work.lines] == [Decimal(10), Decimal(3)]
    (finding,) = work.findings
    assert finding.fix == "Capped 17003 at 13 units for 2026-10-01 (line 2: 6 -> 3)."
    assert "16 units" in finding.message


def test_no_tables_one_info_per_claim() -> None:
    scrubber = Scrubber.load(families=("ncci_ptp", "mue"), reference={})
    request = request_from_json(
        {
            "claim": {
                "patient_control_number": "U-2",
                "total_charge": "100",
                "facility_code": "11",
                "diagnoses": [{"qualifier": "ABK", "code": "B351"}],
                "services": [
                    {
                        "line_number": 1,
                        "procedure": {"qualifier": "HC", "code": "11721", "modifiers": []},
                        "charge": "100",
                        "quantity": "3",
                        "pointers": [1],
                        "dates": [{"qualifier": "472", "start": "2026-10-01"}],
                    }
                ],
            }
        }
    )
    result = scrubber.scrub(request)
    (finding,) = result.findings
    assert finding.severity == "info"
    assert finding.message.startswith(
        "NCCI/MUE tables not loaded: run dermrcm refdata import-ncci/import-mue"
    )
    assert result.corrected.services[0].quantity == Decimal(3)


def test_fixture_files_are_cms_layout_on_disk() -> None:
    assert FIXTURE_PTP.name.startswith("ccipra-v301r0-f1")
    raw: bytes = Path(FIXTURE_MUE).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")


# -- the .xlsx CMS posts -------------------------------------------------------------------------


def _as_xlsx(text_file: Path, out: Path, delimiter: str) -> Path:
    """The fixture as CMS's spreadsheet has it: the same title and header rows, codes as text,
    dates as date cells and numbers as numbers (what openpyxl hands back for a real file)."""
    import csv
    from datetime import datetime

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    raw = text_file.read_text(encoding="utf-8-sig")
    for row in csv.reader(raw.splitlines(), delimiter=delimiter):
        cells: list[object] = []
        for i, cell in enumerate(row):
            if len(cell) == 8 and cell.isdigit() and cell.startswith(("19", "20")):
                cells.append(datetime.strptime(cell, "%Y%m%d"))
            elif cell.isdigit() and i > 1 and len(cell) < 5:
                cells.append(int(cell))
            else:
                cells.append(cell)
        sheet.append(cells)
    book.save(out)
    return out


def test_ptp_xlsx_reads_the_same_edits_as_the_text_file(tmp_path: Path) -> None:
    xlsx = _as_xlsx(FIXTURE_PTP, tmp_path / "ccipra-v301r0-f1.xlsx", "\t")
    from_text = parse_ptp_file(FIXTURE_PTP)
    from_xlsx = parse_ptp_file(xlsx)
    assert len(from_xlsx.ptp) == len(from_text.ptp) == 179
    assert from_xlsx.ptp == from_text.ptp
    assert from_xlsx.header_line == from_text.header_line


def test_mue_xlsx_reads_the_same_units_as_the_csv(tmp_path: Path) -> None:
    xlsx = _as_xlsx(FIXTURE_MUE, tmp_path / "MCR_MUE_PractitionerServices_Eff_04-01-2024.xlsx", ",")
    by_code = {m.code: m for m in parse_mue_file(xlsx).mue}
    assert by_code == {m.code: m for m in parse_mue_file(FIXTURE_MUE).mue}
    assert (by_code["17003"].units, by_code["17003"].mai) == (13, 2)
