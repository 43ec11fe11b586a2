"""The MCD billing article readers (`integration.coding.lcd_import`): the synthetic CMS-layout
excerpts in fixtures/coding/cms/ read by column name; unknown columns and bad values refused with
the file, line and column; the date of service picks the article version."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from integration.coding.lcd_import import (
    LcdImportError,
    article_id_of,
    article_lists,
    code_of,
    parse_lcd_file,
    parse_lcd_text,
)

CMS = Path(__file__).resolve().parents[2] / "fixtures" / "coding" / "cms"
ARTICLES = CMS / "article-synthetic-excerpt.csv"
COVERED = CMS / "article_x_icd10_covered-synthetic-excerpt.csv"
NONCOVERED = CMS / "article_x_icd10_noncovered-synthetic-excerpt.csv"
HEADER = (
    "article_id,article_version,icd10_code_id,icd10_code_version,icd10_covered_group,range,"
    "sort_order,description,asterisk,last_updated"
)


def test_covered_noncovered_and_article_files() -> None:
    covered = parse_lcd_file(COVERED)
    assert covered.kind == "covered" and len(covered.codes) == 13
    first = covered.codes[0]
    assert (first.article_id, first.version, first.code, first.group, first.covered) == (
        "A57044",
        901,
        "L82.0",
        1,
        True,
    )
    noncovered = parse_lcd_file(NONCOVERED)
    assert noncovered.kind == "noncovered"
    assert [(c.code, c.covered) for c in noncovered.codes] == [("L91.8", False)] * 2
    articles = parse_lcd_file(ARTICLES)
    assert articles.kind == "article"
    assert [(a.article_id, a.version, a.effective, a.ending) for a in articles.articles] == [
        ("A57044", 901, date(2026, 1, 1), date(2026, 6, 30)),
        ("A57044", 902, date(2026, 7, 1), None),
    ]


def test_columns_are_read_by_name_in_any_order() -> None:
    text = "icd10_covered_group,icd10_code_id,article_version,article_id\r\n3,d485,7,A57162\r\n"
    parsed = parse_lcd_text("reordered.csv", text)
    assert [(c.article_id, c.version, c.code, c.group) for c in parsed.codes] == [
        ("A57162", 7, "D48.5", 3)
    ]


def test_an_unknown_column_is_refused_where_it_is() -> None:
    text = HEADER.replace("sort_order", "icd10_code_desc") + "\n"
    with pytest.raises(LcdImportError) as err:
        parse_lcd_text("article_x_icd10_covered.csv", text)
    assert str(err.value).startswith(
        "article_x_icd10_covered.csv line 1 column 7 (icd10_code_desc): expected one of the MCD "
        "article_x_icd10_covered columns"
    )


def test_a_file_of_another_kind_is_refused() -> None:
    with pytest.raises(LcdImportError, match=r"^x\.csv line 1: expected the header of an MCD"):
        parse_lcd_text("x.csv", "lcd_id,lcd_version,title\n1,1,t\n")


def test_a_missing_required_column_is_refused() -> None:
    with pytest.raises(LcdImportError, match="expected column icd10_code_id, not found"):
        parse_lcd_text("c.csv", "article_id,article_version,icd10_covered_group\n57044,1,1\n")


def test_a_bad_code_is_refused_where_it_is() -> None:
    text = HEADER + "\r\n57044,901,L82.0,2026,1,,1,,,\r\n57044,901,L8,2026,1,,2,,,\r\n"
    with pytest.raises(LcdImportError) as err:
        parse_lcd_text("article_x_icd10_covered.csv", text)
    assert str(err.value) == (
        "article_x_icd10_covered.csv line 3 column 3 (icd10_code_id): expected an ICD-10-CM code "
        "like L82.1, got 'L8'"
    )


def test_bad_version_and_field_count_are_located() -> None:
    with pytest.raises(LcdImportError, match=r"line 2 column 2 \(article_version\): expected an"):
        parse_lcd_text("c.csv", HEADER + "\n57044,v9,L82.0,2026,1,,1,,,\n")
    with pytest.raises(LcdImportError, match=r"line 2: expected 10 fields as in the header, got 3"):
        parse_lcd_text("c.csv", HEADER + "\n57044,9,L82.0\n")
    with pytest.raises(LcdImportError, match=r"line 3 column 7 \(article_eff_date\): expected a"):
        parse_lcd_text("article.csv", ARTICLES.read_text().replace("2026-07-01 00:00:00", "x", 1))


def test_coverage_api_json_rows() -> None:
    doc = (
        '{"meta": {"status": {"id": 200}}, "data": ['
        '{"article_id": 57044, "article_version": 902, "icd10_code_id": "L82.1",'
        ' "icd10_covered_group": 1, "description": "", "asterisk": ""}]}'
    )
    parsed = parse_lcd_text("icd10-covered.json", doc)
    assert [(c.article_id, c.version, c.code, c.covered) for c in parsed.codes] == [
        ("A57044", 902, "L82.1", True)
    ]
    no_article = '{"data": [{"icd10_code_id": "L82.1", "icd10_covered_group": 1}]}'
    with pytest.raises(LcdImportError, match=r"\$\.data\[0\]: expected article_id in every row"):
        parse_lcd_text("icd10-covered.json", no_article)
    bad = doc.replace('"L82.1"', '"8821"')
    with pytest.raises(LcdImportError, match=r"\$\.data\[0\]\.icd10_code_id: expected an ICD-10"):
        parse_lcd_text("icd10-covered.json", bad)


def test_ids_and_codes() -> None:
    assert article_id_of("57044") == article_id_of(" a57044") == "A57044"
    assert code_of("l821") == "L82.1" and code_of("C4A.31") == "C4A.31" and code_of("L82") == "L82"
    for bad in ("L8", "821", "L82.12345"):
        with pytest.raises(ValueError, match="expected an ICD-10-CM code"):
            code_of(bad)


def test_the_date_of_service_picks_the_version() -> None:
    at = datetime(2026, 12, 6, tzinfo=UTC)
    table = article_lists([parse_lcd_file(p) for p in (ARTICLES, COVERED, NONCOVERED)], at)
    june = table.current("A57044", date(2026, 6, 10))
    august = table.current("A57044", date(2026, 8, 1))
    assert june is not None and june.version == 901 and "D485" not in june.covered
    assert august is not None and august.version == 902 and august.covered["D485"] == 3
    assert august.noncovered == {"L918": 1}
    assert table.current("A57044", date(2025, 12, 31)) is None  # before either version
    assert table.current("A57162", date(2026, 8, 1)) is None
    assert august.label == "A57044 version 902 (imported 2026-12-06)"
