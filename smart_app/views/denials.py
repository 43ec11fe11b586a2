"""Denial and appeal screens: the worklist for billing staff, one denial, the appeal letter's
review (sentence by sentence with its sources, edits, versions, the pre-sign check), the
clinician's signature, the payer's outcome and the dashboard.

Who may see them: billing staff as on the interface screens (the admin token as Bearer/Basic or
the cookie POST /denials/login sets; without a token, requests from this machine only). A
clinician launched from a patient's chart reaches that patient's appeals with the launch key
(`/launch/<key>/appeals`, `/appeals/<id>?key=...`) and signs there: the signature records the
session's verified fhirUser, which must be a Practitioner.

Drafting reads the chart through the clinician's launch when the form came from one for the
denial's patient, else as derm-rcm's SMART backend service on `chart_fhir_base` (`dermrcm
run` points it at its sandbox EHR). Everything is read and changed through `DenialStore` (list, get,
assign, status, likelihood) and `AppealStore` (open, edit, polish, sign with the pre-sign check,
package, submit, outcome, next level, audit, dashboard); this module only parses and renders.
Form posts must come from our own pages (Sec-Fetch-Site, else Origin). Logs carry denial and
appeal ids, versions and routes, never names, member ids or letter text.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from flask import Blueprint, Response, current_app, g, jsonify, redirect, render_template, request
from flask import session as cookie_session
from flask import url_for as flask_url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.wrappers import Response as Redirect

from integration.appeals.draft import PaCaseFacts, pa_case_facts
from integration.appeals.letter import Letter, Sentence, SourceRef
from integration.appeals.polish import PolishSettings, polish_letter
from integration.appeals.submission import PayerUnreachable, SendRefused, send_appeal
from integration.denials.dashboard import BUCKET_LABELS, Dashboard
from integration.denials.items import QUEUES, STATUSES, DenialItem
from integration.denials.likelihood import Likelihood
from integration.fhir.client import ClientOptions, FhirClient
from integration.priorauth.channels.transport import PayerTransport
from integration.priorauth.submit import Practice, Submitter
from integration.store.appeals import (
    AppealError,
    AppealStore,
    AppealView,
    CheckRefused,
    StaleVersion,
)
from integration.store.database import session_factory
from integration.store.denials import DenialStore
from integration.store.pa_submissions import PaSubmissionStore
from integration.store.smart_sessions import LaunchedSession
from smart_app.access import (
    StaffCookie,
    clinician_ref,
    posted_from_another_site,
)
from smart_app.oauth import LaunchError
from smart_app.views.context import services

log = logging.getLogger(__name__)

bp = Blueprint("denials", __name__)

COOKIE = "dermrcm_billing"
BILLING = StaffCookie(COOKIE, "billing")
#: worklist tabs: value -> (label, the queue it shows; None: every queue)
TABS: dict[str, tuple[str, str | None]] = {
    "all": ("All", None),
    "biller": ("Biller", "biller"),
    "coder": ("Coder", "coder"),
    "coordinator": ("Coordinator", "coordinator"),
    "mine": ("Mine", None),
}
#: status filter: value -> statuses shown ("active": still being worked)
STATUS_FILTERS: dict[str, tuple[str, ...]] = {
    "active": ("open", "appealing", "resubmitted"),
    "all": (),
    **{s: (s,) for s in STATUSES},
}
#: deadline window filter: value -> (label, days from today; None: no limit)
WINDOWS: dict[str, str] = {
    "any": "any deadline",
    "overdue": "overdue",
    "7": "within 7 days",
    "30": "within 30 days",
    "unknown": "deadline unknown",
}
SORTS = ("deadline", "amount", "likelihood")
OUTCOMES = ("overturned", "upheld", "partial")
#: how a signed appeal was sent (recorded by a person; derm-rcm doesn't send it itself yet)
CHANNELS = ("fax", "portal", "mail", "x12-275")
_FHIR_REF = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}(/_history/[A-Za-z0-9\-.]{1,64})?$")
_NAME = re.compile(r"^[\w .@'\-/]{1,200}$")
_APPEAL_ID = re.compile(r"^[0-9a-f\-]{36}$")
_SPAN = "|"  # "<sentence id>|<span>": what a clinician confirms (ids have no "|")


class Problem(Exception):
    """A refusal or bad request on these screens: a page for people, JSON for scripts."""

    def __init__(self, code: str, description: str, status: int) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status


def _fail(code: str, description: str, status: int = 400) -> NoReturn:
    raise Problem(code, description, status)


# ---------------------------------------------------------------- plumbing


def _sessions() -> sessionmaker[Session]:
    found = current_app.extensions.get("dermrcm.denials.sessions")
    if found is None:
        engine = current_app.extensions["dermrcm.engine"]
        assert isinstance(engine, Engine)
        found = session_factory(engine)
        current_app.extensions["dermrcm.denials.sessions"] = found
    assert isinstance(found, sessionmaker)
    return found


def _now() -> datetime:
    return datetime.now(UTC)


def denial_store() -> DenialStore:
    found = current_app.extensions.get("dermrcm.denials.store")
    if found is None:  # it loads its rules (next steps, deadlines) once
        found = DenialStore(_sessions(), _now)
        current_app.extensions["dermrcm.denials.store"] = found
    assert isinstance(found, DenialStore)
    return found


def appeal_store() -> AppealStore:
    return AppealStore(_sessions(), _now)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def when(value: datetime | None) -> str:
    return _utc(value).strftime("%Y-%m-%d %H:%M UTC") if value else ""


def money(value: Decimal | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        value = Decimal(value) / 100
    return f"${value:,.2f}"


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


# ---------------------------------------------------------------- access


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    token = services().settings.admin_token or ""
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
    return URLSafeTimedSerializer(current_app.secret_key or "", salt=f"{purpose}:{digest}")


def billing_access() -> str | None:
    """How this request may see the billing screens (bearer, basic, cookie, loopback), or None."""
    return BILLING.access(services().settings)


def _refusal() -> Problem:
    if services().settings.admin_token:
        return Problem(
            "forbidden",
            "The denial screens need the admin token (DERMRCM_ADMIN_TOKEN): send "
            "'Authorization: Bearer <token>', or sign in with it below. A clinician opens "
            "a patient's appeals from that patient's chart.",
            403,
        )
    return Problem(
        "forbidden",
        "The denial screens are shown only to requests from this machine (loopback, not "
        "through a proxy) while DERMRCM_ADMIN_TOKEN is unset. A clinician opens a patient's "
        "appeals from that patient's chart.",
        403,
    )


def _require_billing() -> str:
    via = billing_access()
    if via is None:
        rule = request.url_rule.rule if request.url_rule else "?"
        log.warning("denials access refused route=%s", rule)
        raise _refusal()
    g.billing_access = via
    return via


def _launched_key(key: str | None) -> tuple[str, LaunchedSession] | None:
    """The launched session of `key` in this browser's cookie, or None."""
    if not key:
        return None
    session_id = cookie_session.get("launches", {}).get(key)
    if not session_id:
        return None
    found = services().store.get(session_id)
    return (key, found) if found is not None else None


def _same_origin_post() -> None:
    """CSRF: a form post must come from one of our own pages."""
    if posted_from_another_site():
        _fail("cross-site", "That form was posted from another site; it was ignored.", 403)


def _local_next(value: str | None) -> str:
    allowed = ("/denials", "/appeals/")
    if value and value.startswith(allowed) and "//" not in value and "\\" not in value:
        return value
    return flask_url_for("denials.worklist")


@bp.post("/denials/login")
def login() -> Redirect:
    """Exchange the admin token (typed into the form) for a cookie for these screens."""
    _same_origin_post()
    outcome = BILLING.sign_in(services().settings, _local_next(request.form.get("next")), "/")
    if outcome == "remote":
        raise _refusal()
    if outcome == "wrong-token":
        log.warning("denials sign-in refused")
        _fail("forbidden", "That is not the admin token. Check DERMRCM_ADMIN_TOKEN.", 403)
    assert not isinstance(outcome, str)
    return outcome


# ---------------------------------------------------------------- reading denials


def _denial(denial_id: int) -> DenialItem:
    found = denial_store().get(denial_id)
    if found is None:
        _fail("not-found", f"There is no denial {denial_id}.", 404)
    return found


def likelihoods(items: list[DenialItem]) -> dict[int, Likelihood]:
    """Overturn likelihood of each denial from the practice's decided appeals (one model fit
    per request; "no history: ..." when there are too few)."""
    if not items:
        return {}
    model = denial_store().likelihood_model()
    return {i.id: model.estimate(i.payer_id, i.category) for i in items if i.id is not None}


@dataclass(frozen=True, slots=True)
class Filters:
    tab: str
    me: str
    payer: str
    category: str
    window: str
    status: str
    sort: str

    def args(self, **changes: str) -> dict[str, str]:
        values = {
            "tab": self.tab,
            "me": self.me,
            "payer": self.payer,
            "category": self.category,
            "window": self.window,
            "status": self.status,
            "sort": self.sort,
        }
        values.update(changes)
        defaults = {"tab": "all", "window": "any", "status": "active", "sort": "deadline"}
        return {k: v for k, v in values.items() if v and defaults.get(k) != v}


def _choice(name: str, allowed: tuple[str, ...] | dict[str, Any], default: str) -> str:
    value = request.args.get(name) or default
    if value not in allowed:
        _fail(
            "bad-request",
            f"{name}: expected one of {', '.join(allowed)}, got {value[:30]!r}",
        )
    return value


def _filters() -> Filters:
    me = (request.args.get("me") or "").strip()
    if me and not _NAME.match(me):
        _fail("bad-request", "me: expected a name or user id of at most 200 characters")
    return Filters(
        tab=_choice("tab", TABS, "all"),
        me=me,
        payer=(request.args.get("payer") or "")[:80],
        category=(request.args.get("category") or "")[:30],
        window=_choice("window", WINDOWS, "any"),
        status=_choice("status", STATUS_FILTERS, "active"),
        sort=_choice("sort", SORTS, "deadline"),
    )


def _in_window(item: DenialItem, window: str, today: date) -> bool:
    if window == "any":
        return True
    if window == "unknown":
        return item.deadline is None
    if item.deadline is None:
        return False
    if window == "overdue":
        return item.deadline < today
    return today <= item.deadline <= today + timedelta(days=int(window))


@dataclass(frozen=True, slots=True)
class Worklist:
    filters: Filters
    items: list[DenialItem]
    likelihood: dict[int, Likelihood]
    payers: list[tuple[str, str]]
    categories: list[str]
    counts: dict[str, int]
    today: date


def _worklist(filters: Filters, today: date) -> Worklist:
    everything = denial_store().list(sort="deadline")
    payers = sorted({(i.payer_id, i.payer_name) for i in everything}, key=lambda p: p[1])
    categories = sorted({i.category for i in everything})
    statuses = STATUS_FILTERS[filters.status]
    counts = {tab: 0 for tab in TABS}
    chosen: list[DenialItem] = []
    for item in everything:
        if statuses and item.status not in statuses:
            continue
        if filters.payer and item.payer_id != filters.payer:
            continue
        if filters.category and item.category != filters.category:
            continue
        if not _in_window(item, filters.window, today):
            continue
        for tab, (_label, queue) in TABS.items():
            if tab == "mine":
                counts[tab] += int(bool(filters.me) and item.assignee == filters.me)
            elif queue is None or item.queue == queue:
                counts[tab] += 1
        queue = TABS[filters.tab][1]
        if filters.tab == "mine" and (not filters.me or item.assignee != filters.me):
            continue
        if queue is not None and item.queue != queue:
            continue
        chosen.append(item)
    chance = likelihoods(chosen)
    if filters.sort == "amount":
        chosen.sort(key=lambda i: (-i.amount, i.deadline or date.max, i.id or 0))
    elif filters.sort == "likelihood":

        def by_chance(i: DenialItem) -> tuple[bool, float, Decimal, int]:
            found = chance.get(i.id or 0)
            rate = found.probability if found is not None else None
            return (rate is None, -(rate or 0.0), -i.amount, i.id or 0)

        chosen.sort(key=by_chance)
    else:
        chosen.sort(key=lambda i: (i.deadline is None, i.deadline or date.max, -i.amount))
    return Worklist(filters, chosen, chance, payers, categories, counts, today)


def _days_left(item: DenialItem, today: date) -> int | None:
    return (item.deadline - today).days if item.deadline else None


def _item_json(item: DenialItem, chance: Likelihood | None) -> dict[str, Any]:
    out = item.to_json()
    out["likelihood"] = chance.to_json() if chance is not None else None
    out["url"] = flask_url_for("denials.denial", denial_id=item.id)
    return out


@bp.get("/denials")
def worklist() -> str:
    _require_billing()
    today = date.today()
    found = _worklist(_filters(), today)
    return render_template(
        "denials/worklist.html",
        page=found,
        tabs=TABS,
        windows=WINDOWS,
        status_filters=STATUS_FILTERS,
        sorts=SORTS,
        queues=QUEUES,
        days_left=_days_left,
        money=money,
        access=g.get("billing_access"),
    )


@bp.get("/denials.json")
def worklist_json() -> Response:
    _require_billing()
    found = _worklist(_filters(), date.today())
    denials = [_item_json(i, found.likelihood.get(i.id or 0)) for i in found.items]
    return jsonify({"denials": denials, "count": len(denials)})


def _actor() -> str:
    """Who changes something on the billing screens: the name they gave, else how they got in."""
    name = (request.form.get("me") or "").strip()
    if name and _NAME.match(name):
        return name
    return f"billing:{g.get('billing_access') or 'unknown'}"


def _back_to(default: str) -> str:
    return _local_next(request.form.get("next") or default)


@bp.post("/denials/<int:denial_id>/assign")
def assign(denial_id: int) -> Redirect:
    _same_origin_post()
    _require_billing()
    _denial(denial_id)
    who = (request.form.get("to") or "").strip()
    if not _NAME.match(who):
        _fail("bad-request", "to: expected a name or user id of at most 200 characters")
    denial_store().assign(denial_id, who, actor=_actor())
    log.info("denial assigned denial_id=%d", denial_id)
    return redirect(_back_to(flask_url_for("denials.denial", denial_id=denial_id)), code=303)


@bp.post("/denials/<int:denial_id>/status")
def set_status(denial_id: int) -> Redirect:
    _same_origin_post()
    _require_billing()
    _denial(denial_id)
    status = request.form.get("status") or ""
    if status not in STATUSES:
        _fail("bad-request", f"status: expected one of {', '.join(STATUSES)}, got {status!r}")
    reason = (request.form.get("reason") or "").strip()
    if not reason:
        _fail("bad-request", "reason: say why the status changes")
    try:
        denial_store().set_status(denial_id, status, reason=reason[:500], actor=_actor())
    except ValueError as exc:
        _fail("bad-request", str(exc))
    log.info("denial status changed denial_id=%d status=%s", denial_id, status)
    return redirect(flask_url_for("denials.denial", denial_id=denial_id), code=303)


# ---------------------------------------------------------------- one denial


def _appeals_of(denial_id: int) -> list[AppealView]:
    return sorted(appeal_store().list(denial_id=denial_id), key=lambda a: a.level)


@bp.get("/denials/<int:denial_id>")
def denial(denial_id: int) -> str:
    _require_billing()
    item = _denial(denial_id)
    today = date.today()
    # drafting time runs from opening the denial: the draft form carries when it was opened
    opened = _serializer("opened").dumps({"denial": denial_id, "at": _now().isoformat()})
    chance = likelihoods([item]).get(denial_id)
    return render_template(
        "denials/denial.html",
        item=item,
        events=denial_store().events(denial_id),
        appeals=_appeals_of(denial_id),
        opened=opened,
        days_left=_days_left(item, today),
        chance=chance,
        statuses=STATUSES,
        money=money,
        when=when,
        chart_configured=bool(services().settings.chart_fhir_base),
        access=g.get("billing_access"),
    )


def _opened_at(denial_id: int) -> datetime:
    raw = request.form.get("opened") or ""
    try:
        data = _serializer("opened").loads(raw, max_age=7 * 24 * 3600)
    except BadSignature:
        return _now()
    if not isinstance(data, dict) or data.get("denial") != denial_id:
        return _now()
    return _utc(datetime.fromisoformat(str(data["at"])))


def _backend_client(fhir_base: str) -> FhirClient:
    """A FHIR client reading charts as derm-rcm's SMART backend service."""
    from integration.fhir.backend_auth import BackendServicesToken, load_or_create_key

    settings = services().settings
    found = current_app.extensions.get("dermrcm.denials.backend_token")
    if found is None or found.fhir_base != fhir_base.rstrip("/"):
        found = BackendServicesToken(
            fhir_base,
            settings.backend_client_id,
            load_or_create_key(settings.backend_key_path),
            scope=settings.backend_scope,
            timeout=settings.fhir_timeout,
        )
        current_app.extensions["dermrcm.denials.backend_token"] = found
    options = ClientOptions(
        timeout=settings.fhir_timeout,
        retries=settings.fhir_retries,
        concurrency=settings.fhir_concurrency,
        page_size=settings.fhir_page_size,
    )
    return FhirClient(fhir_base, token=found.token, refresh=found.refresh, options=options)


def _patient_id(item: DenialItem) -> str | None:
    ref = item.patient_ref or ""
    return ref.split("/", 1)[1] if ref.startswith("Patient/") else None


def _pa_case_facts(item: DenialItem) -> PaCaseFacts | None:
    """For a PA denial, what its case says about the denied drug or procedure and the rule."""
    if item.source != "pa" or not item.pa_case_id:
        return None
    case = current_app.extensions["dermrcm.pa_cases"].case(item.pa_case_id)
    return pa_case_facts(case) if case is not None else None


def _chart_client(item: DenialItem, key: str | None) -> FhirClient:
    """Who reads the chart for a draft: the clinician's launch for this patient when the form
    came from one, else derm-rcm's backend service on the configured FHIR base."""
    patient = _patient_id(item)
    found = _launched_key(key)
    if found is not None and patient and found[1].patient_id == patient:
        return services().client(found[1])
    base = services().settings.chart_fhir_base
    if not base:
        _fail(
            "no-chart-access",
            "No FHIR server is configured to read charts from (setting "
            "DERMRCM_CHART_FHIR_BASE, read as derm-rcm's backend service). Launch derm-rcm "
            "from the patient's chart and draft from there.",
            409,
        )
    return _backend_client(base)


@bp.post("/denials/<int:denial_id>/draft")
def draft(denial_id: int) -> Redirect:
    """Read the chart, draft the letter and open the appeal (or go to the open one)."""
    _same_origin_post()
    item = _denial(denial_id)
    viewer = _viewer(item)  # billing staff, or a launch from this denial's patient's chart
    key = viewer.key
    for existing in _appeals_of(denial_id):
        if existing.outcome is None:
            return redirect(_appeal_url(existing.id, key), code=303)
    if item.next_step != "appeal" and request.form.get("anyway") != "yes":
        _fail(
            "not-now",
            f"denial {denial_id}: the next step is {item.next_step} ({item.next_step_reason}); "
            "appeal anyway with the box ticked",
            409,
        )
    if not _patient_id(item):
        _fail(
            "no-patient",
            f"denial {denial_id}: the claim names no patient (Patient/<id>), so the chart "
            "can't be read; draft with `dermrcm appeal draft --patient ID`",
            409,
        )
    opened_at = _opened_at(denial_id)
    letter = _draft_letter(item, key)
    try:
        appeal_id = appeal_store().open(denial_id, letter, viewer.actor, opened_at)
    except AppealError as exc:
        _fail("not-now", str(exc), 409)
    log.info(
        "appeal opened denial_id=%d appeal_id=%s sentences=%d",
        denial_id,
        appeal_id,
        len(letter.sentences),
    )
    return redirect(_appeal_url(appeal_id, key), code=303)


def _draft_letter(item: DenialItem, key: str | None, level: int = 1) -> Letter:
    from integration.appeals.draft import DraftError, draft_for_denial

    client = _chart_client(item, key)
    try:
        result = draft_for_denial(
            item,
            client,
            services().maps,
            date.today(),
            refs=services().pa_references,
            level=level,
            pa_case=_pa_case_facts(item),
        )
    except DraftError as exc:
        _fail("cannot-draft", str(exc), 422)
    finally:
        client.close()
    return result.letter


def _session_actor(session: LaunchedSession) -> str:
    return clinician_ref(session) or session.fhir_user or f"smart-launch:{session.launch_kind}"


# ---------------------------------------------------------------- one appeal


def _appeal_url(appeal_id: str, key: str | None, anchor: str = "") -> str:
    url = (
        flask_url_for("denials.appeal", appeal_id=appeal_id, key=key)
        if key
        else flask_url_for("denials.appeal", appeal_id=appeal_id)
    )
    return f"{url}#{anchor}" if anchor else url


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking at an appeal: billing staff, and/or a launch for the appeal's patient."""

    billing: str | None
    key: str | None
    session: LaunchedSession | None

    @property
    def clinician(self) -> str | None:
        return clinician_ref(self.session) if self.session else None

    @property
    def actor(self) -> str:
        if self.session is not None:
            return _session_actor(self.session)
        return _actor()


def _viewer(item: DenialItem) -> Viewer:
    """Billing access, or a launch (?key= / form key) of the denial's patient; else refused."""
    key = request.values.get("key") or None
    found = _launched_key(key)
    session = None
    if found is not None and _patient_id(item) and found[1].patient_id == _patient_id(item):
        session = found[1]
    billing = billing_access()
    if session is None and billing is None:
        if found is not None:
            _fail(
                "not-found",
                "This appeal is not for the patient launched here; launch derm-rcm from that "
                "patient's chart to open it.",
                404,
            )
        raise _refusal()
    g.billing_access = billing
    return Viewer(billing, key if session is not None else None, session)


def _appeal_view(appeal_id: str) -> AppealView:
    found = appeal_store().get(appeal_id) if _APPEAL_ID.match(appeal_id) else None
    if found is None:
        _fail("not-found", f"There is no appeal {appeal_id[:40]!r}.", 404)
    return found


@dataclass(frozen=True, slots=True)
class CheckProblem:
    sentence_id: str
    span: str
    kind: str
    message: str

    @property
    def token(self) -> str:
        return f"{self.sentence_id}{_SPAN}{self.span}"


def _field(value: Any, name: str) -> str:
    found = value.get(name) if isinstance(value, dict) else getattr(value, name, None)
    return "" if found is None else str(found)


def problems_of(problems: Iterable[Any]) -> list[CheckProblem]:
    """The check's problems (dicts or objects with sentence_id, span, kind, message)."""
    return [
        CheckProblem(
            _field(p, "sentence_id"), _field(p, "span"), _field(p, "kind"), _field(p, "message")
        )
        for p in problems
    ]


def _check(letter: Letter) -> list[CheckProblem]:
    from integration.appeals.factcheck import check_letter

    return problems_of(check_letter(letter).problems or ())


def _confirmed() -> tuple[tuple[str, str], ...]:
    out = []
    for token in request.form.getlist("confirm"):
        sentence_id, sep, span = token.partition(_SPAN)
        if sep and sentence_id and span:
            out.append((sentence_id[:40], span[:200]))
    return tuple(out)


def _source_link(source: SourceRef, viewer: Viewer) -> str | None:
    """Where a sentence's source opens: the FHIR resource through the clinician's launch, the
    rule's policy; None when it can't be opened from here (the reference is shown)."""
    if source.kind == "fhir" and viewer.key and _FHIR_REF.match(source.ref):
        return f"{request.script_root}/source/{viewer.key}/{source.ref}"
    if source.kind == "rule" and source.citation:
        match = re.search(r"https?://[^\s)]+", source.citation)
        return match.group(0).rstrip(".,;") if match else None
    return None


@bp.get("/appeals/<appeal_id>")
def appeal(appeal_id: str) -> Response:
    found = _appeal_view(appeal_id)
    item = _denial(found.denial_id)
    return _appeal_page(found, item, _viewer(item))


def _appeal_page(
    found: AppealView,
    item: DenialItem,
    viewer: Viewer,
    *,
    refused: list[CheckProblem] | None = None,
    status: int = 200,
    message: str | None = None,
) -> Response:
    store = appeal_store()
    versions = store.versions(found.id)
    latest = versions[-1] if versions else None
    letter = latest.letter if latest else None
    problems = _check(letter) if letter is not None and found.status == "draft" else []
    by_sentence: dict[str, list[CheckProblem]] = {}
    for p in refused if refused is not None else problems:
        by_sentence.setdefault(p.sentence_id, []).append(p)
    body = render_template(
        "denials/appeal.html",
        appeal=found,
        item=item,
        letter=letter,
        latest=latest,
        audit=list(reversed(store.audit(found.id))),
        problems=problems,
        refused=refused,
        by_sentence=by_sentence,
        viewer=viewer,
        source_link=lambda s: _source_link(s, viewer),
        outcomes=OUTCOMES,
        channels=CHANNELS,
        money=money,
        when=when,
        message=message,
        today=date.today().isoformat(),
        next_level=_next_level(found),
        documents=list(reversed(store.documents(found.id))),
        polish_off=polish_settings().why_off(),
    )
    response = Response(body, mimetype="text/html")
    response.status_code = status
    return response


def _next_level(found: AppealView) -> AppealView | None:
    return next(
        (a for a in appeal_store().list(denial_id=found.denial_id) if a.previous_id == found.id),
        None,
    )


def _base_version() -> int:
    raw = request.form.get("base_version") or ""
    if not (raw.isascii() and raw.isdigit()):
        _fail("bad-request", f"base_version: expected a version number, got {raw[:20]!r}")
    return int(raw)


def edited_letter(letter: Letter, form: Mapping[str, str], added: str, paragraph: str) -> Letter:
    """The letter with each sentence's new wording (`text-<id>` in the form) and, when
    `added` is not blank, a sentence in the clinician's own words at the end of `paragraph`."""
    for s in letter.sentences:
        text = form.get(f"text-{s.id}")
        if text is None:
            continue
        text = " ".join(text.split())
        if text and text != s.text:
            letter = letter.with_text(s.id, text)
    added = " ".join(added.split())
    if not added:
        return letter
    paragraphs = sorted({s.paragraph for s in letter.sentences}) or [0]
    chosen = int(paragraph) if paragraph.isascii() and paragraph.isdigit() else paragraphs[-1]
    if chosen not in paragraphs:
        chosen = paragraphs[-1]
    taken = {s.id for s in letter.sentences}
    n = 1
    while f"c{n}" in taken:
        n += 1
    new = Sentence(f"c{n}", chosen, added, (), origin="clinician")
    last = (
        max(i for i, s in enumerate(letter.sentences) if s.paragraph == chosen)
        if (letter.sentences)
        else -1
    )
    sentences = (*letter.sentences[: last + 1], new, *letter.sentences[last + 1 :])
    return replace(letter, sentences=sentences)


def _stale(found: AppealView, item: DenialItem, viewer: Viewer, exc: StaleVersion) -> Response:
    return _appeal_page(
        found,
        item,
        viewer,
        status=409,
        message=(
            f"Not saved: you worked on version {exc.base_version}, but version {exc.latest} was "
            "saved since. The latest version is below; make your change again."
        ),
    )


@bp.post("/appeals/<appeal_id>/edit")
def edit(appeal_id: str) -> Response | Redirect:
    _same_origin_post()
    found = _appeal_view(appeal_id)
    item = _denial(found.denial_id)
    viewer = _viewer(item)
    base = _base_version()
    store = appeal_store()
    letter = store.latest(appeal_id).letter
    form = {k: v for k, v in request.form.items() if k.startswith("text-")}
    new = edited_letter(
        letter, form, request.form.get("add", ""), request.form.get("add_paragraph", "")
    )
    if new != letter:
        try:
            version = store.save_edit(appeal_id, new, viewer.actor, base)
        except StaleVersion as exc:
            return _stale(found, item, viewer, exc)
        except AppealError as exc:
            _fail("not-now", str(exc), 409)
        log.info("appeal edited appeal_id=%s version=%d", appeal_id, version)
    return redirect(_appeal_url(appeal_id, viewer.key, "letter"), code=303)


def polish_settings() -> PolishSettings:
    """The language-polish settings the app was created with (`create_app` puts them in
    `app.extensions["dermrcm.appeals.polish"]` from the `appeal_polish_*` settings)."""
    found = current_app.extensions.get("dermrcm.appeals.polish")
    if isinstance(found, PolishSettings):
        return found
    return PolishSettings.from_settings(services().settings)


@bp.post("/appeals/<appeal_id>/polish")
def polish(appeal_id: str) -> Response | Redirect:
    """Reword derm-rcm's sentences through the language model; the whole polish is refused
    when any sentence would state a fact its original doesn't."""
    _same_origin_post()
    found = _appeal_view(appeal_id)
    item = _denial(found.denial_id)
    viewer = _viewer(item)
    settings = polish_settings()
    off = settings.why_off()
    if off is not None:
        _fail("polish-off", off, 409)
    base = _base_version()
    latest = appeal_store().latest(appeal_id)
    if base != latest.version:
        return _stale(found, item, viewer, StaleVersion(appeal_id, base, latest.version))
    result = polish_letter(latest.letter, settings)
    if result.rejected is not None:
        return _appeal_page(
            found, item, viewer, status=422, message=f"Wording not changed: {result.rejected}"
        )
    try:
        version = appeal_store().save_polish(
            appeal_id, result.letter, viewer.actor, base, model=settings.model
        )
    except StaleVersion as exc:
        return _stale(found, item, viewer, exc)
    except AppealError as exc:
        _fail("not-now", str(exc), 409)
    log.info(
        "appeal polished appeal_id=%s version=%d sentences=%d",
        appeal_id,
        version,
        len(result.changed),
    )
    return redirect(_appeal_url(appeal_id, viewer.key, "letter"), code=303)


@bp.post("/appeals/<appeal_id>/sign")
def sign(appeal_id: str) -> Response | Redirect:
    """The clinician signs the latest version: the store runs the pre-sign check and refuses
    a letter that states what the evidence doesn't, unless the clinician confirms the span."""
    _same_origin_post()
    found = _appeal_view(appeal_id)
    item = _denial(found.denial_id)
    viewer = _viewer(item)
    clinician = viewer.clinician
    if viewer.session is None or clinician is None:
        who = (
            f" The signed-in user's fhirUser is {viewer.session.fhir_user or 'not given'}, "
            "not a Practitioner."
            if viewer.session is not None
            else ""
        )
        _fail(
            "clinician-only",
            "Only a clinician signs an appeal, from the patient's chart: launch derm-rcm there "
            "and open the appeal under Appeals." + who,
            403,
        )
    try:
        version = appeal_store().sign(
            appeal_id, clinician, confirmed=_confirmed(), base_version=_base_version()
        )
    except StaleVersion as exc:
        return _stale(found, item, viewer, exc)
    except CheckRefused as exc:
        return _appeal_page(
            found,
            item,
            viewer,
            refused=problems_of(exc.problems),
            status=422,
            message="Not signed: the letter states what the chart's evidence does not support.",
        )
    except AppealError as exc:
        _fail("not-now", str(exc), 409)
    log.info("appeal signed appeal_id=%s version=%d", appeal_id, version)
    return redirect(_appeal_url(appeal_id, viewer.key, "signature"), code=303)


#: a PA denial's appeal may also go to the payer by the PA case's own channel (ePA, PAS, 278)
SEND_TO_PAYER = "payer"


@bp.post("/appeals/<appeal_id>/submit")
def submit(appeal_id: str) -> Redirect:
    """Record that the signed letter went to the payer (fax, portal, mail), or, for a PA
    denial, send it by the PA case's channel (`integration.appeals.submission`): the letter's
    text and the signed PDF; the payer's answer shows on the appeal."""
    _same_origin_post()
    found = _appeal_view(appeal_id)
    item = _denial(found.denial_id)
    viewer = _viewer(item)
    channel = request.form.get("channel") or ""
    allowed = (*CHANNELS, SEND_TO_PAYER) if item.source == "pa" else CHANNELS
    if channel not in allowed:
        _fail("bad-request", f"channel: expected one of {', '.join(allowed)}, got {channel!r}")
    try:
        sent = send_appeal(
            appeal_id,
            channel,
            appeals=appeal_store(),
            denials=denial_store(),
            actor=viewer.actor,
            now=_now(),
            submitter=_payer_submitter() if channel == SEND_TO_PAYER else None,
        )
    except SendRefused as exc:
        _fail("not-now", str(exc), 409)
    except PayerUnreachable as exc:
        _fail("payer-unreachable", str(exc), 502)
    log.info(
        "appeal submitted appeal_id=%s channel=%s payer_outcome=%s",
        appeal_id,
        sent.channel,
        sent.payer_outcome,
    )
    return redirect(_appeal_url(appeal_id, viewer.key, "outcome"), code=303)


def _payer_submitter() -> Submitter:
    settings = services().settings
    if not settings.payer_url:
        _fail(
            "no-payer-endpoint",
            "No payer endpoint is configured (setting DERMRCM_PAYER_URL): fax or upload the "
            "PDF and record it as sent.",
            409,
        )
    return Submitter(
        PaSubmissionStore(_sessions()),
        PayerTransport(settings.payer_timeout),
        settings.payer_url,
        Practice(settings.practice_name, settings.practice_npi),
        ncpdp_xsd=settings.ncpdp_xsd,
    )


def _amount(raw: str | None) -> Decimal:
    text = (raw or "").replace("$", "").replace(",", "").strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        _fail("bad-request", f"recovered: expected an amount like 125.00, got {text[:20]!r}")
    return value


@bp.post("/appeals/<appeal_id>/outcome")
def outcome(appeal_id: str) -> Redirect:
    _same_origin_post()
    found = _appeal_view(appeal_id)
    viewer = _viewer(_denial(found.denial_id))
    result = request.form.get("result") or ""
    if result not in OUTCOMES:
        _fail("bad-request", f"result: expected one of {', '.join(OUTCOMES)}, got {result!r}")
    recovered = _amount(request.form.get("recovered"))
    decided = _day(request.form.get("decided_on"))
    if decided is None:
        _fail("bad-request", "decided_on: expected the date of the payer's decision (YYYY-MM-DD)")
    if decided > date.today():
        _fail("bad-request", f"decided_on: expected today or earlier, got {decided}")
    try:
        appeal_store().record_outcome(appeal_id, result, recovered, decided, viewer.actor)
    except AppealError as exc:
        _fail("not-now", str(exc), 409)
    log.info("appeal outcome recorded appeal_id=%s outcome=%s", appeal_id, result)
    return redirect(_appeal_url(appeal_id, viewer.key, "outcome"), code=303)


@bp.post("/appeals/<appeal_id>/second-level")
def second_level(appeal_id: str) -> Redirect:
    """After an upheld (or partial) decision: draft the next level's letter and open it."""
    _same_origin_post()
    found = _appeal_view(appeal_id)
    item = _denial(found.denial_id)
    viewer = _viewer(item)
    existing = _next_level(found)
    if existing is not None:
        return redirect(_appeal_url(existing.id, viewer.key), code=303)
    if found.outcome not in ("upheld", "partial"):
        _fail(
            "not-now",
            f"appeal {appeal_id}: a next level follows an upheld or partial decision, "
            f"got {found.outcome or found.status}",
            409,
        )
    letter = _draft_letter(item, viewer.key, level=found.level + 1)
    try:
        new_id = appeal_store().open_second_level(appeal_id, letter, viewer.actor, _now())
    except AppealError as exc:
        _fail("not-now", str(exc), 409)
    log.info("next-level appeal opened appeal_id=%s previous=%s", new_id, appeal_id)
    return redirect(_appeal_url(new_id, viewer.key), code=303)


def _package(found: AppealView, item: DenialItem, key: str | None) -> int:
    """Render the signed letter with its attachments (notes, pathology, photos, the therapy
    table, read from the chart now) as one PDF and keep it with the appeal; its document id."""
    from integration.appeals.pdf import render_letter_pdf
    from integration.fhir.chart_evidence import chart_evidence

    patient = _patient_id(item)
    if patient is None or found.signed_at is None:
        _fail("not-now", f"appeal {found.id}: only a signed letter of a known patient is sent", 409)
    version = appeal_store().latest(found.id)
    client = _chart_client(item, key)
    try:
        evidence, fetch = chart_evidence(client, patient, services().maps, date.today())
    finally:
        client.close()
    resources = {
        f"{r.get_resource_type()}/{r.id}": r.model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        for r in fetch.chart.resources
    }
    pdf = render_letter_pdf(
        version.letter,
        evidence,
        resources,
        signed_by=found.signed_by,
        signed_at=_utc(found.signed_at).date(),
    )
    document = appeal_store().store_document(found.id, version.version, pdf)
    log.info(
        "appeal package made appeal_id=%s version=%d document=%d bytes=%d",
        found.id,
        version.version,
        document,
        len(pdf),
    )
    return document


@bp.post("/appeals/<appeal_id>/package")
def package(appeal_id: str) -> Redirect:
    """Make the PDF for fax or portal: the signed letter and its attachments."""
    _same_origin_post()
    found = _appeal_view(appeal_id)
    item = _denial(found.denial_id)
    viewer = _viewer(item)
    try:
        _package(found, item, viewer.key)
    except AppealError as exc:
        _fail("not-now", str(exc), 409)
    return redirect(_appeal_url(appeal_id, viewer.key, "package"), code=303)


@bp.get("/appeals/<appeal_id>/documents/<int:document_id>.pdf")
def document(appeal_id: str, document_id: int) -> Response:
    found = _appeal_view(appeal_id)
    _viewer(_denial(found.denial_id))
    kept = next((d for d in appeal_store().documents(appeal_id) if d.id == document_id), None)
    content = appeal_store().document(document_id) if kept is not None else None
    if kept is None or content is None:
        _fail("not-found", f"appeal {appeal_id}: there is no document {document_id}", 404)
    log.info("appeal package downloaded appeal_id=%s document=%d", appeal_id, document_id)
    response = Response(content, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="appeal-{appeal_id[:8]}-v{kept.version}.pdf"'
    )
    return response


# ---------------------------------------------------------------- the clinician's list


@bp.get("/launch/<key>/appeals")
def patient_appeals(key: str) -> str:
    """The launched patient's appeals, those awaiting the signature first."""
    found = _launched_key(key)
    if found is None:
        raise LaunchError("expired-session", "No launched session in this browser.", 401)
    key, session = found
    appeals = appeal_store().list(patient_ref=f"Patient/{session.patient_id}")
    appeals.sort(key=lambda a: a.status != "draft")
    return render_template(
        "denials/patient_appeals.html",
        key=key,
        session=session,
        appeals=[(a, _denial(a.denial_id)) for a in appeals],
        clinician=clinician_ref(session),
        money=money,
    )


# ---------------------------------------------------------------- dashboard


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    text: str
    y: int
    width: float


BAR_HEIGHT, BAR_GAP, LABEL_WIDTH, CHART_WIDTH = 18, 6, 190, 520


def bars(rows: Iterable[tuple[str, float, str]], maximum: float | None = None) -> list[Bar]:
    """Horizontal bars for an inline SVG: (label, value, text shown beside it) -> geometry,
    widths relative to `maximum` (the largest value when not given)."""
    rows = list(rows)
    top = maximum if maximum is not None else max([v for _l, v, _t in rows] + [0.0])
    span = CHART_WIDTH - LABEL_WIDTH - 90
    out = []
    for i, (label, value, text) in enumerate(rows):
        width = span * (value / top) if top > 0 else 0.0
        out.append(Bar(label, value, text, i * (BAR_HEIGHT + BAR_GAP), round(width, 1)))
    return out


def chart_height(count: int) -> int:
    return max(count, 1) * (BAR_HEIGHT + BAR_GAP)


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _dashboard() -> Dashboard:
    return appeal_store().dashboard(date.today())


def _rate_text(numerator: int, denominator: int, value: float | None) -> str:
    return f"{percent(value)} ({numerator}/{denominator})"


def chart_rows(d: Dashboard) -> dict[str, list[tuple[str, float, str]]]:
    """The dashboard's figures as (label, value, text) rows of its bar charts."""
    return {
        "payer": [
            (
                p.payer_name,
                p.rate.value or 0.0,
                _rate_text(p.rate.numerator, p.rate.denominator, p.rate.value),
            )
            for p in d.by_payer
        ],
        "category": [
            (
                c.category,
                c.rate.value or 0.0,
                _rate_text(c.rate.numerator, c.rate.denominator, c.rate.value),
            )
            for c in d.by_category
        ],
        "deadlines": [
            (BUCKET_LABELS[b.name], float(b.count), f"{b.count} · {money(b.at_stake)} at stake")
            for b in d.open_appeals
        ],
        "outcomes": [
            ("overturned", float(d.overturned), str(d.overturned)),
            ("partial", float(d.partial), str(d.partial)),
            ("upheld", float(d.upheld), str(d.upheld)),
        ],
    }


@bp.get("/denials/dashboard")
def dashboard() -> str:
    _require_billing()
    figures = _dashboard()
    return render_template(
        "denials/dashboard.html",
        d=figures,
        charts=chart_rows(figures),
        bars=bars,
        chart_height=chart_height,
        percent=percent,
        geometry={"bar": BAR_HEIGHT, "label": LABEL_WIDTH, "width": CHART_WIDTH},
        money=money,
    )


@bp.get("/denials/dashboard.json")
def dashboard_json() -> Response:
    _require_billing()
    return jsonify(_dashboard().to_json())


# ---------------------------------------------------------------- refusals


@bp.errorhandler(Problem)
def _problem(problem: Problem) -> Response:
    if request.path.endswith(".json"):
        response = jsonify({"code": problem.code, "description": problem.description})
    else:
        body = render_template(
            "denials/error.html",
            problem=problem,
            sign_in=problem.status == 403
            and problem.code == "forbidden"
            and bool(services().settings.admin_token),
            next_path=request.full_path.rstrip("?") if request.method == "GET" else None,
        )
        response = Response(body, mimetype="text/html")
    response.status_code = problem.status
    return response
