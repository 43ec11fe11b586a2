"""CMS NCCI tables: reading the files CMS publishes, and the in-memory index the scrubber uses.

Two file families, both downloaded by the user from cms.gov each quarter (they carry CPT code
numbers under the AMA licence, so derm-rcm ships the reader, never the tables):

- Medicare NCCI procedure-to-procedure (PTP) edits for practitioners, `ccipra-v301r0-f1.txt`
  ... `-f4.txt` (or the .xlsx CMS posts beside them): a few copyright/title lines, a header row
  (sometimes wrapped over several lines) naming "Column 1", "Column 2", "*=in existence prior to
  1996", "Effective Date", "Deletion Date *=no data", "Modifier 0=not allowed 1=allowed 9=not
  applicable", "PTP Edit Rationale", then one tab-delimited row per edit: dates YYYYMMDD, the
  deletion date "*" when the edit is in force.
- Medically unlikely edits (MUE) for practitioner services,
  `MCR_MUE_PractitionerServices_Eff_04-01-2024.csv` (or .xlsx): copyright lines, then the header
  "HCPCS/CPT Code", "Practitioner Services MUE Values", "MUE Adjudication Indicator" (values like
  "2 Date of Service Edit: Policy"), "MUE Rationale".

Files are found by their header row, not by position: a byte-order mark, title lines, a header
wrapped over several lines, tab or comma delimiters are all accepted. A file whose columns cannot
be found, or a row whose value is not what the column holds, is rejected with a `RefdataError`
naming the file, the line and the column.

The index (`PtpTable`, `MueTable`) holds every imported quarter; the date of service picks the
quarter (the one covering it, else the latest one before it, else the earliest one), then the
edit in force on that date by its effective and deletion dates (both inclusive: CMS ends a
deleted edit on the last day of a quarter, e.g. 20191231, and starts its successor the next day).
"""

from __future__ import annotations

import bisect
import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

Kind = Literal["ncci-ptp", "mue"]
MODIFIER_INDICATORS = ("0", "1", "9")
MAI_DESCRIPTIONS = {
    1: "Line Edit",
    2: "Date of Service Edit: Policy",
    3: "Date of Service Edit: Clinical",
}
_CODE = re.compile(r"^[0-9A-Z]{4}[0-9A-Z]$")
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
_HEADER_SCAN_LINES = 40


class RefdataError(ValueError):
    """A CMS file we cannot read: `where` is "FILE line N column C (name)"."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


# -- quarters ------------------------------------------------------------------------------------


def parse_quarter(text: str) -> str:
    """ "2024Q2" (also "2024q2", "2024-Q2") normalised; ValueError otherwise."""
    norm = text.strip().upper().replace("-", "")
    if not _QUARTER.match(norm):
        raise ValueError(f"quarter: expected YYYYQn such as 2024Q2, got {text!r}")
    return norm


def quarter_start(quarter: str) -> date:
    m = _QUARTER.match(quarter)
    if not m:
        raise ValueError(f"quarter: expected YYYYQn such as 2024Q2, got {quarter!r}")
    return date(int(m.group(1)), 3 * (int(m.group(2)) - 1) + 1, 1)


def quarter_of(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def ptp_version_of(name: str) -> str | None:
    """The NCCI version a PTP file name carries: "ccipra-v301r0-f1.txt" -> "30.1",
    "..._v30.1_..." -> "30.1"; None when it has none."""
    m = re.search(r"v(\d{2})(\d)r\d", name, re.IGNORECASE) or re.search(
        r"v(\d{2})\.(\d)", name, re.IGNORECASE
    )
    return f"{int(m.group(1))}.{m.group(2)}" if m else None


def quarter_from_name(kind: Kind, name: str) -> str | None:
    """The quarter a CMS file name says it is for, or None.

    PTP: NCCI version N.M is in force from quarter M+1 of 1994+N (30.1 -> 2024Q2; CMS numbers
    each January's release N.0). MUE: "Eff_04-01-2024" -> 2024Q2."""
    if kind == "ncci-ptp":
        version = ptp_version_of(name)
        if version is not None:
            major, minor = version.split(".")
            if 0 <= int(minor) <= 3:
                return f"{1994 + int(major)}Q{int(minor) + 1}"
    m = re.search(r"Eff_(\d{2})-(\d{2})-(\d{4})", name, re.IGNORECASE)
    if m:
        return quarter_of(date(int(m.group(3)), int(m.group(1)), int(m.group(2))))
    m = re.search(r"(20\d{2})-(\d{2})(?!\d)", name)
    if m and 1 <= int(m.group(2)) <= 12:
        return quarter_of(date(int(m.group(1)), int(m.group(2)), 1))
    return None


# -- the edits -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PtpEdit:
    column1: str
    column2: str
    modifier_indicator: str  # "0" not allowed, "1" allowed with an NCCI-associated modifier, "9"
    effective: date | None  # None: the file gave none (in force from the start)
    deletion: date | None  # None: in force ("*" in the CMS file)
    rationale: str = ""
    prior_1996: bool = False

    def in_force(self, day: date | None) -> bool:
        if day is None:
            return self.deletion is None
        if self.effective is not None and day < self.effective:
            return False
        return self.deletion is None or day <= self.deletion


@dataclass(frozen=True, slots=True)
class MueEdit:
    code: str
    units: int
    mai: int  # 1 line edit, 2 date of service policy, 3 date of service clinical
    rationale: str = ""

    @property
    def mai_description(self) -> str:
        return MAI_DESCRIPTIONS[self.mai]


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """What one CMS file held: its name, the rows read and where the header was."""

    name: str
    header_line: int
    ptp: tuple[PtpEdit, ...] = ()
    mue: tuple[MueEdit, ...] = ()


# -- reading rows from .txt / .csv / .xlsx -------------------------------------------------------


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")  # pragma: no cover - cp1252 leaves only 5 bytes undecodable


def _text_rows(name: str, text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of a delimited text file: tab when its lines have tabs, else comma."""
    lines = text.splitlines()
    sample = lines[: _HEADER_SCAN_LINES * 2]
    delimiter = "\t" if sum(line.count("\t") for line in sample) else ","
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)
    try:
        for cells in reader:
            yield reader.line_num, [c.strip().lstrip("\ufeff") for c in cells]
    except csv.Error as exc:
        raise RefdataError(f"{name} line {reader.line_num}", f"unreadable row ({exc})") from exc


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        import openpyxl
    except ImportError as exc:
        raise RefdataError(
            path.name,
            "reading .xlsx needs openpyxl (pip install openpyxl), or use the .txt/.csv CMS posts",
        ) from exc
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_cell_text(v) for v in row]
    finally:
        book.close()


def file_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _xlsx_rows(path)
    return _text_rows(path.name, _decode(path.read_bytes()))


# -- finding the columns -------------------------------------------------------------------------


def _norm(cell: str) -> str:
    return re.sub(r"[^a-z0-9*=/]+", " ", cell.lower()).strip()


_PTP_COLUMNS: dict[str, tuple[str, ...]] = {
    # field: patterns on the normalised header text of a column (first match wins)
    "column1": (r"^column ?1\b", r"^column one\b"),
    "column2": (r"^column ?2\b", r"^column two\b"),
    "prior_1996": (r"prior to 1996",),
    "effective": (r"^effective",),
    "deletion": (r"^deletion",),
    "modifier": (r"^modifier",),
    "rationale": (r"rationale",),
}
_PTP_REQUIRED = ("column1", "column2", "effective", "deletion", "modifier")
_MUE_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": (r"hcpcs", r"^cpt code"),
    "units": (r"mue values?$", r"mue value", r"^mue units?$"),
    "mai": (r"adjudication indicator", r"^mai$"),
    "rationale": (r"rationale",),
}
_MUE_REQUIRED = ("code", "units", "mai")


def _match_columns(
    header: Sequence[str], patterns: Mapping[str, tuple[str, ...]]
) -> dict[str, int]:
    found: dict[str, int] = {}
    for fld, options in patterns.items():
        for i, cell in enumerate(header):
            text = _norm(cell)
            if i not in found.values() and any(re.search(p, text) for p in options):
                found[fld] = i
                break
    return found


@dataclass(slots=True)
class _Layout:
    header_line: int
    columns: dict[str, int]
    names: list[str] = field(default_factory=list)


def _find_layout(
    name: str,
    rows: Iterator[tuple[int, list[str]]],
    patterns: Mapping[str, tuple[str, ...]],
    required: Sequence[str],
    looks_like: str,
) -> tuple[_Layout, list[tuple[int, list[str]]]]:
    """The header row (with continuation lines folded in) and the rows read past it that are not
    header continuations. Raises a located RefdataError when the columns are not there."""
    header: list[str] | None = None
    header_line = 0
    best: tuple[int, int, list[str]] | None = None  # most required columns seen: (n, line, cells)
    pending: list[tuple[int, list[str]]] = []
    scanned = 0
    for number, cells in rows:
        scanned += 1
        if header is None:
            cols = _match_columns(cells, patterns)
            have = sum(1 for f in required if f in cols)
            if best is None or have > best[0]:
                best = (have, number, cells)
            if ("column1" in cols and "column2" in cols) or ("code" in cols and "units" in cols):
                header, header_line = list(cells), number
            elif scanned >= _HEADER_SCAN_LINES:
                break
            continue
        first = cells[0] if cells else ""
        if not pending and (not first or not _CODE.match(first.upper())):
            # a wrapped header: fold the text into the header's columns
            for i, cell in enumerate(cells):
                if not cell:
                    continue
                if i >= len(header):
                    header.extend([""] * (i + 1 - len(header)))
                header[i] = f"{header[i]} {cell}".strip()
            continue
        pending.append((number, cells))
        break
    if header is None:
        seen = ""
        if best is not None and best[0]:
            seen = f"; closest was line {best[1]}: {' | '.join(c for c in best[2] if c)[:200]}"
        raise RefdataError(
            f"{name} lines 1-{scanned}",
            f"expected a header row naming {looks_like}, found none{seen}",
        )
    columns = _match_columns(header, patterns)
    missing = [f for f in required if f not in columns]
    if missing:
        got = ", ".join(repr(h) for h in header if h) or "no column names"
        raise RefdataError(
            f"{name} line {header_line}",
            f"expected a column for {', '.join(missing)}, got {got}",
        )
    return _Layout(header_line, columns, header), pending


def _located(name: str, number: int, layout: _Layout, fld: str) -> str:
    index = layout.columns[fld]
    label = layout.names[index] if index < len(layout.names) else fld
    return f"{name} line {number} column {index + 1} ({label.splitlines()[0][:60]})"


def _cell(cells: Sequence[str], layout: _Layout, fld: str) -> str:
    index = layout.columns.get(fld)
    if index is None or index >= len(cells):
        return ""
    return cells[index].strip()


def _date(value: str, where: str) -> date | None:
    if value in ("", "*"):
        return None
    digits = value.replace("-", "")
    if len(digits) == 8 and digits.isdigit():
        try:
            return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        except ValueError:
            pass
    raise RefdataError(where, f"expected a date YYYYMMDD or '*', got {value!r}")


def _code(value: str, where: str) -> str:
    code = value.strip().upper()
    if not _CODE.match(code):
        raise RefdataError(where, f"expected a 5-character HCPCS/CPT code, got {value!r}")
    return code


def parse_ptp_rows(name: str, rows: Iterable[tuple[int, list[str]]]) -> ParsedFile:
    it = iter(rows)
    layout, pending = _find_layout(
        name,
        it,
        _PTP_COLUMNS,
        _PTP_REQUIRED,
        "'Column 1', 'Column 2', 'Effective Date', 'Deletion Date' and 'Modifier'",
    )
    edits: list[PtpEdit] = []
    for number, cells in _chain(pending, it):
        if not any(cells):
            continue
        first = _cell(cells, layout, "column1")
        if not first and not _cell(cells, layout, "column2"):
            continue  # a trailing note line
        column1 = _code(first, _located(name, number, layout, "column1"))
        column2 = _code(_cell(cells, layout, "column2"), _located(name, number, layout, "column2"))
        indicator = _cell(cells, layout, "modifier")
        if indicator not in MODIFIER_INDICATORS:
            raise RefdataError(
                _located(name, number, layout, "modifier"),
                f"expected modifier indicator 0, 1 or 9, got {indicator!r}",
            )
        edits.append(
            PtpEdit(
                column1=column1,
                column2=column2,
                modifier_indicator=indicator,
                effective=_date(
                    _cell(cells, layout, "effective"), _located(name, number, layout, "effective")
                ),
                deletion=_date(
                    _cell(cells, layout, "deletion"), _located(name, number, layout, "deletion")
                ),
                rationale=_cell(cells, layout, "rationale")[:200],
                prior_1996=_cell(cells, layout, "prior_1996") not in ("", "0"),
            )
        )
    if not edits:
        raise RefdataError(
            f"{name} line {layout.header_line}", "expected PTP edit rows after the header, got none"
        )
    return ParsedFile(name=name, header_line=layout.header_line, ptp=tuple(edits))


def parse_mue_rows(name: str, rows: Iterable[tuple[int, list[str]]]) -> ParsedFile:
    it = iter(rows)
    layout, pending = _find_layout(
        name,
        it,
        _MUE_COLUMNS,
        _MUE_REQUIRED,
        "'HCPCS/CPT Code', 'Practitioner Services MUE Values' and 'MUE Adjudication Indicator'",
    )
    edits: dict[str, MueEdit] = {}
    for number, cells in _chain(pending, it):
        if not any(cells):
            continue
        raw_code = _cell(cells, layout, "code")
        if not raw_code:
            continue
        code = _code(raw_code, _located(name, number, layout, "code"))
        units_text = _cell(cells, layout, "units")
        if not units_text.isdigit():
            raise RefdataError(
                _located(name, number, layout, "units"),
                f"expected a whole number of units, got {units_text!r}",
            )
        mai_text = _cell(cells, layout, "mai")
        m = re.match(r"^\s*([123])\b", mai_text)
        if not m:
            raise RefdataError(
                _located(name, number, layout, "mai"),
                f"expected an adjudication indicator starting 1, 2 or 3, got {mai_text!r}",
            )
        if code in edits:
            raise RefdataError(
                _located(name, number, layout, "code"), f"code {code} is listed twice"
            )
        edits[code] = MueEdit(
            code=code,
            units=int(units_text),
            mai=int(m.group(1)),
            rationale=_cell(cells, layout, "rationale")[:200],
        )
    if not edits:
        raise RefdataError(
            f"{name} line {layout.header_line}", "expected MUE rows after the header, got none"
        )
    return ParsedFile(name=name, header_line=layout.header_line, mue=tuple(edits.values()))


def _chain(
    first: list[tuple[int, list[str]]], rest: Iterable[tuple[int, list[str]]]
) -> Iterator[tuple[int, list[str]]]:
    yield from first
    yield from rest


def parse_ptp_file(path: Path) -> ParsedFile:
    return parse_ptp_rows(path.name, file_rows(path))


def parse_mue_file(path: Path) -> ParsedFile:
    return parse_mue_rows(path.name, file_rows(path))


def parse_ptp_text(name: str, text: str) -> ParsedFile:
    return parse_ptp_rows(name, _text_rows(name, text))


def parse_mue_text(name: str, text: str) -> ParsedFile:
    return parse_mue_rows(name, _text_rows(name, text))


# -- the in-memory index -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PtpQuarter:
    quarter: str
    version: str  # the NCCI version, e.g. "30.1" ("" when the file names carry none)
    files: tuple[str, ...]
    edits: Mapping[tuple[str, str], tuple[PtpEdit, ...]]

    @property
    def label(self) -> str:
        version = f"version {self.version}, " if self.version else ""
        return f"NCCI PTP practitioner edits {version}{self.quarter}"


@dataclass(frozen=True, slots=True)
class MueQuarter:
    quarter: str
    files: tuple[str, ...]
    edits: Mapping[str, MueEdit]

    @property
    def label(self) -> str:
        names = ", ".join(self.files)
        return f"NCCI MUE practitioner services {self.quarter} ({names})"


def _deletion_order(edit: PtpEdit) -> tuple[int, int]:
    return (1, 0) if edit.deletion is None else (0, edit.deletion.toordinal())


def index_ptp(edits: Iterable[PtpEdit]) -> dict[tuple[str, str], tuple[PtpEdit, ...]]:
    """Edits by (column 1, column 2); a pair's edits ordered by deletion date, in force last, so
    the first one in force on a day is the most specific (extracts without effective dates list
    a pair's deleted and current edits side by side)."""
    out: dict[tuple[str, str], list[PtpEdit]] = {}
    for edit in edits:
        out.setdefault((edit.column1, edit.column2), []).append(edit)
    return {key: tuple(sorted(value, key=_deletion_order)) for key, value in out.items()}


class _Quarters:
    """Quarters sorted by start; `pick(day)` is the one whose period covers the day, else the
    latest before it, else the earliest."""

    def __init__(self, quarters: Sequence[str]) -> None:
        self.starts = sorted(quarter_start(q) for q in quarters)
        self.names = [quarter_of(s) for s in self.starts]

    def pick(self, day: date | None) -> int:
        if day is None:
            return len(self.starts) - 1
        return max(0, bisect.bisect_right(self.starts, day) - 1)


class PtpTable:
    """Every imported PTP quarter, for lookups by code pair and date of service."""

    def __init__(self, quarters: Iterable[PtpQuarter]) -> None:
        by_name = {q.quarter: q for q in quarters}
        if not by_name:
            raise ValueError("PtpTable: no quarters")
        self._order = _Quarters(list(by_name))
        self.quarters = tuple(by_name[n] for n in self._order.names)
        self._cache: dict[date | None, PtpQuarter] = {}

    def quarter_for(self, day: date | None) -> PtpQuarter:
        hit = self._cache.get(day)
        if hit is None:
            hit = self.quarters[self._order.pick(day)]
            if len(self._cache) < 4096:
                self._cache[day] = hit
        return hit

    def edit(
        self, column1: str, column2: str, day: date | None
    ) -> tuple[PtpEdit, PtpQuarter] | None:
        """The edit in force for the pair on `day` and the quarter it comes from, or None."""
        quarter = self.quarter_for(day)
        candidates = quarter.edits.get((column1, column2))
        if candidates is None:
            return None
        for edit in candidates:
            if edit.in_force(day):
                return edit, quarter
        return None


class MueTable:
    def __init__(self, quarters: Iterable[MueQuarter]) -> None:
        by_name = {q.quarter: q for q in quarters}
        if not by_name:
            raise ValueError("MueTable: no quarters")
        self._order = _Quarters(list(by_name))
        self.quarters = tuple(by_name[n] for n in self._order.names)

    def quarter_for(self, day: date | None) -> MueQuarter:
        return self.quarters[self._order.pick(day)]

    def edit(self, code: str, day: date | None) -> tuple[MueEdit, MueQuarter] | None:
        quarter = self.quarter_for(day)
        edit = quarter.edits.get(code)
        return None if edit is None else (edit, quarter)


def ptp_quarter(quarter: str, files: Sequence[ParsedFile], version: str = "") -> PtpQuarter:
    if not version:
        versions = {v for f in files if (v := ptp_version_of(f.name))}
        version = versions.pop() if len(versions) == 1 else ""
    return PtpQuarter(
        quarter=quarter,
        version=version,
        files=tuple(f.name for f in files),
        edits=index_ptp(e for f in files for e in f.ptp),
    )


def mue_quarter(quarter: str, files: Sequence[ParsedFile]) -> MueQuarter:
    edits: dict[str, MueEdit] = {}
    for f in files:
        for e in f.mue:
            edits[e.code] = e
    return MueQuarter(quarter=quarter, files=tuple(f.name for f in files), edits=edits)
