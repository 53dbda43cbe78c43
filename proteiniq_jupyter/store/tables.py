"""The relational schema. Alembic migrations create it; these Table objects are what
queries are written against."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ByteOrder(ColumnElement[str]):
    """A text column compared in code point order on every backend: SQLite's
    default; on PostgreSQL the "C" collation, whatever the database's locale. The
    history's sort indexes and the queries that walk them use it alike."""

    inherit_cache = True
    _traverse_internals = (("column", InternalTraversal.dp_clauseelement),)  # type: ignore[assignment]

    def __init__(self, column: ColumnElement[str]) -> None:
        self.column = column
        self.type = column.type


@compiles(ByteOrder)
def _byte_order(element: ByteOrder, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))


#: How PostgreSQL is told to compare text in code point order.
BYTE_ORDER_COLLATION = 'COLLATE "C"'


@compiles(ByteOrder, "postgresql")
def _byte_order_postgres(element: ByteOrder, compiler: Any, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} {BYTE_ORDER_COLLATION}"


# An integer primary key that is 64-bit on PostgreSQL and SQLite's ROWID alias.
Seq = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(40)

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("plan", String(40), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    #: The budget each notebook gets when it has none of its own; None: no budget.
    Column("notebook_budget_credits", BigInteger),
)

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("username", String(200), nullable=False, unique=True),
    Column("email", String(320), unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

members = Table(
    "members",
    metadata,
    Column("workspace_id", ID, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index(None, "user_id"),
)

batches = Table(
    "batches",
    metadata,
    Column("id", ID, primary_key=True),
    Column("workspace_id", ID, ForeignKey("workspaces.id"), nullable=False),
    Column("submitter_id", ID, ForeignKey("users.id"), nullable=False),
    Column("tool", String(100), nullable=False),
    Column("name", String(300), nullable=False),
    Column("reserved_credits", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("idempotency_key", String(255)),
    Column("request_hash", String(64)),
    Column("budget_id", ID),
    Column("max_credits", Integer),
    UniqueConstraint("workspace_id", "idempotency_key"),
    Index(None, "workspace_id", "created_at", "id"),
)

_TOP_LEVEL = text("batch_id IS NULL")
_IN_BATCH = text("batch_id IS NOT NULL")

jobs = Table(
    "jobs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("workspace_id", ID, ForeignKey("workspaces.id"), nullable=False),
    Column("submitter_id", ID, ForeignKey("users.id"), nullable=False),
    Column("batch_id", ID, ForeignKey("batches.id")),
    Column("origin_job_id", ID),
    Column("tool", String(100), nullable=False),
    Column("name", String(300), nullable=False),
    Column("status", String(20), nullable=False),
    Column("visibility", String(20), nullable=False),
    Column("inputs", JSON, nullable=False),
    Column("settings", JSON, nullable=False),
    Column("result", JSON),
    Column("progress", Float, nullable=False),
    Column("progress_message", Text),
    Column("progress_estimated", Boolean, nullable=False, server_default=false()),
    Column("progress_eta_at", UTCDateTime()),
    Column("status_reason", Text),
    Column("error", Text),
    Column("estimated_credits", Integer, nullable=False),
    Column("credits_charged", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("idempotency_key", String(255)),
    Column("request_hash", String(64)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    Column("lease_owner", String(200)),
    Column("lease_expires_at", UTCDateTime()),
    # What produced the result (``jobs.provenance.record``'s form).
    Column("provenance", JSON),
    Column("budget_id", ID),
    #: The most the job may be charged; None: no cap of its own.
    Column("max_credits", Integer),
    #: What the job held at submit when it is more than its estimate (a tool billed
    #: by use holds its cap); None: it held its estimate.
    Column("reserved_credits", Integer),
    # What the history sorts by where a row holds it only in parts (``jobs.sorting``):
    # the submitter's user name (user names never change), the credits the row shows,
    # and the seconds from start to finish (None until the job has finished running).
    Column("submitter_name", String(200), nullable=False, server_default=""),
    Column("credits_shown", Integer, nullable=False, server_default=text("0")),
    Column("duration_s", Float),
    UniqueConstraint("workspace_id", "idempotency_key"),
    # Team history and per-tool history leave batch children out: partial indexes
    # hold exactly the rows those pages read.
    Index(
        "ix_jobs_team",
        "workspace_id",
        "created_at",
        "id",
        sqlite_where=_TOP_LEVEL,
        postgresql_where=_TOP_LEVEL,
    ),
    Index(
        "ix_jobs_tool",
        "workspace_id",
        "tool",
        "created_at",
        "id",
        sqlite_where=_TOP_LEVEL,
        postgresql_where=_TOP_LEVEL,
    ),
    Index("ix_jobs_status", "workspace_id", "status", "created_at", "id"),
    Index("ix_jobs_submitter", "workspace_id", "submitter_id", "created_at", "id"),
    # A batch's children, in order. Only children are in it: with top-level jobs in it
    # too, SQLite read "batch_id IS NULL" as the most selective index of every history
    # page (its statistics count NULL as one value among thousands of batch ids) and
    # walked the whole history to reach a deep page.
    Index(
        "ix_jobs_batch",
        "batch_id",
        "created_at",
        "id",
        sqlite_where=_IN_BATCH,
        postgresql_where=_IN_BATCH,
    ),
    # Recovery scans live jobs by lease; finished jobs are most rows and never match.
    Index("ix_jobs_live", "status", "lease_expires_at"),
    Index(None, "budget_id", "created_at", "id"),
)


def _sort_index(name: str, column: str, *, text_: bool = False) -> Index:
    """The team history in one sort order (``jobs.sorting``): (value, id) per
    workspace; text in the order ``ByteOrder`` compares it in."""
    return Index(
        f"ix_jobs_by_{name}",
        jobs.c.workspace_id,
        jobs.c[column],
        jobs.c.id,
        sqlite_where=_TOP_LEVEL,
        postgresql_where=_TOP_LEVEL,
        postgresql_ops={column: BYTE_ORDER_COLLATION} if text_ else {},
    )


#: The index of each sort order but the default (``ix_jobs_team``), by sort column.
SORT_INDEXES = {
    "name": _sort_index("name", "name", text_=True),
    "status": _sort_index("status", "status", text_=True),
    "tool": _sort_index("tool", "tool", text_=True),
    "submitter": _sort_index("submitter", "submitter_name", text_=True),
    "credits": _sort_index("credits", "credits_shown"),
    "duration_s": _sort_index("duration", "duration_s"),
}

job_events = Table(
    "job_events",
    metadata,
    # Store-wide, strictly increasing: the id of a live event.
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("job_id", ID, nullable=False),
    Column("workspace_id", ID, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("data", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index(None, "job_id", "seq"),
    Index(None, "workspace_id", "seq"),
    sqlite_autoincrement=True,
)

job_invites = Table(
    "job_invites",
    metadata,
    Column("job_id", ID, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("email", String(320), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Index(None, "email"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("workspace_id", ID, ForeignKey("workspaces.id"), nullable=False),
    Column("kind", String(20), nullable=False),
    # Signed change to the available balance: grant +, reserve -, release +,
    # charge -, refund +. Available credits are the sum.
    Column("delta", Integer, nullable=False),
    Column("key", String(200), nullable=False, unique=True),
    Column("job_id", ID),
    Column("batch_id", ID),
    Column("actor_id", ID),
    Column("note", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    #: The budget the entry counts against: what a budget has used is the sum of
    #: its entries' deltas, negated.
    Column("budget_id", ID),
    Index(None, "workspace_id", "id"),
    Index(None, "job_id"),
    Index(None, "budget_id"),
    sqlite_autoincrement=True,
)

budgets = Table(
    "budgets",
    metadata,
    Column("id", ID, primary_key=True),
    Column("workspace_id", ID, ForeignKey("workspaces.id"), nullable=False),
    # A notebook's budget is named by the notebook's path.
    Column("name", String(1000), nullable=False),
    Column("credits", BigInteger, nullable=False),
    Column("owner_id", ID, ForeignKey("users.id"), nullable=False),
    Column("notebook", Boolean, nullable=False, server_default=false()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime()),
    Index(None, "workspace_id", "name"),
)

files = Table(
    "files",
    metadata,
    Column("id", ID, primary_key=True),
    Column("workspace_id", ID, ForeignKey("workspaces.id"), nullable=False),
    Column("owner_id", ID, ForeignKey("users.id"), nullable=False),
    # Set for a job's output; an upload belongs to no job.
    Column("job_id", ID),
    Column("name", String(300), nullable=False),
    Column("format", String(40), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("origin", String(20), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index(None, "workspace_id", "created_at", "id"),
    Index(None, "job_id"),
)
