"""`dermrcm refdata import-lcd` on SQLite and PostgreSQL: MCD billing article files in, the LCD
family's article lists out; the same article version imported again is replaced whole, another
version stays beside it, a bad file changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from integration.coding.lcd_import import ArticleCode, LcdArticleTable
from integration.coding.refdata_cli import refdata_command
from integration.coding.reference import load_reference
from integration.store.coding_reference import ArticleVersionImport, LcdArticleStore
from integration.store.database import make_engine, session_factory, upgrade
from integration.store.models import LcdArticleCode
from tests.unit.test_lcd_import import ARTICLES, COVERED, HEADER, NONCOVERED


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


def _codes(engine: Engine) -> int:
    with session_factory(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(LcdArticleCode)) or 0)


def _table(engine: Engine) -> LcdArticleTable:
    table = load_reference(engine)["lcd-articles"]
    assert isinstance(table, LcdArticleTable)
    return table


def test_import_the_download_and_load_for_the_scrubber(engine: Engine) -> None:
    code, out, err = _run("import-lcd", str(ARTICLES), str(COVERED), str(NONCOVERED))
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["article_id"], r["version"], r["covered"], r["noncovered"]) for r in records] == [
        ("A57044", 901, 6, 1),
        ("A57044", 902, 7, 1),
    ]
    first = records[0]
    assert (first["effective"], first["ending"], first["replaced"]) == (
        "2026-01-01",
        "2026-06-30",
        False,
    )
    assert first["files"] == sorted([ARTICLES.name, COVERED.name, NONCOVERED.name])
    assert all(len(s) == 64 for s in first["sha256"])

    table = _table(engine)
    june = table.current("A57044", date(2026, 6, 10))
    assert june is not None and june.version == 901 and june.noncovered == {"L918": 1}
    assert june.imported_at.date() == datetime.now(UTC).date()
    august = table.current("A57044", date(2026, 8, 1))
    assert august is not None and august.version == 902 and "D485" in august.covered

    code, out, _ = _run("list")
    assert code == 0
    assert [json.loads(line)["version"] for line in out.splitlines()] == [901, 902]


def test_same_version_replaced_other_version_kept(engine: Engine, tmp_path: Path) -> None:
    assert _run("import-lcd", str(ARTICLES), str(COVERED), str(NONCOVERED))[0] == 0
    assert _codes(engine) == 15
    again = tmp_path / "article_x_icd10_covered.csv"
    again.write_text(
        HEADER + "\r\n57044,902,L82.1,2026,1,,1,,,\r\n57044,902,D23.5,2026,1,,2,,,\r\n"
    )
    code, out, err = _run("import-lcd", str(again))
    assert code == 0, err
    [record] = [json.loads(line) for line in out.splitlines()]
    assert (record["version"], record["replaced"], record["covered"]) == (902, True, 2)
    assert record["effective"] == "2026-07-01"  # no article.csv this time: the dates are kept
    assert _codes(engine) == 7 + 2  # version 901's seven rows stay, 902 has only the two

    table = _table(engine)
    assert [a.version for a in table.versions("A57044")] == [901, 902]
    v902 = table.versions("A57044")[1]
    assert set(v902.covered) == {"L821", "D235"} and v902.noncovered == {}


def test_only_the_articles_asked_for(engine: Engine, tmp_path: Path) -> None:
    other = tmp_path / "covered.csv"
    other.write_text(HEADER + "\n57044,901,L82.1,2026,1,,1,,,\n57162,3,L82.1,2026,1,,1,,,\n")
    code, out, err = _run("import-lcd", "--article", "57162", str(other))
    assert code == 0, err
    assert [json.loads(line)["article_id"] for line in out.splitlines()] == ["A57162"]
    assert "A57162 version 3: no effective dates (import article.csv with it)" in err
    code, _, err = _run("import-lcd", "--article", "A9", str(NONCOVERED))
    assert code == 1 and "no ICD-10 rows to import for A9" in err
    code, _, err = _run("import-lcd", "--article", "x1", str(NONCOVERED))
    assert code == 2 and "expected an article id" in err


def test_a_bad_file_is_refused_and_nothing_changes(engine: Engine, tmp_path: Path) -> None:
    assert _run("import-lcd", str(COVERED))[0] == 0
    bad = tmp_path / "article_x_icd10_noncovered.csv"
    bad.write_text(
        "article_id,article_version,icd10_code_id,icd10_noncovered_group,icd10_desc\n"
        "57044,901,L91.8,1,x\n"
    )
    code, _, err = _run("import-lcd", str(COVERED), str(bad))
    assert code == 1
    assert "article_x_icd10_noncovered.csv line 1 column 5 (icd10_desc): expected one of" in err
    bad.write_text(
        "article_id,article_version,icd10_code_id,icd10_noncovered_group\n57044,901,L91.8,1\n"
        "57044,901,91.8,1\n"
    )
    code, _, err = _run("import-lcd", str(COVERED), str(bad))
    assert code == 1
    assert "line 3 column 3 (icd10_code_id): expected an ICD-10-CM code" in err
    assert _codes(engine) == 13


def test_store_replace_is_all_or_nothing(engine: Engine) -> None:
    upgrade(engine)
    store = LcdArticleStore(session_factory(engine))
    good = ArticleVersionImport(
        "A57044", 1, [ArticleCode("A57044", 1, "L82.1", 1, True)], None, [("f.csv", "0" * 64)]
    )
    store.replace([good])
    replacing = ArticleVersionImport(  # written first, then rolled back with the bad item
        "A57044",
        1,
        [ArticleCode("A57044", 1, c, 1, True) for c in ("L82.0", "D22.5")],
        None,
        [("g.csv", "1" * 64)],
    )
    wrong = ArticleVersionImport(
        "A57162", 1, [ArticleCode("A57044", 2, "L82.1", 1, True)], None, []
    )
    with pytest.raises(ValueError, match="A57162 version 1: a code of A57044 version 2"):
        store.replace([replacing, wrong])
    [record] = store.imports()
    assert (record.article_id, record.version, record.covered, record.files) == (
        "A57044",
        1,
        1,
        ("f.csv",),
    )


RELATED = COVERED.with_name("article_related_documents-synthetic-excerpt.csv")


def test_article_links_to_lcds_imported_with_the_lists_or_after_them(engine: Engine) -> None:
    # lists first, without the related documents: no article is linked to an LCD yet
    assert _run("import-lcd", str(ARTICLES), str(COVERED), str(NONCOVERED))[0] == 0
    assert _table(engine).related_to(["L35498"]) == ()
    # the related documents alone: the imported versions get their LCD (A99901 has no list)
    code, out, _ = _run("import-lcd", str(RELATED))
    assert code == 0 and '"linked_article_versions": 2' in out
    assert _table(engine).related_to(["L35498"]) == ("A57044",)
    assert _table(engine).related_to(["L35494"]) == ()
    # a later re-import of the lists without the related file keeps the links
    assert _run("import-lcd", str(COVERED))[0] == 0
    assert _table(engine).related_to(["L35498"]) == ("A57044",)
