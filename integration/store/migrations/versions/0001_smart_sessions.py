"""SMART launch state and launched sessions.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smart_launch",
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("iss", sa.String(500), nullable=False),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("token_endpoint", sa.String(500), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("redirect_uri", sa.String(500), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("launch_kind", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state", name="pk_smart_launch"),
    )
    op.create_index("ix_smart_launch_created_at", "smart_launch", ["created_at"])
    op.create_table(
        "smart_session",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("iss", sa.String(500), nullable=False),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("token_endpoint", sa.String(500), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.String(200), nullable=True),
        sa.Column("encounter_id", sa.String(200), nullable=True),
        sa.Column("need_patient_banner", sa.Boolean(), nullable=False),
        sa.Column("fhir_user", sa.String(500), nullable=True),
        sa.Column("launch_kind", sa.String(20), nullable=False),
        sa.Column("refresh_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_smart_session"),
    )
    op.create_index("ix_smart_session_ends_at", "smart_session", ["ends_at"])


def downgrade() -> None:
    op.drop_index("ix_smart_session_ends_at", table_name="smart_session")
    op.drop_table("smart_session")
    op.drop_index("ix_smart_launch_created_at", table_name="smart_launch")
    op.drop_table("smart_launch")
