"""A third-party SMART client, PyPI `fhirclient` (smart-on-fhir/client-py), against the sandbox.

fhirclient 4.4 discovers the OAuth endpoints from the CapabilityStatement's oauth-uris
extension, sends PKCE S256 (code_challenge on authorize, code_verifier on the token request),
`aud` = its api_base, and `launch` for an EHR launch. The browser part (consent page) is done
here with requests; everything else is fhirclient's own code.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from fhirclient.client import FHIRClient
from fhirclient.models.condition import Condition
from fhirclient.models.observation import Observation
from fhirclient.server import FHIRUnauthorizedException
from sandbox_testkit import (
    CLIENT_ID,
    N_OBSERVATIONS,
    OTHER_PATIENT,
    PATIENT,
    REDIRECT_URI,
    SCORE_SYSTEM,
    Sandbox,
    query_of,
    submit,
)

pytestmark = pytest.mark.peer


def _client(sandbox: Sandbox, scope: str, launch: str | None = None) -> FHIRClient:
    settings: dict[str, Any] = {
        "app_id": CLIENT_ID,
        "api_base": sandbox.fhir_base,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
    }
    if launch is not None:
        settings["launch_token"] = launch
    return FHIRClient(settings=settings, save_func=lambda state: None)


def _browser(authorize_url: str, pick_patient: str | None = None) -> str:
    """What the user's browser does: (pick a patient,) press Allow; returns the callback URL."""
    page = requests.get(authorize_url, allow_redirects=False, timeout=10)
    if pick_patient is not None:
        page = submit(page, "picker", f"patient-{pick_patient}")
    assert page.status_code == 200, page.text
    redirect = submit(page, "consent", "allow")
    assert redirect.status_code == 302, redirect.text
    location: str = redirect.headers["Location"]
    return location


def test_fhirclient_completes_an_ehr_launch_refresh_and_search(sandbox: Sandbox) -> None:
    client = _client(sandbox, "patient/*.rs openid fhirUser offline_access", sandbox.launch_token())

    authorize_url = client.authorize_url
    params = query_of(authorize_url)
    assert authorize_url.startswith(sandbox.base_url + "/oauth2/authorize?")
    assert params["code_challenge_method"] == "S256", "fhirclient 4.4 sends PKCE"
    assert params["aud"] == sandbox.fhir_base
    assert params["scope"].split()[0] == "launch"

    client.handle_callback(_browser(authorize_url))

    assert client.ready
    assert client.patient_id == PATIENT
    assert client.launch_context["encounter"] == "enc-2"
    assert client.launch_context["need_patient_banner"] is False
    assert client.human_name(client.patient.name[0]) == "Avery Testperson"
    search = Observation.where(
        struct={"patient": client.patient_id, "code": f"{SCORE_SYSTEM}|pasi"}
    )
    observations = list(search.perform_resources_iter(client.server))
    assert len(observations) == 44  # every third of 130 from index 0
    assert {o.subject.reference for o in observations} == {f"Patient/{PATIENT}"}

    first_token = client.server.auth.access_token
    assert client.reauthorize(), "refresh with the refresh_token"
    assert client.server.auth.access_token != first_token
    conditions = list(
        Condition.where(struct={"patient": client.patient_id}).perform_resources_iter(client.server)
    )
    assert sorted(c.id for c in conditions) == ["cond-ad", "cond-psoriasis"]


def test_fhirclient_follows_every_page(sandbox: Sandbox) -> None:
    client = _client(sandbox, "patient/Observation.rs", sandbox.launch_token())
    client.handle_callback(_browser(client.authorize_url))

    search = Observation.where(struct={"patient": client.patient_id, "_count": "25"})
    pages = list(search.perform_iter(client.server))

    assert len(pages) == 6  # ceil(130 / 25)
    seen = [entry.resource.id for page in pages for entry in page.entry]
    assert len(seen) == len(set(seen)) == N_OBSERVATIONS


def test_fhirclient_standalone_launch_with_patient_picker(sandbox: Sandbox) -> None:
    client = _client(sandbox, "patient/*.rs")

    authorize_url = client.authorize_url
    assert "launch/patient" in query_of(authorize_url)["scope"].split()
    client.handle_callback(_browser(authorize_url, pick_patient=OTHER_PATIENT))

    assert client.patient_id == OTHER_PATIENT
    assert client.launch_context["need_patient_banner"] is True
    assert client.patient.gender == "male"


def test_fhirclient_sees_401_on_an_unknown_token(sandbox: Sandbox) -> None:
    client = _client(sandbox, "patient/*.rs", sandbox.launch_token())
    client.handle_callback(_browser(client.authorize_url))
    client.server.auth.access_token = "revoked-or-forged"

    with pytest.raises(FHIRUnauthorizedException) as raised:
        Observation.read("obs-001", client.server)

    assert raised.value.response.status_code == 401
