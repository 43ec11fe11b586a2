"""`dermrcm coding suggest --note FILE`: CPT, units, modifiers and ICD-10-CM codes suggested
from a procedure note, each with the exact words of the note it rests on, and the documentation
gaps a provider must close (see `integration.coding.suggest`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from integration.coding.suggest import NoteError, note_text, suggest


@click.command("suggest")
@click.option(
    "--note",
    "note_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A procedure note: plain text, an HL7 v2 MDM^T02 message or a FHIR DocumentReference.",
)
def suggest_command(note_path: Path) -> None:
    """Suggest procedure and diagnosis codes from a procedure note."""
    try:
        raw = note_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{note_path}: expected UTF-8 text, got {exc.reason}") from exc
    try:
        text = note_text(raw)
    except NoteError as exc:
        raise click.ClickException(f"{note_path}: {exc}") from exc
    click.echo(json.dumps(suggest(text), indent=2))
