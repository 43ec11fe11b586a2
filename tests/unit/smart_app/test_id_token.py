from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from smart_app.oauth import LaunchError, fhir_user_from_id_token

ISS = "https://ehr.example/fhir"


def sign(key: RSAKey, **claims: object) -> str:
    now = int(time.time())
    body = {
        "iss": ISS,
        "aud": "derm-rcm",
        "sub": "u1",
        "iat": now,
        "exp": now + 300,
        "fhirUser": f"{ISS}/Practitioner/p1",
        **claims,
    }
    return jwt.encode({"alg": "RS256", "kid": key.kid}, body, key)


def key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid})


def keys_of(*keys: RSAKey) -> KeySet:
    return KeySet.import_key_set({"keys": [k.as_dict(private=False) for k in keys]})


def test_verified_fhir_user() -> None:
    signer = key("a")
    assert (
        fhir_user_from_id_token(
            sign(signer), keys=lambda _r: keys_of(signer), issuer=ISS, client_id="derm-rcm"
        )
        == f"{ISS}/Practitioner/p1"
    )


def test_rotated_key_is_fetched_once_more() -> None:
    old, new = key("old"), key("new")
    asked: list[bool] = []

    def keys(refresh: bool) -> KeySet:
        asked.append(refresh)
        return keys_of(new) if refresh else keys_of(old)

    assert (
        fhir_user_from_id_token(sign(new), keys=keys, issuer=ISS, client_id="derm-rcm") is not None
    )
    assert asked == [False, True]


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"aud": "another-app"}, "aud"),
        ({"iss": "https://evil.example"}, "iss"),
        ({"exp": int(time.time()) - 3600}, "exp"),
    ],
)
def test_wrong_audience_issuer_or_expired_token_is_refused(
    claims: dict[str, object], why: str
) -> None:
    signer = key("a")
    with pytest.raises(LaunchError, match="id_token") as info:
        fhir_user_from_id_token(
            sign(signer, **claims),
            keys=lambda _r: keys_of(signer),
            issuer=ISS,
            client_id="derm-rcm",
        )
    assert why in info.value.detail


def test_token_signed_by_someone_else_is_refused() -> None:
    with pytest.raises(LaunchError, match="id_token: expected a token signed by"):
        fhir_user_from_id_token(
            sign(key("x")), keys=lambda _r: keys_of(key("a")), issuer=ISS, client_id="derm-rcm"
        )
