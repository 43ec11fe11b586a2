"""fhir_resource_version keeps the versions an update replaced; the current one is only in
fhir_resource. Rows that copy a current version are removed (the downgrade puts them back).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_COLUMNS = "resource_type, id, version_id, last_updated, content, message_id"


def upgrade() -> None:
    op.execute(
        "DELETE FROM fhir_resource_version WHERE EXISTS (SELECT 1 FROM fhir_resource AS r"
        " WHERE r.resource_type = fhir_resource_version.resource_type"
        " AND r.id = fhir_resource_version.id"
        " AND r.version_id = fhir_resource_version.version_id)"
    )


def downgrade() -> None:
    op.execute(
        f"INSERT INTO fhir_resource_version ({_COLUMNS}) SELECT {_COLUMNS} FROM fhir_resource"  # noqa: S608
        " AS r WHERE NOT EXISTS (SELECT 1 FROM fhir_resource_version AS v"
        " WHERE v.resource_type = r.resource_type AND v.id = r.id"
        " AND v.version_id = r.version_id)"
    )
