"""create_app(): the SMART app and its API, built from one Settings object."""

from __future__ import annotations

import logging
import time
from decimal import Decimal

from flask import Flask, Response, g, request

from integration.api import cds_hooks
from integration.appeals.polish import PolishSettings
from integration.mapping.evidence_maps import load_evidence_maps
from integration.paths import project_root
from integration.settings import Settings
from integration.store.database import make_engine, session_factory
from integration.store.feed_chart import FeedCharts
from integration.store.pa_cases import PaCaseStore
from integration.store.pa_reviews import PaReviewStore
from integration.store.pa_submissions import PaSubmissionStore
from integration.store.secrets import TokenCipher, load_or_create_secret
from integration.store.smart_sessions import SmartSessionStore
from smart_app import errors
from smart_app.services import AppServices
from smart_app.views import coding, denials, evidence, interfaces, launch, priorauth

log = logging.getLogger(__name__)


def _number(value: object) -> str:
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    return str(value)


def warm_up() -> None:
    """Build the FHIR model classes once, so the first launch doesn't pay for it."""
    from fhir.resources.R4B import get_fhir_model_class

    from integration.fhir.chart_reader import CHART_SEARCHES

    for type_name in ["Patient", "Organization", "Medication", *CHART_SEARCHES]:
        get_fhir_model_class(type_name).model_json_schema()


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings()
    app = Flask(__name__)
    secret = settings.secret_key or load_or_create_secret(project_root() / "var" / "secret_key")
    secure = settings.secure_cookies
    app.config.update(
        SECRET_KEY=secret,
        SESSION_COOKIE_NAME="dermrcm",
        SESSION_COOKIE_HTTPONLY=True,
        # Inside an EHR iframe the app is a third party: over https the cookie must be
        # SameSite=None; Secure (and Partitioned for Chrome's third-party cookie rules).
        SESSION_COOKIE_SAMESITE="None" if secure else "Lax",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_PARTITIONED=secure,
    )
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    store = SmartSessionStore(sessions, TokenCipher(secret))
    services = AppServices(settings, store, load_evidence_maps(), FeedCharts(sessions))
    app.extensions["dermrcm"] = services
    app.extensions["dermrcm.engine"] = engine
    app.extensions["dermrcm.pa_cases"] = PaCaseStore(sessions)
    # the rule library is loaded on the first PA request, not here (it takes a second)
    app.extensions["dermrcm.pa_reviews"] = PaReviewStore(sessions, lambda: services.pa_references)
    app.extensions["dermrcm.pa_submissions"] = PaSubmissionStore(sessions)
    app.extensions["dermrcm.appeals.polish"] = PolishSettings.from_settings(settings)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.jinja_env.filters["num"] = _number
    errors.register(app)
    app.register_blueprint(launch.bp)
    app.register_blueprint(evidence.bp)
    app.register_blueprint(interfaces.bp)
    app.register_blueprint(priorauth.bp)
    app.register_blueprint(coding.bp)
    app.register_blueprint(denials.bp)
    app.register_blueprint(cds_hooks.create_blueprint(settings, services.maps))
    ancestors = " ".join(["'self'", *services.frame_ancestors()])

    @app.before_request
    def _started() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _headers(response: Response) -> Response:
        # the route pattern, never its values: no patient ids, launch tokens or codes in logs
        rule = request.url_rule.rule if request.url_rule else "(no route)"
        elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        log.info(
            "request method=%s route=%s status=%d ms=%.1f",
            request.method,
            rule,
            response.status_code,
            elapsed,
        )
        response.headers.setdefault("Content-Security-Policy", f"frame-ancestors {ancestors}")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if not response.headers.get("Cache-Control"):
            response.headers["Cache-Control"] = "no-store"
        return response

    logging.getLogger("integration").setLevel(settings.log_level)
    logging.getLogger("smart_app").setLevel(settings.log_level)
    return app


def serve_app() -> Flask:
    """For gunicorn (`gunicorn 'smart_app.app:serve_app()'`): settings from the environment."""
    app = create_app()
    warm_up()
    return app
