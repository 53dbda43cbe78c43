"""budgets and credit caps: named budgets that bound what their jobs may hold and
spend, a job's own cap and hold, and the budget each ledger entry counts against

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from proteiniq_jupyter.store.tables import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "budgets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=1000), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("owner_id", sa.String(length=40), nullable=False),
        sa.Column("notebook", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_budgets_workspace_id_workspaces")
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_budgets_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budgets")),
    )
    op.create_index(
        op.f("ix_budgets_workspace_id_name"), "budgets", ["workspace_id", "name"], unique=False
    )
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notebook_budget_credits", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("budget_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("max_credits", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reserved_credits", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_jobs_budget_id_created_at_id"),
            ["budget_id", "created_at", "id"],
            unique=False,
        )
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("budget_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("max_credits", sa.Integer(), nullable=True))
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("budget_id", sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f("ix_ledger_budget_id"), ["budget_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_budget_id"))
        batch_op.drop_column("budget_id")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_column("max_credits")
        batch_op.drop_column("budget_id")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_budget_id_created_at_id"))
        batch_op.drop_column("reserved_credits")
        batch_op.drop_column("max_credits")
        batch_op.drop_column("budget_id")
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_column("notebook_budget_credits")
    op.drop_index(op.f("ix_budgets_workspace_id_name"), table_name="budgets")
    op.drop_table("budgets")
