"""`dermrcm appeal submit APPEAL_ID --channel ncpdp|payer|fax|portal|mail [--attach FILE]`
(the lead wires `submit_command` into the `appeal` group).

A signed appeal of a PA denial goes to the payer by the PA case's own channel (`ncpdp`: the
case's NCPDP ePA, a PAAppealRequest; `payer`: whatever channel the case went by) with the
letter's text and the signed PDF; fax, portal and mail record that a person sent it. See
`integration.appeals.submission` for what each channel carries.

Prints what happened as JSON. Exit 1 when it can't be sent as it stands (the message says why:
unsigned, already sent, `payer` for an 835 denial, ...), 3 when the payer couldn't be reached
(recorded on the PA case; the appeal is still signed: send again).
"""

from __future__ import annotations

import json
import mimetypes
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from integration.appeals.submission import CHANNELS

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from integration.settings import Settings


@contextmanager
def _sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    from integration.store.database import make_engine, session_factory, upgrade

    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        yield session_factory(engine)
    finally:
        engine.dispose()


@click.command("submit")
@click.argument("appeal_id")
@click.option(
    "--channel",
    type=click.Choice(CHANNELS),
    required=True,
    help="ncpdp or payer: send a PA denial's appeal by the case's channel; fax, portal or "
    "mail: record that it was sent",
)
@click.option(
    "--attach",
    "attach",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Another document to send with the signed PDF (PAS or 278 cases); repeatable",
)
@click.option("--payer-url", default=None, help="Payer endpoints' base URL (DERMRCM_PAYER_URL)")
@click.option("--actor", default="cli", show_default=True, help="Who sends it (audit trail)")
def submit_command(
    appeal_id: str, channel: str, attach: tuple[Path, ...], payer_url: str | None, actor: str
) -> None:
    """Send a signed appeal to the payer, or record that it was sent; prints JSON."""
    from integration.appeals.submission import PayerUnreachable, SendRefused, send_appeal
    from integration.priorauth.channels.transport import PayerTransport
    from integration.priorauth.submit import Attachment, Practice, Submitter
    from integration.settings import Settings
    from integration.store.appeals import AppealStore
    from integration.store.denials import DenialStore
    from integration.store.pa_submissions import PaSubmissionStore

    settings = Settings()
    documents = [
        Attachment(
            p.name, mimetypes.guess_type(p.name)[0] or "application/octet-stream", p.read_bytes()
        )
        for p in attach
    ]
    base = payer_url or settings.payer_url
    with _sessions(settings) as sessions:
        submitter = (
            Submitter(
                PaSubmissionStore(sessions),
                PayerTransport(settings.payer_timeout),
                base,
                Practice(settings.practice_name, settings.practice_npi),
                ncpdp_xsd=settings.ncpdp_xsd,
            )
            if base
            else None
        )
        try:
            sent = send_appeal(
                appeal_id,
                channel,
                appeals=AppealStore(sessions),
                denials=DenialStore(sessions),
                actor=actor,
                now=datetime.now(UTC),
                submitter=submitter,
                attachments=documents,
            )
        except SendRefused as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except PayerUnreachable as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(3)
    click.echo(json.dumps(sent.to_json(), indent=2))
