"""The denial worklist in the database (SQLite and PostgreSQL): posting the fixture 835 makes
one item per denied line inside the posting transaction, and posting it again makes none; an
approved PA on file turns a CO-197 into an appeal with the approval; assignment and status
changes are kept as events; PA denials are synced once; a posting that fails leaves no item."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from integration.claims.repository import ClaimsStore, ClaimToRecord
from integration.claims.submit import fhir_patient_refs
from integration.denials.remittance import SubmittedLine
from integration.store.database import make_engine, session_factory, upgrade
from integration.store.denials import DenialStore
from integration.store.models import Claim, PaCase
from integration.store.models import DenialItem as DenialRow
from integration.store.remittances import RemittanceStore
from integration.x12.t835_005010x221a1 import write_835
from tests.unit.denials.denials_fixture import (
    FIXTURE,
    PAYMENTS,
    PSORIASIS,
    UHC,
    UHC_CLAIMS,
    _payment,
    record_fixture_claims,
)
from tests.unit.denials.era_scenarios import (
    PAYER_PARAMS,
    cas,
    clock,
    control_numbers,
    reversal_of,
)

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


@pytest.fixture
def stores(database_url: str) -> Iterator[tuple[RemittanceStore, DenialStore]]:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    denials = DenialStore(sessions, lambda: NOW)
    yield RemittanceStore(sessions, clock=lambda: NOW, denials=denials), denials
    engine.dispose()


def _rows(denials: DenialStore) -> int:
    with denials.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(DenialRow)) or 0)


def _pa_case(case_id: str, state: str, **extra: str | None) -> PaCase:
    return PaCase(
        id=case_id,
        patient_id="psoriasis-skyrizi-patient",
        order_ref="ServiceRequest/1",
        order_json=json.dumps({"code": {"coding": [{"code": "17311"}]}}),
        payer_id="unitedhealthcare",
        service_date="2026-10-06",
        state=state,
        evidence_json="{}",
        assessment_json="{}",
        context_json="{}",
        created_at=NOW,
        updated_at=NOW,
        **extra,
    )


def test_one_item_per_denied_line_however_often_the_835_arrives(
    stores: tuple[RemittanceStore, DenialStore],
) -> None:
    remittances, denials = stores
    record_fixture_claims(remittances)
    first = remittances.post_file(FIXTURE.read_bytes(), "835-denials.x12")
    assert first.status == "posted"
    items = denials.list(sort="amount")
    assert [(i.reason, i.category, i.next_step, str(i.amount)) for i in items] == [
        ("CO-50", "medical-necessity", "appeal", "4500.00"),
        ("CO-197", "authorization", "appeal", "1200.00"),
        ("CO-15", "authorization", "appeal", "250.00"),
        ("CO-16", "missing-information", "correct-resubmit", "180.00"),
        ("CO-97", "bundling", "correct-resubmit", "150.00"),
        ("PR-1", "patient-responsibility", "bill-patient", "140.00"),
    ]
    co50 = items[0]
    assert co50.patient_ref == PSORIASIS and co50.claim_id is not None
    assert co50.line_posting_id is not None and co50.claim_posting_id is not None
    assert co50.origin.startswith(f"835 file {first.file_id} · TRN UHCEFT0001 · CLP DRM-2001")
    assert denials.get(co50.id or 0) == co50
    again = remittances.post_file(FIXTURE.read_bytes(), "835-denials-copy.x12")
    assert again.status == "duplicate"
    assert _rows(denials) == 6
    # deriving again from the same posting adds nothing
    with denials.sessions.begin() as session:
        assert denials.derive_from_posting(session, co50.claim_posting_id or 0) == []
    assert _rows(denials) == 6
    by_deadline = denials.list(sort="deadline")
    assert [str(i.deadline) for i in by_deadline[:3]] == ["2027-03-25"] * 3
    assert [i.deadline for i in by_deadline[3:]] == [None] * 3
    assert [i.reason for i in denials.list(queue="coder", sort="id")] == ["CO-16", "CO-97"]
    assert [i.reason for i in denials.list(payer="UNITEDHEALTHCARE SANDBOX", category="authorization", sort="id")] == ["CO-197", "CO-15"]  # fmt: skip


def test_an_approved_authorization_for_the_service_makes_the_co197_an_appeal_with_it(
    stores: tuple[RemittanceStore, DenialStore],
) -> None:
    remittances, denials = stores
    record_fixture_claims(remittances)
    with denials.sessions.begin() as session:
        for pcn in ("DRM-2002", "DRM-2004"):
            claim = session.scalar(select(Claim).where(Claim.patient_control_number == pcn))
            assert claim is not None
            claim.patient_ref = PSORIASIS
        session.add(
            _pa_case(
                "11111111-1111-1111-1111-111111111111",
                "approved",
                auth_number="AUTH-778",
                approved_from="2026-10-01",
                approved_to="2026-12-31",
            )
        )
    remittances.post_file(FIXTURE.read_bytes(), "835-denials.x12")
    mohs, uvb = denials.list(category="authorization", patient_ref=PSORIASIS, sort="id")
    assert (mohs.reason, mohs.next_step) == ("CO-197", "appeal")
    assert "AUTH-778" in mohs.next_step_reason
    assert mohs.next_step_reason.endswith("[rule authorization-on-file]")
    # the approval is for 17311, not for the phototherapy: none on file for 96910
    assert (uvb.reason, uvb.next_step) == ("CO-15", "correct-resubmit")
    assert uvb.next_step_reason.endswith("[rule authorization-none]")


def test_assignment_and_status_changes_are_kept_as_events(
    stores: tuple[RemittanceStore, DenialStore],
) -> None:
    remittances, denials = stores
    record_fixture_claims(remittances)
    remittances.post_file(FIXTURE.read_bytes(), "835-denials.x12")
    item = denials.list(sort="amount")[0]
    assert item.id is not None
    assigned = denials.assign(item.id, "biller:ana", actor="admin")
    assert assigned.assignee == "biller:ana"
    assert [i.id for i in denials.list(assignee="biller:ana")] == [item.id]
    changed = denials.set_status(item.id, "written-off", reason="below threshold", actor="ana")
    assert changed.status == "written-off"
    with pytest.raises(ValueError, match="status: expected one of"):
        denials.set_status(item.id, "lost", reason="x", actor="ana")
    with pytest.raises(ValueError, match="reason: expected why"):
        denials.set_status(item.id, "open", reason=" ", actor="ana")
    with pytest.raises(KeyError):
        denials.assign(999_999, "x", actor="admin")
    events = denials.events(item.id)
    assert [(e.kind, e.actor, e.detail) for e in events] == [
        ("created", "system:835", f"835-line:{item.line_posting_id} CO-50 medical-necessity -> appeal"),
        ("assigned", "admin", "assignee - -> biller:ana"),
        ("status", "ana", "status open -> written-off: below threshold"),
    ]  # fmt: skip
    assert "DRM-" not in " ".join(e.detail for e in events)  # no control numbers in the trail


def test_pa_denials_are_synced_once(stores: tuple[RemittanceStore, DenialStore]) -> None:
    _, denials = stores
    with denials.sessions.begin() as session:
        session.add(_pa_case("22222222-2222-2222-2222-222222222222", "denied"))
        session.add(_pa_case("33333333-3333-3333-3333-333333333333", "approved"))
    first = denials.sync_pa_denials()
    assert len(first) == 1
    assert denials.sync_pa_denials() == []
    item = denials.get(first[0])
    assert item is not None
    assert (item.source, item.pa_case_id, item.procedure) == (
        "pa",
        "22222222-2222-2222-2222-222222222222",
        "17311",
    )
    assert (item.next_step, item.queue, item.deadline) == ("appeal", "coordinator", None)
    assert item.deadline_basis.startswith("unknown: ")
    assert item.patient_ref == PSORIASIS and item.amount == Decimal("0.00")


def test_a_posting_that_fails_leaves_no_denial_item(
    stores: tuple[RemittanceStore, DenialStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    remittances, denials = stores
    record_fixture_claims(remittances)
    calls = {"n": 0}
    original = denials.add_items

    def failing(session: object, items: object, actor: str) -> list[int]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return original(session, items, actor)  # type: ignore[arg-type]

    monkeypatch.setattr(denials, "add_items", failing)
    with pytest.raises(RuntimeError):
        remittances.post_file(FIXTURE.read_bytes(), "835-denials.x12")
    assert _rows(denials) == 0
    monkeypatch.undo()
    result = remittances.post_file(FIXTURE.read_bytes(), "835-denials.x12")
    assert result.status == "posted"
    assert _rows(denials) == 6


def test_a_reversed_denial_is_closed_and_the_corrected_claim_derives_its_own(
    stores: tuple[RemittanceStore, DenialStore],
) -> None:
    remittances, denials = stores
    record_fixture_claims(remittances)
    remittances.post_file(FIXTURE.read_bytes(), "835-denials.x12")
    original = UHC_CLAIMS[0]
    service = dataclasses.replace(
        original.services[0], paid=Decimal("3000.00"), cas=(cas("CO", ("45", "1500.00")),)
    )
    corrected = dataclasses.replace(
        original, status="1", paid=Decimal("3000.00"), services=(service,)
    )
    second = _payment(UHC, "UHCEFT0002", (reversal_of(original), corrected))
    assert PAYMENTS[0].claims[0] is original
    text = write_835(second, PAYER_PARAMS, clock, control_numbers(901))
    assert remittances.post_file(text.encode(), "reversal.835").status == "posted"
    co50 = next(i for i in denials.list() if i.reason == "CO-50")
    assert co50.status == "closed"
    assert denials.events(co50.id or 0)[-1].detail.endswith("reversed by the payer (CLP02 22)")
    assert len(denials.list()) == 6  # neither the reversal nor the paid correction is a denial


def test_claims_keep_the_fhir_patient_they_are_for(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    line = SubmittedLine(1, "11102", (), date(2026, 10, 1), Decimal("200.00"), Decimal(1))
    refs = fhir_patient_refs(
        [
            {"identifier": [{"value": "DRM-9001"}], "patient": {"reference": PSORIASIS}},
            {"identifier": [{"value": "DRM-9002"}], "patient": {"reference": "Group/1"}},
            {"patient": {"reference": PSORIASIS}},
        ]
    )
    assert refs == {"DRM-9001": PSORIASIS}
    ClaimsStore(sessions).record_file(
        filename="c.837",
        raw=b"ISA",
        interchange="1",
        group="1",
        transaction="0001",
        claims=[
            ClaimToRecord("DRM-9001", "P1", Decimal("200.00"), (line,), refs.get("DRM-9001")),
            ClaimToRecord("DRM-9002", "P1", Decimal("200.00"), (line,), refs.get("DRM-9002")),
        ],
    )
    with sessions() as session:
        got = dict(session.execute(select(Claim.patient_control_number, Claim.patient_ref)).all())
    assert got == {"DRM-9001": PSORIASIS, "DRM-9002": None}
    with pytest.raises(ValueError, match="patient_ref: expected 'Patient/<id>'"):
        RemittanceStore(sessions).record_submitted_claim(
            patient_control_number="DRM-9003",
            payer_id="P1",
            total_charge=Decimal("1"),
            lines=(),
            patient_ref="psoriasis-skyrizi-patient",
        )
    engine.dispose()
