"""SMART Backend Services over real HTTP: derm-rcm's signed client assertion gets a system
token from the sandbox, which reads any patient's chart; the sandbox refuses assertions a
real EHR refuses (unknown key, replayed jti, wrong audience, too long-lived, patient scopes,
an app trying client_credentials) with the OAuth error that says why."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import ECKey
from sandbox_testkit import CLIENT_ID, OTHER_PATIENT, PATIENT, Sandbox

from integration.fhir.backend_auth import (
    ASSERTION_TYPE,
    BackendAuthError,
    BackendServicesToken,
    load_or_create_key,
    public_jwks,
)
from integration.fhir.client import FhirClient
from integration.sandbox.config import BackendClient

BACKEND = "derm-rcm-backend"


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> ECKey:
    return load_or_create_key(tmp_path_factory.mktemp("keys") / "backend_key.pem")


@pytest.fixture
def backend_sandbox(start_sandbox_with: Callable[..., Sandbox], key: ECKey) -> Sandbox:
    return start_sandbox_with(backend_clients=(BackendClient(BACKEND, public_jwks(key)),))


def token_url(sandbox: Sandbox) -> str:
    return f"{sandbox.base_url}/oauth2/token"


def assertion(key: ECKey, aud: str, *, client: str = BACKEND, **claims: Any) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": client,
        "sub": client,
        "aud": aud,
        "exp": now + 240,
        "iat": now,
        "jti": secrets.token_urlsafe(16),
    }
    body.update(claims)
    return jwt.encode({"alg": "ES384", "kid": key.thumbprint()}, body, key, algorithms=["ES384"])


def ask(sandbox: Sandbox, signed: str, scope: str = "system/*.rs") -> requests.Response:
    return requests.post(
        token_url(sandbox),
        data={
            "grant_type": "client_credentials",
            "scope": scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed,
        },
        timeout=30,
    )


def test_discovery_offers_backend_services(backend_sandbox: Sandbox) -> None:
    config = requests.get(
        f"{backend_sandbox.fhir_base}/.well-known/smart-configuration", timeout=30
    )
    body = config.json()
    assert "private_key_jwt" in body["token_endpoint_auth_methods_supported"]
    assert "client_credentials" in body["grant_types_supported"]
    assert "ES384" in body["token_endpoint_auth_signing_alg_values_supported"]
    assert "client-confidential-asymmetric" in body["capabilities"]


def test_a_system_token_reads_every_patient(backend_sandbox: Sandbox, key: ECKey) -> None:
    source = BackendServicesToken(backend_sandbox.fhir_base, BACKEND, key, scope="system/*.rs")
    client = FhirClient(backend_sandbox.fhir_base, token=source.token, refresh=source.refresh)
    try:
        for patient in (PATIENT, OTHER_PATIENT):
            assert client.read("Patient", patient)["id"] == patient
    finally:
        client.close()
    assert source.granted_scope == "system/*.rs"
    # cached: a second call does not ask the server again
    first = source.token()
    assert source.token() == first


def test_patient_and_user_scopes_are_not_granted_to_a_backend(
    backend_sandbox: Sandbox, key: ECKey
) -> None:
    mixed = ask(
        backend_sandbox,
        assertion(key, token_url(backend_sandbox)),
        "system/Patient.rs patient/*.rs user/*.rs",
    )
    assert mixed.status_code == 200, mixed.text
    assert mixed.json()["scope"] == "system/Patient.rs"
    assert "refresh_token" not in mixed.json()

    none = ask(backend_sandbox, assertion(key, token_url(backend_sandbox)), "patient/*.rs")
    assert none.status_code == 400
    assert none.json()["error"] == "invalid_scope"


@pytest.mark.parametrize(
    ("case", "why"),
    [
        ("replayed jti", "JWT ID is used before"),
        ("wrong audience", "aud"),
        ("lives too long", "five minutes"),
        ("unknown client", "does not exist"),
        ("signed by another key", ""),
        ("an app, not a backend", "not a backend service"),
    ],
)
def test_bad_assertions_are_refused_with_why(
    backend_sandbox: Sandbox, key: ECKey, tmp_path: Path, case: str, why: str
) -> None:
    url = token_url(backend_sandbox)
    if case == "replayed jti":
        signed = assertion(key, url, jti="once-only")
        assert ask(backend_sandbox, signed).status_code == 200
        refused = ask(backend_sandbox, signed)
    elif case == "wrong audience":
        refused = ask(backend_sandbox, assertion(key, "https://elsewhere.example/token"))
    elif case == "lives too long":
        refused = ask(backend_sandbox, assertion(key, url, exp=int(time.time()) + 3600))
    elif case == "unknown client":
        refused = ask(backend_sandbox, assertion(key, url, client="nobody"))
    elif case == "signed by another key":
        other = load_or_create_key(tmp_path / "other.pem")
        refused = ask(backend_sandbox, assertion(other, url))
    else:
        refused = ask(backend_sandbox, assertion(key, url, client=CLIENT_ID))
    assert refused.status_code in (400, 401), refused.text
    body = refused.json()
    assert body["error"] == "invalid_client", body
    assert why in body.get("error_description", ""), body


def test_the_client_says_which_step_failed(backend_sandbox: Sandbox, tmp_path: Path) -> None:
    stranger = load_or_create_key(tmp_path / "stranger.pem")
    source = BackendServicesToken(backend_sandbox.fhir_base, BACKEND, stranger, scope="system/*.rs")
    with pytest.raises(BackendAuthError, match=r"^token request .*/oauth2/token: HTTP 40\d"):
        source.token()
    nowhere = BackendServicesToken("http://127.0.0.1:9/fhir", BACKEND, stranger, scope="x")
    with pytest.raises(BackendAuthError, match=r"^discovery http://127.0.0.1:9/fhir/"):
        nowhere.token()


def test_the_key_is_kept_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "var" / "backend_key.pem"
    first = load_or_create_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_key(path).thumbprint() == first.thumbprint()
    published = public_jwks(first)["keys"][0]
    assert "d" not in published  # never the private part
    assert published["kid"] == first.thumbprint() and published["alg"] == "ES384"
