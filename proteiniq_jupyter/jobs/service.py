"""JobService: every business rule of the job system in one place.

Faces (HTTP handlers, the CLI, magics, widgets) parse a request, call one method
here and render what comes back. Executors call the engine-facing methods
(``start``, ``progress``, ``complete``, ``fail``, ``time_out``) to report what
really happened. Every status change goes through ``_transition``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from . import credits
from .access import Actor, Permissions, needs_invite_lookup, permissions
from .errors import (
    ConcurrentJobLimitExceeded,
    Conflict,
    DuplicateRecord,
    Forbidden,
    InsufficientCredits,
    JobNotCompleted,
    NotFound,
    PayloadTooLarge,
    ValidationError,
)
from .events import EventBus
from .export import to_csv, to_json
from .model import (
    Batch,
    BatchSummary,
    Estimate,
    FileOrigin,
    FileRecord,
    Job,
    JobEvent,
    JobInput,
    JsonDict,
    Member,
    Page,
    Quote,
    ResultFile,
    Role,
    Share,
    ToolResult,
    User,
    Visibility,
    Workspace,
    content_type_for,
    new_id,
    utcnow,
)
from .ports import (
    Executor,
    FileFilter,
    JobFiles,
    JobFilter,
    LedgerEntry,
    Store,
    StoreTransaction,
    StructureSource,
    StructureUnavailable,
    ToolCatalog,
    ToolSpec,
)
from .status import CANCELLABLE, RETRYABLE, JobStatus, check_transition

MAX_NAME_LENGTH = 300
#: Engines name the holds they take on jobs they dispatch with this prefix; a
#: runner that the job was dispatched to takes such a hold over when it claims it.
ENGINE_LEASE_PREFIX = "engine:"
MAX_PAGE = 100
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


#: A PDB id: four characters, a digit first (1ABC), or an extended one (pdb_00001abc).
_PDB_ID = re.compile(r"(?:[0-9][A-Za-z0-9]{3}|pdb_[0-9A-Za-z]{8})", re.IGNORECASE)


def normalise_pdb_id(text: str) -> str | None:
    """The id as the PDB writes it (1ABC, pdb_00001abc), or None if it is not one."""
    candidate = text.strip()
    if not _PDB_ID.fullmatch(candidate):
        return None
    return candidate.lower() if candidate.lower().startswith("pdb_") else candidate.upper()


def _source_error(index: int, field: str, message: str) -> ValidationError:
    return ValidationError(
        f"input {index + 1}: {message}", errors=[{"field": field, "message": message}]
    )


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


@dataclass(frozen=True)
class Account:
    workspace: Workspace
    role: Role
    available_credits: int
    active_jobs: int
    max_concurrent_jobs: int | None

    def to_api(self) -> JsonDict:
        remaining = (
            None
            if self.max_concurrent_jobs is None
            else max(0, self.max_concurrent_jobs - self.active_jobs)
        )
        return {
            "object": "account",
            "workspace": {
                "id": self.workspace.id,
                "name": self.workspace.name,
                "plan": self.workspace.plan,
                "credits": {"available": self.available_credits},
            },
            "role": str(self.role),
            "limits": {
                "active_jobs": self.active_jobs,
                "concurrent_jobs": {"max": self.max_concurrent_jobs, "remaining": remaining},
            },
        }


@dataclass
class _Outbox:
    """Events written in a transaction, published only once it has committed."""

    events: list[JobEvent] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)


def _cursor(created_at: datetime, row_id: str) -> str:
    raw = f"{created_at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def encode_cursor(job: Job) -> str:
    return _cursor(job.created_at, job.id)


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(
            f"limit must be between 1 and {MAX_PAGE}",
            errors=[{"field": "limit", "message": f"must be between 1 and {MAX_PAGE}"}],
        )


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, job_id = raw.split("|", 1)
        return datetime.fromisoformat(created), job_id
    except (ValueError, UnicodeDecodeError):
        raise ValidationError(
            "starting_after is not a cursor from this server",
            errors=[{"field": "starting_after", "message": "not a cursor from this server"}],
        ) from None


def request_hash(tool: str, inputs: Sequence[JobInput], settings: JsonDict | None) -> str:
    body = {"tool": tool, "inputs": [i.to_api() for i in inputs], "settings": settings or {}}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _redacted(job: Job) -> Job:
    return replace(job, inputs=(), settings={}, result=None, error=None)


class JobService:
    def __init__(
        self,
        store: Store,
        tools: ToolCatalog,
        files: JobFiles,
        *,
        config: ServiceConfig | None = None,
        bus: EventBus | None = None,
        clock: Callable[[], datetime] = utcnow,
        structures: StructureSource | None = None,
    ) -> None:
        self.store = store
        self.tools = tools
        self.files = files
        #: Where structures named by PDB id come from; None: such inputs are refused.
        self.structures = structures
        self.config = config or ServiceConfig()
        self.bus = bus or EventBus()
        self.clock = clock
        self.executor: Executor | None = None

    def attach_executor(self, executor: Executor | None) -> None:
        self.executor = executor

    # -- plumbing -----------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[tuple[StoreTransaction, _Outbox]]:
        outbox = _Outbox()
        with self.store.write() as tx:
            yield tx, outbox
        self.bus.publish(outbox.events)
        for action in outbox.after_commit:
            action()

    def _transition(
        self,
        tx: StoreTransaction,
        outbox: _Outbox,
        job: Job,
        target: JobStatus,
        **changes: Any,
    ) -> Job:
        """The one function that changes a status: checks legality, applies the
        credit rule for the new status, writes the job and logs the event."""
        check_transition(job.id, job.status, target)
        now = self.clock()
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
        tx.update_job(job)
        outbox.events.append(tx.append_event(job, "status", _status_data(job), now))
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

    def _promote_queued(self, tx: StoreTransaction, outbox: _Outbox, workspace_id: str) -> None:
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

    def _dispatch_after_commit(self, outbox: _Outbox, job_id: str) -> None:
        if self.executor is not None:
            executor = self.executor
            outbox.after_commit.append(lambda: executor.submit(job_id))

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

    # -- people and workspaces ---------------------------------------------

    def sign_in(
        self, username: str, *, email: str | None = None, workspace_id: str | None = None
    ) -> Actor:
        """The actor for a deployment identity. A first sign-in creates the user and
        a personal workspace holding the starting grant."""
        username = username.strip()
        if not username:
            raise ValidationError("a user name is required")
        if email is not None and not _EMAIL.match(email):
            raise ValidationError(f"{email!r} is not an email address")
        try:
            return self._sign_in(username, email, workspace_id)
        except DuplicateRecord:
            # Two first sign-ins of one user raced; the other one created it.
            return self._sign_in(username, email, workspace_id)

    def _sign_in(self, username: str, email: str | None, workspace_id: str | None) -> Actor:
        with self._write() as (tx, _):
            if email is not None:
                holder = tx.get_user_by_email(email)
                if holder is not None and holder.username != username:
                    raise Conflict(f"the email {email} belongs to another user")
            user = tx.get_user_by_username(username)
            if user is None:
                now = self.clock()
                user = User(id=new_id("usr"), username=username, email=email, created_at=now)
                tx.insert_user(user)
                workspace = Workspace(
                    id=new_id("ws"),
                    name=f"{username}'s workspace",
                    plan=self.config.plan,
                    created_at=now,
                )
                tx.insert_workspace(workspace)
                tx.set_member(workspace.id, user.id, Role.OWNER, now)
                if self.config.starting_credits > 0:
                    credits.grant(
                        tx,
                        workspace.id,
                        self.config.starting_credits,
                        grant_key=f"{workspace.id}:starting-grant",
                        at=now,
                        note="starting grant",
                    )
            elif email is not None and (user.email or "").lower() != email.lower():
                tx.set_user_email(user.id, email)
                user = replace(user, email=email.lower())
            memberships = tx.memberships(user.id)
        chosen = _choose_membership(memberships, workspace_id)
        return Actor(user=user, workspace_id=chosen.workspace_id, role=chosen.role)

    def add_member(
        self, actor: Actor, username: str, role: Role, *, email: str | None = None
    ) -> Member:
        """Add (or change the role of) a teammate. Admins cannot make owners or admins."""
        workspace_id, _, actor_role = self._member(actor)
        if not actor_role.manages_workspace:
            raise Forbidden("only a workspace owner or admin may add members")
        if actor_role is Role.ADMIN and role in (Role.OWNER, Role.ADMIN):
            raise Forbidden("an admin cannot make owners or admins")
        joined = self.sign_in(username, email=email)
        assert joined.user is not None
        with self._write() as (tx, _):
            current = tx.get_role(workspace_id, joined.user.id)
            if actor_role is Role.ADMIN and current in (Role.OWNER, Role.ADMIN):
                raise Forbidden("an admin cannot change an owner or another admin")
            tx.set_member(workspace_id, joined.user.id, role, self.clock())
        return Member(user=joined.user, workspace_id=workspace_id, role=role)

    def usernames(self, actor: Actor) -> dict[str, str]:
        """User id to user name for the actor's workspace (to label submitters)."""
        return {m.user.id: m.user.username for m in self.members(actor)}

    def members(self, actor: Actor) -> list[Member]:
        workspace_id, _, _ = self._member(actor)
        with self.store.read() as tx:
            return tx.list_members(workspace_id)

    # -- credits ------------------------------------------------------------

    def account(self, actor: Actor) -> Account:
        workspace_id, _, role = self._member(actor)
        with self.store.read() as tx:
            workspace = tx.get_workspace(workspace_id)
            assert workspace is not None
            return Account(
                workspace=workspace,
                role=role,
                available_credits=credits.available(tx, workspace_id),
                active_jobs=tx.count_jobs(workspace_id, sorted(CANCELLABLE)),
                max_concurrent_jobs=self.config.max_concurrent_jobs,
            )

    def grant_credits(self, actor: Actor, amount: int, *, note: str | None = None) -> int:
        """Add credits to the workspace; returns the new balance."""
        workspace_id, user_id, role = self._member(actor)
        if not role.manages_workspace:
            raise Forbidden("only a workspace owner or admin may grant credits")
        if not isinstance(amount, int) or amount <= 0:
            raise ValidationError(
                f"amount must be a positive whole number of credits, got {amount!r}"
            )
        with self._write() as (tx, _):
            tx.lock_workspace(workspace_id)
            credits.grant(
                tx,
                workspace_id,
                amount,
                grant_key=new_id("grant"),
                at=self.clock(),
                actor_id=user_id,
                note=note,
            )
            return credits.available(tx, workspace_id)

    def ledger(self, actor: Actor, *, job_id: str | None = None) -> list[LedgerEntry]:
        workspace_id, _, _ = self._member(actor)
        with self.store.read() as tx:
            return tx.ledger_entries(workspace_id, job_id=job_id)

    # -- quoting and submitting --------------------------------------------

    def _resolve_sources(self, actor: Actor, inputs: Sequence[JobInput]) -> tuple[JobInput, ...]:
        """Inputs that name where their content is, rather than carrying it, get it:
        a saved file's text (``source.file_id``), or a PDB entry fetched now
        (``source`` of type ``pdb``), so that the job holds the structure itself."""
        resolved = []
        for index, item in enumerate(inputs):
            if not item.content and item.file_id:
                item = self._from_file(actor, index, item)
            elif not item.content and item.pdb_id is not None:
                item = self._from_pdb(index, item)
            resolved.append(item)
        return tuple(resolved)

    def _from_file(self, actor: Actor, index: int, item: JobInput) -> JobInput:
        assert item.file_id is not None
        field = f"input.inputs[{index}].source.file_id"
        try:
            path, record = self.get_file(actor, item.file_id)
            content = path.read_text(encoding="utf-8")
        except NotFound:
            raise _source_error(index, field, f"no file {item.file_id}") from None
        except UnicodeDecodeError:
            raise _source_error(index, field, f"file {item.file_id} is not UTF-8 text") from None
        return replace(
            item,
            content=content,
            format=item.format or record.format,
            label=item.label or record.name,
        )

    def _from_pdb(self, index: int, item: JobInput) -> JobInput:
        assert item.pdb_id is not None
        field = f"input.inputs[{index}].source.id"
        pdb_id = normalise_pdb_id(item.pdb_id)
        if pdb_id is None:
            raise _source_error(
                index,
                field,
                f"{item.pdb_id!r} is not a PDB id: four characters, a digit first "
                "(1ABC), or an extended id (pdb_00001abc)",
            )
        if item.format and item.format.lower() != "pdb":
            raise _source_error(
                index,
                f"input.inputs[{index}].format",
                f"PDB entry {pdb_id} is fetched as PDB text, but the input's format is "
                f"{item.format!r}: set it to pdb, or leave it out",
            )
        if self.structures is None:
            raise _source_error(
                index,
                field,
                f"fetching PDB entry {pdb_id} is switched off here (PIQ_PDB_URL is "
                "empty): send the structure's text or a saved file instead",
            )
        try:
            content = self.structures.fetch(pdb_id)
        except StructureUnavailable as exc:
            raise _source_error(index, field, str(exc)) from None
        return replace(
            item, content=content, format="pdb", label=item.label or pdb_id, pdb_id=pdb_id
        )

    def _prepare(
        self, tool_id: str, inputs: Sequence[JobInput], settings: JsonDict | None
    ) -> tuple[Any, JsonDict, int, Any]:
        """Validate a request against its tool: the parsed settings (defaults filled
        in), and the estimate. Raises ValidationError; touches nothing."""
        tool = self._requested_tool(tool_id)
        parsed = tool.parse_settings(settings)
        tool.validate(inputs, parsed)
        estimate = tool.estimate(inputs, parsed)
        return tool, dict(parsed.model_dump(mode="json")), estimate.credits, estimate

    def _requested_tool(self, tool_id: str) -> ToolSpec:
        """The tool a request names; an unknown one is an input error."""
        try:
            return self.tools.get(tool_id)
        except NotFound as exc:
            raise ValidationError(
                exc.message, errors=[{"field": "tool", "message": exc.message}]
            ) from None

    def quote(
        self, actor: Actor, tool_id: str, inputs: Sequence[JobInput], settings: JsonDict | None
    ) -> Quote:
        """What a run would cost and whether it could start now. Problems are listed
        as blocking errors rather than raised, so a form can show them all."""
        workspace_id, _, _ = self._member(actor)
        blocking: list[JsonDict] = []
        estimate = Estimate()
        try:
            inputs = self._resolve_sources(actor, inputs)
            _, _, _, estimate = self._prepare(tool_id, inputs, settings)
        except ValidationError as exc:
            blocking.extend({"code": exc.code, **error} for error in exc.errors)
        with self.store.read() as tx:
            available = credits.available(tx, workspace_id)
            active = tx.count_jobs(workspace_id, sorted(CANCELLABLE))
        if estimate.credits > available:
            blocking.append(
                {
                    "code": "insufficient_credits",
                    "message": f"needs {estimate.credits} credits, {available} available",
                }
            )
        limit = self.config.max_concurrent_jobs
        if limit is not None and active >= limit:
            blocking.append(
                {
                    "code": "concurrent_job_limit_exceeded",
                    "message": f"{active} jobs are running; the limit is {limit}",
                }
            )
        return Quote(
            tool=tool_id,
            estimate=estimate,
            available_credits=available,
            blocking_errors=tuple(blocking),
            active_concurrent_jobs=active,
            max_concurrent_jobs=limit,
        )

    def submit(
        self,
        actor: Actor,
        tool_id: str,
        inputs: Sequence[JobInput],
        settings: JsonDict | None = None,
        *,
        name: str | None = None,
        idempotency_key: str | None = None,
        origin_job_id: str | None = None,
    ) -> Job:
        """Accept a job: validated, priced and its credits held, or refused with
        nothing created. A repeated idempotency key returns the first job."""
        workspace_id, user_id, role = self._member(actor)
        if not role.may_submit:
            raise Forbidden("a viewer cannot run jobs")
        inputs = self._resolve_sources(actor, inputs)
        if idempotency_key is not None and not 0 < len(idempotency_key) <= 255:
            raise ValidationError("Idempotency-Key must be 1 to 255 characters")
        fingerprint = request_hash(tool_id, inputs, settings) if idempotency_key else None
        if idempotency_key:
            with self.store.read() as tx:
                earlier = tx.find_idempotent(workspace_id, idempotency_key)
            if earlier is not None:
                return _same_request(earlier, fingerprint)
        tool, parsed, cost, _ = self._prepare(tool_id, inputs, settings)
        now = self.clock()
        job = Job(
            id=new_id("job"),
            workspace_id=workspace_id,
            submitter_id=user_id,
            tool=tool_id,
            name=_job_name(name, tool.name, now),
            status=JobStatus.PENDING,
            inputs=inputs,
            settings=parsed,
            created_at=now,
            updated_at=now,
            estimated_credits=cost,
            origin_job_id=origin_job_id,
        )
        with self._write() as (tx, outbox):
            tx.lock_workspace(workspace_id)
            if idempotency_key:
                earlier = tx.find_idempotent(workspace_id, idempotency_key)
                if earlier is not None:
                    return _same_request(earlier, fingerprint)
            self._check_concurrency(tx, workspace_id)
            credits.reserve(tx, job, now)
            tx.insert_job(job, idempotency_key, fingerprint)
            outbox.events.append(tx.append_event(job, "created", _status_data(job), now))
            self._dispatch_after_commit(outbox, job.id)
        return job

    def _check_concurrency(self, tx: StoreTransaction, workspace_id: str) -> None:
        limit = self.config.max_concurrent_jobs
        if limit is None:
            return
        active = tx.count_jobs(workspace_id, sorted(CANCELLABLE))
        if active >= limit:
            raise ConcurrentJobLimitExceeded(
                f"{active} jobs are already running or waiting; the workspace limit is {limit}",
                details={"active_concurrent_jobs": active, "max_concurrent_jobs": limit},
            )

    # -- batches --------------------------------------------------------------

    def submit_batch(
        self,
        actor: Actor,
        tool_id: str,
        items: Sequence[Sequence[JobInput]],
        settings: JsonDict | None = None,
        *,
        name: str | None = None,
    ) -> BatchSummary:
        """One job per item, run as a batch: every item validated first (a bad one
        refuses the whole batch, naming it), the total held up front, children
        beyond the workspace's batch concurrency QUEUED until a slot opens."""
        workspace_id, user_id, role = self._member(actor)
        if not role.may_submit:
            raise Forbidden("a viewer cannot run jobs")
        limit = self._batch_limit(tool_id)
        if not 1 <= len(items) <= limit:
            raise ValidationError(
                f"a {tool_id} batch takes 1 to {limit} items, got {len(items)}",
                errors=[{"field": "items", "message": f"1 to {limit} items"}],
            )
        prepared = []
        errors: list[JsonDict] = []
        for number, given in enumerate(items, start=1):
            try:
                item = self._resolve_sources(actor, given)
                tool, parsed, cost, _ = self._prepare(tool_id, item, settings)
            except ValidationError as exc:
                errors.extend(
                    {**e, "item": number, "message": f"item {number}: {e['message']}"}
                    for e in exc.errors
                )
            else:
                prepared.append((tuple(item), parsed, cost))
        if errors:
            raise ValidationError("; ".join(e["message"] for e in errors), errors=errors)
        now = self.clock()
        batch = Batch(
            id=new_id("batch"),
            workspace_id=workspace_id,
            submitter_id=user_id,
            tool=tool_id,
            name=_job_name(name, f"{tool.name} batch", now),
            created_at=now,
            reserved_credits=sum(cost for _, _, cost in prepared),
        )
        with self._write() as (tx, outbox):
            tx.lock_workspace(workspace_id)
            balance = credits.available(tx, workspace_id)
            if balance < batch.reserved_credits:
                raise InsufficientCredits(
                    f"this batch needs {batch.reserved_credits} credits and the workspace "
                    f"has {balance} available",
                    details={
                        "required_credits": batch.reserved_credits,
                        "available_credits": balance,
                    },
                )
            tx.insert_batch(batch)
            credits.reserve_batch(tx, batch, now)
            for number, (inputs, parsed, cost) in enumerate(prepared, start=1):
                child = Job(
                    id=new_id("job"),
                    workspace_id=workspace_id,
                    submitter_id=user_id,
                    tool=tool_id,
                    name=f"{batch.name} #{number}",
                    status=JobStatus.QUEUED,
                    inputs=inputs,
                    settings=parsed,
                    created_at=now,
                    updated_at=now,
                    estimated_credits=cost,
                    batch_id=batch.id,
                )
                tx.insert_job(child, None, None)
                outbox.events.append(tx.append_event(child, "created", _status_data(child), now))
            self._promote_queued(tx, outbox, workspace_id)
        return self.get_batch(actor, batch.id)

    def submit_batch_input(
        self,
        actor: Actor,
        tool_id: str,
        inputs: Sequence[JobInput],
        settings: JsonDict | None = None,
        *,
        name: str | None = None,
    ) -> BatchSummary:
        """A batch given as one input that the tool splits into its children: a
        receptor with several ligands docked one by one, a list of sequences or
        complexes, one per line."""
        tool = self._requested_tool(tool_id)
        resolved = self._resolve_sources(actor, inputs)
        items = tool.batch_items(resolved, tool.parse_settings(settings))
        return self.submit_batch(actor, tool_id, items, settings, name=name)

    def _batch_limit(self, tool_id: str) -> int:
        try:
            declared = self.tools.get(tool_id).limits.get("max_batch_items")
        except NotFound:
            declared = None
        return int(declared) if declared else self.config.max_batch_items

    def get_batch(self, actor: Actor, batch_id: str) -> BatchSummary:
        workspace_id, _, _ = self._member(actor)
        with self.store.read() as tx:
            batch = tx.get_batch(batch_id)
            if batch is None or batch.workspace_id != workspace_id:
                raise NotFound(f"no batch {batch_id}", details={"batch_id": batch_id})
            children = tx.batch_children(batch_id)
        counts: dict[str, int] = {}
        for child in children:
            counts[str(child.status)] = counts.get(str(child.status), 0) + 1
        done = [1.0 if c.status.is_terminal else c.progress for c in children]
        return BatchSummary(
            batch=batch,
            counts=counts,
            progress=sum(done) / len(done) if done else 0.0,
            credits_charged=sum(c.credits_charged for c in children),
        )

    def list_batches(
        self, actor: Actor, *, starting_after: str | None = None, limit: int = 20
    ) -> tuple[list[BatchSummary], str | None]:
        workspace_id, _, _ = self._member(actor)
        _check_limit(limit)
        after = decode_cursor(starting_after) if starting_after else None
        with self.store.read() as tx:
            rows = tx.list_batches(workspace_id, after, limit + 1)
        summaries = [self.get_batch(actor, b.id) for b in rows[:limit]]
        more = len(rows) > limit
        return summaries, (
            _cursor(rows[limit - 1].created_at, rows[limit - 1].id) if more else None
        )

    def cancel_batch(self, actor: Actor, batch_id: str) -> BatchSummary:
        """Cancel every child still waiting or running."""
        self._changeable_batch(actor, batch_id)
        with self.store.read() as tx:
            live = [c.id for c in tx.batch_children(batch_id) if c.status in CANCELLABLE]
        for job_id in live:
            try:
                self.cancel(actor, job_id)
            except Conflict:
                continue  # it finished meanwhile
        return self.get_batch(actor, batch_id)

    def retry_failed_children(self, actor: Actor, batch_id: str) -> list[Job]:
        """Run again, in the same batch, only the children that failed, timed out
        or were cancelled (once each: a child already re-run is not re-run again).
        Each new child holds its own credits, charged as usual."""
        workspace_id = self._changeable_batch(actor, batch_id).workspace_id
        with self.store.read() as tx:
            children = tx.batch_children(batch_id)
        rerun = {c.origin_job_id for c in children if c.origin_job_id}
        failed = [c for c in children if c.status in RETRYABLE and c.id not in rerun]
        created: list[Job] = []
        with self._write() as (tx, outbox):
            tx.lock_workspace(workspace_id)
            now = self.clock()
            for old in failed:
                child = replace(
                    old,
                    id=new_id("job"),
                    name=_derived_name(old.name, "retry"),
                    status=JobStatus.QUEUED,
                    created_at=now,
                    updated_at=now,
                    progress=0.0,
                    progress_message=None,
                    status_reason=None,
                    error=None,
                    result=None,
                    credits_charged=0,
                    attempts=0,
                    origin_job_id=old.id,
                    started_at=None,
                    finished_at=None,
                    lease_owner=None,
                    lease_expires_at=None,
                    visibility=Visibility.PRIVATE,
                )
                credits.reserve(tx, child, now)
                tx.insert_job(child, None, None)
                outbox.events.append(tx.append_event(child, "created", _status_data(child), now))
                created.append(child)
            self._promote_queued(tx, outbox, workspace_id)
            fresh = [tx.get_job(job.id) for job in created]
        return [job for job in fresh if job is not None]

    def _changeable_batch(self, actor: Actor, batch_id: str) -> Batch:
        summary = self.get_batch(actor, batch_id)
        _, user_id, role = self._member(actor)
        if summary.batch.submitter_id != user_id and not role.manages_workspace:
            raise Forbidden(f"only the submitter or a workspace admin may change batch {batch_id}")
        return summary.batch

    # -- files ------------------------------------------------------------------

    def upload_file(
        self, actor: Actor, name: str, content: bytes, *, format: str | None = None
    ) -> FileRecord:
        """Save a file in the workspace, to be used as a job input by its id."""
        workspace_id, user_id, role = self._member(actor)
        if not role.may_submit:
            raise Forbidden("a viewer cannot upload files")
        name = name.strip()
        if not name or len(name) > 255 or "/" in name or "\\" in name or name.startswith("."):
            raise ValidationError(
                f"{name!r} is not a plain file name",
                errors=[{"field": "name", "message": "a plain file name of 1 to 255 characters"}],
            )
        limit = self.config.max_upload_bytes
        if len(content) > limit:
            raise PayloadTooLarge(
                f"{name} is {len(content)} bytes; the limit is {limit}",
                details={"size": len(content), "max_bytes": limit},
            )
        record = FileRecord(
            id=new_id("file"),
            workspace_id=workspace_id,
            owner_id=user_id,
            job_id=None,
            name=name,
            format=(format or name.rpartition(".")[2] if "." in name else format or "").lower(),
            content_type=content_type_for(name),
            size=len(content),
            origin=FileOrigin.UPLOAD,
            created_at=self.clock(),
        )
        folder = self.files.upload_dir(record.id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
        try:
            with self.store.write() as tx:
                tx.insert_files([record])
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return record

    def _file_path(self, record: FileRecord) -> Path:
        if record.job_id is not None:
            return self.files.job_dir(record.job_id) / record.name
        return self.files.upload_dir(record.id) / record.name

    def _may_read_file(self, tx: StoreTransaction, actor: Actor, record: FileRecord) -> bool:
        if record.job_id is None:
            return actor.is_member_of(record.workspace_id)
        job = tx.get_job(record.job_id)
        return job is not None and self._permissions(tx, actor, job).see_contents

    def get_file(self, actor: Actor, file_id: str) -> tuple[Path, FileRecord]:
        with self.store.read() as tx:
            record = tx.get_file(file_id)
            if record is None or not self._may_read_file(tx, actor, record):
                raise NotFound(f"no file {file_id}", details={"file_id": file_id})
        path = self._file_path(record)
        if not path.is_file():
            raise NotFound(f"the content of file {file_id} is gone", details={"file_id": file_id})
        return path, record

    def list_files(
        self,
        actor: Actor,
        file_filter: FileFilter | None = None,
        *,
        starting_after: str | None = None,
        limit: int = 20,
    ) -> tuple[list[FileRecord], str | None]:
        """The workspace's files, newest first: uploads, and the outputs of jobs
        whose contents the actor may see."""
        workspace_id, _, _ = self._member(actor)
        _check_limit(limit)
        after = decode_cursor(starting_after) if starting_after else None
        file_filter = file_filter or FileFilter()
        visible: list[FileRecord] = []
        more = False
        with self.store.read() as tx:
            while len(visible) <= limit:
                rows = tx.list_files(workspace_id, file_filter, after, limit + 1)
                for record in rows:
                    if self._may_read_file(tx, actor, record):
                        visible.append(record)
                if len(rows) <= limit:
                    break
                after = (rows[-1].created_at, rows[-1].id)
        more = len(visible) > limit
        page = visible[:limit]
        cursor = _cursor(page[-1].created_at, page[-1].id) if more and page else None
        return page, cursor

    def delete_file(self, actor: Actor, file_id: str) -> None:
        """Delete an upload (its owner, or a workspace admin). Job outputs go with
        their job."""
        path, record = self.get_file(actor, file_id)
        _, user_id, role = self._member(actor)
        if record.job_id is not None:
            raise Conflict(
                "a job's output is deleted with its job", details={"job_id": record.job_id}
            )
        if record.owner_id != user_id and not role.manages_workspace:
            raise Forbidden("only the uploader or a workspace admin may delete this file")
        with self.store.write() as tx:
            tx.delete_file(file_id)
        shutil.rmtree(path.parent, ignore_errors=True)

    # -- reading ------------------------------------------------------------

    def get(self, actor: Actor, job_id: str) -> JobView:
        with self.store.read() as tx:
            job, perms = self._visible(tx, actor, job_id)
        return JobView(job if perms.see_contents else _redacted(job), perms)

    def list_jobs(
        self,
        actor: Actor,
        job_filter: JobFilter | None = None,
        *,
        starting_after: str | None = None,
        limit: int = 20,
    ) -> Page:
        """A page of the workspace's history, newest first (``Page.items`` are
        JobViews). Rows of jobs whose contents the actor may not see are emptied."""
        workspace_id, _, _ = self._member(actor)
        _check_limit(limit)
        after = decode_cursor(starting_after) if starting_after else None
        job_filter = job_filter or JobFilter()
        with self.store.read() as tx:
            if job_filter.batch_id is not None:
                batch = tx.get_batch(job_filter.batch_id, with_children=False)
                if batch is None or batch.workspace_id != workspace_id:
                    raise NotFound(f"no batch {job_filter.batch_id}")
            rows = tx.list_jobs(workspace_id, job_filter, after, limit + 1)
            views = []
            for job in rows[:limit]:
                perms = self._permissions(tx, actor, job)
                views.append(JobView(job if perms.see_contents else _redacted(job), perms))
        next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        return Page(items=views, next_cursor=next_cursor)

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
            audience = self._audience(tx, job)
            log = tx.list_events(job_id, 0)
        if through_seq is not None:
            log = [e for e in log if e.seq <= through_seq]
        status = log[-1].status if log else None
        readable = (event_for_reader(actor, e, audience, job_stream=True) for e in log)
        return [e for e in readable if e is not None and e.seq > after_seq], status

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
            audiences = {job.id: self._audience(tx, job) for job in self._jobs_of(tx, rows)}
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
        """Engine-facing: who may read events of each job (a live feed filters
        with this per reader). Jobs deleted since are left out."""
        ids = sorted(set(job_ids))
        if not ids:
            return {}
        with self.store.read() as tx:
            return {job.id: self._audience(tx, job) for job in tx.jobs_by_id(ids)}

    @staticmethod
    def _jobs_of(tx: StoreTransaction, events: Sequence[JobEvent]) -> list[Job]:
        return tx.jobs_by_id(sorted({e.job_id for e in events}))

    @staticmethod
    def _audience(tx: StoreTransaction, job: Job) -> EventAudience:
        if job.visibility is not Visibility.INVITED:
            return EventAudience(job)
        return EventAudience(job, frozenset(i.email for i in tx.list_invites(job.id)))

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

    # -- changing -----------------------------------------------------------

    def rename(self, actor: Actor, job_id: str, name: str) -> Job:
        name = name.strip()
        if not name or len(name) > MAX_NAME_LENGTH:
            raise ValidationError(
                f"a job name must be 1 to {MAX_NAME_LENGTH} characters",
                errors=[{"field": "name", "message": f"1 to {MAX_NAME_LENGTH} characters"}],
            )
        with self._write() as (tx, outbox):
            job = self._changeable(tx, actor, job_id)
            now = self.clock()
            job = replace(job, name=name, updated_at=now)
            tx.update_job(job)
            outbox.events.append(tx.append_event(job, "renamed", {"name": name}, now))
        return job

    def delete(self, actor: Actor, job_id: str) -> None:
        """Remove the job, its event log, its invites and its files. A job still
        running must be cancelled first. Ledger entries stay: the ledger is the
        workspace's append-only account, and the balance must keep adding up."""
        with self._write() as (tx, outbox):
            job = self._changeable(tx, actor, job_id)
            if job.status.is_live:
                raise Conflict(
                    f"job {job_id} is {job.status}; cancel it before deleting it",
                    details={"current_status": str(job.status)},
                )
            tx.delete_job(job_id)
            outbox.after_commit.append(lambda: self.files.delete(job_id))

    def cancel(self, actor: Actor, job_id: str) -> Job:
        with self._write() as (tx, outbox):
            self._changeable(tx, actor, job_id)
            job = self._load(tx, job_id, for_update=True)
            if job.status not in CANCELLABLE:
                raise Conflict(
                    f"job {job_id} is {job.status} and can no longer be cancelled",
                    details={"current_status": str(job.status)},
                )
            job = self._transition(tx, outbox, job, JobStatus.CANCELLED, status_reason="cancelled")
            if self.executor is not None:
                executor = self.executor
                outbox.after_commit.append(lambda: executor.cancel(job_id))
        return job

    def retry(self, actor: Actor, job_id: str) -> Job:
        """A failed, timed-out or cancelled job run again as a new job with the same
        inputs and settings, charged as usual."""
        with self.store.read() as tx:
            job = self._changeable(tx, actor, job_id)
        if job.status not in RETRYABLE:
            raise Conflict(
                f"job {job_id} is {job.status}; only FAILED, TIMEOUT or CANCELLED jobs "
                "can be retried",
                details={"current_status": str(job.status)},
            )
        return self.submit(
            actor,
            job.tool,
            job.inputs,
            job.settings,
            name=_derived_name(job.name, "retry"),
            origin_job_id=job.id,
        )

    def duplicate(
        self,
        actor: Actor,
        job_id: str,
        *,
        settings: JsonDict | None = None,
        name: str | None = None,
    ) -> Job:
        """A completed job run again as a new job, optionally with other settings."""
        with self.store.read() as tx:
            job = self._changeable(tx, actor, job_id)
        if job.status is not JobStatus.COMPLETED:
            raise Conflict(
                f"job {job_id} is {job.status}; only COMPLETED jobs can be duplicated",
                details={"current_status": str(job.status)},
            )
        return self.submit(
            actor,
            job.tool,
            job.inputs,
            {**job.settings, **(settings or {})},
            name=name or _derived_name(job.name, "copy"),
            origin_job_id=job.id,
        )

    def get_share(self, actor: Actor, job_id: str) -> Share:
        with self.store.read() as tx:
            job = self._changeable(tx, actor, job_id)
            return Share(job.id, job.visibility, tuple(tx.list_invites(job_id)))

    def share(
        self,
        actor: Actor,
        job_id: str,
        visibility: Visibility | str,
        *,
        invite: Sequence[str] = (),
        uninvite: Sequence[str] = (),
    ) -> Share:
        """Set who may see the job. Invited emails add to the list; an email with no
        account yet stays pending until someone signs up with it."""
        try:
            visibility = Visibility(visibility)
        except ValueError:
            raise ValidationError(
                f"visibility must be one of {', '.join(v.value for v in Visibility)}",
                errors=[{"field": "visibility", "message": f"unknown value {visibility!r}"}],
            ) from None
        bad = [email for email in invite if not _EMAIL.match(email)]
        if bad:
            raise ValidationError(
                f"not an email address: {', '.join(bad)}",
                errors=[{"field": "invite", "message": f"not an email address: {e}"} for e in bad],
            )
        with self._write() as (tx, outbox):
            job = self._changeable(tx, actor, job_id)
            now = self.clock()
            current = {i.email for i in tx.list_invites(job_id)}
            emails = (current | {e.lower() for e in invite}) - {e.lower() for e in uninvite}
            tx.set_invites(job_id, sorted(emails), now)
            job = replace(job, visibility=visibility, updated_at=now)
            tx.update_job(job)
            invites = tuple(tx.list_invites(job_id))
            outbox.events.append(
                tx.append_event(
                    job,
                    "shared",
                    {"visibility": str(visibility), "invited": [i.email for i in invites]},
                    now,
                )
            )
        return Share(job.id, visibility, invites)

    # -- engine-facing ------------------------------------------------------

    def job_for_run(self, job_id: str) -> Job:
        """The whole job, for an executor (no actor: the engine runs what it accepted)."""
        with self.store.read() as tx:
            return self._load(tx, job_id)

    def claim(self, job_id: str, holder: str, *, lease_ttl_s: float = 30.0) -> Job | None:
        """Take a waiting job in order to run it. Refused (None) when the job no
        longer waits, or when another runner holds it; an engine's hold on a job it
        dispatched gives way to the runner it dispatched the job to."""
        with self.store.write() as tx:
            job = tx.get_job(job_id, for_update=True)
            now = self.clock()
            if job is None or not _may_take(job, holder, now):
                return None
            job = replace(
                job, lease_owner=holder, lease_expires_at=now + timedelta(seconds=lease_ttl_s)
            )
            tx.update_job(job)
            return job

    def start(
        self,
        job_id: str,
        *,
        holder: str | None = None,
        runner: JsonDict | None = None,
        lease_ttl_s: float = 30.0,
    ) -> Job | None:
        """The job's process has started: PROCESSING, charged on the first attempt.
        With ``holder``, the job is taken as ``claim`` takes it, in the same
        transaction, so a runner needs no separate claim: refused when another
        runner holds it. Where it runs (``runner``: worker, process id) goes into
        the event log with the status. Returns None when the job is no longer the
        caller's to start (cancelled meanwhile, or taken by another runner)."""
        with self._write() as (tx, outbox):
            job = tx.get_job(job_id, for_update=True)
            now = self.clock()
            if job is None or job.status not in (JobStatus.PENDING, JobStatus.RETRY):
                return None
            if holder is not None:
                if not _may_take(job, holder, now):
                    return None
                job = replace(
                    job, lease_owner=holder, lease_expires_at=now + timedelta(seconds=lease_ttl_s)
                )
            tx.lock_workspace(job.workspace_id)
            started = self._transition(
                tx, outbox, job, JobStatus.PROCESSING, progress=0.0, progress_message=None
            )
            if runner is not None:
                outbox.events.append(tx.append_event(started, "runner", runner, self.clock()))
            return started

    def renew_leases(self, owner: str, job_ids: Sequence[str], ttl_s: float) -> set[str]:
        """Extend ``owner``'s leases; returns the ids it still holds (a job it lost
        was recovered elsewhere, and its holder must stop working on it)."""
        with self.store.write() as tx:
            return tx.renew_leases(owner, job_ids, self.clock() + timedelta(seconds=ttl_s))

    def claim_for_dispatch(self, owner: str, ttl_s: float, *, limit: int = 100) -> list[Job]:
        """Waiting jobs that nobody holds (accepted while no engine ran, or held by an
        engine that is gone) are taken by ``owner`` to dispatch. Each is taken by
        one engine only."""
        with self._write() as (tx, _):
            now = self.clock()
            waiting = tx.unheld_jobs((JobStatus.PENDING, JobStatus.RETRY), now, limit)
            expires = now + timedelta(seconds=ttl_s)
            claimed = [replace(job, lease_owner=owner, lease_expires_at=expires) for job in waiting]
            for job in claimed:
                tx.update_job(job)
        return claimed

    def recover_lost(self, *, limit: int = 100) -> list[Job]:
        """PROCESSING jobs whose holder stopped renewing its lease (a worker or an
        engine died): RETRY while attempts remain, else FAILED and refunded."""
        with self.store.read() as tx:
            lost = tx.unheld_jobs((JobStatus.PROCESSING,), self.clock(), limit)
        recovered = []
        for job in lost:
            outcome = self.fail(
                job.id,
                "the worker running it stopped responding",
                transient=True,
                only_if_lease_expired=True,
            )
            if outcome is not None:
                recovered.append(outcome)
        return recovered

    def promote_queued(self, workspace_id: str) -> None:
        with self._write() as (tx, outbox):
            tx.lock_workspace(workspace_id)
            self._promote_queued(tx, outbox, workspace_id)

    def release_lease(self, job_id: str, owner: str) -> None:
        """Let go of a waiting job so that the next dispatch pass takes it again."""
        with self.store.write() as tx:
            job = tx.get_job(job_id, for_update=True)
            if job is not None and job.lease_owner == owner and job.status.is_live:
                tx.update_job(replace(job, lease_owner=None, lease_expires_at=None))

    def has_waiting_jobs(self) -> bool:
        """Whether any job anywhere is accepted but not finished."""
        with self.store.read() as tx:
            return tx.any_live_job()

    def job_state(self, job_id: str) -> tuple[JobStatus, str | None] | None:
        """Status and lease holder, for a running job's supervisor to poll."""
        with self.store.read() as tx:
            return tx.job_state(job_id)

    def set_waiting_reason(self, job_id: str, reason: str | None) -> None:
        """Say why a waiting job has not started (no GPU worker, all workers busy)."""
        with self._write() as (tx, outbox):
            job = tx.get_job(job_id, for_update=True)
            if job is None or job.status not in (JobStatus.PENDING, JobStatus.RETRY):
                return
            if job.status_reason == reason:
                return
            now = self.clock()
            job = replace(job, status_reason=reason, updated_at=now)
            tx.update_job(job)
            outbox.events.append(tx.append_event(job, "waiting", _status_data(job), now))

    def progress(
        self,
        job_id: str,
        fraction: float,
        message: str | None = None,
        *,
        holder: str | None = None,
    ) -> None:
        with self._write() as (tx, outbox):
            job = tx.get_job(job_id, for_update=True)
            if job is None or job.status is not JobStatus.PROCESSING:
                return
            if holder is not None and job.lease_owner != holder:
                return
            now = self.clock()
            job = replace(
                job,
                progress=min(1.0, max(0.0, fraction)),
                progress_message=message,
                updated_at=now,
            )
            tx.update_job(job)
            outbox.events.append(tx.append_event(job, "progress", _status_data(job), now))

    def complete(self, job_id: str, result: ToolResult, *, holder: str | None = None) -> Job | None:
        return self._finish(
            job_id,
            lambda _job: (JobStatus.COMPLETED, {"result": result, "progress": 1.0}),
            holder=holder,
        )

    def fail(
        self,
        job_id: str,
        error: str,
        *,
        transient: bool = False,
        only_if_lease_expired: bool = False,
        holder: str | None = None,
    ) -> Job | None:
        """A job that went wrong. A transient platform fault (a worker died) goes to
        RETRY while attempts remain; otherwise FAILED, and the charge is refunded.
        With ``only_if_lease_expired`` nothing happens unless the job's lease has
        run out by the time its row is locked (its holder did not come back)."""

        def outcome(job: Job) -> tuple[JobStatus, JsonDict] | None:
            if only_if_lease_expired and (
                job.status is not JobStatus.PROCESSING
                or (job.lease_expires_at is not None and job.lease_expires_at >= self.clock())
            ):
                return None
            if (
                transient
                and job.status is JobStatus.PROCESSING
                and job.attempts < self.config.max_attempts
            ):
                return JobStatus.RETRY, {"status_reason": error}
            return JobStatus.FAILED, {"error": error}

        return self._finish(job_id, outcome, holder=holder)

    def time_out(self, job_id: str, limit_s: float, *, holder: str | None = None) -> Job | None:
        error = f"stopped after its time limit of {limit_s:g} s"
        return self._finish(
            job_id, lambda _job: (JobStatus.TIMEOUT, {"error": error}), holder=holder
        )

    def _finish(
        self,
        job_id: str,
        outcome: Callable[[Job], tuple[JobStatus, JsonDict] | None],
        *,
        holder: str | None = None,
    ) -> Job | None:
        """Move a live job to the status ``outcome`` picks for it, decided on the
        locked row. A job already final (cancelled while its tool was finishing),
        or no longer held by ``holder`` (recovered and run elsewhere), stays as it
        is, and None is returned."""
        with self._write() as (tx, outbox):
            job = tx.get_job(job_id, for_update=True)
            if job is None or job.status.is_terminal:
                return None
            if holder is not None and job.lease_owner != holder:
                return None
            decided = outcome(job)
            if decided is None:
                return None
            tx.lock_workspace(job.workspace_id)
            target, changes = decided
            return self._transition(tx, outbox, job, target, **changes)


def _status_data(job: Job) -> JsonDict:
    return {
        "status": str(job.status),
        "name": job.name,
        "tool": job.tool,
        "progress": job.progress,
        "progress_message": job.progress_message,
        "status_reason": job.status_reason,
        "error": job.error,
        "credits_charged": job.credits_charged,
        "attempts": job.attempts,
    }


def _same_request(earlier: tuple[Job, str | None], fingerprint: str | None) -> Job:
    job, stored = earlier
    if stored is not None and fingerprint is not None and stored != fingerprint:
        raise Conflict(
            "this Idempotency-Key was already used for a different request",
            details={"job_id": job.id},
        )
    return job


def _may_take(job: Job, holder: str, now: datetime) -> bool:
    """Whether ``holder`` may take a waiting job to run it: nobody else holds it, or
    only an engine does (the engine that dispatched it gives way to its runner)."""
    if job.status not in (JobStatus.PENDING, JobStatus.RETRY):
        return False
    return (
        job.lease_owner is None
        or job.lease_owner == holder
        or job.lease_owner.startswith(ENGINE_LEASE_PREFIX)
        or job.lease_expires_at is None
        or job.lease_expires_at <= now
    )


def _job_name(name: str | None, tool_name: str, now: datetime) -> str:
    if name is None:
        return f"{tool_name} {now:%Y-%m-%d %H:%M:%S}"
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ValidationError(
            f"a job name must be 1 to {MAX_NAME_LENGTH} characters",
            errors=[{"field": "name", "message": f"1 to {MAX_NAME_LENGTH} characters"}],
        )
    return name


def _derived_name(name: str, suffix: str) -> str:
    return f"{name} ({suffix})"[:MAX_NAME_LENGTH]


def _choose_membership(memberships: list[Member], workspace_id: str | None) -> Member:
    if workspace_id is None:
        owned = [m for m in memberships if m.role is Role.OWNER]
        return (owned or memberships)[0]
    for member in memberships:
        if member.workspace_id == workspace_id:
            return member
    raise NotFound(f"no workspace {workspace_id} for this user")
