"""Claim submission: durable X12 control numbers, the 837P files we send (stored before they are
sent), each claim's clearinghouse outcome (999, 277CA) and the inbound clearinghouse files.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column[int]:
    return sa.Column("id", BigId, primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "x12_control_number",
        sa.Column("sender_id", sa.String(15), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("last_value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sender_id", "kind", name=op.f("pk_x12_control_number")),
    )
    op.create_table(
        "claim_file",
        _id(),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("interchange_control_number", sa.String(9), nullable=False),
        sa.Column("group_control_number", sa.String(9), nullable=False),
        sa.Column("transaction_control_number", sa.String(9), nullable=False),
        sa.Column("claims", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("clearinghouse_id", sa.String(80), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_file")),
        sa.UniqueConstraint("sha256", name=op.f("uq_claim_file_sha256")),
    )
    op.create_index(
        op.f("ix_claim_file_group_control_number"), "claim_file", ["group_control_number"]
    )
    op.create_index(op.f("ix_claim_file_status"), "claim_file", ["status"])
    op.create_table(
        "claim_submission",
        _id(),
        sa.Column("claim_id", BigId, nullable=False),
        sa.Column("claim_file_id", BigId, nullable=False),
        sa.Column("ack_status", sa.String(10), nullable=False),
        sa.Column("clearinghouse_status", sa.String(10), nullable=False),
        sa.Column("status_codes", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], name=op.f("fk_claim_submission_claim_id_claim")
        ),
        sa.ForeignKeyConstraint(
            ["claim_file_id"],
            ["claim_file.id"],
            name=op.f("fk_claim_submission_claim_file_id_claim_file"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_submission")),
        sa.UniqueConstraint("claim_id", name=op.f("uq_claim_submission_claim_id")),
    )
    op.create_index(
        op.f("ix_claim_submission_claim_file_id"), "claim_submission", ["claim_file_id"]
    )
    op.create_table(
        "clearinghouse_inbound",
        _id(),
        sa.Column("clearinghouse_id", sa.String(80), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("transaction_set", sa.String(3), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clearinghouse_inbound")),
        sa.UniqueConstraint(
            "clearinghouse_id", name=op.f("uq_clearinghouse_inbound_clearinghouse_id")
        ),
        sa.UniqueConstraint("sha256", name=op.f("uq_clearinghouse_inbound_sha256")),
    )
    op.create_index(op.f("ix_clearinghouse_inbound_status"), "clearinghouse_inbound", ["status"])


def downgrade() -> None:
    for table in ("clearinghouse_inbound", "claim_submission", "claim_file", "x12_control_number"):
        op.drop_table(table)
