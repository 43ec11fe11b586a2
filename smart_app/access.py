"""Who may use the app's screens. Staff screens (interfaces, coding, denials): the admin token
presented as `Authorization: Bearer <token>` or Basic (any user, the token as password), or,
with no token set, a request from this machine that did not come through a proxy. Every form
post must come from one of our own pages. A clinician is a launched user whose fhirUser is a
Practitioner."""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from urllib.parse import urlsplit

from flask import request

from integration.store.pa_reviews import is_practitioner
from integration.store.smart_sessions import LaunchedSession

PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def presented_token() -> str | None:
    """The token in `Authorization: Bearer <token>` or Basic (any user, the token as password)."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return value.strip() or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


def same_secret(presented: str, token: str) -> bool:
    """Constant-time comparison of a presented token with the configured one."""
    return hmac.compare_digest(presented.encode("utf-8"), token.encode("utf-8"))


def from_loopback() -> bool:
    """The request came from this machine, and not through a proxy on it."""
    if any(name in request.headers for name in PROXY_HEADERS):
        return False
    address = (request.remote_addr or "").split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def posted_from_another_site() -> bool:
    """CSRF: True when a form post did not come from one of our own pages (Sec-Fetch-Site, else
    Origin or Referer; a post naming neither is let through, as browsers always send one)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if origin:
        parts = urlsplit(origin)
        return f"{parts.scheme}://{parts.netloc}" != request.host_url.rstrip("/")
    return False


def clinician_ref(session: LaunchedSession) -> str | None:
    """The signed-in user as a Practitioner reference ("Practitioner/id" when the fhirUser is
    on the launching EHR's FHIR base), or None when they are not a Practitioner."""
    user = session.fhir_user
    if not user:
        return None
    base = session.iss.rstrip("/") + "/"
    reference = user[len(base) :] if user.startswith(base) else user
    return reference if is_practitioner(reference) else None
