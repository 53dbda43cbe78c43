"""The job event log in the database: appending in commit order, replays, and what
each reader may see."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, String, func, insert, or_, select

from ..jobs.model import Job, JobEvent, JsonDict
from ..jobs.status import JobStatus
from . import tables as t


def event_from_row(row: RowMapping) -> JobEvent:
    return JobEvent(
        seq=row["seq"],
        job_id=row["job_id"],
        workspace_id=row["workspace_id"],
        kind=row["kind"],
        status=JobStatus(row["status"]),
        data=dict(row["data"]),
        created_at=row["created_at"],
    )


_INSERT_EVENT = insert(t.job_events).returning(t.job_events.c.seq)


class EventRows:
    """The job event log: that part of ``SqlTransaction`` (see
    ``jobs.ports.StoreTransaction``)."""

    conn: Connection
    _postgres: bool

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
        return [event_from_row(r) for r in rows]

    def events_after(self, after_seq: int, limit: int) -> list[JobEvent]:
        e = t.job_events.c
        rows = self.conn.execute(
            select(t.job_events).where(e.seq > after_seq).order_by(e.seq).limit(limit)
        ).mappings()
        return [event_from_row(r) for r in rows]

    def events_by_seq(self, seqs: Sequence[int]) -> list[JobEvent]:
        if not seqs:
            return []
        e = t.job_events.c
        rows = self.conn.execute(
            select(t.job_events).where(e.seq.in_(list(seqs))).order_by(e.seq)
        ).mappings()
        return [event_from_row(r) for r in rows]

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
        return [event_from_row(r) for r in rows]

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
