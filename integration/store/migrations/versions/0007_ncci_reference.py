"""NCCI reference tables: imported quarters of the CMS practitioner PTP edits and MUEs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column[int]:
    return sa.Column("id", BigId, primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "ncci_reference_import",
        _id(),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("quarter", sa.String(6), nullable=False),
        sa.Column("version", sa.String(10), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ncci_reference_import")),
        sa.UniqueConstraint("kind", "quarter", name=op.f("uq_ncci_reference_import_kind")),
    )
    op.create_table(
        "ncci_ptp_edit",
        _id(),
        sa.Column("import_id", BigId, nullable=False),
        sa.Column("column1", sa.String(5), nullable=False),
        sa.Column("column2", sa.String(5), nullable=False),
        sa.Column("modifier_indicator", sa.String(1), nullable=False),
        sa.Column("effective", sa.Date(), nullable=True),
        sa.Column("deletion", sa.Date(), nullable=True),
        sa.Column("rationale", sa.String(200), nullable=False),
        sa.Column("prior_1996", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["ncci_reference_import.id"],
            name=op.f("fk_ncci_ptp_edit_import_id_ncci_reference_import"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ncci_ptp_edit")),
    )
    op.create_index(op.f("ix_ncci_ptp_edit_import_id"), "ncci_ptp_edit", ["import_id"])
    op.create_table(
        "ncci_mue",
        _id(),
        sa.Column("import_id", BigId, nullable=False),
        sa.Column("code", sa.String(5), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("mai", sa.SmallInteger(), nullable=False),
        sa.Column("rationale", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["ncci_reference_import.id"],
            name=op.f("fk_ncci_mue_import_id_ncci_reference_import"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ncci_mue")),
        sa.UniqueConstraint("import_id", "code", name=op.f("uq_ncci_mue_import_id")),
    )


def downgrade() -> None:
    for table in ("ncci_mue", "ncci_ptp_edit", "ncci_reference_import"):
        op.drop_table(table)
