"""`dermrcm era`: post 835 remittance files (ERA) to the ledger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


def _post(raw: bytes, filename: str) -> Any:
    """Post with a store on the settings' database; the engine is disposed afterwards."""
    from integration.settings import Settings
    from integration.store.database import make_engine, session_factory, upgrade
    from integration.store.remittances import RemittanceStore

    engine = make_engine(Settings().database_url)
    try:
        upgrade(engine)
        return RemittanceStore(session_factory(engine)).post_file(raw, filename)
    finally:
        engine.dispose()


@click.group("era")
def era_command() -> None:
    """835 electronic remittance advice: post payments against our claims."""


@era_command.command("post")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--pretty/--compact", default=True)
def post_command(file: Path, pretty: bool) -> None:
    """Store FILE, post each payment in it once, print a JSON summary.

    A payment already posted (same TRN trace number and payer id) is reported with
    "duplicate": true and not posted again. A malformed file is stored but not posted: its
    located problems go to stderr and the exit code is 1."""
    from integration.store.remittances import FilePosting

    result: FilePosting = _post(file.read_bytes(), file.name)
    click.echo(json.dumps(result.to_json(), indent=2 if pretty else None))
    if result.status == "rejected":
        for message in result.problems:
            click.echo(message, err=True)
        raise SystemExit(1)
