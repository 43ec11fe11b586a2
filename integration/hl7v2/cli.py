"""`dermrcm hl7 ...`: listen, send, parse, validate, replay and stats."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from integration.settings import Settings


def _ingest(settings: Settings, *, pre_ping: bool = True) -> tuple[Any, Any]:
    """The ingest pipeline and its engine (dispose it when done); `pre_ping`: see make_engine."""
    from integration.hl7v2.ingest import Ingest
    from integration.mapping.hl7v2 import MappingOptions
    from integration.mapping.hl7v2_transforms import load_feed_maps
    from integration.store.database import make_engine, session_factory, upgrade

    engine = make_engine(settings.database_url, pre_ping=pre_ping)
    upgrade(engine)
    return Ingest(
        session_factory(engine), load_feed_maps(), MappingOptions(timezone=settings.hl7_timezone)
    ), engine


@click.group("hl7")
def hl7_command() -> None:
    """HL7 v2 feeds over MLLP: durable, idempotent ingest into FHIR."""


@hl7_command.command("listen")
@click.option("--host", default=None, help="Address to bind (default DERMRCM_HL7_HOST, 127.0.0.1)")
@click.option("--port", type=int, default=None, help="Port (default DERMRCM_HL7_PORT, 2575)")
@click.option(
    "--metrics-port", type=int, default=None, help="Also serve /metrics (Prometheus) on this port"
)
@click.option(
    "--event-loop",
    type=click.Choice(["auto", "asyncio", "uvloop"]),
    default="auto",
    show_default=True,
    envvar="DERMRCM_HL7_EVENT_LOOP",
    help="auto: uvloop when installed, else asyncio's",
)
def listen(
    host: str | None,
    port: int | None,
    metrics_port: int | None,
    event_loop: str,
) -> None:
    """Accept MLLP connections; store each message, process it once, then ACK."""
    from integration import native
    from integration.hl7v2.listener import Listener, event_loop_factory
    from integration.hl7v2.server import ServerOptions

    loop_factory = event_loop_factory(event_loop)

    settings = Settings()
    # No pre-ping: one extra round trip per group. A group on a dropped connection fails
    # unacknowledged (the sender resends) and the pool replaces the connection.
    ingest, _engine = _ingest(settings, pre_ping=False)
    listener = Listener(
        ingest,
        ServerOptions(max_frame=settings.hl7_max_frame, idle_timeout=settings.hl7_idle_timeout),
        batch_size=settings.hl7_batch_size,
        group_wait=settings.hl7_group_wait_ms / 1000,
    )
    metrics_server = None
    if metrics_port is not None:
        from integration.hl7v2.metrics_app import metrics_app
        from integration.http_server import serve_in_thread

        metrics_server = serve_in_thread(
            metrics_app(listener.metrics), host or settings.hl7_host, metrics_port
        )

    async def main() -> None:
        await listener.start(host or settings.hl7_host, settings.hl7_port if port is None else port)
        loop_name = "uvloop" if loop_factory is not None else "asyncio"
        click.echo(
            f"hl7 listener on {host or settings.hl7_host}:{listener.port} ({loop_name}, "
            f"{native.describe()})",
            err=True,
        )
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await listener.close()

    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(main())
    finally:
        if metrics_server is not None:
            metrics_server.shutdown()


@hl7_command.command("send")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=2575, show_default=True)
def send(file: Path, host: str, port: int) -> None:
    """Send each message of FILE over MLLP and print each ACK's MSA (and ERR) segments."""
    from integration.hl7v2.client import MllpClient, expected_acks
    from integration.hl7v2.message import split_batch

    text = file.read_bytes().decode("utf-8", errors="replace")
    payloads = [m.encode("utf-8") for m in split_batch(text).messages]
    with MllpClient(host, port) as client:
        for n, payload in enumerate(payloads, start=1):
            replies = client.send(payload, expect=expected_acks(payload))
            if not replies:
                click.echo(f"message {n}: no ACK (MSH-15/16 asked for none)")
            for reply in replies:
                segments = reply.decode("utf-8", "replace").split("\r")
                click.echo(
                    f"message {n}: " + " ".join(s for s in segments if s.startswith(("MSA", "ERR")))
                )


@hl7_command.command("parse")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def parse(file: Path) -> None:
    """Print each message's header and the FHIR it maps to (no database, nothing stored)."""
    from integration.hl7v2.errors import Hl7Error
    from integration.hl7v2.ingest import decode
    from integration.hl7v2.message import parse_message, split_batch
    from integration.mapping.hl7v2 import MappingOptions, map_message
    from integration.mapping.hl7v2_transforms import load_feed_maps

    maps = load_feed_maps()
    options = MappingOptions(timezone=Settings().hl7_timezone)
    text, _charset = decode(file.read_bytes())
    out: list[dict[str, Any]] = []
    failed = False
    try:
        messages = split_batch(text).messages
    except Hl7Error as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    for part in messages:
        try:
            message = parse_message(part)
            header = message.header
            resources = map_message(message, maps, options)
            out.append(
                {
                    "message_type": header.message_type,
                    "control_id": header.control_id,
                    "version": header.version,
                    "segments": [s.id for s in message.segments],
                    "resources": [
                        {
                            "mode": r.mode,
                            **({"keep": list(r.keep)} if r.keep else {}),
                            "resource": r.body,
                        }
                        for r in resources
                    ],
                }
            )
        except Hl7Error as exc:
            failed = True
            out.append({"error": {"code": exc.code.value, "message": exc.message}})
    click.echo(json.dumps(out, indent=2, ensure_ascii=False))
    sys.exit(1 if failed else 0)


@hl7_command.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def validate(file: Path) -> None:
    """Check each message's structure against its HL7 version with hl7apy (slow, thorough)."""
    from integration.hl7v2.ingest import decode
    from integration.hl7v2.message import split_batch
    from integration.hl7v2.validate import validate_structure

    text, _charset = decode(file.read_bytes())
    problems = 0
    for n, part in enumerate(split_batch(text).messages, start=1):
        issues = validate_structure(part)
        problems += len(issues)
        if not issues:
            click.echo(f"message {n}: ok")
        for issue in issues:
            click.echo(f"message {n}: {issue.message}")
    sys.exit(1 if problems else 0)


def _since(value: str) -> datetime:
    try:
        if "T" in value:
            parsed = datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        day = date.fromisoformat(value)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    except ValueError:
        raise click.BadParameter(
            f"expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS], got {value!r}", param_hint="--since"
        ) from None


@hl7_command.command("replay")
@click.option("--since", "since", required=True, help="Received at or after (YYYY-MM-DD[THH:MM])")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["received", "processed", "duplicate", "error", "rejected"]),
    help="Only messages with this status (repeatable; default: error and received)",
)
def replay(since: str, statuses: tuple[str, ...]) -> None:
    """Re-process stored messages; already-applied ones are not applied again."""
    from integration.hl7v2.ingest import stored_ids

    when = _since(since)
    ingest, engine = _ingest(Settings())
    try:
        with ingest.sessions() as session:
            ids = stored_ids(session, when, statuses or ("error", "received"))
        outcomes = ingest.replay(ids)
    finally:
        engine.dispose()
    summary: dict[str, int] = {}
    for outcome in outcomes:
        summary[outcome.status] = summary.get(outcome.status, 0) + 1
    click.echo(json.dumps({"replayed": len(outcomes), "outcomes": summary}))


@hl7_command.command("stats")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table")
def stats(as_json: bool) -> None:
    """Counts from the store: received, processed, duplicates, errors, rejected."""
    from integration.store.database import make_engine, session_factory, upgrade
    from integration.store.hl7_inbox import inbox_stats

    engine = make_engine(Settings().database_url)
    upgrade(engine)
    try:
        with session_factory(engine)() as session:
            counts = inbox_stats(session)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(counts))
    else:
        for key, value in counts.items():
            click.echo(f"{key:12} {value}")
