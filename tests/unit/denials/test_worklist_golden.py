"""Golden: every denial of the fixture 835 (fixtures/x12/835-denials.x12) lands in the right
category with the right next step, queue, amount at stake and appeal deadline; the paid line,
the CO-45-only line and ordinary cost sharing make no item. The fixture file itself is what the
models in denials_fixture.py write (UPDATE_GOLDENS=1 rewrites it)."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal

import pytest

from integration.denials.categories import default_categories
from integration.denials.deadlines import default_deadlines
from integration.denials.items import NEXT_STEPS, QUEUES, DenialItem
from integration.denials.next_steps import default_next_steps, load_next_steps
from integration.denials.worklist import derive_items, posted_claim_from_835
from integration.mapping.loader import load_document
from integration.paths import mappings_dir
from integration.x12.t835_005010x221a1 import read_835
from tests.unit.denials.denials_fixture import (
    CLAIMS,
    FIXTURE,
    PSORIASIS,
    claims_text,
    fixture_text,
)

MEDICARE_DUE = date(2027, 3, 25)  # 2026-11-20 + 5 days presumed receipt + 120 days

#: patient control number, procedure -> reason, category, next step, queue, amount, deadline,
#: the rule that decided and a phrase the reason must contain
EXPECTED = {
    ("DRM-2001", "J3590"): (
        "CO-50", "medical-necessity", "appeal", "biller", "4500.00", None,
        "medical-necessity", "chart evidence",
    ),
    ("DRM-2002", "17311"): (
        "CO-197", "authorization", "appeal", "coordinator", "1200.00", None,
        "authorization-unknown", "retro-authorization",
    ),
    ("DRM-2004", "96910"): (
        "CO-15", "authorization", "appeal", "coordinator", "250.00", None,
        "authorization-unknown", "retro-authorization",
    ),
    ("DRM-2101", "17000"): (
        "CO-16", "missing-information", "correct-resubmit", "coder", "180.00", MEDICARE_DUE,
        "missing-information", "rendering provider's primary identifier (NPI)",
    ),
    ("DRM-2102", "99213"): (
        "CO-97", "bundling", "correct-resubmit", "coder", "150.00", MEDICARE_DUE,
        "bundling", "modifier 25",
    ),
    ("DRM-2103", "11102"): (
        "PR-1", "patient-responsibility", "bill-patient", "biller", "140.00", MEDICARE_DUE,
        "patient-responsibility", "bill the patient",
    ),
}  # fmt: skip


def fixture_items(authorization: bool | None = None) -> list[DenialItem]:
    models, problems = read_835(FIXTURE.read_bytes())
    assert problems == []
    items: list[DenialItem] = []
    for model in models:
        for cp in model.claims:
            ref = PSORIASIS if cp.patient_control_number == "DRM-2001" else None
            posted = posted_claim_from_835(
                model.header, cp, default_categories(), file_id=1, patient_ref=ref
            )
            items.extend(
                derive_items(
                    posted,
                    default_next_steps(),
                    default_deadlines(),
                    authorization_on_file=authorization,
                    authorization_number="A123" if authorization else None,
                )
            )
    return items


def test_the_fixture_is_what_its_models_write() -> None:
    if os.environ.get("UPDATE_GOLDENS") == "1":
        FIXTURE.write_text(fixture_text(), encoding="ascii")
        CLAIMS.write_text(claims_text(), encoding="utf-8")
    assert FIXTURE.read_text(encoding="ascii") == fixture_text()
    assert CLAIMS.read_text(encoding="utf-8") == claims_text()


def test_each_denial_lands_in_its_category_with_its_next_step_and_deadline() -> None:
    items = fixture_items()
    got = {
        (i.patient_control_number, i.procedure): (
            i.reason,
            i.category,
            i.next_step,
            i.queue,
            str(i.amount),
            i.deadline,
            i.next_step_reason.rsplit("[rule ", 1)[1].rstrip("]"),
        )
        for i in items
    }
    assert got == {k: v[:7] for k, v in EXPECTED.items()}
    for item in items:
        phrase = EXPECTED[(item.patient_control_number or "", item.procedure or "")][7]
        assert phrase in item.next_step_reason
        assert item.next_step in NEXT_STEPS and item.queue in QUEUES
        assert item.status == "open"


def test_paid_lines_contractual_reductions_and_cost_sharing_are_not_denials() -> None:
    keys = {(i.patient_control_number, i.procedure) for i in fixture_items()}
    assert ("DRM-2003", "99213") not in keys  # paid, CO-45 + PR-2
    assert ("DRM-2003", "11102") not in keys  # CO-45 only
    assert ("DRM-2102", "11102") not in keys  # paid beside the bundled line
    assert len(keys) == 6


def test_deadlines_say_their_basis_or_that_they_are_unknown() -> None:
    by_key = {(i.patient_control_number, i.procedure): i for i in fixture_items()}
    medicare = by_key[("DRM-2101", "17000")]
    assert medicare.deadline_basis.startswith("medicare-part-b-redetermination: 120 days")
    assert "42 CFR 405.942(a)" in medicare.deadline_basis
    assert "2026-11-20" in medicare.deadline_basis
    commercial = by_key[("DRM-2001", "J3590")]
    assert commercial.deadline is None
    assert commercial.deadline_basis.startswith("unknown: ")
    assert "29 CFR 2560.503-1(h)(3)(i)" in commercial.deadline_basis


def test_the_denial_origin_names_the_835_segments_and_the_patient() -> None:
    item = next(i for i in fixture_items() if i.reason == "CO-16")
    assert item.origin == (
        "835 file 1 · TRN MACEFT0001 · CLP DRM-2101 · SVC 1 17000 · CAS CO-16 · LQ N290"
    )
    assert item.rarcs == ("N290",)
    co50 = next(i for i in fixture_items() if i.reason == "CO-50")
    assert co50.patient_ref == PSORIASIS
    assert co50.payer_name == "UNITEDHEALTHCARE SANDBOX"
    assert co50.to_json()["amount"] == "4500.00"


@pytest.mark.parametrize(
    ("on_file", "step", "rule"),
    [(True, "appeal", "authorization-on-file"), (False, "correct-resubmit", "authorization-none")],
)
def test_authorization_denials_depend_on_an_authorization_on_file(
    on_file: bool, step: str, rule: str
) -> None:
    item = next(i for i in fixture_items(on_file) if i.reason == "CO-197")
    assert (item.next_step, item.queue) == (step, "coordinator")
    assert item.next_step_reason.endswith(f"[rule {rule}]")
    if on_file:
        assert "(A123)" in item.next_step_reason


def test_an_unprocessable_claim_is_resubmitted_never_appealed() -> None:
    step = default_next_steps().decide(
        category="missing-information", group="CO", reason="16", rarcs=("MA130", "M51")
    )
    assert step.next_step == "correct-resubmit"
    assert "no appeal rights" in step.reason and "a valid procedure code" in step.reason


def test_every_category_has_a_next_step_and_every_rule_cites_or_says_unverified() -> None:
    rules = load_next_steps()
    for category in default_categories().descriptions:
        step = rules.decide(category=category, group="CO", reason="X")
        assert step.next_step in NEXT_STEPS
    doc = load_document(mappings_dir() / "denials" / "next-steps.yaml")
    for rule in doc.data["rules"]:
        assert rule["source"]["title"]
        assert isinstance(rule["verified"], bool)
    deadlines = load_document(mappings_dir() / "denials" / "appeal-deadlines.yaml")
    for rule in deadlines.data["rules"]:
        assert rule["citation"] and rule["source"]["url"].startswith("https://www.ecfr.gov/")


def test_a_second_level_deadline_runs_from_the_first_decision() -> None:
    rules = default_deadlines()
    first = rules.deadline(notice_date=date(2026, 11, 20), filing_indicator="MB")
    second = rules.next_level(first.basis, date(2027, 1, 5))
    assert second.due == date(2027, 7, 9)  # 5 + 180 days
    assert second.rule_id == "medicare-part-b-reconsideration"
    unknown = rules.next_level("unknown: level 1: ...", date(2027, 1, 5))
    assert unknown.due is None and unknown.basis.startswith("unknown: level 2")
    erisa = rules.deadline(notice_date=date(2026, 11, 20), plan_type="erisa-group")
    assert erisa.due == date(2027, 5, 19) and "federal minimum" in erisa.basis


def test_amount_at_stake_is_the_denial_adjustments_not_charge_minus_paid() -> None:
    item = next(i for i in fixture_items() if i.reason == "PR-1")
    # charge 200.00, paid 0, CO-45 60.00 (contractual, no category) + PR-1 140.00
    assert item.amount == Decimal("140.00")
    assert [a.category for a in item.adjustments] == [None, "patient-responsibility"]
