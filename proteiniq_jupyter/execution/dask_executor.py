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
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from typing import Any

import dask
from distributed import Client, Future, LocalCluster, get_worker

from ..assembly import build_service
from ..config import EngineConfig
from ..jobs.model import Job
from ..jobs.runs import ENGINE_LEASE_PREFIX, RunService
from ..jobs.status import JobStatus
from ..tools.registry import ToolRegistry
from .supervisor import run_held

log = logging.getLogger(__name__)

GPU_RESOURCE = "GPU"
WAITING_FOR_GPU = "waiting for a GPU worker"
WAITING_FOR_WORKER = "waiting for a free worker"
#: Jobs dispatched per worker thread at most (the running one included).
QUEUE_PER_THREAD = 3


# -- worker side --------------------------------------------------------------

_worker_engines: dict[EngineConfig, tuple[RunService, ToolRegistry]] = {}
_worker_lock = threading.Lock()


def _worker_engine(config: EngineConfig) -> tuple[RunService, ToolRegistry]:
    """One store connection pool per worker process and configuration."""
    with _worker_lock:
        if config not in _worker_engines:
            service, tools = build_service(config)
            _worker_engines[config] = (service.runs, tools)
        return _worker_engines[config]


def execute_job(config: EngineConfig, job: Job, run: str) -> str:
    """The Dask task: run the job (as the engine dispatched it) in a child process
    and record its end. Taking the job over from the engine happens when it starts,
    so a job costs the worker two store writes: start and end. The run's lease
    holder ends with ``run``, which the engine chose, so that the engine can tell
    this run from any other run of the job."""
    service, tools = _worker_engine(config)
    try:
        worker = get_worker().address
    except ValueError:
        worker = "local"
    holder = f"worker:{worker}:{os.getpid()}:{run}"
    return str(run_held(service, tools, config, job, holder))


def _run_of(future: Future[str]) -> str:
    """The run a task was dispatched as (the last part of its key)."""
    return str(future.key).rsplit("-", 1)[-1]


# -- engine side --------------------------------------------------------------


class DaskExecutor:
    """Dispatches accepted jobs to Dask and keeps every live job accounted for."""

    def __init__(self, service: RunService, tools: ToolRegistry, config: EngineConfig) -> None:
        self.service = service
        self.tools = tools
        self.config = config
        self.engine_id = f"{ENGINE_LEASE_PREFIX}{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._cluster: LocalCluster | None = None
        self._client: Client | None = None
        self._futures: dict[str, Future[str]] = {}
        self._gpu_jobs: set[str] = set()
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None
        self._dispatches = 0
        # Kept by the monitor thread: when bookkeeping is next due, the workers as
        # last seen, and the waiting reason last written for each dispatched job.
        self._next_bookkeeping = 0.0
        self._threads = 1
        self._has_gpu = False
        self._explained: dict[str, str] = {}

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
            client.close()
        if cluster is not None:
            cluster.close()

    def client(self) -> Client:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self) -> Client:
        if self.config.dask_scheduler_address:
            return Client(self.config.dask_scheduler_address, set_as_default=False)
        # A worker that dies takes its task with it: the job goes to RETRY through
        # the store (and is charged once), never through a silent Dask re-run.
        # Dask's statistical profiler samples each worker's threads a hundred times a
        # second; a job's task only waits on the job's process, so there is nothing
        # to profile, and the CPU it takes is the tools'.
        embedded = {
            "distributed.scheduler.allowed-failures": 0,
            "distributed.worker.profile.enabled": False,
        }
        with dask.config.set(embedded):
            self._cluster = LocalCluster(
                n_workers=self.config.dask_workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        return Client(self._cluster, set_as_default=False)

    @property
    def scheduler_address(self) -> str:
        scheduler = self.client().scheduler
        if scheduler is None:
            raise RuntimeError("the Dask client is not connected to a scheduler")
        return str(scheduler.address)

    # -- the Executor protocol ----------------------------------------------

    def submit(self, job_id: str) -> None:
        self.start()

    def cancel(self, job_id: str) -> None:
        """The job's supervisor sees the cancel in the store and kills its process;
        a task not yet started is dropped from the cluster."""
        with self._lock:
            future = self._futures.pop(job_id, None)
            self._explained.pop(job_id, None)
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
        lost and look at the workers, and afterwards say why waiting jobs wait."""
        with self._lock:
            tracked = dict(self._futures)
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
            held = self.service.renew_leases(self.engine_id, waiting, self.config.lease_ttl_s)
            self.service.recover_lost()
            self._look_at_workers()
        capacity = self._free_capacity()
        # Refill a worker thread's worth at a time: one claim per finished task
        # would cost a store write per job. The queue stays at least one job per
        # thread deep meanwhile, so no worker waits for the refill.
        if capacity >= max(self._threads, 1):
            for job in self.service.claim_for_dispatch(
                self.engine_id, self.config.lease_ttl_s, limit=capacity
            ):
                self._dispatch(job)
        if bookkeeping:
            self._explain_waiting(held)

    def _look_at_workers(self) -> None:
        """Ask the scheduler how many worker threads there are and whether any
        worker has a GPU (one round trip, kept until the next bookkeeping)."""
        info: dict[str, Any] = self.client().scheduler_info(n_workers=-1)
        workers = list(info.get("workers", {}).values())
        self._threads = sum(int(w.get("nthreads", 1)) for w in workers)
        self._has_gpu = any(w.get("resources", {}).get(GPU_RESOURCE) for w in workers)

    def _free_capacity(self) -> int:
        """How many more jobs this engine should take: enough to keep each worker
        thread busy with one or two waiting behind it, no more, so that engines
        sharing a database share its jobs instead of one queueing them all. Jobs
        waiting for a GPU worker do not count against the CPU workers."""
        with self._lock:
            busy = sum(
                1
                for job_id, future in self._futures.items()
                if not future.done() and job_id not in self._gpu_jobs
            )
        return max(QUEUE_PER_THREAD * max(self._threads, 1) - busy, 0)

    def _task_ended(self, job_id: str, future: Future[str]) -> None:
        with self._lock:
            if self._futures.get(job_id) is future:
                del self._futures[job_id]
                self._gpu_jobs.discard(job_id)
                self._explained.pop(job_id, None)
        if future.status != "error":
            return
        error = future.exception()
        state = self.service.job_state(job_id)
        if state is None:
            return
        status, holder = state
        if (
            status is JobStatus.PROCESSING
            and holder is not None
            and holder.startswith("worker:")
            and holder.endswith(f":{_run_of(future)}")
        ):
            # Its worker died mid-run: retry it now rather than when the lease
            # expires (unless the job runs elsewhere already: then it is not this
            # task's run that is to fail).
            self.service.fail(
                job_id,
                f"the worker running it stopped ({type(error).__name__})",
                transient=True,
                holder=holder,
            )
        elif status in (JobStatus.PENDING, JobStatus.RETRY) and holder == self.engine_id:
            self.service.release_lease(job_id, self.engine_id)
        self._wake.set()

    def _dispatch(self, job: Job) -> None:
        try:
            tool = self.tools.get(job.tool)
        except Exception as exc:
            self.service.fail(
                job.id, f"this engine cannot run {job.tool}: {exc}", holder=self.engine_id
            )
            return
        with self._lock:
            self._dispatches += 1
            run = f"{self._dispatches}.{uuid.uuid4().hex[:8]}"
        future = self.client().submit(
            execute_job,
            self.config,
            job,
            run,
            key=f"piq-{job.id}-{job.attempts}-{run}",
            pure=False,
            resources={GPU_RESOURCE: 1} if tool.gpu else None,
        )
        with self._lock:
            self._futures[job.id] = future
            self._explained.pop(job.id, None)
            if tool.gpu:
                self._gpu_jobs.add(job.id)
            else:
                self._gpu_jobs.discard(job.id)
        future.add_done_callback(lambda _f: self._wake.set())

    def _explain_waiting(self, held: set[str]) -> None:
        """Give each dispatched job that no worker has taken yet its reason, once
        per reason (the service leaves a job that has moved on as it is)."""
        for job_id in held:
            with self._lock:
                if job_id not in self._futures:
                    continue
                gpu = job_id in self._gpu_jobs
            reason = WAITING_FOR_GPU if gpu and not self._has_gpu else WAITING_FOR_WORKER
            if self._explained.get(job_id) == reason:
                continue
            self.service.set_waiting_reason(job_id, reason)
            with self._lock:
                if job_id in self._futures:
                    self._explained[job_id] = reason

    def wait(self, timeout: float | None = None) -> None:
        """Block until no dispatched task is outstanding and nothing waits to be
        dispatched (for scripts and notebooks)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while deadline is None or time.monotonic() < deadline:
            with self._lock:
                outstanding = any(not f.done() for f in self._futures.values())
            if not outstanding and not self.service.has_waiting_jobs():
                return
            self._wake.set()
            time.sleep(0.05)
