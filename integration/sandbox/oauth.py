"""The SMART authorization server, built on authlib's Flask integration.

Apps: public clients (token_endpoint_auth_method "none"), authorization code with PKCE S256
required at both ends, refresh tokens when `offline_access` or `online_access` is granted. The
SMART launch context (patient, encounter, need_patient_banner, id_token) rides on every token
response.

Backend services (SMART Backend Services, hl7.org/fhir/smart-app-launch/backend-services.html):
`client_credentials` with a `private_key_jwt` client assertion (RFC 7523) signed RS384 or
ES384 by a key in the client's registered JWK Set; iss = sub = client_id, aud = the token
endpoint, exp at most five minutes ahead, a jti never seen before. Only `system/` scopes are
granted; no refresh token. authlib is untyped, hence the `type: ignore[misc]` on the classes
built on it.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any, ClassVar

import flask
from authlib.common.security import is_secure_transport
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
)
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from integration.sandbox.config import BackendClient, SandboxClient
from integration.sandbox.scopes import REFRESH_SCOPES, known_scopes
from integration.sandbox.state import Sandbox
from integration.sandbox.tokens import (
    AUTHORIZATION_CODE_LIFETIME,
    AuthorizationCodeRecord,
    GrantContext,
    RefreshTokenRecord,
)

GRANT_TYPES = ("authorization_code", "refresh_token")
#: SMART Backend Services: the algorithms a client assertion may be signed with
ASSERTION_ALGORITHMS = ("RS384", "ES384")
#: the longest a client assertion may live (SMART: exp no more than five minutes ahead)
MAX_ASSERTION_SECONDS = 300


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


class BackendOAuthClient:
    """A BackendClient as authlib's ClientMixin sees it: client_credentials with a signed
    JWT assertion, system scopes only."""

    def __init__(self, client: BackendClient) -> None:
        self.client = client
        self.client_id = client.client_id

    def get_client_id(self) -> str:
        return self.client.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        return " ".join(s for s in known_scopes(scope) if s.startswith("system/"))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == SmartClientAssertion.CLIENT_AUTH_METHOD

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class SmartClientAssertion(JWTBearerClientAssertion):  # type: ignore[misc]
    """private_key_jwt as SMART Backend Services asks: RS384/ES384, aud the token endpoint,
    exp within five minutes, jti single use."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(validate_jti=True, leeway=60)
        self.sandbox = sandbox

    def get_audiences(self) -> list[str]:
        return [self.sandbox.url("/oauth2/token")]

    def extract_assertion(self, assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
        headers, claims = super().extract_assertion(assertion)
        alg = headers.get("alg")
        if alg not in ASSERTION_ALGORITHMS:
            raise InvalidClientError(
                description=f"client_assertion: alg must be one of "
                f"{', '.join(ASSERTION_ALGORITHMS)}, got {alg!r}"
            )
        exp = claims.get("exp")
        now = self.sandbox.tokens.now()
        if isinstance(exp, int | float) and exp > now + MAX_ASSERTION_SECONDS + self.leeway:
            raise InvalidClientError(
                description="client_assertion: exp is more than five minutes in the future"
            )
        return headers, claims

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        """authlib's, with the SMART algorithms allowed (joserfc only allows its recommended
        ones by default, which leave out ES384)."""
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=list(ASSERTION_ALGORITHMS))
        except JoseError as exc:
            raise InvalidClientError(
                description=f"client_assertion: {exc.description or type(exc).__name__}"
            ) from exc
        self.verify_claims(token.claims)
        return token.claims

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        exp = claims.get("exp")
        until = float(exp) if isinstance(exp, int | float) else self.sandbox.tokens.now() + 300
        return self.sandbox.tokens.use_jti(f"{claims.get('sub')}:{jti}", until)

    def resolve_client_public_key(self, client: Any) -> KeySet:
        if not isinstance(client, BackendOAuthClient):
            raise InvalidClientError(
                description=f"client {client.get_client_id()!r} is an app, not a backend "
                "service: it has no registered keys"
            )
        return KeySet.import_key_set(client.client.jwks)  # type: ignore[arg-type]


class _ClientCredentialsGrant(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [SmartClientAssertion.CLIENT_AUTH_METHOD]

    def create_token_response(self) -> tuple[int, dict[str, Any], Any]:
        asked = self.request.payload.scope or ""
        allowed = self.request.client.get_allowed_scope(asked)
        if not allowed:
            raise InvalidScopeError(
                f"scope: a backend service gets system/ scopes only (e.g. system/*.rs), "
                f"got {asked!r}"
            )
        token = self.generate_token(scope=allowed, include_refresh_token=False)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


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
        self._clients: dict[str, OAuthClient | BackendOAuthClient] = {
            c.client_id: OAuthClient(c) for c in sandbox.config.clients
        }
        for backend in sandbox.config.backend_clients:
            self._clients[backend.client_id] = BackendOAuthClient(backend)
        self.init_app(app)
        self.register_token_generator("default", self._generate_token)
        self.register_grant(_AuthorizationCodeGrant, [S256Required(required=True)])
        self.register_grant(_RefreshTokenGrant)
        self.register_grant(_ClientCredentialsGrant)
        self.register_client_auth_method(
            SmartClientAssertion.CLIENT_AUTH_METHOD, SmartClientAssertion(sandbox)
        )

    def query_client(self, client_id: str) -> OAuthClient | BackendOAuthClient | None:
        return self._clients.get(client_id)

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return _PlainHttpRequest(flask.request)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        context: GrantContext
        if isinstance(request.client, BackendOAuthClient):
            context = GrantContext(
                client_id=request.client.client_id,
                scope=token.get("scope", ""),
                patient_id=None,
                encounter_id=None,
                need_patient_banner=False,
                practitioner_id="",
            )
        elif request.authorization_code is not None:
            context = request.authorization_code.context
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
