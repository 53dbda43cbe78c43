"""The SQLAlchemy implementation of the store protocols (``jobs.ports``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import DataError, IntegrityError, StatementError

from ..jobs.errors import DuplicateRecord, LeaseLost, ValidationError
from ..jobs.model import Job
from ..jobs.ports import ClaimScope, JobFilter
from ..jobs.sorting import DEFAULT_SORT, JobSort, SortColumn, SortValue
from ..jobs.status import JobStatus
from . import tables as t
from .budget_rows import BudgetRows
from .database import create_db_engine, migrate
from .event_rows import EventRows
from .file_rows import FileRows
from .job_files import DirectoryJobFiles as DirectoryJobFiles
from .job_rows import LIST_COLUMNS, MUTABLE, in_scope, job_from_row, job_values
from .keyset import name_contains, past
from .ledger_rows import LedgerRows
from .people_rows import PeopleRows

# The statements of a job's life (written several times per job, by every runner)
# are built once and executed with parameters: building ``.values(...)`` anew for
# each write cost more CPU than SQLite spends running it.
# The submitter's user name is read from the users table as the row goes in.
_INSERT_JOB = insert(t.jobs).values(
    submitter_name=select(t.users.c.username)
    .where(t.users.c.id == bindparam("submitter_id_"))
    .scalar_subquery()
)
_UPDATE_JOB = sql_update(t.jobs).where(t.jobs.c.id == bindparam("job_id_"))
_UPDATE_HELD_JOB = _UPDATE_JOB.where(t.jobs.c.lease_owner == bindparam("held_by_"))
_GET_JOB = select(t.jobs).where(t.jobs.c.id == bindparam("job_id_"))
_GET_JOB_FOR_UPDATE = _GET_JOB.with_for_update()
# Everything but the inputs: what a write of the job's state alone (progress) reads.
_GET_JOB_STATE = select(*(c for c in t.jobs.c if c.name != "inputs")).where(
    t.jobs.c.id == bindparam("job_id_")
)
_GET_JOB_STATE_FOR_UPDATE = _GET_JOB_STATE.with_for_update()
_JOB_STATE = select(t.jobs.c.status, t.jobs.c.lease_owner).where(
    t.jobs.c.id == bindparam("job_id_")
)
_UNHELD_JOBS = (
    select(t.jobs)
    .where(
        t.jobs.c.status.in_(bindparam("statuses_", expanding=True)),
        or_(t.jobs.c.lease_expires_at.is_(None), t.jobs.c.lease_expires_at < bindparam("now_")),
    )
    .order_by(t.jobs.c.created_at, t.jobs.c.id)
    .limit(bindparam("limit_"))
)
_UNHELD_JOBS_SKIP_LOCKED = _UNHELD_JOBS.with_for_update(skip_locked=True)


class SqlTransaction(PeopleRows, EventRows, LedgerRows, FileRows, BudgetRows):
    """A ``jobs.ports.StoreTransaction`` over one SQLAlchemy connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._postgres = conn.dialect.name == "postgresql"

    # -- jobs ---------------------------------------------------------------

    def insert_job(self, job: Job, idempotency_key: str | None, request_hash: str | None) -> None:
        self.conn.execute(
            _INSERT_JOB,
            {
                **job_values(job),
                "submitter_id_": job.submitter_id,
                "idempotency_key": idempotency_key,
                "request_hash": request_hash,
            },
        )

    def get_job(self, job_id: str, *, for_update: bool = False, inputs: bool = True) -> Job | None:
        lock = for_update and self._postgres
        if inputs:
            query = _GET_JOB_FOR_UPDATE if lock else _GET_JOB
        else:
            query = _GET_JOB_STATE_FOR_UPDATE if lock else _GET_JOB_STATE
        row = self.conn.execute(query, {"job_id_": job_id}).mappings().first()
        return None if row is None else job_from_row(row)

    def job_state(self, job_id: str) -> tuple[JobStatus, str | None] | None:
        row = self.conn.execute(_JOB_STATE, {"job_id_": job_id}).first()
        return None if row is None else (JobStatus(row.status), row.lease_owner)

    def jobs_by_id(self, job_ids: Sequence[str]) -> list[Job]:
        if not job_ids:
            return []
        query = select(*LIST_COLUMNS).where(t.jobs.c.id.in_(list(job_ids)))
        return [job_from_row(row) for row in self.conn.execute(query).mappings().all()]

    def find_idempotent(self, workspace_id: str, key: str) -> tuple[Job, str | None] | None:
        row = (
            self.conn.execute(
                select(t.jobs).where(
                    t.jobs.c.workspace_id == workspace_id, t.jobs.c.idempotency_key == key
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else (job_from_row(row), row["request_hash"])

    def update_job(self, job: Job, *, held_by: str | None = None) -> None:
        values = {k: v for k, v in job_values(job).items() if k in MUTABLE}
        if held_by is None:
            self.conn.execute(_UPDATE_JOB, {**values, "job_id_": job.id})
            return
        written = self.conn.execute(
            _UPDATE_HELD_JOB, {**values, "job_id_": job.id, "held_by_": held_by}
        )
        if written.rowcount != 1:
            raise LeaseLost(
                f"job {job.id} is no longer held by {held_by}", details={"job_id": job.id}
            )

    def delete_job(self, job_id: str) -> None:
        self.conn.execute(delete(t.files).where(t.files.c.job_id == job_id))
        self.conn.execute(delete(t.job_invites).where(t.job_invites.c.job_id == job_id))
        self.conn.execute(delete(t.job_events).where(t.job_events.c.job_id == job_id))
        self.conn.execute(delete(t.jobs).where(t.jobs.c.id == job_id))

    def list_jobs(
        self,
        workspace_id: str,
        job_filter: JobFilter,
        after: tuple[SortValue, str] | None,
        limit: int,
        sort: JobSort = DEFAULT_SORT,
    ) -> list[tuple[Job, SortValue]]:
        c = t.jobs.c
        where: list[Any] = []
        if job_filter.batch_id is not None:
            where.append(c.batch_id == job_filter.batch_id)
        else:
            where.append(c.workspace_id == workspace_id)
            where.append(c.batch_id.is_(None))
        if job_filter.tool is not None:
            where.append(c.tool == job_filter.tool)
        if job_filter.statuses:
            statuses = [str(s) for s in job_filter.statuses]
            where.append(c.status == statuses[0] if len(statuses) == 1 else c.status.in_(statuses))
        if job_filter.submitter_id is not None:
            where.append(c.submitter_id == job_filter.submitter_id)
        if job_filter.name_contains:
            where.append(name_contains(c.name, job_filter.name_contains))
        value, ordered = _SORTED_BY[sort.column]
        if sort.column is not SortColumn.DURATION:
            if after is not None:
                where.append(past(ordered, c.id, after, descending=sort.descending))
            return self._sorted_page(where, value, ordered, sort.descending, limit)
        # Jobs with a duration first, then those without (in id order), in either direction.
        rows: list[tuple[Job, SortValue]] = []
        if after is None or after[0] is not None:
            timed = [*where, value.is_not(None)]
            if after is not None:
                timed.append(past(ordered, c.id, after, descending=sort.descending))
            rows = self._sorted_page(timed, value, ordered, sort.descending, limit)
        if len(rows) < limit:
            untimed = [*where, value.is_(None)]
            if after is not None and after[0] is None:
                untimed.append(past(None, c.id, after, descending=sort.descending))
            rows += self._sorted_page(untimed, value, None, sort.descending, limit - len(rows))
        return rows

    def _sorted_page(
        self, where: list[Any], value: Any, ordered: Any, descending: bool, limit: int
    ) -> list[tuple[Job, SortValue]]:
        keys = [k for k in (ordered, t.jobs.c.id) if k is not None]
        query = (
            select(*LIST_COLUMNS, value.label("sort_value_"))
            .where(*where)
            .order_by(*(k.desc() if descending else k.asc() for k in keys))
            .limit(limit)
        )
        # .all() takes the page from the driver in one fetch rather than row by row.
        rows = self.conn.execute(query).mappings().all()
        return [(job_from_row(row), row["sort_value_"]) for row in rows]

    def count_jobs(
        self, workspace_id: str, statuses: Sequence[JobStatus], *, batch_children: bool = False
    ) -> int:
        c = t.jobs.c
        where = [c.workspace_id == workspace_id, c.status.in_([str(s) for s in statuses])]
        if batch_children:
            where.append(c.batch_id.is_not(None))
        return int(
            self.conn.execute(select(func.count()).select_from(t.jobs).where(*where)).scalar_one()
        )

    def oldest_jobs(
        self, workspace_id: str, status: JobStatus, limit: int, *, batch_children: bool = False
    ) -> list[Job]:
        c = t.jobs.c
        query = select(t.jobs).where(c.workspace_id == workspace_id, c.status == str(status))
        if batch_children:
            query = query.where(c.batch_id.is_not(None))
        query = query.order_by(c.created_at, c.id).limit(limit)
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        return [job_from_row(r) for r in self.conn.execute(query).mappings()]

    def recent_runs(self, workspace_id: str, tool: str, limit: int) -> list[tuple[float, int]]:
        c = t.jobs.c
        query = (
            select(c.started_at, c.finished_at, c.estimated_credits)
            .where(
                c.workspace_id == workspace_id,
                c.status == str(JobStatus.COMPLETED),
                c.tool == tool,
                c.started_at.is_not(None),
                c.finished_at.is_not(None),
            )
            .order_by(c.created_at.desc(), c.id.desc())
            .limit(limit)
        )
        return [
            (max(0.0, (row.finished_at - row.started_at).total_seconds()), row.estimated_credits)
            for row in self.conn.execute(query)
        ]

    def any_live_job(self, scope: ClaimScope | None = None) -> bool:
        """Whether any job (in ``scope``) is accepted but not finished (no row
        locks: a job another transaction holds still counts)."""
        live = [str(s) for s in JobStatus if s.is_live]
        query = select(t.jobs.c.id).where(t.jobs.c.status.in_(live), *in_scope(scope))
        return self.conn.execute(query.limit(1)).first() is not None

    def live_job_ids(self, job_ids: Sequence[str]) -> set[str]:
        if not job_ids:
            return set()
        live = [str(s) for s in JobStatus if s.is_live]
        c = t.jobs.c
        query = select(c.id).where(c.id.in_(list(job_ids)), c.status.in_(live))
        return set(self.conn.execute(query).scalars())

    def unheld_jobs(
        self,
        statuses: Sequence[JobStatus],
        now: datetime,
        limit: int,
        scope: ClaimScope | None = None,
    ) -> list[Job]:
        """Live jobs nobody holds (never leased, or their holder's lease ran out),
        of ``scope`` when one is given."""
        if scope is None:
            query = _UNHELD_JOBS_SKIP_LOCKED if self._postgres else _UNHELD_JOBS
        else:
            query = _UNHELD_JOBS.where(*in_scope(scope))
            if self._postgres:
                query = query.with_for_update(skip_locked=True)
        params = {"statuses_": [str(s) for s in statuses], "now_": now, "limit_": limit}
        return [job_from_row(r) for r in self.conn.execute(query, params).mappings()]

    def renew_leases(self, owner: str, job_ids: Sequence[str], expires_at: datetime) -> set[str]:
        if not job_ids:
            return set()
        c = t.jobs.c
        held = self.conn.execute(
            sql_update(t.jobs)
            .where(c.lease_owner == owner, c.id.in_(list(job_ids)))
            .values(lease_expires_at=expires_at)
            .returning(c.id)
        ).scalars()
        return set(held)


#: Each sort column's value as read, and as ordered (text in code point order).
_SORTED_BY: dict[SortColumn, tuple[Any, Any]] = {
    SortColumn.CREATED_AT: (t.jobs.c.created_at, t.jobs.c.created_at),
    SortColumn.NAME: (t.jobs.c.name, t.ByteOrder(t.jobs.c.name)),
    SortColumn.STATUS: (t.jobs.c.status, t.ByteOrder(t.jobs.c.status)),
    SortColumn.TOOL: (t.jobs.c.tool, t.ByteOrder(t.jobs.c.tool)),
    SortColumn.SUBMITTER: (t.jobs.c.submitter_name, t.ByteOrder(t.jobs.c.submitter_name)),
    SortColumn.CREDITS: (t.jobs.c.credits_shown, t.jobs.c.credits_shown),
    SortColumn.DURATION: (t.jobs.c.duration_s, t.jobs.c.duration_s),
}


def _unstorable(exc: StatementError) -> bool:
    """Whether a statement failed on a value the database cannot hold or compare
    (text with NUL in PostgreSQL, too long for its column, a number past 64 bits):
    the caller's input, whichever check before the store let it through."""
    return isinstance(exc, DataError) or isinstance(exc.orig, UnicodeEncodeError | OverflowError)


def _refused_value(exc: StatementError) -> ValidationError:
    reason = (str(exc.orig).strip().splitlines() or ["refused"])[0]
    return ValidationError(f"a value given cannot be stored: {reason}")


class SqlStore:
    """A ``jobs.ports.Store`` over one database, migrated to the newest schema."""

    def __init__(self, engine: Engine, *, run_migrations: bool = True) -> None:
        self.engine = engine
        if run_migrations:
            migrate(engine)

    @classmethod
    def open(cls, url: str) -> SqlStore:
        return cls(create_db_engine(url))

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[SqlTransaction]:
        try:
            with self.engine.connect().execution_options(piq_write=True) as conn, conn.begin():
                yield SqlTransaction(conn)
        except IntegrityError as exc:
            raise DuplicateRecord(f"the database refused a duplicate: {exc.orig}") from exc
        except StatementError as exc:
            if not _unstorable(exc):
                raise
            raise _refused_value(exc) from exc

    @contextmanager
    def read(self) -> Iterator[SqlTransaction]:
        try:
            with self.engine.connect() as conn, conn.begin():
                yield SqlTransaction(conn)
        except StatementError as exc:
            if not _unstorable(exc):
                raise
            raise _refused_value(exc) from exc

    def close(self) -> None:
        self.engine.dispose()
