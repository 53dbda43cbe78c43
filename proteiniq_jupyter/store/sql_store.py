"""The SQLAlchemy implementation of the store protocols (``jobs.ports``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    String,
    bindparam,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy import update as sql_update
from sqlalchemy.exc import DataError, IntegrityError, StatementError

from ..jobs.errors import DuplicateRecord, LeaseLost, ValidationError
from ..jobs.model import (
    Batch,
    FileOrigin,
    FileRecord,
    Invite,
    Job,
    JobEvent,
    JsonDict,
    Member,
    Role,
    User,
    Visibility,
    Workspace,
)
from ..jobs.ports import ClaimScope, FileFilter, JobFilter, LedgerEntry
from ..jobs.sorting import (
    DEFAULT_SORT,
    JobSort,
    SortColumn,
    SortValue,
    finished_duration_s,
    shown_credits,
)
from ..jobs.status import JobStatus
from . import codec
from . import tables as t
from .budget_rows import BudgetRows
from .database import create_db_engine, migrate
from .job_files import DirectoryJobFiles as DirectoryJobFiles


def _job_from_row(row: RowMapping) -> Job:
    result = row.get("result")
    return Job(
        id=row["id"],
        workspace_id=row["workspace_id"],
        submitter_id=row["submitter_id"],
        tool=row["tool"],
        name=row["name"],
        status=JobStatus(row["status"]),
        inputs=codec.decode_inputs(row.get("inputs")),
        settings=codec.decode_settings(row["settings"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        visibility=Visibility(row["visibility"]),
        progress=row["progress"],
        progress_message=row["progress_message"],
        progress_estimated=bool(row["progress_estimated"]),
        progress_eta_at=row["progress_eta_at"],
        status_reason=row["status_reason"],
        error=row["error"],
        result=codec.decode_result(result) if result else None,
        estimated_credits=row["estimated_credits"],
        credits_charged=row["credits_charged"],
        attempts=row["attempts"],
        batch_id=row["batch_id"],
        origin_job_id=row["origin_job_id"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"],
        provenance=codec.decode_provenance(row.get("provenance")),
        budget_id=row["budget_id"],
        max_credits=row["max_credits"],
        reserved_credits=row["reserved_credits"],
    )


def _job_values(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "workspace_id": job.workspace_id,
        "submitter_id": job.submitter_id,
        "batch_id": job.batch_id,
        "origin_job_id": job.origin_job_id,
        "tool": job.tool,
        "name": job.name,
        "status": str(job.status),
        "visibility": str(job.visibility),
        "inputs": codec.encode_inputs(job.inputs),
        "settings": codec.encode_settings(job.settings),
        "result": codec.encode_result(job.result) if job.result else None,
        "progress": job.progress,
        "progress_message": job.progress_message,
        "progress_estimated": job.progress_estimated,
        "progress_eta_at": job.progress_eta_at,
        "status_reason": job.status_reason,
        "error": job.error,
        "estimated_credits": job.estimated_credits,
        "credits_charged": job.credits_charged,
        "attempts": job.attempts,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "lease_owner": job.lease_owner,
        "lease_expires_at": job.lease_expires_at,
        "provenance": codec.encode_provenance(job.provenance),
        "budget_id": job.budget_id,
        "max_credits": job.max_credits,
        "reserved_credits": job.reserved_credits,
        "credits_shown": shown_credits(job),
        "duration_s": finished_duration_s(job),
    }


# Lists never carry inputs (they can be whole structure files) nor provenance: a
# history page shows neither.
_LIST_COLUMNS = [
    c for c in t.jobs.c if c.name not in ("inputs", "idempotency_key", "request_hash", "provenance")
]
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
_INSERT_EVENT = insert(t.job_events).returning(t.job_events.c.seq)
_INSERT_LEDGER = insert(t.ledger)
_LEDGER_HAS = select(t.ledger.c.id).where(t.ledger.c.key == bindparam("key_"))
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


def _in_scope(scope: ClaimScope | None) -> list[Any]:
    """The condition that a job lies in ``scope``: submitted by one of its users,
    or one of its jobs (none: every job)."""
    if scope is None:
        return []
    c = t.jobs.c
    submitters = select(t.users.c.id).where(t.users.c.username.in_(list(scope.submitters)))
    either: list[Any] = []
    if scope.submitters:
        either.append(c.submitter_id.in_(submitters))
    if scope.job_ids:
        either.append(c.id.in_(sorted(scope.job_ids)))
    return [or_(*either)] if either else [false()]


_MUTABLE = frozenset(
    {
        "name",
        "status",
        "visibility",
        "result",
        "progress",
        "progress_message",
        "progress_estimated",
        "progress_eta_at",
        "status_reason",
        "error",
        "credits_charged",
        "attempts",
        "updated_at",
        "started_at",
        "finished_at",
        "lease_owner",
        "lease_expires_at",
        "provenance",
        "credits_shown",
        "duration_s",
    }
)


def _event_from_row(row: RowMapping) -> JobEvent:
    return JobEvent(
        seq=row["seq"],
        job_id=row["job_id"],
        workspace_id=row["workspace_id"],
        kind=row["kind"],
        status=JobStatus(row["status"]),
        data=dict(row["data"]),
        created_at=row["created_at"],
    )


def _user_from_row(row: RowMapping) -> User:
    return User(
        id=row["id"], username=row["username"], email=row["email"], created_at=row["created_at"]
    )


class SqlTransaction(BudgetRows):
    """A ``jobs.ports.StoreTransaction`` over one SQLAlchemy connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._postgres = conn.dialect.name == "postgresql"

    # -- workspaces and people ---------------------------------------------

    def lock_workspace(self, workspace_id: str) -> None:
        # SQLite write transactions already hold the database's write lock.
        if self._postgres:
            self.conn.execute(
                select(t.workspaces.c.id).where(t.workspaces.c.id == workspace_id).with_for_update()
            )

    def get_workspace(self, workspace_id: str) -> Workspace | None:
        row = (
            self.conn.execute(select(t.workspaces).where(t.workspaces.c.id == workspace_id))
            .mappings()
            .first()
        )
        if row is None:
            return None
        return Workspace(
            id=row["id"], name=row["name"], plan=row["plan"], created_at=row["created_at"]
        )

    def insert_workspace(self, workspace: Workspace) -> None:
        self.conn.execute(
            insert(t.workspaces).values(
                id=workspace.id,
                name=workspace.name,
                plan=workspace.plan,
                created_at=workspace.created_at,
            )
        )

    def _one_user(self, *where: Any) -> User | None:
        row = self.conn.execute(select(t.users).where(*where)).mappings().first()
        return None if row is None else _user_from_row(row)

    def get_user(self, user_id: str) -> User | None:
        return self._one_user(t.users.c.id == user_id)

    def get_user_by_username(self, username: str) -> User | None:
        return self._one_user(t.users.c.username == username)

    def get_user_by_email(self, email: str) -> User | None:
        return self._one_user(t.users.c.email == email.lower())

    def insert_user(self, user: User) -> None:
        self.conn.execute(
            insert(t.users).values(
                id=user.id,
                username=user.username,
                email=user.email.lower() if user.email else None,
                created_at=user.created_at,
            )
        )

    def set_user_email(self, user_id: str, email: str | None) -> None:
        self.conn.execute(
            sql_update(t.users)
            .where(t.users.c.id == user_id)
            .values(email=email.lower() if email else None)
        )

    def get_role(self, workspace_id: str, user_id: str) -> Role | None:
        role = self.conn.execute(
            select(t.members.c.role).where(
                t.members.c.workspace_id == workspace_id, t.members.c.user_id == user_id
            )
        ).scalar()
        return None if role is None else Role(role)

    def set_member(self, workspace_id: str, user_id: str, role: Role, at: datetime) -> None:
        updated = self.conn.execute(
            sql_update(t.members)
            .where(t.members.c.workspace_id == workspace_id, t.members.c.user_id == user_id)
            .values(role=str(role))
        )
        if updated.rowcount == 0:
            self.conn.execute(
                insert(t.members).values(
                    workspace_id=workspace_id, user_id=user_id, role=str(role), created_at=at
                )
            )

    def remove_member(self, workspace_id: str, user_id: str) -> None:
        self.conn.execute(
            delete(t.members).where(
                t.members.c.workspace_id == workspace_id, t.members.c.user_id == user_id
            )
        )

    def workspace_ids(self, prefix: str) -> list[str]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.conn.execute(
            select(t.workspaces.c.id)
            .where(t.workspaces.c.id.like(escaped + "%", escape="\\"))
            .order_by(t.workspaces.c.id)
        )
        return [row[0] for row in rows]

    def _members(self, *where: Any) -> list[Member]:
        rows = self.conn.execute(
            select(t.users, t.members.c.workspace_id, t.members.c.role)
            .join(t.members, t.members.c.user_id == t.users.c.id)
            .where(*where)
            .order_by(t.members.c.created_at, t.users.c.username)
        ).mappings()
        return [
            Member(user=_user_from_row(r), workspace_id=r["workspace_id"], role=Role(r["role"]))
            for r in rows
        ]

    def list_members(self, workspace_id: str) -> list[Member]:
        return self._members(t.members.c.workspace_id == workspace_id)

    def memberships(self, user_id: str) -> list[Member]:
        return self._members(t.members.c.user_id == user_id)

    # -- jobs ---------------------------------------------------------------

    def insert_job(self, job: Job, idempotency_key: str | None, request_hash: str | None) -> None:
        self.conn.execute(
            _INSERT_JOB,
            {
                **_job_values(job),
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
        return None if row is None else _job_from_row(row)

    def job_state(self, job_id: str) -> tuple[JobStatus, str | None] | None:
        row = self.conn.execute(_JOB_STATE, {"job_id_": job_id}).first()
        return None if row is None else (JobStatus(row.status), row.lease_owner)

    def jobs_by_id(self, job_ids: Sequence[str]) -> list[Job]:
        if not job_ids:
            return []
        query = select(*_LIST_COLUMNS).where(t.jobs.c.id.in_(list(job_ids)))
        return [_job_from_row(row) for row in self.conn.execute(query).mappings().all()]

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
        return None if row is None else (_job_from_row(row), row["request_hash"])

    def update_job(self, job: Job, *, held_by: str | None = None) -> None:
        values = {k: v for k, v in _job_values(job).items() if k in _MUTABLE}
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
            where.append(_name_contains(c.name, job_filter.name_contains))
        value, ordered = _SORTED_BY[sort.column]
        if sort.column is not SortColumn.DURATION:
            if after is not None:
                where.append(_past(ordered, c.id, after, descending=sort.descending))
            return self._sorted_page(where, value, ordered, sort.descending, limit)
        # Jobs with a duration first, then those without (in id order), in either direction.
        rows: list[tuple[Job, SortValue]] = []
        if after is None or after[0] is not None:
            timed = [*where, value.is_not(None)]
            if after is not None:
                timed.append(_past(ordered, c.id, after, descending=sort.descending))
            rows = self._sorted_page(timed, value, ordered, sort.descending, limit)
        if len(rows) < limit:
            untimed = [*where, value.is_(None)]
            if after is not None and after[0] is None:
                untimed.append(_past(None, c.id, after, descending=sort.descending))
            rows += self._sorted_page(untimed, value, None, sort.descending, limit - len(rows))
        return rows

    def _sorted_page(
        self, where: list[Any], value: Any, ordered: Any, descending: bool, limit: int
    ) -> list[tuple[Job, SortValue]]:
        keys = [k for k in (ordered, t.jobs.c.id) if k is not None]
        query = (
            select(*_LIST_COLUMNS, value.label("sort_value_"))
            .where(*where)
            .order_by(*(k.desc() if descending else k.asc() for k in keys))
            .limit(limit)
        )
        # .all() takes the page from the driver in one fetch rather than row by row.
        rows = self.conn.execute(query).mappings().all()
        return [(_job_from_row(row), row["sort_value_"]) for row in rows]

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
        return [_job_from_row(r) for r in self.conn.execute(query).mappings()]

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
        query = select(t.jobs.c.id).where(t.jobs.c.status.in_(live), *_in_scope(scope))
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
            query = _UNHELD_JOBS.where(*_in_scope(scope))
            if self._postgres:
                query = query.with_for_update(skip_locked=True)
        params = {"statuses_": [str(s) for s in statuses], "now_": now, "limit_": limit}
        return [_job_from_row(r) for r in self.conn.execute(query, params).mappings()]

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

    # -- events -------------------------------------------------------------

    def append_event(self, job: Job, kind: str, data: JsonDict, at: datetime) -> JobEvent:
        if self._postgres:
            # The transaction takes its number before the seq, so that an event feed
            # can tell when every seq handed out so far has committed or rolled back
            # (``write_marks``). Every caller has written already; this makes sure.
            self.conn.execute(select(func.pg_current_xact_id()))
        seq = self.conn.execute(
            _INSERT_EVENT,
            {
                "job_id": job.id,
                "workspace_id": job.workspace_id,
                "kind": kind,
                "status": str(job.status),
                "data": data,
                "created_at": at,
            },
        ).scalar_one()
        return JobEvent(
            seq=seq,
            job_id=job.id,
            workspace_id=job.workspace_id,
            kind=kind,
            status=job.status,
            data=data,
            created_at=at,
        )

    def list_events(self, job_id: str, after_seq: int = 0) -> list[JobEvent]:
        rows = self.conn.execute(
            select(t.job_events)
            .where(t.job_events.c.job_id == job_id, t.job_events.c.seq > after_seq)
            .order_by(t.job_events.c.seq)
        ).mappings()
        return [_event_from_row(r) for r in rows]

    def events_after(self, after_seq: int, limit: int) -> list[JobEvent]:
        e = t.job_events.c
        rows = self.conn.execute(
            select(t.job_events).where(e.seq > after_seq).order_by(e.seq).limit(limit)
        ).mappings()
        return [_event_from_row(r) for r in rows]

    def events_by_seq(self, seqs: Sequence[int]) -> list[JobEvent]:
        if not seqs:
            return []
        e = t.job_events.c
        rows = self.conn.execute(
            select(t.job_events).where(e.seq.in_(list(seqs))).order_by(e.seq)
        ).mappings()
        return [_event_from_row(r) for r in rows]

    def last_event_seq(self) -> int:
        return int(
            self.conn.execute(select(func.coalesce(func.max(t.job_events.c.seq), 0))).scalar_one()
        )

    def events_for_reader(
        self,
        workspace_id: str | None,
        user_id: str,
        email: str | None,
        after_seq: int,
        through_seq: int | None,
        limit: int,
    ) -> list[JobEvent]:
        e = t.job_events.c
        involved: list[Any] = [
            e.job_id.in_(select(t.jobs.c.id).where(t.jobs.c.submitter_id == user_id))
        ]
        if workspace_id is not None:
            involved.append(e.workspace_id == workspace_id)
        if email:
            involved.append(
                e.job_id.in_(
                    select(t.job_invites.c.job_id).where(t.job_invites.c.email == email.lower())
                )
            )
        where: list[Any] = [e.seq > after_seq, or_(*involved)]
        if through_seq is not None:
            where.append(e.seq <= through_seq)
        rows = self.conn.execute(
            select(t.job_events).where(*where).order_by(e.seq).limit(limit)
        ).mappings()
        return [_event_from_row(r) for r in rows]

    def write_marks(self) -> tuple[int, int] | None:
        if not self._postgres:
            # SQLite writers hold the database lock from BEGIN to COMMIT, so a seq
            # missing below a visible one was rolled back or deleted.
            return None
        snapshot = func.pg_current_snapshot()
        row = self.conn.execute(
            select(
                func.pg_snapshot_xmin(snapshot).cast(String),
                func.pg_snapshot_xmax(snapshot).cast(String),
            )
        ).one()
        return int(row[0]), int(row[1])

    # -- sharing ------------------------------------------------------------

    def list_invites(self, job_id: str) -> list[Invite]:
        rows = self.conn.execute(
            select(t.job_invites.c.email, t.users.c.id)
            .select_from(t.job_invites.outerjoin(t.users, t.users.c.email == t.job_invites.c.email))
            .where(t.job_invites.c.job_id == job_id)
            .order_by(t.job_invites.c.email)
        ).all()
        return [Invite(email=email, user_id=user_id) for email, user_id in rows]

    def set_invites(self, job_id: str, emails: Sequence[str], at: datetime) -> None:
        self.conn.execute(delete(t.job_invites).where(t.job_invites.c.job_id == job_id))
        if emails:
            self.conn.execute(
                insert(t.job_invites),
                [{"job_id": job_id, "email": e.lower(), "created_at": at} for e in emails],
            )

    def is_invited(self, job_id: str, email: str) -> bool:
        return (
            self.conn.execute(
                select(t.job_invites.c.job_id).where(
                    t.job_invites.c.job_id == job_id, t.job_invites.c.email == email.lower()
                )
            ).first()
            is not None
        )

    # -- credits ------------------------------------------------------------

    def ledger_has(self, key: str) -> bool:
        return self.conn.execute(_LEDGER_HAS, {"key_": key}).first() is not None

    def ledger_append(
        self,
        workspace_id: str,
        kind: str,
        delta: int,
        key: str,
        *,
        at: datetime,
        job_id: str | None = None,
        batch_id: str | None = None,
        actor_id: str | None = None,
        note: str | None = None,
        budget_id: str | None = None,
    ) -> bool:
        """Append one entry unless its key is already there. Callers hold the
        workspace lock, so check-then-insert cannot race; the unique key is the
        backstop."""
        if self.ledger_has(key):
            return False
        self.conn.execute(
            _INSERT_LEDGER,
            {
                "workspace_id": workspace_id,
                "kind": kind,
                "delta": delta,
                "key": key,
                "job_id": job_id,
                "batch_id": batch_id,
                "actor_id": actor_id,
                "note": note,
                "created_at": at,
                "budget_id": budget_id,
            },
        )
        return True

    def ledger_balance(self, workspace_id: str) -> int:
        return int(
            self.conn.execute(
                select(func.coalesce(func.sum(t.ledger.c.delta), 0)).where(
                    t.ledger.c.workspace_id == workspace_id
                )
            ).scalar_one()
        )

    def ledger_entries(self, workspace_id: str, *, job_id: str | None = None) -> list[LedgerEntry]:
        query = select(t.ledger).where(t.ledger.c.workspace_id == workspace_id)
        if job_id is not None:
            query = query.where(t.ledger.c.job_id == job_id)
        rows = self.conn.execute(query.order_by(t.ledger.c.id)).mappings()
        return [
            LedgerEntry(
                id=r["id"],
                workspace_id=r["workspace_id"],
                kind=r["kind"],
                delta=r["delta"],
                key=r["key"],
                job_id=r["job_id"],
                batch_id=r["batch_id"],
                actor_id=r["actor_id"],
                note=r["note"],
                created_at=r["created_at"],
                budget_id=r["budget_id"],
            )
            for r in rows
        ]

    # -- files ----------------------------------------------------------------

    def insert_files(self, records: Sequence[FileRecord]) -> None:
        if records:
            self.conn.execute(
                insert(t.files),
                [
                    {
                        "id": r.id,
                        "workspace_id": r.workspace_id,
                        "owner_id": r.owner_id,
                        "job_id": r.job_id,
                        "name": r.name,
                        "format": r.format,
                        "content_type": r.content_type,
                        "size": r.size,
                        "origin": str(r.origin),
                        "created_at": r.created_at,
                    }
                    for r in records
                ],
            )

    def get_file(self, file_id: str) -> FileRecord | None:
        row = self.conn.execute(select(t.files).where(t.files.c.id == file_id)).mappings().first()
        return None if row is None else _file_from_row(row)

    def delete_file(self, file_id: str) -> None:
        self.conn.execute(delete(t.files).where(t.files.c.id == file_id))

    def list_files(
        self,
        workspace_id: str,
        file_filter: FileFilter,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[FileRecord]:
        c = t.files.c
        query = select(t.files).where(c.workspace_id == workspace_id)
        if file_filter.name_contains:
            query = query.where(_name_contains(c.name, file_filter.name_contains))
        if file_filter.format:
            query = query.where(c.format == file_filter.format)
        if file_filter.origin:
            query = query.where(c.origin == file_filter.origin)
        if file_filter.owner_id:
            query = query.where(c.owner_id == file_filter.owner_id)
        if after is not None:
            query = query.where(_before(c.created_at, c.id, after))
        query = query.order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        return [_file_from_row(r) for r in self.conn.execute(query).mappings().all()]

    # -- batches ------------------------------------------------------------

    def insert_batch(
        self, batch: Batch, idempotency_key: str | None = None, request_hash: str | None = None
    ) -> None:
        self.conn.execute(
            insert(t.batches).values(
                id=batch.id,
                workspace_id=batch.workspace_id,
                submitter_id=batch.submitter_id,
                tool=batch.tool,
                name=batch.name,
                reserved_credits=batch.reserved_credits,
                created_at=batch.created_at,
                budget_id=batch.budget_id,
                max_credits=batch.max_credits,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
            )
        )

    def find_idempotent_batch(self, workspace_id: str, key: str) -> tuple[Batch, str | None] | None:
        row = (
            self.conn.execute(
                select(t.batches).where(
                    t.batches.c.workspace_id == workspace_id, t.batches.c.idempotency_key == key
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else (_batch_from_row(row), row["request_hash"])

    def get_batch(self, batch_id: str) -> Batch | None:
        row = (
            self.conn.execute(select(t.batches).where(t.batches.c.id == batch_id))
            .mappings()
            .first()
        )
        return None if row is None else _batch_from_row(row)

    def batch_children(self, batch_id: str) -> list[Job]:
        rows = self.conn.execute(
            select(t.jobs)
            .where(t.jobs.c.batch_id == batch_id)
            .order_by(t.jobs.c.created_at, t.jobs.c.id)
        ).mappings()
        return [_job_from_row(r) for r in rows]

    def batches_children(self, batch_ids: Sequence[str]) -> list[Job]:
        if not batch_ids:
            return []
        query = (
            select(*_LIST_COLUMNS)
            .where(t.jobs.c.batch_id.in_(list(batch_ids)))
            .order_by(t.jobs.c.created_at, t.jobs.c.id)
        )
        return [_job_from_row(row) for row in self.conn.execute(query).mappings().all()]

    def list_batches(
        self, workspace_id: str, after: tuple[datetime, str] | None, limit: int
    ) -> list[Batch]:
        c = t.batches.c
        query = select(t.batches).where(c.workspace_id == workspace_id)
        if after is not None:
            query = query.where(_before(c.created_at, c.id, after))
        query = query.order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        return [_batch_from_row(r) for r in self.conn.execute(query).mappings()]


def _file_from_row(row: RowMapping) -> FileRecord:
    return FileRecord(
        id=row["id"],
        workspace_id=row["workspace_id"],
        owner_id=row["owner_id"],
        job_id=row["job_id"],
        name=row["name"],
        format=row["format"],
        content_type=row["content_type"],
        size=row["size"],
        origin=FileOrigin(row["origin"]),
        created_at=row["created_at"],
    )


def _before(created_at: Any, row_id: Any, cursor: tuple[datetime, str]) -> Any:
    """Rows older than the cursor in (created_at, id) order: the keyset condition
    of every history list.

    One row-value comparison, not "created_at < x OR (created_at = x AND id < y)":
    both backends turn it into a range on the (..., created_at, id) index, so a page
    deep in the history starts at the cursor instead of reading and discarding every
    newer row first. The literals keep the columns' types, so the timestamp is
    compared in its stored UTC form on SQLite.
    """
    created, last_id = cursor
    return tuple_(created_at, row_id) < tuple_(
        literal(created, created_at.type), literal(last_id, row_id.type)
    )


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


def _past(ordered: Any, row_id: Any, cursor: tuple[SortValue, str], *, descending: bool) -> Any:
    """Rows after the cursor's in a sort's (value, id) order, as ``_before`` is for
    the newest-first history; with no ``ordered`` value, after its id alone."""
    value, last_id = cursor
    if ordered is None:
        return row_id < last_id if descending else row_id > last_id
    mine = tuple_(ordered, row_id)
    theirs = tuple_(literal(value, ordered.type), literal(last_id, row_id.type))
    return mine < theirs if descending else mine > theirs


def _name_contains(column: Any, text: str) -> Any:
    """Case-insensitive substring match in which % and _ are plain characters."""
    return column.ilike(f"%{_escape_like(text)}%", escape="\\")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _batch_from_row(row: RowMapping) -> Batch:
    return Batch(
        id=row["id"],
        workspace_id=row["workspace_id"],
        submitter_id=row["submitter_id"],
        tool=row["tool"],
        name=row["name"],
        created_at=row["created_at"],
        reserved_credits=row["reserved_credits"],
        budget_id=row["budget_id"],
        max_credits=row["max_credits"],
    )


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
