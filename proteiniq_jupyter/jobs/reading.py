"""Reading jobs as an actor may see them: one job, history pages, results and
their files, exports, and event logs with who may read which event."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .access import Actor, Permissions, needs_invite_lookup, permissions
from .core import ServiceCore, usernames_in
from .errors import JobNotCompleted, NotFound, ValidationError
from .export import to_csv, to_json
from .model import Job, JobEvent, Page, ResultFile, Visibility
from .paging import check_limit
from .ports import JobFilter, StoreTransaction
from .sorting import DEFAULT_SORT, JobSort, sort_after, sort_cursor
from .status import JobStatus
from .text import check_filter


@dataclass(frozen=True)
class JobView:
    """A job as one actor may see it: contents are emptied when only the row shows."""

    job: Job
    permissions: Permissions


#: What a reader who may see a job's row, but not its contents, gets of an event's
#: data: what a history row shows, never errors, invitees or where it ran.
_ROW_EVENT_DATA = frozenset(
    {
        "status",
        "name",
        "tool",
        "progress",
        "progress_message",
        "progress_estimated",
        "eta_s",
        "status_reason",
        "credits_charged",
        "attempts",
        "visibility",
    }
)


@dataclass(frozen=True)
class EventAudience:
    """Who may read a job's events, decided from its row as it is now (sharing
    can change after an event was written) and, for a job shared by invitation,
    the emails invited."""

    job: Job
    invited: frozenset[str] = frozenset()

    def permissions(self, actor: Actor) -> Permissions:
        invited = needs_invite_lookup(actor, self.job) and (actor.email or "") in self.invited
        return permissions(actor, self.job, invited=invited)


def event_for_reader(
    actor: Actor, event: JobEvent, audience: EventAudience, *, job_stream: bool
) -> JobEvent | None:
    """The event as ``actor`` may read it, or None. Following one job
    (``job_stream``) needs only its row to be visible; the stream of all of a
    reader's jobs carries the jobs that concern them (their workspace's, their
    own, those shared with them by invitation), not every public job."""
    job = audience.job
    perms = audience.permissions(actor)
    if not perms.see_row:
        return None
    if not job_stream and not (
        actor.is_member_of(job.workspace_id)
        or actor.user_id == job.submitter_id
        or (job.visibility is Visibility.INVITED and perms.see_contents)
    ):
        return None
    if perms.see_contents:
        return event
    return replace(event, data={k: v for k, v in event.data.items() if k in _ROW_EVENT_DATA})


class Reading(ServiceCore):
    def get(self, actor: Actor, job_id: str) -> JobView:
        with self.store.read() as tx:
            job, perms = self._visible(tx, actor, job_id)
        return _view(job, perms)

    def get_named(self, actor: Actor, job_id: str) -> tuple[JobView, dict[str, str]]:
        """``get``, and the user names of the actor's workspace (to label the
        submitter), in one read."""
        workspace_id, _, _ = self._member(actor)
        with self.store.read() as tx:
            job, perms = self._visible(tx, actor, job_id)
            names = usernames_in(tx, workspace_id)
        return _view(job, perms), names

    def named_view(self, actor: Actor, job: Job) -> tuple[JobView, dict[str, str]]:
        """What ``get_named`` gives for a job that a change (a submit, a retry) has
        just handed back: taken from that copy when the actor submitted it, which
        needs no second read; read again otherwise."""
        user = actor.user
        if user is None or job.submitter_id != user.id:
            return self.get_named(actor, job.id)
        return _view(job, permissions(actor, job, invited=False)), {user.id: user.username}

    def list_jobs(
        self,
        actor: Actor,
        job_filter: JobFilter | None = None,
        *,
        starting_after: str | None = None,
        limit: int = 20,
        sort: JobSort = DEFAULT_SORT,
    ) -> Page:
        """A page of the workspace's history in ``sort``'s order, newest first by
        default (``Page.items`` are JobViews). Rows of jobs whose contents the
        actor may not see are emptied."""
        workspace_id, _, _ = self._member(actor)
        check_limit(limit)
        after = sort_after(sort, starting_after)
        job_filter = job_filter or JobFilter()
        check_filter(job_filter)
        with self.store.read() as tx:
            if job_filter.batch_id is not None:
                batch = tx.get_batch(job_filter.batch_id)
                if batch is None or batch.workspace_id != workspace_id:
                    raise NotFound(f"no batch {job_filter.batch_id}")
            rows = tx.list_jobs(workspace_id, job_filter, after, limit + 1, sort)
            views = [_view(job, self._permissions(tx, actor, job)) for job, _ in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last, value = rows[limit - 1]
            next_cursor = sort_cursor(sort, value, last.id)
        return Page(items=views, next_cursor=next_cursor)

    def result(self, actor: Actor, job_id: str) -> Job:
        """A job whose results exist, or JobNotCompleted saying what it is doing."""
        with self.store.read() as tx:
            job = self._with_contents(tx, actor, job_id)
        if job.result is None:
            raise JobNotCompleted(
                f"job {job_id} is {job.status} and has no result yet",
                details={"current_status": str(job.status)},
            )
        return job

    def job_file(self, actor: Actor, job_id: str, name: str) -> tuple[Path, ResultFile]:
        """One output file of a job whose contents the actor may see."""
        with self.store.read() as tx:
            job = self._with_contents(tx, actor, job_id)
        for entry in job.result.files if job.result else []:
            if entry.name == name:
                path = self.files.job_dir(job_id) / entry.name
                if path.is_file():
                    return path, entry
        raise NotFound(f"job {job_id} has no file {name!r}", details={"name": name})

    def export(self, actor: Actor, job_id: str, fmt: str) -> str:
        with self.store.read() as tx:
            job = self._with_contents(tx, actor, job_id)
        if fmt == "csv":
            return to_csv([job])
        if fmt == "json":
            return json.dumps(to_json(job, exported_at=self.clock()), indent=2)
        raise ValidationError(
            f"unknown export format {fmt!r}; use csv or json",
            errors=[{"field": "format", "message": "use csv or json"}],
        )

    # -- events ---------------------------------------------------------------

    def events(self, actor: Actor, job_id: str, *, after_seq: int = 0) -> list[JobEvent]:
        """The job's event log, in order: replaying it gives its whole history."""
        with self.store.read() as tx:
            self._visible(tx, actor, job_id)
            return tx.list_events(job_id, after_seq)

    def job_event_replay(
        self, actor: Actor, job_id: str, *, after_seq: int = 0, through_seq: int | None = None
    ) -> tuple[list[JobEvent], JobStatus | None]:
        """A job's events in ``(after_seq, through_seq]`` as ``actor`` may read
        them, and the job's status as of ``through_seq`` (None before its first
        event), which says whether a live stream of it is already over."""
        with self.store.read() as tx:
            job, _ = self._visible(tx, actor, job_id)
            audience = _audience(tx, job)
            log = tx.list_events(job_id, 0)
        if through_seq is not None:
            log = [e for e in log if e.seq <= through_seq]
        status = log[-1].status if log else None
        readable = (event_for_reader(actor, e, audience, job_stream=True) for e in log)
        return [e for e in readable if e is not None and e.seq > after_seq], status

    def last_event_seq(self) -> int:
        """The seq of the newest event in the log (0 with none): no event a client
        was given from this log has a higher one."""
        with self.store.read() as tx:
            return tx.last_event_seq()

    def reader_events(
        self, actor: Actor, *, after_seq: int, through_seq: int, limit: int = 500
    ) -> tuple[list[JobEvent], int]:
        """One page of the events of every job that concerns ``actor`` (see
        ``event_for_reader``) in ``(after_seq, through_seq]``, and the seq the next
        page starts after (``through_seq`` once there is none)."""
        workspace_id, user_id, _ = self._member(actor)
        with self.store.read() as tx:
            rows = tx.events_for_reader(
                workspace_id, user_id, actor.email, after_seq, through_seq, limit
            )
            audiences = {job.id: _audience(tx, job) for job in _jobs_of(tx, rows)}
        readable = []
        for event in rows:
            audience = audiences.get(event.job_id)
            shown = None
            if audience is not None:
                shown = event_for_reader(actor, event, audience, job_stream=False)
            if shown is not None:
                readable.append(shown)
        return readable, rows[-1].seq if len(rows) == limit else through_seq

    def event_audiences(self, job_ids: Iterable[str]) -> dict[str, EventAudience]:
        """Who may read events of each job (a live feed filters with this per
        reader). Jobs deleted since are left out."""
        with self.store.read() as tx:
            return event_audiences_in(tx, job_ids)


def event_audiences_in(tx: StoreTransaction, job_ids: Iterable[str]) -> dict[str, EventAudience]:
    """``Reading.event_audiences`` within a read the caller holds (a feed that
    reads the events and who may read them at once)."""
    ids = sorted(set(job_ids))
    return {job.id: _audience(tx, job) for job in tx.jobs_by_id(ids)} if ids else {}


def _view(job: Job, perms: Permissions) -> JobView:
    if perms.see_contents:
        return JobView(job, perms)
    return JobView(replace(job, inputs=(), settings={}, result=None, error=None), perms)


def _jobs_of(tx: StoreTransaction, events: Sequence[JobEvent]) -> list[Job]:
    return tx.jobs_by_id(sorted({e.job_id for e in events}))


def _audience(tx: StoreTransaction, job: Job) -> EventAudience:
    if job.visibility is not Visibility.INVITED:
        return EventAudience(job)
    return EventAudience(job, frozenset(i.email for i in tx.list_invites(job.id)))
