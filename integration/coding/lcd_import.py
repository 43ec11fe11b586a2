"""Billing and Coding article ICD-10 lists from CMS's Medicare Coverage Database (MCD) downloads.

`dermrcm refdata import-lcd FILE...` reads what a user downloads from the MCD ("Current Articles"
download, current_article_csv.zip) and, optionally, the JSON the CMS Coverage API answers for one
article. The LCD rule family then checks a procedure's diagnoses against the imported list of
each billing article of a policy instead of our hand-written (unverified) yaml groups.

Layout, as confirmed with the `search` tool (public code that reads the real files; no CMS page
with the column list was found, so these are second-hand but agree with each other):

- The download's files are CSV with a header row; ICD-10 lists live in
  `article_x_icd10_covered.csv` and `article_x_icd10_noncovered.csv`, the articles themselves in
  `article.csv` (an ETL docstring listing current_article_csv.zip -> article.csv,
  article_x_hcpc_code.csv, article_x_icd10_covered.csv, article_x_icd10_noncovered.csv, ...; an
  MCD upload guide listing every file of the download with its column count: covered 10
  columns, noncovered 9, article 27).
- Covered columns: article_id, article_version, icd10_code_id, icd10_code_version,
  icd10_covered_group, range, sort_order, description, asterisk, last_updated; noncovered the
  same with icd10_noncovered_group and no asterisk (a JPA entity of article_x_icd10_noncovered
  with exactly those nine columns; SQL and pandas readers selecting icd10_code_id,
  icd10_covered_group / icd10_noncovered_group, description; a JS reader testing asterisk == "Y").
  NB: the code column is `icd10_code_id` and the group column `icd10_covered_group` /
  `icd10_noncovered_group`, not "icd10_code" / "icd10_code_group".
- `article.csv`: article_id (number, e.g. 57044), article_version, display_id ("A57044"), title,
  article_eff_date, article_end_date, article_rev_end_date, date_retired, status, last_updated
  and long text columns (description, other_comments, icd10_doc, ...); dates start YYYY-MM-DD.
- CMS Coverage API (api.coverage.cms.gov): GET /v1/data/article/icd10-covered and
  /icd10-noncovered with query `articleid` and `ver` answer `{"meta": {...}, "data": [rows]}`,
  each row with icd10_code_id, icd10_covered_group (or icd10_noncovered_group), description
  (and asterisk). Whether a row also names article_id / article_version was NOT confirmed: a JSON
  file is accepted only when every row does (else it is refused, located).

Columns are read by name, never by position. A code file (covered / noncovered) with a column not
listed above is refused with its file, line and column: a changed layout must be looked at, not
guessed at. `article.csv` is only read for the article's dates (its many text columns are not
checked one by one); it must have article_id and article_version. Descriptions are never stored.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

FileKind = Literal["covered", "noncovered", "article", "related"]
Where = Callable[[str], str]  # column name -> "line N column M (name)" or "$.data[i].name"

COVERED_COLUMNS = frozenset(
    {
        "article_id",
        "article_version",
        "icd10_code_id",
        "icd10_code_version",
        "icd10_covered_group",
        "range",
        "sort_order",
        "description",
        "asterisk",
        "last_updated",
    }
)
NONCOVERED_COLUMNS = (COVERED_COLUMNS - {"icd10_covered_group", "asterisk"}) | {
    "icd10_noncovered_group"
}
_REQUIRED = ("article_id", "article_version", "icd10_code_id")
_ARTICLE_REQUIRED = ("article_id", "article_version")
# ICD-10-CM: a letter, a digit, a digit or letter, then up to four more after an optional dot
_ICD10 = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")


class LcdImportError(ValueError):
    """A file that cannot be read: `where` is "file line N column M (name)"."""


@dataclass(frozen=True, slots=True)
class ArticleCode:
    article_id: str  # "A57044"
    version: int
    code: str  # "L82.1", with the dot
    group: int
    covered: bool


@dataclass(frozen=True, slots=True)
class ArticleInfo:
    article_id: str
    version: int
    effective: date | None
    ending: date | None


@dataclass(frozen=True, slots=True)
class ArticleLink:
    """An article version's related LCD (article_related_documents.csv, r_lcd_id): how the
    scrubber finds a policy's billing articles from its LCD ids."""

    article_id: str
    version: int
    lcd_id: str  # "L35498"


@dataclass(frozen=True, slots=True)
class ParsedLcdFile:
    name: str
    kind: FileKind
    codes: tuple[ArticleCode, ...] = ()
    articles: tuple[ArticleInfo, ...] = ()
    links: tuple[ArticleLink, ...] = ()


def article_id_of(value: str) -> str:
    """ "57044" or "A57044" -> "A57044"; ValueError otherwise."""
    text = value.strip().upper()
    digits = text[1:] if text.startswith("A") else text
    if not digits.isdigit() or len(digits) > 7:
        raise ValueError(f"expected an article id like 57044 or A57044, got {value!r}")
    return f"A{int(digits)}"


def code_of(value: str) -> str:
    """An ICD-10-CM code, upper case with its dot ("l821" -> "L82.1"); ValueError otherwise."""
    text = value.strip().upper()
    if not _ICD10.match(text):
        raise ValueError(f"expected an ICD-10-CM code like L82.1, got {value!r}")
    bare = text.replace(".", "")
    return bare if len(bare) <= 3 else f"{bare[:3]}.{bare[3:]}"


def _int(value: str, what: str) -> int:
    text = value.strip()
    if not text.isdigit():
        raise ValueError(f"expected {what} (a whole number), got {value!r}")
    return int(text)


def _date(value: str) -> date | None:
    text = value.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(f"expected a date YYYY-MM-DD, got {value!r}") from None


def _kind_of(name: str, header: Sequence[str]) -> FileKind:
    cols = set(header)
    if "icd10_covered_group" in cols:
        return "covered"
    if "icd10_noncovered_group" in cols:
        return "noncovered"
    if "r_lcd_id" in cols and {"article_id", "article_version"} <= cols:
        return "related"
    if "icd10_code_id" not in cols and {"article_id", "article_version"} <= cols:
        return "article"
    raise LcdImportError(
        f"{name} line 1: expected the header of an MCD article_x_icd10_covered.csv, "
        f"article_x_icd10_noncovered.csv, article_related_documents.csv or article.csv "
        f"(icd10_covered_group, icd10_noncovered_group, r_lcd_id or article_id + "
        f"article_version), got {', '.join(header)}"
    )


def _check_header(name: str, kind: FileKind, header: Sequence[str]) -> None:
    if kind in ("article", "related"):
        missing = [c for c in _ARTICLE_REQUIRED if c not in header]
    else:
        known = COVERED_COLUMNS if kind == "covered" else NONCOVERED_COLUMNS
        for index, column in enumerate(header, start=1):
            if column not in known:
                raise LcdImportError(
                    f"{name} line 1 column {index} ({column}): expected one of the MCD "
                    f"article_x_icd10_{kind} columns ({', '.join(sorted(known))}), got {column!r}"
                )
        missing = [c for c in _REQUIRED if c not in header]
    seen: set[str] = set()
    for index, column in enumerate(header, start=1):
        if column in seen:
            raise LcdImportError(f"{name} line 1 column {index} ({column}): duplicate column")
        seen.add(column)
    if missing:
        raise LcdImportError(
            f"{name} line 1: expected column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}, not found in the header"
        )


def _code_row(name: str, where: Where, kind: FileKind, row: Mapping[str, Any]) -> ArticleCode:
    group_col = "icd10_covered_group" if kind == "covered" else "icd10_noncovered_group"
    values: dict[str, Any] = {}
    for column, parse in (
        ("article_id", article_id_of),
        ("article_version", lambda v: _int(v, "an article version")),
        ("icd10_code_id", code_of),
        (group_col, lambda v: _int(v, "a group number") if v.strip() else 0),
    ):
        raw = row.get(column)
        try:
            values[column] = parse("" if raw is None else str(raw))
        except ValueError as exc:
            raise LcdImportError(f"{name} {where(column)}: {exc}") from None
    return ArticleCode(
        article_id=values["article_id"],
        version=values["article_version"],
        code=values["icd10_code_id"],
        group=values[group_col],
        covered=kind == "covered",
    )


def parse_lcd_text(name: str, text: str) -> ParsedLcdFile:
    """One MCD CSV file (or Coverage API JSON, by its first character) from its text."""
    text = text.removeprefix("\ufeff")
    if text.lstrip().startswith(("{", "[")):
        return _parse_json(name, text)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise LcdImportError(f"{name} line 1: expected a header row, got an empty file") from None
    kind = _kind_of(name, header)
    _check_header(name, kind, header)
    codes: list[ArticleCode] = []
    articles: list[ArticleInfo] = []
    links: list[ArticleLink] = []
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise LcdImportError(
                f"{name} line {line}: expected {len(header)} fields as in the header, "
                f"got {len(cells)}"
            )
        row = dict(zip(header, cells, strict=True))

        def where(column: str, line: int = line) -> str:
            return f"line {line} column {header.index(column) + 1} ({column})"

        if kind == "article":
            articles.append(_article_row(name, where, header, row))
        elif kind == "related":
            link = _link_row(name, where, row)
            if link is not None:
                links.append(link)
        else:
            codes.append(_code_row(name, where, kind, row))
    return ParsedLcdFile(
        name=name, kind=kind, codes=tuple(codes), articles=tuple(articles), links=tuple(links)
    )


def _article_version(name: str, where: Where, row: Mapping[str, str]) -> tuple[str, int]:
    """The article id and version a row names; LcdImportError located at the bad column."""
    try:
        article = article_id_of(row["article_id"])
    except ValueError as exc:
        raise LcdImportError(f"{name} {where('article_id')}: {exc}") from None
    try:
        version = _int(row["article_version"], "an article version")
    except ValueError as exc:
        raise LcdImportError(f"{name} {where('article_version')}: {exc}") from None
    return article, version


def _link_row(name: str, where: Where, row: Mapping[str, str]) -> ArticleLink | None:
    """A row of article_related_documents.csv; None for a row relating the article to another
    article (its r_lcd_id is empty)."""
    raw = row["r_lcd_id"].strip().upper()
    if not raw:
        return None
    digits = raw[1:] if raw.startswith("L") else raw
    if not digits.isdigit():
        raise LcdImportError(
            f"{name} {where('r_lcd_id')}: expected an LCD id like 35498 or L35498, got {raw!r}"
        )
    article, version = _article_version(name, where, row)
    return ArticleLink(article, version, f"L{int(digits)}")


def _article_row(
    name: str, where: Where, header: Sequence[str], row: Mapping[str, str]
) -> ArticleInfo:
    article, version = _article_version(name, where, row)
    dates: dict[str, date | None] = {}
    for column in ("article_eff_date", "article_end_date", "article_rev_end_date"):
        try:
            dates[column] = _date(row.get(column, ""))
        except ValueError as exc:
            raise LcdImportError(f"{name} {where(column)}: {exc}") from None
    ending = dates["article_rev_end_date"] or dates["article_end_date"]
    return ArticleInfo(article, version, dates["article_eff_date"], ending)


def _parse_json(name: str, text: str) -> ParsedLcdFile:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LcdImportError(f"{name} line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    rows = doc.get("data") if isinstance(doc, dict) else doc
    if not isinstance(rows, list):
        raise LcdImportError(f"{name} $.data: expected the Coverage API's list of rows")
    kind: FileKind | None = None
    codes: list[ArticleCode] = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise LcdImportError(f"{name} $.data[{index}]: expected an object")
        keys = [str(k).lower() for k in row]
        row_kind = _kind_of(f"{name} $.data[{index}]", keys)
        if row_kind == "article" or (kind is not None and row_kind != kind):
            raise LcdImportError(
                f"{name} $.data[{index}]: expected a row of the same list as $.data[0] "
                f"(icd10_{kind or 'covered'}_group), got {', '.join(keys)}"
            )
        kind = row_kind
        known = COVERED_COLUMNS if kind == "covered" else NONCOVERED_COLUMNS
        for key in keys:
            if key not in known:
                raise LcdImportError(
                    f"{name} $.data[{index}].{key}: expected one of {', '.join(sorted(known))}"
                )
        lowered = {str(k).lower(): "" if v is None else str(v) for k, v in row.items()}
        for column in _REQUIRED:
            if column not in lowered:
                raise LcdImportError(
                    f"{name} $.data[{index}]: expected {column} in every row (pass the MCD "
                    "download's CSV files when the API rows do not name the article)"
                )

        def where(column: str, index: int = index) -> str:
            return f"$.data[{index}].{column}"

        codes.append(_code_row(name, where, kind, lowered))
    return ParsedLcdFile(name=name, kind=kind or "covered", codes=tuple(codes))


def parse_lcd_file(path: Path) -> ParsedLcdFile:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    return parse_lcd_text(path.name, text)


# -- the scrubber's view: every imported article version, picked by date of service ------------


@dataclass(frozen=True, slots=True)
class ArticleList:
    """One imported version of a billing article's ICD-10 lists."""

    article_id: str
    version: int
    effective: date | None
    ending: date | None
    imported_at: datetime
    files: tuple[str, ...]
    covered: Mapping[str, int] = field(default_factory=dict)  # code without dot -> group
    noncovered: Mapping[str, int] = field(default_factory=dict)
    lcds: tuple[str, ...] = ()  # the LCDs the article version is related to ("L35498")

    def in_force(self, day: date | None) -> bool:
        if day is None:
            return True
        if self.effective is not None and day < self.effective:
            return False
        return self.ending is None or day <= self.ending

    @property
    def label(self) -> str:
        return (
            f"{self.article_id} version {self.version} "
            f"(imported {self.imported_at.date().isoformat()})"
        )


class LcdArticleTable:
    """Imported article lists by article id; `current` picks the newest version in force."""

    def __init__(self, lists: Iterable[ArticleList]) -> None:
        by_id: dict[str, list[ArticleList]] = {}
        for item in lists:
            by_id.setdefault(item.article_id, []).append(item)
        self._by_id = {k: sorted(v, key=lambda a: a.version) for k, v in by_id.items()}

    @property
    def articles(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_id))

    def versions(self, article_id: str) -> tuple[ArticleList, ...]:
        return tuple(self._by_id.get(article_id, ()))

    def related_to(self, lcd_ids: Iterable[str]) -> tuple[str, ...]:
        """The imported articles related to any of these LCDs (by any imported version)."""
        wanted = set(lcd_ids)
        return tuple(
            article_id
            for article_id, versions in sorted(self._by_id.items())
            if any(wanted & set(v.lcds) for v in versions)
        )

    def current(self, article_id: str, day: date | None) -> ArticleList | None:
        found = [a for a in self._by_id.get(article_id, ()) if a.in_force(day)]
        return found[-1] if found else None


def article_lists(parsed: Iterable[ParsedLcdFile], imported_at: datetime) -> LcdArticleTable:
    """The table the scrubber reads, straight from parsed files (what the store gives back after
    `dermrcm refdata import-lcd` of the same files): one list per article version with codes."""
    files = list(parsed)
    infos = {(i.article_id, i.version): i for f in files for i in f.articles}
    related: dict[tuple[str, int], list[str]] = {}
    for f in files:
        for link in f.links:
            have = related.setdefault((link.article_id, link.version), [])
            if link.lcd_id not in have:
                have.append(link.lcd_id)
    covered: dict[tuple[str, int], dict[str, int]] = {}
    noncovered: dict[tuple[str, int], dict[str, int]] = {}
    names: dict[tuple[str, int], list[str]] = {}
    for f in files:
        for c in f.codes:
            key = (c.article_id, c.version)
            (covered if c.covered else noncovered).setdefault(key, {})[c.code.replace(".", "")] = (
                c.group
            )
            if f.name not in names.setdefault(key, []):
                names[key].append(f.name)
    lists = []
    for key in sorted(names):
        info = infos.get(key)
        lists.append(
            ArticleList(
                article_id=key[0],
                version=key[1],
                effective=info.effective if info else None,
                ending=info.ending if info else None,
                imported_at=imported_at,
                files=tuple(names[key]),
                covered=covered.get(key, {}),
                noncovered=noncovered.get(key, {}),
                lcds=tuple(related.get(key, ())),
            )
        )
    return LcdArticleTable(lists)
