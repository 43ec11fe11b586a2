"""`dermrcm refdata`: import the CMS NCCI tables the user downloaded into the database.

    dermrcm refdata import-ncci ccipra-v301r0-f1.txt ... ccipra-v301r0-f4.txt [--quarter 2024Q2]
    dermrcm refdata import-mue MCR_MUE_PractitionerServices_Eff_04-01-2024.csv [--quarter 2024Q2]
    dermrcm refdata list

The quarter comes from --quarter, else from each file's name (NCCI version v301 -> 2024Q2; MUE
"Eff_04-01-2024" -> 2024Q2). Every file is read and checked before anything is written; each
quarter is then replaced in one transaction (other quarters stay). A file that cannot be read
exits 1 with the file, line and column at fault; nothing is written. The tables carry CPT code
numbers under the AMA licence: derm-rcm ships this importer, not the tables.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import click

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
        try:
            parsed = parse(path)
        except RefdataError as exc:
            raise click.ClickException(str(exc)) from exc
        except OSError as exc:
            raise click.ClickException(f"{path}: {exc.strerror or exc}") from exc
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
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
    """CMS reference tables (NCCI PTP edits, MUEs) for the claim scrubber."""


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


@refdata_command.command("list")
def list_imports() -> None:
    """Print the imported quarters, one JSON object a line."""
    from integration.settings import Settings
    from integration.store.coding_reference import NcciReferenceStore
    from integration.store.database import current_tables, make_engine, session_factory

    engine = make_engine(Settings().database_url)
    try:
        if "ncci_reference_import" not in current_tables(engine):
            return
        for record in NcciReferenceStore(session_factory(engine)).imports():
            click.echo(json.dumps(record.to_json()))
    finally:
        engine.dispose()
