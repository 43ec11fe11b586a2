"""Which launched session a request belongs to: the cookie maps short keys to session ids."""

from __future__ import annotations

import secrets

from flask import current_app, session

from integration.store.smart_sessions import LaunchedSession
from smart_app.oauth import LaunchError
from smart_app.services import AppServices

MAX_LAUNCHES = 5


def services() -> AppServices:
    found = current_app.extensions["dermrcm"]
    assert isinstance(found, AppServices)
    return found


def remember(launched: LaunchedSession) -> str:
    """Keep the session id in the signed cookie under a short key (several tabs can be open)."""
    key = secrets.token_urlsafe(6)
    launches = dict(session.get("launches", {}))
    launches[key] = launched.id
    while len(launches) > MAX_LAUNCHES:
        launches.pop(next(iter(launches)))
    session["launches"] = launches
    session["latest"] = key
    return key


def launched(key: str | None) -> tuple[str, LaunchedSession]:
    """(key, session) for `key`, or for the latest launch when no key is given."""
    launches = session.get("launches", {})
    key = key or session.get("latest")
    session_id = launches.get(key) if key else None
    if key is None or session_id is None:
        raise LaunchError("expired-session", "No launched session in this browser.", 401)
    return key, services().session(session_id)


def forget(key: str) -> str | None:
    launches = dict(session.get("launches", {}))
    session_id: str | None = launches.pop(key, None)
    session["launches"] = launches
    if session.get("latest") == key:
        session.pop("latest", None)
    return session_id
