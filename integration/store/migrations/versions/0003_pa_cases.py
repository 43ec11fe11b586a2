"""Prior-authorization cases, their audit trail and tasks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "pa_case",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("order_ref", sa.String(200), nullable=False),
        sa.Column("order_json", sa.Text(), nullable=False),
        sa.Column("payer_id", sa.String(64), nullable=True),
        sa.Column("rule_id", sa.String(100), nullable=True),
        sa.Column("rule_version", sa.Integer(), nullable=True),
        sa.Column("service_date", sa.String(10), nullable=False),
        sa.Column("state", sa.String(30), nullable=False),
        sa.Column("evidence_json", sa.Text(), nullable=False),
        sa.Column("assessment_json", sa.Text(), nullable=False),
        sa.Column("context_json", sa.Text(), nullable=False),
        sa.Column("flag", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pa_case")),
    )
    op.create_index(op.f("ix_pa_case_patient_id"), "pa_case", ["patient_id"])
    op.create_index(op.f("ix_pa_case_rule_id"), "pa_case", ["rule_id"])
    op.create_index(op.f("ix_pa_case_state"), "pa_case", ["state"])
    op.create_table(
        "pa_case_event",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("from_state", sa.String(30), nullable=True),
        sa.Column("to_state", sa.String(30), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail_json", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["pa_case.id"], name=op.f("fk_pa_case_event_case_id_pa_case")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pa_case_event")),
    )
    op.create_index(op.f("ix_pa_case_event_case_id"), "pa_case_event", ["case_id"])
    op.create_table(
        "pa_task",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("criterion_id", sa.String(100), nullable=True),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("owner_role", sa.String(30), nullable=False),
        sa.Column("due", sa.String(10), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["pa_case.id"], name=op.f("fk_pa_task_case_id_pa_case")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pa_task")),
    )
    op.create_index(op.f("ix_pa_task_case_id"), "pa_task", ["case_id"])
    op.create_index(op.f("ix_pa_task_owner_role"), "pa_task", ["owner_role"])


def downgrade() -> None:
    op.drop_table("pa_task")
    op.drop_table("pa_case_event")
    op.drop_table("pa_case")
