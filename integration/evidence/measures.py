"""Severity scores (PASI, EASI, DLQI, BSA, IGA, regional area) from Observations."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from integration.domain.evidence import MEASURE_KEYS, Component, Measure, Problem
from integration.evidence.values import codings_of, date_str, decimal_of, source_of
from integration.mapping.severity import MEASURE_OF_TARGET, REGION_OF_TARGET, SeverityMap

#: Observation statuses whose value is a fact. registered, preliminary, cancelled,
#: entered-in-error and unknown are not.
COUNTED_STATUSES = frozenset({"final", "amended", "corrected"})
_REGIONS = ("head-neck", "trunk", "upper-limbs", "lower-limbs")
_SUMMABLE = frozenset({"PASI", "EASI"})


def observation_date(obs: Any) -> str | None:
    for value in (obs.effectiveDateTime, obs.effectiveInstant):
        if value is not None:
            return date_str(value)
    if obs.effectivePeriod is not None and obs.effectivePeriod.start is not None:
        return date_str(obs.effectivePeriod.start)
    return None


def _value(holder: Any, target: str, severity: SeverityMap) -> tuple[Decimal | None, str | None]:
    """(value, the chart's words for it) of an Observation or a component."""
    if holder.valueQuantity is not None:
        return decimal_of(holder.valueQuantity.value), None
    if holder.valueInteger is not None:
        return Decimal(holder.valueInteger), None
    if holder.valueCodeableConcept is not None:
        concept = holder.valueCodeableConcept
        text = concept.text or next((c.display for c in concept.coding or [] if c.display), None)
        if MEASURE_OF_TARGET.get(target, ("",))[0] == "IGA":
            ordinal = severity.ordinal(codings_of(concept), concept.text)
            return (Decimal(ordinal) if ordinal is not None else None), text
        return None, text
    if holder.valueString is not None:
        return decimal_of(holder.valueString.strip().rstrip("%").strip()), holder.valueString
    return None, None


def _components(obs: Any, severity: SeverityMap, source: str) -> tuple[Component, ...]:
    out = []
    for comp in obs.component or []:
        target = severity.target(codings_of(comp.code), comp.code.text)
        region = REGION_OF_TARGET.get(target or "")
        if region is None or not (target or "").startswith("region-"):
            continue
        number, _text = _value(comp, target or "", severity)
        if number is not None:
            out.append(Component(region=region, value=number, source=source))
    return tuple(out)


def _measure_from(
    obs: Any, holder: Any, target: str, severity: SeverityMap, problems: list[Problem]
) -> tuple[str, Measure] | None:
    key, instrument = MEASURE_OF_TARGET[target]
    source = source_of(obs)
    when = observation_date(obs)
    if when is None:
        problems.append(
            Problem(source, f"{instrument}: expected an effective date, got none; not used")
        )
        return None
    number, text = _value(holder, target, severity)
    components = _components(holder, severity, source) if holder is obs else ()
    derived = None
    if number is None and key in _SUMMABLE and {c.region for c in components} == set(_REGIONS):
        number = sum((c.value for c in components), Decimal(0))
        derived = "sum of the 4 regional components"
    if number is None:
        reason = "a value"
        if getattr(holder, "dataAbsentReason", None) is not None:
            reason = "a value (the chart gives a data-absent reason)"
        problems.append(Problem(source, f"{instrument}: expected {reason}, got none; not used"))
        return None
    return key, Measure(
        value=number,
        unit="%" if key in ("BSA", "REGION_AREA") else None,  # the scores are unitless
        date=when,
        source=source,
        instrument=instrument,
        text=text,
        region=REGION_OF_TARGET.get(target) if key == "REGION_AREA" else None,
        components=components,
        derived=derived,
    )


def extract_measures(
    observations: list[Any], severity: SeverityMap, problems: list[Problem]
) -> dict[str, tuple[Measure, ...]]:
    """Counted severity scores by key, newest first. Statuses other than final/amended/corrected are skipped."""
    found: defaultdict[str, list[Measure]] = defaultdict(list)
    for obs in observations:
        if obs.status not in COUNTED_STATUSES:
            continue
        target = severity.target(codings_of(obs.code), obs.code.text if obs.code else None)
        if target in MEASURE_OF_TARGET:
            hit = _measure_from(obs, obs, target, severity, problems)
            if hit:
                found[hit[0]].append(hit[1])
            continue
        # A panel (e.g. "psoriasis assessment") may carry scores as components.
        for comp in obs.component or []:
            comp_target = severity.target(codings_of(comp.code), comp.code.text)
            if comp_target in MEASURE_OF_TARGET:
                hit = _measure_from(obs, comp, comp_target, severity, problems)
                if hit:
                    found[hit[0]].append(hit[1])
    return {
        key: tuple(sorted(found.get(key, []), key=lambda m: (m.date, m.source), reverse=True))
        for key in MEASURE_KEYS
    }
