"""The order being authorized, read from a FHIR MedicationRequest or ServiceRequest (JSON), and
the ordering practitioner's specialty from a Practitioner or PractitionerRole. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from integration.domain.priorauth import Code, OrderFact, Prescriber
from integration.fhir.resource_check import check_resource
from integration.mapping.loader import MappingDocument
from integration.mapping.text import PhraseMatcher

ORDER_TYPES = ("MedicationRequest", "ServiceRequest")


class OrderError(ValueError):
    """An order that can't be assessed, with where and what."""


def _codes(concept: Mapping[str, Any] | None) -> tuple[Code, ...]:
    if not concept:
        return ()
    return tuple(
        Code(str(c.get("system") or ""), str(c["code"]), c.get("display"))
        for c in concept.get("coding") or []
        if c.get("code")
    )


def _text(concept: Mapping[str, Any] | None) -> str:
    if not concept:
        return ""
    if concept.get("text"):
        return str(concept["text"])
    displays = [c["display"] for c in concept.get("coding") or [] if c.get("display")]
    return str(displays[0]) if displays else ""


def _reference(value: Mapping[str, Any] | None) -> str | None:
    ref = (value or {}).get("reference")
    return str(ref) if ref else None


def _medication(resource: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The medication concept: inline, or a contained Medication's code."""
    if resource.get("medicationCodeableConcept"):
        concept: Mapping[str, Any] = resource["medicationCodeableConcept"]
        return concept
    ref = _reference(resource.get("medicationReference"))
    if ref and ref.startswith("#"):
        for contained in resource.get("contained") or []:
            if contained.get("resourceType") == "Medication" and contained.get("id") == ref[1:]:
                code: Mapping[str, Any] | None = contained.get("code")
                return code
    display = (resource.get("medicationReference") or {}).get("display")
    return {"text": display} if display else None


def order_from_fhir(resource: Any, *, where: str = "order") -> OrderFact:
    """An OrderFact from a MedicationRequest or ServiceRequest; OrderError saying what is wrong
    and where (`order.json: MedicationRequest.status: ...`) for anything else."""
    if not isinstance(resource, Mapping):
        raise OrderError(
            f"{where}: expected a FHIR resource (a JSON object), got {type(resource).__name__}"
        )
    kind = resource.get("resourceType")
    if kind not in ORDER_TYPES:
        raise OrderError(
            f"{where}: resourceType: expected MedicationRequest or ServiceRequest, got {kind!r}"
        )
    problem = check_resource(dict(resource))
    if problem is not None:
        raise OrderError(f"{where}: {problem.path}: {problem.message}")
    ident = resource.get("id")
    source = f"{kind}/{ident}" if ident else f"{kind}/(no id)"
    reasons = tuple(c for concept in resource.get("reasonCode") or [] for c in _codes(concept))
    if kind == "MedicationRequest":
        concept = _medication(resource)
        if not concept:
            raise OrderError(
                f"{where}: MedicationRequest.medication[x]: expected the drug ordered, got nothing"
            )
        repeat = ((resource.get("dosageInstruction") or [{}])[0].get("timing") or {}).get(
            "repeat"
        ) or {}
        start = (repeat.get("boundsPeriod") or {}).get("start")
        dispensed = ((resource.get("dispenseRequest") or {}).get("quantity") or {}).get("value")
        return OrderFact(
            source=source,
            kind="medication",
            text=_text(concept),
            codes=_codes(concept),
            status=resource.get("status"),
            authored=resource.get("authoredOn"),
            occurrence=start,
            quantity=float(dispensed) if dispensed is not None else None,
            requester=_reference(resource.get("requester")),
            reasons=reasons,
        )
    code = resource.get("code")
    if not code:
        raise OrderError(f"{where}: ServiceRequest.code: expected the service ordered, got nothing")
    quantity = (resource.get("quantityQuantity") or {}).get("value")
    occurrence = resource.get("occurrenceDateTime") or (resource.get("occurrencePeriod") or {}).get(
        "start"
    )
    return OrderFact(
        source=source,
        kind="procedure",
        text=_text(code),
        codes=_codes(code),
        status=resource.get("status"),
        authored=resource.get("authoredOn"),
        occurrence=occurrence,
        quantity=float(quantity) if quantity is not None else None,
        requester=_reference(resource.get("requester")),
        reasons=reasons,
    )


class SpecialtyMap:
    """Practitioner specialties (NUCC taxonomy codes or words) -> the rule language's names."""

    def __init__(self, doc: MappingDocument) -> None:
        self._codes: dict[str, str] = {}
        self._words: dict[str, PhraseMatcher] = {}
        for entry in doc.data["specialties"]:
            for code in entry.get("nucc", []):
                self._codes[code] = entry["id"]
            self._words[entry["id"]] = PhraseMatcher(entry["words"])

    def names(self, concepts: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
        found: list[str] = []
        for concept in concepts:
            for coding in concept.get("coding") or []:
                if coding.get("code") in self._codes:
                    found.append(self._codes[coding["code"]])
            texts = [
                concept.get("text") or "",
                *(c.get("display") or "" for c in concept.get("coding") or []),
            ]
            for name, matcher in self._words.items():
                if any(matcher.find(t) for t in texts if t):
                    found.append(name)
        return tuple(dict.fromkeys(found))


NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"


def prescriber_from_fhir(resource: Mapping[str, Any], specialties: SpecialtyMap) -> Prescriber:
    """Specialties from PractitionerRole.specialty or Practitioner.qualification[].code."""
    kind = resource.get("resourceType")
    source = f"{kind}/{resource.get('id')}"
    if kind == "PractitionerRole":
        concepts = list(resource.get("specialty") or [])
    elif kind == "Practitioner":
        concepts = [q.get("code") or {} for q in resource.get("qualification") or []]
    else:
        raise OrderError(f"requester: expected Practitioner or PractitionerRole, got {kind!r}")
    npi = next(
        (
            str(i["value"])
            for i in resource.get("identifier") or []
            if i.get("system") == NPI_SYSTEM and i.get("value")
        ),
        None,
    )
    return Prescriber(
        source=source, specialties=specialties.names(concepts), npi=npi, name=_name(resource)
    )


def _name(resource: Mapping[str, Any]) -> str | None:
    if resource.get("resourceType") == "PractitionerRole":
        display = (resource.get("practitioner") or {}).get("display")
        return str(display) if display else None
    names = resource.get("name") or []
    official = next((n for n in names if n.get("use") == "official"), names[0] if names else None)
    if not official:
        return None
    if official.get("text"):
        return str(official["text"])
    parts = [*official.get("given", []), official.get("family")]
    return " ".join(p for p in parts if p) or None
