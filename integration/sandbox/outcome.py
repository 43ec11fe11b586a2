"""Errors as FHIR OperationOutcome, mapped to an HTTP status in one place."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from flask import Response

FHIR_JSON = "application/fhir+json; charset=utf-8"

Severity = Literal["fatal", "error", "warning", "information"]


class FhirError(Exception):
    """A request the FHIR endpoint answers with an OperationOutcome.

    `code` is the OperationOutcome issue type (invalid, not-found, forbidden, login, ...);
    `diagnostics` says where and what: `date: expected ..., got 'xx2024'`.
    """

    def __init__(
        self,
        status: int,
        code: str,
        diagnostics: str,
        *,
        expression: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.code = code
        self.diagnostics = diagnostics
        self.expression = expression
        self.headers = dict(headers or {})

    def to_response(self) -> Response:
        body = operation_outcome(
            [
                issue(
                    "error" if self.status < 500 else "fatal",
                    self.code,
                    self.diagnostics,
                    self.expression,
                )
            ]
        )
        return fhir_response(body, self.status, self.headers)


def issue(
    severity: Severity, code: str, diagnostics: str, expression: str | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        item["expression"] = [expression]
    return item


def operation_outcome(issues: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": issues}


def fhir_response(
    body: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    response = Response(text.encode("utf-8"), status=status, content_type=FHIR_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
