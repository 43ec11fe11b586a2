"""Diagnoses from Conditions, with the ICD-10-CM code only where the chart gives one."""

from __future__ import annotations

from typing import Any

from integration.domain.evidence import Diagnosis
from integration.evidence.values import (
    ICD10_SYSTEMS,
    SNOMED,
    code_in,
    date_str,
    label_of,
    source_of,
    texts_of,
)

_NOT_A_DIAGNOSIS = frozenset({"entered-in-error", "refuted"})
_ACTIVE = frozenset({"active", "recurrence", "relapse"})


def _status(concept: Any) -> str | None:
    codes = [c.code for c in (concept.coding or [])] if concept is not None else []
    return codes[0] if codes else None


def _onset(condition: Any) -> str | None:
    if condition.onsetDateTime is not None:
        return date_str(condition.onsetDateTime)
    if condition.onsetPeriod is not None:
        return date_str(condition.onsetPeriod.start)
    return None


def extract_diagnoses(conditions: list[Any]) -> tuple[Diagnosis, ...]:
    """Active diagnoses first, then the rest, each newest onset first."""
    found = []
    for condition in conditions:
        if _status(condition.verificationStatus) in _NOT_A_DIAGNOSIS or condition.code is None:
            continue
        found.append(
            Diagnosis(
                icd10=code_in(condition.code, ICD10_SYSTEMS),
                snomed=code_in(condition.code, [SNOMED]),
                text=label_of(condition.code) or "(no text)",
                onset=_onset(condition),
                clinical_status=_status(condition.clinicalStatus),
                source=source_of(condition),
                body_sites=tuple(
                    texts[0] for texts in map(texts_of, condition.bodySite or []) if texts
                ),
            )
        )
    return tuple(
        sorted(
            found,
            key=lambda d: (
                d.clinical_status in _ACTIVE or d.clinical_status is None,
                d.onset or "",
                d.source,
            ),
            reverse=True,
        )
    )


def is_active(diagnosis: Diagnosis) -> bool:
    return diagnosis.clinical_status is None or diagnosis.clinical_status in _ACTIVE
