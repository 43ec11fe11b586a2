"""`dermrcm appeal package` (SQLite and PostgreSQL): a signed appeal of a denied 835 claim
becomes its PDF and an X12 275 (005010X210) carrying exactly that PDF, with the payer, the
patient and member id from the 835, our CLM01 and the payer's claim number; an unsigned appeal
and a PA denial are refused with nothing written. The 835 is the synthetic denial fixture
(fixtures/x12/835-denials.x12); the PDFs are synthetic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session, sessionmaker

from integration.appeals.letter import Letter, Sentence
from integration.appeals.package_cli import package_command
from integration.appeals.packages import PackageError, attachment_control_number
from integration.paths import fixtures_dir
from integration.store.appeals import AppealStore
from integration.store.database import make_engine, session_factory, upgrade
from integration.store.denials import DenialStore
from integration.store.models import DenialItem
from integration.store.remittances import RemittanceStore
from integration.x12.t275_005010x210 import read_275

NOW = datetime(2026, 12, 6, 21, 5, tzinfo=UTC)
CLINICIAN = "Practitioner/derm-1"
BILLER = "biller-ana"
# a stored PDF whose bytes hold every X12 delimiter: the 275 must carry it unchanged
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\nsigned appeal ~*:^ \x00\xff\r\n~SE*1*0001~\n%%EOF\n"


def _letter(denial_id: int) -> Letter:
    """A letter that states no fact, so the pre-sign check passes."""
    return Letter(
        denial_id=denial_id,
        template_id="test-appeal",
        template_version=1,
        level=1,
        generated=NOW.date().isoformat(),
        sentences=(
            Sentence("s1", 0, "We ask you to review the denial of this claim again.", ()),
            Sentence("s2", 1, "The treating dermatologist's notes support the service.", ()),
        ),
    )


@dataclass
class World:
    sessions: sessionmaker[Session]
    appeals: AppealStore
    denials: DenialStore

    def denial(self, patient_control_number: str) -> int:
        (item,) = [
            i
            for i in self.denials.list(status=None)
            if i.patient_control_number == patient_control_number
        ]
        assert item.id is not None
        return item.id

    def signed_appeal(self, denial_id: int) -> str:
        appeal_id = self.appeals.open(denial_id, _letter(denial_id), BILLER, NOW)
        self.appeals.sign(appeal_id, CLINICIAN)
        return appeal_id


@pytest.fixture
def world(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("DERMRCM_DATABASE_URL", database_url)
    monkeypatch.setenv("DERMRCM_PRACTICE_NAME", "Synthetic Dermatology Clinic")
    monkeypatch.setenv("DERMRCM_PRACTICE_NPI", "1234567893")
    monkeypatch.setenv("DERMRCM_SUBMITTER_ID", "DERMRCM")
    monkeypatch.setenv("DERMRCM_RECEIVER_ID", "SANDBOXCH")
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    posted = RemittanceStore(sessions, clock=lambda: NOW).post_file(
        (fixtures_dir() / "x12" / "835-denials.x12").read_bytes(), "835-denials.x12"
    )
    assert posted.to_json()["status"] == "posted"
    yield World(sessions, AppealStore(sessions, lambda: NOW), DenialStore(sessions, lambda: NOW))
    engine.dispose()


def run(*args: str) -> Result:
    return CliRunner().invoke(package_command, [*args, "--now", "2026-12-06T21:05"])


def test_signed_appeal_becomes_its_pdf_and_a_275_carrying_that_pdf(
    world: World, tmp_path: Path
) -> None:
    denial_id = world.denial("DRM-2001")  # CO-50 on J3590, UnitedHealthcare sandbox
    appeal_id = world.signed_appeal(denial_id)
    version = world.appeals.get(appeal_id).latest_version  # type: ignore[union-attr]
    world.appeals.store_document(appeal_id, version, PDF)

    result = run(appeal_id, "--pdf", str(tmp_path / "a.pdf"), "--x12-275", str(tmp_path / "a.275"))

    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (tmp_path / "a.pdf").read_bytes() == PDF
    assert summary["pdf"]["rendered_now"] is False and summary["pdf"]["octets"] == len(PDF)
    number = attachment_control_number(appeal_id, version)
    assert summary["x12_275"]["attachment_control_number"] == number

    (model,), problems = read_275((tmp_path / "a.275").read_bytes())
    assert problems == []
    assert model.documents[0].data == PDF  # every delimiter inside survived
    assert model.documents[0].control_number == number
    assert model.documents[0].submitted == date(2026, 12, 6)
    assert (model.payer.last_or_organization, model.payer.id) == (
        "UNITEDHEALTHCARE SANDBOX",
        "1999999901",
    )
    assert (model.provider.id, model.submitter.id) == ("1234567893", "DERMRCM")
    patient = model.patient
    assert (patient.name.last_or_organization, patient.name.first, patient.name.id) == (
        "SYNTHETIC",
        "PATIENT",
        "SYN2001",
    )
    assert (patient.patient_control_number, patient.payer_claim_number) == ("DRM-2001", "UHC2001")
    assert patient.service is not None and patient.service.start == date(2026, 10, 1)
    assert model.envelope is not None and model.envelope.group.functional_id == "PI"


def test_packaging_again_keeps_the_attachment_number_and_takes_new_control_numbers(
    world: World, tmp_path: Path
) -> None:
    appeal_id = world.signed_appeal(world.denial("DRM-2001"))
    world.appeals.store_document(appeal_id, world.appeals.get(appeal_id).latest_version, PDF)  # type: ignore[union-attr]
    first = run(appeal_id, "--x12-275", str(tmp_path / "1.275"))
    second = run(appeal_id, "--x12-275", str(tmp_path / "2.275"))
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    (one,), _ = read_275((tmp_path / "1.275").read_bytes())
    (two,), _ = read_275((tmp_path / "2.275").read_bytes())
    assert one.documents[0].control_number == two.documents[0].control_number
    assert one.envelope is not None and two.envelope is not None
    assert one.envelope.interchange.control_number != two.envelope.interchange.control_number


def test_without_a_stored_pdf_the_signed_letter_is_rendered_once_and_kept(
    world: World, tmp_path: Path
) -> None:
    appeal_id = world.signed_appeal(world.denial("DRM-2002"))
    assert world.appeals.documents(appeal_id) == []
    first = run(appeal_id, "--pdf", str(tmp_path / "1.pdf"))
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["pdf"]["rendered_now"] is True
    assert (tmp_path / "1.pdf").read_bytes().startswith(b"%PDF-")
    (stored,) = world.appeals.documents(appeal_id)
    second = run(appeal_id, "--pdf", str(tmp_path / "2.pdf"))
    assert json.loads(second.output)["pdf"]["rendered_now"] is False
    assert (tmp_path / "2.pdf").read_bytes() == (tmp_path / "1.pdf").read_bytes()
    assert [d.id for d in world.appeals.documents(appeal_id)] == [stored.id]


def test_an_unsigned_appeal_is_refused_and_nothing_is_written(world: World, tmp_path: Path) -> None:
    denial_id = world.denial("DRM-2001")
    appeal_id = world.appeals.open(denial_id, _letter(denial_id), BILLER, NOW)
    out = tmp_path / "out"
    out.mkdir()
    result = run(appeal_id, "--pdf", str(out / "a.pdf"), "--x12-275", str(out / "a.275"))
    assert result.exit_code == 1
    assert f"appeal {appeal_id}: expected a signed letter to package, got draft" in result.output
    assert list(out.iterdir()) == []


def test_an_unknown_appeal_is_refused(world: World, tmp_path: Path) -> None:
    result = run("no-such-appeal", "--pdf", str(tmp_path / "a.pdf"))
    assert result.exit_code == 1
    assert "appeal: expected an appeal id, got 'no-such-appeal' (not found)" in result.output


def test_a_pa_denial_gets_no_275(world: World, tmp_path: Path) -> None:
    with world.sessions.begin() as session:
        row = DenialItem(
            dedupe_key="test:pa:1",
            source="pa",
            pa_case_id=None,
            payer_id="SBXCIGNA",
            payer_name="CIGNA SANDBOX",
            patient_ref="Patient/atopic-dermatitis-dupixent",
            modifiers="",
            group_code="",
            reason_code="",
            rarcs="",
            adjustments_json="[]",
            category="authorization",
            amount_cents=0,
            remit_date=None,
            deadline=None,
            deadline_basis="unknown: no cited appeal deadline",
            next_step="appeal",
            next_step_reason="PA denied: appeal through the PA case",
            origin="PA case test",
            status="open",
            queue="pa",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(row)
        session.flush()
        denial_id = row.id
    appeal_id = world.signed_appeal(denial_id)
    world.appeals.store_document(appeal_id, world.appeals.get(appeal_id).latest_version, PDF)  # type: ignore[union-attr]
    result = run(appeal_id, "--x12-275", str(tmp_path / "a.275"))
    assert result.exit_code == 1
    assert "expected an 835 denial for an X12 275, got a pa denial" in result.output
    assert not (tmp_path / "a.275").exists()
    only_pdf = run(appeal_id, "--pdf", str(tmp_path / "a.pdf"))
    assert only_pdf.exit_code == 0 and (tmp_path / "a.pdf").read_bytes() == PDF


def test_neither_output_is_a_usage_error(world: World) -> None:
    result = CliRunner().invoke(package_command, ["x"])
    assert result.exit_code == 2
    assert "expected --pdf OUT, --x12-275 OUT or both, got neither" in result.output


def test_attachment_control_numbers_are_stable_and_short() -> None:
    number = attachment_control_number("3f2b8c1e-0a4d-4e6f-9b1a-2c3d4e5f6a7b", 3)
    assert number == "APL-3F2B8C1E0A4D4E6F-V3"
    with pytest.raises(PackageError):
        attachment_control_number("---", 1)
