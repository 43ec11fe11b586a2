"""`dermrcm scrub FILE`: check claims before they leave, with each finding's source and fix.

FILE holds one of:

- a scrub request (fhir_profiles/scrub-request.schema.json): the 837P claim with its payer,
  documentation facts and the patient's earlier procedures;
- an 837P as `dermrcm x12 parse` prints it (the `{"transaction", "problems", "model"}` document,
  or the bare `model`): one request per claim, payer from its subscriber loop, no facts;
- JSON lines (or a JSON array) of either: a batch, scrubbed in order with a progress bar on
  stderr when stderr is a terminal (or with --progress).

`--from-fhir BUNDLE.json` reads a FHIR Bundle instead (integration.coding.from_fhir: ChargeItems
grouped by patient and encounter, with the chart's Conditions, Coverage and Procedures).

Prints the result (`{"claim_id", "findings": [{"rule", "severity", "message", "lines",
"source", "fix"}], "corrected", "self_pay", "summary"}`, fhir_profiles/scrub-result.schema.json)
as one JSON document for one claim, JSON lines for more. `--837p OUT.x12` writes the corrected
claims of 837P input as a new 837P interchange (`write_837p`: sender, receiver and usage from the
input's envelope unless --sender/--receiver/--usage say otherwise, dated --now, numbered from
--control-number, like `dermrcm x12 build 837p`); a claim with an error no rule could fix (a
person must decide) is left out of OUT and named on stderr.

Exit codes: 0 no error findings; 1 some finding is an error (or OUT could not be written as
X12); 2 unreadable input, printed as `error: FILE: where: what`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import click

from integration.coding.engine import Scrubber
from integration.coding.from_fhir import requests_from_bundle
from integration.coding.model import (
    ScrubRequest,
    ScrubResult,
    request_from_json,
    requests_from_transaction,
)
from integration.x12.cli import NOW_TYPE, Clock, _context_from_json, _fail, _utc_now
from integration.x12.envelope import EnvelopeParams, SequentialControlNumbers
from integration.x12.errors import X12Error
from integration.x12.t837_005010x222a1 import (
    Claim,
    Claim837Transaction,
    json_to_model,
    write_837p,
)

JsonDict = dict[str, Any]
FILE = click.Path(dir_okay=False, path_type=Path)


# -- the scrubber -------------------------------------------------------------------------------


@cache
def _without_reference_tables() -> Scrubber:
    return Scrubber.load(reference={})


def scrubber() -> Scrubber:
    """The project's scrubber (`default_scrubber`: mappings/ and the imported NCCI/MUE tables);
    while the reference-table loader is not installed, every family without those tables."""
    from integration.coding.engine import default_scrubber

    try:
        return default_scrubber()
    except ModuleNotFoundError as exc:
        if exc.name != "integration.coding.reference":
            raise
        return _without_reference_tables()


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """Where a request came from: `where` in the file, and for 837P input its transaction (and
    the parse envelope, when given) so the corrected claims can be written back as an 837P."""

    where: str
    transaction: Claim837Transaction | None = None
    envelope: JsonDict | None = None


@dataclass(frozen=True, slots=True)
class Item:
    request: ScrubRequest
    source: Source


def items_from_document(doc: Any, where: str) -> list[Item]:
    """The requests of one JSON document (request, parse document or 837P model); ValueError
    naming `where` (when given) and the path of a bad field."""

    def located(message: str) -> ValueError:
        return ValueError(f"{where}: {message}" if where else message)

    if not isinstance(doc, dict):
        kind = type(doc).__name__
        raise located(("" if where else "$: ") + f"expected a JSON object, got {kind}")
    envelope: JsonDict | None = None
    data: Any = doc
    if "model" in doc and "transaction" in doc:
        transaction = doc.get("transaction")
        if not isinstance(transaction, dict) or transaction.get("set") != "837":
            got = transaction.get("set") if isinstance(transaction, dict) else transaction
            raise located(f"transaction: expected an 837P, got {got!r}")
        envelope, data = transaction, doc["model"]
        if not isinstance(data, dict):
            raise located(f"model: expected an object, got {json.dumps(data)}")
    if isinstance(data, dict) and "billing_providers" in data:
        try:
            model = json_to_model(Claim837Transaction, data, "$")
        except (ValueError, TypeError) as exc:
            raise located(str(exc)) from exc
        source = Source(where, model, envelope)
        return [Item(r, source) for r in requests_from_transaction(model)]
    try:
        return [Item(request_from_json(data), Source(where))]
    except (ValueError, TypeError) as exc:
        raise located(str(exc)) from exc


def _documents(text: str) -> Iterator[tuple[str, Any]]:
    """(where, document): one JSON document, a JSON array of them, or JSON lines."""
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    else:
        if isinstance(whole, list):
            for i, doc in enumerate(whole):
                yield f"[{i}]", doc
        else:
            yield "document", whole
        return
    found = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"line {number}: expected JSON, got {exc.msg} at column {exc.colno}"
            ) from None
        found = True
        yield f"line {number}", doc
    if not found:
        raise ValueError("expected a JSON document, got none")


def read_items(text: str) -> list[Item]:
    """Every request of a scrub input file's text; ValueError naming where it is bad."""
    out: list[Item] = []
    for where, doc in _documents(text):
        out.extend(items_from_document(doc, where))
    return out


def _read_text(file: Path) -> str:
    try:
        return file.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(file, getattr(exc, "strerror", None) or str(exc))


# -- writing the corrected 837P ------------------------------------------------------------------


def _blocked(result: ScrubResult) -> list[str]:
    """The rules of error findings no rule could fix (a person must decide)."""
    return [f.rule for f in result.findings if f.severity == "error" and f.fix is None]


def corrected_transaction(
    model: Claim837Transaction, corrected: Sequence[Claim | None]
) -> Claim837Transaction | None:
    """`model` with its claims (in `requests_from_transaction` order) replaced by `corrected`;
    a None leaves that claim out, and loops left without claims go too (None if nothing is
    left)."""
    queue = iter(corrected)
    providers = []
    for bp in model.billing_providers:
        subscribers = []
        for sub in bp.subscribers:
            own = tuple(c for c in (next(queue) for _ in sub.claims) if c is not None)
            patients = []
            for pat in sub.patients:
                theirs = tuple(c for c in (next(queue) for _ in pat.claims) if c is not None)
                if theirs:
                    patients.append(replace(pat, claims=theirs))
            if own or patients:
                subscribers.append(replace(sub, claims=own, patients=tuple(patients)))
        if subscribers:
            providers.append(replace(bp, subscribers=tuple(subscribers)))
    if not providers:
        return None
    return replace(model, billing_providers=tuple(providers))


def _params(
    envelope: JsonDict | None, sender: str | None, receiver: str | None, usage: str | None
) -> EnvelopeParams | None:
    """The new interchange's parties: the input envelope's, overridden by the options."""
    base = None
    if envelope is not None:
        try:
            base = _context_from_json(envelope)
        except (KeyError, ValueError, TypeError, IndexError):
            base = None
    if base is None and not (sender and receiver):
        return None
    i = base.interchange if base else None
    g = base.group if base else None
    return EnvelopeParams(
        sender_qualifier="ZZ" if sender or i is None else i.sender_qualifier,
        sender_id=sender or (i.sender_id.strip() if i else ""),
        receiver_qualifier="ZZ" if receiver or i is None else i.receiver_qualifier,
        receiver_id=receiver or (i.receiver_id.strip() if i else ""),
        usage_indicator="P" if (usage or (i.usage_indicator if i else "T")) == "P" else "T",
        ack_requested=i.ack_requested if i else False,
        application_sender=sender or (g.application_sender if g else None),
        application_receiver=receiver or (g.application_receiver if g else None),
    )


def write_corrected_837p(
    out: Path,
    items: Sequence[Item],
    results: Sequence[ScrubResult],
    *,
    sender: str | None,
    receiver: str | None,
    usage: str | None,
    clock: Clock,
    control_number: int,
) -> None:
    """Write the corrected claims of 837P input to `out` (exit 1 on X12 errors, 2 when the
    input has no 837P or no parties for the envelope)."""
    groups: dict[int, tuple[Source, list[Claim | None]]] = {}
    for item, result in zip(items, results, strict=True):
        if item.source.transaction is None:
            _fail(
                out,
                f"--837p: {item.source.where} is a scrub request, not an 837P document; "
                "only claims read from an 837P can be written back",
            )
        blocked = _blocked(result)
        if blocked:
            click.echo(
                f"{out}: claim {result.claim_id} left out: {len(blocked)} error(s) a person "
                f"must resolve ({', '.join(blocked)})",
                err=True,
            )
        key = id(item.source)
        groups.setdefault(key, (item.source, []))[1].append(None if blocked else result.corrected)
    numbers = SequentialControlNumbers(control_number, control_number, control_number)
    parts: list[str] = []
    for source, claims in groups.values():
        assert source.transaction is not None
        model = corrected_transaction(source.transaction, claims)
        if model is None:
            continue
        params = _params(source.envelope, sender, receiver, usage)
        if params is None:
            _fail(out, f"{source.where}: expected --sender and --receiver (no envelope)")
        try:
            parts.append(write_837p(model, params, clock, numbers))
        except X12Error as exc:
            for problem in exc.problems:
                click.echo(f"error: {out}: {source.where}: {problem.render()}", err=True)
            raise SystemExit(1) from None
    if not parts:
        click.echo(f"{out}: not written: no claim is ready to send", err=True)
        return
    try:
        out.write_text("".join(parts), encoding="utf-8")
    except OSError as exc:
        _fail(out, exc.strerror or str(exc))


# -- the command ---------------------------------------------------------------------------------


def _scrub_all(scrub: Scrubber, items: Sequence[Item], progress: bool) -> list[ScrubResult]:
    if not progress:
        return [scrub.scrub(item.request) for item in items]
    results: list[ScrubResult] = []
    with click.progressbar(
        items,
        label=f"scrubbing {len(items)} claims",
        file=sys.stderr,
        show_pos=True,
    ) as bar:
        for item in bar:
            results.append(scrub.scrub(item.request))
    return results


@click.command("scrub")
@click.argument("file", type=FILE, required=False)
@click.option(
    "--from-fhir",
    "bundle",
    type=FILE,
    default=None,
    help="Read a FHIR Bundle (ChargeItems or Procedures with the chart) instead of FILE.",
)
@click.option(
    "--place-of-service",
    default=None,
    help="With --from-fhir: CLM05-1 for visits whose Location has no CMS place-of-service type.",
)
@click.option("--pretty", is_flag=True, help="Indent the result (one claim only).")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr for a batch (default: when stderr is a terminal).",
)
@click.option("--837p", "x12_out", type=FILE, default=None, help="Write the corrected 837P here.")
@click.option("--sender", default=None, help="--837p: ISA06/GS02 (qualifier ZZ).")
@click.option("--receiver", default=None, help="--837p: ISA08/GS03 (qualifier ZZ).")
@click.option("--usage", type=click.Choice(["T", "P"]), default=None, help="--837p: ISA15.")
@click.option("--now", type=NOW_TYPE, default=None, help="--837p: envelope date and time.")
@click.option("--control-number", type=click.IntRange(min=1), default=1, show_default=True)
def scrub_command(
    file: Path | None,
    bundle: Path | None,
    place_of_service: str | None,
    pretty: bool,
    progress: bool | None,
    x12_out: Path | None,
    sender: str | None,
    receiver: str | None,
    usage: str | None,
    now: datetime | None,
    control_number: int,
) -> None:
    """Scrub the claim(s) of FILE: findings with their sources, and the corrected claim."""
    if (file is None) == (bundle is None):
        raise click.UsageError("give FILE or --from-fhir BUNDLE.json (one of them)")
    scrub = scrubber()
    if bundle is not None:
        try:
            data = json.loads(_read_text(bundle))
        except json.JSONDecodeError as exc:
            _fail(bundle, f"expected JSON, got {exc.msg} at line {exc.lineno}")
        try:
            requests = requests_from_bundle(
                data, place_of_service=place_of_service, fees=scrub.fees.insurance
            )
        except ValueError as exc:
            _fail(bundle, str(exc))
        if not requests:
            _fail(bundle, "expected billable ChargeItems or completed Procedures, got none")
        items = [Item(r, Source(f"claim {r.claim.patient_control_number}")) for r in requests]
        name: Path = bundle
    else:
        assert file is not None
        try:
            items = read_items(_read_text(file))
        except ValueError as exc:
            _fail(file, str(exc))
        if not items:
            _fail(file, "expected a claim, got none")
        name = file
    stderr = sys.stderr
    show = len(items) > 1 and (progress if progress is not None else stderr.isatty())
    results = _scrub_all(scrub, items, show)
    if len(results) == 1:
        click.echo(json.dumps(results[0].to_json(), indent=2 if pretty else None))
    else:
        for result in results:
            click.echo(json.dumps(result.to_json()))
    if x12_out is not None:
        if bundle is not None:
            _fail(name, "--837p: only claims read from an 837P can be written back")
        clock: Clock = (lambda: now) if now is not None else _utc_now
        write_corrected_837p(
            x12_out,
            items,
            results,
            sender=sender,
            receiver=receiver,
            usage=usage,
            clock=clock,
            control_number=control_number,
        )
    if any(r.errors for r in results):
        raise SystemExit(1)


__all__ = ["scrub_command", "scrubber"]
