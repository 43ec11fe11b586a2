"""Who may use the app's screens. Staff screens (interfaces, coding, denials): the admin token
presented as `Authorization: Bearer <token>` or Basic (any user, the token as password), or,
with no token set, a request from this machine that did not come through a proxy. Every form
post must come from one of our own pages. A clinician is a launched user whose fhirUser is a
Practitioner."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app, redirect, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from integration.settings import Settings
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


@dataclass(frozen=True, slots=True)
class StaffCookie:
    """The signed cookie that stands for the admin token on one group of staff screens, after
    a sign-in with the token. Its salt holds a digest of the token, so a new token signs
    everyone out; it never holds the token itself."""

    name: str  # "dermrcm_interfaces"
    purpose: str  # "interfaces": what the cookie is for (its salt and its value)

    def _serializer(self, token: str) -> URLSafeTimedSerializer:
        digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
        return URLSafeTimedSerializer(current_app.secret_key or "", salt=f"{self.purpose}:{digest}")

    def access(self, settings: Settings) -> str | None:
        """How this request may see the screens ("bearer", "basic", "cookie", "loopback"), or
        None: the token presented or this cookie, or loopback while no token is set."""
        token = settings.admin_token
        if not token:
            return "loopback" if from_loopback() else None
        presented = presented_token()
        if presented is not None and same_secret(presented, token):
            return request.headers.get("Authorization", "").partition(" ")[0].lower()
        cookie = request.cookies.get(self.name)
        if cookie:
            try:
                self._serializer(token).loads(cookie, max_age=int(settings.session_hours * 3600))
            except BadSignature:
                return None
            return "cookie"
        return None

    def sign_in(self, settings: Settings, target: str, path: str) -> Response | str:
        """The posted form's admin token exchanged for this cookie (valid under `path`) and a
        redirect to `target`; with no token set, loopback goes straight on. Refused: "remote"
        (no token set and not loopback) or "wrong-token"."""
        token = settings.admin_token
        if not token:
            return redirect(target, code=303) if from_loopback() else "remote"
        presented = request.form.get("token", "")
        if not presented or not same_secret(presented, token):
            return "wrong-token"
        response = redirect(target, code=303)
        response.set_cookie(
            self.name,
            self._serializer(token).dumps(self.purpose),
            max_age=int(settings.session_hours * 3600),
            path=path,
            secure=settings.secure_cookies,
            httponly=True,
            samesite="Strict",
        )
        return response
