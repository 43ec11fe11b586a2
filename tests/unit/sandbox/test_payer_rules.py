"""The sandbox payer's decision table (mappings/sandbox/payer-decisions.yaml) and how it reads a
PAS request: first matching rule wins, approvals carry a stable number and the period, a request
that isn't a preauthorization is refused with where and what."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from integration.sandbox.outcome import FhirError
from integration.sandbox.payer_api import pas_request
from integration.sandbox.payer_rules import PayerRequest, default_decisions

DAY = date(2026, 11, 20)


def _asked(codes: tuple[str, ...], dx: tuple[str, ...], qty: str | None, **kw: Any) -> PayerRequest:
    return PayerRequest("x12-278", codes, dx, None if qty is None else Decimal(qty), DAY, **kw)


def test_mohs_for_a_carcinoma_is_approved_for_90_days_with_a_stable_number() -> None:
    decisions = default_decisions()
    asked = _asked(("17311",), ("C44.311",), "3", attachments=1)

    first, again = decisions.decide(asked), decisions.decide(asked)

    assert (first.outcome, first.rule) == ("approved", "mohs-malignancy")
    assert (first.start, first.end, first.units) == (DAY, date(2027, 2, 17), Decimal(3))
    assert first.auth_number == again.auth_number
    assert first.auth_number is not None and first.auth_number.startswith("SBXPA")


@pytest.mark.parametrize(
    ("asked", "outcome", "rule"),
    [
        (_asked(("17311",), ("C44.311",), "6", attachments=1), "pended", "mohs-many-stages"),
        (_asked(("17311",), ("C44.311",), "6", attachments=2), "approved", "mohs-malignancy"),
        (_asked(("17311",), ("L82.1",), "1"), "denied", "mohs-no-malignancy"),
        (_asked(("96910",), ("L40.0",), "36"), "approved", "phototherapy"),
        (_asked(("96910",), ("L57.0",), "36"), "denied", "phototherapy-other"),
        (_asked(("J3590",), ("L20.9",), "1"), "pended", "medical-drug-without-records"),
        (
            _asked(("J3590",), ("L20.9",), "1", attachments=1),
            "approved",
            "medical-drug-with-records",
        ),
        (
            _asked(("17311",), ("C44.311",), "1", member_id="NOTFOUND-1"),
            "denied",
            "member-not-found",
        ),
        (_asked(("99999",), (), None, attachments=1), "pended", "otherwise"),
    ],
)
def test_the_first_rule_that_holds_decides(asked: PayerRequest, outcome: str, rule: str) -> None:
    decision = default_decisions().decide(asked)
    assert (decision.outcome, decision.rule) == (outcome, rule)
    if outcome == "pended":
        assert decision.ask and decision.auth_number is None


def test_phototherapy_beyond_36_sessions_is_approved_for_36() -> None:
    decision = default_decisions().decide(_asked(("96910",), ("L40.0",), "48"))
    assert decision.units == Decimal(36)


def _bundle(claim: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": claim}]}


def test_a_pas_bundle_is_read_for_codes_diagnoses_quantity_and_attachments() -> None:
    claim = {
        "resourceType": "Claim",
        "use": "preauthorization",
        "diagnosis": [
            {
                "sequence": 1,
                "diagnosisCodeableConcept": {
                    "coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C44.311"}]
                },
            }
        ],
        "item": [
            {
                "sequence": 1,
                "productOrService": {"coding": [{"code": "17311"}]},
                "quantity": {"value": 3},
                "servicedDate": "2026-11-20",
            }
        ],
    }
    bundle = _bundle(claim)
    bundle["entry"].append({"resource": {"resourceType": "DocumentReference"}})

    asked, _claim = pas_request(bundle, date(2026, 1, 1))

    assert asked == PayerRequest("pas", ("17311",), ("C44.311",), Decimal(3), DAY, 1, None)


@pytest.mark.parametrize(
    ("bundle", "message"),
    [
        ({"resourceType": "Claim"}, "Bundle: expected a Bundle, got 'Claim'"),
        (_bundle({"resourceType": "Patient"}), "Bundle.entry[0].resource: expected a Claim"),
        (
            _bundle({"resourceType": "Claim", "use": "claim", "item": []}),
            "Claim.use: expected 'preauthorization', got 'claim'",
        ),
        (
            _bundle({"resourceType": "Claim", "use": "preauthorization", "item": []}),
            "Claim.item: expected at least one requested service, got none",
        ),
        (
            _bundle(
                {
                    "resourceType": "Claim",
                    "use": "preauthorization",
                    "item": [
                        {
                            "productOrService": {"coding": [{"code": "17311"}]},
                            "quantity": {"value": "x"},
                        }
                    ],
                }
            ),
            "Claim.item[0].quantity.value: expected a number",
        ),
    ],
)
def test_a_request_that_is_not_a_preauthorization_is_refused_with_where(
    bundle: dict[str, Any], message: str
) -> None:
    with pytest.raises(FhirError) as caught:
        pas_request(bundle, DAY)
    assert caught.value.status == 400
    assert caught.value.diagnostics.startswith(message)


@pytest.mark.parametrize(
    ("asked", "outcome", "rule"),
    [
        (_asked(("17311",), ("C44.311",), "3", request="cancel"), "cancelled", "cancel-accepted"),
        (
            _asked(("17311",), ("L82.1",), "1", request="appeal"),
            "denied",
            "appeal-without-new-records",
        ),
        (
            _asked(("17311",), ("L82.1",), "1", request="appeal", attachments=2),
            "approved",
            "appeal-with-records",
        ),
        (
            PayerRequest("ncpdp-epa", ("DUPIXENT",), (), Decimal(2), DAY, request="appeal"),
            "pended",
            "appeal-epa-to-medical-director",
        ),
        # a rule without `request` decides first requests only
        (_asked(("17311",), ("L82.1",), "1"), "denied", "mohs-no-malignancy"),
    ],
)
def test_appeals_and_cancels_are_decided_by_their_own_rules(
    asked: PayerRequest, outcome: str, rule: str
) -> None:
    decision = default_decisions().decide(asked)
    assert (decision.outcome, decision.rule) == (outcome, rule)


def test_a_pas_claim_update_is_read_as_an_appeal_or_a_cancellation() -> None:
    from integration.domain.priorauth import FollowUp
    from integration.priorauth.channels.pas import follow_up_bundle

    bundle = {
        "resourceType": "Bundle",
        "id": "b1",
        "entry": [
            {
                "resource": {
                    "resourceType": "Claim",
                    "id": "c1",
                    "identifier": [{"system": "urn:x", "value": "case-1"}],
                    "status": "active",
                    "use": "preauthorization",
                    "item": [{"productOrService": {"coding": [{"code": "17311"}]}}],
                }
            }
        ],
    }
    for kind, status in ((FollowUp.APPEAL, "active"), (FollowUp.CANCEL, "cancelled")):
        update = follow_up_bundle(bundle, kind, reason="why", suffix=kind.value)
        asked, claim = pas_request(update, DAY)
        assert (asked.request, claim["status"]) == (kind.value, status)
        assert claim["related"][0]["claim"]["identifier"] == {"system": "urn:x", "value": "case-1"}
    assert pas_request(bundle, DAY)[0].request == "initial"
