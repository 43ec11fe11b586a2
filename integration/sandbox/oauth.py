"""The SMART authorization server, built on authlib's Flask integration.

Public clients only (token_endpoint_auth_method "none"), authorization code with PKCE S256
required at both ends, refresh tokens when `offline_access` or `online_access` is granted. The
SMART launch context (patient, encounter, need_patient_banner, id_token) rides on every token
response. authlib is untyped, hence the `type: ignore[misc]` on the classes built on it.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any, ClassVar

import flask
from authlib.common.security import is_secure_transport
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Request
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc7636 import CodeChallenge

from integration.sandbox.config import SandboxClient
from integration.sandbox.scopes import REFRESH_SCOPES, known_scopes
from integration.sandbox.state import Sandbox
from integration.sandbox.tokens import (
    AUTHORIZATION_CODE_LIFETIME,
    AuthorizationCodeRecord,
    GrantContext,
    RefreshTokenRecord,
)

GRANT_TYPES = ("authorization_code", "refresh_token")


class OAuthClient:
    """A SandboxClient as authlib's ClientMixin sees it."""

    def __init__(self, client: SandboxClient) -> None:
        self.client = client
        self.client_id = client.client_id

    def get_client_id(self) -> str:
        return self.client.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None  # SMART apps always send redirect_uri

    def get_allowed_scope(self, scope: str | None) -> str:
        """Unknown scopes are dropped from the grant, not refused."""
        return " ".join(known_scopes(scope))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.client.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES


class _PlainHttpRequest(FlaskOAuth2Request):  # type: ignore[misc]
    """authlib refuses plain HTTP except on loopback; the sandbox runs plain HTTP by design
    (Docker service names, LAN addresses), so the transport check sees an https URL."""

    def __init__(self, request: flask.Request) -> None:
        if is_secure_transport(request.url):
            super().__init__(request)
            return
        OAuth2Request.__init__(
            self,
            method=request.method,
            uri="https://" + request.url.split("://", 1)[-1],
            headers=request.headers,
        )
        self._request = request
        self.payload = FlaskOAuth2Payload(request)
        self.uri = request.url


class S256Required(CodeChallenge):  # type: ignore[misc]
    """PKCE is mandatory and S256 the only method, checked already at the authorize step."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError(
                "code_challenge: PKCE is required; send code_challenge and "
                "code_challenge_method=S256"
            )
        method = data.get("code_challenge_method")
        if method != "S256":
            raise InvalidRequestError(f"code_challenge_method: expected S256, got {method!r}")
        super().validate_code_challenge(grant, redirect_uri)


class _AuthorizationCodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["none"]

    def save_authorization_code(self, code: str, request: Any) -> None:
        context: GrantContext = request.user
        data = request.payload.data
        sandbox = _sandbox(self.server)
        sandbox.tokens.save_code(
            AuthorizationCodeRecord(
                code=code,
                context=context,
                redirect_uri=request.payload.redirect_uri,
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                expires_at=sandbox.tokens.now() + AUTHORIZATION_CODE_LIFETIME,
            )
        )

    def query_authorization_code(
        self, code: str, client: OAuthClient
    ) -> AuthorizationCodeRecord | None:
        record = _sandbox(self.server).tokens.get_code(code)
        if record is None or record.context.client_id != client.get_client_id():
            return None
        return record

    def delete_authorization_code(self, authorization_code: AuthorizationCodeRecord) -> None:
        _sandbox(self.server).tokens.delete_code(authorization_code.code)

    def authenticate_user(self, authorization_code: AuthorizationCodeRecord) -> GrantContext:
        return authorization_code.context

    def create_token_response(self) -> tuple[int, dict[str, Any], Any]:
        status, body, headers = super().create_token_response()
        record: AuthorizationCodeRecord = self.request.authorization_code
        context = replace(record.context, scope=body.get("scope", ""))
        body.update(smart_token_fields(_sandbox(self.server), context, with_id_token=True))
        return status, body, headers


class _RefreshTokenGrant(RefreshTokenGrant):  # type: ignore[misc]
    """Refresh tokens are not rotated (like Epic): the same one works until it expires."""

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["none"]
    INCLUDE_NEW_REFRESH_TOKEN = False

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshTokenRecord | None:
        return _sandbox(self.server).tokens.refresh_token(refresh_token)

    def authenticate_user(self, refresh_token: RefreshTokenRecord) -> GrantContext:
        return refresh_token.context

    def revoke_old_credential(self, refresh_token: RefreshTokenRecord) -> None:
        return None

    def create_token_response(self) -> tuple[int, dict[str, Any], Any]:
        status, body, headers = super().create_token_response()
        record: RefreshTokenRecord = self.request.refresh_token
        context = replace(record.context, scope=body.get("scope", ""))
        body.update(smart_token_fields(_sandbox(self.server), context, with_id_token=False))
        return status, body, headers


class SandboxAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, app: flask.Flask, sandbox: Sandbox) -> None:
        super().__init__()
        self.sandbox = sandbox
        self._clients = {c.client_id: OAuthClient(c) for c in sandbox.config.clients}
        self.init_app(app)
        self.register_token_generator("default", self._generate_token)
        self.register_grant(_AuthorizationCodeGrant, [S256Required(required=True)])
        self.register_grant(_RefreshTokenGrant)

    def query_client(self, client_id: str) -> OAuthClient | None:
        return self._clients.get(client_id)

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return _PlainHttpRequest(flask.request)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        if request.authorization_code is not None:
            context: GrantContext = request.authorization_code.context
        else:
            context = request.refresh_token.context
        context = replace(context, scope=token.get("scope", ""))
        config = self.sandbox.config
        self.sandbox.tokens.save_access(
            token["access_token"], context, config.access_token_lifetime
        )
        if "refresh_token" in token:
            self.sandbox.tokens.save_refresh(
                token["refresh_token"], context, config.refresh_token_lifetime
            )

    def _generate_token(
        self,
        grant_type: str,
        client: OAuthClient,
        user: GrantContext | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": secrets.token_urlsafe(32),
            "expires_in": expires_in or self.sandbox.config.access_token_lifetime,
            "scope": scope or "",
        }
        granted = set((scope or "").split())
        if (
            include_refresh_token
            and grant_type == "authorization_code"
            and granted & REFRESH_SCOPES
        ):
            token["refresh_token"] = secrets.token_urlsafe(48)
        return token


def smart_token_fields(
    sandbox: Sandbox, context: GrantContext, *, with_id_token: bool
) -> dict[str, Any]:
    """The SMART launch context that goes with an access token."""
    fields: dict[str, Any] = {
        "need_patient_banner": context.need_patient_banner,
        "smart_style_url": sandbox.url("/smart-style.json"),
    }
    if context.patient_id is not None:
        fields["patient"] = context.patient_id
    if context.encounter_id is not None:
        fields["encounter"] = context.encounter_id
    granted = set(context.scope.split())
    if with_id_token and "openid" in granted and granted & {"fhirUser", "profile"}:
        now = int(sandbox.tokens.now())
        claims: dict[str, Any] = {
            "iss": sandbox.fhir_base,
            "sub": context.practitioner_id,
            "aud": context.client_id,
            "iat": now,
            "exp": now + sandbox.config.access_token_lifetime,
            "fhirUser": f"{sandbox.fhir_base}/Practitioner/{context.practitioner_id}",
        }
        if context.nonce:
            claims["nonce"] = context.nonce
        fields["id_token"] = sandbox.signer.sign(claims)
    return fields


def _sandbox(server: Any) -> Sandbox:
    sandbox: Sandbox = server.sandbox
    return sandbox
