"""`dermrcm coding risk`: generate a synthetic claim history, train, score and evaluate the
denial-risk model (see `integration.coding.denial_risk`)."""

from __future__ import annotations

import json
import shlex
import time
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import click

from integration.paths import project_root

if TYPE_CHECKING:
    from integration.coding import history
    from integration.coding.denial_risk import Evaluation, Example, RiskModel

MODEL_ENV = "DERMRCM_RISK_MODEL"


def _risk() -> ModuleType:
    """The model module, imported when a command runs: scikit-learn takes a second to import,
    and `dermrcm --help` should not wait for it."""
    from integration.coding import denial_risk

    return denial_risk


def _history() -> ModuleType:
    from integration.coding import history

    return history


def default_model_path() -> Path:
    return project_root() / "var" / "denial-risk.joblib"


def _model_option(fn: Any) -> Any:
    return click.option(
        "--model",
        "model_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        envvar=MODEL_ENV,
        help=f"Model file (default var/denial-risk.joblib; ${MODEL_ENV} sets another).",
    )(fn)


def _read_history(path: Path) -> list[Example]:
    try:
        from integration.coding.history import read_history

        return read_history(path)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _from_db() -> history.DatabaseHistory:
    from integration.settings import Settings
    from integration.store.database import make_engine, session_factory, upgrade

    engine = make_engine(Settings().database_url)
    try:
        upgrade(engine)
        from integration.coding.history import load_from_database

        return load_from_database(session_factory(engine))
    finally:
        engine.dispose()


@click.group("risk")
def risk_command() -> None:
    """Denial risk: P(a claim or one of its lines is denied), with its top reasons."""


@risk_command.command("generate")
@click.option("--claims", "n", type=click.IntRange(min=1), required=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default="2024-01-01", show_default=True)
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), default="2025-12-31", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def generate_command(n: int, seed: int, start: Any, end: Any, out: Path) -> None:
    """Write N synthetic claims (synthetic identifiers, seeded outcomes) to a JSON Lines file."""
    try:
        examples = _history().generate(n, seed, start.date(), end.date())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    _history().write_history(examples, out)
    click.echo(json.dumps({"out": str(out), **_risk().outcomes_summary(examples)}))


@risk_command.command("train")
@click.option(
    "--history", "history_path", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--from-db", is_flag=True, help="The practice's own claims joined to their 835s.")
@_model_option
def train_command(history_path: Path | None, from_db: bool, model_path: Path | None) -> None:
    """Train on a history, save the model, print its metrics as JSON.

    The metrics come from a time split (train on the earlier 75%, test on the latest 25%);
    the saved model is then trained on the whole history."""
    if (history_path is None) == (not from_db):
        raise click.UsageError("give exactly one of --history FILE and --from-db")
    source: dict[str, Any]
    if history_path is not None:
        examples = _read_history(history_path)
        source = {"history": str(history_path)}
    else:
        loaded = _from_db()
        examples = list(loaded.examples)
        source = {
            "database": True,
            "skipped": loaded.skipped,
            "from_ledger_lines_only": loaded.from_ledger_lines,
        }
    path = model_path or default_model_path()
    try:
        evaluation = _risk().evaluate(examples)
        started = time.perf_counter()
        model = _risk().train(examples, metrics=evaluation.to_json())
        seconds = time.perf_counter() - started
    except _risk().NotEnoughHistory as exc:
        skipped = source.get("skipped")
        detail = f" (left out: {json.dumps(skipped)})" if skipped else ""
        raise click.ClickException(f"{exc}{detail}") from None
    _risk().save(model, path)
    click.echo(
        json.dumps(
            {
                "model": str(path),
                "source": source,
                "train_seconds": round(seconds, 2),
                **model.to_json(),
            },
            indent=2,
        )
    )


def _load_model(path: Path | None) -> RiskModel:
    path = path or default_model_path()
    if not path.exists():
        raise click.ClickException(
            f"{path}: no model; train one with `dermrcm coding risk train --history FILE`"
        )
    try:
        from integration.coding.denial_risk import load

        return load(path)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _transaction(path: Path) -> Any:
    from integration.x12.t837_005010x222a1 import claim_from_json, read_837p

    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        data = json.loads(text)
        if isinstance(data, dict) and isinstance(data.get("model"), dict):
            data = data["model"]  # a history line, or a `claims submit` item
        try:
            return claim_from_json(data)
        except ValueError as exc:
            raise click.ClickException(f"{path.name}: {exc}") from None
    models, problems = read_837p(text)
    errors = [p for p in problems if p.severity == "error"]
    if errors or not models:
        raise click.ClickException(
            f"{path.name}: expected an 837P (JSON or X12), got "
            + ("; ".join(p.render() for p in errors[:3]) or "no transaction set")
        )
    return models[0]


@risk_command.command("score")
@click.argument("claim_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_model_option
def score_command(claim_file: Path, model_path: Path | None) -> None:
    """Print {"probability", "reasons"} for the claim in CLAIM_FILE (837P JSON or X12); a list
    of them, each with its patient control number, when the file holds several claims."""
    model = _load_model(model_path)
    found = _risk().claims_of(_transaction(claim_file))
    if not found:
        raise click.ClickException(f"{claim_file.name}: expected a claim, got none")
    results: list[dict[str, Any]] = []
    for claim, payer, day in found:
        if day is None:
            raise click.ClickException(
                f"{claim_file.name}: claim {claim.patient_control_number}: expected a date of "
                "service (DTP*472), got none"
            )
        score = model.score(claim, payer, day)
        results.append({"patient_control_number": claim.patient_control_number, **score.to_json()})
    if len(results) == 1:
        del results[0]["patient_control_number"]
        click.echo(json.dumps(results[0], indent=2))
    else:
        click.echo(json.dumps(results, indent=2))


@risk_command.command("evaluate")
@click.option(
    "--history",
    "history_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
)
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--command-line", default=None, help="The command to print in the report (default: this one)."
)
def evaluate_command(history_path: Path, report: Path, command_line: str | None) -> None:
    """Time-split evaluation of a history; writes a markdown report, prints the metrics."""
    examples = _read_history(history_path)
    try:
        evaluation, model = _risk().evaluate_with_model(examples)
    except _risk().NotEnoughHistory as exc:
        raise click.ClickException(str(exc)) from None
    command = command_line or (
        "dermrcm coding risk evaluate --history "
        f"{shlex.quote(str(history_path))} --report {shlex.quote(str(report))}"
    )
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(render_report(evaluation, model, examples, command), encoding="utf-8")
    click.echo(json.dumps({"report": str(report), **evaluation.to_json()}, indent=2))


# -- the report ---------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def render_report(
    evaluation: Evaluation, model: RiskModel, examples: list[Example], command: str
) -> str:
    """The markdown report: data, split, AUC, Brier, reliability table, what was learnt, limits."""
    e = evaluation
    synthetic = all(x.claim.patient_control_number.startswith("SYN") for x in examples)
    payers = sorted({x.payer_id for x in examples})
    first: date = min(x.date_of_service for x in examples)
    last: date = max(x.date_of_service for x in examples)
    summary = _risk().outcomes_summary(examples)
    lines = [
        "# Denial risk: evaluation",
        "",
        "What the denial-risk model (`integration/coding/denial_risk.py`) scores: the probability",
        "that the payer denies a claim or one of its lines, with the three features that weigh",
        "most in that score. This page is written by the command below; rerun it, don't edit it.",
        "",
        "```sh",
        command,
        "```",
        "",
        "## Data",
        "",
        f"- {summary['claims']} claims, {first} to {last}, {summary['denied']} denied "
        f"({_pct(summary['denied'] / summary['claims'])}), {len(payers)} payers"
        + (" (synthetic: `SYN-*`)." if synthetic else "."),
    ]
    if synthetic:
        lines += [
            "- **Synthetic history** from `integration/coding/history.py` (`generate`): the outcomes",
            "  are drawn from the drivers below, so these figures measure how well the model finds",
            "  rules we planted, not how it would do on a real practice's claims.",
        ]
    lines += [
        "- Label: denied = the claim was denied (CLP02 4), or a line was paid nothing with a",
        "  denial CARC (any category but patient responsibility).",
        "",
        "## Split",
        "",
        "| part | dates | claims | denied |",
        "|---|---|---:|---:|",
        f"| train | {e.train_from} to {e.train_to} | {e.train_claims} | {_pct(e.train_base_rate)} |",
        f"| test (latest ~25%) | {e.test_from} to {e.test_to} | {e.test_claims} | {_pct(e.test_base_rate)} |",
        "",
        "No claim of the test dates is seen in training; one day never falls on both sides.",
        "",
        "## Results on the held-out test",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| AUC (ROC) | {e.auc:.3f} |",
        f"| Brier score | {e.brier:.4f} |",
        f"| Brier score of always predicting the training base rate | {e.brier_base_rate:.4f} |",
        f"| base rate (test) | {_pct(e.test_base_rate)} |",
        f"| mean predicted probability (test) | {_pct(e.mean_predicted)} |",
        f"| time to train ({e.train_claims} claims, 5-fold calibration included) "
        f"| {e.train_seconds:.2f} s wall, {e.train_cpu_seconds:.2f} s CPU |",
        "",
        "### Reliability (10 equal-width bins of predicted probability)",
        "",
        "| predicted | claims | mean predicted | observed denied |",
        "|---|---:|---:|---:|",
    ]
    for b in e.reliability:
        mean = "-" if b.mean_predicted is None else f"{b.mean_predicted:.3f}"
        seen = "-" if b.observed is None else f"{b.observed:.3f}"
        lines.append(f"| {b.lower:.1f}-{b.upper:.1f} | {b.claims} | {mean} | {seen} |")
    lines += [
        "",
        "### By payer (held-out test)",
        "",
        "| payer | claims | observed denied | mean predicted |",
        "|---|---:|---:|---:|",
        *(
            f"| {b.payer_id} | {b.claims} | {_pct(b.observed)} | {_pct(b.mean_predicted)} |"
            for b in e.by_payer
        ),
        "",
        "## What the model learnt (trained on the train part)",
        "",
        "The features with the largest calibrated log-odds weights, by absolute value",
        "(positive: more denials). Correlated features share a driver's weight between them.",
        "",
        "| feature | log-odds |",
        "|---|---:|",
    ]
    for name, weight in _risk().top_features(model, 12):
        cell = f"{_risk().describe(name)} (`{name}`)".replace("|", "\\|")
        lines.append(f"| {cell} | {weight:+.2f} |")
    if synthetic:
        lines += [
            "",
            "## Drivers planted in the synthetic history",
            "",
            "Each applies on its own; a claim is denied when any fires. Payer strictness",
            "multiplies each probability: "
            + ", ".join(f"{p.id} {p.strictness:g} ({p.kind})" for p in _history().PAYERS)
            + ".",
            "",
            "| driver | when | P(denial) | CARC | why |",
            "|---|---|---:|---|---|",
        ]
        for d in _history().DRIVERS:
            lines.append(f"| {d.name} | {d.when} | {d.probability:.2f} | {d.carc} | {d.why} |")
    lines += [
        "",
        "## Limits",
        "",
        "- Synthetic data says nothing about a real practice: its payers, coders and policies",
        "  differ. Run `dermrcm coding risk train --from-db` on the practice's own claims and 835s",
        "  (it refuses with fewer than "
        f"{_risk().MIN_CLAIMS} claims or fewer than {_risk().MIN_PER_OUTCOME} of either outcome).",
        "- Payer policies drift, and a model trained before a change is wrong after it. On this",
        f"  test the model predicts {_pct(e.mean_predicted)} denied on average against "
        f"{_pct(e.test_base_rate)} observed.",
        *(
            [
                "  The synthetic SYN-COM2 starts denying modifier 25 E/M two thirds into the range,",
                "  mostly after the training dates: see its row in the payer table.",
            ]
            if synthetic
            else []
        ),
        "  Retrain often and watch the reliability and payer tables.",
        "- Features are the claim as submitted (codes, modifiers, diagnoses, payer, place of service,",
        "  charges, units, prior-authorization number, month). Documentation, the patient's",
        "  coverage and history, and rendering provider are not seen, so a denial caused by them",
        "  (eligibility, notes) can only show as a base rate.",
        "- A linear model sees only the interactions built as features (E/M with a procedure and",
        "  modifier 25, code pairs, payer x code family, line family x diagnosis).",
        "- Reasons are the features' shares of the calibrated log-odds; they explain the model, not",
        "  the payer: a large weight is a correlation in the _history().",
        "",
    ]
    return "\n".join(lines)
