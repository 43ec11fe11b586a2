"""`dermrcm denials`: the denial worklist for scripts and people.

Register in integration/cli.py with:

    from integration.denials.worklist_cli import denials_command
    main.add_command(denials_command)

`list --json` prints {"denials": [item + {"likelihood": {...}}], "count": n}; `show ID` one item
with its events and likelihood; `assign ID --to WHO`; `status ID STATUS --reason WHY`;
`set-patient ID --patient Patient/<id>` for a denial whose claim named no patient;
`sync-pa` adds the PA cases in state denied; `likelihood-eval --synthetic` evaluates the
overturn-likelihood method on an invented history (docs/appeal-likelihood.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

import click

from integration.denials.items import QUEUES, STATUSES

if TYPE_CHECKING:
    from integration.denials.items import DenialItem
    from integration.denials.likelihood import LikelihoodModel
    from integration.store.denials import DenialStore


@contextmanager
def _store() -> Iterator[DenialStore]:
    from integration.settings import Settings
    from integration.store.database import make_engine, session_factory, upgrade
    from integration.store.denials import DenialStore

    engine = make_engine(Settings().database_url)
    try:
        upgrade(engine)
        yield DenialStore(session_factory(engine))
    finally:
        engine.dispose()


def _echo(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


def _with_likelihood(item: DenialItem, model: LikelihoodModel) -> dict[str, Any]:
    return {**item.to_json(), "likelihood": model.estimate(item.payer_id, item.category).to_json()}


def _get(store: DenialStore, denial_id: int) -> DenialItem:
    item = store.get(denial_id)
    if item is None:
        raise click.ClickException(f"denial {denial_id}: expected a denial item, got none")
    return item


@click.group("denials")
def denials_command() -> None:
    """The denial worklist: denied 835 lines and PA denials, their next steps and deadlines."""


@denials_command.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of a table.")
@click.option("--payer", default=None, help="Payer id or name as on the remittance.")
@click.option("--category", default=None, help="Our denial category, e.g. medical-necessity.")
@click.option("--status", type=click.Choice(STATUSES), default=None)
@click.option("--queue", type=click.Choice(QUEUES), default=None)
@click.option("--assignee", default=None)
@click.option(
    "--sort",
    type=click.Choice(["amount", "deadline", "likelihood"]),
    default="deadline",
    show_default=True,
    help="amount: largest first; deadline: soonest first, unknown last; likelihood: most "
    "likely overturned first, no estimate last.",
)
def list_command(
    as_json: bool,
    payer: str | None,
    category: str | None,
    status: str | None,
    queue: str | None,
    assignee: str | None,
    sort: str,
) -> None:
    """The denial items matching every filter given."""
    with _store() as store:
        items = store.list(
            payer=payer,
            category=category,
            status=status,
            queue=queue,
            assignee=assignee,
            sort="id" if sort == "likelihood" else sort,
        )
        model = store.likelihood_model()
    rows = [_with_likelihood(i, model) for i in items]
    if sort == "likelihood":
        rows.sort(
            key=lambda r: (
                r["likelihood"]["probability"] is None,
                -(r["likelihood"]["probability"] or 0.0),
                r["id"],
            )
        )
    if as_json:
        _echo({"denials": rows, "count": len(rows)})
        return
    header = ("ID", "REASON", "CATEGORY", "AMOUNT", "DEADLINE", "NEXT", "QUEUE", "STATUS", "PAYER")
    table = [header] + [
        (
            str(r["id"]),
            r["reason"],
            r["category"],
            r["amount"],
            r["deadline"] or "unknown",
            r["next_step"],
            r["queue"],
            r["status"],
            r["payer"]["name"],
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    click.echo(f"{len(rows)} denial(s)")


@denials_command.command("show")
@click.argument("denial_id", type=int)
def show_command(denial_id: int) -> None:
    """One denial item as JSON, with its likelihood and its events."""
    with _store() as store:
        item = _get(store, denial_id)
        model = store.likelihood_model()
        events = store.events(denial_id)
    _echo({**_with_likelihood(item, model), "events": [e.to_json() for e in events]})


@denials_command.command("assign")
@click.argument("denial_id", type=int)
@click.option("--to", "to", required=True, help="Who works it ('' to unassign).")
@click.option("--actor", default="cli", show_default=True, help="Who is assigning.")
def assign_command(denial_id: int, to: str, actor: str) -> None:
    """Assign a denial item to someone."""
    with _store() as store:
        _get(store, denial_id)
        item = store.assign(denial_id, to or None, actor=actor)
    _echo(item.to_json())


@denials_command.command("status")
@click.argument("denial_id", type=int)
@click.argument("status", type=click.Choice(STATUSES))
@click.option("--reason", required=True, help="Why the status changes (kept in the events).")
@click.option("--actor", default="cli", show_default=True)
def status_command(denial_id: int, status: str, reason: str, actor: str) -> None:
    """Move a denial item to STATUS."""
    with _store() as store:
        _get(store, denial_id)
        try:
            item = store.set_status(denial_id, status, reason=reason, actor=actor)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    _echo(item.to_json())


@denials_command.command("set-patient")
@click.argument("denial_id", type=int)
@click.option(
    "--patient",
    "patient_ref",
    required=True,
    help="The FHIR patient, Patient/<id> (the biller knows it from the 835's patient).",
)
@click.option(
    "--replace", is_flag=True, help="Correct a patient already recorded (audited old -> new)."
)
@click.option("--actor", default="cli", show_default=True)
def set_patient_command(denial_id: int, patient_ref: str, replace: bool, actor: str) -> None:
    """Record the FHIR patient of a denial whose claim names none: on the item, the other
    items of its claim that name none, and our claim; an appeal can then read the chart."""
    from integration.store.denials import PATIENT_REF

    if not PATIENT_REF.match(patient_ref):
        raise click.BadParameter(
            f"expected Patient/<id>, got {patient_ref!r}", param_hint="--patient"
        )
    with _store() as store:
        _get(store, denial_id)
        try:
            item = store.set_patient(denial_id, patient_ref, actor=actor, replace=replace)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        events = store.events(denial_id)
    _echo({**item.to_json(), "events": [e.to_json() for e in events]})


@denials_command.command("sync-pa")
def sync_pa_command() -> None:
    """Add a denial item for each PA case in state denied that has none yet."""
    with _store() as store:
        ids = store.sync_pa_denials()
    _echo({"added": ids, "count": len(ids)})


@denials_command.command("likelihood-eval")
@click.option("--synthetic", is_flag=True, required=True, help="Evaluate on an invented history.")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--n", "size", type=click.IntRange(min=1), default=600, show_default=True)
@click.option(
    "--split",
    type=click.DateTime(["%Y-%m-%d"]),
    default="2026-07-01",
    show_default=True,
    help="Train on appeals decided before, test on those decided on or after.",
)
@click.option("--min-decided", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--strength", type=click.FloatRange(min=0), default=5.0, show_default=True)
def likelihood_eval_command(
    synthetic: bool, seed: int, size: int, split: Any, min_decided: int, strength: float
) -> None:
    """Brier score of the overturn-likelihood model against the base rate, time split, on a
    synthetic history (SYNTHETIC: invented rates, not any practice's outcomes)."""
    from integration.denials.likelihood import SYNTHETIC_RATES, evaluate, synthetic_history

    history = synthetic_history(seed, size)
    day: date = split.date()
    try:
        result = evaluate(
            history, day, min_decided=min_decided, strength=strength, synthetic=synthetic
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    test = [a for a in history if a.decided_on >= day]
    # the true expected score: overturned (1) 9 times in 10 of the wins, partial (0.5) once
    oracle = sum((0.95 * SYNTHETIC_RATES[(a.payer_id, a.category)] - a.score) ** 2 for a in test)
    _echo(
        {
            **result.to_json(),
            "brier_true_rates": round(oracle / len(test), 4),
            "seed": seed,
            "history": size,
            "min_decided": min_decided,
            "strength": strength,
        }
    )
