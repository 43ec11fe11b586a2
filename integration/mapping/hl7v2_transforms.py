"""The closed registry of `$transform` names the HL7 v2 maps may use.

A transform takes the object a map built (for example a CodeableConcept) and returns it,
possibly enriched from other mapping data. Adding one is a code change on purpose: the maps
themselves stay data.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from integration.mapping.evidence_maps import EvidenceMaps, load_evidence_maps
from integration.mapping.hl7v2 import Hl7Maps, Transform, load_hl7_maps
from integration.mapping.severity import Coding

DERM_SEVERITY = "http://derm-rcm.org/fhir/CodeSystem/derm-severity"


def _derm_severity(maps: EvidenceMaps) -> Transform:
    """Add our severity coding (PASI, EASI, DLQI, BSA %, IGA) when the severity maps know the code."""

    def transform(concept: Any) -> Any:
        if not isinstance(concept, dict):
            return concept
        codings = concept.get("coding") or []
        local = [Coding(c.get("system"), c.get("code"), c.get("display")) for c in codings]
        target = maps.severity.target(local, concept.get("text"))
        if target is None or any(c.get("system") == DERM_SEVERITY for c in codings):
            return concept
        return {**concept, "coding": [{"system": DERM_SEVERITY, "code": target}, *codings]}

    return transform


def _shifted(instant: str, minutes: int) -> str:
    """An R4 instant moved by `minutes`, in the offset and precision it was written with."""
    moment = datetime.fromisoformat(instant) + timedelta(minutes=minutes)
    _, dot, fraction = instant[19:].partition(".")
    digits = len(fraction) - len(fraction.lstrip("0123456789")) if dot else 0
    timespec = "seconds" if not digits else "milliseconds" if digits <= 3 else "microseconds"
    text = moment.isoformat(timespec=timespec)
    return text[:-6] + "Z" if instant.endswith("Z") and text.endswith("+00:00") else text


def _appointment_times(appointment: Any) -> Any:
    """An Appointment's start and end as a pair (R4: both or neither, invariant app-3's
    precondition): the one not sent comes from the other and `minutesDuration` (SCH-9, AIS-7),
    so a feed that books a start and a length, and no end (SCH-11.5, TQ1-8 are optional), keeps
    its time; a lone start or end with no duration is left out, as before, never guessed."""
    if not isinstance(appointment, dict):
        return appointment
    start, end = appointment.get("start"), appointment.get("end")
    minutes = appointment.get("minutesDuration")
    if (start is None) == (end is None):
        return appointment
    out = dict(appointment)
    if isinstance(minutes, int) and minutes > 0:
        if isinstance(start, str):
            out["end"] = _shifted(start, minutes)
        elif isinstance(end, str):
            out["start"] = _shifted(end, -minutes)
    else:
        out.pop("start", None)
        out.pop("end", None)
    return out


def hl7_transforms(maps: EvidenceMaps) -> Mapping[str, Transform]:
    return {"derm-severity": _derm_severity(maps), "appointment-times": _appointment_times}


def load_feed_maps(root: Path | None = None) -> Hl7Maps:
    """The HL7 v2 maps with the transform registry bound to the evidence maps."""
    return load_hl7_maps(root, hl7_transforms(load_evidence_maps(root)))
