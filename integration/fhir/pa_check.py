"""`dermrcm pa check` and the CDS Hooks service: read the chart over FHIR, then decide PA need
and the checklist for one order."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from integration.domain.evidence import ClinicalEvidence
from integration.domain.priorauth import Assessment, OrderFact, Prescriber
from integration.fhir.chart_evidence import chart_evidence
from integration.fhir.client import FhirClient
from integration.fhir.errors import FhirError
from integration.mapping.evidence_maps import EvidenceMaps
from integration.priorauth.assess import assess
from integration.priorauth.order import OrderError, order_from_fhir, prescriber_from_fhir
from integration.priorauth.references import PaReferences

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PaCheck:
    assessment: Assessment
    evidence: ClinicalEvidence
    order: OrderFact
    prescriber: Prescriber | None


def read_prescriber(client: FhirClient, order: OrderFact, refs: PaReferences) -> Prescriber | None:
    """The requester's specialty: PractitionerRole.specialty, or the Practitioner's
    qualifications and the specialties of its PractitionerRoles. None when the order names no
    requester; a requester the server can't return gives a Prescriber with no specialty (the
    criterion is then missing, owner coordinator)."""
    ref = order.requester
    if not ref or "/" not in ref:
        return None
    kind, ident = ref.split("/_history/")[0].split("/")[-2:]
    if kind not in ("Practitioner", "PractitionerRole"):
        return None
    try:
        resource = client.read(kind, ident)
        prescriber = prescriber_from_fhir(resource, refs.specialties)
        if kind == "Practitioner" and not prescriber.specialties:
            roles = client.search("PractitionerRole", {"practitioner": f"Practitioner/{ident}"})
            for role in roles.matches:
                named = (role.get("practitioner") or {}).get("reference") or ""
                if named.split("/_history/")[0].split("/")[-2:] != ["Practitioner", ident]:
                    continue  # a server that ignored the search parameter
                found = prescriber_from_fhir(role, refs.specialties)
                if found.specialties:
                    return found
        return prescriber
    except (FhirError, OrderError) as exc:
        log.info(
            "requester %s/%s not readable: %s", kind, type(exc).__name__, getattr(exc, "status", "")
        )
        return Prescriber(source=f"{kind}/{ident}")


def pa_check(
    client: FhirClient,
    patient_id: str,
    order_resource: Mapping[str, Any],
    day: date,
    refs: PaReferences,
    maps: EvidenceMaps,
    *,
    payer_id: str | None = None,
    attested: Mapping[str, str] | None = None,
    reauthorization: bool = False,
) -> PaCheck:
    """Raises OrderError for an order that can't be assessed and FhirError when the chart
    can't be read."""
    order = order_from_fhir(order_resource)
    evidence, _fetch = chart_evidence(client, patient_id, maps, day)
    return check_order(
        client,
        order,
        evidence,
        day,
        refs,
        payer_id=payer_id,
        attested=attested,
        reauthorization=reauthorization,
    )


def check_order(
    client: FhirClient,
    order: OrderFact,
    evidence: ClinicalEvidence,
    day: date,
    refs: PaReferences,
    *,
    payer_id: str | None = None,
    attested: Mapping[str, str] | None = None,
    reauthorization: bool = False,
) -> PaCheck:
    """One order against a chart already read (several orders of one patient share it); reads
    only the order's requester."""
    prescriber = read_prescriber(client, order, refs)
    assessment = assess(
        evidence,
        order,
        refs.library,
        refs.lookups,
        day,
        prescriber=prescriber,
        attested=attested,
        payer_id=payer_id,
        reauthorization=reauthorization,
    )
    return PaCheck(assessment, evidence, order, prescriber)
