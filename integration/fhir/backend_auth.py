"""SMART Backend Services: derm-rcm as a system client of the EHR, for work no user launches
(the reauthorization watcher reading charts at night).

The EHR registers derm-rcm's public key (a JWK Set, `dermrcm backend jwks` prints it). To get
an access token derm-rcm signs a short client assertion (RFC 7523: iss = sub = client id,
aud = the token endpoint, exp five minutes ahead, a fresh jti) with its private key (ES384)
and posts `grant_type=client_credentials` with the `system/` scopes it needs
(hl7.org/fhir/smart-app-launch/backend-services.html). The token endpoint comes from the FHIR
server's `.well-known/smart-configuration`. Tokens are cached until a minute before they expire
and fetched again on a 401. Keys are never logged; errors say which step failed and what the
server answered.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from joserfc import jwt
from joserfc.jwk import ECKey

log = logging.getLogger(__name__)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHM = "ES384"
ASSERTION_SECONDS = 300
#: fetch a new token this long before the current one expires
EARLY_RENEWAL_SECONDS = 60


class BackendAuthError(RuntimeError):
    """The EHR's authorization server did not give a token; the message says at which step."""


def load_or_create_key(path: Path) -> ECKey:
    """derm-rcm's backend-services private key (P-384), generated once, kept with mode 0600."""
    if path.is_file():
        return ECKey.import_key(path.read_text(encoding="utf-8"))
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ECKey.generate_key("P-384", parameters={"use": "sig", "alg": ALGORITHM}, auto_kid=True)
    pem = key.as_pem(private=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return ECKey.import_key(pem)


def public_jwks(key: ECKey) -> dict[str, Any]:
    """The JWK Set to register with the EHR (public part only, with kid and alg)."""
    public = key.as_dict(private=False)
    public.update({"kid": key.thumbprint(), "alg": ALGORITHM, "use": "sig"})
    return {"keys": [public]}


class BackendServicesToken:
    """A token source for FhirClient: `token()` returns a live access token, `refresh()` forces
    a new one (FhirClient calls it once on a 401)."""

    def __init__(
        self,
        fhir_base: str,
        client_id: str,
        key: ECKey,
        *,
        scope: str,
        timeout: float = 30.0,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.fhir_base = fhir_base.rstrip("/")
        self.client_id = client_id
        self.scope = scope
        self._key = key
        self._kid = key.thumbprint()
        self._timeout = timeout
        self._session = session or requests.Session()
        self._clock = clock
        self._lock = threading.Lock()
        self._token_endpoint: str | None = None
        self._access: str | None = None
        self._expires_at = 0.0
        self.granted_scope = ""

    def token(self) -> str:
        with self._lock:
            if self._access is None or self._clock() >= self._expires_at - EARLY_RENEWAL_SECONDS:
                self._fetch()
            assert self._access is not None
            return self._access

    def refresh(self) -> bool:
        with self._lock:
            self._fetch()
        return True

    # -- steps -------------------------------------------------------------------------------

    def token_endpoint(self) -> str:
        if self._token_endpoint is None:
            url = f"{self.fhir_base}/.well-known/smart-configuration"
            body = self._json("GET", url, "discovery")
            endpoint = body.get("token_endpoint")
            if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
                raise BackendAuthError(
                    f"discovery {url}: token_endpoint: expected an http(s) URL, got {endpoint!r}"
                )
            methods = body.get("token_endpoint_auth_methods_supported")
            if isinstance(methods, list) and "private_key_jwt" not in methods:
                raise BackendAuthError(
                    f"discovery {url}: the server does not list private_key_jwt in "
                    f"token_endpoint_auth_methods_supported ({', '.join(map(str, methods))}): "
                    "it does not offer SMART Backend Services"
                )
            self._token_endpoint = endpoint
        return self._token_endpoint

    def assertion(self, endpoint: str) -> str:
        now = int(self._clock())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": endpoint,
            "exp": now + ASSERTION_SECONDS,
            "iat": now,
            "jti": secrets.token_urlsafe(24),
        }
        header = {"alg": ALGORITHM, "typ": "JWT", "kid": self._kid}
        return jwt.encode(header, claims, self._key, algorithms=[ALGORITHM])

    def _fetch(self) -> None:
        endpoint = self.token_endpoint()
        form = {
            "grant_type": "client_credentials",
            "scope": self.scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(endpoint),
        }
        body = self._json("POST", endpoint, "token request", data=form)
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise BackendAuthError(f"token request {endpoint}: no access_token in the answer")
        expires_in = body.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 300.0
        self._access = access
        self._expires_at = self._clock() + lifetime
        self.granted_scope = str(body.get("scope") or "")
        log.info(
            "backend services token obtained client_id=%s expires_in=%d scope=%s",
            self.client_id,
            int(lifetime),
            self.granted_scope,
        )

    def _json(self, method: str, url: str, step: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._session.request(method, url, timeout=self._timeout, **kwargs)
        except requests.RequestException as exc:
            raise BackendAuthError(f"{step} {url}: {type(exc).__name__}: {exc}") from exc
        try:
            body = response.json()
        except (ValueError, json.JSONDecodeError):
            body = None
        if response.status_code != 200:
            said = ""
            if isinstance(body, dict) and "error" in body:
                said = f"{body['error']}: {body.get('error_description') or ''}".rstrip(": ")
            raise BackendAuthError(
                f"{step} {url}: HTTP {response.status_code}"
                + (f" ({said})" if said else f" ({response.text[:200].strip()})")
            )
        if not isinstance(body, dict):
            raise BackendAuthError(f"{step} {url}: expected a JSON object")
        return body
