"""The chart as read from a FHIR server: validated resources, indexed, plus what couldn't be read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from fhir.resources.R4B.resource import Resource

from integration.domain.evidence import Problem
from integration.evidence.fhir_json import parse_resources

R = TypeVar("R", bound=Resource)


@dataclass(slots=True)
class ChartData:
    """Resources for one patient (and what they reference), as fhir.resources R4B models."""

    patient_id: str
    resources: list[Resource] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    _by_type: dict[str, list[Resource]] = field(default_factory=dict, init=False, repr=False)
    _by_ref: dict[str, Resource] = field(default_factory=dict, init=False, repr=False)
    _pool: dict[str, dict[str, Any]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._index(self.resources)

    def _index(self, resources: Iterable[Resource]) -> None:
        by_type: defaultdict[str, list[Resource]] = defaultdict(list)
        for type_name, items in self._by_type.items():
            by_type[type_name].extend(items)
        for resource in resources:
            ref = f"{resource.get_resource_type()}/{resource.id}"
            if ref in self._by_ref:
                continue
            self._by_ref[ref] = resource
            by_type[resource.get_resource_type()].append(resource)
        self._by_type = dict(by_type)

    def extend(self, resources: Iterable[Resource]) -> None:
        """Add resources from another source (the HL7 feeds); ones already present are kept."""
        resources = list(resources)
        self.resources.extend(resources)
        self._index(resources)

    def of_type(self, cls: type[R]) -> list[R]:
        """Resources of one type, as that model class: `chart.of_type(Observation)`."""
        return cast(list[R], self._by_type.get(cls.get_resource_type(), []))

    def pool(self, raws: Iterable[dict[str, Any]]) -> None:
        """Resources read but not validated: validated on first `resolve`, not listed by `of_type`."""
        for raw in raws:
            self._pool.setdefault(f"{raw.get('resourceType')}/{raw.get('id')}", raw)

    def resolve(self, reference: str | None) -> Resource | None:
        """A resource by a relative reference ('Organization/1'); absolute URLs by their tail."""
        if not reference:
            return None
        parts = reference.split("/_history/")[0].rstrip("/").split("/")
        if len(parts) < 2:
            return None
        key = f"{parts[-2]}/{parts[-1]}"
        found = self._by_ref.get(key)
        if found is None and key in self._pool:
            models, problems = parse_resources([self._pool.pop(key)])
            self.problems.extend(problems)
            for model in models:
                self._by_ref[key] = model
                found = model
        return found
