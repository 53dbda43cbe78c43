"""The Dask executor: an embedded LocalCluster on 127.0.0.1 (started on the first
job), or a remote scheduler whose GPU workers declare ``--resources GPU=1``.

The store, not Dask, is the truth. The engine holds a lease on each waiting job it
dispatched and renews it; a worker that starts a job takes the lease over and
renews it while the job's process runs. A monitor thread, woken by every
submission and every finished task and otherwise every few seconds, dispatches
waiting jobs that nobody holds (including those of an engine that died) and sends
jobs whose worker stopped renewing back to RETRY. Only dispatching happens on
every wake; renewing, recovering, asking the scheduler about its workers and
explaining why jobs wait happen at most once per recovery interval (and a third
of a lease), so that a stream of short jobs is not slowed by bookkeeping.

Each job's task asks for its tool as a resource, which only the workers that can
run the tool advertise (``worker_setup``): a job waits in the scheduler until such
a worker is there, and says why. A worker that refuses a job after all hands it
back; the engine sends it again after a pause that grows with each refusal. When
the scheduler says a worker left, the jobs it ran go to RETRY at once, without
waiting for their leases to run out.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid

from distributed import Client, Future, LocalCluster

from ..config import EngineConfig
from ..jobs.model import Job
from ..jobs.ports import ClaimScope, ToolAvailability
from ..jobs.runs import ENGINE_LEASE_PREFIX, RunService
from ..jobs.status import JobStatus
from ..tools.registry import ToolRegistry
from .availability import LocalAvailability
from .base import Deadline
from .cluster_view import (
    WAITING_FOR_GPU,
    WAITING_FOR_WORKER,
    ClusterView,
    WorkerLeft,
    start_embedded_cluster,
)
from .dask_events import fail_runs_on, task_failed
from .dask_tasks import GPU_RESOURCE, WorkerRefused, run_of_task, task_key, task_resources
from .dask_worker import execute_job
from .dispatched import DispatchedJobs
from .refusals import REFUSAL_BACKOFF_S, RefusedJobs
from .worker_setup import WorkerSetup

log = logging.getLogger(__name__)

__all__ = [
    "GPU_RESOURCE",
    "REFUSAL_BACKOFF_S",
    "WAITING_FOR_GPU",
    "WAITING_FOR_WORKER",
    "DaskExecutor",
    "execute_job",
]
#: Jobs dispatched per worker thread at most (the running one included).
QUEUE_PER_THREAD = 3
#: How old a look at the workers may be when a quote or the catalogue asks.
AVAILABILITY_AGE_S = 1.0


class DaskExecutor:
    """Dispatches accepted jobs to Dask and keeps every live job accounted for."""

    def __init__(self, service: RunService, tools: ToolRegistry, config: EngineConfig) -> None:
        self.service = service
        self.tools = tools
        self.config = config
        self.engine_id = f"{ENGINE_LEASE_PREFIX}{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._cluster: LocalCluster | None = None
        self._client: Client | None = None
        self._dispatched = DispatchedJobs()
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None
        self._dispatches = 0
        # Kept by the monitor thread: when bookkeeping is next due, and the workers
        # as last seen.
        self._next_bookkeeping = 0.0
        self._cluster_view = ClusterView()
        #: Jobs that a worker refused, held until they are sent again.
        self._refused = RefusedJobs()
        #: The embedded cluster's workers are this machine: what it can run.
        self._local = None if config.dask_scheduler_address else LocalAvailability(tools)
        #: Jobs of other people handed to this engine by the server it runs in,
        #: until they finish (a scoped engine takes these besides its user's own).
        self._handed: set[str] = set()

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> None:
        """Start watching the store (the cluster itself starts with the first job)."""
        with self._lock:
            if self._monitor is None:
                self._monitor = threading.Thread(
                    target=self._run_monitor, name="piq-dask-monitor", daemon=True
                )
                self._monitor.start()
        self._wake.set()

    def shutdown(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._monitor is not None:
            self._monitor.join(timeout=10)
        with self._lock:
            client, cluster = self._client, self._cluster
            self._client = self._cluster = None
        if client is not None:
            self._cluster_view.stop_listening(client)
            client.close()
        if cluster is not None:
            cluster.close()

    def client(self) -> Client:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self) -> Client:
        client = self._open_client()
        # Every worker, those that join later included, says what it uses and
        # advertises the tools it can run; the scheduler says when one leaves.
        client.register_plugin(WorkerSetup(self.config), name=WorkerSetup.name)
        self._cluster_view.listen(client, self._wake.set)
        return client

    def _open_client(self) -> Client:
        if self.config.dask_scheduler_address:
            return Client(self.config.dask_scheduler_address, set_as_default=False)
        self._cluster = start_embedded_cluster(self.config)
        return Client(self._cluster, set_as_default=False)

    @property
    def scheduler_address(self) -> str:
        scheduler = self.client().scheduler
        if scheduler is None:
            raise RuntimeError("the Dask client is not connected to a scheduler")
        return str(scheduler.address)

    # -- the Executor protocol ----------------------------------------------

    def submit(self, job_id: str) -> None:
        if self.config.runs_jobs_of != "everyone":
            with self._lock:
                self._handed.add(job_id)
        self.start()

    def scope(self) -> ClaimScope | None:
        """The jobs this engine may take from the store: those its user submitted
        and those handed to it, or every job for the deployment's engine service
        (``runs_jobs_of="everyone"``)."""
        if self.config.runs_jobs_of == "everyone":
            return None
        with self._lock:
            handed = frozenset(self._handed)
        return ClaimScope(submitters=(self.config.username,), job_ids=handed)

    def availability(self, tool_id: str) -> ToolAvailability:
        """On the embedded cluster, whether this machine can run the tool (its
        workers are this machine): if not, no job of it could ever start. On a
        remote cluster, whether a worker advertises it now; a job waits until one
        joins that does."""
        if self._local is not None:
            return self._local.availability(tool_id)
        if tool_id not in self.tools:
            return ToolAvailability()
        # A catalogue asks for every tool: one look at the workers serves them all.
        self._cluster_view.refresh(self.client(), max_age_s=AVAILABILITY_AGE_S)
        return ToolAvailability(self._cluster_view.why_none_can_run(tool_id))

    def cancel(self, job_id: str) -> None:
        """The job's supervisor sees the cancel in the store and kills its process;
        a task not yet started is dropped from the cluster."""
        future = self._dispatched.drop(job_id)
        self._refused.drop(job_id)
        if future is not None and future.status == "pending":
            future.cancel()

    # -- the monitor ----------------------------------------------------------

    def _run_monitor(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=self.config.recovery_interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.reconcile()
            except Exception:
                log.exception("the job monitor pass failed; it runs again shortly")

    def reconcile(self) -> None:
        """One pass: dispatch what nobody holds; when bookkeeping is due (the first
        pass, then once per interval), first hold what waits, recover what was
        lost and look at the workers, and afterwards say why waiting jobs wait.
        Until this engine has a job to run it does bookkeeping only, and no
        cluster is started or connected to."""
        if self._idle():
            return
        for departure in self._cluster_view.take_departures():
            self._worker_left(departure)
        tracked = self._dispatched.futures()
        finished = {job_id: f for job_id, f in tracked.items() if f.done()}
        for job_id, future in finished.items():
            self._task_ended(job_id, future)
        now = time.monotonic()
        bookkeeping = now >= self._next_bookkeeping
        held: set[str] = set()
        if bookkeeping:
            interval = min(self.config.recovery_interval_s, self.config.lease_ttl_s / 3)
            self._next_bookkeeping = now + interval
            waiting = [job_id for job_id in tracked if job_id not in finished]
            waiting += self._refused.job_ids()
            held = self.service.renew_leases(self.engine_id, waiting, self.config.lease_ttl_s)
            self.service.recover_lost()
            self._forget_finished_handed()
            self._look_at_workers()
        self._send_refused_again(now)
        capacity = self._free_capacity()
        # Refill a worker thread's worth at a time: one claim per finished task
        # would cost a store write per job. The queue stays at least one job per
        # thread deep meanwhile, so no worker waits for the refill.
        if capacity >= max(self._threads, 1):
            for job in self.service.claim_for_dispatch(
                self.engine_id, self.config.lease_ttl_s, limit=capacity, scope=self.scope()
            ):
                self._dispatch(job)
        if bookkeeping:
            self._explain_waiting(held)

    def _idle(self) -> bool:
        """Whether this engine has nothing to do yet: no cluster, and no job of its
        own waiting. Jobs lost by an engine that died are still recovered, once per
        interval (they may become this engine's to run)."""
        with self._lock:
            if self._client is not None:
                return False
        scope = self.scope()
        now = time.monotonic()
        if now >= self._next_bookkeeping:
            self._next_bookkeeping = now + self.config.recovery_interval_s
            self.service.recover_lost()
        if not self.service.has_claimable_jobs(scope):
            return True
        self._next_bookkeeping = 0.0  # the first working pass looks at the workers
        return False

    def _forget_finished_handed(self) -> None:
        with self._lock:
            handed = list(self._handed)
        if not handed:
            return
        live = self.service.live_jobs_among(handed)
        with self._lock:
            self._handed -= set(handed) - live

    def _look_at_workers(self) -> None:
        """Ask the scheduler about the workers: their threads, their GPUs, the tools
        they can run (kept until the next bookkeeping)."""
        self._cluster_view.refresh(self.client())

    @property
    def _threads(self) -> int:
        return self._cluster_view.threads

    def _free_capacity(self) -> int:
        """How many more jobs this engine should take: enough to keep each worker
        thread busy with one or two waiting behind it, no more, so that engines
        sharing a database share its jobs instead of one queueing them all. Jobs
        waiting for a GPU worker do not count against the CPU workers."""
        busy = self._dispatched.busy_cpu()
        return max(QUEUE_PER_THREAD * max(self._threads, 1) - busy, 0)

    def _task_ended(self, job_id: str, future: Future[str]) -> None:
        self._dispatched.ended(job_id, future)
        if future.status != "error":
            return
        error = future.exception()
        if isinstance(error, WorkerRefused):
            self._refused_by_worker(job_id, str(error))
            return
        if task_failed(self.service, self.engine_id, job_id, run_of_task(future.key), error):
            self._wake.set()

    def _refused_by_worker(self, job_id: str, reason: str) -> None:
        """A worker could not run the job's tool after all (it no longer advertises
        it). On the embedded cluster, where every worker is this machine, a tool
        that cannot run here fails its job, uncharged; otherwise the job is sent
        again after a pause that doubles with each refusal, to a worker that can."""
        if self._local is not None and self._fail_if_none_can_run(
            job_id, self.service.job_for_run(job_id).tool
        ):
            return
        state = self.service.job_state(job_id)
        if state is None or state[0] not in (JobStatus.PENDING, JobStatus.RETRY):
            return
        pause = self._refused.hold(self.service.job_for_run(job_id), time.monotonic())
        log.info("job %s refused by a worker (%s); sent again in %g s", job_id, reason, pause)

    def _send_refused_again(self, now: float) -> None:
        for job in self._refused.take_due(now):
            self._dispatch(job)

    def _worker_left(self, departure: WorkerLeft) -> None:
        """The scheduler says a worker left: each job it was running goes to RETRY
        now (charged once), rather than when its lease runs out; its task, which
        Dask would run again elsewhere, is dropped, and the job dispatched anew."""
        candidates = departure.job_ids | set(self._dispatched.futures())
        for job_id in fail_runs_on(self.service, departure, candidates):
            future = self._dispatched.drop(job_id)
            if future is not None:
                future.cancel()
        self._wake.set()

    def _dispatch(self, job: Job) -> None:
        try:
            tool = self.tools.get(job.tool)
        except Exception as exc:
            self.service.fail(
                job.id, f"this engine cannot run {job.tool}: {exc}", holder=self.engine_id
            )
            return
        if self._fail_if_none_can_run(job.id, tool.id):
            return
        with self._lock:
            self._dispatches += 1
            run = f"{self._dispatches}.{uuid.uuid4().hex[:8]}"
        future = self.client().submit(
            execute_job,
            self.config,
            job,
            run,
            key=task_key(job.id, job.attempts, run),
            pure=False,
            resources=task_resources(tool),
        )
        self._dispatched.add(job.id, future, tool.id, tool.gpu)
        future.add_done_callback(lambda _f: self._wake.set())

    def _fail_if_none_can_run(self, job_id: str, tool_id: str) -> bool:
        """On the embedded cluster, where every worker is this machine, fail the job
        (uncharged) when this machine cannot run its tool: no worker could ever take
        it, and it would wait forever."""
        if self._local is None:
            return False
        availability = self._local.availability(tool_id)
        if availability.blocking and availability.reason is not None:
            self.service.fail(job_id, availability.reason, holder=self.engine_id)
            return True
        return False

    def _explain_waiting(self, held: set[str]) -> None:
        """Give each dispatched job that no worker has taken yet its reason, once
        per reason (the service leaves a job that has moved on as it is)."""
        for job_id in held:
            waiting = self._dispatched.waiting(job_id)
            if waiting is None:
                continue
            tool, gpu, explained = waiting
            reason = self._cluster_view.waiting_reason(tool, gpu)
            if explained == reason:
                continue
            self.service.set_waiting_reason(job_id, reason)
            self._dispatched.explained(job_id, reason)

    def wait(self, timeout: float | None = None) -> None:
        """Block until no dispatched task is outstanding and nothing waits to be
        dispatched (for scripts and notebooks)."""
        deadline = Deadline.after(timeout)
        while not deadline.passed():
            if not self._dispatched.outstanding() and not self.service.has_waiting_jobs(
                self.scope()
            ):
                return
            self._wake.set()
            time.sleep(0.05)
