"""What executors, workers and job supervisors call: taking jobs to run them,
holding them with leases, reporting progress, and recording how each run ended.
No actor: the engine runs what the service accepted."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from . import credits
from .core import ServiceCore, status_data
from .model import Job, JsonDict, ToolResult
from .ports import ClaimScope
from .provenance import ModelWeights, Provenance, RunEnvironment
from .status import JobStatus
from .timing import RECENT_RUNS, expected_seconds

#: Engines name the holds they take on jobs they dispatch with this prefix; a
#: runner that the job was dispatched to takes such a hold over when it claims it.
ENGINE_LEASE_PREFIX = "engine:"

_WAITING = (JobStatus.PENDING, JobStatus.RETRY)


class RunService(ServiceCore):
    def job_for_run(self, job_id: str) -> Job:
        """The whole job, for an executor."""
        with self.store.read() as tx:
            return self._load(tx, job_id)

    def expected_duration(self, job: Job) -> float | None:
        """Seconds the job is expected to run, from the workspace's latest completed
        runs of its tool; None when there is none yet."""
        with self.store.read() as tx:
            past = tx.recent_runs(job.workspace_id, job.tool, RECENT_RUNS)
        return expected_seconds(past, job.estimated_credits)

    def job_state(self, job_id: str) -> tuple[JobStatus, str | None] | None:
        """Status and lease holder, for a running job's supervisor to poll."""
        with self.store.read() as tx:
            return tx.job_state(job_id)

    def has_waiting_jobs(self, scope: ClaimScope | None = None) -> bool:
        """Whether any job (of ``scope``; anywhere without one) is accepted but not
        finished."""
        with self.store.read() as tx:
            return tx.any_live_job(scope)

    def live_jobs_among(self, job_ids: Sequence[str]) -> set[str]:
        """Those of ``job_ids`` that are not finished."""
        with self.store.read() as tx:
            return tx.live_job_ids(job_ids)

    def has_claimable_jobs(self, scope: ClaimScope | None = None) -> bool:
        """Whether a waiting job (of ``scope``) is held by nobody, so that an engine
        with ``scope`` would take it now."""
        with self.store.read() as tx:
            return bool(tx.unheld_jobs(_WAITING, self.clock(), 1, scope))

    # -- holding jobs ---------------------------------------------------------

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

    def renew_leases(self, owner: str, job_ids: Sequence[str], ttl_s: float) -> set[str]:
        """Extend ``owner``'s leases; returns the ids it still holds (a job it lost
        was recovered elsewhere, and its holder must stop working on it)."""
        with self.store.write() as tx:
            return tx.renew_leases(owner, job_ids, self.clock() + timedelta(seconds=ttl_s))

    def claim_for_dispatch(
        self, owner: str, ttl_s: float, *, limit: int = 100, scope: ClaimScope | None = None
    ) -> list[Job]:
        """Waiting jobs that nobody holds (accepted while no engine ran, or held by an
        engine that is gone) are taken by ``owner`` to dispatch: those of ``scope``
        only, when one is given. Each is taken by one engine only."""
        with self.store.write() as tx:
            now = self.clock()
            waiting = tx.unheld_jobs(_WAITING, now, limit, scope)
            expires = now + timedelta(seconds=ttl_s)
            claimed = [replace(job, lease_owner=owner, lease_expires_at=expires) for job in waiting]
            for job in claimed:
                tx.update_job(job)
        return claimed

    def release_lease(self, job_id: str, owner: str) -> None:
        """Let go of a waiting job so that the next dispatch pass takes it again."""
        with self.store.write() as tx:
            job = tx.get_job(job_id, for_update=True)
            if job is not None and job.lease_owner == owner and job.status.is_live:
                tx.update_job(replace(job, lease_owner=None, lease_expires_at=None))

    def recover_lost(self, *, limit: int = 100) -> list[Job]:
        """PROCESSING jobs whose holder stopped renewing its lease (a worker or an
        engine died): RETRY while attempts remain, else FAILED and refunded. Each
        is recovered in a transaction of its own, which locks its row and its
        workspace and checks the lease again, so recovery never holds the locks of
        several workspaces at once."""
        with self.store.read() as tx:
            lost = tx.unheld_jobs((JobStatus.PROCESSING,), self.clock(), limit)
        recovered = []
        for job in lost:
            outcome = self._finish(
                job.id,
                self._failure(
                    "the worker running it stopped responding",
                    transient=True,
                    only_if_lease_expired=True,
                ),
            )
            if outcome is not None:
                recovered.append(outcome)
        return recovered

    # -- running --------------------------------------------------------------

    def start(
        self,
        job_id: str,
        *,
        holder: str | None = None,
        runner: JsonDict | None = None,
        environment: RunEnvironment | None = None,
        lease_ttl_s: float = 30.0,
    ) -> Job | None:
        """The job's process has started: PROCESSING, charged on the first attempt.
        With ``holder``, the job is taken as ``claim`` takes it, in the same
        transaction, so a runner needs no separate claim: refused when another
        runner holds it. Where it runs (``runner``: worker, process id) goes into
        the event log with the status; what it runs on (``environment``) into the
        job's provenance, for this attempt. Returns None when the job is no longer
        the caller's to start (cancelled meanwhile, or taken by another runner)."""
        with self._write() as (tx, outbox):
            job = tx.get_job(job_id, for_update=True)
            now = self.clock()
            if job is None or job.status not in _WAITING:
                return None
            if holder is not None:
                if not _may_take(job, holder, now):
                    return None
                job = replace(
                    job, lease_owner=holder, lease_expires_at=now + timedelta(seconds=lease_ttl_s)
                )
            tx.lock_workspace(job.workspace_id)
            provenance = job.provenance
            if environment is not None:
                provenance = (provenance or Provenance()).ran(
                    job.tool,
                    environment,
                    attempt=job.attempts + 1,
                    inputs=job.inputs,
                    settings=job.settings,
                    at=now,
                )
            started = self._transition(
                tx,
                outbox,
                job,
                JobStatus.PROCESSING,
                progress=0.0,
                progress_message=None,
                provenance=provenance,
            )
            if runner is not None:
                outbox.events.append(tx.append_event(started, "runner", runner, self.clock()))
            return started

    def set_waiting_reason(
        self, job_id: str, reason: str | None, *, details: JsonDict | None = None
    ) -> None:
        """Say why a waiting job has not started (no GPU worker, all workers busy, a
        worker refused it); ``details`` go into the event with it (which worker
        refused, and why)."""
        with self._write() as (tx, outbox):
            job = tx.get_job(job_id, for_update=True)
            if job is None or job.status not in _WAITING:
                return
            if job.status_reason == reason and not details:
                return
            now = self.clock()
            job = replace(job, status_reason=reason, updated_at=now)
            tx.update_job(job)
            data = {**status_data(job), **(details or {})}
            outbox.events.append(tx.append_event(job, "waiting", data, now))

    def progress(
        self,
        job_id: str,
        fraction: float,
        message: str | None = None,
        *,
        holder: str | None = None,
        estimated: bool = False,
        eta_s: float | None = None,
    ) -> None:
        """Record how far a running job is. ``estimated`` says the fraction is the
        engine's estimate rather than the tool's count; ``eta_s``, the seconds it is
        expected to take still."""
        with self._write() as (tx, outbox):
            # Without its inputs: read and decoded on every report, a receptor's
            # text cost the worker more than the rest of the write.
            job = tx.get_job(job_id, for_update=True, inputs=False)
            if job is None or job.status is not JobStatus.PROCESSING:
                return
            if holder is not None and job.lease_owner != holder:
                return
            now = self.clock()
            job = replace(
                job,
                progress=min(1.0, max(0.0, fraction)),
                progress_message=message,
                progress_estimated=estimated,
                progress_eta_at=None if eta_s is None else now + timedelta(seconds=max(0.0, eta_s)),
                updated_at=now,
            )
            tx.update_job(job, held_by=holder)
            outbox.events.append(tx.append_event(job, "progress", status_data(job), now))

    def record_models(
        self, job_id: str, models: Sequence[ModelWeights], *, holder: str | None = None
    ) -> None:
        """Add the weights a running job's tool loaded to its provenance; written only
        while ``holder`` holds the job, as progress is."""
        with self.store.write() as tx:
            job = tx.get_job(job_id, for_update=True)
            if job is None or job.status is not JobStatus.PROCESSING:
                return
            if holder is not None and job.lease_owner != holder:
                return
            provenance = (job.provenance or Provenance()).with_models(models)
            tx.update_job(replace(job, provenance=provenance), held_by=holder)

    def record_use(self, job_id: str, used: int, *, holder: str | None = None) -> Job | None:
        """A run billed by use has used ``used`` credits in all: charge what it
        was not charged yet, up to its cap. Past the cap it ends BUDGET_EXCEEDED,
        charged its cap, and its supervisor stops it. None when the job is not
        the caller's running job any more."""
        with self._write() as (tx, outbox):
            job = tx.get_job(job_id, for_update=True)
            if job is None or job.status is not JobStatus.PROCESSING:
                return None
            if holder is not None and job.lease_owner != holder:
                return None
            tx.lock_workspace(job.workspace_id)
            now = self.clock()
            budget = tx.get_budget(job.budget_id, for_update=True) if job.budget_id else None
            room = None if budget is None else budget.credits - tx.budget_used(budget.id)
            cap = credits.use_cap(job, room)
            charged, over = credits.charge_use(tx, job, used, now, cap=cap)
            if over:
                error = (
                    f"stopped at its credit cap of {job.max_credits} credits "
                    "(max_credits): it needed more"
                    if cap == job.max_credits
                    else f"stopped at {cap} credits, all its budget "
                    f"{budget.name if budget else ''!r} had room for: it needed more"
                )
                return self._transition(
                    tx,
                    outbox,
                    charged,
                    JobStatus.BUDGET_EXCEEDED,
                    held_by=holder,
                    error=error,
                    status_reason="credit cap reached",
                )
            if charged is not job:
                charged = replace(charged, updated_at=now)
                tx.update_job(charged, held_by=holder)
                outbox.events.append(
                    tx.append_event(charged, "progress", status_data(charged), now)
                )
            return charged

    # -- how a run ended --------------------------------------------------------

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
        holder: str | None = None,
    ) -> Job | None:
        """A job that went wrong. A transient platform fault (a worker died) goes to
        RETRY while attempts remain; otherwise FAILED, and the charge is refunded."""
        return self._finish(job_id, self._failure(error, transient=transient), holder=holder)

    def time_out(self, job_id: str, limit_s: float, *, holder: str | None = None) -> Job | None:
        error = f"stopped after its time limit of {limit_s:g} s"
        return self._finish(
            job_id, lambda _job: (JobStatus.TIMEOUT, {"error": error}), holder=holder
        )

    def _failure(
        self, error: str, *, transient: bool, only_if_lease_expired: bool = False
    ) -> Callable[[Job], tuple[JobStatus, JsonDict] | None]:
        """How a failure ends a job. With ``only_if_lease_expired`` nothing happens
        unless the job's lease has run out by the time its row is locked (its
        holder did not come back)."""

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

        return outcome

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
        is, and None is returned.

        ``holder``'s run has ended: the files it wrote become the job's when this
        ends the job, and are dropped when the job is to run again. Both happen
        while the row is locked and the lease checked, so the files of a run that
        lost its job never land."""
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
            ended = self._transition(tx, outbox, job, target, held_by=holder, **changes)
            if target.is_terminal:
                self.files.publish(job_id, holder)
            elif holder is not None:
                self.files.discard(job_id, holder)
            return ended


def _may_take(job: Job, holder: str, now: datetime) -> bool:
    """Whether ``holder`` may take a waiting job to run it: nobody else holds it, or
    only an engine does (the engine that dispatched it gives way to its runner)."""
    if job.status not in _WAITING:
        return False
    return (
        job.lease_owner is None
        or job.lease_owner == holder
        or job.lease_owner.startswith(ENGINE_LEASE_PREFIX)
        or job.lease_expires_at is None
        or job.lease_expires_at <= now
    )
