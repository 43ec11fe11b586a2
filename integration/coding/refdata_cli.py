"""`dermrcm refdata`: import the CMS NCCI tables the user downloaded into the database.

    dermrcm refdata import-ncci ccipra-v301r0-f1.txt ... ccipra-v301r0-f4.txt [--quarter 2024Q2]
    dermrcm refdata import-mue MCR_MUE_PractitionerServices_Eff_04-01-2024.csv [--quarter 2024Q2]
    dermrcm refdata import-lcd article.csv article_x_icd10_covered.csv article_x_icd10_noncovered.csv
        [--article A57044 ...]
    dermrcm refdata list

The quarter comes from --quarter, else from each file's name (NCCI version v301 -> 2024Q2; MUE
"Eff_04-01-2024" -> 2024Q2). Every file is read and checked before anything is written; each
quarter is then replaced in one transaction (other quarters stay). A file that cannot be read
exits 1 with the file, line and column at fault; nothing is written. The tables carry CPT code
numbers under the AMA licence: derm-rcm ships this importer, not the tables.

`import-lcd` reads the Medicare Coverage Database "Current Articles" download (or Coverage API
JSON, see `integration.coding.lcd_import`): every article version with ICD-10 rows (only those of
--article when given) is stored, an article version imported before is replaced, other versions
are kept; all in one transaction, after every file was read. Pass the covered and non-covered
files together (a version is replaced whole) and article.csv for the versions' effective dates
(without it, dates stored by an earlier import are kept).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import click

from integration.coding.lcd_import import (
    ArticleCode,
    ArticleInfo,
    ArticleLink,
    LcdImportError,
    article_id_of,
    parse_lcd_file,
)
from integration.coding.ncci import (
    Kind,
    ParsedFile,
    RefdataError,
    parse_mue_file,
    parse_ptp_file,
    parse_quarter,
    ptp_version_of,
    quarter_from_name,
)


def _quarter_option(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return parse_quarter(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


T = TypeVar("T")


def _read(path: Path, parse: Callable[[Path], T], refused: type[Exception]) -> tuple[T, str]:
    """A reference file parsed, and the SHA-256 of its bytes; a parse refusal (`refused`) or an
    unreadable file becomes a ClickException naming the file."""
    try:
        parsed = parse(path)
    except refused as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"{path}: {exc.strerror or exc}") from exc
    return parsed, hashlib.sha256(path.read_bytes()).hexdigest()


def _import(
    kind: Kind,
    files: Sequence[Path],
    quarter: str | None,
    parse: Callable[[Path], ParsedFile],
) -> None:
    from integration.settings import Settings
    from integration.store.coding_reference import NcciReferenceStore
    from integration.store.database import make_engine, session_factory, upgrade

    by_quarter: dict[str, list[tuple[ParsedFile, str]]] = {}
    for path in files:
        q = quarter or quarter_from_name(kind, path.name)
        if q is None:
            raise click.ClickException(
                f"{path.name}: cannot tell the quarter from the file name; pass --quarter 2024Q2"
            )
        parsed, digest = _read(path, parse, RefdataError)
        by_quarter.setdefault(q, []).append((parsed, digest))
    engine = make_engine(Settings().database_url)
    try:
        upgrade(engine)
        store = NcciReferenceStore(session_factory(engine))
        for q, items in sorted(by_quarter.items()):
            versions = {v for p, _ in items if (v := ptp_version_of(p.name))}
            if kind == "ncci-ptp" and len(versions) > 1:
                raise click.ClickException(
                    f"{q}: files of different NCCI versions ({', '.join(sorted(versions))}); "
                    "import one version per quarter"
                )
            record = store.replace(
                kind,
                q,
                [p for p, _ in items],
                [d for _, d in items],
                version=versions.pop() if kind == "ncci-ptp" and versions else "",
            )
            click.echo(json.dumps(record.to_json()))
    finally:
        engine.dispose()


@click.group("refdata")
def refdata_command() -> None:
    """CMS reference tables (NCCI PTP edits, MUEs, LCD article ICD-10 lists) for the scrubber."""


_FILES = click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
_QUARTER = click.option(
    "--quarter",
    default=None,
    callback=_quarter_option,
    help="Quarter the files are for, e.g. 2024Q2 (default: from the file names)",
)


@refdata_command.command("import-ncci")
@_FILES
@_QUARTER
def import_ncci(files: tuple[Path, ...], quarter: str | None) -> None:
    """Import Medicare NCCI practitioner PTP edit files (ccipra-v*-f1..f4, .txt/.csv/.xlsx);
    the files of one quarter together replace that quarter."""
    _import("ncci-ptp", files, quarter, parse_ptp_file)


@refdata_command.command("import-mue")
@_FILES
@_QUARTER
def import_mue(files: tuple[Path, ...], quarter: str | None) -> None:
    """Import Medicare practitioner services MUE files (MCR_MUE_PractitionerServices_Eff_*)."""
    _import("mue", files, quarter, parse_mue_file)


def _article_option(
    _ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    try:
        return tuple(article_id_of(v) for v in value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@refdata_command.command("import-lcd")
@_FILES
@click.option(
    "--article",
    "articles",
    multiple=True,
    callback=_article_option,
    help="Import only this billing article (A57044 or 57044); repeatable (default: every one)",
)
def import_lcd(files: tuple[Path, ...], articles: tuple[str, ...]) -> None:
    """Import LCD billing article ICD-10 lists from the CMS Medicare Coverage Database download
    (article_x_icd10_covered.csv, article_x_icd10_noncovered.csv, article.csv for the articles'
    dates, article_related_documents.csv for the LCDs each article belongs to) or Coverage API
    JSON."""
    from integration.settings import Settings
    from integration.store.coding_reference import ArticleVersionImport, LcdArticleStore
    from integration.store.database import make_engine, session_factory, upgrade

    wanted = set(articles)
    codes: dict[tuple[str, int], list[ArticleCode]] = {}
    sources: dict[tuple[str, int], dict[str, str]] = {}
    infos: dict[tuple[str, int], tuple[ArticleInfo, tuple[str, str]]] = {}
    links: list[ArticleLink] = []
    for path in files:
        parsed, digest = _read(path, parse_lcd_file, LcdImportError)
        for info in parsed.articles:
            if not wanted or info.article_id in wanted:
                infos[(info.article_id, info.version)] = (info, (path.name, digest))
        links += [k for k in parsed.links if not wanted or k.article_id in wanted]
        for code in parsed.codes:
            if wanted and code.article_id not in wanted:
                continue
            key = (code.article_id, code.version)
            codes.setdefault(key, []).append(code)
            sources.setdefault(key, {})[path.name] = digest
    if not codes and not links:
        raise click.ClickException(
            "no ICD-10 rows to import"
            + (f" for {', '.join(sorted(wanted))}" if wanted else "")
            + ": pass article_x_icd10_covered.csv and/or article_x_icd10_noncovered.csv"
            + " (with article_related_documents.csv to link the articles to their LCDs)"
        )
    lcds_of: dict[tuple[str, int], list[str]] = {}
    for link in links:
        have = lcds_of.setdefault((link.article_id, link.version), [])
        if link.lcd_id not in have:
            have.append(link.lcd_id)
    items = [
        ArticleVersionImport(
            article_id=key[0],
            version=key[1],
            codes=codes[key],
            info=infos[key][0] if key in infos else None,
            files=sorted(
                {**sources[key], **(dict([infos[key][1]]) if key in infos else {})}.items()
            ),
            lcds=lcds_of.get(key) if links else None,
        )
        for key in sorted(codes)
    ]
    engine = make_engine(Settings().database_url)
    try:
        upgrade(engine)
        try:
            store = LcdArticleStore(session_factory(engine))
            records = store.replace(items) if items else []
            linked = store.link(k for k in links if (k.article_id, k.version) not in codes)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        if linked:
            click.echo(json.dumps({"linked_article_versions": linked}))
        for record in records:
            click.echo(json.dumps(record.to_json()))
            if record.effective is None and record.ending is None:
                click.echo(
                    f"{record.article_id} version {record.version}: no effective dates "
                    "(import article.csv with it); the newest such version applies to every "
                    "date of service",
                    err=True,
                )
    finally:
        engine.dispose()


@refdata_command.command("list")
def list_imports() -> None:
    """Print the imported quarters and article versions, one JSON object a line."""
    from integration.settings import Settings
    from integration.store.coding_reference import LcdArticleStore, NcciReferenceStore
    from integration.store.database import current_tables, make_engine, session_factory

    engine = make_engine(Settings().database_url)
    try:
        tables = current_tables(engine)
        if "ncci_reference_import" in tables:
            for record in NcciReferenceStore(session_factory(engine)).imports():
                click.echo(json.dumps(record.to_json()))
        if "lcd_article_import" in tables:
            for article in LcdArticleStore(session_factory(engine)).imports():
                click.echo(json.dumps(article.to_json()))
    finally:
        engine.dispose()
