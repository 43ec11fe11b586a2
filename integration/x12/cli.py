"""`dermrcm x12`: debug a payer's X12 file without the server.

- `parse FILE [--pretty] [--stats]`: the file is streamed (`read_transactions_from`); one JSON
  document per transaction set on stdout (JSON lines; `--pretty` indents each):
  `{"transaction": {"set", "guide", "name", "control_number", "interchange", "group"},
  "problems": [...], "model": {...}}`. Problems render as `error: where: what` or
  `warning: where: what`; envelope problems outside a transaction set (GE, IEA) go to stderr.
  `--stats` reads and validates everything but prints only counts as one JSON object.
- `validate FILE [--ack OUT]`: every located problem, one per line with its severity; `--ack`
  writes the 999s (and a TA1 first when the interchange envelope is bad) to OUT, from the
  inbound ISA/GS with sender and receiver reversed, dated by `--now` (default: the current UTC
  time, read here at the edge, never in the builders) and numbered from `--control-number`
  (default 1), so no settings are needed and tests are deterministic.
- `build 837p CLAIMS.json`: reads what `parse` prints for 837Ps (JSON lines or one document;
  `model` when present, else the document is the model) and writes X12 to stdout. With the
  `transaction` object of `parse` the original envelope (control numbers, dates, times) is
  reused, so `parse | build` round-trips; `--sender/--receiver/--usage` override it or, without
  it, make a new envelope (`write_837p`, whose claim rules then apply).

Exit codes: 0 fine (warnings allowed); 1 validation errors; 2 unreadable file or bad JSON.
Failures print `error: FILE: where: what` to stderr, never a traceback.
"""

from __future__ import annotations

import json
import time as timer
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal, NoReturn

import click

from integration.x12.delimiters import Delimiters
from integration.x12.envelope import (
    EnvelopeParams,
    GroupHeader,
    InterchangeHeader,
    SequentialControlNumbers,
    Transaction,
    TransactionContext,
    read_transactions_from,
)
from integration.x12.errors import Problem, X12Error
from integration.x12.guides import Guide, parse_transaction

JsonDict = dict[str, Any]
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _fail(file: Path | str, message: str, code: int = 2) -> NoReturn:
    click.echo(f"error: {file}: {message}", err=True)
    raise SystemExit(code)


def _render(problem: Problem) -> str:
    return f"{problem.severity}: {problem.render()}"


# -- transaction envelope as JSON (and back) ------------------------------------------------------


def _envelope_json(ctx: TransactionContext, guide: Guide | None) -> JsonDict:
    i, g, d = ctx.interchange, ctx.group, ctx.delimiters
    return {
        "set": ctx.transaction_set_id,
        "guide": ctx.implementation_reference or g.version,
        "name": guide.name if guide else None,
        "control_number": ctx.control_number,
        "interchange": {
            "control_number": i.control_number,
            "sender": {"qualifier": i.sender_qualifier, "id": i.sender_id},
            "receiver": {"qualifier": i.receiver_qualifier, "id": i.receiver_id},
            "created": i.created.isoformat(),
            "version": i.version,
            "usage": i.usage_indicator,
            "ack_requested": i.ack_requested,
            "repetition": i.repetition_field,
            "authorization": [i.authorization_qualifier, i.authorization_information],
            "security": [i.security_qualifier, i.security_information],
            "delimiters": {
                "element": d.element,
                "component": d.component,
                "repetition": d.repetition,
                "segment": d.segment,
            },
        },
        "group": {
            "control_number": g.control_number,
            "functional_id": g.functional_id,
            "sender": g.application_sender,
            "receiver": g.application_receiver,
            "created": g.created.isoformat(),
            "time": g.time_sent,
            "agency": g.agency,
            "version": g.version,
        },
    }


def _context_from_json(data: JsonDict) -> TransactionContext:
    """The envelope `_envelope_json` wrote; KeyError/ValueError/TypeError when malformed."""
    i, g = data["interchange"], data["group"]
    d = i.get("delimiters") or {}
    delimiters = Delimiters(
        element=d.get("element", "*"),
        repetition=d.get("repetition", "^"),
        component=d.get("component", ":"),
        segment=d.get("segment", "~"),
    )
    auth = i.get("authorization") or ["00", " " * 10]
    security = i.get("security") or ["00", " " * 10]
    interchange = InterchangeHeader(
        sender_qualifier=str(i["sender"]["qualifier"]),
        sender_id=str(i["sender"]["id"]),
        receiver_qualifier=str(i["receiver"]["qualifier"]),
        receiver_id=str(i["receiver"]["id"]),
        created=datetime.fromisoformat(i["created"]),
        control_number=str(i["control_number"]),
        usage_indicator=str(i["usage"]),
        ack_requested=bool(i.get("ack_requested", False)),
        version=str(i.get("version", "00501")),
        repetition_field=str(i.get("repetition", delimiters.repetition or "U")),
        authorization_qualifier=str(auth[0]),
        authorization_information=str(auth[1]),
        security_qualifier=str(security[0]),
        security_information=str(security[1]),
    )
    group = GroupHeader(
        functional_id=str(g.get("functional_id", "HC")),
        application_sender=str(g["sender"]),
        application_receiver=str(g["receiver"]),
        created=datetime.fromisoformat(g["created"]),
        control_number=str(g["control_number"]),
        version=str(g["version"]),
        agency=str(g.get("agency", "X")),
        time_sent=str(g.get("time") or ""),
    )
    return TransactionContext(
        interchange=interchange,
        group=group,
        transaction_set_id=str(data["set"]),
        control_number=str(data["control_number"]),
        implementation_reference=str(data["guide"]),
        delimiters=delimiters,
    )


# -- reading ------------------------------------------------------------------------------------


class _CountingReader:
    """A binary file that counts the bytes read through it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.bytes = 0

    def read(self, size: int, /) -> bytes:
        data = self.stream.read(size)
        self.bytes += len(data)
        return data


@dataclass(slots=True)
class _Parsed:
    txn: Transaction
    guide: Guide | None
    model: Any | None
    problems: list[Problem]


@dataclass(slots=True)
class _Run:
    file: Path
    envelope_problems: list[Problem] = field(default_factory=list)
    bytes: int = 0


def _read(run: _Run, chunk_size: int) -> Iterator[_Parsed]:
    """Each transaction set of `run.file`, parsed by its guide; exit 2 when unreadable."""
    try:
        stream = run.file.open("rb")
    except OSError as exc:
        _fail(run.file, exc.strerror or str(exc))
    with stream:
        counting = _CountingReader(stream)
        try:
            for txn in read_transactions_from(counting, run.envelope_problems, chunk_size):
                guide, model, problems = parse_transaction(txn)
                yield _Parsed(txn, guide, model, problems)
        except X12Error as exc:
            _fail(run.file, "; ".join(p.render() for p in exc.problems))
        except OSError as exc:
            _fail(run.file, exc.strerror or str(exc))
        run.bytes = counting.bytes


def _document(parsed: _Parsed) -> JsonDict:
    model = None
    if parsed.model is not None and parsed.guide is not None:
        model = parsed.guide.to_json(parsed.model)
    return {
        "transaction": _envelope_json(parsed.txn.context, parsed.guide),
        "problems": [_render(p) for p in parsed.problems],
        "model": model,
    }


# -- commands -----------------------------------------------------------------------------------


@click.group("x12")
def x12_command() -> None:
    """X12 5010 files: parse to JSON, validate (with 999/TA1), build an 837P from JSON."""


FILE = click.Path(dir_okay=False, path_type=Path)
NOW_TYPE = click.DateTime(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"])


@x12_command.command("parse")
@click.argument("file", type=FILE)
@click.option("--pretty", is_flag=True, help="Indent each JSON document.")
@click.option("--stats", is_flag=True, help="Print only counts, as one JSON object.")
@click.option("--chunk-size", type=click.IntRange(min=1), default=1 << 20, hidden=True)
def parse_command(file: Path, pretty: bool, stats: bool, chunk_size: int) -> None:
    """One JSON document per transaction set of FILE (streamed), or counts with --stats."""
    run = _Run(file)
    started = timer.perf_counter()
    sets: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    severities: Counter[str] = Counter({"error": 0, "warning": 0})
    for parsed in _read(run, chunk_size):
        sets[parsed.guide.name if parsed.guide else parsed.txn.context.transaction_set_id] += 1
        severities.update(p.severity for p in parsed.problems)
        if parsed.model is not None and parsed.guide is not None:
            totals.update(parsed.guide.counts(parsed.model))
        if not stats:
            click.echo(json.dumps(_document(parsed), indent=2 if pretty else None))
    severities.update(p.severity for p in run.envelope_problems)
    if stats:
        summary: JsonDict = {
            "file": str(file),
            "transactions": sum(sets.values()),
            "by_set": dict(sorted(sets.items())),
            **dict(sorted(totals.items())),
            "problems": dict(severities),
            "bytes": run.bytes,
            "seconds": round(timer.perf_counter() - started, 3),
        }
        click.echo(json.dumps(summary, indent=2 if pretty else None))
    else:
        for problem in run.envelope_problems:
            click.echo(f"{file}: {_render(problem)}", err=True)
    if severities["error"]:
        raise SystemExit(1)


def _reply_params(
    ctx: TransactionContext | None, header: InterchangeHeader | None
) -> EnvelopeParams:
    i = header or (ctx.interchange if ctx else None)
    if i is None:
        raise ValueError("no interchange header")
    usage: Literal["T", "P"] = "P" if i.usage_indicator == "P" else "T"
    return EnvelopeParams(
        sender_qualifier=i.receiver_qualifier,
        sender_id=i.receiver_id,
        receiver_qualifier=i.sender_qualifier,
        receiver_id=i.sender_id,
        usage_indicator=usage,
        application_sender=ctx.group.application_receiver if ctx else None,
        application_receiver=ctx.group.application_sender if ctx else None,
    )


def _write_acks(
    file: Path, out: Path, problems: list[Problem], first: _Parsed | None, clock: Clock, start: int
) -> None:
    """The TA1 (only when the interchange envelope is bad) and a 999 per functional group."""
    from integration.x12.t999_005010x231a1 import build_999, write_999
    from integration.x12.ta1 import build_ta1, read_interchange_header, write_ta1

    text = file.read_bytes()
    numbers = SequentialControlNumbers(start, start, start)
    parts: list[str] = []
    ta1 = build_ta1(text, problems)
    if ta1 is not None and not ta1.accepted:
        header = first.txn.context.interchange if first else read_interchange_header(text)
        if header is not None:
            parts.append(write_ta1([ta1], _reply_params(None, header), clock, numbers))
    if first is not None:
        params = _reply_params(first.txn.context, None)
        parts.extend(write_999(ack, params, clock, numbers) for ack in build_999(text, problems))
    out.write_text("".join(parts), encoding="utf-8")


@x12_command.command("validate")
@click.argument("file", type=FILE)
@click.option("--ack", "ack_out", type=FILE, default=None, help="Write the 999 (and TA1) here.")
@click.option("--now", type=NOW_TYPE, default=None, help="Date and time of the acks.")
@click.option("--control-number", type=click.IntRange(min=1), default=1, show_default=True)
def validate_command(
    file: Path, ack_out: Path | None, now: datetime | None, control_number: int
) -> None:
    """Every located problem of FILE, one per line; exit 1 when any is an error."""
    run = _Run(file)
    problems: list[Problem] = []
    first: _Parsed | None = None
    for parsed in _read(run, 1 << 20):
        first = first or replace(parsed, model=None)
        problems.extend(parsed.problems)
    every = sorted(
        [*problems, *run.envelope_problems],
        key=lambda p: (p.segment_index is None, p.segment_index or 0),
    )
    for problem in every:
        click.echo(_render(problem))
    if ack_out is not None:
        clock: Clock = (lambda: now) if now is not None else _utc_now
        try:
            _write_acks(file, ack_out, every, first, clock, control_number)
        except (OSError, X12Error, ValueError) as exc:
            _fail(ack_out, str(exc))
    if any(p.is_error for p in every):
        raise SystemExit(1)


@x12_command.group("build")
def build_command() -> None:
    """Write X12 from JSON."""


def _documents(file: Path) -> Iterator[tuple[str, JsonDict]]:
    """(where, document) for a single JSON document or JSON lines; exit 2 on bad JSON."""
    try:
        text = file.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(file, getattr(exc, "strerror", None) or str(exc))
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        yield "document", whole
        return
    if whole is not None:
        _fail(file, f"document: expected a JSON object, got {type(whole).__name__}")
    found = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            _fail(file, f"line {number}: expected JSON, got {exc.msg} at column {exc.colno}")
        if not isinstance(doc, dict):
            _fail(file, f"line {number}: expected a JSON object, got {type(doc).__name__}")
        found = True
        yield f"line {number}", doc
    if not found:
        _fail(file, "expected a JSON document, got none")


@build_command.command("837p")
@click.argument("file", type=FILE)
@click.option("--sender", default=None, help="ISA06/GS02 (qualifier ZZ).")
@click.option("--receiver", default=None, help="ISA08/GS03 (qualifier ZZ).")
@click.option("--usage", type=click.Choice(["T", "P"]), default=None, help="ISA15.")
@click.option("--now", type=NOW_TYPE, default=None, help="Envelope date and time.")
@click.option("--control-number", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--line-breaks", is_flag=True, help="A line break after each segment.")
def build_837p_command(
    file: Path,
    sender: str | None,
    receiver: str | None,
    usage: str | None,
    now: datetime | None,
    control_number: int,
    line_breaks: bool,
) -> None:
    """Write the 837P(s) of FILE (what `dermrcm x12 parse` prints) as X12 on stdout."""
    from integration.x12.t837_005010x222a1 import claim_from_json, render_837p, write_837p

    suffix = "\n" if line_breaks else ""
    numbers = SequentialControlNumbers(control_number, control_number, control_number)
    clock: Clock = (lambda: now) if now is not None else _utc_now
    out: list[str] = []
    for where, doc in list(_documents(file)):  # all JSON read before anything is written
        envelope = doc.get("transaction") if "model" in doc else None
        data = doc.get("model", doc)
        if envelope is not None and (
            not isinstance(envelope, dict) or envelope.get("set") != "837"
        ):
            got = envelope.get("set") if isinstance(envelope, dict) else envelope
            _fail(file, f"{where}: transaction: expected an 837P, got {got!r}")
        if not isinstance(data, dict):
            _fail(file, f"{where}: model: expected an object, got {json.dumps(data)}")
        try:
            model = claim_from_json(data)
        except (ValueError, TypeError, KeyError) as exc:
            _fail(file, f"{where}: {exc}")
        try:
            if envelope is not None:
                try:
                    context = _context_from_json(envelope)
                except (KeyError, ValueError, TypeError, IndexError) as exc:
                    _fail(file, f"{where}: transaction: expected an envelope, got {exc!r}")
                context = _override(context, sender, receiver, usage)
                out.append(render_837p(model, context, suffix))
            else:
                if not (sender and receiver):
                    _fail(file, f"{where}: expected --sender and --receiver (no envelope)")
                params = EnvelopeParams(
                    sender_qualifier="ZZ",
                    sender_id=sender,
                    receiver_qualifier="ZZ",
                    receiver_id=receiver,
                    usage_indicator="P" if usage == "P" else "T",
                )
                out.append(write_837p(model, params, clock, numbers, segment_suffix=suffix))
        except X12Error as exc:
            for problem in exc.problems:
                click.echo(f"error: {file}: {where}: {problem.render()}", err=True)
            raise SystemExit(1) from None
    click.echo("".join(out), nl=False)


def _override(
    context: TransactionContext, sender: str | None, receiver: str | None, usage: str | None
) -> TransactionContext:
    i, g = context.interchange, context.group
    if sender:
        i = replace(i, sender_qualifier="ZZ", sender_id=sender)
        g = replace(g, application_sender=sender)
    if receiver:
        i = replace(i, receiver_qualifier="ZZ", receiver_id=receiver)
        g = replace(g, application_receiver=receiver)
    if usage:
        i = replace(i, usage_indicator=usage)
    return replace(context, interchange=i, group=g)


__all__ = ["x12_command"]
