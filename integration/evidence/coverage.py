"""Coverage: payer, plan and member id."""

from __future__ import annotations

from datetime import date
from typing import Any

from fhir.resources.R4B.coverage import Coverage

from integration.domain.evidence import CoverageFact
from integration.evidence.chart import ChartData
from integration.evidence.values import date_str, full_date, source_of

_SKIP = frozenset({"entered-in-error", "draft"})


def _payer(coverage: Any, chart: ChartData) -> tuple[str | None, str | None]:
    for payor in coverage.payor or []:
        resource = chart.resolve(payor.reference)
        name = getattr(resource, "name", None) if resource is not None else None
        if isinstance(name, str) and name:
            return name, source_of(resource)
        if payor.display:
            return payor.display, None
    return None, None


def _plan(coverage: Any) -> str | None:
    for cls in coverage.class_fhir or []:
        codes = {c.code for c in (cls.type.coding or [])} if cls.type else set()
        if "plan" in codes:
            return str(cls.name or cls.value)
    for cls in coverage.class_fhir or []:
        codes = {c.code for c in (cls.type.coding or [])} if cls.type else set()
        if "group" in codes:
            return str(cls.name or cls.value)
    return None


def _member_id(coverage: Any) -> str | None:
    if coverage.subscriberId:
        return str(coverage.subscriberId)
    for identifier in coverage.identifier or []:
        codes = {c.code for c in (identifier.type.coding or [])} if identifier.type else set()
        if "MB" in codes and identifier.value:
            return str(identifier.value)
    return None


def _current(status: str | None, start: str | None, end: str | None, as_of: date) -> bool:
    if status not in (None, "active"):
        return False
    first, last = full_date(start), full_date(end)
    return (first is None or first <= as_of) and (last is None or last >= as_of)


def extract_coverage(chart: ChartData, as_of: date) -> tuple[CoverageFact, ...]:
    found = []
    for coverage in chart.of_type(Coverage):
        if coverage.status in _SKIP:
            continue
        payer, payer_source = _payer(coverage, chart)
        period = coverage.period
        start = date_str(period.start) if period else None
        end = date_str(period.end) if period else None
        found.append(
            CoverageFact(
                payer=payer,
                plan=_plan(coverage),
                member_id=_member_id(coverage),
                status=coverage.status,
                start=start,
                end=end,
                current=_current(coverage.status, start, end, as_of),
                source=source_of(coverage),
                payer_source=payer_source,
            )
        )
    return tuple(sorted(found, key=lambda c: (c.current, c.start or "", c.source), reverse=True))
