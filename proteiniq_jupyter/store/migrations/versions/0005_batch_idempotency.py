"""batch idempotency: a batch keeps the key and request fingerprint it was made with

Revision ID: 0005
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


def upgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("request_hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_batches_workspace_id_idempotency_key"),
            ["workspace_id", "idempotency_key"],
        )


def downgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_batches_workspace_id_idempotency_key"), type_="unique"
        )
        batch_op.drop_column("request_hash")
        batch_op.drop_column("idempotency_key")
