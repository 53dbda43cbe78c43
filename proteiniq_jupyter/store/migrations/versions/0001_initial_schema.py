"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from proteiniq_jupyter.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_job_events")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("job_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_job_events_job_id_seq"), ["job_id", "seq"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_job_events_workspace_id_seq"), ["workspace_id", "seq"], unique=False
        )

    op.create_table(
        "users",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "workspaces",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("plan", sa.String(length=40), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
    )
    op.create_table(
        "batches",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("submitter_id", sa.String(length=40), nullable=False),
        sa.Column("tool", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("reserved_credits", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submitter_id"], ["users.id"], name=op.f("fk_batches_submitter_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_batches_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_batches_workspace_id_created_at_id"),
            ["workspace_id", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "ledger",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=True),
        sa.Column("batch_id", sa.String(length=40), nullable=True),
        sa.Column("actor_id", sa.String(length=40), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_ledger_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger")),
        sa.UniqueConstraint("key", name=op.f("uq_ledger_key")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_job_id"), ["job_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ledger_workspace_id_id"), ["workspace_id", "id"], unique=False
        )

    op.create_table(
        "members",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_members_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_members_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "user_id", name=op.f("pk_members")),
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_members_user_id"), ["user_id"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("submitter_id", sa.String(length=40), nullable=False),
        sa.Column("batch_id", sa.String(length=40), nullable=True),
        sa.Column("origin_job_id", sa.String(length=40), nullable=True),
        sa.Column("tool", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("visibility", sa.String(length=20), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("progress_message", sa.Text(), nullable=True),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("estimated_credits", sa.Integer(), nullable=False),
        sa.Column("credits_charged", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_jobs_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(
            ["submitter_id"], ["users.id"], name=op.f("fk_jobs_submitter_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_jobs_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint(
            "workspace_id", "idempotency_key", name=op.f("uq_jobs_workspace_id_idempotency_key")
        ),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_jobs_batch",
            ["batch_id", "created_at", "id"],
            unique=False,
            sqlite_where=sa.text("batch_id IS NOT NULL"),
            postgresql_where=sa.text("batch_id IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_jobs_status", ["workspace_id", "status", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_jobs_submitter", ["workspace_id", "submitter_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_jobs_team",
            ["workspace_id", "created_at", "id"],
            unique=False,
            sqlite_where=sa.text("batch_id IS NULL"),
            postgresql_where=sa.text("batch_id IS NULL"),
        )
        batch_op.create_index(
            "ix_jobs_tool",
            ["workspace_id", "tool", "created_at", "id"],
            unique=False,
            sqlite_where=sa.text("batch_id IS NULL"),
            postgresql_where=sa.text("batch_id IS NULL"),
        )

    op.create_table(
        "job_invites",
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_invites_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "email", name=op.f("pk_job_invites")),
    )
    with op.batch_alter_table("job_invites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_invites_email"), ["email"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job_invites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_invites_email"))

    op.drop_table("job_invites")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_jobs_tool",
            sqlite_where=sa.text("batch_id IS NULL"),
            postgresql_where=sa.text("batch_id IS NULL"),
        )
        batch_op.drop_index(
            "ix_jobs_team",
            sqlite_where=sa.text("batch_id IS NULL"),
            postgresql_where=sa.text("batch_id IS NULL"),
        )
        batch_op.drop_index("ix_jobs_submitter")
        batch_op.drop_index("ix_jobs_status")
        batch_op.drop_index(
            "ix_jobs_batch",
            sqlite_where=sa.text("batch_id IS NOT NULL"),
            postgresql_where=sa.text("batch_id IS NOT NULL"),
        )

    op.drop_table("jobs")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_members_user_id"))

    op.drop_table("members")
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_workspace_id_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_job_id"))

    op.drop_table("ledger")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batches_workspace_id_created_at_id"))

    op.drop_table("batches")
    op.drop_table("workspaces")
    op.drop_table("users")
    with op.batch_alter_table("job_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_events_workspace_id_seq"))
        batch_op.drop_index(batch_op.f("ix_job_events_job_id_seq"))

    op.drop_table("job_events")
