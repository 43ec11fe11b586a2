"""REF*G1 from an approved PA case (SQLite and PostgreSQL): cases are opened with PaCaseStore and
answered with PaSubmissionStore.apply, as the renewals test does; a claim's procedure codes and
date of service find the approval that covers them, none or several are said (never picked), and
the number goes on the 837P claim as REF*G1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from integration.claims.prior_auth import (
    AuthMatch,
    PriorAuthLookupError,
    prior_auth_for,
    the_prior_auth,
    with_prior_auth,
)
from integration.domain.evidence import ClinicalEvidence, from_json
from integration.domain.priorauth import Outcome, PayerResponse
from integration.paths import fixtures_dir
from integration.priorauth.assess import assess
from integration.priorauth.cases import CaseState
from integration.priorauth.order import order_from_fhir
from integration.priorauth.references import PaReferences, load_pa_references
from integration.store.database import make_engine, session_factory, upgrade
from integration.store.pa_cases import PaCaseStore
from integration.store.pa_submissions import PaSubmissionStore
from integration.x12.t837_005010x222a1 import Reference, read_837p, write_837p
from tests.unit.x12.scenarios_837p import CLINIC_PARAMS, MOHS, clock, control_numbers, transaction

OPENED = datetime(2026, 11, 15, 14, 0, tzinfo=UTC)
PATIENT = "bcc-mohs"
PAYER = "cigna"
MOHS_CODES = ("17311", "17312", "13132")


@pytest.fixture(scope="module")
def refs() -> PaReferences:
    return load_pa_references()


Stores = tuple[sessionmaker[Session], PaCaseStore, PaSubmissionStore]


@pytest.fixture
def stores(database_url: str) -> Iterator[Stores]:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    yield sessions, PaCaseStore(sessions), PaSubmissionStore(sessions)
    engine.dispose()


def _order(code: str) -> dict[str, Any]:
    order: dict[str, Any] = json.loads((fixtures_dir() / "orders" / "mohs.json").read_text())
    order["code"]["coding"][0]["code"] = code
    return order


def _case(
    stores: Stores,
    refs: PaReferences,
    *,
    code: str = "17311",
    outcome: Outcome = Outcome.APPROVED,
    auth: str | None = "AUTH-MOHS-0001",
    start: str | None = "2026-11-20",
    end: str | None = "2027-02-20",
    patient: str = PATIENT,
) -> str:
    _, cases, subs = stores
    evidence: ClinicalEvidence = from_json(
        ClinicalEvidence,
        json.loads((fixtures_dir() / "patients" / "bcc-mohs.evidence.json").read_text()),
    )
    order = _order(code)
    assessment = assess(
        evidence,
        order_from_fhir(order),
        refs.library,
        refs.lookups,
        date(2026, 11, 15),
        payer_id=PAYER,
    )
    case_id = cases.open_case(
        patient_id=patient,
        order=order,
        assessment=assessment,
        evidence=evidence,
        prescriber=None,
        actor="coordinator",
        now=OPENED,
    )
    cases.transition(case_id, CaseState.READY_FOR_REVIEW, actor="c", reason="r", now=OPENED)
    subs.apply(
        case_id,
        "x12-278",
        PayerResponse(outcome, "synthetic", auth_number=auth, start=start, end=end),
        actor="coordinator",
        now=OPENED,
    )
    return case_id


def _lookup(stores: Stores, day: date, codes: tuple[str, ...] = MOHS_CODES) -> list[AuthMatch]:
    return prior_auth_for(stores[0], PATIENT, PAYER, codes, day)


def test_the_approval_covering_the_service_is_found(stores: Stores, refs: PaReferences) -> None:
    approved = _case(stores, refs)
    _case(stores, refs, outcome=Outcome.DENIED, auth=None, start=None, end=None)
    _case(stores, refs, code="11102", auth="AUTH-OTHER-CODE")
    _case(stores, refs, patient="someone-else", auth="AUTH-OTHER-PATIENT")

    matches = _lookup(stores, date(2026, 12, 1))

    assert matches == [
        AuthMatch(
            case_id=approved,
            auth_number="AUTH-MOHS-0001",
            approved_from=date(2026, 11, 20),
            approved_to=date(2027, 2, 20),
            matched_codes=("17311",),
        )
    ]
    assert the_prior_auth(matches, MOHS_CODES, date(2026, 12, 1)).auth_number == "AUTH-MOHS-0001"
    # both ends of the approval are inclusive
    assert len(_lookup(stores, date(2026, 11, 20))) == len(_lookup(stores, date(2027, 2, 20))) == 1


def test_none_is_said(stores: Stores, refs: PaReferences) -> None:
    _case(stores, refs)
    _case(stores, refs, auth=None, start="2027-03-01", end="2027-06-01")  # no number: no match
    day = date(2027, 3, 15)
    matches = _lookup(stores, day)
    assert matches == []
    with pytest.raises(PriorAuthLookupError) as caught:
        the_prior_auth(matches, MOHS_CODES, day)
    assert str(caught.value) == (
        "2300 REF*G1: expected one approved prior authorization covering 13132, 17311, 17312 "
        "on 2027-03-15, got none"
    )


def test_several_are_listed_never_picked(stores: Stores, refs: PaReferences) -> None:
    first = _case(stores, refs)
    second = _case(stores, refs, code="17312", auth="AUTH-MOHS-0002", start="2026-12-01")
    day = date(2026, 12, 10)
    matches = _lookup(stores, day)
    assert sorted(m.case_id for m in matches) == sorted([first, second])
    with pytest.raises(PriorAuthLookupError) as caught:
        the_prior_auth(matches, MOHS_CODES, day)
    message = str(caught.value)
    assert message.startswith(
        "2300 REF*G1: expected one approved prior authorization covering 13132, 17311, 17312 "
        "on 2026-12-10, got 2: "
    )
    assert f"case {first} (AUTH-MOHS-0001, 2026-11-20..2027-02-20, 17311)" in message
    assert f"case {second} (AUTH-MOHS-0002, 2026-12-01..2027-02-20, 17312)" in message


def test_the_number_goes_on_the_claim_as_ref_g1(stores: Stores, refs: PaReferences) -> None:
    _case(stores, refs)
    match = the_prior_auth(_lookup(stores, date(2026, 12, 1)), MOHS_CODES, date(2026, 12, 1))
    without = transaction(replace(MOHS, references=()))

    model = with_prior_auth(without, match.auth_number)

    assert model.claims[0].references == (Reference("G1", "AUTH-MOHS-0001"),)
    text = write_837p(model, CLINIC_PARAMS, clock, control_numbers(), segment_suffix="\n")
    assert "\nREF*G1*AUTH-MOHS-0001~" in text
    # the same 837P as the golden MOHS claim that carries the number
    assert text == write_837p(
        transaction(MOHS), CLINIC_PARAMS, clock, control_numbers(), segment_suffix="\n"
    )
    assert read_837p(text)[0] == [model]


def test_a_different_number_is_never_overwritten() -> None:
    with pytest.raises(ValueError, match=r"expected no prior authorization number or 'X-2'"):
        with_prior_auth(transaction(MOHS), "X-2")
    assert with_prior_auth(transaction(MOHS), "AUTH-MOHS-0001") == transaction(MOHS)


def test_several_claims_need_the_patient_control_number() -> None:
    other = replace(MOHS, patient_control_number="DRCM-MOHS-2002", references=())
    both = transaction(replace(MOHS, references=()), other)
    with pytest.raises(ValueError, match="expected the patient control number of one of 2 claims"):
        with_prior_auth(both, "AUTH-9")
    out = with_prior_auth(both, "AUTH-9", patient_control_number="DRCM-MOHS-2002")
    assert [c.prior_authorization for c in out.claims] == [None, "AUTH-9"]
