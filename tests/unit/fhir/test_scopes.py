from __future__ import annotations

import pytest

from integration.fhir.scopes import can_read, can_search, missing
from integration.settings import Settings


@pytest.mark.parametrize(
    ("scope", "search"),
    [
        ("patient/Observation.rs", True),
        ("patient/Observation.read", True),
        ("patient/*.read", True),
        ("user/*.rs", True),
        ("patient/Observation.r", False),
        ("patient/Observation.cruds", True),
        ("patient/Observation.rs?category=laboratory", True),
        ("patient/Condition.rs", False),
        ("launch/patient", False),
    ],
)
def test_search_permission(scope: str, search: bool) -> None:
    assert can_search([scope], "Observation") is search


def test_read_and_missing() -> None:
    granted = ["openid", "patient/Patient.r", "patient/Observation.rs"]
    assert can_read(granted, "Patient") and not can_search(granted, "Patient")
    assert missing(granted, ["Observation", "Condition", "Media"]) == ["Condition", "Media"]


def test_issuers_setting() -> None:
    settings = Settings(
        issuers=" https://a.example/fhir/ , https://b.example/r4=other-client ,",
        client_id="derm-rcm",
    )
    assert settings.issuer_clients() == {
        "https://a.example/fhir": "derm-rcm",
        "https://b.example/r4": "other-client",
    }
    assert Settings(public_url="https://app.example/").secure_cookies
    assert not Settings().secure_cookies
