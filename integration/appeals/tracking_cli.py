"""Appeal tracking commands for `dermrcm appeal` (the lead wires them into the group):

- `outcome APPEAL_ID --result overturned|upheld|partial --recovered AMOUNT --date YYYY-MM-DD`
  records the payer's decision and prints the appeal as JSON (an upheld appeal says how to open
  the second level);
- `show APPEAL_ID` prints the appeal, every version (with its letter) and the audit trail;
- `dashboard [--json] [--as-of DATE]` prints the denial and appeal figures.

A refused operation exits 1 with its message on stderr and no traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from integration.store.appeals import AppealStore


@contextmanager
def _store() -> Iterator[AppealStore]:
    """A store on the settings' database; the engine is disposed afterwards."""
    from integration.settings import Settings
    from integration.store.appeals import AppealStore
    from integration.store.database import make_engine, session_factory, upgrade

    engine = make_engine(Settings().database_url)
    try:
        upgrade(engine)
        yield AppealStore(session_factory(engine))
    finally:
        engine.dispose()


def _amount(_ctx: click.Context, _param: click.Parameter, value: str) -> Decimal:
    try:
        amount = Decimal(value.replace(",", "").removeprefix("$"))
    except InvalidOperation:
        raise click.BadParameter(f"expected an amount like 1250.00, got {value!r}") from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise click.BadParameter(f"expected 0 or more with at most 2 decimals, got {value!r}")
    return amount


def _fail(message: str) -> None:
    click.echo(message, err=True)
    raise SystemExit(1)


@click.command("outcome")
@click.argument("appeal_id")
@click.option(
    "--result",
    "outcome",
    type=click.Choice(["overturned", "upheld", "partial"]),
    required=True,
    help="The payer's decision",
)
@click.option(
    "--recovered",
    callback=_amount,
    default="0",
    show_default=True,
    help="Amount recovered (dollars)",
)
@click.option(
    "--date",
    "decided_on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    required=True,
    help="Date of the payer's decision",
)
@click.option("--actor", default="cli", show_default=True, help="Who records it (audit trail)")
def outcome_command(
    appeal_id: str, outcome: str, recovered: Decimal, decided_on: datetime, actor: str
) -> None:
    """Record the payer's decision on APPEAL_ID and print the appeal as JSON."""
    from integration.store.appeals import AppealError

    with _store() as store:
        try:
            store.record_outcome(appeal_id, outcome, recovered, decided_on.date(), actor)
        except AppealError as exc:
            _fail(str(exc))
        view = store.get(appeal_id)
    assert view is not None
    out = view.to_json()
    if outcome in ("upheld", "partial"):
        out["next"] = (
            f"second-level appeal (level {view.level + 1}) may be opened; its deadline is "
            "counted from this decision"
        )
    click.echo(json.dumps(out, indent=2))


@click.command("show")
@click.argument("appeal_id")
def show_command(appeal_id: str) -> None:
    """Print APPEAL_ID with every version of its letter and the audit trail as JSON."""
    with _store() as store:
        view = store.get(appeal_id)
        if view is None:
            _fail(f"appeal {appeal_id}: no such appeal")
            return
        out = {
            "appeal": view.to_json(),
            "versions": [v.to_json() for v in store.versions(appeal_id)],
            "audit": [a.to_json() for a in store.audit(appeal_id)],
            "documents": [
                {
                    "id": d.id,
                    "version": d.version,
                    "kind": d.kind,
                    "sha256": d.sha256,
                    "bytes": d.size,
                }
                for d in store.documents(appeal_id)
            ],
        }
    click.echo(json.dumps(out, indent=2))


@click.command("dashboard")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON")
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Day the deadline buckets are counted from (default today, UTC)",
)
def dashboard_command(as_json: bool, as_of: datetime | None) -> None:
    """Denial rate by payer and category, appeals open by deadline, overturn rate, recovered
    amounts, median drafting time."""
    day: date = as_of.date() if as_of else datetime.now(UTC).date()
    with _store() as store:
        figures = store.dashboard(day)
    if as_json:
        click.echo(json.dumps(figures.to_json(), indent=2))
        return
    data = figures.to_json()
    rate = data["denial_rate"]
    click.echo(
        f"as of {data['as_of']}: denial rate {_pct(rate['rate'])} "
        f"({rate['numerator']} of {rate['denominator']} lines)"
    )
    for p in data["denial_rate_by_payer"]:
        click.echo(
            f"  payer {p['payer']['name'][:24]:24} {_pct(p['rate']):>7} "
            f"({p['denied_lines']} of {p['lines_remitted']})"
        )
    for c in data["denial_rate_by_category"]:
        click.echo(
            f"  category {c['category']:21} {_pct(c['rate']):>7} "
            f"({c['denied_lines']} of {c['lines_remitted']})"
        )
    click.echo(
        f"  not in the rates: {data['patient_responsibility_lines']} patient-responsibility "
        f"line(s), {data['pa_denials']} prior-authorization denial(s)"
    )
    click.echo("appeals open by deadline:")
    for b in data["appeals_open_by_deadline"]:
        click.echo(f"  {b['label']:26} {b['count']:4}  ${b['at_stake']}")
    o = data["outcomes"]
    click.echo(
        f"overturn rate {_pct(o['overturn_rate']['rate'])} ({o['overturned']} of {o['decided']} "
        f"decided; {o['partial']} partial, {o['upheld']} upheld)"
    )
    click.echo(f"recovered ${data['recovered']['amount']} ({data['recovered']['appeals']} appeals)")
    m = data["median_drafting_time"]
    median = "n/a" if m["median"] is None else f"{m['median']} minutes"
    click.echo(f"median drafting time {median} ({m['count']} signed)")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"
