"""JSON resources to fhir.resources R4B models; a resource that fails validation is reported, not fatal."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from integration.domain.evidence import Problem


def _where(raw: dict[str, Any]) -> str:
    return f"{raw.get('resourceType', '?')}/{raw.get('id', '?')}"


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:3]:
        loc = ".".join(str(p) for p in item.get("loc", ()) if p != "__root__")
        parts.append(f"{loc or '(resource)'}: {item.get('msg', 'invalid')}")
    more = error.error_count() - 3
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def parse_resources(raws: Iterable[dict[str, Any]]) -> tuple[list[Resource], list[Problem]]:
    models: list[Resource] = []
    problems: list[Problem] = []
    for raw in raws:
        type_name = raw.get("resourceType")
        if not isinstance(type_name, str):
            problems.append(
                Problem(_where(raw), "resourceType: expected a FHIR resource type, got none")
            )
            continue
        try:
            cls = get_fhir_model_class(type_name)
        except KeyError:
            problems.append(
                Problem(
                    _where(raw), f"resourceType: expected an R4 resource type, got {type_name!r}"
                )
            )
            continue
        try:
            model = cls.model_validate(raw)
            assert isinstance(model, Resource)
            models.append(model)
        except ValidationError as exc:
            problems.append(
                Problem(_where(raw), f"failed FHIR R4 validation, not used: {_describe(exc)}")
            )
    return models, problems
