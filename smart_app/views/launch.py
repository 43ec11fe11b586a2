"""EHR launch (/launch), standalone launch (/), the OAuth callback and sign-out."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from smart_app.views.context import forget, remember, services

bp = Blueprint("launch", __name__)


@bp.get("/")
def start() -> str:
    """Standalone launch (ModMed EMA links apps this way): pick the EHR, then a patient there."""
    return render_template("start.html", issuers=sorted(services().issuers()))


@bp.get("/launch")
def launch() -> Response:
    url = services().start_launch(request.args.get("iss"), request.args.get("launch"))
    return redirect(url, code=302)


@bp.get("/callback")
def callback() -> Response:
    launched = services().complete_launch(request.args.to_dict())
    key = remember(launched)
    return redirect(url_for("evidence.screen", key=key), code=303)


@bp.post("/signout/<key>")
def sign_out(key: str) -> Response:
    session_id = forget(key)
    if session_id:
        services().store.end(session_id)
    return redirect(url_for("launch.start"), code=303)
