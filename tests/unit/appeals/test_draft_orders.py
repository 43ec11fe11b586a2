"""Which chart order an appeal argues: the one coded with the denied 835 procedure first."""

from __future__ import annotations

from integration.appeals.draft import _chart_orders

BIOLOGIC = {
    "resourceType": "MedicationRequest",
    "status": "active",
    "intent": "order",
    "authoredOn": "2026-11-01",
    "medicationCodeableConcept": {"coding": [{"code": "2164418"}]},
}
MOHS = {
    "resourceType": "ServiceRequest",
    "status": "active",
    "intent": "order",
    "authoredOn": "2026-10-01",
    "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "17311"}]},
}
CHART = {"MedicationRequest/bio": BIOLOGIC, "ServiceRequest/mohs": MOHS}


def test_a_mohs_denial_is_argued_with_the_mohs_order_not_the_newer_biologic() -> None:
    assert _chart_orders(CHART, "17311") == [MOHS, BIOLOGIC]


def test_without_a_matching_code_the_newest_order_comes_first() -> None:
    assert _chart_orders(CHART, "J3590") == [BIOLOGIC, MOHS]
    assert _chart_orders(CHART) == [BIOLOGIC, MOHS]
