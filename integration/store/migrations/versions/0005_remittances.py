"""Claims we submitted and 835 remittances posted against them: the raw file, the payment (TRN
trace number + payer id unique), claim and line postings, adjustments, PLB adjustments and the
work items queued for a person.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column[int]:
    return sa.Column("id", BigId, primary_key=True, autoincrement=True)


def _fk(column: str, table: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "claim",
        _id(),
        sa.Column("patient_control_number", sa.String(38), nullable=False),
        sa.Column("payer_id", sa.String(80), nullable=False),
        sa.Column("payer_claim_number", sa.String(50), nullable=True),
        sa.Column("total_charge_cents", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim")),
        sa.UniqueConstraint("patient_control_number", name=op.f("uq_claim_patient_control_number")),
    )
    op.create_index(op.f("ix_claim_payer_id"), "claim", ["payer_id"])
    op.create_index(op.f("ix_claim_payer_claim_number"), "claim", ["payer_claim_number"])
    op.create_table(
        "claim_line",
        _id(),
        sa.Column("claim_id", BigId, nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("procedure", sa.String(48), nullable=False),
        sa.Column("modifiers", sa.String(20), nullable=False),
        sa.Column("service_date", sa.String(10), nullable=False),
        sa.Column("charge_cents", sa.BigInteger(), nullable=False),
        sa.Column("units", sa.String(20), nullable=False),
        _fk("claim_id", "claim_line", "claim"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_line")),
        sa.UniqueConstraint("claim_id", "line_number", name=op.f("uq_claim_line_claim_id")),
    )
    op.create_index(op.f("ix_claim_line_claim_id"), "claim_line", ["claim_id"])
    op.create_table(
        "remittance_file",
        _id(),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remittance_file")),
    )
    for column in ("received_at", "sha256", "status"):
        op.create_index(op.f(f"ix_remittance_file_{column}"), "remittance_file", [column])
    op.create_table(
        "remittance_payment",
        _id(),
        sa.Column("file_id", BigId, nullable=False),
        sa.Column("trace_number", sa.String(50), nullable=False),
        sa.Column("payer_id", sa.String(50), nullable=False),
        sa.Column("payer_name", sa.String(60), nullable=False),
        sa.Column("payee_id", sa.String(80), nullable=False),
        sa.Column("transaction_control_number", sa.String(9), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("credit_debit", sa.String(1), nullable=False),
        sa.Column("method", sa.String(3), nullable=False),
        sa.Column("payment_date", sa.String(10), nullable=True),
        sa.Column("production_date", sa.String(10), nullable=True),
        sa.Column("provider_adjustment_cents", sa.BigInteger(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        _fk("file_id", "remittance_payment", "remittance_file"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remittance_payment")),
        sa.UniqueConstraint(
            "trace_number", "payer_id", name=op.f("uq_remittance_payment_trace_number")
        ),
    )
    op.create_index(op.f("ix_remittance_payment_file_id"), "remittance_payment", ["file_id"])
    op.create_table(
        "remittance_claim_posting",
        _id(),
        sa.Column("payment_id", BigId, nullable=False),
        sa.Column("claim_id", BigId, nullable=True),
        sa.Column("patient_control_number", sa.String(38), nullable=False),
        sa.Column("payer_claim_number", sa.String(50), nullable=False),
        sa.Column("status_code", sa.String(2), nullable=False),
        sa.Column("charge_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid_cents", sa.BigInteger(), nullable=False),
        sa.Column("patient_responsibility_cents", sa.BigInteger(), nullable=False),
        sa.Column("reverses_id", BigId, nullable=True),
        sa.Column("reversed", sa.Boolean(), nullable=False),
        _fk("payment_id", "remittance_claim_posting", "remittance_payment"),
        _fk("claim_id", "remittance_claim_posting", "claim"),
        _fk("reverses_id", "remittance_claim_posting", "remittance_claim_posting"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remittance_claim_posting")),
    )
    for column in ("payment_id", "claim_id", "patient_control_number"):
        op.create_index(
            op.f(f"ix_remittance_claim_posting_{column}"), "remittance_claim_posting", [column]
        )
    op.create_table(
        "remittance_line_posting",
        _id(),
        sa.Column("claim_posting_id", BigId, nullable=False),
        sa.Column("claim_line_id", BigId, nullable=True),
        sa.Column("procedure", sa.String(48), nullable=False),
        sa.Column("modifiers", sa.String(20), nullable=False),
        sa.Column("service_date", sa.String(10), nullable=True),
        sa.Column("charge_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid_cents", sa.BigInteger(), nullable=False),
        sa.Column("units", sa.String(20), nullable=False),
        sa.Column("dropped_modifiers", sa.String(20), nullable=False),
        _fk("claim_posting_id", "remittance_line_posting", "remittance_claim_posting"),
        _fk("claim_line_id", "remittance_line_posting", "claim_line"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remittance_line_posting")),
    )
    for column in ("claim_posting_id", "claim_line_id"):
        op.create_index(
            op.f(f"ix_remittance_line_posting_{column}"), "remittance_line_posting", [column]
        )
    op.create_table(
        "remittance_adjustment",
        _id(),
        sa.Column("claim_posting_id", BigId, nullable=False),
        sa.Column("line_posting_id", BigId, nullable=True),
        sa.Column("group_code", sa.String(2), nullable=False),
        sa.Column("reason_code", sa.String(5), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.String(20), nullable=True),
        sa.Column("category", sa.String(30), nullable=True),
        _fk("claim_posting_id", "remittance_adjustment", "remittance_claim_posting"),
        _fk("line_posting_id", "remittance_adjustment", "remittance_line_posting"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remittance_adjustment")),
    )
    op.create_index(
        op.f("ix_remittance_adjustment_claim_posting_id"),
        "remittance_adjustment",
        ["claim_posting_id"],
    )
    op.create_table(
        "remittance_provider_adjustment",
        _id(),
        sa.Column("payment_id", BigId, nullable=False),
        sa.Column("provider_id", sa.String(50), nullable=False),
        sa.Column("fiscal_period_date", sa.String(10), nullable=True),
        sa.Column("reason_code", sa.String(2), nullable=False),
        sa.Column("reference", sa.String(50), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        _fk("payment_id", "remittance_provider_adjustment", "remittance_payment"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remittance_provider_adjustment")),
    )
    op.create_index(
        op.f("ix_remittance_provider_adjustment_payment_id"),
        "remittance_provider_adjustment",
        ["payment_id"],
    )
    op.create_table(
        "remittance_work_item",
        _id(),
        sa.Column("payment_id", BigId, nullable=False),
        sa.Column("claim_posting_id", BigId, nullable=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk("payment_id", "remittance_work_item", "remittance_payment"),
        _fk("claim_posting_id", "remittance_work_item", "remittance_claim_posting"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remittance_work_item")),
    )
    for column in ("payment_id", "kind", "status"):
        op.create_index(op.f(f"ix_remittance_work_item_{column}"), "remittance_work_item", [column])


def downgrade() -> None:
    for table in (
        "remittance_work_item",
        "remittance_provider_adjustment",
        "remittance_adjustment",
        "remittance_line_posting",
        "remittance_claim_posting",
        "remittance_payment",
        "remittance_file",
        "claim_line",
        "claim",
    ):
        op.drop_table(table)
