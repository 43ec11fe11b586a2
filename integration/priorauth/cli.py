"""`dermrcm pa ...`: check an order against the payer-rule library, list the library."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click


def _date(value: str | None, hint: str) -> date:
    try:
        return date.fromisoformat(value) if value else date.today()
    except ValueError:
        raise click.BadParameter(f"expected YYYY-MM-DD, got {value!r}", param_hint=hint) from None


def _read_order(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        click.echo(f"error: {path}: line {exc.lineno} column {exc.colno}: {exc.msg}", err=True)
        sys.exit(2)


def fhir_client(fhir_base: str, token: str | None) -> Any:
    from integration.fhir.client import ClientOptions, FhirClient
    from integration.settings import Settings

    settings = Settings()
    options = ClientOptions(
        timeout=settings.fhir_timeout,
        retries=settings.fhir_retries,
        concurrency=settings.fhir_concurrency,
        page_size=settings.fhir_page_size,
    )
    return FhirClient(fhir_base, token=lambda: token, options=options)


def _order_options(command: Any) -> Any:
    """The options `pa check` and `pa open` share: where the chart is, the order, the date."""
    for option in reversed(
        [
            click.option(
                "--fhir-base", required=True, help="FHIR base URL, e.g. http://127.0.0.1:8081/fhir"
            ),
            click.option("--patient", required=True, help="Patient id"),
            click.option(
                "--order",
                "order_path",
                required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="The order: a FHIR MedicationRequest or ServiceRequest (JSON)",
            ),
            click.option(
                "--date", "day", default=None, help="Date of service (YYYY-MM-DD; default today)"
            ),
            click.option(
                "--payer",
                default=None,
                help="Payer id from the library (default: the chart's Coverage)",
            ),
            click.option(
                "--token", default=None, envvar="DERMRCM_TOKEN", help="Bearer access token"
            ),
        ]
    ):
        command = option(command)
    return command


def _check(
    fhir_base: str,
    patient: str,
    order_path: Path,
    day: str | None,
    payer: str | None,
    token: str | None,
) -> tuple[Any, Any]:
    """Read the chart and decide; exits 2 with a located message when the order or the chart
    can't be read. Returns the PaCheck and the order JSON."""
    from integration.fhir.errors import FhirError
    from integration.fhir.pa_check import pa_check
    from integration.mapping.evidence_maps import load_evidence_maps
    from integration.priorauth.order import OrderError
    from integration.priorauth.references import load_pa_references

    when = _date(day, "--date")
    order = _read_order(order_path)
    refs = load_pa_references()
    if payer is not None and payer not in refs.library.payers:
        raise click.BadParameter(
            f"expected one of {', '.join(sorted(refs.library.payers))}, got {payer!r}",
            param_hint="--payer",
        )
    client = fhir_client(fhir_base, token)
    try:
        result = pa_check(client, patient, order, when, refs, load_evidence_maps(), payer_id=payer)
    except OrderError as exc:
        click.echo(f"error: {order_path.name}: {exc}", err=True)
        sys.exit(2)
    except FhirError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    finally:
        client.close()
    return result, order


@click.group("pa")
def pa_command() -> None:
    """Prior authorization: PA need and checklist from the payer-rule library."""


@pa_command.command("check")
@_order_options
@click.option("--pretty/--compact", default=True)
def check_command(
    fhir_base: str,
    patient: str,
    order_path: Path,
    day: str | None,
    payer: str | None,
    token: str | None,
    pretty: bool,
) -> None:
    """Print PA need and the checklist for ORDER as JSON (exit 2 when the chart or the order
    can't be read)."""
    result, _order = _check(fhir_base, patient, order_path, day, payer, token)
    click.echo(
        json.dumps(result.assessment.to_json(), indent=2 if pretty else None, ensure_ascii=False)
    )


@pa_command.command("rules")
@click.option("--date", "day", default=None, help="Show the versions in force on this date")
def rules_command(day: str | None) -> None:
    """List the payer-rule library: payer, rule, version in force, PA required, criteria."""
    from integration.priorauth.references import load_pa_references

    when = _date(day, "--date")
    library = load_pa_references().library
    for rule_id in sorted(library.rules):
        rule = library.in_force(rule_id, when)
        versions = ",".join(f"v{r.version}" for r in library.rules[rule_id])
        if rule is None:
            click.echo(f"{rule_id:48} ({versions}) none in force on {when.isoformat()}")
            continue
        pa = {True: "PA", False: "no PA", None: "PA unknown"}[rule.pa_required]
        if rule.pa_when is not None:
            pa = "PA when"
        criteria = "criteria unknown" if rule.criteria is None else f"{len(rule.criteria)} criteria"
        click.echo(f"{rule_id:48} v{rule.version} of {versions:8} {pa:10} {criteria}")


def _sessions() -> Any:
    from integration.settings import Settings
    from integration.store.database import make_engine, session_factory, upgrade

    engine = make_engine(Settings().database_url)
    upgrade(engine)
    return session_factory(engine)


def _store() -> Any:
    from integration.store.pa_cases import PaCaseStore

    return PaCaseStore(_sessions())


@pa_command.command("open")
@_order_options
@click.option("--actor", default="cli", show_default=True, help="Who opens the case (audit trail)")
def open_command(
    fhir_base: str,
    patient: str,
    order_path: Path,
    day: str | None,
    payer: str | None,
    token: str | None,
    actor: str,
) -> None:
    """Check ORDER and open a draft case with a task for each missing item; print its id."""
    from datetime import UTC, datetime

    result, order = _check(fhir_base, patient, order_path, day, payer, token)
    case_id = _store().open_case(
        patient_id=patient,
        order=order,
        assessment=result.assessment,
        evidence=result.evidence,
        prescriber=result.prescriber,
        actor=actor,
        now=datetime.now(UTC),
    )
    click.echo(case_id)


@pa_command.command("cases")
def cases_command() -> None:
    """List the cases: id, state, rule and version, flag."""
    for case in _store().cases():
        rule = f"{case.rule_id} v{case.rule_version}" if case.rule_id else "(no rule)"
        flag = f"  FLAG: {case.flag}" if case.flag else ""
        click.echo(f"{case.id}  {case.state:26} {case.service_date}  {rule}{flag}")


@pa_command.command("tasks")
@click.option("--role", type=click.Choice(["clinician", "coordinator", "front desk"]), default=None)
def tasks_command(role: str | None) -> None:
    """The open tasks (a work queue per role), soonest due first."""
    for task in _store().tasks(owner_role=role):
        click.echo(f"{task.due}  {task.owner_role:11} {task.case_id}  {task.what}")


@pa_command.command("publish")
@click.argument("rule_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--into",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Library folder to add it to (default mappings/payers/<payer>/)",
)
@click.option("--actor", default="cli", show_default=True, help="Who publishes (audit trail)")
def publish_command(rule_file: Path, into: Path | None, actor: str) -> None:
    """Add a new version of a payer rule to the library, then re-apply it to every open or
    active case it governs and flag each case whose checklist changes."""
    import shutil
    from datetime import UTC, datetime

    from integration.mapping.loader import MappingError, load_document
    from integration.paths import mappings_dir
    from integration.priorauth.references import load_pa_references

    refs = load_pa_references()
    try:
        doc = load_document(rule_file.resolve(), mappings_dir())
        if doc.kind != "payer-rule":
            raise MappingError(f"{rule_file}: kind: expected payer-rule, got {doc.kind!r}")
        rule = refs.library.compile(doc)
        library = refs.library.with_rule(rule)
    except MappingError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    folder = into or mappings_dir() / "payers" / rule.payer
    target = folder / rule_file.name
    if target.exists() and target.resolve() != rule_file.resolve():
        click.echo(f"error: {target} exists; name the new version's file differently", err=True)
        sys.exit(1)
    folder.mkdir(parents=True, exist_ok=True)
    if target.resolve() != rule_file.resolve():
        shutil.copyfile(rule_file, target)
    flagged = _store().reevaluate(rule, library, refs.lookups, actor=actor, now=datetime.now(UTC))
    click.echo(f"published {rule.id} v{rule.version} -> {target}")
    for item in flagged:
        summary = "; ".join(f"{c.what}: {c.before} -> {c.after}" for c in item.changes)
        click.echo(f"flagged {item.case_id}: {summary}")
    click.echo(f"{len(flagged)} case(s) flagged")


@pa_command.command("submit")
@click.argument("case_id")
@click.option(
    "--channel",
    type=click.Choice(["ncpdp-epa", "x12-278", "pas"]),
    default=None,
    help="Send by this channel instead of the payer rule's",
)
@click.option(
    "--attach",
    "attach",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A document to send with it (what the payer asked for); repeatable",
)
@click.option("--payer-url", default=None, help="Payer endpoints' base URL (default: setting)")
@click.option("--actor", default="cli", show_default=True, help="Who sends it (audit trail)")
@click.option(
    "--allow-unanswered",
    is_flag=True,
    default=False,
    help="ePA: send even when the chart leaves some of the payer's questions unanswered",
)
def submit_command(
    case_id: str,
    channel: str | None,
    attach: tuple[Path, ...],
    payer_url: str | None,
    actor: str,
    allow_unanswered: bool,
) -> None:
    """Send a signed case to its payer and apply the answer; prints the new state. Exit 1 when
    the case can't be sent as it stands (ePA questions the chart can't answer are listed with
    who should supply them; --allow-unanswered sends anyway), 3 when the payer couldn't be
    reached (recorded on the case; send again)."""
    import mimetypes
    from datetime import UTC, datetime

    from integration.domain.priorauth import Channel
    from integration.priorauth.channels.transport import ChannelError, PayerTransport
    from integration.priorauth.submit import Attachment, Practice, Submitter, UnansweredError
    from integration.settings import Settings
    from integration.store.pa_submissions import PaSubmissionStore, SubmissionError

    settings = Settings()
    base = payer_url or settings.payer_url
    if not base:
        raise click.BadParameter(
            "no payer endpoint: set DERMRCM_PAYER_URL or pass --payer-url", param_hint="--payer-url"
        )
    documents = [
        Attachment(
            p.name, mimetypes.guess_type(p.name)[0] or "application/octet-stream", p.read_bytes()
        )
        for p in attach
    ]
    submitter = Submitter(
        PaSubmissionStore(_sessions()),
        PayerTransport(settings.payer_timeout),
        base,
        Practice(settings.practice_name, settings.practice_npi),
        ncpdp_xsd=settings.ncpdp_xsd,
    )
    try:
        done = submitter.submit(
            case_id,
            actor=actor,
            now=datetime.now(UTC),
            attachments=documents,
            channel=Channel(channel) if channel else None,
            allow_unanswered=allow_unanswered,
        )
    except UnansweredError as exc:
        click.echo(f"error: case {case_id}: not sent: the chart can't answer", err=True)
        for m in exc.missing:
            click.echo(f"missing ({m.owner}): {m.question_id}: {m.missing}", err=True)
        click.echo("supply them, or send anyway with --allow-unanswered", err=True)
        sys.exit(1)
    except SubmissionError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except ChannelError as exc:
        click.echo(f"error: {exc} (recorded on the case; send again)", err=True)
        sys.exit(3)
    r = done.response
    said = f"{done.state} by {done.channel}"
    if r.auth_number:
        said += f": authorization {r.auth_number} {r.start or '?'} to {r.end or '?'}"
    elif r.reason:
        said += f": {r.reason}"
    click.echo(said)
    for ask in r.ask:
        click.echo(f"payer asks for: {ask}")
    for m in done.unanswered:
        click.echo(f"sent unanswered ({m.owner}): {m.question_id}: {m.missing}")


@pa_command.command("decide")
@click.argument("case_id")
@click.option(
    "--outcome",
    required=True,
    type=click.Choice(["approved", "denied", "pended", "more-information-requested", "closed"]),
)
@click.option("--channel", type=click.Choice(["portal", "fax"]), required=True)
@click.option("--auth-number", default=None)
@click.option("--from", "start", default=None, help="Approval starts (YYYY-MM-DD)")
@click.option("--to", "end", default=None, help="Approval ends (YYYY-MM-DD)")
@click.option("--units", default=None)
@click.option("--reason", default=None, help="What the payer said")
@click.option("--ask", multiple=True, help="What the payer asks for (repeatable)")
@click.option("--actor", default="cli", show_default=True)
def decide_command(
    case_id: str,
    outcome: str,
    channel: str,
    auth_number: str | None,
    start: str | None,
    end: str | None,
    units: str | None,
    reason: str | None,
    ask: tuple[str, ...],
    actor: str,
) -> None:
    """Record a portal or fax submission and the payer's answer (signed cases only)."""
    from datetime import UTC, datetime

    from integration.domain.priorauth import Outcome, PayerResponse
    from integration.store.pa_submissions import PaSubmissionStore, SubmissionError

    if outcome == "approved" and not (auth_number and start and end):
        raise click.BadParameter(
            "an approval needs --auth-number, --from and --to", param_hint="--outcome"
        )
    for value, hint in ((start, "--from"), (end, "--to")):
        if value:
            _date(value, hint)
    store = PaSubmissionStore(_sessions())
    response = PayerResponse(
        Outcome(outcome), reason, None, auth_number, start, end, units, None, tuple(ask)
    )
    try:
        store.check_submittable(case_id)
        state = store.apply(case_id, channel, response, actor=actor, now=datetime.now(UTC))
    except SubmissionError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{state} by {channel}")


def _follow_up(
    kind: str,
    case_id: str,
    reason: str,
    attach: tuple[Path, ...],
    actor: str,
    payer_url: str | None,
    outcome: str | None,
    payer_said: str | None,
    auth_number: str | None,
    start: str | None,
    end: str | None,
) -> None:
    """Send an appeal or cancellation by the case's channel (or record a portal or fax one when
    --outcome is given) and print the result as JSON. Exit 1 when it can't be sent as the case
    stands, 3 when the payer couldn't be reached (recorded on the case; send again)."""
    import mimetypes
    from datetime import UTC, datetime

    from integration.domain.priorauth import Channel, FollowUp, Outcome
    from integration.priorauth.channels.transport import ChannelError, PayerTransport
    from integration.priorauth.submit import Attachment, Practice, Submitter, record_follow_up
    from integration.settings import Settings
    from integration.store.pa_submissions import PaSubmissionStore, SubmissionError

    which = FollowUp(kind)
    settings = Settings()
    store = PaSubmissionStore(_sessions())
    now = datetime.now(UTC)
    for value, hint in ((start, "--from"), (end, "--to")):
        if value:
            _date(value, hint)
    try:
        if outcome is not None:
            case = store.check_follow_up(case_id, which)
            channel = Channel(case.channel) if case.channel else Channel.PORTAL
            if outcome == "approved" and not (auth_number and start and end):
                raise click.BadParameter(
                    "an approval needs --auth-number, --from and --to", param_hint="--outcome"
                )
            state = record_follow_up(
                store,
                case_id,
                which,
                channel=channel,
                reason=reason,
                outcome=Outcome(outcome),
                actor=actor,
                now=now,
                payer_said=payer_said,
                auth_number=auth_number,
                start=start,
                end=end,
            )
            result: dict[str, Any] = {
                "case_id": case_id,
                "kind": which.value,
                "channel": channel.value,
                "state": state.value,
                "outcome": outcome,
                "reason": payer_said,
                "auth_number": auth_number,
                "start": start,
                "end": end,
                "ask": [],
            }
            click.echo(json.dumps(result, indent=2))
            return
        base = payer_url or settings.payer_url
        if not base:
            raise click.BadParameter(
                "no payer endpoint: set DERMRCM_PAYER_URL or pass --payer-url",
                param_hint="--payer-url",
            )
        documents = [
            Attachment(
                p.name,
                mimetypes.guess_type(p.name)[0] or "application/octet-stream",
                p.read_bytes(),
            )
            for p in attach
        ]
        submitter = Submitter(
            store,
            PayerTransport(settings.payer_timeout),
            base,
            Practice(settings.practice_name, settings.practice_npi),
            ncpdp_xsd=settings.ncpdp_xsd,
        )
        if which is FollowUp.APPEAL:
            done = submitter.appeal(
                case_id, reason=reason, actor=actor, now=now, attachments=documents
            )
        else:
            done = submitter.cancel(case_id, reason=reason, actor=actor, now=now)
    except SubmissionError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except ChannelError as exc:
        click.echo(f"error: {exc} (recorded on the case; send again)", err=True)
        sys.exit(3)
    r = done.response
    result = {
        "case_id": case_id,
        "kind": which.value,
        "channel": done.channel.value,
        "state": done.state.value,
        "outcome": r.outcome.value,
        "reason": r.reason,
        "auth_number": r.auth_number,
        "start": r.start,
        "end": r.end,
        "ask": list(r.ask),
    }
    click.echo(json.dumps(result, indent=2))


def _follow_up_options(command: Any) -> Any:
    for option in reversed(
        [
            click.option("--reason", required=True, help="Why (kept on the audit trail)"),
            click.option("--actor", default="cli", show_default=True, help="Who (audit trail)"),
            click.option("--payer-url", default=None, help="Payer endpoints' base URL"),
            click.option(
                "--outcome",
                type=click.Choice(["approved", "denied", "pended", "closed"]),
                default=None,
                help="Portal or fax case: what the payer answered (recorded, nothing sent)",
            ),
            click.option("--payer-said", default=None, help="With --outcome: the payer's words"),
            click.option("--auth-number", default=None, help="With --outcome approved"),
            click.option("--from", "start", default=None, help="Approval starts (YYYY-MM-DD)"),
            click.option("--to", "end", default=None, help="Approval ends (YYYY-MM-DD)"),
        ]
    ):
        command = option(command)
    return command


@pa_command.command("appeal")
@click.argument("case_id")
@click.option(
    "--attach",
    "attach",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A document to send with the appeal; repeatable",
)
@_follow_up_options
def appeal_command(
    case_id: str,
    attach: tuple[Path, ...],
    reason: str,
    actor: str,
    payer_url: str | None,
    outcome: str | None,
    payer_said: str | None,
    auth_number: str | None,
    start: str | None,
    end: str | None,
) -> None:
    """Appeal a denied case by its channel; prints the result as JSON."""
    _follow_up(
        "appeal",
        case_id,
        reason,
        attach,
        actor,
        payer_url,
        outcome,
        payer_said,
        auth_number,
        start,
        end,
    )


@pa_command.command("cancel")
@click.argument("case_id")
@_follow_up_options
def cancel_command(
    case_id: str,
    reason: str,
    actor: str,
    payer_url: str | None,
    outcome: str | None,
    payer_said: str | None,
    auth_number: str | None,
    start: str | None,
    end: str | None,
) -> None:
    """Cancel a submitted, pended, more-information or approved case; prints JSON."""
    _follow_up(
        "cancel",
        case_id,
        reason,
        (),
        actor,
        payer_url,
        outcome,
        payer_said,
        auth_number,
        start,
        end,
    )


@pa_command.command("messages")
@click.argument("case_id")
@click.option("--body/--no-body", default=False, help="Print each message's body too")
def messages_command(case_id: str, body: bool) -> None:
    """What was sent to the payer for a case and what came back, in order."""
    from integration.store.pa_submissions import PaSubmissionStore

    for m in PaSubmissionStore(_sessions()).messages(case_id):
        click.echo(f"{m.at.isoformat(timespec='seconds')}  {m.direction:3} {m.channel:9} {m.kind}")
        if body:
            click.echo(m.body)


@pa_command.command("reauth")
@click.option("--fhir-base", required=True, help="FHIR base URL the charts are read from")
@click.option("--today", default=None, help="Run as of this day (YYYY-MM-DD; default today)")
@click.option("--days", default=30, show_default=True, help="Open a case this many days ahead")
@click.option("--token", default=None, envvar="DERMRCM_TOKEN", help="Bearer access token")
@click.option("--actor", default="reauth-watcher", show_default=True)
def reauth_command(
    fhir_base: str, today: str | None, days: int, token: str | None, actor: str
) -> None:
    """Open a reauthorization case for each approval ending within --days: the rule's
    reauthorization checklist from the chart as it is now, and the response to therapy."""
    from datetime import UTC, datetime

    from integration.fhir.pa_check import PaCheck, pa_check
    from integration.mapping.evidence_maps import load_evidence_maps
    from integration.priorauth.reauth import describe
    from integration.priorauth.references import load_pa_references
    from integration.priorauth.renewals import open_reauthorizations
    from integration.store.models import PaCase
    from integration.store.pa_cases import PaCaseStore
    from integration.store.pa_submissions import PaSubmissionStore

    day = _date(today, "--today")
    refs = load_pa_references()
    maps = load_evidence_maps()
    client = fhir_client(fhir_base, token)

    def check(case: PaCase, service: date) -> PaCheck:
        return pa_check(
            client,
            case.patient_id,
            json.loads(case.order_json),
            service,
            refs,
            maps,
            payer_id=case.payer_id,
            reauthorization=True,
        )

    sessions = _sessions()
    try:
        renewals = open_reauthorizations(
            PaCaseStore(sessions),
            PaSubmissionStore(sessions),
            check,
            today=day,
            actor=actor,
            now=datetime.now(UTC),
            window_days=days,
        )
    finally:
        client.close()
    for r in renewals:
        click.echo(f"{r.case_id}  renews {r.renews}  service {r.service_date.isoformat()}")
        for change in r.changes:
            click.echo(f"  {describe(change)}")
    click.echo(f"{len(renewals)} reauthorization case(s) opened")
