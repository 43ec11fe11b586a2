"""Tables. Every change goes through an Alembic migration in store/migrations/versions/."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import text

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class SmartLaunch(Base):
    """An authorization request in flight: created at /launch, consumed once at /callback."""

    __tablename__ = "smart_launch"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    iss: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(200))
    token_endpoint: Mapped[str] = mapped_column(String(500))
    code_verifier: Mapped[str] = mapped_column(String(128))
    redirect_uri: Mapped[str] = mapped_column(String(500))
    scope: Mapped[str] = mapped_column(Text)
    launch_kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SmartSession(Base):
    """A launched session: tokens are kept here, encrypted, never in the browser's cookie."""

    __tablename__ = "smart_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    iss: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(200))
    token_endpoint: Mapped[str] = mapped_column(String(500))
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    scope: Mapped[str] = mapped_column(Text)
    patient_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    encounter_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    need_patient_banner: Mapped[bool] = mapped_column(Boolean, default=True)
    fhir_user: Mapped[str | None] = mapped_column(String(500), nullable=True)
    launch_kind: Mapped[str] = mapped_column(String(20))
    refresh_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


BigId = BigInteger().with_variant(Integer(), "sqlite")


class Hl7Message(Base):
    """Every HL7 v2 message received, stored (raw bytes) before it is acknowledged."""

    __tablename__ = "hl7_message"
    __table_args__ = (Index("ix_hl7_message_sender_control", "sender", "control_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    peer: Mapped[str] = mapped_column(String(100))
    sender: Mapped[str] = mapped_column(String(455))  # MSH-3 | MSH-4
    control_id: Mapped[str] = mapped_column(String(199))  # MSH-10
    message_type: Mapped[str] = mapped_column(String(20))
    version: Mapped[str] = mapped_column(String(10))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    charset: Mapped[str] = mapped_column(String(30))
    sha256: Mapped[str] = mapped_column(String(64))
    # received | processed | duplicate | error | rejected
    status: Mapped[str] = mapped_column(String(12), index=True)
    ack_code: Mapped[str | None] = mapped_column(String(2), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(3), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class Hl7Applied(Base):
    """One row per (sender, MSH-10) applied: the key that makes processing exactly-once."""

    __tablename__ = "hl7_applied"

    sender: Mapped[str] = mapped_column(String(455), primary_key=True)
    control_id: Mapped[str] = mapped_column(String(199), primary_key=True)
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("hl7_message.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FhirResource(Base):
    """FHIR resources written by the feeds (current version)."""

    __tablename__ = "fhir_resource"

    resource_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version_id: Mapped[int] = mapped_column(Integer)
    last_updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    patient_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    content: Mapped[str] = mapped_column(Text)
    message_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("hl7_message.id"), nullable=True
    )


class FhirResourceVersion(Base):
    """The versions of feed-written resources that an update replaced, as they were stored, so
    nothing an update replaced is lost. The current version is the `fhir_resource` row: together
    they hold every version once (`fhir_store.resource_history`)."""

    __tablename__ = "fhir_resource_version"

    resource_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    content: Mapped[str] = mapped_column(Text)
    message_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("hl7_message.id"), nullable=True
    )


def table_of(model: type[Base]) -> Table:
    """A mapped class's Table, for Core statements (executemany) on the hot paths."""
    return Base.metadata.tables[model.__tablename__]


class PaCase(Base):
    """A prior-authorization case: the order, the payer rule version applied, and the chart
    evidence and checklist it was decided on (kept so a new rule version can be re-applied)."""

    __tablename__ = "pa_case"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(64), index=True)
    order_ref: Mapped[str] = mapped_column(String(200))
    order_json: Mapped[str] = mapped_column(Text)
    payer_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rule_id: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    rule_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    service_date: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(30), index=True)
    evidence_json: Mapped[str] = mapped_column(Text)
    assessment_json: Mapped[str] = mapped_column(Text)
    context_json: Mapped[str] = mapped_column(Text)
    flag: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: "initial" or "reauthorization" (then `reauth_of` is the approved case it renews)
    kind: Mapped[str] = mapped_column(String(20), default="initial", server_default="initial")
    reauth_of: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    channel: Mapped[str | None] = mapped_column(String(20), nullable=True)
    #: the payer's id for the request (NCPDP PA case id, 278 trace, PAS ClaimResponse id)
    payer_reference: Mapped[str | None] = mapped_column(String(100), nullable=True)
    auth_number: Mapped[str | None] = mapped_column(String(50), nullable=True)
    approved_from: Mapped[str | None] = mapped_column(String(10), nullable=True)
    approved_to: Mapped[str | None] = mapped_column(String(10), nullable=True)
    approved_units: Mapped[str | None] = mapped_column(String(30), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class PaCaseEvent(Base):
    """The audit trail: every transition and re-evaluation, with who, when and why."""

    __tablename__ = "pa_case_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("pa_case.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    from_state: Mapped[str | None] = mapped_column(String(30), nullable=True)
    to_state: Mapped[str | None] = mapped_column(String(30), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    detail_json: Mapped[str | None] = mapped_column(Text, nullable=True)


class PaTask(Base):
    """Something to do on a case (supply a missing item, follow up), with an owner role."""

    __tablename__ = "pa_task"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("pa_case.id"), index=True)
    criterion_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    what: Mapped[str] = mapped_column(Text)
    owner_role: Mapped[str] = mapped_column(String(30), index=True)
    due: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PaMessage(Base):
    """A message exchanged with the payer for a case, stored before it is sent and as soon as
    it is received: the raw body, never re-encoded."""

    __tablename__ = "pa_message"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("pa_case.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    #: "out" (to the payer) or "in" (from it)
    direction: Mapped[str] = mapped_column(String(3))
    #: e.g. PAInitiationRequest, 278, Claim/$submit
    kind: Mapped[str] = mapped_column(String(40))
    content_type: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    correlation: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PaPacketVersion(Base):
    """One version of a case's packet as the clinician edited it: the free text, the
    attestations, who wrote it, and, once signed, who signed it, when, and the hash of what
    they signed. Versions are only ever added."""

    __tablename__ = "pa_packet_version"
    __table_args__ = (UniqueConstraint("case_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(36), ForeignKey("pa_case.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    narrative: Mapped[str] = mapped_column(Text)
    attestations_json: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    signed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    content_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)


# -- claims and remittances (835 posting) ---------------------------------------------------------
# Money is kept in integer cents (exact on SQLite and PostgreSQL alike); dates as ISO text
# (YYYY-MM-DD), as elsewhere in this file.


class Claim(Base):
    """A claim we submitted (837P): what an 835 remittance is matched against."""

    __tablename__ = "claim"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    patient_control_number: Mapped[str] = mapped_column(String(38), unique=True)  # CLM01
    payer_id: Mapped[str] = mapped_column(String(80), index=True)
    payer_claim_number: Mapped[str | None] = mapped_column(String(50), nullable=True, index=True)
    total_charge_cents: Mapped[int] = mapped_column(BigInteger)
    #: the FHIR Patient the claim is for ("Patient/<id>"; 0008): an appeal reads this chart
    patient_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)
    #: submitted | paid | denied | reversed | forwarded
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ClaimLine(Base):
    __tablename__ = "claim_line"
    __table_args__ = (UniqueConstraint("claim_id", "line_number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    claim_id: Mapped[int] = mapped_column(BigId, ForeignKey("claim.id"), index=True)
    line_number: Mapped[int] = mapped_column(Integer)
    procedure: Mapped[str] = mapped_column(String(48))
    modifiers: Mapped[str] = mapped_column(String(20))  # "25,59"; "" when none
    service_date: Mapped[str] = mapped_column(String(10))
    charge_cents: Mapped[int] = mapped_column(BigInteger)
    units: Mapped[str] = mapped_column(String(20))


class RemittanceFile(Base):
    """Every 835 file received, stored raw (with its SHA-256) before anything is posted."""

    __tablename__ = "remittance_file"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    #: received | posted | duplicate | rejected | failed
    status: Mapped[str] = mapped_column(String(12), index=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RemittancePayment(Base):
    """One 835 transaction (payment): TRN trace number + payer id are its identity, so the same
    payment arriving again (another file name, other ISA control numbers) is never posted twice."""

    __tablename__ = "remittance_payment"
    __table_args__ = (UniqueConstraint("trace_number", "payer_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    file_id: Mapped[int] = mapped_column(BigId, ForeignKey("remittance_file.id"), index=True)
    trace_number: Mapped[str] = mapped_column(String(50))  # TRN02
    payer_id: Mapped[str] = mapped_column(String(50))  # TRN03
    payer_name: Mapped[str] = mapped_column(String(60))
    payee_id: Mapped[str] = mapped_column(String(80))
    transaction_control_number: Mapped[str] = mapped_column(String(9))  # ST02
    amount_cents: Mapped[int] = mapped_column(BigInteger)  # BPR02
    credit_debit: Mapped[str] = mapped_column(String(1))
    method: Mapped[str] = mapped_column(String(3))
    payment_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    production_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    provider_adjustment_cents: Mapped[int] = mapped_column(BigInteger)
    posted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RemittanceClaimPosting(Base):
    """One CLP of a payment, posted against our claim (claim_id None: queued for a person)."""

    __tablename__ = "remittance_claim_posting"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    payment_id: Mapped[int] = mapped_column(BigId, ForeignKey("remittance_payment.id"), index=True)
    claim_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("claim.id"), nullable=True, index=True
    )
    patient_control_number: Mapped[str] = mapped_column(String(38), index=True)  # CLP01
    payer_claim_number: Mapped[str] = mapped_column(String(50))  # CLP07
    status_code: Mapped[str] = mapped_column(String(2))  # CLP02
    charge_cents: Mapped[int] = mapped_column(BigInteger)
    paid_cents: Mapped[int] = mapped_column(BigInteger)
    patient_responsibility_cents: Mapped[int] = mapped_column(BigInteger)
    reverses_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("remittance_claim_posting.id"), nullable=True
    )
    reversed: Mapped[bool] = mapped_column(Boolean, default=False)


class RemittanceLinePosting(Base):
    """One SVC of a claim posting, against our claim line (claim_line_id None: not matched)."""

    __tablename__ = "remittance_line_posting"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    claim_posting_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("remittance_claim_posting.id"), index=True
    )
    claim_line_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("claim_line.id"), nullable=True, index=True
    )
    procedure: Mapped[str] = mapped_column(String(48))
    modifiers: Mapped[str] = mapped_column(String(20))
    service_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    charge_cents: Mapped[int] = mapped_column(BigInteger)
    paid_cents: Mapped[int] = mapped_column(BigInteger)
    units: Mapped[str] = mapped_column(String(20))
    #: our modifiers the payer dropped ("59"), "" when none
    dropped_modifiers: Mapped[str] = mapped_column(String(20))


class RemittanceAdjustment(Base):
    """One CAS triplet of a claim posting (line_posting_id set for line-level CAS)."""

    __tablename__ = "remittance_adjustment"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    claim_posting_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("remittance_claim_posting.id"), index=True
    )
    line_posting_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("remittance_line_posting.id"), nullable=True
    )
    group_code: Mapped[str] = mapped_column(String(2))
    reason_code: Mapped[str] = mapped_column(String(5))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[str | None] = mapped_column(String(20), nullable=True)
    category: Mapped[str | None] = mapped_column(String(30), nullable=True)


class RemittanceProviderAdjustment(Base):
    """One PLB adjustment of a payment (not tied to our claims)."""

    __tablename__ = "remittance_provider_adjustment"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    payment_id: Mapped[int] = mapped_column(BigId, ForeignKey("remittance_payment.id"), index=True)
    provider_id: Mapped[str] = mapped_column(String(50))
    fiscal_period_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    reason_code: Mapped[str] = mapped_column(String(2))
    reference: Mapped[str] = mapped_column(String(50))
    amount_cents: Mapped[int] = mapped_column(BigInteger)


class RemittanceWorkItem(Base):
    """Something of a posted payment a person must look at: an unmatched claim or line, a
    dropped modifier, a reversal with nothing to reverse."""

    __tablename__ = "remittance_work_item"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    payment_id: Mapped[int] = mapped_column(BigId, ForeignKey("remittance_payment.id"), index=True)
    claim_posting_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("remittance_claim_posting.id"), nullable=True
    )
    #: unmatched_claim | unmatched_line | modifier_dropped | reversal_unmatched
    kind: Mapped[str] = mapped_column(String(30), index=True)
    detail: Mapped[str] = mapped_column(Text)  # control numbers and codes only, no PHI
    status: Mapped[str] = mapped_column(String(10), index=True)  # open | closed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# -- claim submission (0006) -------------------------------------------------------------------


class X12ControlNumber(Base):
    """The last X12 control number handed out, per sender id and kind (interchange, group,
    transaction): `integration.store.control_numbers` increments it atomically."""

    __tablename__ = "x12_control_number"

    sender_id: Mapped[str] = mapped_column(String(15), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), primary_key=True)
    last_value: Mapped[int] = mapped_column(BigInteger)


class ClaimFile(Base):
    """An 837P interchange we wrote, stored raw before it is sent to the clearinghouse."""

    __tablename__ = "claim_file"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    interchange_control_number: Mapped[str] = mapped_column(String(9))  # ISA13
    group_control_number: Mapped[str] = mapped_column(String(9), index=True)  # GS06
    transaction_control_number: Mapped[str] = mapped_column(String(9))  # ST02
    claims: Mapped[int] = mapped_column(Integer)
    #: stored | sent | send_failed | accepted | rejected | partial
    status: Mapped[str] = mapped_column(String(12), index=True)
    clearinghouse_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)  # located, no PHI


class ClaimSubmission(Base):
    """One claim of a claim file and what the clearinghouse said about it (999, 277CA)."""

    __tablename__ = "claim_submission"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    claim_id: Mapped[int] = mapped_column(BigId, ForeignKey("claim.id"), unique=True)
    claim_file_id: Mapped[int] = mapped_column(BigId, ForeignKey("claim_file.id"), index=True)
    #: pending | accepted | rejected (999 of the file)
    ack_status: Mapped[str] = mapped_column(String(10))
    #: pending | accepted | rejected (277CA of the claim)
    clearinghouse_status: Mapped[str] = mapped_column(String(10))
    #: STC codes of the 277CA, "A1:20" or "A7:21|A7:..." (codes only)
    status_codes: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ClearinghouseInbound(Base):
    """A file fetched from the clearinghouse (999, 277CA, 835, 271, 277), stored raw before it is
    processed; the clearinghouse id and the SHA-256 are unique, so a file is processed once."""

    __tablename__ = "clearinghouse_inbound"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    clearinghouse_id: Mapped[str] = mapped_column(String(80), unique=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    transaction_set: Mapped[str] = mapped_column(String(3))  # ST01 of the first set, "" unknown
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: received | processed | failed | ignored
    status: Mapped[str] = mapped_column(String(10), index=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)  # codes and counts, no PHI
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


# -- NCCI PTP and MUE reference tables (0007) --------------------------------------------------

from datetime import date  # noqa: E402  (kept inside this block: one contiguous addition)

from sqlalchemy import Date, SmallInteger  # noqa: E402


class NcciReferenceImport(Base):
    """One imported quarter of a CMS NCCI table (kind "ncci-ptp" or "mue"): the files it came
    from and when; importing the same kind and quarter again replaces it in one transaction."""

    __tablename__ = "ncci_reference_import"
    __table_args__ = (UniqueConstraint("kind", "quarter"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10))
    quarter: Mapped[str] = mapped_column(String(6))  # "2024Q2"
    version: Mapped[str] = mapped_column(String(10))  # NCCI version "30.1"; "" for MUE
    files: Mapped[str] = mapped_column(Text)  # file names, "|" between
    sha256: Mapped[str] = mapped_column(Text)  # of each file, "|" between, same order
    rows: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NcciPtpEdit(Base):
    """One row of a CMS practitioner PTP file (column 1 / column 2 pair, modifier indicator)."""

    __tablename__ = "ncci_ptp_edit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    import_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("ncci_reference_import.id"), index=True
    )
    column1: Mapped[str] = mapped_column(String(5))
    column2: Mapped[str] = mapped_column(String(5))
    modifier_indicator: Mapped[str] = mapped_column(String(1))  # 0 | 1 | 9
    effective: Mapped[date | None] = mapped_column(Date, nullable=True)
    deletion: Mapped[date | None] = mapped_column(Date, nullable=True)
    rationale: Mapped[str] = mapped_column(String(200))
    prior_1996: Mapped[bool] = mapped_column(Boolean)


class NcciMue(Base):
    """One row of a CMS practitioner MUE file: the units and the adjudication indicator."""

    __tablename__ = "ncci_mue"
    __table_args__ = (UniqueConstraint("import_id", "code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    import_id: Mapped[int] = mapped_column(BigId, ForeignKey("ncci_reference_import.id"))
    code: Mapped[str] = mapped_column(String(5))
    units: Mapped[int] = mapped_column(Integer)
    mai: Mapped[int] = mapped_column(SmallInteger)  # 1 line, 2 date of service policy, 3 clinical
    rationale: Mapped[str] = mapped_column(String(200))


# -- denials and appeals (0008) ------------------------------------------------------------------


class DenialItem(Base):
    """A denied or reduced 835 line (or claim, when the payer adjusted the claim as a whole), or
    a denied prior authorization: what was denied, why (CARC/RARC and our category), the amount
    at stake, the appeal deadline and the next step. `dedupe_key` makes deriving it idempotent:
    "835-line:<line posting id>", "835-claim:<claim posting id>" or "pa:<case id>"."""

    __tablename__ = "denial_item"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    source: Mapped[str] = mapped_column(String(10))  # "835" | "pa"
    claim_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("claim.id"), nullable=True, index=True
    )
    claim_posting_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("remittance_claim_posting.id"), nullable=True
    )
    line_posting_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("remittance_line_posting.id"), nullable=True
    )
    pa_case_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    payer_id: Mapped[str] = mapped_column(String(80), index=True)
    payer_name: Mapped[str] = mapped_column(String(60))
    patient_ref: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    patient_control_number: Mapped[str | None] = mapped_column(String(38), nullable=True)
    payer_claim_number: Mapped[str | None] = mapped_column(String(50), nullable=True)
    procedure: Mapped[str | None] = mapped_column(String(48), nullable=True)
    modifiers: Mapped[str] = mapped_column(String(20))  # "25,59"; "" when none
    service_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    group_code: Mapped[str] = mapped_column(String(2))  # of the reason that decides
    reason_code: Mapped[str] = mapped_column(String(5))  # CARC that decides the category
    rarcs: Mapped[str] = mapped_column(String(200))  # "N290,M127"; "" when none
    #: every CAS triplet of the line: [{"group", "reason", "amount", "quantity", "category"}]
    adjustments_json: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(30), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)  # at stake
    remit_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    deadline: Mapped[str | None] = mapped_column(String(10), nullable=True, index=True)
    #: the deadline rule id and its source, or "unknown: <why>"
    deadline_basis: Mapped[str] = mapped_column(Text)
    #: correct-resubmit | appeal | bill-patient | write-off
    next_step: Mapped[str] = mapped_column(String(20))
    next_step_reason: Mapped[str] = mapped_column(Text)
    #: where it came from, for a letter's "835 segment" sources: file, TRN, CLP, SVC, CAS
    origin: Mapped[str] = mapped_column(Text)
    #: open | appealing | resubmitted | patient-billed | written-off | closed
    status: Mapped[str] = mapped_column(String(20), index=True)
    queue: Mapped[str] = mapped_column(String(20), index=True)  # biller | coordinator | coder
    assignee: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DenialEvent(Base):
    """A denial item's audit trail: created, assigned, status changes, with who and when."""

    __tablename__ = "denial_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    denial_id: Mapped[int] = mapped_column(BigId, ForeignKey("denial_item.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # created | assigned | status | note
    detail: Mapped[str] = mapped_column(Text)  # codes and ids only, no PHI


class Appeal(Base):
    """One appeal of a denial at one level (1 first, 2 second-level after an upheld first)."""

    __tablename__ = "appeal"
    # one appeal in progress per denial (a second level opens once the first is decided)
    __table_args__ = (
        Index(
            "uq_appeal_open_denial",
            "denial_id",
            unique=True,
            sqlite_where=text("status <> 'decided'"),
            postgresql_where=text("status <> 'decided'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    denial_id: Mapped[int] = mapped_column(BigId, ForeignKey("denial_item.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    previous_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("appeal.id"), nullable=True
    )
    template_id: Mapped[str] = mapped_column(String(100))
    #: draft | signed | submitted | decided
    status: Mapped[str] = mapped_column(String(12), index=True)
    deadline: Mapped[str | None] = mapped_column(String(10), nullable=True)
    deadline_basis: Mapped[str] = mapped_column(Text)
    #: when a person opened the denial to work on it (drafting time runs from here)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    signed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)  # fhirUser
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(20), nullable=True)  # fax | portal | ...
    #: the payer's id for the appeal when it answered one (NCPDP AppealCaseID, PAS response id)
    payer_reference: Mapped[str | None] = mapped_column(String(100), nullable=True)
    #: overturned | upheld | partial
    outcome: Mapped[str | None] = mapped_column(String(12), nullable=True)
    recovered_cents: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    decided_on: Mapped[str | None] = mapped_column(String(10), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AppealVersion(Base):
    """Every version of an appeal letter, kept: who made it and whether a person or the system
    wrote it ("system" draft, "person" edit or signature, "llm" polish)."""

    __tablename__ = "appeal_version"
    __table_args__ = (UniqueConstraint("appeal_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    appeal_id: Mapped[str] = mapped_column(String(36), ForeignKey("appeal.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12))  # draft | edit | polish | sign
    origin: Mapped[str] = mapped_column(String(12))  # system | person | llm
    actor: Mapped[str] = mapped_column(String(200))
    letter_json: Mapped[str] = mapped_column(Text)
    check_json: Mapped[str | None] = mapped_column(Text, nullable=True)  # pre-sign check
    note: Mapped[str] = mapped_column(Text)  # what changed (sentence ids), no PHI
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AppealDocument(Base):
    """A rendered appeal package (PDF of the letter and its attachments) of one version."""

    __tablename__ = "appeal_document"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    appeal_id: Mapped[str] = mapped_column(String(36), ForeignKey("appeal.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # pdf
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# -- LCD billing article ICD-10 lists (0009) -----------------------------------------------------


class LcdArticleImport(Base):
    """One imported version of a CMS Billing and Coding article's ICD-10 lists (from the MCD
    download): the article's dates, the files and when; importing the same article version again
    replaces it in one transaction, other versions stay beside it."""

    __tablename__ = "lcd_article_import"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    article_id: Mapped[str] = mapped_column(String(10))  # "A57044"
    version: Mapped[int] = mapped_column(Integer)
    effective: Mapped[date | None] = mapped_column(Date, nullable=True)
    ending: Mapped[date | None] = mapped_column(Date, nullable=True)
    files: Mapped[str] = mapped_column(Text)  # file names, "|" between
    sha256: Mapped[str] = mapped_column(Text)  # of each file, "|" between, same order
    rows: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: the LCDs this article version is related to (article_related_documents.csv), "|" between
    lcds: Mapped[str] = mapped_column(Text, default="", server_default="")


class LcdArticleCode(Base):
    """One ICD-10-CM code of an imported article version: its group and covered or not."""

    __tablename__ = "lcd_article_code"
    __table_args__ = (UniqueConstraint("import_id", "code", "covered"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    import_id: Mapped[int] = mapped_column(BigId, ForeignKey("lcd_article_import.id"), index=True)
    code: Mapped[str] = mapped_column(String(8))  # "L82.1"
    code_group: Mapped[int] = mapped_column(Integer)
    covered: Mapped[bool] = mapped_column(Boolean)
