"""Sending a signed appeal (SQLite and PostgreSQL), against the sandbox payer over real HTTP: a
PA denial's appeal goes out by the PA case's own channel (an NCPDP ePA PAAppealRequest carrying
the letter's text on the payer's PACaseID; a PAS Claim update carrying the signed PDF), the
payer's answer lands on the PA case and the appeal (AppealCaseID, overturned); an 835 denial's
appeal is recorded as faxed and refused for `payer`; an unsigned appeal is refused with nothing
sent. A PA case moved to denied lands on the denial worklist once. `dermrcm appeal submit`
prints the same as JSON. All fixtures are synthetic."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner
from pypdf import PdfReader
from sqlalchemy.orm import Session, sessionmaker

from integration.appeals.letter import Letter, Sentence
from integration.appeals.submission import (
    PDF_TITLE,
    PayerUnreachable,
    SendRefused,
    SentAppeal,
    send_appeal,
)
from integration.appeals.submit_cli import submit_command
from integration.domain.priorauth import Channel
from integration.priorauth.cases import CaseState
from integration.priorauth.references import PaReferences, load_pa_references
from integration.priorauth.submit import Attachment, Submitter
from integration.store.appeals import AppealStore
from integration.store.database import make_engine, session_factory, upgrade
from integration.store.denials import DenialStore
from integration.store.models import PaCase
from integration.store.pa_cases import PaCaseStore
from integration.store.pa_submissions import PaSubmissionStore
from tests.integration.priorauth.test_submission import (
    DERM,
    DUPIXENT_2_PENS,
    NOW,
    _base,
    _order,
    _ready_case,
    _submitter,
)
from tests.support.servers import Sandbox, start_fixture_sandbox
from tests.unit.appeals.support import make_denial

CLINICIAN = "Practitioner/derm-1"
BILLER = "biller-ana"
PDF = b"%PDF-1.4 synthetic appeal letter\n%%EOF\n"


def _letter(denial_id: int) -> Letter:
    """A signed-able letter that states no fact (so the pre-sign check passes)."""
    return Letter(
        denial_id=denial_id,
        template_id="test-appeal",
        template_version=1,
        level=1,
        generated=NOW.date().isoformat(),
        sentences=(
            Sentence("s1", 0, "We ask you to review the denial of this request again.", ()),
            Sentence("s2", 1, "The chart notes and the treating dermatologist support it.", ()),
        ),
    )


@dataclass
class World:
    sessions: sessionmaker[Session]
    cases: PaCaseStore
    subs: PaSubmissionStore
    appeals: AppealStore
    denials: DenialStore

    @property
    def stores(self) -> tuple[PaCaseStore, PaSubmissionStore, Any]:
        return self.cases, self.subs, self.sessions


def _send(world: World, appeal_id: int, channel: str, **options: Any) -> SentAppeal:
    """`send_appeal` as the biller, at NOW, on the world's stores."""
    return send_appeal(
        appeal_id,
        channel,
        appeals=world.appeals,
        denials=world.denials,
        actor=BILLER,
        now=NOW,
        **options,
    )


@pytest.fixture(scope="module")
def refs() -> PaReferences:
    return load_pa_references()


@pytest.fixture(scope="module")
def payer() -> Iterator[Sandbox]:
    sandbox = start_fixture_sandbox(None)
    with sandbox.server:
        yield sandbox


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    denials = DenialStore(sessions, lambda: NOW)
    yield World(
        sessions,
        PaCaseStore(sessions, denials),
        PaSubmissionStore(sessions),
        AppealStore(sessions, lambda: NOW),
        denials,
    )
    engine.dispose()


def _fake_pdf(letter: Letter, *, signed_by: str | None, signed_at: Any) -> bytes:
    return PDF


def _signed_appeal(world: World, denial_id: int) -> str:
    appeal_id = world.appeals.open(denial_id, _letter(denial_id), BILLER, NOW)
    world.appeals.sign(appeal_id, CLINICIAN)
    return appeal_id


def _pa_denial(world: World, case_id: str) -> int:
    (item,) = [i for i in world.denials.list(status=None) if i.pa_case_id == case_id]
    assert item.id is not None
    return item.id


def _epa_case_denied(world: World, refs: PaReferences, payer: Sandbox) -> tuple[str, str]:
    """A Dupixent case sent by NCPDP ePA (the payer's PACaseID kept), then denied by the payer
    (recorded by hand: the chart meets the sandbox's criteria). (case id, PACaseID)."""
    order = _order("dupixent", **DUPIXENT_2_PENS)
    case_id = _ready_case(
        world.stores, refs, "atopic-dermatitis-dupixent", order, "cigna", prescriber=DERM
    )
    first = _submitter(world.subs, _base(payer)).submit(case_id, actor="c", now=NOW)
    assert first.channel is Channel.NCPDP_EPA and first.response.payer_reference
    with world.sessions.begin() as session:
        row = session.get(PaCase, case_id)
        assert row is not None
        row.state = CaseState.PENDED.value
    world.cases.transition(
        case_id, CaseState.DENIED, actor="coordinator", reason="payer: denied by phone", now=NOW
    )
    return case_id, first.response.payer_reference


def test_a_case_moved_to_denied_lands_on_the_worklist_once(
    world: World, refs: PaReferences, payer: Sandbox
) -> None:
    case_id, _ = _epa_case_denied(world, refs, payer)

    items = [i for i in world.denials.list() if i.pa_case_id == case_id]

    assert len(items) == 1
    item = items[0]
    assert (item.source, item.category, item.next_step, item.status) == (
        "pa",
        "medical-necessity",
        "appeal",
        "open",
    )
    assert item.patient_ref == "Patient/atopic-dermatitis-dupixent"
    assert world.denials.sync_pa_denials() == []  # the catch-up finds nothing more to add
    assert [e.kind for e in world.denials.events(item.id or 0)] == ["created"]


def test_epa_appeal_sends_the_letter_as_paappealrequest_and_keeps_the_appeal_case_id(
    world: World, refs: PaReferences, payer: Sandbox
) -> None:
    case_id, pa_case_id = _epa_case_denied(world, refs, payer)
    appeal_id = _signed_appeal(world, _pa_denial(world, case_id))
    before = len(world.subs.messages(case_id))
    with pytest.raises(SendRefused, match="the ePA PAAppealRequest carries no documents"):
        _send(
            world,
            appeal_id,
            "ncpdp",
            submitter=_submitter(world.subs, _base(payer)),
            attachments=[Attachment("Biopsy", "text/plain", b"synthetic")],
        )
    assert len(world.subs.messages(case_id)) == before

    sent = _send(
        world,
        appeal_id,
        "ncpdp",
        submitter=_submitter(world.subs, _base(payer)),
        render=_fake_pdf,
    )

    out, answer = world.subs.messages(case_id)[before:]
    assert (out.kind, answer.kind) == ("PAAppealRequest", "PAAppealResponse")
    assert f"<PACaseID>{pa_case_id}</PACaseID>" in out.body
    assert "We ask you to review the denial of this request again." in out.body  # PANote
    # the sandbox sends ePA appeals to its medical director: pended, the appeal stays submitted
    assert (sent.channel, sent.pa_state, sent.payer_outcome) == ("ncpdp-epa", "appealed", "pended")
    assert sent.payer_reference is not None and sent.payer_reference.startswith("SBXAP")
    assert f"<AppealCaseID>{sent.payer_reference}</AppealCaseID>" in answer.body
    view = world.appeals.get(appeal_id)
    assert view is not None
    assert (view.status, view.channel, view.outcome) == ("submitted", "ncpdp-epa", None)
    # the PDF can't ride on the ePA message: kept with the appeal and said so
    assert sent.sent_documents == ()
    assert sent.not_carried and "fax the PDF" in sent.not_carried[0]
    assert [d.kind for d in world.appeals.documents(appeal_id)] == ["pdf"]
    assert world.cases.events(case_id)[-2].reason.startswith("appealed by ncpdp-epa: We ask")


def test_pas_appeal_carries_the_signed_pdf_and_the_approval_overturns_the_denial(
    world: World, refs: PaReferences, payer: Sandbox
) -> None:
    case_id = _ready_case(
        world.stores, refs, "seborrheic-keratosis-cosmetic", _order("mohs"), "aetna"
    )
    done = _submitter(world.subs, _base(payer)).submit(
        case_id, actor="c", now=NOW, channel=Channel.PAS
    )
    assert done.state is CaseState.DENIED
    # the payer's answer put the denial on the worklist in the same transaction
    denial_id = _pa_denial(world, case_id)
    assert world.denials.sync_pa_denials() == []
    appeal_id = _signed_appeal(world, denial_id)
    document = world.appeals.store_document(appeal_id, world.appeals.latest(appeal_id).version, PDF)

    sent = _send(
        world,
        appeal_id,
        "payer",
        submitter=_submitter(world.subs, _base(payer)),
    )

    # the packet and the signed letter: the sandbox approves an appeal with records
    assert (sent.channel, sent.pa_state, sent.payer_outcome) == ("pas", "approved", "approved")
    assert (sent.status, sent.outcome, sent.document_id) == ("decided", "overturned", document)
    assert sent.sent_documents == (PDF_TITLE,)
    assert sent.auth_number is not None and sent.auth_number.startswith("SBXPA")
    claim_update = json.loads(world.subs.messages(case_id)[-2].body)
    docs = [
        e["resource"]["content"][0]["attachment"]
        for e in claim_update["entry"]
        if e["resource"]["resourceType"] == "DocumentReference"
    ]
    assert [(d["title"], d["contentType"]) for d in docs][-1] == (PDF_TITLE, "application/pdf")
    view = world.appeals.get(appeal_id)
    assert view is not None and (view.status, view.outcome, view.channel) == (
        "decided",
        "overturned",
        "pas",
    )
    item = world.denials.get(denial_id)
    assert item is not None and item.status == "closed"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_835_denial_is_recorded_as_faxed_and_refused_for_the_payer(world: World) -> None:
    with world.sessions.begin() as session:
        item = make_denial(id=None, claim_id=None, line_posting_id=None, claim_posting_id=None)
        (denial_id,) = world.denials.add_items(session, [item], "test")
    appeal_id = _signed_appeal(world, denial_id)

    with pytest.raises(SendRefused, match="send the PDF by fax or portal, or the X12 275"):
        _send(world, appeal_id, "payer")
    view = world.appeals.get(appeal_id)
    assert view is not None and view.status == "signed"

    sent = _send(world, appeal_id, "fax")

    assert (sent.channel, sent.status, sent.document_id) == ("fax", "submitted", None)
    assert "no PDF of the signed letter is kept" in sent.not_carried[0]
    view = world.appeals.get(appeal_id)
    assert view is not None and (view.status, view.channel) == ("submitted", "fax")
    with pytest.raises(SendRefused, match="got submitted by fax"):
        _send(world, appeal_id, "fax")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_unsigned_appeal_and_a_wrong_channel_are_refused_with_nothing_sent(
    world: World, refs: PaReferences, payer: Sandbox
) -> None:
    case_id = _ready_case(
        world.stores, refs, "seborrheic-keratosis-cosmetic", _order("mohs"), "aetna"
    )
    _submitter(world.subs, _base(payer)).submit(case_id, actor="c", now=NOW, channel=Channel.PAS)
    world.denials.sync_pa_denials()
    denial_id = _pa_denial(world, case_id)
    appeal_id = world.appeals.open(denial_id, _letter(denial_id), BILLER, NOW)
    sent_before = len(world.subs.messages(case_id))
    submitter = _submitter(world.subs, _base(payer))

    with pytest.raises(SendRefused, match="got a draft; a clinician signs it first"):
        _send(
            world,
            appeal_id,
            "payer",
            submitter=submitter,
        )
    world.appeals.sign(appeal_id, CLINICIAN)
    with pytest.raises(SendRefused, match="went to the payer by pas, not NCPDP ePA"):
        _send(
            world,
            appeal_id,
            "ncpdp",
            submitter=submitter,
        )
    with pytest.raises(SendRefused, match="channel: expected one of"):
        _send(world, appeal_id, "email")

    assert len(world.subs.messages(case_id)) == sent_before
    case = world.cases.case(case_id)
    assert case is not None and case.state == "denied"
    view = world.appeals.get(appeal_id)
    assert view is not None and view.status == "signed"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_payer_that_is_down_leaves_the_appeal_signed(
    world: World, refs: PaReferences, payer: Sandbox
) -> None:
    case_id = _ready_case(
        world.stores, refs, "seborrheic-keratosis-cosmetic", _order("mohs"), "aetna"
    )
    _submitter(world.subs, _base(payer)).submit(case_id, actor="c", now=NOW, channel=Channel.PAS)
    world.denials.sync_pa_denials()
    appeal_id = _signed_appeal(world, _pa_denial(world, case_id))
    down: Submitter = _submitter(world.subs, "http://127.0.0.1:9/payer")

    with pytest.raises(PayerUnreachable, match="send again"):
        _send(
            world,
            appeal_id,
            "payer",
            submitter=down,
            render=_fake_pdf,
        )

    view = world.appeals.get(appeal_id)
    assert view is not None and view.status == "signed"
    assert world.cases.events(case_id)[-1].kind == "appeal-failed"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cli_submit_sends_with_a_rendered_pdf_and_prints_json(
    world: World,
    refs: PaReferences,
    payer: Sandbox,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DERMRCM_DATABASE_URL", database_url)
    monkeypatch.setenv("DERMRCM_PAYER_URL", _base(payer))
    case_id = _ready_case(
        world.stores, refs, "seborrheic-keratosis-cosmetic", _order("mohs"), "aetna"
    )
    _submitter(world.subs, _base(payer)).submit(
        case_id, actor="c", now=NOW, channel=Channel.X12_278
    )
    world.denials.sync_pa_denials()
    appeal_id = _signed_appeal(world, _pa_denial(world, case_id))

    result = CliRunner().invoke(submit_command, [appeal_id, "--channel", "payer"])

    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert (printed["channel"], printed["pa_state"], printed["outcome"]) == (
        "x12-278",
        "approved",
        "overturned",
    )
    sent = world.subs.messages(case_id)[-2]
    assert sent.kind == "278 appeal" and sent.body.count("PWK*77*EL") == 2
    # no PDF was kept: the signed letter was rendered, kept with the appeal, and sent
    (doc,) = world.appeals.documents(appeal_id)
    content = world.appeals.document(doc.id)
    assert content is not None and printed["document_id"] == doc.id
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
    assert "review the denial of this request again" in text

    again = CliRunner().invoke(submit_command, [appeal_id, "--channel", "fax"])
    assert again.exit_code == 1
    assert "expected a signed letter to send, got decided" in again.output
