"""Click through an EHR launch with requests: sandbox patient list -> app -> consent -> evidence."""

from __future__ import annotations

from urllib.parse import urljoin

import requests

from tests.support.html_forms import parse_page, press


def follow(
    session: requests.Session, response: requests.Response, limit: int = 10
) -> requests.Response:
    """Follow redirects one by one (so cookies of both hosts are kept by the session)."""
    for _ in range(limit):
        if not response.is_redirect:
            return response
        response = session.get(
            urljoin(response.url, response.headers["Location"]), allow_redirects=False, timeout=30
        )
    raise AssertionError("too many redirects")


def ehr_launch(
    session: requests.Session,
    sandbox_url: str,
    patient_id: str,
    *,
    decision: str = "allow",
    untick: tuple[str, ...] = (),
) -> requests.Response:
    """Launch the app for `patient_id` from the sandbox's patient list; returns the final page."""
    listing = session.get(f"{sandbox_url}/", timeout=30)
    response = follow(session, press(listing, f"launch-{patient_id}", session=session))
    _forms, ids = parse_page(response.text)
    if decision in ids:
        response = follow(session, press(response, decision, untick=untick, session=session))
    return response


def standalone_launch(
    session: requests.Session, app_url: str, iss: str, patient_id: str, *, decision: str = "allow"
) -> requests.Response:
    """Standalone launch (ModMed EMA style): start page -> EHR sign-in -> patient picker -> consent."""
    response = follow(
        session,
        session.get(f"{app_url}/launch", params={"iss": iss}, allow_redirects=False, timeout=30),
    )
    _forms, ids = parse_page(response.text)
    if f"patient-{patient_id}" in ids:
        response = follow(session, press(response, f"patient-{patient_id}", session=session))
        _forms, ids = parse_page(response.text)
    if decision in ids:
        response = follow(session, press(response, decision, session=session))
    return response
