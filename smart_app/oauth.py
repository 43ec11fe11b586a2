"""SMART App Launch 2.x client side: discovery, authorize URL with PKCE (S256), code exchange,
refresh, id_token check. Framework-free; the Flask views call it."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from threading import Lock
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2 import OAuth2Error
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

log = logging.getLogger(__name__)

OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
DISCOVERY_TTL = 3600.0


class LaunchError(Exception):
    """A launch that can't go on; `kind` picks the page the user sees."""

    def __init__(self, kind: str, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.status = status


@dataclass(frozen=True, slots=True)
class SmartConfiguration:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str | None
    capabilities: frozenset[str]


@dataclass(frozen=True, slots=True)
class TokenResponse:
    access_token: str
    refresh_token: str | None
    expires_at: float
    scope: str
    patient: str | None
    encounter: str | None
    need_patient_banner: bool
    id_token: str | None


def _get(url: str, timeout: float) -> requests.Response:
    try:
        return requests.get(url, headers={"Accept": "application/json"}, timeout=timeout)
    except requests.Timeout:
        raise LaunchError(
            "fhir-timeout", f"{url}: expected an answer within {timeout:g} s, got none", 504
        ) from None
    except requests.ConnectionError:
        raise LaunchError(
            "fhir-unavailable", f"{urlsplit(url).netloc}: could not connect", 502
        ) from None


class Discovery:
    """SMART configuration per iss, from .well-known/smart-configuration, else metadata; and
    the EHR's id_token signing keys. Both cached for an hour."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._cache: dict[str, tuple[float, SmartConfiguration]] = {}
        self._keys: dict[str, tuple[float, KeySet]] = {}
        self._lock = Lock()

    def keys(self, jwks_uri: str | None, refresh: bool = False) -> KeySet | None:
        if not jwks_uri:
            return None
        with self._lock:
            hit = self._keys.get(jwks_uri)
            if hit and hit[0] > time.monotonic() and not refresh:
                return hit[1]
        response = _get(jwks_uri, self.timeout)
        try:
            key_set = KeySet.import_key_set(response.json())
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise LaunchError(
                "authorization-error",
                f"{jwks_uri}: expected a JSON Web Key Set, got one that fails: {exc}",
                502,
            ) from None
        with self._lock:
            self._keys[jwks_uri] = (time.monotonic() + DISCOVERY_TTL, key_set)
        return key_set

    def get(self, iss: str) -> SmartConfiguration:
        with self._lock:
            hit = self._cache.get(iss)
            if hit and hit[0] > time.monotonic():
                return hit[1]
        config = self._fetch(iss)
        with self._lock:
            self._cache[iss] = (time.monotonic() + DISCOVERY_TTL, config)
        return config

    def _fetch(self, iss: str) -> SmartConfiguration:
        url = f"{iss}/.well-known/smart-configuration"
        response = _get(url, self.timeout)
        if response.ok:
            try:
                body = response.json()
            except ValueError:
                body = None
            if (
                isinstance(body, dict)
                and body.get("authorization_endpoint")
                and body.get("token_endpoint")
            ):
                return SmartConfiguration(
                    issuer=iss,
                    authorization_endpoint=str(body["authorization_endpoint"]),
                    token_endpoint=str(body["token_endpoint"]),
                    jwks_uri=body.get("jwks_uri"),
                    capabilities=frozenset(body.get("capabilities") or []),
                )
        return self._from_metadata(iss)

    def _from_metadata(self, iss: str) -> SmartConfiguration:
        url = f"{iss}/metadata"
        response = _get(url, self.timeout)
        if not response.ok:
            raise LaunchError(
                "discovery-failed",
                f"{iss}: expected .well-known/smart-configuration or metadata with SMART endpoints, got HTTP {response.status_code}",
                502,
            )
        try:
            body = response.json()
            uris = {}
            for rest in body.get("rest", []):
                for ext in (rest.get("security") or {}).get("extension", []):
                    if ext.get("url") == OAUTH_URIS:
                        uris = {e["url"]: e.get("valueUri") for e in ext.get("extension", [])}
        except (ValueError, AttributeError, KeyError, TypeError):
            uris = {}
        if not uris.get("authorize") or not uris.get("token"):
            raise LaunchError(
                "discovery-failed",
                f"{url}: expected the oauth-uris extension with authorize and token, got none",
                502,
            )
        return SmartConfiguration(
            iss, str(uris["authorize"]), str(uris["token"]), None, frozenset()
        )


def new_state() -> str:
    return secrets.token_urlsafe(32)


def new_code_verifier() -> str:
    return secrets.token_urlsafe(64)[:96]


def authorize_url(
    config: SmartConfiguration,
    *,
    client_id: str,
    redirect_uri: str,
    scope: str,
    state: str,
    code_verifier: str,
    launch: str | None,
) -> str:
    client = OAuth2Session(
        client_id, scope=scope, redirect_uri=redirect_uri, code_challenge_method="S256"
    )
    extra: dict[str, str] = {"aud": config.issuer}
    if launch:
        extra["launch"] = launch
    url, _state = client.create_authorization_url(
        config.authorization_endpoint, state=state, code_verifier=code_verifier, **extra
    )
    return str(url)


def _token_response(token: dict[str, Any], previous_scope: str = "") -> TokenResponse:
    access = token.get("access_token")
    if not access or str(token.get("token_type", "")).lower() != "bearer":
        raise LaunchError(
            "authorization-error", "token endpoint: expected a Bearer access_token, got none", 502
        )
    expires_in = token.get("expires_in")
    expires_at = token.get("expires_at") or (time.time() + float(expires_in or 300))
    banner = token.get("need_patient_banner", True)
    return TokenResponse(
        access_token=str(access),
        refresh_token=token.get("refresh_token"),
        expires_at=float(expires_at),
        scope=str(token.get("scope") or previous_scope),
        patient=token.get("patient"),
        encounter=token.get("encounter"),
        need_patient_banner=banner if isinstance(banner, bool) else str(banner).lower() != "false",
        id_token=token.get("id_token"),
    )


def exchange_code(
    token_endpoint: str,
    *,
    client_id: str,
    redirect_uri: str,
    code: str,
    code_verifier: str,
    timeout: float,
) -> TokenResponse:
    client = OAuth2Session(client_id, redirect_uri=redirect_uri, token_endpoint_auth_method="none")  # noqa: S106 - public client
    try:
        token = client.fetch_token(
            token_endpoint,
            grant_type="authorization_code",
            code=code,
            code_verifier=code_verifier,
            timeout=timeout,
        )
    except OAuth2Error as exc:
        raise LaunchError(
            "authorization-error",
            f"token endpoint: {exc.error}: {exc.description or ''}".strip(),
            502,
        ) from None
    except requests.Timeout:
        raise LaunchError(
            "fhir-timeout", f"token endpoint: expected an answer within {timeout:g} s", 504
        ) from None
    except requests.ConnectionError:
        raise LaunchError("fhir-unavailable", "token endpoint: could not connect", 502) from None
    return _token_response(dict(token))


def refresh(
    token_endpoint: str, *, client_id: str, refresh_token: str, scope: str, timeout: float
) -> TokenResponse | None:
    """A new access token, or None when the server refuses the refresh token (session over)."""
    client = OAuth2Session(client_id, token_endpoint_auth_method="none")  # noqa: S106 - public client
    try:
        token = client.refresh_token(token_endpoint, refresh_token=refresh_token, timeout=timeout)
    except (OAuth2Error, OAuthError) as exc:
        log.info("token refresh refused error=%s", exc.error)
        return None
    except (requests.Timeout, requests.ConnectionError) as exc:
        log.warning("token refresh failed: %s", type(exc).__name__)
        return None
    try:
        return _token_response(dict(token), previous_scope=scope)
    except LaunchError as exc:
        log.info("token refresh answer unusable: %s", exc.detail)
        return None


def fhir_user_from_id_token(
    id_token: str, *, keys: Callable[[bool], KeySet | None], issuer: str, client_id: str
) -> str | None:
    """The verified fhirUser claim. Raises LaunchError if the token doesn't verify.

    `keys(refresh)` gives the EHR's signing keys (cached); they are fetched again once when
    the token's key is not among them (key rotation)."""
    key_set = keys(False)
    if key_set is None:
        return None
    try:
        try:
            token = jwt.decode(id_token, key_set)
        except JoseError:
            fresh = keys(True)
            if fresh is None:
                raise
            token = jwt.decode(id_token, fresh)
        jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": client_id},
            exp={"essential": True},
        ).validate(token.claims)
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise LaunchError(
            "authorization-error",
            f"id_token: expected a token signed by {issuer}, got one that fails: {exc}",
            502,
        ) from None
    user = token.claims.get("fhirUser")
    return str(user) if user else None
