"""Denials and appeals: the denial worklist (items and their events), appeals with every letter
version and rendered document, and the FHIR Patient a claim is for.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "denial_item",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("dedupe_key", sa.String(length=120), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("claim_id", BigId, nullable=True),
        sa.Column("claim_posting_id", BigId, nullable=True),
        sa.Column("line_posting_id", BigId, nullable=True),
        sa.Column("pa_case_id", sa.String(length=36), nullable=True),
        sa.Column("payer_id", sa.String(length=80), nullable=False),
        sa.Column("payer_name", sa.String(length=60), nullable=False),
        sa.Column("patient_ref", sa.String(length=100), nullable=True),
        sa.Column("patient_control_number", sa.String(length=38), nullable=True),
        sa.Column("payer_claim_number", sa.String(length=50), nullable=True),
        sa.Column("procedure", sa.String(length=48), nullable=True),
        sa.Column("modifiers", sa.String(length=20), nullable=False),
        sa.Column("service_date", sa.String(length=10), nullable=True),
        sa.Column("group_code", sa.String(length=2), nullable=False),
        sa.Column("reason_code", sa.String(length=5), nullable=False),
        sa.Column("rarcs", sa.String(length=200), nullable=False),
        sa.Column("adjustments_json", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=30), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("remit_date", sa.String(length=10), nullable=True),
        sa.Column("deadline", sa.String(length=10), nullable=True),
        sa.Column("deadline_basis", sa.Text(), nullable=False),
        sa.Column("next_step", sa.String(length=20), nullable=False),
        sa.Column("next_step_reason", sa.Text(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("queue", sa.String(length=20), nullable=False),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], name=op.f("fk_denial_item_claim_id_claim")
        ),
        sa.ForeignKeyConstraint(
            ["claim_posting_id"],
            ["remittance_claim_posting.id"],
            name=op.f("fk_denial_item_claim_posting_id_remittance_claim_posting"),
        ),
        sa.ForeignKeyConstraint(
            ["line_posting_id"],
            ["remittance_line_posting.id"],
            name=op.f("fk_denial_item_line_posting_id_remittance_line_posting"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_denial_item")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_denial_item_dedupe_key")),
    )
    op.create_index(op.f("ix_denial_item_category"), "denial_item", ["category"], unique=False)
    op.create_index(op.f("ix_denial_item_claim_id"), "denial_item", ["claim_id"], unique=False)
    op.create_index(op.f("ix_denial_item_deadline"), "denial_item", ["deadline"], unique=False)
    op.create_index(op.f("ix_denial_item_pa_case_id"), "denial_item", ["pa_case_id"], unique=False)
    op.create_index(
        op.f("ix_denial_item_patient_ref"), "denial_item", ["patient_ref"], unique=False
    )
    op.create_index(op.f("ix_denial_item_payer_id"), "denial_item", ["payer_id"], unique=False)
    op.create_index(op.f("ix_denial_item_queue"), "denial_item", ["queue"], unique=False)
    op.create_index(op.f("ix_denial_item_status"), "denial_item", ["status"], unique=False)
    op.create_table(
        "appeal",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("denial_id", BigId, nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("previous_id", sa.String(length=36), nullable=True),
        sa.Column("template_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("deadline", sa.String(length=10), nullable=True),
        sa.Column("deadline_basis", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_by", sa.String(length=200), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.Column("payer_reference", sa.String(length=100), nullable=True),
        sa.Column("outcome", sa.String(length=12), nullable=True),
        sa.Column("recovered_cents", sa.BigInteger(), nullable=True),
        sa.Column("decided_on", sa.String(length=10), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["denial_id"], ["denial_item.id"], name=op.f("fk_appeal_denial_id_denial_item")
        ),
        sa.ForeignKeyConstraint(
            ["previous_id"], ["appeal.id"], name=op.f("fk_appeal_previous_id_appeal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeal")),
    )
    op.create_index(op.f("ix_appeal_denial_id"), "appeal", ["denial_id"], unique=False)
    op.create_index(op.f("ix_appeal_status"), "appeal", ["status"], unique=False)
    op.create_index(
        "uq_appeal_open_denial",
        "appeal",
        ["denial_id"],
        unique=True,
        sqlite_where=sa.text("status <> 'decided'"),
        postgresql_where=sa.text("status <> 'decided'"),
    )
    op.create_table(
        "denial_event",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("denial_id", BigId, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["denial_id"], ["denial_item.id"], name=op.f("fk_denial_event_denial_id_denial_item")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_denial_event")),
    )
    op.create_index(op.f("ix_denial_event_denial_id"), "denial_event", ["denial_id"], unique=False)
    op.create_table(
        "appeal_document",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("appeal_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appeal_id"], ["appeal.id"], name=op.f("fk_appeal_document_appeal_id_appeal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeal_document")),
    )
    op.create_index(
        op.f("ix_appeal_document_appeal_id"), "appeal_document", ["appeal_id"], unique=False
    )
    op.create_table(
        "appeal_version",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("appeal_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("origin", sa.String(length=12), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("letter_json", sa.Text(), nullable=False),
        sa.Column("check_json", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appeal_id"], ["appeal.id"], name=op.f("fk_appeal_version_appeal_id_appeal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeal_version")),
        sa.UniqueConstraint("appeal_id", "version", name=op.f("uq_appeal_version_appeal_id")),
    )
    op.create_index(
        op.f("ix_appeal_version_appeal_id"), "appeal_version", ["appeal_id"], unique=False
    )
    op.add_column("claim", sa.Column("patient_ref", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("claim") as batch:
        batch.drop_column("patient_ref")
    for table in ("appeal_version", "appeal_document", "denial_event", "appeal", "denial_item"):
        op.drop_table(table)
