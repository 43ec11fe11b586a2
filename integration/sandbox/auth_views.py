"""`/oauth2/authorize` (SMART checks, patient picker, consent), `/oauth2/token`, `/oauth2/jwks`.

The authorize step is plain server-rendered HTML with stable element ids (`#allow`, `#deny`,
`#patient-<id>`) so browser tests can click through it. The picker and consent forms post back
to `/oauth2/authorize` with the original request as hidden fields and their own fields named
`sandbox_*`, so authlib validates the same request at every step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import flask
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error
from flask import Blueprint, Response, render_template, request
from werkzeug.datastructures import MultiDict

from integration.sandbox.display import human_name, patient_row
from integration.sandbox.oauth import SandboxAuthorizationServer
from integration.sandbox.scopes import unknown_scopes
from integration.sandbox.state import Sandbox
from integration.sandbox.tokens import GrantContext, LaunchError

log = logging.getLogger(__name__)

# RFC 6749 limits error_description to these characters.
_OAUTH_TEXT = {chr(c) for c in (0x20, 0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F))}


@dataclass(frozen=True, slots=True)
class _LaunchDecision:
    kind: str
    """"ehr", "standalone-patient" (the user picks a patient) or "standalone"."""
    patient_id: str | None
    encounter_id: str | None

    @property
    def need_patient_banner(self) -> bool:
        return self.kind != "ehr"  # Epic shows its own banner around an EHR-launched app


def auth_blueprint(sandbox: Sandbox, server: SandboxAuthorizationServer) -> Blueprint:
    bp = Blueprint("sandbox_auth", __name__)
    store = sandbox.store
    config = sandbox.config

    @bp.route("/oauth2/authorize", methods=["GET", "POST"])
    def authorize() -> Response:
        try:
            grant = server.get_consent_grant(end_user=None)
        except OAuth2Error as error:
            if error.redirect_uri:
                return _as_response(server.handle_error_response(None, error))
            return _error_page(error.error, error.description or "", 400)
        values = request.values
        requested: list[str] = (grant.request.scope or "").split()
        try:
            launch = _launch_decision(sandbox, values, requested, grant.client.get_client_id())
        except OAuth2Error as error:
            error.redirect_uri = grant.redirect_uri
            error.state = values.get("state")
            return _as_response(server.handle_error_response(grant.request, error))
        hidden = [(k, v) for k, v in values.items(multi=True) if not k.startswith("sandbox_")]
        if launch.kind == "standalone-patient":
            chosen = values.get("sandbox_patient")
            if chosen is None or store.get("Patient", chosen) is None:
                rows = [patient_row(store, p) for p in store.patients()]
                problem = f"No patient with id {chosen!r}." if chosen is not None else None
                return _html(
                    render_template(
                        "sandbox/picker.html",
                        hidden=hidden,
                        rows=rows,
                        client_id=grant.client.get_client_id(),
                        problem=problem,
                        user=_user_name(sandbox),
                    ),
                    400 if problem else 200,
                )
            encounter = (
                store.latest_encounter_id(chosen) if "launch/encounter" in requested else None
            )
            launch = _LaunchDecision("standalone-patient", chosen, encounter)
        deciding = request.method == "POST" and "sandbox_decision" in values
        if not deciding and not config.auto_approve:
            patient = store.get("Patient", launch.patient_id) if launch.patient_id else None
            return _html(
                render_template(
                    "sandbox/consent.html",
                    hidden=hidden,
                    client_id=grant.client.get_client_id(),
                    scopes=requested,
                    dropped=unknown_scopes(values.get("scope")),
                    patient_name=human_name(patient.body) if patient else None,
                    patient_id=launch.patient_id,
                    chosen_patient=values.get("sandbox_patient"),
                    user=_user_name(sandbox),
                )
            )
        decision = values.get("sandbox_decision", "allow")
        if decision == "deny":
            log.info("authorize client=%s decision=deny", grant.client.get_client_id())
            return _as_response(
                server.create_authorization_response(
                    request=grant.request, grant_user=None, grant=grant
                )
            )
        if decision != "allow":
            return _error_page(
                "invalid_request",
                f"sandbox_decision: expected allow or deny, got {decision!r}",
                400,
            )
        if deciding:
            ticked = set(values.getlist("sandbox_scope"))
            granted = [s for s in requested if s in ticked]
        else:
            granted = requested
        context = GrantContext(
            client_id=grant.client.get_client_id(),
            scope=" ".join(granted),
            patient_id=launch.patient_id,
            encounter_id=launch.encounter_id,
            need_patient_banner=launch.need_patient_banner,
            practitioner_id=store.user_practitioner_id(),
            nonce=values.get("nonce"),
        )
        log.info(
            "authorize client=%s decision=allow launch=%s scopes_granted=%d of %d",
            context.client_id,
            launch.kind,
            len(granted),
            len(requested),
        )
        return _as_response(
            server.create_authorization_response(
                request=grant.request, grant_user=context, grant=grant
            )
        )

    @bp.post("/oauth2/token")
    def token() -> Response:
        return _as_response(server.create_token_response())

    @bp.get("/oauth2/jwks")
    def jwks() -> Response:
        return flask.jsonify(sandbox.signer.jwks())

    return bp


def _launch_decision(
    sandbox: Sandbox, values: MultiDict[str, str], requested: list[str], client_id: str
) -> _LaunchDecision:
    """Check what SMART adds to OAuth (aud, launch); raises InvalidRequestError."""
    aud = values.get("aud")
    if not aud:
        raise InvalidRequestError(
            _oauth_text(f"aud: required; expected the FHIR base URL {sandbox.fhir_base}")
        )
    if aud.rstrip("/") != sandbox.fhir_base:
        raise InvalidRequestError(
            _oauth_text(f"aud: expected the FHIR base URL {sandbox.fhir_base}, got '{aud}'")
        )
    launch = values.get("launch")
    if launch:
        if "launch" not in requested:
            raise InvalidRequestError(
                "scope: an EHR launch (a launch parameter) needs the 'launch' scope"
            )
        try:
            record = sandbox.tokens.resolve_launch(launch, client_id)
        except LaunchError as error:
            raise InvalidRequestError(_oauth_text(f"launch: {error}")) from error
        if sandbox.store.get("Patient", record.patient_id) is None:
            raise InvalidRequestError(
                _oauth_text(f"launch: Patient/{record.patient_id} is not in the sandbox data")
            )
        return _LaunchDecision("ehr", record.patient_id, record.encounter_id)
    if "launch" in requested:
        raise InvalidRequestError(
            "launch: the 'launch' scope asks for an EHR launch but there is no launch "
            "parameter; a standalone launch asks for launch/patient instead"
        )
    if "launch/patient" in requested:
        return _LaunchDecision("standalone-patient", None, None)
    return _LaunchDecision("standalone", None, None)


def _oauth_text(text: str) -> str:
    return "".join(c if c in _OAUTH_TEXT else "?" for c in text)


def _user_name(sandbox: Sandbox) -> str:
    practitioner = sandbox.store.get("Practitioner", sandbox.store.user_practitioner_id())
    return human_name(practitioner.body) if practitioner else "sandbox user"


def _error_page(error: str, description: str, status: int) -> Response:
    return _html(
        render_template("sandbox/error.html", error=error, description=description), status
    )


def _html(body: str, status: int = 200) -> Response:
    return Response(body, status=status, content_type="text/html; charset=utf-8")


def _as_response(value: object) -> Response:
    if not isinstance(value, Response):
        raise TypeError(f"authlib returned {type(value).__name__}, expected a flask Response")
    return value
