"""Prior-authorization decisions: what was ordered, which payer rule applies, and each criterion's
status with the evidence behind it.

Every `evidence` entry is a FHIR reference ("Type/id" or "Type/id/_history/v") taken from the
ClinicalEvidence; a criterion the chart can't decide is `missing`, never assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from integration.domain.evidence import Owner, to_json_value


class Status(StrEnum):
    MET = "met"
    UNMET = "unmet"
    MISSING = "missing"


class Channel(StrEnum):
    NCPDP_EPA = "ncpdp-epa"
    X12_278 = "x12-278"
    PAS = "pas"
    PORTAL = "portal"
    FAX = "fax"


class FollowUp(StrEnum):
    """What a request sent after the payer's decision asks: review a denial again, or withdraw
    the request (or an approval not yet used)."""

    APPEAL = "appeal"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class Code:
    system: str
    code: str
    display: str | None = None


@dataclass(frozen=True, slots=True)
class OrderFact:
    """The order being authorized: a MedicationRequest ("medication") or ServiceRequest
    ("procedure")."""

    source: str
    kind: str
    text: str
    codes: tuple[Code, ...] = ()
    status: str | None = None
    authored: str | None = None
    occurrence: str | None = None
    quantity: float | None = None
    requester: str | None = None
    reasons: tuple[Code, ...] = ()


@dataclass(frozen=True, slots=True)
class Prescriber:
    """The ordering practitioner. `specialties` come from the chart (PractitionerRole.specialty
    or Practitioner.qualification), normalised to the rule language's names; `npi` and `name`
    as the chart records them (None when it doesn't: never filled in from elsewhere)."""

    source: str
    specialties: tuple[str, ...] = ()
    npi: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class RuleRef:
    id: str
    version: int
    title: str
    source: dict[str, Any]
    effective_from: str
    effective_to: str | None = None
    verified: bool = False


@dataclass(frozen=True, slots=True)
class PayerMatch:
    id: str
    name: str
    coverage: str | None
    matched: str


@dataclass(frozen=True, slots=True)
class CriterionResult:
    id: str
    text: str
    status: Status
    evidence: tuple[str, ...]
    detail: str
    owner: Owner | None = None
    missing: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Approval:
    initial_months: int | None = None
    reauth_months: int | None = None


@dataclass(frozen=True, slots=True)
class Assessment:
    """PA need and checklist for one order, one payer, one date of service.

    `pa_required` is None when unknown; `reason` says why (no payer matched, no rule for the
    service, the payer's rule says unknown, ...). `criteria_known` is False when the rule's
    criteria are `unknown`."""

    order: OrderFact
    date: str
    pa_required: bool | None
    reason: str
    payer: PayerMatch | None = None
    rule: RuleRef | None = None
    benefit: str | None = None
    channel: Channel | None = None
    criteria: tuple[CriterionResult, ...] = ()
    criteria_known: bool = True
    overall: Status | None = None
    documentation: tuple[str, ...] = ()
    approval: Approval | None = None
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """The `dermrcm pa check` JSON: pa_required, rule {id, version, source}, channel,
        criteria [{id, text, status, evidence, owner}], plus what explains them."""
        rule = (
            None
            if self.rule is None
            else {
                "id": self.rule.id,
                "version": self.rule.version,
                "title": self.rule.title,
                "source": self.rule.source,
                "effective_from": self.rule.effective_from,
                "effective_to": self.rule.effective_to,
                "verified": self.rule.verified,
            }
        )
        return {
            "pa_required": self.pa_required,
            "reason": self.reason,
            "date": self.date,
            "order": to_json_value(self.order),
            "payer": None if self.payer is None else to_json_value(self.payer),
            "rule": rule,
            "benefit": self.benefit,
            "channel": None if self.channel is None else self.channel.value,
            "criteria_known": self.criteria_known,
            "overall": None if self.overall is None else self.overall.value,
            "criteria": [
                {
                    "id": c.id,
                    "text": c.text,
                    "status": c.status.value,
                    "evidence": list(c.evidence),
                    "owner": None if c.owner is None else c.owner.value,
                    "detail": c.detail,
                    "missing": list(c.missing),
                }
                for c in self.criteria
            ],
            "documentation": list(self.documentation),
            "approval": None if self.approval is None else to_json_value(self.approval),
            "notes": list(self.notes),
        }


class Outcome(StrEnum):
    """What a payer answered to a submission."""

    APPROVED = "approved"
    DENIED = "denied"
    PENDED = "pended"
    MORE_INFO = "more-information-requested"
    NOT_REQUIRED = "not-required"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class PayerResponse:
    """A payer's answer, whatever the channel. Dates are ISO strings; `units` as sent; `ask`
    lists what a pend or a request for more information wants; `where` names the element the
    outcome was read from (e.g. `ClaimResponse.item[0].adjudication[0].extension:reviewAction`)."""

    outcome: Outcome
    reason: str | None = None
    reason_code: str | None = None
    auth_number: str | None = None
    start: str | None = None
    end: str | None = None
    units: str | None = None
    payer_reference: str | None = None
    ask: tuple[str, ...] = ()
    where: str | None = None
