"""The claim scrubber for coders: `POST /api/scrub` and the screen /coding/scrub.

`POST /api/scrub` takes what `dermrcm scrub` takes for one document (a scrub request, or an 837P
as `dermrcm x12 parse` prints it) as `application/json` and answers the result JSON
(fhir_profiles/scrub-result.schema.json; `{"results": [...]}` when an 837P holds several
claims), or 400 `{"code": "bad-request", "description": "<where>: <what>"}`.

/coding/scrub: a coder pastes or uploads one claim, sees each finding (severity, rule, message,
lines, the source with its link, the fix) and the corrected lines beside the lines as billed,
and accepts or rejects each proposed fix. Applying the decisions scrubs the claim again and
builds the final claim: the corrected claim, except that every line a rejected fix touched is
put back as billed (with any line that fix added taken off again), and a rejected fix of the
claim as a whole (no lines) puts the diagnoses back as billed. The page lists the decisions and
shows the final claim's JSON to copy; nothing is stored.

The scrubber is loaded once per app, with the NCCI/MUE tables of the app's database
(`dermrcm refdata import-ncci` / `import-mue`); re-importing needs an app restart.

Claims hold patient data, so these routes are for the same people as the interface screens:
the admin token (`Authorization: Bearer`), or, with no token set, requests from this machine.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response as Redirect

from integration.coding.engine import Scrubber
from integration.coding.model import (
    Finding,
    ScrubRequest,
    ScrubResult,
    SelfPayLine,
    claim_json,
    corrected_claim,
    request_to_json,
)
from integration.coding.scrub_cli import items_from_document
from integration.x12.t837_005010x222a1 import Claim
from smart_app.views import interfaces
from smart_app.views.context import services

log = logging.getLogger(__name__)

bp = Blueprint("coding", __name__)

MAX_CLAIM_BYTES = 2 * 1024 * 1024


def _scrubber() -> Scrubber:
    """The app's scrubber, loaded on first use: mappings/ and the NCCI/MUE tables imported into
    the app's own database (tests may put one in app.extensions["dermrcm.scrubber"])."""
    found = current_app.extensions.get("dermrcm.scrubber")
    if isinstance(found, Scrubber):
        return found
    from integration.coding.reference import load_reference

    loaded = Scrubber.load(reference=load_reference(current_app.extensions["dermrcm.engine"]))
    current_app.extensions["dermrcm.scrubber"] = loaded
    return loaded


@bp.post("/coding/login")
def login() -> Redirect:
    """The admin token for a cookie valid for the coding screens (like /interfaces/login)."""
    interfaces._same_origin_post()
    return interfaces.sign_in(url_for("coding.scrub_form"), "/coding")


def _guard() -> None:
    if interfaces._access() is None:
        log.warning("coding access refused requester=%s", request.remote_addr)
        problem = interfaces._refusal()
        problem.description = problem.description.replace("interface screens", "coding screens")
        raise problem


class BadClaim(ValueError):
    """Input the scrubber cannot read, with where and what."""


def _requests(data: Any) -> list[ScrubRequest]:
    try:
        items = items_from_document(data, "")
    except ValueError as exc:
        raise BadClaim(str(exc)) from exc
    return [item.request for item in items]


# ---------------------------------------------------------------- the API


@bp.post("/api/scrub")
def api_scrub() -> tuple[Response, int] | Response:
    """One claim in, its findings and corrected claim out."""
    _guard()

    def bad(description: str) -> tuple[Response, int]:
        return jsonify({"code": "bad-request", "description": description}), 400

    if not request.is_json:
        return bad("Content-Type: expected application/json, got " + repr(request.content_type))
    if (request.content_length or 0) > MAX_CLAIM_BYTES:
        return bad(f"body: expected at most {MAX_CLAIM_BYTES} bytes")
    try:
        data = json.loads(request.get_data(as_text=True))
    except json.JSONDecodeError as exc:
        return bad(f"body: expected JSON, got {exc.msg} at line {exc.lineno} column {exc.colno}")
    try:
        requests = _requests(data)
    except BadClaim as exc:
        return bad(str(exc))
    if not requests:
        return bad("$: expected a claim, got none")
    scrub = _scrubber()
    results = [scrub.scrub(r).to_json() for r in requests]
    return jsonify(results[0] if len(results) == 1 else {"results": results})


# ---------------------------------------------------------------- decisions


@dataclass(frozen=True, slots=True)
class FinalClaim:
    claim: Claim
    self_pay: tuple[SelfPayLine, ...]  # the moves to self-pay the coder kept


def final_claim(scrub: Scrubber, req: ScrubRequest, rejected: set[int]) -> FinalClaim:
    """The corrected claim with the fixes of the findings numbered in `rejected` (positions in
    the result's findings) undone: each line they touched back as billed (a rejected move to
    self-pay puts the line back on the claim), any line added after it taken off; a rejected fix
    with no lines puts the diagnoses back as billed."""
    work = scrub.work(req)
    chosen = [f for i, f in enumerate(work.findings) if i in rejected and f.fix is not None]
    restore = {n for f in chosen for n in f.lines}
    if any(not f.lines for f in chosen):
        work.diagnoses = [d.code for d in req.claim.diagnoses]
    group: int | None = None
    for line in work.lines:
        if line.origin is not None:
            group = line.origin
        if group not in restore:
            continue
        if line.origin is None:  # a line a rule added next to a restored one
            line.removed = True
            continue
        template = line.source_line
        assert template is not None
        line.code = template.procedure.code
        line.modifiers = list(template.procedure.modifiers)
        line.units = template.quantity
        line.charge = template.charge
        line.pointers = template.pointers
        line.removed = line.self_pay = False
    claim = corrected_claim(work)
    if any(not f.lines for f in chosen):
        claim = replace(claim, diagnoses=req.claim.diagnoses)
    return FinalClaim(claim, scrub.self_pay(work))


# ---------------------------------------------------------------- the screen


@dataclass(frozen=True, slots=True)
class LineView:
    number: int
    code: str
    units: str
    charge: str
    pointers: str
    date: str


def _lines(claim: Claim) -> list[LineView]:
    return [
        LineView(
            number=s.line_number,
            code="-".join([s.procedure.code, *s.procedure.modifiers]),
            units=format(s.quantity, "f"),
            charge=format(s.charge, "f"),
            pointers=", ".join(
                claim.diagnoses[p - 1].code for p in s.pointers if 0 < p <= len(claim.diagnoses)
            ),
            date=s.service_date.start.isoformat() if s.service_date else "",
        )
        for s in claim.services
    ]


def _page(
    *,
    text: str = "",
    error: str | None = None,
    req: ScrubRequest | None = None,
    result: ScrubResult | None = None,
    decisions: dict[int, str] | None = None,
    final: FinalClaim | None = None,
    status: int = 200,
) -> tuple[str, int]:
    findings: list[tuple[int, Finding]] = list(enumerate(result.findings)) if result else []
    body = render_template(
        "coding/scrub.html",
        text=text,
        error=error,
        request_json=json.dumps(request_to_json(req)) if req else "",
        result=result,
        findings=findings,
        original=_lines(req.claim) if req else [],
        corrected=_lines(result.corrected) if result else [],
        decisions=decisions,
        final=_lines(final.claim) if final else [],
        final_self_pay=final.self_pay if final else (),
        final_json=json.dumps(claim_json(final.claim), indent=2) if final else "",
        final_total=format(final.claim.total_charge, "f") if final else "",
    )
    return body, status


@bp.get("/coding/scrub")
def scrub_form() -> tuple[str, int]:
    _guard()
    return _page()


def _posted_text() -> str:
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        raw: bytes = upload.read(MAX_CLAIM_BYTES + 1)
        if len(raw) > MAX_CLAIM_BYTES:
            raise BadClaim(f"file: expected at most {MAX_CLAIM_BYTES} bytes")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadClaim(
                f"file: expected UTF-8 text, got byte {exc.object[exc.start]:#x} at {exc.start}"
            ) from None
    return str(request.form.get("claim", ""))


def _one_request(text: str) -> ScrubRequest:
    if not text.strip():
        raise BadClaim("claim: expected a claim's JSON, got nothing")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadClaim(
            f"claim: expected JSON, got {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    requests = _requests(data)
    if len(requests) != 1:
        raise BadClaim(
            f"claim: expected one claim, got {len(requests)} (scrub batches with dermrcm scrub)"
        )
    return requests[0]


@bp.post("/coding/scrub")
def scrub_screen() -> tuple[str, int]:
    """Scrub the pasted or uploaded claim and show what was found."""
    _guard()
    interfaces._same_origin_post()
    text = ""
    try:
        text = _posted_text()
        req = _one_request(text)
    except BadClaim as exc:
        return _page(text=text, error=str(exc), status=400)
    except RequestEntityTooLarge:
        return _page(error=f"file: expected at most {MAX_CLAIM_BYTES} bytes", status=400)
    result = _scrubber().scrub(req)
    log.info(
        "coding scrub findings=%d errors=%d lines=%d",
        len(result.findings),
        result.errors,
        len(req.claim.services),
    )
    return _page(text=text, req=req, result=result)


@bp.post("/coding/scrub/decide")
def decide() -> tuple[str, int]:
    """Apply the coder's accept / reject of each fix: the final claim to copy."""
    _guard()
    interfaces._same_origin_post()
    text = request.form.get("claim", "")
    try:
        req = _one_request(request.form.get("request", ""))
    except BadClaim as exc:
        return _page(text=text, error=str(exc), status=400)
    scrub = _scrubber()
    result = scrub.scrub(req)
    decisions = {
        i: ("rejected" if request.form.get(f"fix-{i}") == "reject" else "accepted")
        for i, f in enumerate(result.findings)
        if f.fix is not None
    }
    rejected = {i for i, d in decisions.items() if d == "rejected"}
    final = final_claim(scrub, req, rejected)
    log.info("coding decisions fixes=%d rejected=%d", len(decisions), len(rejected))
    return _page(text=text, req=req, result=result, decisions=decisions, final=final)


@bp.errorhandler(interfaces.Problem)
def _problem(problem: interfaces.Problem) -> Response:
    if request.path.startswith("/api/"):
        response = jsonify({"code": problem.code, "description": problem.description})
    else:
        body = render_template(
            "coding/error.html",
            problem=problem,
            sign_in=problem.status == 403 and bool(services().settings.admin_token),
        )
        response = Response(body, mimetype="text/html")
    response.status_code = problem.status
    return response
