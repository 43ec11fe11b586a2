"""The scrubber the tests use: every rule family, with the NCCI/MUE test tables.

The NCCI tables come from the dermatology extracts in ../shared/refdata/ (CMS practitioner PTP
edits v30.1 and MUEs of April 2024; see its PROVENANCE.md: CPT numbers under the AMA licence, so
test data only, never shipped). They are written out here in CMS's own published layouts (title
lines, a wrapped header, tab-delimited PTP rows with YYYYMMDD dates and "*" for no deletion; the
MUE CSV with a byte-order mark and "2 Date of Service Edit: Policy" indicators) and read back with
the production reader, so the tests exercise the same path as `dermrcm refdata import-*`. When
../shared is missing the small excerpts in fixtures/coding/cms/ stand in (same layouts).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from integration.coding.engine import Scrubber
from integration.coding.ncci import (
    MueTable,
    ParsedFile,
    PtpTable,
    mue_quarter,
    parse_mue_file,
    parse_mue_text,
    parse_ptp_file,
    parse_ptp_text,
    ptp_quarter,
)

ROOT = Path(__file__).resolve().parents[2]
SHARED_REFDATA = ROOT.parent / "shared" / "refdata"
SHARED_PTP = SHARED_REFDATA / "ncci_ptp_practitioner_derm_v30.1_2024-04.csv"
SHARED_MUE = SHARED_REFDATA / "ncci_mue_derm_2024-04.csv"
CMS_FIXTURES = ROOT / "fixtures" / "coding" / "cms"
FIXTURE_PTP = CMS_FIXTURES / "ccipra-v301r0-f1-derm-excerpt.txt"
FIXTURE_MUE = CMS_FIXTURES / "MCR_MUE_PractitionerServices_Eff_04-01-2024-derm-excerpt.csv"
TEST_QUARTER = "2024Q2"

_AMA_LINE = (
    "CPT codes, descriptions and other data only are copyright 2023 American Medical "
    "Association. All rights reserved."
)


def _yyyymmdd(iso: str) -> str:
    return iso.replace("-", "") if iso else ""


def cms_ptp_text(rows: Iterable[Mapping[str, str]]) -> str:
    """Rows of the shared PTP extract (column1, column2, modifier_indicator, effective,
    deletion, rationale, in_existence_prior_1996) in the CMS ccipra-*.txt layout."""
    lines = [
        _AMA_LINE,
        "",
        "Column 1\tColumn 2\t*=in existence\tEffective\tDeletion\tModifier\tPTP Edit Rationale",
        "\t\tprior to 1996\tDate\tDate\t0=not allowed\t",
        "\t\t\t\t*=no data\t1=allowed\t",
        "\t\t\t\t\t9=not applicable\t",
    ]
    for r in rows:
        lines.append(
            "\t".join(
                [
                    r["column1"],
                    r["column2"],
                    "*" if r.get("in_existence_prior_1996") else "",
                    _yyyymmdd(r.get("effective", "")),
                    _yyyymmdd(r.get("deletion", "")) or "*",
                    r["modifier_indicator"],
                    r.get("rationale", ""),
                ]
            )
        )
    return "\r\n".join(lines) + "\r\n"


def cms_mue_text(rows: Iterable[Mapping[str, str]]) -> str:
    """Practitioner rows of the shared MUE extract in the CMS MCR_MUE_PractitionerServices CSV
    layout (with the byte-order mark CMS's CSV export carries)."""
    out = [
        f'"{_AMA_LINE}"',
        '"Medically Unlikely Edits: Practitioner Services, effective 04/01/2024"',
        '"HCPCS/CPT Code","Practitioner Services MUE Values","MUE Adjudication Indicator",'
        '"MUE Rationale"',
    ]
    for r in rows:
        if r.get("service_type", "Practitioner") != "Practitioner":
            continue
        indicator = f"{r['mai']} {r['mai_description']}"
        out.append(f'{r["hcpcs"]},{r["mue_units"]},"{indicator}","{r["rationale"]}"')
    return "\ufeff" + "\r\n".join(out) + "\r\n"


def shared_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def have_shared_refdata() -> bool:
    return SHARED_PTP.is_file() and SHARED_MUE.is_file()


@cache
def reference_files() -> tuple[ParsedFile, ParsedFile]:
    """The PTP and MUE test tables, parsed by the production reader from CMS layouts."""
    if have_shared_refdata():
        ptp = parse_ptp_text(
            "ccipra-v301r0-derm-extract.txt", cms_ptp_text(shared_rows(SHARED_PTP))
        )
        mue = parse_mue_text(
            "MCR_MUE_PractitionerServices_Eff_04-01-2024-derm-extract.csv",
            cms_mue_text(shared_rows(SHARED_MUE)),
        )
        return ptp, mue
    return parse_ptp_file(FIXTURE_PTP), parse_mue_file(FIXTURE_MUE)


@cache
def reference_for_tests() -> dict[str, Any]:
    ptp, mue = reference_files()
    return {
        "ncci-ptp": PtpTable([ptp_quarter(TEST_QUARTER, [ptp])]),
        "mue": MueTable([mue_quarter(TEST_QUARTER, [mue])]),
    }


@cache
def scrubber_for_tests() -> Scrubber:
    return Scrubber.load(reference=reference_for_tests())
