"""The claim submission loop over real HTTP against the sandbox clearinghouse (started in-process
like tests/support/servers.py does), on SQLite and PostgreSQL: submit -> 999 -> 277CA -> 835
posted; a rejected file; reverse and correct; polling twice; the clearinghouse down; 270 -> 271.

Fixtures: the synthetic claims of tests/unit/claims/scenarios.py (invented people and ids, codes
only) and fixtures/x12/270/request-general-and-office-visit.x12 (synthetic, see its PROVENANCE)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, select

from integration.claims.repository import ClaimsStore
from integration.claims.submit import (
    SubmissionError,
    poll,
    send_stored,
    submit_claims,
)
from integration.clearinghouse.http import HttpClearinghouse
from integration.clearinghouse.port import InboundFile, Receipt
from integration.paths import fixtures_dir
from integration.sandbox.clearinghouse import ClearinghouseSandbox, clearinghouse_of
from integration.store.control_numbers import StoredControlNumbers
from integration.store.database import session_factory
from integration.store.models import ClaimFile, RemittanceAdjustment
from integration.x12.t271_005010x279a1 import read_271, summarize_benefits
from integration.x12.t837_005010x222a1 import Claim, claim_to_json
from tests.support.servers import Sandbox, start_fixture_sandbox
from tests.unit.claims import scenarios as s


@dataclass
class Running:
    sandbox: Sandbox
    state: ClearinghouseSandbox

    @property
    def url(self) -> str:
        return f"{self.sandbox.url}/clearinghouse"


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    apps: list[Flask] = []

    def keep(app: Flask) -> Any:
        apps.append(app)
        return app

    sandbox = start_fixture_sandbox(None, wrap=keep)
    try:
        state = clearinghouse_of(apps[0])
        state.clock = s.clock
        yield Running(sandbox, state)
    finally:
        sandbox.server.shutdown()


@pytest.fixture
def clearinghouse(running: Running) -> HttpClearinghouse:
    running.state.reset()
    return HttpClearinghouse(running.url, timeout=10)


@pytest.fixture
def store(engine: Engine) -> ClaimsStore:
    return ClaimsStore(session_factory(engine))


def _numbers(engine: Engine) -> StoredControlNumbers:
    return StoredControlNumbers(session_factory(engine), s.PARAMS.sender_id)


def _documents(*claims: Claim) -> list[dict[str, Any]]:
    """What `dermrcm x12 parse` prints: one document per claim with a "model" key."""
    return [{"model": claim_to_json(s.transaction(c, i + 1))} for i, c in enumerate(claims)]


def _submit(
    claims: list[dict[str, Any]], clearinghouse: Any, store: ClaimsStore, engine: Engine
) -> Any:
    return submit_claims(claims, clearinghouse, store, _numbers(engine), s.clock, s.PARAMS)


def _by_claim(store: ClaimsStore) -> dict[str, Any]:
    return {r.patient_control_number: r for r in store.statuses()}


def test_paid_reduced_and_denied_claims_go_round_the_loop(
    clearinghouse: HttpClearinghouse, store: ClaimsStore, engine: Engine
) -> None:
    result = _submit(_documents(s.PAID, s.REDUCED, s.DENIED), clearinghouse, store, engine)
    assert result.status == "sent" and result.clearinghouse_id
    assert (result.interchange_control_number, result.group_control_number) == ("000000001", "1")
    assert result.claims == ("DRCM-T-1001", "DRCM-T-1002", "DRCM-T-1003")
    before = _by_claim(store)
    assert {r.status for r in before.values()} == {"submitted"}

    polled = poll(clearinghouse, store)
    assert polled.errors == ()
    assert [(f.transaction_set, f.status, f.acknowledged) for f in polled.files] == [
        ("999", "processed", True),
        ("277", "processed", True),
        ("835", "processed", True),
    ]
    assert clearinghouse.list_inbox() == []
    stored = store.claim_file(result.claim_file_id)
    assert stored is not None and stored.status == "accepted"

    rows = _by_claim(store)
    assert {k: (r.ack, r.clearinghouse, r.status_codes) for k, r in rows.items()} == {
        k: ("accepted", "accepted", "A1:20") for k in result.claims
    }
    assert {k: (r.status, r.remittance, r.paid) for k, r in rows.items()} == {
        "DRCM-T-1001": ("paid", "paid", Decimal("290.00")),
        "DRCM-T-1002": ("paid", "paid", Decimal("80.00")),
        "DRCM-T-1003": ("denied", "denied", Decimal("0.00")),
    }
    assert all(
        r.payer_claim_number and r.payer_claim_number.startswith("SBXCLM") for r in rows.values()
    )
    reduced = store.remittances.claim_ledger("DRCM-T-1002")
    assert reduced is not None and reduced.adjustments_by_group == {"CO": Decimal("20.00")}
    with session_factory(engine)() as session:
        reasons = sorted(
            (a.group_code, a.reason_code) for a in session.scalars(select(RemittanceAdjustment))
        )
    assert reasons == [("CO", "45"), ("CO", "50")]


def test_a_file_with_an_invalid_claim_gets_a_rejecting_999_and_nothing_else(
    clearinghouse: HttpClearinghouse, store: ClaimsStore, engine: Engine
) -> None:
    result = _submit(_documents(s.INVALID), clearinghouse, store, engine)
    polled = poll(clearinghouse, store)
    assert [(f.transaction_set, f.status) for f in polled.files] == [("999", "processed")]
    stored = store.claim_file(result.claim_file_id)
    assert stored is not None and stored.status == "rejected"
    assert stored.error is not None and stored.error.startswith("999 rejected: R")
    (row,) = store.statuses()
    assert (row.status, row.ack, row.clearinghouse, row.remittance) == (
        "rejected",
        "rejected",
        "pending",
        "",
    )
    assert store.remittances.counts()["payments"] == 0


def test_a_front_end_edit_rejects_one_claim_in_the_277ca(
    clearinghouse: HttpClearinghouse, store: ClaimsStore, engine: Engine
) -> None:
    _submit(_documents(s.PAID, s.EDIT_REJECTED), clearinghouse, store, engine)
    poll(clearinghouse, store)
    rows = _by_claim(store)
    assert (rows["DRCM-T-1005"].status, rows["DRCM-T-1005"].status_codes) == ("rejected", "A7:254")
    assert rows["DRCM-T-1005"].ack == "accepted"
    assert (rows["DRCM-T-1001"].status, rows["DRCM-T-1001"].paid) == ("paid", Decimal("290.00"))


def test_reverse_and_correct_posts_the_net(
    clearinghouse: HttpClearinghouse, store: ClaimsStore, engine: Engine
) -> None:
    _submit(_documents(s.REPROCESSED), clearinghouse, store, engine)
    polled = poll(clearinghouse, store)
    assert [f.transaction_set for f in polled.files] == ["999", "277", "835", "835"]
    ledger = store.remittances.claim_ledger("DRCM-T-1004")
    assert ledger is not None
    assert (ledger.postings, ledger.paid, ledger.status) == (3, Decimal("105.00"), "paid")
    assert ledger.adjustments_by_group == {"CO": Decimal("45.00")}
    assert store.remittances.work_items() == []


class _Redelivering:
    """The sandbox clearinghouse, except that acknowledgments are lost: every file comes back."""

    def __init__(self, inner: HttpClearinghouse) -> None:
        self.inner = inner

    def submit(self, filename: str, data: bytes) -> Receipt:
        return self.inner.submit(filename, data)

    def fetch(self) -> list[InboundFile]:
        return self.inner.fetch()

    def ack(self, inbound_id: str) -> None:
        return None


def test_polling_twice_processes_nothing_twice(
    clearinghouse: HttpClearinghouse, store: ClaimsStore, engine: Engine
) -> None:
    lossy = _Redelivering(clearinghouse)
    _submit(_documents(s.PAID, s.REDUCED), lossy, store, engine)
    first = poll(lossy, store)
    counts = store.remittances.counts()
    again = poll(lossy, store)
    assert [f.status for f in first.files] == ["processed"] * 3
    assert [f.status for f in again.files] == ["duplicate"] * 3
    assert store.remittances.counts() == counts
    assert len(store.inbound()) == 3
    assert poll(clearinghouse, store).files == again.files  # acknowledged now
    assert poll(clearinghouse, store).files == ()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_the_clearinghouse_down_loses_nothing(
    clearinghouse: HttpClearinghouse, store: ClaimsStore, engine: Engine
) -> None:
    down = HttpClearinghouse(f"http://127.0.0.1:{_closed_port()}/clearinghouse", timeout=2)
    with pytest.raises(SubmissionError) as info:
        _submit(_documents(s.PAID), down, store, engine)
    message = str(info.value)
    assert "stored, not sent" in message and "POST http://127.0.0.1:" in message
    assert "/clearinghouse/files: could not connect" in message
    file_id = info.value.claim_file_id
    assert file_id is not None
    stored = store.claim_file(file_id)
    assert stored is not None and stored.status == "send_failed"
    (row,) = store.statuses()
    assert row.status == "send_failed"
    with pytest.raises(SubmissionError, match="submitted before"):
        _submit(_documents(s.PAID), clearinghouse, store, engine)

    (resent,) = send_stored(clearinghouse, store)
    assert (resent.claim_file_id, resent.status) == (file_id, "sent")
    with session_factory(engine)() as session:
        raw = session.scalars(select(ClaimFile.raw)).one()
    assert raw == stored.raw  # the same bytes, the same control numbers
    poll(clearinghouse, store)
    assert _by_claim(store)["DRCM-T-1001"].paid == Decimal("290.00")


def test_a_270_gets_a_readable_271(clearinghouse: HttpClearinghouse, store: ClaimsStore) -> None:
    data = (fixtures_dir() / "x12" / "270" / "request-general-and-office-visit.x12").read_bytes()
    clearinghouse.submit("eligibility.270", data)
    polled = poll(clearinghouse, store)
    assert [(f.transaction_set, f.status) for f in polled.files] == [("271", "processed")]
    (inbound,) = store.inbound("271")
    responses, problems = read_271(inbound.raw)
    assert problems == []
    summary = summarize_benefits(responses[0].members()[0], "98")
    assert (summary.active, summary.copay, summary.coinsurance, summary.deductible_remaining) == (
        True,
        Decimal("40.00"),
        Decimal(".2"),
        Decimal("650.00"),
    )


def test_a_batch_the_writer_refuses_takes_no_control_number(
    clearinghouse: HttpClearinghouse, store: ClaimsStore, engine: Engine
) -> None:
    no_lines = replace(s.PAID, services=())
    with pytest.raises(SubmissionError, match="expected a service line"):
        _submit(_documents(no_lines), clearinghouse, store, engine)
    assert _numbers(engine).last("interchange") is None
    assert store.statuses() == []


def test_logs_carry_no_patient_data(
    clearinghouse: HttpClearinghouse,
    store: ClaimsStore,
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    _submit(_documents(s.PAID, s.DENIED), clearinghouse, store, engine)
    poll(clearinghouse, store)
    assert caplog.records
    forbidden = ["TESTPATIENT", "SYNTH1", "SBX900000001", "1970", "DRCM-T-1001", "DRCM-T-1003"]
    for record in caplog.records:
        # the message and its extra fields; not the record's own timing and thread numbers,
        # where a digit run like "1970" turns up by chance
        own = {"created", "msecs", "relativeCreated", "thread", "process", "lineno"}
        text = (
            record.getMessage()
            + " "
            + " ".join(str(v) for k, v in vars(record).items() if k not in own)
        )
        assert not [word for word in forbidden if word in text], record.getMessage()


def test_a_file_that_is_not_x12_is_refused_with_a_located_error(
    clearinghouse: HttpClearinghouse,
) -> None:
    from integration.clearinghouse.port import ClearinghouseError

    with pytest.raises(ClearinghouseError) as info:
        clearinghouse.submit("notes.txt", b"hello")
    assert str(info.value).endswith(
        "/clearinghouse/files: expected success, got HTTP 400: POST /clearinghouse/files: "
        "expected an X12 interchange (ISA...), got something else"
    )
