"""What the domain needs from the layers below it, stated as protocols so that
``jobs/`` depends on no database, no executor and no tool implementation."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from .model import (
    Batch,
    Budget,
    Estimate,
    FileRecord,
    Invite,
    Job,
    JobEvent,
    JobInput,
    JsonDict,
    Member,
    Role,
    User,
    Workspace,
)
from .sorting import JobSort, SortValue
from .status import JobStatus


@dataclass(frozen=True)
class JobFilter:
    """What a job list asks for. With no ``batch_id`` the list is a history page and
    leaves batch children out; with one it lists that batch's children."""

    tool: str | None = None
    statuses: tuple[JobStatus, ...] = ()
    submitter_id: str | None = None
    name_contains: str | None = None
    batch_id: str | None = None


@dataclass(frozen=True)
class ClaimScope:
    """Which waiting jobs an engine may take from a shared store: the jobs that
    ``submitters`` (user names) submitted, and the jobs in ``job_ids`` (handed to
    it by the server it runs in). Jobs run under the account of whoever runs the
    engine, so an engine of one person's server never takes another person's
    job. An engine with no scope (the deployment's engine service) takes any."""

    submitters: tuple[str, ...] = ()
    job_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FileFilter:
    name_contains: str | None = None
    format: str | None = None
    origin: str | None = None
    owner_id: str | None = None


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    workspace_id: str
    kind: str
    delta: int
    key: str
    job_id: str | None
    batch_id: str | None
    actor_id: str | None
    note: str | None
    created_at: datetime
    budget_id: str | None = None


class StoreTransaction(Protocol):
    """One database transaction. Writes become visible together on commit."""

    # workspaces and people
    def lock_workspace(self, workspace_id: str) -> None: ...
    def get_workspace(self, workspace_id: str) -> Workspace | None: ...
    def insert_workspace(self, workspace: Workspace) -> None: ...
    def get_user(self, user_id: str) -> User | None: ...
    def get_user_by_username(self, username: str) -> User | None: ...
    def get_user_by_email(self, email: str) -> User | None: ...
    def insert_user(self, user: User) -> None: ...
    def set_user_email(self, user_id: str, email: str | None) -> None: ...
    def get_role(self, workspace_id: str, user_id: str) -> Role | None: ...
    def set_member(self, workspace_id: str, user_id: str, role: Role, at: datetime) -> None: ...
    def remove_member(self, workspace_id: str, user_id: str) -> None: ...
    def workspace_ids(self, prefix: str) -> list[str]:
        """The ids of the workspaces whose id starts with ``prefix``."""
        ...

    def list_members(self, workspace_id: str) -> list[Member]: ...
    def memberships(self, user_id: str) -> list[Member]: ...

    # jobs
    def insert_job(
        self, job: Job, idempotency_key: str | None, request_hash: str | None
    ) -> None: ...
    def get_job(self, job_id: str, *, for_update: bool = False, inputs: bool = True) -> Job | None:
        """The job; with ``inputs=False`` without its inputs (a receptor can be
        megabytes), for a write that changes its state alone, such as progress."""
        ...

    def job_state(self, job_id: str) -> tuple[JobStatus, str | None] | None:
        """Status and lease holder alone: polled while the job runs, so its inputs
        (a receptor can be megabytes) are not read each time."""
        ...

    def jobs_by_id(self, job_ids: Sequence[str]) -> list[Job]:
        """Those of the jobs that exist, without their inputs."""
        ...

    def find_idempotent(self, workspace_id: str, key: str) -> tuple[Job, str | None] | None: ...
    def update_job(self, job: Job, *, held_by: str | None = None) -> None:
        """Write the job's row. With ``held_by``, the write lands only while that
        runner holds the job's lease, checked in the same statement; otherwise
        ``LeaseLost`` is raised and the transaction rolls back."""
        ...

    def delete_job(self, job_id: str) -> None: ...
    def list_jobs(
        self,
        workspace_id: str,
        job_filter: JobFilter,
        after: tuple[SortValue, str] | None,
        limit: int,
        sort: JobSort = ...,
    ) -> list[tuple[Job, SortValue]]:
        """A page in ``sort``'s order after the (value, id) ``after``, each job with
        the value it was ordered by."""
        ...

    def count_jobs(
        self, workspace_id: str, statuses: Sequence[JobStatus], *, batch_children: bool = False
    ) -> int: ...
    def oldest_jobs(
        self, workspace_id: str, status: JobStatus, limit: int, *, batch_children: bool = False
    ) -> list[Job]: ...
    def any_live_job(self, scope: ClaimScope | None = None) -> bool: ...
    def live_job_ids(self, job_ids: Sequence[str]) -> set[str]: ...
    def recent_runs(self, workspace_id: str, tool: str, limit: int) -> list[tuple[float, int]]:
        """(seconds it ran, estimated credits) of the workspace's latest completed
        jobs of ``tool``, newest first."""
        ...

    def unheld_jobs(
        self,
        statuses: Sequence[JobStatus],
        now: datetime,
        limit: int,
        scope: ClaimScope | None = None,
    ) -> list[Job]: ...
    def renew_leases(
        self, owner: str, job_ids: Sequence[str], expires_at: datetime
    ) -> set[str]: ...

    # events
    def append_event(
        self,
        job: Job,
        kind: str,
        data: JsonDict,
        at: datetime,
    ) -> JobEvent: ...
    def list_events(self, job_id: str, after_seq: int = 0) -> list[JobEvent]: ...
    def events_after(self, after_seq: int, limit: int) -> list[JobEvent]:
        """Events of every job with ``seq`` above ``after_seq``, oldest first."""
        ...

    def events_by_seq(self, seqs: Sequence[int]) -> list[JobEvent]: ...
    def last_event_seq(self) -> int:
        """The highest ``seq`` visible now (0 with no events)."""
        ...

    def events_for_reader(
        self,
        workspace_id: str | None,
        user_id: str,
        email: str | None,
        after_seq: int,
        through_seq: int | None,
        limit: int,
    ) -> list[JobEvent]:
        """Events, oldest first, of jobs in the workspace, submitted by the user or
        with the email on their invite list; access is decided above the store."""
        ...

    def write_marks(self) -> tuple[int, int] | None:
        """``(oldest write still in flight, next write to start)`` as transaction
        numbers, or None where writes become visible in the order of their ``seq``
        (SQLite). Event feeds use them to tell a ``seq`` still to commit from one
        that never will (PostgreSQL can commit seq 11 before seq 10)."""
        ...

    # sharing
    def list_invites(self, job_id: str) -> list[Invite]: ...
    def set_invites(self, job_id: str, emails: Sequence[str], at: datetime) -> None: ...
    def is_invited(self, job_id: str, email: str) -> bool: ...

    # credits
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
    ) -> bool: ...
    def ledger_has(self, key: str) -> bool: ...
    def ledger_balance(self, workspace_id: str) -> int: ...
    def ledger_entries(
        self, workspace_id: str, *, job_id: str | None = None
    ) -> list[LedgerEntry]: ...

    # budgets
    def insert_budget(self, budget: Budget) -> None: ...
    def get_budget(self, budget_id: str, *, for_update: bool = False) -> Budget | None: ...
    def find_budget(self, workspace_id: str, name: str) -> Budget | None:
        """The open budget of this name."""
        ...

    def list_budgets(self, workspace_id: str, *, include_closed: bool = False) -> list[Budget]: ...
    def update_budget(self, budget: Budget) -> None: ...
    def budget_used(self, budget_id: str) -> int:
        """What the budget's jobs hold and were charged, net of refunds."""
        ...

    def budgets_use(self, budget_ids: Sequence[str]) -> dict[str, tuple[int, int, int]]:
        """Per budget: (held and charged, charged, jobs)."""
        ...

    def budget_job_ids(self, budget_id: str, limit: int) -> list[str]: ...
    def notebook_budget_credits(self, workspace_id: str) -> int | None: ...
    def set_notebook_budget_credits(self, workspace_id: str, credits: int | None) -> None: ...

    # files
    def insert_files(self, records: Sequence[FileRecord]) -> None: ...
    def get_file(self, file_id: str) -> FileRecord | None: ...
    def delete_file(self, file_id: str) -> None: ...
    def list_files(
        self,
        workspace_id: str,
        file_filter: FileFilter,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[FileRecord]: ...

    # batches
    def insert_batch(
        self, batch: Batch, idempotency_key: str | None = None, request_hash: str | None = None
    ) -> None: ...
    def find_idempotent_batch(self, workspace_id: str, key: str) -> tuple[Batch, str | None] | None:
        """The batch made with this key, and the fingerprint of its request."""
        ...

    def get_batch(self, batch_id: str) -> Batch | None:
        """The batch without its children (``child_ids`` is empty): they are read
        with ``batch_children`` or ``batches_children``."""
        ...

    def batch_children(self, batch_id: str) -> list[Job]: ...
    def batches_children(self, batch_ids: Sequence[str]) -> list[Job]:
        """The children of these batches, without their inputs, each batch's in
        the order they were created."""
        ...

    def list_batches(
        self, workspace_id: str, after: tuple[datetime, str] | None, limit: int
    ) -> list[Batch]: ...


class Store(Protocol):
    def write(self) -> AbstractContextManager[StoreTransaction]:
        """A transaction that will write (takes the write lock up front on SQLite)."""
        ...

    def read(self) -> AbstractContextManager[StoreTransaction]: ...


class JobFiles(Protocol):
    """Where a job's files live; they go when the job goes. Each run of a job
    writes into a folder of its own, named by its lease holder; only the run that
    ends the job, while it still holds the job, has its files moved into the job's
    folder (``publish``), so a run that lost its job never writes there."""

    def job_dir(self, job_id: str) -> Path: ...
    def attempt_dir(self, job_id: str, holder: str) -> Path: ...
    def publish(self, job_id: str, holder: str | None) -> None:
        """Move what ``holder``'s run wrote into the job's folder (over files of the
        same names), then drop the folders of every run of the job."""
        ...

    def discard(self, job_id: str, holder: str) -> None:
        """Drop what ``holder``'s run wrote."""
        ...

    def upload_dir(self, file_id: str) -> Path: ...
    def cache_dir(self) -> Path: ...
    def delete(self, job_id: str) -> None: ...


class StructureUnavailable(Exception):
    """A structure could not be fetched; the message says why (no such entry, the
    server not reachable) and names the entry."""


class StructureSource(Protocol):
    """Fetches a Protein Data Bank entry's coordinates as PDB text, at submit, so
    that the job stores the structure itself and runs where there is no internet."""

    def fetch(self, pdb_id: str) -> str:
        """The entry's PDB text; raises ``StructureUnavailable``."""
        ...


@dataclass(frozen=True)
class ToolAvailability:
    """Whether the workers of an executor can run a tool. ``reason`` says why not,
    naming what to install or set; ``blocking`` means no worker ever could (the
    workers are all this installation's own), so a submission is refused rather
    than left waiting for a worker that may join later."""

    reason: str | None = None
    blocking: bool = False

    @property
    def available(self) -> bool:
        return self.reason is None


class Executor(Protocol):
    """Runs accepted jobs. The engine hands it a job id once the job is PENDING, and
    asks it to stop one that is cancelled; it says which tools its workers can run."""

    def submit(self, job_id: str) -> None: ...
    def cancel(self, job_id: str) -> None: ...
    def availability(self, tool_id: str) -> ToolAvailability: ...


# A tool's parsed settings (a pydantic model in practice); the domain only stores
# ``model_dump(mode="json")`` of it.
Settings = Any


class ToolSpec(Protocol):
    """What the domain asks of a tool before a job exists."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def limits(self) -> JsonDict: ...
    @property
    def billed_by_use(self) -> bool:
        """Whether the tool is charged by what it uses as it runs (its estimate
        being the least it costs)."""
        ...

    def parse_settings(self, raw: JsonDict | None) -> Settings: ...
    def validate(self, inputs: Sequence[JobInput], settings: Settings) -> None: ...
    def estimate(self, inputs: Sequence[JobInput], settings: Settings) -> Estimate: ...
    def with_slot_kinds(self, inputs: Sequence[JobInput]) -> tuple[JobInput, ...]: ...
    def batch_items(
        self, inputs: Sequence[JobInput], settings: Settings
    ) -> list[list[JobInput]]: ...


class ToolCatalog(Protocol):
    def get(self, tool_id: str) -> ToolSpec: ...
