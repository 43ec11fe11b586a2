"""Every error the user can meet, rendered once: a page for people, JSON for /api."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from integration.fhir.errors import (
    FhirError,
    FhirForbidden,
    FhirTimeout,
    FhirUnauthorized,
    FhirUnavailable,
)
from smart_app.oauth import LaunchError

log = logging.getLogger(__name__)

#: kind -> (title, what the user can do)
PAGES: dict[str, tuple[str, str]] = {
    "missing-iss": (
        "Launch from your EHR",
        "Open the patient's chart in the EHR and launch derm-rcm from there, or pick your EHR on the start page.",
    ),
    "unknown-iss": (
        "Unknown EHR",
        "This app is not registered with that EHR. Ask your administrator to add it (setting DERMRCM_ISSUERS).",
    ),
    "discovery-failed": (
        "The EHR did not describe its sign-in",
        "The EHR's SMART configuration could not be read. Try again; if it persists, tell your EHR administrator.",
    ),
    "denied": (
        "Access was not granted",
        "You (or the EHR) declined access. Launch the app again and choose Allow to continue.",
    ),
    "authorization-error": (
        "The EHR refused the sign-in",
        "Launch the app again from the chart. If it happens again, give your administrator the details below.",
    ),
    "bad-callback": ("Sign-in answer incomplete", "Launch the app again from the chart."),
    "expired-session": (
        "Your session has expired",
        "Launch derm-rcm again from the patient's chart.",
    ),
    "no-patient": (
        "No patient selected",
        "Launch derm-rcm from a patient's chart, or pick a patient when asked.",
    ),
    "insufficient-scope": (
        "Not enough access",
        "The EHR granted less access than derm-rcm needs to read the chart. Launch again and allow all requested access, or ask your EHR administrator.",
    ),
    "fhir-unavailable": (
        "The EHR's FHIR server can't be reached",
        "The chart could not be read because the server did not answer. Try again in a few minutes.",
    ),
    "fhir-timeout": (
        "The EHR's FHIR server is too slow",
        "The chart took too long to answer. Try again; if it keeps happening, tell your EHR administrator.",
    ),
    "fhir-bad-response": (
        "The EHR sent something unexpected",
        "The chart could not be read. Give your administrator the details below.",
    ),
    "fhir-http-error": (
        "The EHR's FHIR server returned an error",
        "Try again. If it persists, give your administrator the details below.",
    ),
    "not-found": ("Not found", "That item is not in this chart."),
    "cross-site": (
        "Form from another site ignored",
        "Nothing was changed. Use the buttons on derm-rcm's own pages, launched from the chart.",
    ),
    "clinician-only": (
        "Only a clinician can do that",
        "Attesting and signing are recorded under a clinician's name. Ask the patient's clinician to launch derm-rcm and do it.",
    ),
    "not-now": (
        "Not possible in the case's current state",
        "Nothing was changed. The reason is below; reload the case to see where it stands.",
    ),
    "order-unassessable": (
        "This order can't be checked",
        "derm-rcm could not read what the order asks for (reason below). Complete the order in the EHR, then check again.",
    ),
    "unanswered-questions": (
        "The payer asks what the chart doesn't say",
        "Nothing was sent. Each unanswered question is now a task for its owner on the case: answer them in the chart, or send with unanswered questions allowed.",
    ),
    "payer-unreachable": (
        "The payer could not be reached",
        "Nothing was lost: the attempt is on the case's audit trail and the case is where it was. Send again in a few minutes.",
    ),
    "no-payer-endpoint": (
        "No payer connection configured",
        "Send the signed packet by portal or fax, then record the payer's answer (dermrcm pa decide).",
    ),
    "http-error": ("Request not understood", "Go back and try again."),
    "internal-error": (
        "derm-rcm failed",
        "Something went wrong on our side; it has been logged. Try again, or launch the app again.",
    ),
}


def as_launch_error(error: FhirError) -> LaunchError:
    if isinstance(error, FhirUnavailable):
        return LaunchError("fhir-unavailable", str(error), 502)
    if isinstance(error, FhirTimeout):
        return LaunchError("fhir-timeout", str(error), 504)
    if isinstance(error, FhirUnauthorized):
        return LaunchError("expired-session", str(error), 401)
    if isinstance(error, FhirForbidden):
        return LaunchError("insufficient-scope", str(error), 403)
    return LaunchError(error.kind, str(error), 502)


def render_error(error: LaunchError) -> Response:
    title, advice = PAGES.get(error.kind, ("Something went wrong", "Launch the app again."))
    log.info("error page kind=%s status=%d", error.kind, error.status)
    if request.path.startswith("/api/"):
        response = jsonify({"code": error.kind, "description": error.detail})
    else:
        body = render_template(
            "error.html", kind=error.kind, title=title, advice=advice, detail=error.detail
        )
        response = Response(body, mimetype="text/html")
    response.status_code = error.status
    return response


def _unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        code = error.code or 500
        kind = "not-found" if code == 404 else "http-error"
        return render_error(LaunchError(kind, error.description or error.name, code))
    log.exception("unexpected error on %s", request.url_rule.rule if request.url_rule else "?")
    return render_error(
        LaunchError("internal-error", "derm-rcm failed unexpectedly; the error is logged.", 500)
    )


def register(app: Flask) -> None:
    app.register_error_handler(LaunchError, render_error)
    app.register_error_handler(FhirError, lambda e: render_error(as_launch_error(e)))
    app.register_error_handler(Exception, _unexpected)
