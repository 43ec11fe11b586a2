"""`dermrcm era`: post 835 remittance files (ERA) to the ledger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from integration.store.remittances import FilePosting


def _post(raw: bytes, filename: str) -> tuple[FilePosting, list[int]]:
    """Post with a store on the settings' database: the posting and the ids of the denial items
    it created (none for a file or payments posted before); the engine is disposed afterwards."""
    from integration.settings import Settings
    from integration.store.database import make_engine, session_factory, upgrade
    from integration.store.remittances import RemittanceStore

    engine = make_engine(Settings().database_url)
    try:
        upgrade(engine)
        store = RemittanceStore(session_factory(engine))
        result = store.post_file(raw, filename)
        created: list[int] = []
        if result.status == "posted":
            # a payment posted before belongs to its first file: only this file's own count
            created = store.denials.ids_from_remittance_file(result.file_id)
        return result, created
    finally:
        engine.dispose()


def summary(result: FilePosting, denial_ids: list[int]) -> dict[str, Any]:
    """The posting's JSON, with the denial items it created ("denials": count and ids)."""
    return {**result.to_json(), "denials": {"created": len(denial_ids), "ids": denial_ids}}


@click.group("era")
def era_command() -> None:
    """835 electronic remittance advice: post payments against our claims."""


@era_command.command("post")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--pretty/--compact", default=True)
def post_command(file: Path, pretty: bool) -> None:
    """Store FILE, post each payment in it once, print a JSON summary.

    A payment already posted (same TRN trace number and payer id) is reported with
    "duplicate": true and not posted again. "denials" says how many denial items (denied or
    reduced lines, `dermrcm denials list`) the posting created, and their ids. A malformed
    file is stored but not posted: its located problems go to stderr and the exit code is 1."""
    result, denial_ids = _post(file.read_bytes(), file.name)
    click.echo(json.dumps(summary(result, denial_ids), indent=2 if pretty else None))
    if result.status == "rejected":
        for message in result.problems:
            click.echo(message, err=True)
        raise SystemExit(1)
