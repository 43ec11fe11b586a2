"""`create_sandbox_app`: the sandbox EHR as one Flask app (FHIR, SMART authorization, EHR pages)."""

from __future__ import annotations

import logging
import time

import flask
from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from integration.sandbox.auth_views import auth_blueprint
from integration.sandbox.clearinghouse import clearinghouse_blueprint
from integration.sandbox.config import SandboxConfig
from integration.sandbox.ehr_views import ehr_blueprint
from integration.sandbox.fhir_api import fhir_blueprint
from integration.sandbox.oauth import SandboxAuthorizationServer
from integration.sandbox.outcome import FhirError, issue, operation_outcome
from integration.sandbox.outcome import fhir_response as _fhir_response
from integration.sandbox.payer_api import payer_blueprint
from integration.sandbox.payer_rules import default_decisions
from integration.sandbox.state import Sandbox
from integration.sandbox.store import load_store
from integration.sandbox.tokens import IdTokenSigner, TokenStore

log = logging.getLogger(__name__)

_HTTP_ISSUE_CODES = {404: "not-found", 405: "not-supported", 413: "too-costly"}


class _ResourceTypeConverter(BaseConverter):
    regex = r"[A-Z][A-Za-z]{1,63}"


class _ResourceIdConverter(BaseConverter):
    regex = r"[A-Za-z0-9\-.]{1,64}"


def create_sandbox_app(config: SandboxConfig) -> Flask:
    """Load the data folder and build the app; nothing is served until a server runs it."""
    sandbox = Sandbox(
        config=config,
        store=load_store(config.data_dir),
        tokens=TokenStore(
            launch_lifetime=config.launch_token_lifetime,
            opaque_launches=config.opaque_launch_tokens,
        ),
        signer=IdTokenSigner(),
    )
    app = Flask(__name__)
    app.url_map.converters["ftype"] = _ResourceTypeConverter
    app.url_map.converters["fid"] = _ResourceIdConverter
    app.extensions["dermrcm_sandbox"] = sandbox
    server = SandboxAuthorizationServer(app, sandbox)
    app.register_blueprint(fhir_blueprint(sandbox), url_prefix=config.fhir_path or None)
    app.register_blueprint(auth_blueprint(sandbox, server))
    app.register_blueprint(ehr_blueprint(sandbox))
    app.register_blueprint(payer_blueprint(default_decisions()))
    app.register_blueprint(clearinghouse_blueprint(), url_prefix="/clearinghouse")

    @app.errorhandler(FhirError)
    def fhir_error(error: FhirError) -> Response:
        return error.to_response()

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        where = f"{request.method} {request.path}"
        if status == 405:
            what = "method not allowed; this sandbox is read-only"
        elif status >= 500:
            what = "internal error in the sandbox; the server log has the traceback"
        else:
            what = error.description or error.name
        response = _fhir_response(
            operation_outcome(
                [issue("error", _HTTP_ISSUE_CODES.get(status, "exception"), f"{where}: {what}")]
            ),
            status,
        )
        if status == 405 and isinstance(error, HTTPException):
            allowed = error.get_headers()
            for name, value in allowed:
                if name.lower() == "allow":
                    response.headers["Allow"] = value
        return response

    @app.before_request
    def start_clock() -> None:
        g.sandbox_started = time.perf_counter()

    @app.after_request
    def finish(response: Response) -> Response:
        if response.mimetype != "text/html" or request.method == "OPTIONS":
            response.headers.setdefault("Access-Control-Allow-Origin", "*")
            if request.method == "OPTIONS":
                response.headers["Access-Control-Allow-Headers"] = (
                    "Authorization, Content-Type, Accept"
                )
                response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        started = g.get("sandbox_started")
        elapsed = (time.perf_counter() - started) * 1000 if started is not None else 0.0
        # the path only: query strings can hold identifiers, codes and launch tokens
        log.info(
            "request method=%s path=%s status=%d duration_ms=%.1f",
            request.method,
            request.path,
            response.status_code,
            elapsed,
        )
        return response

    return app


def sandbox_of(app: flask.Flask) -> Sandbox:
    """The Sandbox behind an app made by create_sandbox_app (for tests and tools)."""
    sandbox = app.extensions.get("dermrcm_sandbox")
    if not isinstance(sandbox, Sandbox):
        raise TypeError("sandbox_of: this app was not made by create_sandbox_app")
    return sandbox
