"""Appeals in the database (SQLite and PostgreSQL): every version of a letter is kept with who
wrote it, an edit from an old version is refused, signing runs the pre-sign fact check (a letter
edited to "PASI 22" when the chart says 14.2 / 15.6 is refused; a clinician may confirm their
own statement), an upheld appeal opens a second level with its own deadline, and the dashboard
figures of a small seeded practice are exactly what a manager would count by hand. The
`dermrcm appeal outcome / show / dashboard` commands print the same."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from integration.appeals.letter import EvidenceFact, Letter, Sentence, SourceRef
from integration.appeals.tracking_cli import dashboard_command, outcome_command, show_command
from integration.store.appeals import AppealError, AppealStore, CheckRefused, StaleVersion
from integration.store.database import make_engine, session_factory, upgrade
from integration.store.models import (
    DenialEvent,
    DenialItem,
    RemittanceClaimPosting,
    RemittanceFile,
    RemittanceLinePosting,
    RemittancePayment,
)

T0 = datetime(2026, 10, 3, 9, 0, tzinfo=UTC)
CLINICIAN = "Practitioner/dermatologist-1"
BILLER = "biller-ana"
MEDICARE_BASIS = (
    "medicare-part-b-redetermination: 120 days, presumed received 5 days after the notice of "
    "2026-10-02; 42 CFR 405.942"
)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, when: datetime) -> None:
        self.now = when


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(sessions: sessionmaker[Session], clock: Clock) -> AppealStore:
    return AppealStore(sessions, clock)


# -- a psoriasis letter (synthetic; the facts of fixtures/patients/psoriasis-skyrizi-patient) --

OBS_OLD = SourceRef("fhir", "Observation/psoriasis-pasi-1/_history/1", "PASI 14.2 on 2026-06-10")
OBS_NEW = SourceRef("fhir", "Observation/psoriasis-pasi-2/_history/1", "PASI 15.6 on 2026-09-10")
MTX = SourceRef("fhir", "MedicationStatement/psoriasis-mtx/_history/1", "methotrexate 24 weeks")
DX = SourceRef("fhir", "Condition/psoriasis-dx/_history/1", "L40.0 psoriasis vulgaris")

EVIDENCE = (
    EvidenceFact("number", "14.2", "PASI", OBS_OLD, "2026-06-10"),
    EvidenceFact("date", "2026-06-10", "PASI date", OBS_OLD),
    EvidenceFact("number", "15.6", "PASI", OBS_NEW, "2026-09-10"),
    EvidenceFact("date", "2026-09-10", "PASI date", OBS_NEW),
    EvidenceFact("drug", "methotrexate", "prior therapy", MTX),
    EvidenceFact("number", "24", "methotrexate weeks", MTX),
    EvidenceFact("diagnosis", "L40.0", "psoriasis vulgaris", DX),
    EvidenceFact("diagnosis", "plaque psoriasis", "psoriasis vulgaris", DX),
)


def letter(denial_id: int | None = None, level: int = 1) -> Letter:
    return Letter(
        denial_id=denial_id,
        template_id="medical-necessity-biologic",
        template_version=1,
        level=level,
        generated="2026-10-03",
        sentences=(
            Sentence("s1", 0, "The patient has plaque psoriasis (L40.0).", (DX,)),
            Sentence(
                "s2",
                0,
                "PASI was 14.2 on 2026-06-10 and 15.6 on 2026-09-10.",
                (OBS_OLD, OBS_NEW),
            ),
            Sentence(
                "s3",
                1,
                "Methotrexate was taken for 24 weeks and stopped for inadequate response.",
                (MTX,),
            ),
            Sentence("s4", 2, "We ask that you reverse this denial.", ()),
        ),
        evidence=EVIDENCE,
    )


# -- seeding --------------------------------------------------------------------------------


def add_denial(
    sessions: sessionmaker[Session],
    *,
    category: str = "medical-necessity",
    amount_cents: int = 125000,
    deadline: str | None = "2027-02-03",
    basis: str = MEDICARE_BASIS,
    payer_id: str = "00952",
    payer_name: str = "MEDICARE PART B",
    source: str = "835",
    claim_posting_id: int | None = None,
    line_posting_id: int | None = None,
    remit_date: str | None = "2026-10-02",
    reason: str = "50",
) -> int:
    with sessions.begin() as session:
        key = (
            f"835-line:{line_posting_id}"
            if line_posting_id is not None
            else f"835-claim:{claim_posting_id}"
            if claim_posting_id is not None
            else f"test:{category}:{amount_cents}:{deadline}"
        )
        row = DenialItem(
            dedupe_key=key,
            source=source,
            claim_posting_id=claim_posting_id,
            line_posting_id=line_posting_id,
            payer_id=payer_id,
            payer_name=payer_name,
            patient_ref="Patient/psoriasis-skyrizi-patient",
            modifiers="",
            group_code="CO",
            reason_code=reason,
            rarcs="",
            adjustments_json="[]",
            category=category,
            amount_cents=amount_cents,
            remit_date=remit_date,
            deadline=deadline,
            deadline_basis=basis if deadline else "unknown: no cited appeal deadline",
            next_step="appeal",
            next_step_reason="medical necessity: appeal with notes",
            origin="835 file 1 · TRN EFT1 · CLP PCN1 · SVC 11104 · CAS CO-50",
            status="open",
            queue="biller",
            created_at=T0,
            updated_at=T0,
        )
        session.add(row)
        session.flush()
        return row.id


def denial_status(sessions: sessionmaker[Session], denial_id: int) -> str:
    with sessions() as session:
        row = session.get(DenialItem, denial_id)
        assert row is not None
        return row.status


# -- versions and who wrote them ------------------------------------------------------------


def test_every_version_is_kept_with_who_wrote_what(
    store: AppealStore, sessions: sessionmaker[Session], clock: Clock
) -> None:
    denial = add_denial(sessions)
    appeal = store.open(denial, letter(), BILLER, opened_at=T0)
    assert denial_status(sessions, denial) == "appealing"

    clock.at(T0 + timedelta(minutes=5))
    drafted = store.latest(appeal).letter
    edited = drafted.with_text("s4", "We ask that you reverse this denial and pay the claim.")
    assert store.save_edit(appeal, edited, CLINICIAN, base_version=1) == 2

    versions = store.versions(appeal)
    assert [(v.version, v.kind, v.origin, v.actor) for v in versions] == [
        (1, "draft", "system", BILLER),
        (2, "edit", "person", CLINICIAN),
    ]
    # the draft is kept as drafted
    assert versions[0].letter.sentence("s4") == letter().sentence("s4")
    assert versions[1].letter.sentence("s4").text.endswith("and pay the claim.")  # type: ignore[union-attr]

    audit = store.audit(appeal)
    assert audit[1].changes.edited == ("s4",) and audit[1].note == "edited s4"
    assert audit[1].sentence_origins == {
        "s1": "template",
        "s2": "template",
        "s3": "template",
        "s4": "clinician",
    }
    assert audit[0].at == T0 and audit[1].at == T0 + timedelta(minutes=5)


def test_an_edit_marks_changed_and_added_sentences_as_the_clinicians(
    store: AppealStore, sessions: sessionmaker[Session]
) -> None:
    """Even when the caller leaves a changed sentence's origin as "template"."""
    appeal = store.open(add_denial(sessions), letter(), BILLER, opened_at=T0)
    base = store.latest(appeal).letter
    sentences = [
        replace(s, text="Thank you.") if s.id == "s4" else s for s in base.sentences if s.id != "s1"
    ]
    sentences.append(Sentence("s9", 2, "Please call our office with questions.", ()))
    store.save_edit(appeal, replace(base, sentences=tuple(sentences)), CLINICIAN, base_version=1)
    (entry,) = store.audit(appeal)[1:]
    assert (entry.changes.edited, entry.changes.added, entry.changes.removed) == (
        ("s4",),
        ("s9",),
        ("s1",),
    )
    assert entry.note == "edited s4; added s9; removed s1"
    assert entry.sentence_origins == {
        "s2": "template",
        "s3": "template",
        "s4": "clinician",
        "s9": "clinician",
    }


def test_an_edit_from_an_old_version_is_refused(
    store: AppealStore, sessions: sessionmaker[Session]
) -> None:
    appeal = store.open(add_denial(sessions), letter(), BILLER, opened_at=T0)
    base = store.latest(appeal).letter
    store.save_edit(appeal, base.with_text("s4", "Please reverse it."), CLINICIAN, base_version=1)
    with pytest.raises(StaleVersion) as refused:
        store.save_edit(appeal, base.with_text("s4", "Reverse it now."), BILLER, base_version=1)
    assert (refused.value.base_version, refused.value.latest) == (1, 2)
    assert "expected edits on version 2 (the latest), got version 1" in str(refused.value)
    assert [v.version for v in store.versions(appeal)] == [1, 2]
    assert store.latest(appeal).letter.sentence("s4").text == "Please reverse it."  # type: ignore[union-attr]


def test_two_edits_from_the_same_version_at_once_one_wins(
    store: AppealStore, sessions: sessionmaker[Session]
) -> None:
    appeal = store.open(add_denial(sessions), letter(), BILLER, opened_at=T0)
    base = store.latest(appeal).letter
    barrier = threading.Barrier(2)
    results: list[object] = []

    def edit(text: str, who: str) -> None:
        barrier.wait()
        try:
            results.append(store.save_edit(appeal, base.with_text("s4", text), who, 1))
        except StaleVersion:
            results.append("stale")
        except Exception as exc:  # reported by the assertion below
            results.append(repr(exc))

    threads = [
        threading.Thread(target=edit, args=("Please reverse it.", CLINICIAN)),
        threading.Thread(target=edit, args=("Reverse it now.", BILLER)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(map(str, results)) == ["2", "stale"]
    assert [v.version for v in store.versions(appeal)] == [1, 2]


def test_an_edit_may_not_change_the_evidence(
    store: AppealStore, sessions: sessionmaker[Session]
) -> None:
    appeal = store.open(add_denial(sessions), letter(), BILLER, opened_at=T0)
    base = store.latest(appeal).letter
    forged = replace(
        base.with_text("s2", "PASI was 22 on 2026-09-10."),
        evidence=(*base.evidence, EvidenceFact("number", "22", "PASI", OBS_NEW, "2026-09-10")),
    )
    with pytest.raises(AppealError, match="may not change the letter's evidence"):
        store.save_edit(appeal, forged, CLINICIAN, base_version=1)


def test_a_polish_is_kept_as_the_models(
    store: AppealStore, sessions: sessionmaker[Session]
) -> None:
    appeal = store.open(add_denial(sessions), letter(), BILLER, opened_at=T0)
    base = store.latest(appeal).letter
    polished = replace(
        base,
        sentences=tuple(
            replace(s, text="We respectfully request that this denial be reversed.")
            if s.id == "s4"
            else s
            for s in base.sentences
        ),
    )
    assert store.save_polish(appeal, polished, BILLER, base_version=1, model="stub-7b") == 2
    v2 = store.versions(appeal)[1]
    assert (v2.kind, v2.origin, v2.note) == ("polish", "llm", "edited s4 (model stub-7b)")
    assert v2.letter.sentence("s4").origin == "polish"  # type: ignore[union-attr]


# -- signing --------------------------------------------------------------------------------


def test_pasi_22_is_refused_at_signing_and_the_fixed_letter_is_signed(
    store: AppealStore, sessions: sessionmaker[Session], clock: Clock
) -> None:
    appeal = store.open(add_denial(sessions), letter(), BILLER, opened_at=T0)
    base = store.latest(appeal).letter
    store.save_edit(
        appeal, base.with_text("s2", "PASI was 22 on 2026-09-10."), CLINICIAN, base_version=1
    )
    with pytest.raises(CheckRefused) as refused:
        store.sign(appeal, CLINICIAN)
    assert any(p["sentence_id"] == "s2" and "22" in p["span"] for p in refused.value.problems)
    assert (
        "not signed, the check found 1 unsupported statement(s): sentence s2: '22': PASI 22:"
        in str(refused.value)
    )
    view = store.get(appeal)
    assert view is not None and (view.status, view.signed_by) == ("draft", None)
    kept = store.latest(appeal)
    assert kept.version == 2 and kept.check is not None and kept.check["ok"] is False

    store.save_edit(
        appeal,
        kept.letter.with_text("s2", "PASI was 15.6 on 2026-09-10."),
        CLINICIAN,
        base_version=2,
    )
    clock.at(T0 + timedelta(minutes=40))
    assert store.sign(appeal, CLINICIAN, base_version=3) == 4
    view = store.get(appeal)
    assert view is not None
    assert (view.status, view.signed_by, view.signed_at) == (
        "signed",
        CLINICIAN,
        T0 + timedelta(minutes=40),
    )
    signed = store.latest(appeal)
    assert (signed.kind, signed.origin, signed.actor, signed.note) == (
        "sign",
        "person",
        CLINICIAN,
        "signed",
    )
    assert signed.check == {"ok": True, "problems": [], "confirmed": [], "confirmed_spans": []}


def test_a_clinician_may_confirm_their_own_statement(
    store: AppealStore, sessions: sessionmaker[Session]
) -> None:
    appeal = store.open(add_denial(sessions), letter(), BILLER, opened_at=T0)
    base = store.latest(appeal).letter
    own = Sentence("s5", 1, "Cyclosporine was stopped after 8 weeks for hypertension.", ())
    store.save_edit(
        appeal, replace(base, sentences=(*base.sentences, own)), CLINICIAN, base_version=1
    )
    with pytest.raises(CheckRefused) as refused:
        store.sign(appeal, CLINICIAN)
    spans = {(p["sentence_id"], p["span"]) for p in refused.value.problems}
    assert ("s5", "8") in spans or any(s == "s5" and "8" in span for s, span in spans)
    assert store.sign(appeal, CLINICIAN, confirmed=sorted(spans)) == 3
    signed = store.latest(appeal)
    assert signed.check is not None and signed.check["ok"] is True
    assert signed.check["confirmed_spans"] == [
        {"sentence_id": s, "span": span} for s, span in sorted(spans)
    ]
    # the check's own record of what the clinician took on: each span with its message
    assert sorted((p["sentence_id"], p["span"]) for p in signed.check["confirmed"]) == sorted(spans)
    assert signed.note.startswith("signed; confirmed as the clinician's own: s5 ")


def test_an_edit_after_signing_voids_the_signature(
    store: AppealStore, sessions: sessionmaker[Session]
) -> None:
    appeal = store.open(add_denial(sessions), letter(), BILLER, opened_at=T0)
    store.sign(appeal, CLINICIAN)
    signed = store.latest(appeal)
    store.save_edit(
        appeal, signed.letter.with_text("s4", "Thank you."), BILLER, base_version=signed.version
    )
    view = store.get(appeal)
    assert view is not None and (view.status, view.signed_by, view.signed_at) == (
        "draft",
        None,
        None,
    )
    assert store.latest(appeal).note == "edited s4; signature of version 2 voided"
    with pytest.raises(AppealError, match="expected a signed letter to submit, got draft"):
        store.submit(appeal, "fax")


# -- documents, submission, outcome, second level -----------------------------------------


def test_upheld_opens_a_second_level_with_its_own_deadline(
    store: AppealStore, sessions: sessionmaker[Session], clock: Clock
) -> None:
    denial = add_denial(sessions)
    first = store.open(denial, letter(), BILLER, opened_at=T0)
    with pytest.raises(AppealError, match="expected a signed or submitted appeal to decide"):
        store.record_outcome(first, "upheld", Decimal("0"), date(2026, 11, 20), BILLER)
    version = store.sign(first, CLINICIAN)
    doc = store.store_document(first, version, b"%PDF-1.7 synthetic")
    (stored,) = store.documents(first)
    assert (stored.id, stored.version, stored.size) == (doc, version, 18)
    assert store.document(doc) == b"%PDF-1.7 synthetic"
    clock.at(datetime(2026, 10, 6, 12, 0, tzinfo=UTC))
    store.submit(first, "fax")
    with pytest.raises(AppealError, match="an upheld appeal recovers 0"):
        store.record_outcome(first, "upheld", Decimal("10"), date(2026, 11, 20), BILLER)
    store.record_outcome(first, "upheld", Decimal("0"), date(2026, 11, 20), BILLER)
    assert denial_status(sessions, denial) == "open"
    with pytest.raises(AppealError, match="level-1 appeal exists"):
        store.open(denial, letter(), BILLER, opened_at=T0)

    second = store.open_second_level(first, letter(level=2), BILLER, T0 + timedelta(days=60))
    view = store.get(second)
    assert view is not None
    # Medicare Part B reconsideration: 180 days from receipt of the redetermination decision,
    # presumed received 5 days after 2026-11-20 (42 CFR 405.962)
    assert (view.level, view.previous_id, view.deadline) == (2, first, date(2027, 5, 24))
    assert view.deadline_basis.startswith("medicare-part-b-reconsideration: 180 days")
    assert denial_status(sessions, denial) == "appealing"
    with sessions() as session:
        events = [
            e.detail
            for e in session.scalars(
                select(DenialEvent).where(DenialEvent.denial_id == denial).order_by(DenialEvent.id)
            )
        ]
    assert events == [
        f"status open -> appealing: appeal {first} level 1",
        f"status appealing -> open: appeal {first} level 1 upheld",
        f"status open -> appealing: appeal {second} level 2",
    ]
    with pytest.raises(AppealError, match="still draft"):
        store.open_second_level(first, letter(level=2), BILLER, T0 + timedelta(days=60))


def test_overturned_closes_the_denial_and_allows_no_second_level(
    store: AppealStore, sessions: sessionmaker[Session]
) -> None:
    denial = add_denial(sessions)
    appeal = store.open(denial, letter(), BILLER, opened_at=T0)
    store.sign(appeal, CLINICIAN)
    store.record_outcome(appeal, "overturned", Decimal("1250.00"), date(2026, 11, 2), BILLER)
    view = store.get(appeal)
    assert view is not None
    assert (view.status, view.outcome, view.recovered, view.decided_on) == (
        "decided",
        "overturned",
        Decimal("1250.00"),
        date(2026, 11, 2),
    )
    assert denial_status(sessions, denial) == "closed"
    with pytest.raises(AppealError, match="expected status open or appealing"):
        store.open_second_level(appeal, letter(level=2), BILLER, T0)


def test_a_second_level_of_an_unknown_deadline_says_unknown(
    store: AppealStore, sessions: sessionmaker[Session]
) -> None:
    denial = add_denial(sessions, deadline=None, payer_id="62308", payer_name="CIGNA")
    first = store.open(denial, letter(), BILLER, opened_at=T0)
    assert store.get(first).deadline is None  # type: ignore[union-attr]
    store.sign(first, CLINICIAN)
    store.record_outcome(first, "partial", Decimal("300.00"), date(2026, 11, 2), BILLER)
    second = store.open_second_level(first, letter(level=2), BILLER, T0)
    view = store.get(second)
    assert view is not None and view.deadline is None
    assert view.deadline_basis.startswith("unknown: level 2:")


# -- dashboard ------------------------------------------------------------------------------


def _remit(
    session: Session,
    payer_id: str,
    payer_name: str,
    claims: list[int],
    trace: str,
    reverses: int | None = None,
) -> list[tuple[int, list[int]]]:
    """A payment with one claim posting per entry of `claims` (its number of SVC lines);
    returns (claim posting id, [line posting ids])."""
    file = RemittanceFile(
        received_at=T0, filename=f"{trace}.835", sha256="0" * 64, raw=b"", status="posted"
    )
    session.add(file)
    session.flush()
    payment = RemittancePayment(
        file_id=file.id,
        trace_number=trace,
        payer_id=payer_id,
        payer_name=payer_name,
        payee_id="1999999984",
        transaction_control_number="0001",
        amount_cents=0,
        credit_debit="C",
        method="ACH",
        payment_date="2026-10-01",
        production_date="2026-10-01",
        provider_adjustment_cents=0,
        posted_at=T0,
    )
    session.add(payment)
    session.flush()
    out = []
    for n, lines in enumerate(claims):
        claim = RemittanceClaimPosting(
            payment_id=payment.id,
            patient_control_number=f"{trace}-{n}",
            payer_claim_number=f"PCN{trace}{n}",
            status_code="22" if reverses else "1",
            charge_cents=10000 * lines,
            paid_cents=0,
            patient_responsibility_cents=0,
            reverses_id=reverses,
            reversed=False,
        )
        session.add(claim)
        session.flush()
        ids = []
        for k in range(lines):
            line = RemittanceLinePosting(
                claim_posting_id=claim.id,
                procedure=f"HC:1110{k}",
                modifiers="",
                service_date="2026-09-15",
                charge_cents=10000,
                paid_cents=0,
                units="1",
                dropped_modifiers="",
            )
            session.add(line)
            session.flush()
            ids.append(line.id)
        out.append((claim.id, ids))
    return out


UHC = ("87726", "UNITEDHEALTHCARE")
CIGNA = ("62308", "CIGNA")
MEDICARE = ("00952", "MEDICARE PART B")


def at(day: str, hh: int, mm: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hh, minute=mm, tzinfo=UTC)


def seed_practice(
    store: AppealStore, sessions: sessionmaker[Session], clock: Clock
) -> dict[str, str]:
    """UHC: 6 lines (claims of 4 and 2), 4 denied (a1, a2, a3, b1), a4 a deductible (PR-1).
    Cigna: 4 lines, 1 denied (c1), and a reversal of its claim (1 line, not counted). Medicare: a claim without lines,
    denied as a whole. A PA denial. Eight appeals in every state."""
    with sessions.begin() as session:
        (a, b) = _remit(session, *UHC, [4, 2], "EFT-UHC")
        ((c, c_lines),) = _remit(session, *CIGNA, [4], "EFT-CIGNA")
        _remit(session, *CIGNA, [1], "EFT-CIGNA-REV", reverses=c)
        ((d, _),) = _remit(session, *MEDICARE, [0], "EFT-MCR")
    a1, a2, a3, a4 = a[1]
    b1 = b[1][0]
    c1 = c_lines[0]

    def denial(line: int | None, claim: int, payer: tuple[str, str], **kw: object) -> int:
        return add_denial(
            sessions,
            line_posting_id=line,
            claim_posting_id=claim,
            payer_id=payer[0],
            payer_name=payer[1],
            **kw,  # type: ignore[arg-type]
        )

    d_a1 = denial(a1, a[0], UHC, amount_cents=25000, deadline="2026-11-25", remit_date="2026-10-01")
    d_a2 = denial(
        a2, a[0], UHC, category="authorization", amount_cents=12000, deadline="2026-12-05",
        remit_date="2026-10-01", reason="197",
    )  # fmt: skip
    d_a3 = denial(a3, a[0], UHC, amount_cents=10000, deadline="2027-01-30", remit_date="2026-10-01")
    d_b1 = denial(
        b1, b[0], UHC, category="bundling", amount_cents=8000, deadline="2026-12-31",
        remit_date="2026-10-01", reason="97",
    )  # fmt: skip
    denial(a4, a[0], UHC, category="patient-responsibility", amount_cents=4000, reason="1")
    d_c1 = denial(c1, c, CIGNA, amount_cents=40000, deadline=None, remit_date="2026-10-01")
    d_d = denial(
        None, d, MEDICARE, category="missing-information", amount_cents=30000,
        deadline="2027-02-05", remit_date="2026-10-02", reason="16",
    )  # fmt: skip
    d_pa = add_denial(
        sessions, source="pa", category="authorization", amount_cents=50000, deadline=None,
        remit_date=None, payer_id="87726", payer_name="UNITEDHEALTHCARE",
    )  # fmt: skip

    ids: dict[str, str] = {}

    def sign_at(appeal: str, when: datetime) -> None:
        clock.at(when)
        store.sign(appeal, CLINICIAN)

    # open, not yet sent: one per deadline bucket
    ids["a1"] = store.open(d_a1, letter(), BILLER, at("2026-10-03", 9))
    ids["a2"] = store.open(d_a2, letter(), BILLER, at("2026-10-03", 10))
    sign_at(ids["a2"], at("2026-10-03", 10, 30))  # 30 minutes
    ids["b1"] = store.open(d_b1, letter(), BILLER, at("2026-10-04", 9))
    ids["pa"] = store.open(d_pa, letter(), BILLER, at("2026-10-04", 10))
    # overturned after submission: 90 minutes drafting
    ids["c1"] = store.open(d_c1, letter(), BILLER, at("2026-10-03", 9))
    sign_at(ids["c1"], at("2026-10-03", 10, 30))
    clock.at(at("2026-10-05", 12))
    store.submit(ids["c1"], "portal")
    store.record_outcome(ids["c1"], "overturned", Decimal("400.00"), date(2026, 11, 4), BILLER)
    # upheld after submission (45 minutes), then a second level
    ids["d"] = store.open(d_d, letter(), BILLER, at("2026-10-05", 8))
    sign_at(ids["d"], at("2026-10-05", 8, 45))
    clock.at(at("2026-10-10", 16))
    store.submit(ids["d"], "fax")
    store.record_outcome(ids["d"], "upheld", Decimal("0"), date(2026, 11, 20), BILLER)
    ids["d2"] = store.open_second_level(ids["d"], letter(level=2), BILLER, at("2026-11-23", 9))
    # partial, recorded without a submission in derm-rcm (20 minutes)
    ids["a3"] = store.open(d_a3, letter(), BILLER, at("2026-10-02", 9))
    sign_at(ids["a3"], at("2026-10-02", 9, 20))
    store.record_outcome(ids["a3"], "partial", Decimal("60.00"), date(2026, 11, 10), BILLER)
    return ids


AS_OF = date(2026, 12, 1)


def test_dashboard_figures_of_a_seeded_practice(
    store: AppealStore, sessions: sessionmaker[Session], clock: Clock
) -> None:
    seed_practice(store, sessions, clock)
    figures = store.dashboard(AS_OF)

    # denied lines / lines remitted: UHC 4 of 6, Cigna 1 of 4 (the reversal not counted),
    # Medicare 1 of 1 (a claim without lines denied as a whole); 6 of 11 in all
    assert (figures.denial_rate.numerator, figures.denial_rate.denominator) == (6, 11)
    assert [(p.payer_id, p.rate.numerator, p.rate.denominator) for p in figures.by_payer] == [
        ("00952", 1, 1),
        ("62308", 1, 4),
        ("87726", 4, 6),
    ]
    assert [(c.category, c.rate.numerator, c.rate.denominator) for c in figures.by_category] == [
        ("authorization", 1, 11),
        ("bundling", 1, 11),
        ("medical-necessity", 3, 11),
        ("missing-information", 1, 11),
    ]
    assert figures.pa_denials == 1
    assert figures.patient_responsibility_lines == 1  # a4's deductible is not a denial

    # appeals not yet sent, by deadline from 2026-12-01, with the amounts at stake
    assert [(b.name, b.count, b.at_stake) for b in figures.open_appeals] == [
        ("overdue", 1, Decimal("250.00")),  # a1, 2026-11-25
        ("7d", 1, Decimal("120.00")),  # a2 (signed), 2026-12-05
        ("30d", 1, Decimal("80.00")),  # b1, 2026-12-31
        ("later", 1, Decimal("300.00")),  # level 2 of d, 2027-05-24
        ("unknown", 1, Decimal("500.00")),  # the PA denial's appeal
    ]

    assert (figures.decided, figures.overturned, figures.partial, figures.upheld) == (3, 1, 1, 1)
    assert figures.overturn_rate.to_json() == {"numerator": 1, "denominator": 3, "rate": 0.3333}
    assert figures.overturned_or_partial.to_json()["rate"] == 0.6667
    assert (figures.recovered, figures.recovered_count) == (Decimal("460.00"), 2)
    # signed: 20, 30, 45, 90 minutes
    assert (figures.drafting_minutes.value, figures.drafting_minutes.count) == (37.5, 4)
    # remittance to submission: 4 and 8 days; to decision: 34, 49 and 40 days
    assert (figures.days_to_submission.value, figures.days_to_submission.count) == (6.0, 2)
    assert (figures.days_to_decision.value, figures.days_to_decision.count) == (40.0, 3)

    data = figures.to_json()
    assert data["denial_rate"] == {"numerator": 6, "denominator": 11, "rate": 0.5455}
    assert data["denial_rate_by_payer"][2] == {
        "payer": {"id": "87726", "name": "UNITEDHEALTHCARE"},
        "denied_lines": 4,
        "lines_remitted": 6,
        "rate": 0.6667,
    }
    assert data["recovered"] == {"amount": "460.00", "appeals": 2}
    assert data["median_drafting_time"] == {"median": 37.5, "count": 4, "unit": "minutes"}


def test_dashboard_of_an_empty_practice_says_none() -> None:
    from integration.denials.dashboard import compute_dashboard

    figures = compute_dashboard([], [], [], AS_OF).to_json()
    assert figures["denial_rate"] == {"numerator": 0, "denominator": 0, "rate": None}
    assert figures["outcomes"]["overturn_rate"]["rate"] is None
    assert figures["median_drafting_time"] == {"median": None, "count": 0, "unit": "minutes"}
    assert [b["count"] for b in figures["appeals_open_by_deadline"]] == [0, 0, 0, 0, 0]


# -- from the fixture 835 to a decided appeal -------------------------------------------------


def test_from_the_fixture_835_to_a_signed_appeal_and_the_dashboard(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    """Post fixtures/x12/835-denials.x12 (the worklist derives the denials), draft the CO-50
    letter for the psoriasis patient from the chart's evidence, refuse "PASI 22", sign the
    drafted wording, record the outcome; the dashboard counts the fixture's lines."""
    from integration.appeals.draft import draft_letter
    from integration.store.denials import DenialStore
    from integration.store.remittances import RemittanceStore
    from tests.unit.appeals.support import load_evidence
    from tests.unit.denials.denials_fixture import FIXTURE, PSORIASIS, record_fixture_claims

    clock.at(datetime(2026, 11, 21, 9, 0, tzinfo=UTC))
    denials = DenialStore(sessions, clock)
    remittances = RemittanceStore(sessions, clock=clock, denials=denials)
    record_fixture_claims(remittances)
    assert remittances.post_file(FIXTURE.read_bytes(), "835-denials.x12").status == "posted"
    (co50,) = [i for i in denials.list(sort="amount") if i.reason == "CO-50"]
    assert co50.id is not None and co50.patient_ref == PSORIASIS

    store = AppealStore(sessions, clock)
    drafted = draft_letter(co50, load_evidence("psoriasis-skyrizi"), today=date(2026, 11, 21))
    appeal = store.open(co50.id, drafted, BILLER, opened_at=clock.now)
    assert denials.get(co50.id).status == "appealing"  # type: ignore[union-attr]
    pasi = drafted.sentence("pasi")
    assert pasi is not None and "(PASI) was 15.6 on 2026-09-10" in pasi.text
    store.save_edit(
        appeal, drafted.with_text(pasi.id, pasi.text.replace("15.6", "22")), CLINICIAN, 1
    )
    with pytest.raises(CheckRefused) as refused:
        store.sign(appeal, CLINICIAN)
    assert [(p["sentence_id"], p["span"], p["kind"]) for p in refused.value.problems] == [
        (pasi.id, "22", "contradicted")
    ]
    store.save_edit(appeal, store.latest(appeal).letter.with_text(pasi.id, pasi.text), CLINICIAN, 2)
    clock.at(clock.now + timedelta(minutes=12))
    assert store.sign(appeal, CLINICIAN) == 4
    assert [(a.version, a.origin, a.changes.edited) for a in store.audit(appeal)] == [
        (1, "system", ()),
        (2, "person", (pasi.id,)),
        (3, "person", (pasi.id,)),
        (4, "person", ()),
    ]
    store.submit(appeal, "portal")
    store.record_outcome(appeal, "overturned", co50.amount, date(2026, 12, 20), BILLER)
    assert denials.get(co50.id).status == "closed"  # type: ignore[union-attr]

    figures = store.dashboard(date(2026, 12, 21))
    # UHC: DRM-2001..2004, 5 lines, 3 denied (CO-50, CO-197, CO-15); Medicare: DRM-2101..2103,
    # 4 lines, 2 denied (CO-16, CO-97); DRM-2103's PR-1 deductible is not a denial
    assert (figures.denial_rate.numerator, figures.denial_rate.denominator) == (5, 9)
    assert [(p.payer_name, p.rate.numerator, p.rate.denominator) for p in figures.by_payer] == [
        ("UNITEDHEALTHCARE SANDBOX", 3, 5),
        ("MEDICARE PART B SANDBOX", 2, 4),
    ]
    assert [(c.category, c.rate.numerator) for c in figures.by_category] == [
        ("authorization", 2),
        ("bundling", 1),
        ("medical-necessity", 1),
        ("missing-information", 1),
    ]
    assert figures.patient_responsibility_lines == 1
    assert (figures.decided, figures.overturned, figures.recovered) == (1, 1, co50.amount)
    assert (figures.drafting_minutes.value, figures.drafting_minutes.count) == (12.0, 1)


# -- the commands ---------------------------------------------------------------------------


def test_outcome_show_and_dashboard_commands(
    store: AppealStore, sessions: sessionmaker[Session], clock: Clock, database_url: str
) -> None:
    ids = seed_practice(store, sessions, clock)
    env = {"DERMRCM_DATABASE_URL": database_url, "DATABASE_URL": database_url}
    runner = CliRunner()

    result = runner.invoke(
        outcome_command,
        [ids["a2"], "--result", "overturned", "--recovered", "120.00", "--date", "2026-11-28"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["status"], out["outcome"], out["recovered"], out["decided_on"]) == (
        "decided",
        "overturned",
        "120.00",
        "2026-11-28",
    )
    # remitted 2026-10-01, decided 2026-11-28, never recorded as sent
    assert (out["days_to_decision"], out["days_to_submission"]) == (58, None)

    refused = runner.invoke(
        outcome_command,
        [ids["a1"], "--result", "upheld", "--date", "2026-11-28"],
        env=env,
    )
    assert refused.exit_code == 1
    assert "Traceback" not in refused.output
    assert refused.stderr.strip() == (
        f"appeal {ids['a1']}: expected a signed or submitted appeal to decide, got draft"
    )

    shown = runner.invoke(show_command, [ids["d2"]], env=env)
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["appeal"]["level"] == 2 and data["appeal"]["previous_id"] == ids["d"]
    assert data["appeal"]["deadline"] == "2027-05-24"
    shown_first = json.loads(runner.invoke(show_command, [ids["d"]], env=env).stdout)["appeal"]
    # remitted 2026-10-02, sent 2026-10-10, upheld 2026-11-20
    assert (shown_first["days_to_submission"], shown_first["days_to_decision"]) == (8, 49)
    assert [(a["version"], a["kind"], a["origin"]) for a in data["audit"]] == [
        (1, "draft", "system")
    ]
    assert data["versions"][0]["letter"]["level"] == 2

    missing = runner.invoke(show_command, ["no-such-appeal"], env=env)
    assert missing.exit_code == 1 and "no such appeal" in missing.stderr

    dash = runner.invoke(dashboard_command, ["--json", "--as-of", "2026-12-01"], env=env)
    assert dash.exit_code == 0, dash.output
    figures = json.loads(dash.stdout)
    assert figures["outcomes"]["decided"] == 4 and figures["outcomes"]["overturned"] == 2
    assert figures["recovered"] == {"amount": "580.00", "appeals": 3}
    assert figures["appeals_open_by_deadline"][1]["count"] == 0  # a2 was decided

    text = runner.invoke(dashboard_command, ["--as-of", "2026-12-01"], env=env)
    assert text.exit_code == 0, text.output
    assert "denial rate 54.5% (6 of 11 lines)" in text.stdout
    assert (
        "not in the rates: 1 patient-responsibility line(s), 1 prior-authorization" in text.stdout
    )
    assert "overdue                       1  $250.00" in text.stdout
    assert "overturn rate 50.0% (2 of 4 decided; 1 partial, 1 upheld)" in text.stdout
