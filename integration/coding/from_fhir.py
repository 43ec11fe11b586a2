"""Scrub requests from FHIR: the charges of a visit with the chart around them.

`requests_from_bundle(bundle, place_of_service=..., fees=...)` reads a FHIR R4 Bundle (or
`requests_from_resources` a list of resources) and makes one `ScrubRequest` per patient and
encounter (charges without an encounter: per patient and day of service):

- lines: the `billable` ChargeItems as the HL7 DFT^P03 map writes them (mappings/hl7v2/dft.yaml):
  code (CPT / HCPCS coding) -> SV101, the procedure-modifier extension -> SV101-3..6,
  quantity -> SV104, priceOverride (FT1-11, the line's total) -> SV102, occurrence -> DTP*472,
  reason (ICD-10-CM) -> the line's diagnosis pointers. A visit with no ChargeItems but
  `completed` Procedures on that encounter (or day) is billed from the Procedures instead, each
  charged at the practice's fee (`fees`, the scrubber's insurance fee schedule);
- every line keeps the resource it came from (`ChargeItem/<id>` or `Procedure/<id>`) in its
  `LineFacts.evidence`; no other documentation fact is read here (sites, lesion counts and the
  rest come from the note or the coder), so rules that need them report the gap;
- diagnoses (HI, at most 12): the Encounter's `diagnosis` Conditions by rank, then Conditions
  naming the encounter, then the lines' reasons, ICD-10-CM codes without the dot;
- payer: the patient's active Coverage for the day of service: payor Organization (NIIP
  identifier, name), claim filing indicator from Coverage.type (X12 code list 1032, or
  v3-ActCode through mappings/x12/fhir-claim-codes.yaml) or empty when the Coverage does not say;
- history: the patient's `completed` Procedures performed before the day of service;
- place of service (CLM05-1): the Encounter's Location type in the CMS place-of-service code
  system, else `place_of_service`; with neither, the visit is refused (never guessed).

Anything that cannot make a claim line (a ChargeItem without a code, a credit, a charge with no
price and no fee) raises `ValueError` naming the resource and the element.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from integration.coding.model import LineFacts, Payer, PriorProcedure, ScrubRequest
from integration.x12 import x222_codes
from integration.x12.fhir_claim import (
    ACT_CODE_SYSTEM,
    CPT_SYSTEM,
    HCPCS_SYSTEM,
    ICD10CM_SYSTEM,
    POS_SYSTEM,
    X12_CLAIM_FILING_SYSTEM,
    _code_in,
    _day,
    _typed_identifier,
    default_codes,
)
from integration.x12.t278_005010x217 import DatePeriod
from integration.x12.t837_005010x222a1 import Claim, Diagnosis, Procedure, ServiceLine

Resource = Mapping[str, Any]

MODIFIER_EXTENSION = "http://derm-rcm.org/fhir/StructureDefinition/procedure-modifier"
PROCEDURE_SYSTEMS = (CPT_SYSTEM, HCPCS_SYSTEM)
MAX_DIAGNOSES = 12  # 2300 HI holds 12
MAX_POINTERS = 4  # SV107 holds 4
CHARGEABLE = ("billable",)


def _ref(resource: Resource) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id')}"


def _target(reference: Any) -> str | None:
    """`Type/id` of a Reference (relative, or the tail of an absolute URL)."""
    if not isinstance(reference, Mapping):
        return None
    value = reference.get("reference")
    if not isinstance(value, str) or "/" not in value:
        return None
    parts = value.rstrip("/").split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    return "/".join(parts[-2:])


def _procedure_code(concept: Any) -> str | None:
    return _code_in(concept, *PROCEDURE_SYSTEMS)


def _icd10(concept: Any) -> str | None:
    code = _code_in(concept, ICD10CM_SYSTEM)
    return code.replace(".", "").upper() if code else None


def _occurrence(resource: Resource, *names: str) -> date | None:
    """The date of a `[x]` element: dateTime, or a Period's start."""
    for name in names:
        value = resource.get(f"{name}DateTime")
        if value is None and isinstance(resource.get(f"{name}Period"), Mapping):
            value = resource[f"{name}Period"].get("start")
        day = _day(value)
        if day is not None:
            return day
    return None


def _number(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{where}: expected a number, got {value!r}")
    try:
        out = Decimal(str(value))
    except ArithmeticError as exc:
        raise ValueError(f"{where}: expected a number, got {value!r}") from exc
    if not out.is_finite():
        raise ValueError(f"{where}: expected a number, got {value!r}")
    return out


@dataclass(slots=True)
class _Charge:
    """One would-be claim line, from a ChargeItem or a Procedure."""

    source: Resource
    code: str
    modifiers: tuple[str, ...]
    units: Decimal
    charge: Decimal | None
    day: date
    reasons: tuple[str, ...]


@dataclass(slots=True)
class _Visit:
    patient: str
    encounter: str | None
    day: date
    charges: list[_Charge] = field(default_factory=list)
    procedures: list[_Charge] = field(default_factory=list)


class _Chart:
    def __init__(self, resources: Iterable[Resource]) -> None:
        self.by_ref: dict[str, Resource] = {}
        self.order: list[Resource] = []
        for resource in resources:
            if not isinstance(resource, Mapping) or "resourceType" not in resource:
                continue
            self.by_ref[_ref(resource)] = resource
            self.order.append(resource)

    def of_type(self, kind: str) -> list[Resource]:
        return [r for r in self.order if r.get("resourceType") == kind]

    def get(self, reference: Any) -> Resource | None:
        target = _target(reference)
        return self.by_ref.get(target) if target else None


def _charge_from_item(item: Resource) -> _Charge | None:
    where = _ref(item)
    if item.get("status") not in CHARGEABLE:
        return None
    code = _procedure_code(item.get("code"))
    if code is None:
        raise ValueError(
            f"{where}.code: expected a CPT or HCPCS coding ({CPT_SYSTEM} or {HCPCS_SYSTEM}), "
            f"got {item.get('code')!r}"
        )
    day = _occurrence(item, "occurrence")
    if day is None:
        raise ValueError(f"{where}.occurrence[x]: expected the date of service, got none")
    patient = _target(item.get("subject"))
    if patient is None or not patient.startswith("Patient/"):
        raise ValueError(f"{where}.subject: expected a reference to the Patient, got none")
    modifiers = tuple(
        str(c["code"])
        for ext in item.get("extension") or []
        if isinstance(ext, Mapping) and ext.get("url") == MODIFIER_EXTENSION
        for c in (ext.get("valueCodeableConcept") or {}).get("coding") or []
        if isinstance(c, Mapping) and c.get("code")
    )
    quantity = item.get("quantity") or {}
    units = (
        _number(quantity.get("value"), f"{where}.quantity.value")
        if isinstance(quantity, Mapping) and quantity.get("value") is not None
        else Decimal("1")
    )
    if units <= 0:
        raise ValueError(f"{where}.quantity.value: expected a number of units > 0, got {units}")
    price = item.get("priceOverride")
    charge: Decimal | None = None
    if isinstance(price, Mapping) and price.get("value") is not None:
        charge = _number(price["value"], f"{where}.priceOverride.value")
        if charge < 0:
            raise ValueError(
                f"{where}.priceOverride.value: expected a charge >= 0, got {charge} (a credit "
                "reverses an earlier charge; post it, don't claim it)"
            )
        charge = charge.quantize(Decimal("0.01"))
    reasons = tuple(
        code for code in (_icd10(r) for r in item.get("reason") or []) if code is not None
    )
    return _Charge(item, code, modifiers[:4], units, charge, day, reasons)


def _charge_from_procedure(proc: Resource) -> _Charge | None:
    if proc.get("status") != "completed":
        return None
    code = _procedure_code(proc.get("code"))
    day = _occurrence(proc, "performed")
    if code is None or day is None:
        return None
    reasons = tuple(
        code for code in (_icd10(r) for r in proc.get("reasonCode") or []) if code is not None
    )
    return _Charge(proc, code, (), Decimal("1"), None, day, reasons)


def _visit_key(patient: str, encounter: str | None, day: date) -> tuple[str, str]:
    return (patient, encounter or f"day:{day.isoformat()}")


def _rank(entry: Mapping[str, Any]) -> int:
    rank = entry.get("rank")
    return rank if isinstance(rank, int) and not isinstance(rank, bool) else 1 << 30


def _diagnoses(chart: _Chart, visit: _Visit, lines: Sequence[_Charge]) -> list[str]:
    codes: list[str] = []

    def add(code: str | None) -> None:
        if code and code not in codes:
            codes.append(code)

    encounter = chart.by_ref.get(visit.encounter) if visit.encounter else None
    if encounter is not None:
        ranked = sorted(
            (d for d in encounter.get("diagnosis") or [] if isinstance(d, Mapping)),
            key=_rank,
        )
        for entry in ranked:
            condition = chart.get(entry.get("condition"))
            if condition is not None:
                add(_icd10(condition.get("code")))
        for condition in chart.of_type("Condition"):
            if _target(condition.get("encounter")) == visit.encounter:
                add(_icd10(condition.get("code")))
    for line in lines:
        for code in line.reasons:
            add(code)
    return codes


def _place_of_service(chart: _Chart, visit: _Visit, default: str | None) -> str:
    encounter = chart.by_ref.get(visit.encounter) if visit.encounter else None
    for entry in (encounter or {}).get("location") or []:
        location = chart.get(entry.get("location")) if isinstance(entry, Mapping) else None
        for concept in (location or {}).get("type") or []:
            code = _code_in(concept, POS_SYSTEM)
            if code:
                return code
    if default:
        return default
    where = visit.encounter or f"the charges of {visit.patient} on {visit.day.isoformat()}"
    raise ValueError(
        f"{where}: expected a place of service (an Encounter location whose Location.type is "
        f"in {POS_SYSTEM}, or --place-of-service), got none"
    )


def _payer(chart: _Chart, patient: str, day: date) -> Payer:
    for coverage in chart.of_type("Coverage"):
        if coverage.get("status") not in (None, "active"):
            continue
        if _target(coverage.get("beneficiary")) != patient:
            continue
        period = coverage.get("period") or {}
        start, end = _day(period.get("start")), _day(period.get("end"))
        if (start and day < start) or (end and day > end):
            continue
        payors = coverage.get("payor") or []
        org = chart.get(payors[0]) if payors else None
        name = str((org or {}).get("name") or (payors[0].get("display") if payors else "") or "")
        filing = _code_in(coverage.get("type"), X12_CLAIM_FILING_SYSTEM) or (
            default_codes().claim_filing_from_act_code.get(
                _code_in(coverage.get("type"), ACT_CODE_SYSTEM) or ""
            )
        )
        return Payer(
            id=(_typed_identifier(org, "NIIP") or "") if org else "",
            name=name,
            claim_filing=filing or "",
        )
    return Payer()


def _history(chart: _Chart, patient: str, before: date) -> tuple[PriorProcedure, ...]:
    out: list[PriorProcedure] = []
    for proc in chart.of_type("Procedure"):
        if _target(proc.get("subject")) != patient:
            continue
        found = _charge_from_procedure(proc)
        if found is None or found.day >= before:
            continue
        out.append(PriorProcedure(service_date=found.day, code=found.code, reference=_ref(proc)))
    return tuple(sorted(out, key=lambda p: (p.service_date, p.code)))


def _control_number(chart: _Chart, visit: _Visit) -> str:
    """CLM01: the encounter's identifier (the visit number), else its id, else patient + day."""
    encounter = chart.by_ref.get(visit.encounter) if visit.encounter else None
    if encounter is not None:
        for ident in encounter.get("identifier") or []:
            if isinstance(ident, Mapping) and ident.get("value"):
                return str(ident["value"])[:38]
        return str(encounter.get("id") or visit.encounter)[:38]
    patient_id = visit.patient.split("/", 1)[1]
    return f"{patient_id[:27]}-{visit.day:%Y%m%d}"


def _claim(
    chart: _Chart, visit: _Visit, place: str | None, fees: Mapping[str, Decimal]
) -> ScrubRequest:
    lines = visit.charges or visit.procedures
    diagnoses = _diagnoses(chart, visit, lines)
    where = visit.encounter or visit.patient
    if not diagnoses:
        raise ValueError(
            f"{where}: expected an ICD-10-CM diagnosis (Encounter.diagnosis, a Condition of the "
            "encounter, or ChargeItem.reason), got none"
        )
    if len(diagnoses) > MAX_DIAGNOSES:
        raise ValueError(
            f"{where}: expected at most {MAX_DIAGNOSES} diagnoses on one claim (2300 HI), "
            f"got {len(diagnoses)}"
        )
    services: list[ServiceLine] = []
    facts: dict[int, LineFacts] = {}
    for number, line in enumerate(lines, start=1):
        charge = line.charge
        if charge is None:
            each = fees.get(line.code)
            if each is None:
                element = "priceOverride" if line.source["resourceType"] == "ChargeItem" else ""
                raise ValueError(
                    f"{_ref(line.source)}{'.' + element if element else ''}: expected the "
                    f"line's charge (or a fee for {line.code} in the practice's fee schedule), "
                    "got none"
                )
            charge = (each * line.units).quantize(Decimal("0.01"))
        pointers = tuple(diagnoses.index(c) + 1 for c in line.reasons)[:MAX_POINTERS] or (1,)
        services.append(
            ServiceLine(
                line_number=number,
                procedure=Procedure("HC", line.code, line.modifiers),
                charge=charge,
                quantity=line.units,
                pointers=pointers,
                dates=(DatePeriod(x222_codes.DATE_SERVICE, line.day),),
            )
        )
        facts[number] = LineFacts(evidence=(_ref(line.source),))
    claim = Claim(
        patient_control_number=_control_number(chart, visit),
        total_charge=sum((s.charge for s in services), Decimal("0")),
        facility_code=_place_of_service(chart, visit, place),
        diagnoses=tuple(
            Diagnosis.principal(c) if i == 0 else Diagnosis.other(c)
            for i, c in enumerate(diagnoses)
        ),
        services=tuple(services),
    )
    return ScrubRequest(
        claim=claim,
        payer=_payer(chart, visit.patient, visit.day),
        line_facts=facts,
        history=_history(chart, visit.patient, visit.day),
    )


def requests_from_resources(
    resources: Iterable[Resource],
    *,
    place_of_service: str | None = None,
    fees: Mapping[str, Decimal] | None = None,
) -> list[ScrubRequest]:
    """One request per patient and encounter (or day) with billable charges, in the order their
    first charge appears; ValueError naming the resource and element that cannot be billed."""
    chart = _Chart(resources)
    visits: dict[tuple[str, str], _Visit] = {}
    for item in chart.of_type("ChargeItem"):
        charge = _charge_from_item(item)
        if charge is None:
            continue
        patient = _target(item.get("subject")) or ""
        encounter = _target(item.get("context"))
        if encounter is not None and not encounter.startswith("Encounter/"):
            encounter = None
        key = _visit_key(patient, encounter, charge.day)
        visit = visits.setdefault(key, _Visit(patient, encounter, charge.day))
        visit.day = min(visit.day, charge.day)
        visit.charges.append(charge)
    for proc in chart.of_type("Procedure"):
        found = _charge_from_procedure(proc)
        subject = _target(proc.get("subject"))
        if found is None or subject is None:
            continue
        patient = subject
        encounter = _target(proc.get("encounter"))
        key = _visit_key(patient, encounter, found.day)
        if key not in visits and encounter is None:
            # a Procedure with no encounter joins the charges of its patient's day
            key = next(
                (k for k, v in visits.items() if v.patient == patient and v.day == found.day),
                key,
            )
        if key in visits:
            visits[key].procedures.append(found)
        elif encounter is not None and chart.by_ref.get(encounter) is not None:
            visits[key] = _Visit(patient, encounter, found.day, procedures=[found])
    out: list[ScrubRequest] = []
    for visit in visits.values():
        if not visit.charges and not visit.procedures:
            continue
        out.append(_claim(chart, visit, place_of_service, fees or {}))
    return out


def bundle_resources(bundle: Any) -> list[Resource]:
    """The resources of a FHIR Bundle (entry[].resource); ValueError when it is not one."""
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        got = bundle.get("resourceType") if isinstance(bundle, Mapping) else type(bundle).__name__
        raise ValueError(f"$.resourceType: expected 'Bundle', got {got!r}")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise ValueError("$.entry: expected a list")
    out: list[Resource] = []
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping) or not resource.get("resourceType"):
            raise ValueError(f"$.entry[{i}].resource: expected a FHIR resource, got {resource!r}")
        out.append(resource)
    return out


def requests_from_bundle(
    bundle: Any,
    *,
    place_of_service: str | None = None,
    fees: Mapping[str, Decimal] | None = None,
) -> list[ScrubRequest]:
    """`requests_from_resources` over a FHIR Bundle's entries."""
    return requests_from_resources(
        bundle_resources(bundle), place_of_service=place_of_service, fees=fees
    )
