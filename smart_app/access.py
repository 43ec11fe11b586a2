"""Who may see the staff screens (interfaces, coding, denials): the admin token presented as
`Authorization: Bearer <token>` or Basic (any user, the token as password), or, with no token
set, a request from this machine that did not come through a proxy."""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress

from flask import request

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
