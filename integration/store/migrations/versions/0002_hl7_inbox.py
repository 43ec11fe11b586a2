"""HL7 v2 inbox, exactly-once keys and the FHIR resources the feeds write.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "hl7_message",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("peer", sa.String(100), nullable=False),
        sa.Column("sender", sa.String(455), nullable=False),
        sa.Column("control_id", sa.String(199), nullable=False),
        sa.Column("message_type", sa.String(20), nullable=False),
        sa.Column("version", sa.String(10), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("charset", sa.String(30), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("ack_code", sa.String(2), nullable=True),
        sa.Column("error_code", sa.String(3), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hl7_message")),
    )
    op.create_index(op.f("ix_hl7_message_received_at"), "hl7_message", ["received_at"])
    op.create_index(op.f("ix_hl7_message_status"), "hl7_message", ["status"])
    op.create_index("ix_hl7_message_sender_control", "hl7_message", ["sender", "control_id"])
    op.create_table(
        "hl7_applied",
        sa.Column("sender", sa.String(455), nullable=False),
        sa.Column("control_id", sa.String(199), nullable=False),
        sa.Column("message_id", BigId, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["hl7_message.id"], name=op.f("fk_hl7_applied_message_id_hl7_message")
        ),
        sa.PrimaryKeyConstraint("sender", "control_id", name=op.f("pk_hl7_applied")),
    )
    op.create_table(
        "fhir_resource",
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("message_id", BigId, nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"], ["hl7_message.id"], name=op.f("fk_fhir_resource_message_id_hl7_message")
        ),
        sa.PrimaryKeyConstraint("resource_type", "id", name=op.f("pk_fhir_resource")),
    )
    op.create_index(op.f("ix_fhir_resource_patient_id"), "fhir_resource", ["patient_id"])
    op.create_table(
        "fhir_resource_version",
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("message_id", BigId, nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["hl7_message.id"],
            name=op.f("fk_fhir_resource_version_message_id_hl7_message"),
        ),
        sa.PrimaryKeyConstraint(
            "resource_type", "id", "version_id", name=op.f("pk_fhir_resource_version")
        ),
    )


def downgrade() -> None:
    op.drop_table("fhir_resource_version")
    op.drop_index(op.f("ix_fhir_resource_patient_id"), table_name="fhir_resource")
    op.drop_table("fhir_resource")
    op.drop_table("hl7_applied")
    op.drop_index("ix_hl7_message_sender_control", table_name="hl7_message")
    op.drop_index(op.f("ix_hl7_message_status"), table_name="hl7_message")
    op.drop_index(op.f("ix_hl7_message_received_at"), table_name="hl7_message")
    op.drop_table("hl7_message")
