"""The SMART authorization-code flow with PKCE, over HTTP, the way an app and a user do it."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from sandbox_testkit import (
    CLIENT_ID,
    OTHER_CLIENT_ID,
    OTHER_PATIENT,
    OTHER_REDIRECT_URI,
    PATIENT,
    REDIRECT_URI,
    Sandbox,
    parse_page,
    pkce_pair,
    query_of,
    submit,
)


def _error_redirect(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI), location
    return query_of(location)


def test_ehr_launch_consent_and_token_carry_the_launch_context(sandbox: Sandbox) -> None:
    verifier, challenge = pkce_pair()
    launch = sandbox.launch_token(PATIENT)
    scope = "launch openid fhirUser patient/*.rs offline_access"

    consent = sandbox.authorize(scope, launch=launch, challenge=challenge)

    assert consent.status_code == 200
    forms, element_ids = parse_page(consent.text)
    assert {"allow", "deny"} <= element_ids
    assert "Avery Testperson" in consent.text
    assert sorted(v for _, v in forms["consent"].checkboxes.values()) == sorted(scope.split())
    redirect = submit(consent, "consent", "allow")
    callback = _error_redirect(redirect)
    assert callback["state"] == "state-123"

    response = sandbox.exchange(callback["code"], verifier)

    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    token = response.json()
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 300
    assert token["scope"].split() == scope.split()
    assert token["patient"] == PATIENT
    assert token["encounter"] == "enc-2", "the patient's latest encounter"
    assert token["need_patient_banner"] is False
    assert token["smart_style_url"] == sandbox.base_url + "/smart-style.json"
    assert token["refresh_token"]
    style = requests.get(token["smart_style_url"], timeout=10).json()
    assert style["color_highlight"]


def test_id_token_is_signed_by_the_published_key(
    sandbox: Sandbox, patient_token: dict[str, Any]
) -> None:
    jwks = requests.get(sandbox.base_url + "/oauth2/jwks", timeout=10).json()

    decoded = jwt.decode(
        patient_token["id_token"], KeySet.import_key_set(jwks), algorithms=["RS256"]
    )

    claims = decoded.claims
    assert decoded.header["alg"] == "RS256"
    assert claims["iss"] == sandbox.fhir_base
    assert claims["aud"] == CLIENT_ID
    assert claims["sub"] == "dr-1"
    assert claims["fhirUser"] == sandbox.fhir_base + "/Practitioner/dr-1"
    assert claims["iat"] <= time.time() < claims["exp"]
    practitioner = sandbox.get(claims["fhirUser"], patient_token["access_token"])
    assert practitioner.status_code == 200
    assert practitioner.json()["name"][0]["family"] == "Derm"


def test_id_token_carries_the_nonce_and_is_absent_without_openid(sandbox: Sandbox) -> None:
    with_nonce = sandbox.token("launch openid fhirUser", extra={"nonce": "n-0S6_WzA2Mj"})
    claims = json.loads(base64.urlsafe_b64decode(with_nonce["id_token"].split(".")[1] + "=="))
    assert claims["nonce"] == "n-0S6_WzA2Mj"

    without = sandbox.token("launch patient/Patient.rs")
    assert "id_token" not in without
    assert "refresh_token" not in without, "no offline_access or online_access asked for"


def test_standalone_launch_shows_a_patient_picker(sandbox: Sandbox) -> None:
    verifier, challenge = pkce_pair()
    picker = sandbox.authorize("launch/patient patient/*.rs", challenge=challenge)

    assert picker.status_code == 200
    _, element_ids = parse_page(picker.text)
    assert {f"patient-{PATIENT}", f"patient-{OTHER_PATIENT}"} <= element_ids
    assert "Blake Otherperson" in picker.text
    assert "1975-09-30" in picker.text
    consent = submit(picker, "picker", f"patient-{OTHER_PATIENT}")
    assert "Blake Otherperson" in consent.text
    callback = _error_redirect(submit(consent, "consent", "allow"))

    token = sandbox.exchange(callback["code"], verifier).json()

    assert token["patient"] == OTHER_PATIENT
    assert "encounter" not in token, "launch/encounter was not asked for"
    assert token["need_patient_banner"] is True


def test_standalone_launch_encounter_gets_the_latest_encounter(sandbox: Sandbox) -> None:
    token = sandbox.token(
        "launch/patient launch/encounter patient/*.rs", ehr_patient=None, pick_patient=PATIENT
    )
    assert token["encounter"] == "enc-2"


def test_pkce_is_required_at_the_authorize_step(sandbox: Sandbox) -> None:
    launch = sandbox.launch_token()

    missing = _error_redirect(sandbox.authorize("launch patient/*.rs", launch=launch))
    plain = _error_redirect(
        sandbox.authorize("launch patient/*.rs", launch=launch, challenge="a" * 43, method="plain")
    )

    assert missing["error"] == "invalid_request"
    assert "code_challenge" in missing["error_description"]
    assert missing["state"] == "state-123"
    assert plain["error"] == "invalid_request"
    assert "expected S256" in plain["error_description"]


def test_token_exchange_needs_the_right_verifier(sandbox: Sandbox) -> None:
    code, verifier = sandbox.code_for("launch patient/*.rs")

    wrong = sandbox.exchange(code, pkce_pair()[0])
    missing = sandbox.exchange(code, None)
    right = sandbox.exchange(code, verifier)
    replayed = sandbox.exchange(code, verifier)

    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    assert right.status_code == 200
    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_grant", "a code works once"


def test_code_is_bound_to_client_and_redirect_uri(sandbox: Sandbox) -> None:
    code, verifier = sandbox.code_for("launch patient/*.rs")

    other_redirect = sandbox.exchange(code, verifier, redirect_uri=REDIRECT_URI + "x")
    other_client = sandbox.exchange(
        code, verifier, client_id=OTHER_CLIENT_ID, redirect_uri=OTHER_REDIRECT_URI
    )

    assert other_redirect.json()["error"] == "invalid_grant"
    assert other_client.json()["error"] == "invalid_grant"


def test_aud_must_be_the_fhir_base(sandbox: Sandbox) -> None:
    launch = sandbox.launch_token()
    _, challenge = pkce_pair()

    wrong = _error_redirect(
        sandbox.authorize(
            "launch patient/*.rs",
            launch=launch,
            challenge=challenge,
            aud="https://evil.example/fhir",
        )
    )

    assert wrong["error"] == "invalid_request"
    assert "aud: expected the FHIR base URL " + sandbox.fhir_base in wrong["error_description"]
    assert "https://evil.example/fhir" in wrong["error_description"]
    trailing_slash = sandbox.authorize(
        "launch patient/*.rs", launch=launch, challenge=challenge, aud=sandbox.fhir_base + "/"
    )
    assert trailing_slash.status_code == 200, "the consent page: aud accepted"


def test_unknown_or_misused_launch_tokens_are_refused(sandbox: Sandbox) -> None:
    _, challenge = pkce_pair()

    unknown = _error_redirect(
        sandbox.authorize("launch patient/*.rs", launch="made-up-launch", challenge=challenge)
    )
    no_launch_scope = _error_redirect(
        sandbox.authorize("patient/*.rs", launch=sandbox.launch_token(), challenge=challenge)
    )
    launch_scope_without_launch = _error_redirect(
        sandbox.authorize("launch patient/*.rs", challenge=challenge)
    )

    assert unknown["error"] == "invalid_request"
    assert "launch: unknown launch token" in unknown["error_description"]
    assert no_launch_scope["error"] == "invalid_request"
    assert "needs the 'launch' scope" in no_launch_scope["error_description"]
    assert "no launch parameter" in launch_scope_without_launch["error_description"]


def test_launch_token_of_another_client_is_refused(sandbox: Sandbox) -> None:
    _, challenge = pkce_pair()
    response = sandbox.authorize(
        "launch patient/*.rs",
        launch=sandbox.launch_token(),
        challenge=challenge,
        client_id=OTHER_CLIENT_ID,
        redirect_uri=OTHER_REDIRECT_URI,
    )
    assert response.status_code == 302
    params = query_of(response.headers["Location"])
    assert params["error"] == "invalid_request"
    assert f"issued for client '{CLIENT_ID}'" in params["error_description"]


def test_expired_launch_token_is_refused(start_sandbox_with: Callable[..., Sandbox]) -> None:
    sandbox = start_sandbox_with(launch_token_lifetime=1)
    launch = sandbox.launch_token()
    time.sleep(1.1)
    _, challenge = pkce_pair()

    params = _error_redirect(
        sandbox.authorize("launch patient/*.rs", launch=launch, challenge=challenge)
    )

    assert params["error"] == "invalid_request"
    assert "expired" in params["error_description"]


def test_readable_launch_tokens_carry_their_context(
    start_sandbox_with: Callable[..., Sandbox],
) -> None:
    sandbox = start_sandbox_with(opaque_launch_tokens=False)
    launch = sandbox.launch_token(OTHER_PATIENT)
    payload = json.loads(base64.urlsafe_b64decode(launch + "=" * (-len(launch) % 4)))
    assert payload["patient"] == OTHER_PATIENT
    assert payload["client_id"] == CLIENT_ID

    token = sandbox.token("launch patient/*.rs", ehr_patient=OTHER_PATIENT)
    assert token["patient"] == OTHER_PATIENT
    assert token["encounter"] == "enc-9"

    expired = dict(payload, exp=time.time() - 5)
    forged = base64.urlsafe_b64encode(json.dumps(expired).encode()).decode().rstrip("=")
    _, challenge = pkce_pair()
    params = _error_redirect(
        sandbox.authorize("launch patient/*.rs", launch=forged, challenge=challenge)
    )
    assert "expired" in params["error_description"]


def test_deny_redirects_with_access_denied(sandbox: Sandbox) -> None:
    _, challenge = pkce_pair()
    consent = sandbox.authorize(
        "launch patient/*.rs", launch=sandbox.launch_token(), challenge=challenge
    )

    params = _error_redirect(submit(consent, "consent", "deny"))

    assert params["error"] == "access_denied"
    assert params["state"] == "state-123"
    assert "code" not in params


def test_unticked_scopes_are_not_granted(sandbox: Sandbox) -> None:
    token = sandbox.token(
        "launch patient/Patient.rs patient/Observation.rs", untick=("patient/Observation.rs",)
    )

    assert token["scope"].split() == ["launch", "patient/Patient.rs"]
    denied = sandbox.get("/Observation", token["access_token"])
    assert denied.status_code == 403
    assert sandbox.get(f"/Patient/{PATIENT}", token["access_token"]).status_code == 200


def test_unknown_scopes_are_dropped_from_the_grant(sandbox: Sandbox) -> None:
    _, challenge = pkce_pair()
    consent = sandbox.authorize(
        "launch patient/Observation.rs bogus patient/Nonsense.rs patient/Observation.xyz",
        launch=sandbox.launch_token(),
        challenge=challenge,
    )
    assert "bogus" in consent.text  # listed as not recognised
    forms, _ = parse_page(consent.text)
    assert [v for _, v in forms["consent"].checkboxes.values()] == [
        "launch",
        "patient/Observation.rs",
    ]

    token = sandbox.token("launch patient/Observation.rs bogus patient/Nonsense.rs")
    assert token["scope"] == "launch patient/Observation.rs"


def test_unregistered_redirect_uri_is_not_redirected_to(sandbox: Sandbox) -> None:
    _, challenge = pkce_pair()
    response = sandbox.authorize(
        "launch patient/*.rs",
        launch=sandbox.launch_token(),
        challenge=challenge,
        redirect_uri="http://127.0.0.1:9/elsewhere",
    )
    unknown_client = sandbox.authorize("launch/patient", challenge=challenge, client_id="nobody")

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "not supported by client" in response.text
    assert unknown_client.status_code == 400
    assert "invalid_client" in unknown_client.text


def test_refresh_gives_a_new_token_with_the_same_context(
    start_sandbox_with: Callable[..., Sandbox],
) -> None:
    sandbox = start_sandbox_with(access_token_lifetime=1)
    first = sandbox.token("launch patient/*.rs offline_access")
    assert first["expires_in"] == 1
    assert sandbox.get("/Condition", first["access_token"]).status_code == 200

    time.sleep(1.2)
    expired = sandbox.get("/Condition", first["access_token"])
    refreshed = sandbox.refresh(first["refresh_token"])

    assert expired.status_code == 401
    assert "expired" in expired.headers["WWW-Authenticate"]
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["access_token"] != first["access_token"]
    for key in ("patient", "encounter", "scope", "need_patient_banner"):
        assert second[key] == first[key], key
    assert sandbox.get("/Condition", second["access_token"]).status_code == 200
    again = sandbox.refresh(first["refresh_token"])
    assert again.status_code == 200, "refresh tokens are not rotated"


def test_refresh_with_unknown_token_or_client_is_refused(
    sandbox: Sandbox, patient_token: dict[str, Any]
) -> None:
    unknown = sandbox.refresh("not-a-refresh-token")
    other_client = sandbox.refresh(patient_token["refresh_token"], client_id=OTHER_CLIENT_ID)

    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_grant"
    assert other_client.json()["error"] == "invalid_grant"


def test_refresh_may_narrow_the_scope(sandbox: Sandbox) -> None:
    first = sandbox.token("launch patient/Patient.rs patient/Observation.rs online_access")
    narrowed = requests.post(
        sandbox.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": CLIENT_ID,
            "scope": "patient/Patient.rs",
        },
        timeout=10,
    ).json()

    assert narrowed["scope"] == "patient/Patient.rs"
    assert sandbox.get("/Observation", narrowed["access_token"]).status_code == 403


def test_auto_approve_skips_the_consent_page(start_sandbox_with: Callable[..., Sandbox]) -> None:
    sandbox = start_sandbox_with(auto_approve=True)
    verifier, challenge = pkce_pair()

    response = sandbox.authorize(
        "launch patient/*.rs", launch=sandbox.launch_token(), challenge=challenge
    )

    params = _error_redirect(response)
    token = sandbox.exchange(params["code"], verifier).json()
    assert token["patient"] == PATIENT


def test_a_decision_other_than_allow_or_deny_is_refused(sandbox: Sandbox) -> None:
    _, challenge = pkce_pair()
    consent = sandbox.authorize(
        "launch patient/*.rs", launch=sandbox.launch_token(), challenge=challenge
    )
    forms, _ = parse_page(consent.text)
    response = requests.post(
        consent.url.split("?")[0],
        data=[*forms["consent"].fields, ("sandbox_decision", "maybe")],
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 400
    assert "expected allow or deny" in response.text


def test_plain_http_works_on_a_non_loopback_host_name(sandbox: Sandbox) -> None:
    """Docker service names and LAN addresses: authlib alone would answer insecure_transport."""
    host = {"Host": "ehr-sandbox.internal:" + sandbox.base_url.rsplit(":", 1)[1]}
    verifier, challenge = pkce_pair()
    launch = sandbox.launch_token()
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "launch patient/*.rs",
        "state": "s",
        "aud": sandbox.fhir_base,
        "launch": launch,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "sandbox_decision": "allow",
        "sandbox_scope": "patient/*.rs",
    }
    authorized = requests.post(
        sandbox.authorize_url, data=params, headers=host, allow_redirects=False, timeout=10
    )
    assert authorized.status_code == 302, authorized.text
    code = query_of(authorized.headers["Location"])["code"]

    token = requests.post(
        sandbox.token_url,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": CLIENT_ID,
            "code_verifier": verifier,
        },
        headers=host,
        timeout=10,
    )

    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "patient/*.rs"
