"""The `dermrcm` command."""

from __future__ import annotations

import json
import logging
import sys
from datetime import date
from pathlib import Path

import click

from integration.cli_lazy import LazyGroup


@click.group(
    cls=LazyGroup,
    lazy={
        "sandbox": "integration.sandbox.cli:sandbox_command",
        "hl7": "integration.hl7v2.cli:hl7_command",
        "pa": "integration.priorauth.cli:pa_command",
        "era": "integration.denials.cli:era_command",
        "denials": "integration.denials.worklist_cli:denials_command",
        "appeal": "integration.appeals.cli:appeal_command",
        "claims": "integration.claims.cli:claims_command",
        "x12": "integration.x12.cli:x12_command",
        "scrub": "integration.coding.scrub_cli:scrub_command",
        "refdata": "integration.coding.refdata_cli:refdata_command",
    },
)
def main() -> None:
    """derm-rcm: dermatology prior authorization, claims and appeals."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    # third-party progress lines (migrations, PDF layout, font subsetting) are not our log
    for noisy in ("alembic", "weasyprint", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@main.group(
    cls=LazyGroup,
    lazy={
        "suggest": "integration.coding.suggest_cli:suggest_command",
        "risk": "integration.coding.risk_cli:risk_command",
    },
)
def coding() -> None:
    """Coding help: codes from a procedure note, denial risk."""


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the database named by DATABASE_URL (default SQLite under var/)."""
    from integration.settings import Settings
    from integration.store.database import make_engine, upgrade

    settings = Settings()
    engine = make_engine(settings.database_url)
    upgrade(engine, revision)
    click.echo(
        f"database at revision {revision}: {engine.url.render_as_string(hide_password=True)}"
    )


@main.group()
def backend() -> None:
    """derm-rcm as a SMART backend service (the reauthorization watcher)."""


@backend.command("jwks")
def backend_jwks() -> None:
    """Print the public key set to register with the EHR for DERMRCM_BACKEND_CLIENT_ID
    (the private key is generated once into var/backend_key.pem, or DERMRCM_BACKEND_KEY_FILE)."""
    from integration.fhir.backend_auth import load_or_create_key, public_jwks
    from integration.settings import Settings

    settings = Settings()
    click.echo(json.dumps(public_jwks(load_or_create_key(settings.backend_key_path)), indent=2))


@backend.command("token")
@click.option("--fhir-base", required=True, help="FHIR base URL of the EHR")
def backend_token(fhir_base: str) -> None:
    """Ask the EHR for a backend-services token and print what it granted (not the token): a
    check that the registration works. Exit 1 with the step that failed."""
    from integration.fhir.backend_auth import (
        BackendAuthError,
        BackendServicesToken,
        load_or_create_key,
    )
    from integration.settings import Settings

    settings = Settings()
    source = BackendServicesToken(
        fhir_base,
        settings.backend_client_id,
        load_or_create_key(settings.backend_key_path),
        scope=settings.backend_scope,
        timeout=settings.fhir_timeout,
    )
    try:
        source.token()
    except BackendAuthError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"client {settings.backend_client_id}: token granted, scope {source.granted_scope}")


@main.group()
def mappings() -> None:
    """Data files in mappings/."""


@mappings.command("check")
@click.option("--root", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None)
def mappings_check(root: Path | None) -> None:
    """Validate every mapping file against its schema; exit 1 on the first bad one."""
    from integration.mapping.evidence_maps import load_evidence_maps
    from integration.mapping.loader import MappingError, check_all
    from integration.priorauth.references import load_pa_references

    try:
        docs = check_all(root)
        load_evidence_maps(root)
        load_pa_references(root)
    except MappingError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    for doc in docs:
        click.echo(f"ok  {doc.kind:24} {doc.id:32} v{doc.version}  {doc.path.name}")


@main.command("evidence")
@click.option("--fhir-base", required=True, help="FHIR base URL, e.g. http://127.0.0.1:8081/fhir")
@click.option("--patient", required=True, help="Patient id")
@click.option(
    "--token",
    default=None,
    help="Bearer access token (or set DERMRCM_TOKEN)",
    envvar="DERMRCM_TOKEN",
)
@click.option(
    "--as-of",
    "as_of",
    default=None,
    help="Date the evidence is judged at (YYYY-MM-DD; default today)",
)
@click.option("--pretty/--compact", default=True)
@click.option("--stats", is_flag=True, help="Also print round trips and time to stderr")
def evidence_command(
    fhir_base: str, patient: str, token: str | None, as_of: str | None, pretty: bool, stats: bool
) -> None:
    """Read a patient's chart over FHIR and print the ClinicalEvidence JSON."""
    from integration.fhir.chart_evidence import chart_evidence
    from integration.fhir.client import ClientOptions, FhirClient
    from integration.fhir.errors import FhirError
    from integration.mapping.evidence_maps import load_evidence_maps
    from integration.settings import Settings

    try:
        when = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        raise click.BadParameter(
            f"expected YYYY-MM-DD, got {as_of!r}", param_hint="--as-of"
        ) from None
    settings = Settings()
    options = ClientOptions(
        timeout=settings.fhir_timeout,
        retries=settings.fhir_retries,
        concurrency=settings.fhir_concurrency,
        page_size=settings.fhir_page_size,
    )
    client = FhirClient(fhir_base, token=lambda: token, options=options)
    try:
        evidence, fetch = chart_evidence(client, patient, load_evidence_maps(), when)
    except FhirError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    finally:
        client.close()
    click.echo(json.dumps(evidence.to_json(), indent=2 if pretty else None, ensure_ascii=False))
    if stats:
        click.echo(
            f"round_trips={fetch.round_trips} resources={len(fetch.chart.resources)} seconds={fetch.seconds:.3f}",
            err=True,
        )


@main.command("run")
@click.option("--no-sandbox", is_flag=True, help="Don't start the sandbox EHR")
@click.option("--no-hl7", is_flag=True, help="Don't start the MLLP listener")
def run_command(no_sandbox: bool, no_hl7: bool) -> None:
    """Migrate the database; start the sandbox EHR, the app and the MLLP listener; print the URLs."""
    from integration.runner import run

    run(sandbox=not no_sandbox, hl7=not no_hl7)


if __name__ == "__main__":
    main()
