"""The nouns of the domain: plain, immutable values that every layer passes around."""

from __future__ import annotations

import mimetypes
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .status import JobStatus

if TYPE_CHECKING:
    from .provenance import Provenance

JsonDict = dict[str, Any]


def new_id(prefix: str) -> str:
    """An unguessable identifier: 128 random bits, since a public link is the id."""
    return f"{prefix}_{secrets.token_hex(16)}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"

    @property
    def manages_workspace(self) -> bool:
        return self in (Role.OWNER, Role.ADMIN)

    @property
    def may_submit(self) -> bool:
        return self is not Role.VIEWER


class Visibility(StrEnum):
    PRIVATE = "private"
    PUBLIC = "public"
    LOGGED_IN = "logged_in"
    INVITED = "invited"


#: The ids of the workspaces a deployment manages (a JupyterHub group's team).
MANAGED_PREFIX = "ws_hub_"


@dataclass(frozen=True)
class Workspace:
    id: str
    name: str
    plan: str
    created_at: datetime

    @property
    def managed(self) -> bool:
        """Whether its members follow the deployment (a JupyterHub group)."""
        return is_managed(self.id)


def is_managed(workspace_id: str) -> bool:
    return workspace_id.startswith(MANAGED_PREFIX)


@dataclass(frozen=True)
class User:
    id: str
    username: str
    email: str | None
    created_at: datetime


@dataclass(frozen=True)
class Member:
    """A user as seen inside one workspace."""

    user: User
    workspace_id: str
    role: Role


@dataclass(frozen=True)
class JobInput:
    """One item of a job's input, shaped as ``input.inputs[]`` of the ProteinIQ API."""

    id: str
    slot_id: str
    kind: str
    format: str
    content: str
    label: str | None = None
    #: A saved file the content comes from (``source.file_id`` in the API).
    file_id: str | None = None
    #: A Protein Data Bank entry the content was fetched from (``source.id`` of a
    #: ``{"type": "pdb"}`` source), kept so a job says where its structure came from.
    pdb_id: str | None = None


@dataclass(frozen=True)
class ResultFile:
    """One file a job produced, as listed in its manifest."""

    name: str
    format: str
    size: int
    content_type: str = ""

    def __post_init__(self) -> None:
        if not self.content_type:
            object.__setattr__(self, "content_type", content_type_for(self.name))


_CONTENT_TYPES = {
    ".pdb": "chemical/x-pdb",
    ".cif": "chemical/x-mmcif",
    ".mmcif": "chemical/x-mmcif",
    ".sdf": "chemical/x-mdl-sdfile",
    ".mol2": "chemical/x-mol2",
    ".pdbqt": "chemical/x-pdbqt",
    ".fasta": "text/x-fasta",
    ".smi": "chemical/x-daylight-smiles",
    ".json": "application/json",
    ".csv": "text/csv",
    ".txt": "text/plain",
    ".npz": "application/octet-stream",
}


def content_type_for(name: str) -> str:
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


@dataclass(frozen=True)
class ToolResult:
    """What a tool returns: ``fields`` describe the job as one row (these become CSV
    columns); ``rows`` is an optional table when a job yields one row per item
    (per sequence, per pose, per molecule)."""

    fields: JsonDict = field(default_factory=dict)
    rows: list[JsonDict] = field(default_factory=list)
    files: list[ResultFile] = field(default_factory=list)


@dataclass(frozen=True)
class Job:
    id: str
    workspace_id: str
    submitter_id: str
    tool: str
    name: str
    status: JobStatus
    inputs: tuple[JobInput, ...]
    settings: JsonDict
    created_at: datetime
    updated_at: datetime
    visibility: Visibility = Visibility.PRIVATE
    progress: float = 0.0
    progress_message: str | None = None
    #: The progress is the engine's estimate from past runs of the tool (the tool
    #: has no way to say how far it is), expected to end at ``progress_eta_at``.
    progress_estimated: bool = False
    progress_eta_at: datetime | None = None
    status_reason: str | None = None
    error: str | None = None
    result: ToolResult | None = None
    estimated_credits: int = 0
    credits_charged: int = 0
    attempts: int = 0
    batch_id: str | None = None
    origin_job_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    #: Who holds the job now (an engine that dispatched it, or the worker running
    #: it) and until when; an expired lease means the holder is gone.
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    #: What produced the result (``jobs.provenance``): recorded when the job runs;
    #: a job made from another says which from its creation.
    provenance: Provenance | None = None
    #: The budget the job counts against, if any.
    budget_id: str | None = None
    #: The most the job may be charged (``max_credits`` of its submission).
    max_credits: int | None = None
    #: What the job held at submit when that is more than its estimate (a tool
    #: billed by use holds its cap); None: it held its estimate.
    reserved_credits: int | None = None

    @property
    def held_credits(self) -> int:
        """What the job held when it was accepted."""
        return self.estimated_credits if self.reserved_credits is None else self.reserved_credits

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or utcnow()
        return max(0.0, (end - self.started_at).total_seconds())

    @property
    def eta_s(self) -> float | None:
        """Seconds left until the running job is expected to end, when known."""
        if self.status is not JobStatus.PROCESSING or self.progress_eta_at is None:
            return None
        return max(0.0, (self.progress_eta_at - utcnow()).total_seconds())


@dataclass(frozen=True)
class JobEvent:
    """One row of a job's event log. ``seq`` increases across the whole store, so it
    doubles as the id of a live event."""

    seq: int
    job_id: str
    workspace_id: str
    kind: str
    status: JobStatus
    data: JsonDict
    created_at: datetime


class FileOrigin(StrEnum):
    UPLOAD = "UPLOAD"
    JOB_OUTPUT = "JOB_OUTPUT"
    JOB_INPUT = "JOB_INPUT"
    IMPORT = "IMPORT"


@dataclass(frozen=True)
class FileRecord:
    """A file of the workspace: an upload, or a job's output listed across jobs."""

    id: str
    workspace_id: str
    owner_id: str
    job_id: str | None
    name: str
    format: str
    content_type: str
    size: int
    origin: FileOrigin
    created_at: datetime


@dataclass(frozen=True)
class Invite:
    email: str
    user_id: str | None

    @property
    def pending(self) -> bool:
        return self.user_id is None


@dataclass(frozen=True)
class Share:
    job_id: str
    visibility: Visibility
    invites: tuple[Invite, ...]


@dataclass(frozen=True)
class EstimateLine:
    label: str
    quantity: float
    unit_credits: int
    credits: int


@dataclass(frozen=True)
class Estimate:
    """A cost with the lines that make it up. One calculator gives both the quote
    and the charge, so they cannot disagree."""

    lines: tuple[EstimateLine, ...] = ()

    @property
    def credits(self) -> int:
        return sum(line.credits for line in self.lines)

    @property
    def is_free(self) -> bool:
        return self.credits == 0


@dataclass(frozen=True)
class Quote:
    tool: str
    estimate: Estimate
    available_credits: int
    blocking_errors: tuple[JsonDict, ...]
    active_concurrent_jobs: int
    max_concurrent_jobs: int | None
    #: The cap the request carries, shown beside the cost.
    max_credits: int | None = None
    #: The budget the run would count against, with what it has used.
    budget: BudgetUse | None = None
    #: Whether the tool charges by what it uses while it runs (the estimate is its
    #: least; it ends at ``max_credits`` when it would go past it).
    billed_by_use: bool = False

    @property
    def estimated_credits(self) -> int:
        return self.estimate.credits

    @property
    def billable_credits(self) -> int:
        return self.estimate.credits


@dataclass(frozen=True)
class Budget:
    """A named bound on what the jobs submitted under it may hold and spend: a
    member's own, or a notebook's (named by the notebook's path)."""

    id: str
    workspace_id: str
    name: str
    credits: int
    owner_id: str
    created_at: datetime
    notebook: bool = False
    closed_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class BudgetUse:
    """A budget with what its jobs hold and were charged (net of refunds)."""

    budget: Budget
    used: int = 0
    charged: int = 0
    jobs: int = 0
    job_ids: tuple[str, ...] = ()

    @property
    def reserved(self) -> int:
        return self.used - self.charged

    @property
    def remaining(self) -> int:
        return max(0, self.budget.credits - self.used)


@dataclass(frozen=True)
class Batch:
    id: str
    workspace_id: str
    submitter_id: str
    tool: str
    name: str
    created_at: datetime
    reserved_credits: int
    child_ids: tuple[str, ...] = ()
    budget_id: str | None = None
    #: Each child's cap.
    max_credits: int | None = None


@dataclass(frozen=True)
class BatchSummary:
    """A batch with what its children add up to."""

    batch: Batch
    counts: dict[str, int]
    progress: float
    credits_charged: int

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def status(self) -> str:
        """PROCESSING while any child is live; otherwise COMPLETED when every child
        completed, CANCELLED when every child was cancelled, FAILED when none
        completed, PARTIAL in between."""
        live = sum(self.counts.get(str(s), 0) for s in JobStatus if s.is_live)
        if live:
            return "PROCESSING"
        completed = self.counts.get(str(JobStatus.COMPLETED), 0)
        if completed == self.total:
            return "COMPLETED"
        if self.counts.get(str(JobStatus.CANCELLED), 0) == self.total:
            return "CANCELLED"
        return "FAILED" if completed == 0 else "PARTIAL"


@dataclass(frozen=True)
class Page:
    """One page of a keyset-paginated list."""

    items: list[Any]
    next_cursor: str | None

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None
