"""What the authorization server remembers: launches, codes, access and refresh tokens.

In memory behind one lock (it is a sandbox; a restart logs everyone out). The clock is
injectable so expiry can be tested without sleeping.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

Clock = Callable[[], float]

AUTHORIZATION_CODE_LIFETIME = 120


@dataclass(frozen=True, slots=True)
class GrantContext:
    """Who authorized which app for what: carried from consent to code to every token."""

    client_id: str
    scope: str
    patient_id: str | None
    encounter_id: str | None
    need_patient_banner: bool
    practitioner_id: str
    nonce: str | None = None


@dataclass(frozen=True, slots=True)
class LaunchRecord:
    client_id: str | None
    patient_id: str
    encounter_id: str | None
    expires_at: float


class LaunchError(Exception):
    """A launch parameter the sandbox did not issue, or one that has expired."""


@dataclass(frozen=True, slots=True)
class AuthorizationCodeRecord:
    code: str
    context: GrantContext
    redirect_uri: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float

    # authlib's AuthorizationCodeMixin
    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.context.scope


@dataclass(frozen=True, slots=True)
class RefreshTokenRecord:
    token: str
    context: GrantContext
    expires_at: float

    # authlib's TokenMixin, as far as RefreshTokenGrant uses it
    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == self.context.client_id)

    def get_scope(self) -> str:
        return self.context.scope


@dataclass(frozen=True, slots=True)
class AccessTokenRecord:
    token: str
    context: GrantContext
    expires_at: float


class TokenStore:
    def __init__(self, *, launch_lifetime: int, opaque_launches: bool, clock: Clock = time.time):
        self._lock = threading.Lock()
        self._clock = clock
        self._launch_lifetime = launch_lifetime
        self._opaque_launches = opaque_launches
        self._launches: dict[str, LaunchRecord] = {}
        self._codes: dict[str, AuthorizationCodeRecord] = {}
        self._access: dict[str, AccessTokenRecord] = {}
        self._refresh: dict[str, RefreshTokenRecord] = {}
        self._jtis: dict[str, float] = {}

    def now(self) -> float:
        return self._clock()

    # --- launches -----------------------------------------------------------------------------

    def create_launch(
        self, client_id: str | None, patient_id: str, encounter_id: str | None
    ) -> str:
        record = LaunchRecord(
            client_id, patient_id, encounter_id, self.now() + self._launch_lifetime
        )
        if not self._opaque_launches:
            payload = {
                "client_id": record.client_id,
                "patient": record.patient_id,
                "encounter": record.encounter_id,
                "exp": record.expires_at,
            }
            raw = json.dumps(payload, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).decode().rstrip("=")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._prune()
            self._launches[token] = record
        return token

    def resolve_launch(self, token: str, client_id: str) -> LaunchRecord:
        """The launch behind `token`; raises LaunchError saying why it can't be used."""
        if self._opaque_launches:
            with self._lock:
                record = self._launches.get(token)
            if record is None:
                raise LaunchError(
                    "unknown launch token; start the launch again from the sandbox patient list"
                )
        else:
            record = _decode_readable_launch(token)
        if record.expires_at <= self.now():
            raise LaunchError("the launch token has expired; launch the app again")
        if record.client_id is not None and record.client_id != client_id:
            raise LaunchError(
                f"the launch was issued for client {record.client_id!r}, not {client_id!r}"
            )
        return record

    # --- codes and tokens ---------------------------------------------------------------------

    def save_code(self, record: AuthorizationCodeRecord) -> None:
        with self._lock:
            self._prune()
            self._codes[record.code] = record

    def get_code(self, code: str) -> AuthorizationCodeRecord | None:
        with self._lock:
            record = self._codes.get(code)
        if record is None or record.expires_at <= self.now():
            return None
        return record

    def delete_code(self, code: str) -> None:
        with self._lock:
            self._codes.pop(code, None)

    def save_access(self, token: str, context: GrantContext, lifetime: int) -> None:
        with self._lock:
            self._access[token] = AccessTokenRecord(token, context, self.now() + lifetime)

    def save_refresh(self, token: str, context: GrantContext, lifetime: int) -> None:
        with self._lock:
            self._refresh[token] = RefreshTokenRecord(token, context, self.now() + lifetime)

    def access_token(self, token: str) -> tuple[AccessTokenRecord | None, str]:
        """The live token record, or None and why not."""
        with self._lock:
            record = self._access.get(token)
        if record is None:
            return None, "unknown access token"
        if record.expires_at <= self.now():
            return None, "the access token has expired; refresh it or launch again"
        return record, ""

    def refresh_token(self, token: str) -> RefreshTokenRecord | None:
        with self._lock:
            record = self._refresh.get(token)
        if record is None or record.expires_at <= self.now():
            return None
        return record

    def use_jti(self, key: str, until: float) -> bool:
        """Record a client assertion's jti; False if it was seen before (a replay)."""
        with self._lock:
            now = self.now()
            for seen in [k for k, t in self._jtis.items() if t <= now - 60]:
                del self._jtis[seen]
            if key in self._jtis:
                return False
            self._jtis[key] = until
            return True

    def _prune(self) -> None:
        """Forget what has expired (called with the lock held)."""
        now = self.now()
        for table in (self._launches, self._codes, self._access, self._refresh):
            expired = [key for key, record in table.items() if record.expires_at <= now]
            for key in expired:
                del table[key]


def _decode_readable_launch(token: str) -> LaunchRecord:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise LaunchError(
            "not a launch token this sandbox issued (expected base64url JSON)"
        ) from error
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("patient"), str)
        or not isinstance(payload.get("exp"), int | float)
    ):
        raise LaunchError("not a launch token this sandbox issued (no patient or exp)")
    client_id = payload.get("client_id")
    encounter_id = payload.get("encounter")
    return LaunchRecord(
        client_id if isinstance(client_id, str) else None,
        payload["patient"],
        encounter_id if isinstance(encounter_id, str) else None,
        float(payload["exp"]),
    )


class IdTokenSigner:
    """An RS256 key made at startup; its public half is served at the jwks_uri."""

    def __init__(self) -> None:
        self._key = RSAKey.generate_key(
            2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True
        )

    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(self._key.as_dict(private=False))]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode({"alg": "RS256", "kid": self._key.kid}, claims, self._key)
