"""Prior-authorization submissions and reviews: the case's channel, payer reference and decision;
every message exchanged with the payer; every version of the packet the clinician edited and
signed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_CASE_COLUMNS = (
    sa.Column("kind", sa.String(20), nullable=False, server_default="initial"),
    sa.Column("reauth_of", sa.String(36), nullable=True),
    sa.Column("channel", sa.String(20), nullable=True),
    sa.Column("payer_reference", sa.String(100), nullable=True),
    sa.Column("auth_number", sa.String(50), nullable=True),
    sa.Column("approved_from", sa.String(10), nullable=True),
    sa.Column("approved_to", sa.String(10), nullable=True),
    sa.Column("approved_units", sa.String(30), nullable=True),
    sa.Column("decision_reason", sa.Text(), nullable=True),
)


def upgrade() -> None:
    for column in _CASE_COLUMNS:
        op.add_column("pa_case", column)
    op.create_index(op.f("ix_pa_case_reauth_of"), "pa_case", ["reauth_of"])
    op.create_table(
        "pa_message",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("content_type", sa.String(80), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("correlation", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["pa_case.id"], name=op.f("fk_pa_message_case_id_pa_case")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pa_message")),
    )
    op.create_index(op.f("ix_pa_message_case_id"), "pa_message", ["case_id"])
    op.create_table(
        "pa_packet_version",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("narrative", sa.Text(), nullable=False),
        sa.Column("attestations_json", sa.Text(), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signed_by", sa.String(200), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("content_sha256", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["pa_case.id"], name=op.f("fk_pa_packet_version_case_id_pa_case")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pa_packet_version")),
        sa.UniqueConstraint("case_id", "version", name=op.f("uq_pa_packet_version_case_id")),
    )
    op.create_index(op.f("ix_pa_packet_version_case_id"), "pa_packet_version", ["case_id"])


def downgrade() -> None:
    op.drop_table("pa_packet_version")
    op.drop_table("pa_message")
    op.drop_index(op.f("ix_pa_case_reauth_of"), "pa_case")
    with op.batch_alter_table("pa_case") as batch:
        for column in reversed(_CASE_COLUMNS):
            batch.drop_column(column.name)
