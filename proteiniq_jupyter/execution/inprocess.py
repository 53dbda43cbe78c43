"""The simplest executor: runs each job's tool in a thread of this process. It is
what the CLI and a kernel without a server use for free tools, and the reference
for what any executor must do with a job (``run_job``)."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from ..jobs.errors import NotFound, ValidationError
from ..jobs.ports import ToolAvailability
from ..jobs.runs import RunService
from ..tools.base import RunContext
from ..tools.registry import ToolRegistry
from .availability import LocalAvailability
from .base import Deadline
from .environment import run_environment
from .preflight import runnable_tool
from .reports import progress_due

log = logging.getLogger(__name__)


class _Throttle:
    def __init__(self, service: RunService, job_id: str) -> None:
        self.service = service
        self.job_id = job_id
        self.last = 0.0

    def __call__(self, fraction: float, message: str | None) -> None:
        now = time.monotonic()
        if not progress_due(self.last, now, fraction):
            return
        self.last = now
        self.service.progress(self.job_id, fraction, message)

    def estimate(self, fraction: float, message: str | None, eta_s: float | None) -> None:
        self.last = time.monotonic()
        self.service.progress(self.job_id, fraction, message, estimated=True, eta_s=eta_s)


def _record_use(service: RunService, job_id: str, credits: int) -> None:
    service.record_use(job_id, credits)


def run_job(service: RunService, tools: ToolRegistry, job_id: str) -> None:
    """Start the job, run its tool in the job's directory, record the outcome.

    A tool that rejects its input while running fails the job (refunded: an input
    error costs nothing); any other exception is a failure of the run, also refunded.
    """
    try:
        tool_id = service.job_for_run(job_id).tool
    except NotFound as exc:  # the job was deleted
        service.fail(job_id, exc.message)
        return
    tool = runnable_tool(service, tools, tool_id, job_id)
    if tool is None:
        return
    job = service.start(job_id, environment=run_environment(tool, None))
    if job is None:
        return
    try:
        settings = tool.parse_settings(job.settings)
        throttle = _Throttle(service, job_id)
        workdir = service.files.job_dir(job_id)
        workdir.mkdir(parents=True, exist_ok=True)  # tools may write into it as they please
        context = RunContext(
            workdir=workdir,
            report=throttle,
            cache_root=service.files.cache_dir(),
            report_estimate=throttle.estimate,
            expected_s=service.expected_duration(job),
            report_models=lambda models: service.record_models(job_id, models),
            report_use=lambda credits: _record_use(service, job_id, credits),
        )
        result = tool.run(job.inputs, settings, context)
    except ValidationError as exc:
        service.fail(job_id, exc.message)
    except Exception as exc:
        log.exception("job %s failed", job_id)
        service.fail(job_id, f"{type(exc).__name__}: {exc}")
    else:
        service.complete(job_id, result)


class InProcessExecutor:
    """Runs jobs on a small thread pool. Cancelling marks the job; a running tool
    finishes its current step and its outcome is then ignored (cancel that stops a
    tool mid-step needs a process per job, which the Dask executor provides)."""

    def __init__(self, service: RunService, tools: ToolRegistry, *, workers: int = 2) -> None:
        self.service = service
        self.tools = tools
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="piq-job")
        self._futures: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._availability = LocalAvailability(tools)

    def availability(self, tool_id: str) -> ToolAvailability:
        """Jobs run in this process: the tools it can run are this machine's."""
        return self._availability.availability(tool_id)

    def start(self) -> None:
        """Nothing to do: jobs run as they are submitted."""

    def submit(self, job_id: str) -> None:
        future = self._pool.submit(run_job, self.service, self.tools, job_id)
        with self._lock:
            self._futures[job_id] = future
        future.add_done_callback(lambda _f: self._forget(job_id))

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._futures.pop(job_id, None)

    def cancel(self, job_id: str) -> None:
        with self._lock:
            future = self._futures.get(job_id)
        if future is not None:
            future.cancel()

    def wait(self, timeout: float | None = None) -> None:
        """Block until every submitted job has finished, or ``timeout`` has passed."""
        deadline = Deadline.after(timeout)
        while True:
            with self._lock:
                pending = list(self._futures.values())
            if not pending:
                return
            for future in pending:
                try:
                    future.result(timeout=deadline.left())
                except Exception:
                    if deadline.passed():
                        return
                    log.debug("a job future ended with an error", exc_info=True)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)
