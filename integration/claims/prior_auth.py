"""The prior authorization number a claim carries (2300 REF*G1), from an approved PA case.

`prior_auth_for(sessions, patient_id, payer_id, procedure_codes, service_date)` lists the
approved PA cases of that patient and payer whose order codes include one of the claim's
procedure codes and whose approval (approved_from .. approved_to, both inclusive) covers the
date of service. It never picks: `the_prior_auth(matches, ...)` returns the one match, or raises
`PriorAuthLookupError` saying there is none or naming every candidate when there are several.
`with_prior_auth(transaction, number)` puts REF*G1 on the transaction's claim (the one named by
its patient control number when the transaction holds several).

An approved case without an authorization number or without both approval dates cannot back a
REF*G1 (its coverage of the date of service is unknown) and is not a match.

Logs carry case ids and counts only (no patient or member ids).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from integration.priorauth.cases import CaseState
from integration.priorauth.order import OrderError, order_from_fhir
from integration.store.models import PaCase
from integration.x12 import x222_codes
from integration.x12.t837_005010x222a1 import Claim, Claim837Transaction, Reference

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AuthMatch:
    """An approved PA case that covers the claim's service."""

    case_id: str
    auth_number: str
    approved_from: date
    approved_to: date
    matched_codes: tuple[str, ...]  # the claim's procedure codes the order names
    approved_units: str | None = None


class PriorAuthLookupError(LookupError):
    """No approved case covers the service, or several do (the caller must choose)."""


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _order_codes(case: PaCase) -> set[str]:
    try:
        order = order_from_fhir(json.loads(case.order_json), where=f"pa case {case.id}")
    except (OrderError, ValueError) as exc:
        log.warning("pa case %s: order unreadable, not matched: %s", case.id, type(exc).__name__)
        return set()
    return {c.code for c in order.codes}


def prior_auth_for(
    store_sessions: sessionmaker[Session],
    patient_id: str,
    payer_id: str,
    procedure_codes: Iterable[str],
    service_date: date,
) -> list[AuthMatch]:
    """Every approved case of `patient_id` with `payer_id` whose order names one of
    `procedure_codes` and whose approval covers `service_date`, ordered by approval start and
    case id. Zero or several are possible: see `the_prior_auth`."""
    wanted = set(procedure_codes)
    with store_sessions() as session:
        cases = list(
            session.scalars(
                select(PaCase)
                .where(PaCase.patient_id == patient_id)
                .where(PaCase.payer_id == payer_id)
                .where(PaCase.state == CaseState.APPROVED.value)
                .order_by(PaCase.approved_from, PaCase.id)
            )
        )
    out: list[AuthMatch] = []
    for case in cases:
        start, end = _day(case.approved_from), _day(case.approved_to)
        if not case.auth_number or start is None or end is None:
            log.info("pa case %s: approved without a number or dates, not matched", case.id)
            continue
        if not start <= service_date <= end:
            continue
        matched = tuple(sorted(wanted & _order_codes(case)))
        if matched:
            out.append(
                AuthMatch(
                    case_id=case.id,
                    auth_number=case.auth_number,
                    approved_from=start,
                    approved_to=end,
                    matched_codes=matched,
                    approved_units=case.approved_units,
                )
            )
    log.info("prior auth lookup: %d approved case(s), %d match", len(cases), len(out))
    return out


def the_prior_auth(
    matches: Sequence[AuthMatch], procedure_codes: Iterable[str], service_date: date
) -> AuthMatch:
    """The one match; PriorAuthLookupError saying why when there are none or several."""
    codes = ", ".join(sorted(set(procedure_codes)))
    if not matches:
        raise PriorAuthLookupError(
            f"2300 REF*G1: expected one approved prior authorization covering {codes} on "
            f"{service_date.isoformat()}, got none"
        )
    if len(matches) > 1:
        listed = "; ".join(
            f"case {m.case_id} ({m.auth_number}, {m.approved_from.isoformat()}.."
            f"{m.approved_to.isoformat()}, {', '.join(m.matched_codes)})"
            for m in matches
        )
        raise PriorAuthLookupError(
            f"2300 REF*G1: expected one approved prior authorization covering {codes} on "
            f"{service_date.isoformat()}, got {len(matches)}: {listed}"
        )
    return matches[0]


def _with_ref(claim: Claim, number: str) -> Claim:
    current = claim.prior_authorization
    if current == number:
        return claim
    if current is not None:
        raise ValueError(
            f"2300 REF*G1 (claim {claim.patient_control_number}): expected no prior "
            f"authorization number or {number!r}, got {current!r}"
        )
    ref = Reference(x222_codes.REF_PRIOR_AUTHORIZATION, number)
    return replace(claim, references=(ref, *claim.references))


def with_prior_auth(
    claim: Claim837Transaction, number: str, *, patient_control_number: str | None = None
) -> Claim837Transaction:
    """`claim` with REF*G1 `number` on its claim (2300). A transaction holding several claims
    needs `patient_control_number` (CLM01) to say which; a claim that already has a different
    REF*G1 is a ValueError (never overwritten)."""
    if not number or not number.strip():
        raise ValueError(f"2300 REF02: expected a prior authorization number, got {number!r}")
    claims = claim.claims
    if patient_control_number is None:
        if len(claims) != 1:
            raise ValueError(
                f"2300 CLM01: expected the patient control number of one of {len(claims)} claims, got none"
            )
        patient_control_number = claims[0].patient_control_number
    targets = [c for c in claims if c.patient_control_number == patient_control_number]
    if len(targets) != 1:
        raise ValueError(
            f"2300 CLM01: expected one claim {patient_control_number!r}, got {len(targets)}"
        )

    def fix(cs: tuple[Claim, ...]) -> tuple[Claim, ...]:
        return tuple(
            _with_ref(c, number) if c.patient_control_number == patient_control_number else c
            for c in cs
        )

    providers = tuple(
        replace(
            bp,
            subscribers=tuple(
                replace(
                    sub,
                    claims=fix(sub.claims),
                    patients=tuple(replace(p, claims=fix(p.claims)) for p in sub.patients),
                )
                for sub in bp.subscribers
            ),
        )
        for bp in claim.billing_providers
    )
    return replace(claim, billing_providers=providers)


__all__ = [
    "AuthMatch",
    "PriorAuthLookupError",
    "prior_auth_for",
    "the_prior_auth",
    "with_prior_auth",
]
