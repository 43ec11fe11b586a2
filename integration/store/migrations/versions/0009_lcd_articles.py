"""LCD billing article ICD-10 lists: imported versions of CMS Billing and Coding articles (from
the Medicare Coverage Database download) and their covered / non-covered codes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "lcd_article_import",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("article_id", sa.String(10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective", sa.Date(), nullable=True),
        sa.Column("ending", sa.Date(), nullable=True),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lcds", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lcd_article_import")),
        sa.UniqueConstraint("article_id", "version", name=op.f("uq_lcd_article_import_article_id")),
    )
    op.create_table(
        "lcd_article_code",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("import_id", BigId, nullable=False),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("code_group", sa.Integer(), nullable=False),
        sa.Column("covered", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["lcd_article_import.id"],
            name=op.f("fk_lcd_article_code_import_id_lcd_article_import"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lcd_article_code")),
        sa.UniqueConstraint(
            "import_id", "code", "covered", name=op.f("uq_lcd_article_code_import_id")
        ),
    )
    op.create_index(op.f("ix_lcd_article_code_import_id"), "lcd_article_code", ["import_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_lcd_article_code_import_id"), table_name="lcd_article_code")
    op.drop_table("lcd_article_code")
    op.drop_table("lcd_article_import")
