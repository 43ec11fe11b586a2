"""The EHR side a person clicks: the patient list, "Launch app", the app in an EHR frame."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import flask
from flask import Blueprint, Response, redirect, render_template, request
from werkzeug.wrappers import Response as WerkzeugResponse

from integration.sandbox.config import SandboxClient
from integration.sandbox.display import human_name, patient_row
from integration.sandbox.outcome import FhirError
from integration.sandbox.state import Sandbox

log = logging.getLogger(__name__)

SMART_STYLE = {
    "color_background": "#f4f6f8",
    "color_error": "#b00020",
    "color_highlight": "#1f6feb",
    "color_modal_backdrop": "rgba(0, 0, 0, 0.4)",
    "color_success": "#1a7f37",
    "color_text": "#1f2328",
    "dim_border_radius": "4px",
    "dim_font_size": "14px",
    "dim_spacing_size": "16px",
    "font_family_body": "system-ui, sans-serif",
    "font_family_heading": "system-ui, sans-serif",
}


def ehr_blueprint(sandbox: Sandbox) -> Blueprint:
    bp = Blueprint("sandbox_ehr", __name__)
    store = sandbox.store
    config = sandbox.config

    def launchable() -> list[SandboxClient]:
        return [c for c in config.clients if c.launch_url]

    @bp.get("/")
    def patient_list() -> Response:
        rows = [patient_row(store, p) for p in store.patients()]
        practitioner = store.get("Practitioner", store.user_practitioner_id())
        return _html(
            render_template(
                "sandbox/patients.html",
                rows=rows,
                clients=launchable(),
                fhir_base=sandbox.fhir_base,
                auth_enabled=config.auth_enabled,
                resource_count=len(store),
                user=human_name(practitioner.body) if practitioner else "sandbox user",
            )
        )

    def new_launch_url() -> tuple[SandboxClient, str, str]:
        """(client, patient id, the app's launch URL with iss and a fresh launch token)."""
        client_id = request.values.get("client_id", "")
        patient_id = request.values.get("patient", "")
        client = config.client(client_id)
        if client is None or not client.launch_url:
            known = ", ".join(c.client_id for c in launchable()) or "none"
            raise FhirError(
                400,
                "invalid",
                f"client_id: expected a client with a launch URL ({known}), got {client_id!r}",
            )
        if store.get("Patient", patient_id) is None:
            raise FhirError(404, "not-found", f"patient: Patient/{patient_id} is not in the data")
        token = sandbox.tokens.create_launch(
            client.client_id, patient_id, store.latest_encounter_id(patient_id)
        )
        log.info("launch client=%s patient=%s", client.client_id, patient_id)
        url = _with_params(client.launch_url, [("iss", sandbox.fhir_base), ("launch", token)])
        return client, patient_id, url

    @bp.post("/launch")
    def launch() -> WerkzeugResponse:
        _, _, url = new_launch_url()
        return redirect(url, code=303)

    @bp.get("/ehr-frame")
    def ehr_frame() -> Response:
        client, patient_id, url = new_launch_url()
        patient = store.get("Patient", patient_id)
        return _html(
            render_template(
                "sandbox/ehr_frame.html",
                app_url=url,
                client_id=client.client_id,
                row=patient_row(store, patient) if patient else None,
            )
        )

    @bp.get("/smart-style.json")
    def smart_style() -> Response:
        response = flask.jsonify(SMART_STYLE)
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    return bp


def _with_params(url: str, params: list[tuple[str, str]]) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _html(body: str, status: int = 200) -> Response:
    return Response(body, status=status, content_type="text/html; charset=utf-8")
