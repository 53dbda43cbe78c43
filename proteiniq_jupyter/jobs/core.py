"""What every side of the job service shares: its parts (store, tools, files,
configuration, event bus, clock, executor), write transactions whose events are
published once they commit, the one function that changes a status, and the
access helpers that decide what an actor may see and change.

The service is split by who calls it: the faces (HTTP handlers, the CLI, tests)
use ``service.JobService``, composed of the areas in ``accounts``,
``submission``, ``batches``, ``uploads``, ``reading`` and ``changes``; executors
and job supervisors use ``runs.RunService``. Both sides are built over one
``ServiceParts``, so they share one store, one event bus and one executor.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from . import credits
from .access import Actor, Permissions, needs_invite_lookup, permissions
from .errors import Conflict, Forbidden, NotFound, ValidationError
from .events import EventBus
from .model import FileOrigin, FileRecord, Job, JobEvent, JsonDict, Role, new_id
from .ports import Executor, JobFiles, Store, StoreTransaction, StructureSource, ToolCatalog
from .status import CANCELLABLE, JobStatus, check_transition
from .text import check_text, text_problem

MAX_NAME_LENGTH = 300
#: The longest email address (RFC 3696 with its erratum).
MAX_EMAIL_LENGTH = 320
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class ServiceConfig:
    starting_credits: int = 500
    max_concurrent_jobs: int | None = None
    max_attempts: int = 3
    plan: str = "personal"
    #: Batch children of one workspace that may be live at once; the rest wait QUEUED.
    batch_concurrency: int = 3
    max_batch_items: int = 100
    max_upload_bytes: int = 50_000_000
    #: The deployment's administrators (user names): they create team workspaces
    #: and manage any team's members.
    admins: tuple[str, ...] = ()


@dataclass
class ServiceParts:
    """What the sides of the service work with. Sides built over the same parts
    see the same configuration and executor, whichever side changes them."""

    store: Store
    tools: ToolCatalog
    files: JobFiles
    config: ServiceConfig
    bus: EventBus
    clock: Callable[[], datetime]
    #: Where structures named by PDB id come from; None: such inputs are refused.
    structures: StructureSource | None = None
    executor: Executor | None = None


@dataclass
class Outbox:
    """Events written in a transaction, published only once it has committed."""

    events: list[JobEvent] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)


class ServiceCore:
    """The base of each side of the service: its parts, and the steps its areas
    share."""

    def __init__(self, parts: ServiceParts) -> None:
        self.parts = parts
        self.store = parts.store
        self.tools = parts.tools
        self.files = parts.files
        self.bus = parts.bus
        self.clock = parts.clock
        self.structures = parts.structures

    @property
    def config(self) -> ServiceConfig:
        return self.parts.config

    @config.setter
    def config(self, config: ServiceConfig) -> None:
        self.parts.config = config

    @property
    def executor(self) -> Executor | None:
        return self.parts.executor

    @executor.setter
    def executor(self, executor: Executor | None) -> None:
        self.parts.executor = executor

    def attach_executor(self, executor: Executor | None) -> None:
        self.parts.executor = executor

    # -- writing ------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[tuple[StoreTransaction, Outbox]]:
        outbox = Outbox()
        with self.store.write() as tx:
            yield tx, outbox
        self.bus.publish(outbox.events)
        for action in outbox.after_commit:
            action()

    def _transition(
        self,
        tx: StoreTransaction,
        outbox: Outbox,
        job: Job,
        target: JobStatus,
        *,
        held_by: str | None = None,
        **changes: Any,
    ) -> Job:
        """The one function that changes a status: checks legality, applies the
        credit rule for the new status, writes the job and logs the event. With
        ``held_by`` the write lands only while that runner holds the job."""
        check_transition(job.id, job.status, target)
        now = self.clock()
        # A new status ends any estimate of how far the last one had got.
        changes = {"progress_estimated": False, "progress_eta_at": None, **changes}
        job = replace(job, status=target, updated_at=now, **changes)
        if target is JobStatus.PROCESSING:
            charged = credits.charge(tx, job, now)
            job = replace(
                job,
                credits_charged=job.credits_charged + charged,
                attempts=job.attempts + 1,
                started_at=job.started_at or now,
                status_reason=None,
            )
        if target.is_terminal or target is JobStatus.RETRY:
            job = replace(job, lease_owner=None, lease_expires_at=None)
        if target.is_terminal:
            job = credits.settle(tx, replace(job, finished_at=now), now)
        tx.update_job(job, held_by=held_by)
        outbox.events.append(tx.append_event(job, "status", status_data(job), now))
        if target is JobStatus.COMPLETED and job.result is not None:
            tx.insert_files(
                [
                    FileRecord(
                        id=new_id("file"),
                        workspace_id=job.workspace_id,
                        owner_id=job.submitter_id,
                        job_id=job.id,
                        name=f.name,
                        format=f.format,
                        content_type=f.content_type,
                        size=f.size,
                        origin=FileOrigin.JOB_OUTPUT,
                        created_at=now,
                    )
                    for f in job.result.files
                ]
            )
        if target.is_terminal and job.batch_id is not None:
            self._promote_queued(tx, outbox, job.workspace_id)
        return job

    def _promote_queued(self, tx: StoreTransaction, outbox: Outbox, workspace_id: str) -> None:
        """Let waiting batch children in while the workspace has free batch slots."""
        live = (JobStatus.PENDING, JobStatus.PROCESSING, JobStatus.RETRY)
        free = self.config.batch_concurrency - tx.count_jobs(
            workspace_id, live, batch_children=True
        )
        if free <= 0:
            return
        for queued in tx.oldest_jobs(workspace_id, JobStatus.QUEUED, free, batch_children=True):
            promoted = self._transition(tx, outbox, queued, JobStatus.PENDING)
            self._dispatch_after_commit(outbox, promoted.id)

    def _dispatch_after_commit(self, outbox: Outbox, job_id: str) -> None:
        if self.executor is not None:
            executor = self.executor
            outbox.after_commit.append(lambda: executor.submit(job_id))

    def _insert_created(
        self,
        tx: StoreTransaction,
        outbox: Outbox,
        job: Job,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
    ) -> None:
        """Write a new job and the "created" event that opens its log."""
        tx.insert_job(job, idempotency_key, fingerprint)
        outbox.events.append(tx.append_event(job, "created", status_data(job), job.created_at))

    def _cancel(self, tx: StoreTransaction, outbox: Outbox, job: Job) -> Job:
        """Cancel a job read for update; its executor is told once this commits."""
        if job.status not in CANCELLABLE:
            raise Conflict(
                f"job {job.id} is {job.status} and can no longer be cancelled",
                details={"current_status": str(job.status)},
            )
        job = self._transition(tx, outbox, job, JobStatus.CANCELLED, status_reason="cancelled")
        if self.executor is not None:
            executor, job_id = self.executor, job.id
            outbox.after_commit.append(lambda: executor.cancel(job_id))
        return job

    # -- access -------------------------------------------------------------

    def _load(self, tx: StoreTransaction, job_id: str, *, for_update: bool = False) -> Job:
        job = tx.get_job(job_id, for_update=for_update)
        if job is None:
            raise NotFound(f"no job {job_id}", details={"job_id": job_id})
        return job

    def _permissions(self, tx: StoreTransaction, actor: Actor, job: Job) -> Permissions:
        invited = needs_invite_lookup(actor, job) and tx.is_invited(job.id, actor.email or "")
        return permissions(actor, job, invited=invited)

    def _visible(self, tx: StoreTransaction, actor: Actor, job_id: str) -> tuple[Job, Permissions]:
        job = self._load(tx, job_id)
        perms = self._permissions(tx, actor, job)
        if not perms.see_row:
            raise NotFound(f"no job {job_id}", details={"job_id": job_id})
        return job, perms

    def _with_contents(self, tx: StoreTransaction, actor: Actor, job_id: str) -> Job:
        job, perms = self._visible(tx, actor, job_id)
        if not perms.see_contents:
            raise NotFound(f"no job {job_id}", details={"job_id": job_id})
        return job

    def _changeable(self, tx: StoreTransaction, actor: Actor, job_id: str) -> Job:
        job, perms = self._visible(tx, actor, job_id)
        if not perms.change:
            raise Forbidden(
                f"only the submitter or a workspace admin may change job {job_id}",
                details={"job_id": job_id},
            )
        return job

    @staticmethod
    def _member(actor: Actor) -> tuple[str, str, Role]:
        if actor.user is None or actor.workspace_id is None or actor.role is None:
            raise Forbidden("sign in to a workspace first")
        return actor.workspace_id, actor.user.id, actor.role

    def _readable_file(
        self, tx: StoreTransaction, actor: Actor, file_id: str
    ) -> tuple[Path, FileRecord]:
        """A saved file the actor may read (an upload of their workspace, or an
        output of a job whose contents they may see), and where its content is."""
        record = tx.get_file(file_id)
        if record is None or not self._may_read_file(tx, actor, record):
            raise NotFound(f"no file {file_id}", details={"file_id": file_id})
        path = self._file_path(record)
        if not path.is_file():
            raise NotFound(f"the content of file {file_id} is gone", details={"file_id": file_id})
        return path, record

    def _may_read_file(self, tx: StoreTransaction, actor: Actor, record: FileRecord) -> bool:
        if record.job_id is None:
            return actor.is_member_of(record.workspace_id)
        job = tx.get_job(record.job_id)
        return job is not None and self._permissions(tx, actor, job).see_contents

    def _file_path(self, record: FileRecord) -> Path:
        if record.job_id is not None:
            return self.files.job_dir(record.job_id) / record.name
        return self.files.upload_dir(record.id) / record.name


def usernames_in(tx: StoreTransaction, workspace_id: str) -> dict[str, str]:
    """User id to user name for the members of a workspace (to label submitters)."""
    return {m.user.id: m.user.username for m in tx.list_members(workspace_id)}


def status_data(job: Job) -> JsonDict:
    """What a job's status events record of it."""
    return {
        "status": str(job.status),
        "name": job.name,
        "tool": job.tool,
        "progress": job.progress,
        "progress_message": job.progress_message,
        "progress_estimated": job.progress_estimated,
        "eta_s": job.eta_s,
        "status_reason": job.status_reason,
        "error": job.error,
        "credits_charged": job.credits_charged,
        "attempts": job.attempts,
    }


def is_email(text: str) -> bool:
    return (
        len(text) <= MAX_EMAIL_LENGTH
        and _EMAIL.match(text) is not None
        and text_problem(text) is None
    )


def checked_name(name: str) -> str:
    """A name given to a job, stripped; refused when empty, too long or unstorable."""
    name = check_text(name, "name").strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ValidationError(
            f"a job name must be 1 to {MAX_NAME_LENGTH} characters",
            errors=[{"field": "name", "message": f"1 to {MAX_NAME_LENGTH} characters"}],
        )
    return name


def job_name(name: str | None, tool_name: str, now: datetime) -> str:
    """The name given, or the tool's name and the time."""
    if name is None:
        return f"{tool_name} {now:%Y-%m-%d %H:%M:%S}"
    return checked_name(name)


def derived_name(name: str, suffix: str) -> str:
    """The name of a job made from another (a retry, a copy)."""
    return f"{name} ({suffix})"[:MAX_NAME_LENGTH]
