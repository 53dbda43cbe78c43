"""history sorts: what a row is sorted by where it holds it only in parts (the
submitter's user name, the credits shown, the duration), filled in for the jobs
there are, and an index per sort order so any page of any order is one range

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: Index name, its sort column, and whether it is text (compared in code point order).
_INDEXES = (
    ("name", "name", True),
    ("status", "status", True),
    ("tool", "tool", True),
    ("submitter", "submitter_name", True),
    ("credits", "credits_shown", False),
    ("duration", "duration_s", False),
)

#: Seconds since the epoch of a stored SQLite moment ("YYYY-MM-DD HH:MM:SS.ffffff", UTC),
#: to the microsecond (julianday's days lose some).
_SQLITE_SECONDS = "(CAST(strftime('%s', {0}) AS REAL) + CAST(substr({0}, 21) AS REAL) / 1e6)"
_DURATION = {
    "sqlite": (
        f"MAX(0, {_SQLITE_SECONDS.format('finished_at')} - {_SQLITE_SECONDS.format('started_at')})"
    ),
    "postgresql": "GREATEST(0, EXTRACT(EPOCH FROM finished_at - started_at))",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    text_column = sa.Column("submitter_name", sa.String(200), nullable=False, server_default="")
    op.add_column("jobs", text_column)
    zero = sa.text("0")
    op.add_column(
        "jobs", sa.Column("credits_shown", sa.Integer(), nullable=False, server_default=zero)
    )
    op.add_column("jobs", sa.Column("duration_s", sa.Float(), nullable=True))
    op.execute(
        "UPDATE jobs SET"
        " submitter_name = COALESCE("
        "(SELECT users.username FROM users WHERE users.id = jobs.submitter_id), ''),"
        " credits_shown = CASE WHEN credits_charged <> 0 THEN credits_charged"
        " ELSE estimated_credits END,"
        f" duration_s = CASE WHEN started_at IS NULL OR finished_at IS NULL THEN NULL"
        f" ELSE {_DURATION[dialect]} END"
    )
    for name, column, is_text in _INDEXES:
        op.create_index(
            f"ix_jobs_by_{name}",
            "jobs",
            ["workspace_id", column, "id"],
            unique=False,
            sqlite_where=sa.text("batch_id IS NULL"),
            postgresql_where=sa.text("batch_id IS NULL"),
            # text in code point order whatever the database's locale
            postgresql_ops={column: 'COLLATE "C"'} if is_text else {},
        )


def downgrade() -> None:
    for name, _, _ in _INDEXES:
        op.drop_index(f"ix_jobs_by_{name}", table_name="jobs")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("duration_s")
        batch_op.drop_column("credits_shown")
        batch_op.drop_column("submitter_name")
