"""Errors talking to a FHIR server, each saying where and what."""

from __future__ import annotations


class FhirError(Exception):
    """Base class. `url` is the request that failed (no query string, so no patient ids)."""

    kind = "fhir-error"

    def __init__(self, message: str, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class FhirUnavailable(FhirError):
    """Connection refused, DNS failure, TLS failure: the server could not be reached."""

    kind = "fhir-unavailable"


class FhirTimeout(FhirError):
    """The server took longer than the configured timeout."""

    kind = "fhir-timeout"


class FhirUnauthorized(FhirError):
    """401: the token was refused (expired or revoked) and refreshing did not help."""

    kind = "fhir-unauthorized"


class FhirForbidden(FhirError):
    """403: the token lacks a scope for this resource type."""

    kind = "fhir-forbidden"


class FhirBadResponse(FhirError):
    """The server answered, but not with usable FHIR (not JSON, not a Bundle, a paging loop...)."""

    kind = "fhir-bad-response"


class FhirHttpError(FhirError):
    """Any other HTTP error status, with the server's OperationOutcome diagnostics."""

    kind = "fhir-http-error"

    def __init__(self, message: str, url: str | None = None, status: int = 0) -> None:
        super().__init__(message, url)
        self.status = status
