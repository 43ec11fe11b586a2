"""Submission packages for a signed appeal: the PDF (fax, portal, mail) and, for a denied 835
claim, an X12 275 (005010X210) unsolicited attachment carrying that same PDF in BIN.

Pure: the caller (`package_cli`) reads the appeal, its denial, the stored PDF and the 835 claim
payment the denial came from, and writes the files. What goes where in the 275:

- 1000A payer: the denial's payer name and id (the 835's N1*PR / TRN03, as posted);
- 1000B submitter: our interchange sender id as ETIN (NM108 46) with the practice's name;
- 1000C provider: the practice's name and NPI (NM108 XX);
- 1000D patient: NM1*QC of the 835 claim (name and member id, read from the stored 835 file:
  the denial item itself keeps no names or member ids), REF*EJ our CLM01 (CLP01), REF*1K the
  payer's claim number (CLP07), DTP*472 the denied line's service date (else the claim's lines);
- 2000A: TRN*1 the attachment control number `APL-<appeal>-V<version>` (the same package of the
  same signed version always gets the same number, so a resend is recognisable), DTP*368 the
  day the package is made, CAT*AE*IA, EFI*05, BIN the PDF.

Sources for the 275 layout: `integration/x12/t275_005010x210.py` and `x210_codes.py`.
No PHI in logs: appeal ids, control numbers and sizes only.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from integration.denials.items import DenialItem
from integration.x12 import x210_codes
from integration.x12.envelope import Clock, ControlNumberSource, EnvelopeParams
from integration.x12.t275_005010x210 import (
    Attachment275,
    Document,
    Party,
    Patient,
    ServiceDates,
    write_275,
)
from integration.x12.t835_005010x221a1 import ClaimPayment

log = logging.getLogger(__name__)

CONTROL_NUMBER_MAX = 50  # TRN02 / BGN02 are AN 1/50


class PackageError(Exception):
    """A package that cannot be made; the message says where and what."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Practice:
    """Who sends the 275: the practice (1000C) and our submitter id (1000B)."""

    name: str
    npi: str
    submitter_id: str  # ETIN (NM108 46); our ISA06


@dataclass(frozen=True, slots=True, kw_only=True)
class AppealPackage:
    appeal_id: str
    version: int
    pdf: bytes
    x12_275: bytes | None = None
    attachment_control_number: str | None = None

    @property
    def pdf_sha256(self) -> str:
        return hashlib.sha256(self.pdf).hexdigest()


def attachment_control_number(appeal_id: str, version: int) -> str:
    """`APL-<first 16 hex digits of the appeal id>-V<version>`: stable for one signed version."""
    digits = "".join(ch for ch in appeal_id if ch.isalnum()).upper()[:16]
    if not digits:
        raise PackageError(f"appeal: expected an id with letters or digits, got {appeal_id!r}")
    number = f"APL-{digits}-V{version}"
    assert len(number) <= CONTROL_NUMBER_MAX
    return number


def _patient_party(claim: ClaimPayment) -> Party:
    qc = claim.party("QC")
    if qc is None or not qc.last_or_organization:
        raise PackageError(
            f"835 claim {claim.patient_control_number}: expected NM1*QC (the patient's name), "
            "got none"
        )
    member_id = qc.id if qc.id_qualifier == "MI" else ""
    if not member_id:
        subscriber = claim.party("IL")
        member_id = (
            subscriber.id if subscriber is not None and subscriber.id_qualifier == "MI" else ""
        )
    if not member_id:
        raise PackageError(
            f"835 claim {claim.patient_control_number}: expected the member id (NM1*QC or NM1*IL "
            f"NM108 MI), got {qc.id_qualifier or 'none'!r}"
        )
    return Party(
        entity_code=x210_codes.PATIENT,
        entity_type="1",
        last_or_organization=qc.last_or_organization,
        first=qc.first,
        middle=qc.middle,
        id_qualifier="MI",
        id=member_id,
    )


def _service_dates(denial: DenialItem, claim: ClaimPayment) -> ServiceDates | None:
    if denial.service_date is not None:
        return ServiceDates(denial.service_date)
    days = sorted(d for d in (s.service_date for s in claim.services) if d is not None)
    if not days:
        return None
    return ServiceDates(days[0], days[-1] if days[-1] != days[0] else None)


def build_attachment(
    *,
    appeal_id: str,
    version: int,
    denial: DenialItem,
    claim: ClaimPayment,
    pdf: bytes,
    practice: Practice,
    created: datetime,
) -> Attachment275:
    """The 275 model of one signed appeal's PDF for the denied 835 claim."""
    if denial.source != "835":
        raise PackageError(
            f"denial {denial.id}: expected an 835 denial for an X12 275, got a {denial.source} "
            "denial (a PA denial is appealed through its PA case: dermrcm appeal submit)"
        )
    if (
        denial.patient_control_number
        and claim.patient_control_number != denial.patient_control_number
    ):
        raise PackageError(
            f"835 claim: expected CLP01 {denial.patient_control_number!r} (the denial's claim), "
            f"got {claim.patient_control_number!r}"
        )
    if not pdf.startswith(b"%PDF-"):
        raise PackageError("pdf: expected a PDF (starting %PDF-), got other bytes")
    payer_claim_number = claim.payer_claim_control_number or denial.payer_claim_number or ""
    number = attachment_control_number(appeal_id, version)
    return Attachment275(
        reference=number,
        created=created,
        payer=Party(
            entity_code=x210_codes.PAYER,
            entity_type="2",
            last_or_organization=denial.payer_name,
            id_qualifier="PI",
            id=denial.payer_id,
        ),
        submitter=Party(
            entity_code=x210_codes.SUBMITTER,
            entity_type="2",
            last_or_organization=practice.name,
            id_qualifier="46",
            id=practice.submitter_id,
        ),
        provider=Party(
            entity_code=x210_codes.PROVIDER,
            entity_type="2",
            last_or_organization=practice.name,
            id_qualifier="XX",
            id=practice.npi,
        ),
        patient=Patient(
            name=_patient_party(claim),
            patient_control_number=claim.patient_control_number,
            payer_claim_number=payer_claim_number,
            service=_service_dates(denial, claim),
        ),
        documents=(Document(control_number=number, submitted=created.date(), data=pdf),),
    )


def build_package(
    *,
    appeal_id: str,
    version: int,
    pdf: bytes,
    denial: DenialItem | None = None,
    claim: ClaimPayment | None = None,
    practice: Practice | None = None,
    params: EnvelopeParams | None = None,
    clock: Clock | None = None,
    control_numbers: ControlNumberSource | None = None,
) -> AppealPackage:
    """The PDF, and the 275 when `denial`, `claim`, `practice`, `params`, `clock` and
    `control_numbers` are all given (X12Error / PackageError, located, when it cannot be made)."""
    wants_275 = (denial, claim, practice, params, clock, control_numbers)
    if not any(v is not None for v in wants_275):
        return AppealPackage(appeal_id=appeal_id, version=version, pdf=pdf)
    if any(v is None for v in wants_275):
        raise PackageError(
            "x12-275: expected the denial, its 835 claim, the practice and an envelope"
        )
    assert denial is not None and claim is not None and practice is not None
    assert params is not None and clock is not None and control_numbers is not None
    now = clock()
    model = build_attachment(
        appeal_id=appeal_id,
        version=version,
        denial=denial,
        claim=claim,
        pdf=pdf,
        practice=practice,
        created=now,
    )
    data = write_275(model, params, lambda: now, control_numbers)
    number = model.documents[0].control_number
    log.info(
        "appeal 275 built",
        extra={"appeal_id": appeal_id, "attachment": number, "octets": len(pdf)},
    )
    return AppealPackage(
        appeal_id=appeal_id,
        version=version,
        pdf=pdf,
        x12_275=data,
        attachment_control_number=number,
    )
