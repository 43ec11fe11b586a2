"""The evidence screen, its JSON, the source of each fact, and photos."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, request

from integration.domain.evidence import MEASURE_KEYS
from integration.fhir.errors import FhirHttpError
from smart_app.charts import timeline, trend
from smart_app.oauth import LaunchError
from smart_app.views.context import launched, services

bp = Blueprint("evidence", __name__)

_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def _check_ref(type_name: str, resource_id: str, version: str | None = None) -> None:
    if (
        not _TYPE.match(type_name)
        or not _ID.match(resource_id)
        or (version and not _ID.match(version))
    ):
        raise LaunchError("not-found", f"{type_name}/{resource_id}: not a FHIR reference", 404)


@bp.get("/evidence/<key>")
def screen(key: str) -> str:
    key, session = launched(key)
    result = services().evidence(session)
    evidence = result.evidence
    as_of = date.fromisoformat(evidence.as_of)
    trends = {k: trend(evidence.measures.get(k, ())) for k in MEASURE_KEYS}
    return render_template(
        "evidence.html",
        key=key,
        session=session,
        ev=evidence,
        trends=trends,
        timeline=timeline(evidence.therapies, as_of),
        fetch=result.fetch,
        source_base=f"{request.script_root}/source/{key}",
    )


@bp.get("/api/evidence")
def api_evidence() -> Response:
    """ClinicalEvidence JSON for the launched session (?key= picks one of several tabs)."""
    _key, session = launched(request.args.get("key"))
    result = services().evidence(session)
    body = result.evidence.to_json()
    return jsonify(body)


def _read(
    key: str, type_name: str, resource_id: str, version: str | None
) -> tuple[str, dict[str, Any]]:
    _check_ref(type_name, resource_id, version)
    key, session = launched(key)
    try:
        body = services().read_resource(session, type_name, resource_id, version)
    except FhirHttpError as exc:
        if exc.status in (404, 410):
            raise LaunchError("not-found", f"{type_name}/{resource_id}: {exc}", 404) from None
        raise
    return key, body


@bp.get("/source/<key>/<type_name>/<resource_id>")
@bp.get("/source/<key>/<type_name>/<resource_id>/_history/<version>")
def source(key: str, type_name: str, resource_id: str, version: str | None = None) -> str:
    key, body = _read(key, type_name, resource_id, version)
    shown = _without_binary(body)
    return render_template(
        "source.html",
        key=key,
        reference=f"{type_name}/{resource_id}" + (f"/_history/{version}" if version else ""),
        pretty=json.dumps(shown, indent=2, ensure_ascii=False),
    )


def _without_binary(value: Any) -> Any:
    """Attachment data shortened for display (the photo is shown by /photo)."""
    if isinstance(value, dict):
        return {
            k: (
                f"<{len(v)} base64 characters>"
                if k == "data" and isinstance(v, str) and len(v) > 120
                else _without_binary(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_without_binary(v) for v in value]
    return value


def _attachment(body: dict[str, Any]) -> dict[str, Any] | None:
    if body.get("resourceType") == "Media":
        content = body.get("content")
        return content if isinstance(content, dict) else None
    for item in body.get("content") or []:
        attachment = item.get("attachment") or {}
        if str(attachment.get("contentType", "")).startswith("image/"):
            return dict(attachment)
    return None


@bp.get("/photo/<key>/<type_name>/<resource_id>")
def photo(key: str, type_name: str, resource_id: str) -> Response:
    if type_name not in ("Media", "DocumentReference"):
        abort(404)
    key, body = _read(key, type_name, resource_id, None)
    attachment = _attachment(body)
    if attachment is None:
        abort(404)
    content_type = str(attachment.get("contentType", "application/octet-stream"))
    data = attachment.get("data")
    if not data and str(attachment.get("url", "")).startswith("Binary/"):
        binary_id = str(attachment["url"]).split("/", 1)[1]
        _key, binary = _read(key, "Binary", binary_id, None)
        data = binary.get("data")
        content_type = str(binary.get("contentType", content_type))
    if not data or not content_type.startswith("image/"):
        abort(404)
    try:
        raw = base64.b64decode(str(data), validate=True)
    except (binascii.Error, ValueError):
        abort(404)
    response = Response(raw, mimetype=content_type)
    response.headers["Cache-Control"] = "private, max-age=300"
    return response
