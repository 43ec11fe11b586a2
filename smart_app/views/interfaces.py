"""Screens for an interface engineer: the HL7 v2 inbox, its errors and dead letters, and why.

Who may see them: with `admin_token` set, whoever presents it (`Authorization: Bearer
<token>`, Basic with the token as password, or the cookie POST /interfaces/login sets);
without it, only requests from this machine (loopback, and not relayed by a proxy).

What they show: the envelope of each message (who sent it, what type, what happened) and,
for one message, its structure (segment ids and field counts). Message content, which holds
patient data, is shown only on the message's page after an explicit "show content" click,
and each such view is logged (the message id and the requester's address, never content).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as Redirect

from integration.hl7v2.errors import ErrorCode, Hl7Error
from integration.hl7v2.ingest import decode
from integration.hl7v2.message import Header, parse_message
from integration.settings import Settings
from integration.store.hl7_inbox import STATUSES, InboxRow, get_message, inbox_stats, list_messages
from smart_app.access import StaffCookie, posted_from_another_site
from smart_app.views.context import services

log = logging.getLogger(__name__)

bp = Blueprint("interfaces", __name__, url_prefix="/interfaces")

COOKIE = "dermrcm_interfaces"
STAFF = StaffCookie(COOKIE, "interfaces")
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
#: (status filter, tab label, statuses stored); the filter also takes any single status
TABS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("all", "All", ()),
    ("error", "Errors", ("error",)),
    ("rejected", "Rejected (dead letters)", ("rejected",)),
    ("duplicate", "Duplicates", ("duplicate",)),
)
FILTERS: dict[str, tuple[str, ...]] = {
    "all": (),
    **{status: (status,) for status in STATUSES},
}
#: the counts shown, in order: (key in inbox_stats, label, the status filter it links to)
COUNTS: tuple[tuple[str, str, str], ...] = (
    ("received", "Received", "all"),
    ("processed", "Processed", "processed"),
    ("duplicates", "Duplicates", "duplicate"),
    ("errors", "Errors", "error"),
    ("rejected", "Rejected", "rejected"),
    ("pending", "Pending", "received"),
)
_SEGMENT_AT = re.compile(r"(?:\(segment (\d+)\)|^segment (\d+))")


class Problem(Exception):
    """A refusal or a bad request on these screens: a page for people, JSON for scripts."""

    def __init__(self, code: str, description: str, status: int) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status


def _fail(code: str, description: str, status: int) -> NoReturn:
    raise Problem(code, description, status)


# ---------------------------------------------------------------- access


def _settings() -> Settings:
    return services().settings


def _access() -> str | None:
    """How this request may see the screens (bearer, basic, cookie, loopback), or None."""
    return STAFF.access(_settings())


def _refusal() -> Problem:
    if _settings().admin_token:
        return Problem(
            "forbidden",
            "The interface screens need the admin token (DERMRCM_ADMIN_TOKEN): send "
            "'Authorization: Bearer <token>', or sign in with it below.",
            403,
        )
    return Problem(
        "forbidden",
        "The interface screens are shown only to requests from this machine (loopback, not "
        "through a proxy) while DERMRCM_ADMIN_TOKEN is unset. Set it to reach them from elsewhere.",
        403,
    )


@bp.before_request
def _guard() -> None:
    if request.endpoint in ("interfaces.login", "interfaces.logout"):
        return
    via = _access()
    if via is None:
        rule = request.url_rule.rule if request.url_rule else "?"
        log.warning(
            "interfaces access refused route=%s requester=%s token_set=%s",
            rule,
            request.remote_addr,
            bool(_settings().admin_token),
        )
        raise _refusal()
    g.interfaces_access = via


def _same_origin_post() -> None:
    """CSRF: a form post must come from one of our own pages."""
    if posted_from_another_site():
        _fail("forbidden", "That form was posted from another site.", 403)


def _local_next(value: str | None) -> str:
    """Where to go after signing in: one of these screens, never another site."""
    if value and value.startswith("/interfaces/") and "//" not in value and "\\" not in value:
        return value
    return url_for("interfaces.hl7_inbox")


@bp.post("/login")
def login() -> Redirect:
    """Exchange the admin token (typed into the form) for a cookie for these screens only."""
    _same_origin_post()
    target = _local_next(request.form.get("next"))
    return sign_in(target, url_for("interfaces.hl7_inbox").rsplit("/", 1)[0] or "/")


def sign_in(target: str, path: str) -> Redirect:
    """The admin token of the posted form exchanged for a cookie valid under `path` (the staff
    screens that share this check: /interfaces, /coding), then on to `target`; with no token
    set, loopback goes straight on."""
    outcome = STAFF.sign_in(_settings(), target, path)
    if outcome == "remote":
        raise _refusal()
    if outcome == "wrong-token":
        log.warning("staff sign-in refused path=%s requester=%s", path, request.remote_addr)
        _fail("forbidden", "That is not the admin token. Check DERMRCM_ADMIN_TOKEN.", 403)
    assert not isinstance(outcome, str)
    log.info("staff sign-in path=%s requester=%s", path, request.remote_addr)
    return outcome


@bp.post("/logout")
def logout() -> Redirect:
    _same_origin_post()
    response = redirect(url_for("interfaces.hl7_inbox"), code=303)
    response.delete_cookie(
        COOKIE,
        path=url_for("interfaces.hl7_inbox").rsplit("/", 1)[0] or "/",
        secure=_settings().secure_cookies,
        httponly=True,
        samesite="Strict",
    )
    return response


# ---------------------------------------------------------------- the inbox


@contextmanager
def _session() -> Iterator[Session]:
    engine = current_app.extensions["dermrcm.engine"]
    assert isinstance(engine, Engine)
    with Session(engine) as session:
        yield session


@dataclass(frozen=True, slots=True)
class InboxPage:
    status: str
    limit: int
    before_id: int | None
    counts: dict[str, int]
    rows: list[InboxRow]
    next_before_id: int | None


def _int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        _fail(
            "bad-request",
            f"{name}: expected a whole number from {low} to {high}, got {raw[:20]!r}",
            400,
        )
    return int(raw)


def _inbox() -> InboxPage:
    status = request.args.get("status") or "all"
    if status not in FILTERS:
        _fail(
            "bad-request",
            f"status: expected one of {', '.join(FILTERS)}, got {status[:20]!r}",
            400,
        )
    limit = _int_arg("limit", PAGE_SIZE, 1, MAX_PAGE_SIZE) or PAGE_SIZE
    before_id = _int_arg("before_id", None, 1, 2**63 - 1)
    with _session() as session:
        counts = inbox_stats(session)
        rows = list_messages(session, FILTERS[status], limit + 1, before_id)
    more = len(rows) > limit
    rows = rows[:limit]
    return InboxPage(status, limit, before_id, counts, rows, rows[-1].id if more and rows else None)


def _utc(value: datetime) -> datetime:
    # SQLite gives back naive datetimes; the store writes UTC
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def when(value: datetime) -> str:
    return _utc(value).strftime("%Y-%m-%d %H:%M:%S")


def iso(value: datetime) -> str:
    return _utc(value).isoformat()


def code_text(code: str | None) -> str:
    """HL7 table 0357's name for an error code ('' for none or a code we don't know)."""
    if not code:
        return ""
    try:
        return ErrorCode(code).text
    except ValueError:
        return ""


def _row_json(row: InboxRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "received_at": iso(row.received_at),
        "peer": row.peer,
        "sender": row.sender,
        "message_type": row.message_type,
        "control_id": row.control_id,
        "version": row.version,
        "status": row.status,
        "ack_code": row.ack_code,
        "error_code": row.error_code,
        "error_name": code_text(row.error_code) or None,
        "error": row.error,
        "attempts": row.attempts,
        "size": row.size,
        "url": url_for("interfaces.hl7_message", message_id=row.id),
    }


@bp.get("/hl7")
def hl7_inbox() -> str:
    """Counts and the latest messages (envelopes only: no message content here)."""
    page = _inbox()
    return render_template(
        "interfaces_inbox.html",
        page=page,
        limit=page.limit if page.limit != PAGE_SIZE else None,  # kept in links when not default
        tabs=TABS,
        count_labels=COUNTS,
        when=when,
        iso=iso,
        code_text=code_text,
        access=g.get("interfaces_access"),
    )


@bp.get("/hl7.json")
def hl7_json() -> Response:
    """The same counts and rows for scripts; `next_before_id` pages on."""
    page = _inbox()
    return jsonify(
        {
            "counts": page.counts,
            "status": page.status,
            "limit": page.limit,
            "before_id": page.before_id,
            "messages": [_row_json(row) for row in page.rows],
            "next_before_id": page.next_before_id,
        }
    )


# ---------------------------------------------------------------- one message


@dataclass(frozen=True, slots=True)
class SegmentShape:
    index: int
    id: str
    fields: int


@dataclass(frozen=True, slots=True)
class Structure:
    segments: list[SegmentShape]
    header: Header | None
    error: str | None  # why the message could not be split, when it could not


def _structure(text: str) -> Structure:
    try:
        message = parse_message(text)
    except Hl7Error as exc:
        return Structure([], None, exc.message)
    segments = [SegmentShape(s.index, s.id, s.field_count()) for s in message.segments]
    try:
        header: Header | None = message.header
    except Hl7Error as exc:
        return Structure(segments, None, exc.message)
    return Structure(segments, header, None)


def _error_segment(error: str | None) -> int | None:
    """The segment a located error points at (`PID-7 (segment 3): ...` -> 3)."""
    match = _SEGMENT_AT.search(error or "")
    if not match:
        return None
    return int(match.group(1) or match.group(2))


@bp.get("/hl7/<int:message_id>")
def hl7_message(message_id: int) -> str:
    """One message's envelope, its error and its structure; its content only when asked."""
    with _session() as session:
        found = get_message(session, message_id)
    if found is None:
        _fail("not-found", f"There is no HL7 message {message_id} in the inbox.", 404)
    row, raw = found
    text, charset = decode(raw)
    show = request.args.get("content") == "1"
    if show:
        # who looked at which message's patient data; never the content itself
        log.info(
            "hl7 message content shown message_id=%d requester=%s via=%s",
            row.id,
            request.remote_addr,
            g.get("interfaces_access"),
        )
    return render_template(
        "interfaces_message.html",
        row=row,
        charset=charset,
        structure=_structure(text),
        error_segment=_error_segment(row.error),
        content=text.replace("\r\n", "\n").replace("\r", "\n") if show else None,
        when=when,
        iso=iso,
        code_text=code_text,
        access=g.get("interfaces_access"),
    )


# ---------------------------------------------------------------- refusals


@bp.errorhandler(Problem)
def _problem(problem: Problem) -> Response:
    if request.endpoint == "interfaces.hl7_json":
        response = jsonify({"code": problem.code, "description": problem.description})
    else:
        body = render_template(
            "interfaces_error.html",
            problem=problem,
            sign_in=problem.status == 403 and bool(_settings().admin_token),
            next_path=request.full_path.rstrip("?") if request.method == "GET" else None,
        )
        response = Response(body, mimetype="text/html")
    response.status_code = problem.status
    return response
