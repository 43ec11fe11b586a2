"""`dermrcm appeal package APPEAL_ID [--pdf OUT] [--x12-275 OUT] [--now ISO]` (the lead wires
`package_command` into the `appeal` group).

- `--pdf OUT`: the signed appeal's PDF: the document stored for its signed version (the latest
  stored PDF otherwise); when none is stored, the signed letter is rendered
  (`render_letter_pdf`, the letter without chart attachments: draft with `--pdf` from the chart
  for those) and stored, so what is faxed and what the 275 carries are the same bytes.
- `--x12-275 OUT`: a 275 (005010X210) unsolicited attachment carrying that PDF for the denied
  835 claim: the patient's name and member id come from the stored 835 file the denial was
  posted from; control numbers from the database (`StoredControlNumbers`, our submitter id); the
  envelope from the settings (`submitter_id`, `receiver_id`, `usage_indicator`), the practice from
  `practice_name` / `practice_npi`. `--now` fixes the clock (tests, reruns).

Prints a JSON summary (paths, sizes, SHA-256, attachment control number). A refused package
(unknown or unsigned appeal, a PA denial, no 835 claim found) exits 1 with its message on stderr
and writes nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

SIGNED_STATES = ("signed", "submitted", "decided")


class _Refused(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Pdf:
    data: bytes
    version: int
    document_id: int
    rendered: bool


def _signed_pdf(sessions: sessionmaker[Session], appeal_id: str) -> _Pdf:
    from integration.appeals.pdf import render_letter_pdf
    from integration.store.appeals import AppealStore

    store = AppealStore(sessions)
    appeal = store.get(appeal_id)
    if appeal is None:
        raise _Refused(f"appeal: expected an appeal id, got {appeal_id!r} (not found)")
    if appeal.status not in SIGNED_STATES or appeal.signed_at is None:
        raise _Refused(
            f"appeal {appeal_id}: expected a signed letter to package, got {appeal.status} "
            "(a clinician signs it in the app first)"
        )
    version = appeal.latest_version
    pdfs = [d for d in store.documents(appeal_id) if d.kind == "pdf"]
    chosen = [d for d in pdfs if d.version == version] or pdfs
    if chosen:
        doc = chosen[-1]
        data = store.document(doc.id)
        if data is None:  # pragma: no cover - deleted between the two reads
            raise _Refused(f"appeal {appeal_id}: document {doc.id} vanished")
        return _Pdf(data, doc.version, doc.id, rendered=False)
    letter = store.latest(appeal_id).letter
    data = render_letter_pdf(letter, signed_by=appeal.signed_by, signed_at=appeal.signed_at.date())
    document_id = store.store_document(appeal_id, version, data)
    return _Pdf(data, version, document_id, rendered=True)


def _denied_claim(sessions: sessionmaker[Session], denial_id: int) -> tuple[Any, Any]:
    """The denial item and the 835 `ClaimPayment` it was posted from (read from the stored file)."""
    from integration.store.denials import DenialStore
    from integration.store.models import RemittanceClaimPosting, RemittanceFile, RemittancePayment
    from integration.x12.t835_005010x221a1 import read_835

    denial = DenialStore(sessions).get(denial_id)
    if denial is None:
        raise _Refused(f"denial: expected the appeal's denial item {denial_id}, got none")
    if denial.source != "835":
        raise _Refused(
            f"denial {denial_id}: expected an 835 denial for an X12 275, got a {denial.source} "
            "denial (a PA denial is appealed through its PA case: dermrcm appeal submit)"
        )
    if denial.claim_posting_id is None:
        raise _Refused(f"denial {denial_id}: expected the 835 claim it was posted from, got none")
    with sessions() as session:
        posting = session.get(RemittanceClaimPosting, denial.claim_posting_id)
        payment = session.get(RemittancePayment, posting.payment_id) if posting else None
        file = session.get(RemittanceFile, payment.file_id) if payment else None
        if posting is None or payment is None or file is None:
            raise _Refused(
                f"denial {denial_id}: expected claim posting {denial.claim_posting_id} with its "
                "835 file, got none"
            )
        raw, pcn, pcc = bytes(file.raw), posting.patient_control_number, posting.payer_claim_number
        trace = payment.trace_number
    models, _ = read_835(raw)
    for model in models:
        if model.header.trace_number != trace:
            continue
        for claim in model.claims:
            if claim.patient_control_number == pcn and claim.payer_claim_control_number == pcc:
                return denial, claim
    raise _Refused(
        f"denial {denial_id}: expected CLP {pcn} / {pcc} in 835 file {payment.file_id}, got none"
    )


def _now(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    try:
        return datetime.fromisoformat(value).replace(tzinfo=None)
    except ValueError:
        raise click.BadParameter(
            f"expected an ISO date and time, got {value!r}", param_hint="--now"
        ) from None


@click.command("package")
@click.argument("appeal_id")
@click.option(
    "--pdf",
    "pdf_out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the signed appeal's PDF here (fax, portal, mail)",
)
@click.option(
    "--x12-275",
    "x12_out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write an X12 275 (005010X210) carrying the PDF for the denied 835 claim here",
)
@click.option("--now", default=None, help="The time the package is made (ISO; default now)")
def package_command(
    appeal_id: str, pdf_out: Path | None, x12_out: Path | None, now: str | None
) -> None:
    """Make the submission package of a signed appeal: its PDF and/or an X12 275."""
    from integration.appeals.packages import PackageError, Practice, build_package
    from integration.claims.cli import envelope_params
    from integration.settings import Settings
    from integration.store.control_numbers import StoredControlNumbers
    from integration.store.database import make_engine, session_factory, upgrade
    from integration.x12.errors import X12Error

    if pdf_out is None and x12_out is None:
        raise click.UsageError("expected --pdf OUT, --x12-275 OUT or both, got neither")
    moment = _now(now)
    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        sessions = session_factory(engine)
        try:
            pdf = _signed_pdf(sessions, appeal_id)
            if x12_out is None:
                package = build_package(appeal_id=appeal_id, version=pdf.version, pdf=pdf.data)
            else:
                from integration.store.appeals import AppealStore

                view = AppealStore(sessions).get(appeal_id)
                assert view is not None
                denial, claim = _denied_claim(sessions, view.denial_id)
                package = build_package(
                    appeal_id=appeal_id,
                    version=pdf.version,
                    pdf=pdf.data,
                    denial=denial,
                    claim=claim,
                    practice=Practice(
                        name=settings.practice_name,
                        npi=settings.practice_npi,
                        submitter_id=settings.submitter_id,
                    ),
                    params=envelope_params(settings),
                    clock=lambda: moment,
                    control_numbers=StoredControlNumbers(sessions, settings.submitter_id),
                )
        except (_Refused, PackageError, X12Error) as exc:
            click.echo(f"error: {exc}", err=True)
            raise SystemExit(1) from None
    finally:
        engine.dispose()
    summary: dict[str, Any] = {
        "appeal": appeal_id,
        "version": package.version,
        "pdf": {
            "octets": len(package.pdf),
            "sha256": package.pdf_sha256,
            "document_id": pdf.document_id,
            "rendered_now": pdf.rendered,
        },
    }
    if pdf_out is not None:
        pdf_out.write_bytes(package.pdf)
        summary["pdf"]["path"] = str(pdf_out)
    if x12_out is not None and package.x12_275 is not None:
        x12_out.write_bytes(package.x12_275)
        summary["x12_275"] = {
            "path": str(x12_out),
            "octets": len(package.x12_275),
            "attachment_control_number": package.attachment_control_number,
            "guide": "005010X210",
        }
    log.info(
        "appeal package written",
        extra={"appeal_id": appeal_id, "pdf": pdf_out is not None, "x12_275": x12_out is not None},
    )
    click.echo(json.dumps(summary, indent=2))
