"""Matching remittance claims and lines to ours, adjustments by group, net of reversals (pure)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from integration.denials.remittance import (
    SubmittedClaim,
    SubmittedLine,
    by_group,
    claim_status_after,
    match_claim,
    net,
)
from integration.x12.t278_005010x217 import Procedure
from tests.unit.denials.era_scenarios import (
    BIOPSY_DAY,
    CORRECTED_CLAIM,
    DENIED_CLAIM,
    PAID_CLAIM,
    reversal_of,
)

OURS = SubmittedClaim(
    patient_control_number="DRM-1001",
    payer_id="1999999999",
    total_charge=Decimal("350.00"),
    lines=(
        SubmittedLine(1, "99213", ("25",), BIOPSY_DAY, Decimal("150.00"), Decimal(1)),
        SubmittedLine(2, "11102", (), BIOPSY_DAY, Decimal("200.00"), Decimal(1)),
    ),
)


def test_claim_and_lines_match_exactly() -> None:
    match = match_claim(PAID_CLAIM, OURS)
    assert match.claim == OURS and match.matched_by == "patient_control_number"
    assert [m.line.line_number if m.line else None for m in match.lines] == [1, 2]
    assert match.flagged_lines == () and match.unmatched_lines == ()


def test_claim_matches_by_payer_claim_number_when_clp01_is_unknown() -> None:
    renamed = dataclasses.replace(PAID_CLAIM, patient_control_number="TYPO-1001")
    match = match_claim(renamed, None, dataclasses.replace(OURS, payer_claim_number="PCN0001"))
    assert match.matched_by == "payer_claim_number"


def test_a_dropped_modifier_still_matches_and_is_flagged() -> None:
    service = dataclasses.replace(PAID_CLAIM.services[0], procedure=Procedure("HC", "99213"))
    payment = dataclasses.replace(PAID_CLAIM, services=(service, PAID_CLAIM.services[1]))
    match = match_claim(payment, OURS)
    first = match.lines[0]
    assert first.line is not None and first.line.line_number == 1
    assert first.dropped_modifiers == ("25",)
    assert match.flagged_lines == (first,)


def test_an_added_or_different_code_does_not_match() -> None:
    service = dataclasses.replace(PAID_CLAIM.services[1], procedure=Procedure("HC", "11104"))
    payment = dataclasses.replace(PAID_CLAIM, services=(PAID_CLAIM.services[0], service))
    match = match_claim(payment, OURS)
    assert [m.procedure for m in match.unmatched_lines] == ["11104"]


def test_the_original_procedure_svc06_is_what_we_billed() -> None:
    service = dataclasses.replace(
        PAID_CLAIM.services[1],
        procedure=Procedure("HC", "11100"),
        original_procedure=Procedure("HC", "11102"),
    )
    payment = dataclasses.replace(PAID_CLAIM, services=(PAID_CLAIM.services[0], service))
    assert match_claim(payment, OURS).unmatched_lines == ()


def test_unknown_claim_is_unmatched() -> None:
    match = match_claim(DENIED_CLAIM, None)
    assert match.claim is None and len(match.unmatched_lines) == 1


def test_adjustments_by_group() -> None:
    assert by_group(PAID_CLAIM.all_adjustments) == {
        "CO": Decimal("100.00"),
        "PR": Decimal("50.00"),
    }


def test_reversal_and_correction_net_to_the_correction() -> None:
    result = net([PAID_CLAIM, reversal_of(PAID_CLAIM), CORRECTED_CLAIM])
    assert result.paid == Decimal("210.00")
    assert result.charge == Decimal("350.00")
    assert result.adjustments == {"CO": Decimal("90.00"), "PR": Decimal("50.00")}
    assert claim_status_after(reversal_of(PAID_CLAIM)) == "reversed"
    assert claim_status_after(DENIED_CLAIM) == "denied"
    assert claim_status_after(CORRECTED_CLAIM) == "paid"
