"""The remittance ledger in the database (SQLite and PostgreSQL): a payment posts once however
often it arrives; a reversal plus correction nets to the correction; a dropped modifier matches
and is flagged; an unknown claim is queued; a crash inside a payment posts nothing of it and
keeps the file; a malformed file is stored and rejected with located problems.

Fixtures: synthetic remittances from tests/unit/denials/era_scenarios.py (no real data) and the
public emedny sample (/work/shared/data/x12, see PROVENANCE.md there)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from integration.denials.remittance import SubmittedLine
from integration.store.database import make_engine, session_factory, upgrade
from integration.store.remittances import RemittanceStore
from integration.x12.t278_005010x217 import Procedure
from integration.x12.t835_005010x221a1 import Remittance835, write_835
from tests.unit.denials.era_scenarios import (
    BIOPSY_DAY,
    CORRECTED_CLAIM,
    DENIED_CLAIM,
    MOHS_DAY,
    PAID_CLAIM,
    PAYER_PARAMS,
    clock,
    control_numbers,
    remittance,
    reversal_of,
)

EMEDNY = Path("/work/shared/data/x12/835__affect-therapeutics__emedny_sample.txt")


@pytest.fixture
def store(database_url: str) -> Iterator[RemittanceStore]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield RemittanceStore(session_factory(engine))
    engine.dispose()


def record_our_claims(store: RemittanceStore) -> None:
    store.record_submitted_claim(
        patient_control_number="DRM-1001",
        payer_id="1999999999",
        total_charge=Decimal("350.00"),
        lines=(
            SubmittedLine(1, "99213", ("25",), BIOPSY_DAY, Decimal("150.00"), Decimal(1)),
            SubmittedLine(2, "11102", (), BIOPSY_DAY, Decimal("200.00"), Decimal(1)),
        ),
    )
    store.record_submitted_claim(
        patient_control_number="DRM-1002",
        payer_id="1999999999",
        total_charge=Decimal("900.00"),
        lines=(SubmittedLine(1, "17311", (), MOHS_DAY, Decimal("900.00"), Decimal(1)),),
    )


def text(model: Remittance835, start: int = 501) -> bytes:
    return write_835(model, PAYER_PARAMS, clock, control_numbers(start)).encode("ascii")


def test_a_payment_posts_once_however_often_it_arrives(store: RemittanceStore) -> None:
    record_our_claims(store)
    first = store.post_file(text(remittance()), "era-0320.835")
    assert first.status == "posted"
    (payment,) = first.payments
    assert payment.to_json() == {
        "trace_number": "EFT0000001",
        "payer_id": "1999999999",
        "payer": "SANDBOX HEALTH PLAN",
        "amount": "201.50",
        "duplicate": False,
        "claims": {"posted": 2, "matched": 2, "unmatched": 0, "reversals": 0},
        "lines_flagged": 0,
        "adjustments_by_group": {"CO": "1000.00", "PR": "50.00"},
        "provider_adjustments": "-1.50",
        "queued_for_review": 0,
    }
    after_first = store.counts()
    # the same payment again: another file name, other ISA/GS/ST control numbers
    again = store.post_file(text(remittance(), start=777), "resent/era-copy.txt")
    assert again.status == "duplicate"
    assert [p.duplicate for p in again.payments] == [True]
    assert again.sha256 != first.sha256
    counts = store.counts()
    assert counts == {**after_first, "files": 2}
    ledger = store.claim_ledger("DRM-1001")
    assert ledger is not None
    assert (ledger.status, ledger.postings, ledger.paid) == ("paid", 1, Decimal("200.00"))
    assert ledger.payer_claim_number == "PCN0001"
    denied = store.claim_ledger("DRM-1002")
    assert denied is not None and denied.status == "denied"


def test_reversal_and_correction_post_the_net(store: RemittanceStore) -> None:
    record_our_claims(store)
    store.post_file(text(remittance(claims=(PAID_CLAIM,), plb=())), "first.835")
    second = remittance(
        trace="EFT0000002", claims=(reversal_of(PAID_CLAIM), CORRECTED_CLAIM), plb=()
    )
    result = store.post_file(text(second), "second.835")
    (payment,) = result.payments
    assert (payment.claims_posted, payment.reversals, payment.queued) == (2, 1, 0)
    assert payment.amount == Decimal("10.00")
    ledger = store.claim_ledger("DRM-1001")
    assert ledger is not None
    assert ledger.postings == 3
    assert ledger.paid == Decimal("210.00")
    assert ledger.patient_responsibility == Decimal("50.00")
    assert ledger.adjustments_by_group == {"CO": Decimal("90.00"), "PR": Decimal("50.00")}
    assert ledger.status == "paid"


def test_a_reversal_with_nothing_to_reverse_is_queued(store: RemittanceStore) -> None:
    record_our_claims(store)
    store.post_file(text(remittance(claims=(reversal_of(PAID_CLAIM),), plb=())), "rev.835")
    assert [w.kind for w in store.work_items()] == ["reversal_unmatched"]


def test_a_dropped_modifier_matches_and_is_flagged(store: RemittanceStore) -> None:
    record_our_claims(store)
    service = dataclasses.replace(PAID_CLAIM.services[0], procedure=Procedure("HC", "99213"))
    claim = dataclasses.replace(PAID_CLAIM, services=(service, PAID_CLAIM.services[1]))
    result = store.post_file(text(remittance(claims=(claim,), plb=())), "mod.835")
    (payment,) = result.payments
    assert (payment.claims_matched, payment.lines_flagged, payment.queued) == (1, 1, 1)
    (item,) = store.work_items()
    assert item.kind == "modifier_dropped"
    assert item.detail == (
        "SVC 1 (99213): matched line 1; modifier(s) 25 billed but not on the remittance"
    )
    assert item.trace_number == "EFT0000001"


def test_an_unknown_claim_is_queued_for_a_person(store: RemittanceStore) -> None:
    record_our_claims(store)
    stranger = dataclasses.replace(
        DENIED_CLAIM, patient_control_number="NOT-OURS-9", payer_claim_control_number="PCN0099"
    )
    result = store.post_file(text(remittance(claims=(PAID_CLAIM, stranger), plb=())), "x.835")
    (payment,) = result.payments
    assert (payment.claims_posted, payment.claims_matched, payment.claims_unmatched) == (2, 1, 1)
    assert [(w.kind, w.detail) for w in store.work_items()] == [
        (
            "unmatched_claim",
            "CLP07 PCN0099: no claim of ours with this patient control number or payer claim number",
        )
    ]


def test_a_crash_inside_a_payment_posts_nothing_and_keeps_the_file(
    store: RemittanceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_our_claims(store)
    original = RemittanceStore._post_claim
    calls: list[int] = []

    def crash_after_first(self: RemittanceStore, *args: Any, **kwargs: Any) -> Any:
        if calls:
            raise RuntimeError("power cut")
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(RemittanceStore, "_post_claim", crash_after_first)
    raw = text(remittance())
    with pytest.raises(RuntimeError, match="power cut"):
        store.post_file(raw, "crash.835")
    counts = store.counts()
    assert counts["files"] == 1
    assert {k: v for k, v in counts.items() if k != "files"} == dict.fromkeys(
        (
            "payments",
            "claim_postings",
            "line_postings",
            "adjustments",
            "provider_adjustments",
            "work_items",
        ),
        0,
    )
    status = store.file_status(1)
    assert status is not None and status[0] == "failed" and status[2] == raw
    ledger = store.claim_ledger("DRM-1001")
    assert ledger is not None and (ledger.status, ledger.postings) == ("submitted", 0)
    # once the crash is gone the same file posts
    monkeypatch.setattr(RemittanceStore, "_post_claim", original)
    assert store.post_file(raw, "crash.835").status == "posted"


def test_a_malformed_file_is_stored_and_rejected(store: RemittanceStore) -> None:
    raw = text(remittance()).replace(b"CLP*DRM-1002*4*900.00*0*", b"CLP*DRM-1002*4*900.00*7*")
    result = store.post_file(raw, "bad.835")
    assert result.status == "rejected"
    assert result.problems == (
        "2100 CLP04 (segment 31): expected CLP03 - claim and line adjustments (900.00 - 900.00 = "
        "0.00) to equal CLP04, got 7",
        "BPR02 (segment 3): expected BPR02 = sum of CLP04 - sum of PLB amounts (207.00 - -1.50 = "
        "208.50), got 201.50",
    )
    counts = store.counts()
    assert counts["files"] == 1 and counts["payments"] == 0
    status = store.file_status(result.file_id)
    assert status is not None and status[0] == "rejected" and status[2] == raw


def test_a_public_sample_posts_unmatched(store: RemittanceStore) -> None:
    result = store.post_file(EMEDNY.read_bytes(), EMEDNY.name)
    (payment,) = result.payments
    assert (payment.trace_number, payment.amount) == ("10100000000", Decimal("45.75"))
    assert (payment.claims_posted, payment.claims_unmatched) == (3, 3)
    assert payment.adjustments_by_group == {"CO": Decimal("56.75")}
    assert store.post_file(EMEDNY.read_bytes(), "again.txt").payments[0].duplicate


def without_payer_contact(model: Remittance835) -> Remittance835:
    payer = dataclasses.replace(model.header.payer, contacts=())
    return dataclasses.replace(model, header=dataclasses.replace(model.header, payer=payer))


def test_a_warning_does_not_stop_posting(store: RemittanceStore) -> None:
    """A missing PER*BL (1000A) is a situational-contact warning: posted, and reported."""
    raw = text(without_payer_contact(remittance()))
    assert b"PER*BL" not in raw
    result = store.post_file(raw, "no-contact.835")
    assert result.status == "posted"
    assert result.problems == ()
    assert result.warnings == (
        "warning: 1000A N1 (segment 7): expected PER*BL (payer technical contact), got none",
    )
    summary = result.to_json()
    assert summary["warnings"] == list(result.warnings) and len(summary["payments"]) == 1
    status = store.file_status(result.file_id)
    assert status is not None and status[0] == "posted" and "PER*BL" in (status[1] or "")


def test_errors_still_reject_with_warnings_alongside(store: RemittanceStore) -> None:
    raw = text(without_payer_contact(remittance())).replace(
        b"CLP*DRM-1002*4*900.00*0*", b"CLP*DRM-1002*4*900.00*7*"
    )
    result = store.post_file(raw, "bad-no-contact.835")
    assert result.status == "rejected" and result.payments == ()
    assert len(result.problems) == 2 and all("PER*BL" not in p for p in result.problems)
    assert result.warnings == (
        "warning: 1000A N1 (segment 7): expected PER*BL (payer technical contact), got none",
    )
