"""`dermrcm sandbox`: run the sandbox EHR until Ctrl-C."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from integration.sandbox.config import SandboxClient, SandboxConfig
from integration.sandbox.server import start_sandbox
from integration.sandbox.store import SandboxDataError


@click.command("sandbox")
@click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, dir_okay=True, path_type=Path),
    help="Folder of FHIR JSON files (Bundles or single resources), read recursively.",
)
@click.option("--port", default=8081, show_default=True, type=click.IntRange(0, 65535))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--base-url",
    default=None,
    help="External origin if it differs from http://HOST:PORT (e.g. behind a port mapping).",
)
@click.option("--fhir-path", default="/fhir", show_default=True, help='"" serves FHIR at the root.')
@click.option("--no-auth", is_flag=True, help="Serve FHIR without tokens (scripts, debugging).")
@click.option("--client-id", default="derm-rcm", show_default=True)
@click.option(
    "--redirect-uri", "redirect_uris", multiple=True, help="Allowed redirect URI (repeatable)."
)
@click.option("--launch-url", default=None, help="The app's EHR launch URL.")
@click.option("--page-size", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--auto-approve", is_flag=True, help="Skip the consent screen.")
def sandbox_command(
    data_dir: Path,
    port: int,
    host: str,
    base_url: str | None,
    fhir_path: str,
    no_auth: bool,
    client_id: str,
    redirect_uris: tuple[str, ...],
    launch_url: str | None,
    page_size: int,
    auto_approve: bool,
) -> None:
    """Run a sandbox EHR (SMART authorization server + read-only FHIR) over a data folder."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
    if no_auth:
        click.secho(
            "WARNING: --no-auth: the FHIR endpoint answers anyone without a token. Use it for "
            "scripts and local debugging only, never with real data.",
            err=True,
            fg="yellow",
        )
    elif not redirect_uris:
        click.secho(
            f"WARNING: no --redirect-uri: authorization requests from {client_id!r} will be "
            "refused until one is given.",
            err=True,
            fg="yellow",
        )
    client = SandboxClient(client_id, tuple(redirect_uris), launch_url)

    def make_config(bound_url: str) -> SandboxConfig:
        return SandboxConfig(
            data_dir=data_dir,
            base_url=(base_url or bound_url).rstrip("/"),
            fhir_path=fhir_path.rstrip("/"),
            clients=(client,),
            auth_enabled=not no_auth,
            default_page_size=page_size,
            max_page_size=max(1000, page_size),
            auto_approve=auto_approve,
        )

    try:
        running, config = start_sandbox(make_config, host=host, port=port)
    except (SandboxDataError, ValueError, OSError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Sandbox EHR patient list: {config.base_url}/")
    click.echo(f"FHIR base (iss / aud):    {config.base_url}{config.fhir_path}")
    try:
        running.wait()
    except KeyboardInterrupt:
        click.echo("stopping", err=True)
    finally:
        running.shutdown()
