"""What every channel's request takes from a case the same way: the coverage the payer rule
matched and the order's diagnoses. A value the chart lacks is `MissingForRequest`, never
filled in."""

from __future__ import annotations

from integration.domain.evidence import ClinicalEvidence, CoverageFact
from integration.domain.priorauth import Assessment


class MissingForRequest(ValueError):
    """Something the payer's message needs that the chart doesn't hold (never filled in)."""


def coverage_of(assessment: Assessment, evidence: ClinicalEvidence) -> CoverageFact | None:
    """The Coverage the payer was matched on, else the chart's current one."""
    wanted = assessment.payer.coverage if assessment.payer else None
    for c in evidence.coverage:
        if wanted and c.source.split("/_history/")[0] == wanted.split("/_history/")[0]:
            return c
    return next((c for c in evidence.coverage if c.current), None)


def order_diagnoses(assessment: Assessment, evidence: ClinicalEvidence) -> list[str]:
    """ICD-10-CM codes for the request: the order's reasons, else the chart's active
    diagnoses; at most 12, each once."""
    icd = [c.code for c in assessment.order.reasons if "icd-10" in c.system]
    if not icd:
        icd = [
            d.icd10
            for d in evidence.diagnoses
            if d.icd10 and d.clinical_status in (None, "active", "recurrence", "relapse")
        ]
    return list(dict.fromkeys(icd))[:12]
