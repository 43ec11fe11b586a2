"""`dermrcm claims`: submit 837P claims to the clearinghouse, poll what comes back, show status.

Register in integration/cli.py with:

    from integration.claims.cli import claims_command
    main.add_command(claims_command)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from integration.claims.repository import ClaimsStore
    from integration.clearinghouse.port import Clearinghouse
    from integration.settings import Settings
    from integration.store.control_numbers import StoredControlNumbers
    from integration.x12.envelope import EnvelopeParams
    from integration.x12.t837_005010x222a1 import Party


def envelope_params(settings: Settings) -> EnvelopeParams:
    from integration.x12.envelope import EnvelopeParams

    return EnvelopeParams(
        sender_qualifier="ZZ",
        sender_id=settings.submitter_id,
        receiver_qualifier="ZZ",
        receiver_id=settings.receiver_id,
        usage_indicator=settings.usage_indicator,
    )


def clearinghouse_for(settings: Settings) -> Clearinghouse:
    """The adapter `clearinghouse_url` names: HTTP(S) API or SFTP mailbox."""
    from integration.clearinghouse.http import HttpClearinghouse
    from integration.clearinghouse.port import ClearinghouseError
    from integration.clearinghouse.sftp import SftpClearinghouse, SftpOptions

    url = settings.clearinghouse_url
    if not url:
        raise click.ClickException(
            "DERMRCM_CLEARINGHOUSE_URL: expected the clearinghouse's base URL, got nothing "
            "(`dermrcm run` prints the sandbox clearinghouse's)"
        )
    try:
        if url.startswith("sftp://"):
            return SftpClearinghouse(
                url,
                SftpOptions(
                    known_hosts=settings.clearinghouse_sftp_known_hosts.expanduser(),
                    password=settings.clearinghouse_sftp_password,
                    key_file=settings.clearinghouse_sftp_key_file,
                    send_dir=settings.clearinghouse_sftp_send_dir,
                    receive_dir=settings.clearinghouse_sftp_receive_dir,
                    archive_dir=settings.clearinghouse_sftp_archive_dir,
                    timeout=settings.clearinghouse_timeout,
                ),
            )
        return HttpClearinghouse(url, timeout=settings.clearinghouse_timeout)
    except ClearinghouseError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def _stores(settings: Settings) -> Iterator[tuple[ClaimsStore, StoredControlNumbers]]:
    from integration.claims.repository import ClaimsStore
    from integration.store.control_numbers import StoredControlNumbers
    from integration.store.database import make_engine, session_factory, upgrade

    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        sessions = session_factory(engine)
        yield ClaimsStore(sessions), StoredControlNumbers(sessions, settings.submitter_id)
    finally:
        engine.dispose()


def _echo(data: Any, pretty: bool = True) -> None:
    click.echo(json.dumps(data, indent=2 if pretty else None))


def _settings() -> Settings:
    from integration.settings import Settings

    return Settings()


@click.group("claims")
def claims_command() -> None:
    """837P claim submission through the clearinghouse: submit, poll, status."""


def header_parties(
    settings: Settings,
    submitter_name: str | None,
    submitter_phone: str | None,
    receiver_name: str | None,
) -> tuple[Party, Party]:
    """1000A (NM1*41 with PER) and 1000B (NM1*40) for claims made from FHIR Claims, which
    carry neither: the ids are the settings' ISA ids (submitter_id, receiver_id, qualifier 46
    ETIN), the names and the submitter's phone are given on the command line."""
    from integration.x12.t837_005010x222a1 import Contact, Party

    for option, value in (
        ("--submitter-name", submitter_name),
        ("--submitter-phone", submitter_phone),
        ("--receiver-name", receiver_name),
    ):
        if not value or not value.strip():
            what = {
                "--submitter-name": "the submitter's name (1000A NM103)",
                "--submitter-phone": "the submitter's contact phone (1000A PER04)",
                "--receiver-name": "the receiver's name (1000B NM103)",
            }[option]
            raise click.UsageError(
                f"{option}: expected {what} for claims made from FHIR Claims, got nothing"
            )
    assert submitter_name and submitter_phone and receiver_name
    submitter = Party(
        entity_code="41",
        entity_type="2",
        last_or_organization=submitter_name.strip(),
        id_qualifier="46",
        id=settings.submitter_id,
        contacts=(Contact("IC", "", (("TE", submitter_phone.strip()),)),),
    )
    receiver = Party(
        entity_code="40",
        entity_type="2",
        last_or_organization=receiver_name.strip(),
        id_qualifier="46",
        id=settings.receiver_id,
    )
    return submitter, receiver


@claims_command.command("submit")
@click.argument("claims_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--submitter-name", help="FHIR Claims only: our name as submitter (1000A NM103).")
@click.option(
    "--submitter-phone", help="FHIR Claims only: the submitter contact's phone (1000A PER04)."
)
@click.option("--receiver-name", help="FHIR Claims only: the clearinghouse's name (1000B NM103).")
def submit_command(
    claims_file: Path,
    submitter_name: str | None,
    submitter_phone: str | None,
    receiver_name: str | None,
) -> None:
    """Send the claims of CLAIMS_FILE as one 837P interchange.

    CLAIMS_FILE holds what `dermrcm x12 parse` prints for an 837P (documents with a "model"
    key), plain claim JSON, or FHIR R4 Claims (a Claim, or a Bundle holding one and the
    resources it names), one document per line or one after another. A FHIR Claim is made an
    837P and recorded with its patient (Claim.patient), so its denials name the chart an appeal
    reads; it needs --submitter-name, --submitter-phone and --receiver-name. The file is stored
    before it is sent; when the clearinghouse cannot be reached it stays stored (exit code 1)
    and `dermrcm claims resend` sends it again."""
    from integration.claims.submit import (
        SubmissionError,
        fhir_claim_inputs,
        is_fhir_claim,
        read_claims_json,
        submit_claims,
    )

    settings = _settings()
    try:
        documents = read_claims_json(claims_file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise click.ClickException(f"{claims_file}: {exc}") from None
    inputs: list[Any] = list(documents)
    patient_refs: dict[str, str] = {}
    if any(is_fhir_claim(d) for d in documents):
        submitter, receiver = header_parties(
            settings, submitter_name, submitter_phone, receiver_name
        )
        try:
            inputs, patient_refs = fhir_claim_inputs(
                documents, submitter=submitter, receiver=receiver
            )
        except SubmissionError as exc:
            raise click.ClickException(f"{claims_file}: {exc}") from None
    with _stores(settings) as (store, numbers):
        try:
            result = submit_claims(
                inputs,
                clearinghouse_for(settings),
                store,
                numbers,
                lambda: datetime.now(UTC).replace(tzinfo=None),
                envelope_params(settings),
                patient_refs=patient_refs,
            )
        except SubmissionError as exc:
            raise click.ClickException(f"{claims_file}: {exc}") from None
    _echo(result.to_json())


@claims_command.command("resend")
@click.argument("file_ids", nargs=-1, type=int)
def resend_command(file_ids: tuple[int, ...]) -> None:
    """Send again the stored claim files that were not sent (or only FILE_IDS), byte for byte."""
    from integration.claims.submit import send_stored

    settings = _settings()
    with _stores(settings) as (store, _):
        results = send_stored(clearinghouse_for(settings), store, file_ids)
    _echo([r.to_json() for r in results])
    if any(r.status != "sent" for r in results):
        raise SystemExit(1)


@claims_command.command("poll")
def poll_command() -> None:
    """Fetch the clearinghouse's files (999, 277CA, 835, ...), store, process and acknowledge
    each once; print what was done."""
    from integration.claims.submit import poll
    from integration.clearinghouse.port import ClearinghouseError

    settings = _settings()
    with _stores(settings) as (store, _):
        try:
            result = poll(clearinghouse_for(settings), store)
        except ClearinghouseError as exc:
            raise click.ClickException(str(exc)) from None
    _echo(result.to_json())
    if result.errors:
        for error in result.errors:
            click.echo(error, err=True)
        raise SystemExit(1)


@claims_command.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table")
def status_command(as_json: bool) -> None:
    """Each submitted claim: control number, status, 999 / 277CA / 835 outcome, paid."""
    settings = _settings()
    with _stores(settings) as (store, _):
        rows = store.statuses()
    if as_json:
        _echo([r.to_json() for r in rows])
        return
    header = ("CLAIM", "STATUS", "FILE", "ISA13", "999", "277CA", "CODES", "835", "CHARGE", "PAID")
    table = [header] + [
        (
            r.patient_control_number,
            r.status,
            str(r.claim_file_id),
            r.interchange_control_number,
            r.ack,
            r.clearinghouse,
            r.status_codes or "-",
            r.remittance or "-",
            str(r.charge),
            str(r.paid),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
