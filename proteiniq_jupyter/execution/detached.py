"""An executor that runs each job in a process of its own, started in a new session,
so the job outlives whatever submitted it: ``piq run`` without ``--wait`` prints the
job id and exits while the job carries on.

The worker is ``python -m proteiniq_jupyter.execution.detached JOB_ID``. It opens the
same database (the submitting engine hands its configuration down through the
environment), runs the job with ``run_job`` and, because it owns the whole process,
can also do what a thread cannot: stop a tool mid-step when the job is cancelled or
runs past its tool's time limit.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path

from ..config import EngineConfig
from ..jobs.errors import NotFound
from ..jobs.service import JobService
from ..tools.registry import ToolRegistry
from .inprocess import run_job

log = logging.getLogger(__name__)

#: The worker's standard output and error, kept with the job's files (and deleted
#: with them) so a job that went wrong in an unexpected way can be looked into.
LOG_NAME = "worker.log"

#: How often a running worker looks at its job to see whether it was cancelled.
WATCH_INTERVAL_S = 0.5

MODULE = "proteiniq_jupyter.execution.detached"


def worker_environment(
    config: EngineConfig, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The submitting process's environment with its engine configuration written
    into it, so the worker opens the same database and job folders even when the
    engine was configured in code rather than from ``PIQ_*`` variables."""
    env = dict(os.environ if base is None else base)
    env["PIQ_DATABASE_URL"] = config.database_url
    env["PIQ_DATA_DIR"] = str(Path(config.data_dir).absolute())
    env["PIQ_MAX_ATTEMPTS"] = str(config.max_attempts)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def worker_command(job_id: str) -> list[str]:
    return [sys.executable, "-m", MODULE, job_id]


class DetachedProcessExecutor:
    """Starts one worker process per job and does not wait for it.

    The worker runs the tools installed for ``sys.executable`` (found through their
    entry points), not a registry built in code. A daemon thread per worker collects
    its exit status so a long-lived parent, such as a Jupyter kernel, is not left
    with finished children it never reaped; the worker never depends on its parent
    staying alive.
    """

    def __init__(self, service: JobService, config: EngineConfig) -> None:
        self.service = service
        self.config = config
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def submit(self, job_id: str) -> None:
        """Start the worker. A worker that cannot be started fails the job at once
        (nothing ran, so nothing is charged) instead of leaving it waiting forever."""
        try:
            process = self._spawn(job_id)
        except OSError as exc:
            log.error("could not start a worker process for job %s: %s", job_id, exc)
            self.service.fail(job_id, f"could not start a worker process: {exc}")
            return
        with self._lock:
            self._children[job_id] = process
        threading.Thread(
            target=self._reap, args=(job_id, process), name=f"piq-reap-{job_id}", daemon=True
        ).start()

    def _spawn(self, job_id: str) -> subprocess.Popen[bytes]:
        job_dir = self.service.files.job_dir(job_id)
        job_dir.mkdir(parents=True, exist_ok=True)
        with open(job_dir / LOG_NAME, "ab") as log_file:
            if sys.platform == "win32":
                return subprocess.Popen(
                    worker_command(job_id),
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    env=worker_environment(self.config),
                    creationflags=subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS,
                )
            return subprocess.Popen(
                worker_command(job_id),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=worker_environment(self.config),
                start_new_session=True,
                close_fds=True,
            )

    def _reap(self, job_id: str, process: subprocess.Popen[bytes]) -> None:
        process.wait()
        with self._lock:
            if self._children.get(job_id) is process:
                del self._children[job_id]

    def cancel(self, job_id: str) -> None:
        """Nothing to do here: the service has already marked the job cancelled, and
        the worker, which watches its job, stops itself within ``WATCH_INTERVAL_S``."""

    def wait(self, timeout: float | None = None) -> None:
        """Block until every worker this executor started has exited."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                children = list(self._children.values())
            if not children:
                return
            for process in children:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    process.wait(remaining)
                except subprocess.TimeoutExpired:
                    return

    def shutdown(self) -> None:
        """Workers are detached on purpose: closing the engine leaves them running."""


class WorkerOutcome(StrEnum):
    FINISHED = "finished"
    """run_job returned: the outcome (or its absence) is recorded in the job."""
    STOPPED = "stopped"
    """The job was cancelled or deleted while its tool ran."""
    TIMED_OUT = "timed_out"
    """The tool ran past its time limit and the job was marked TIMEOUT."""
    CRASHED = "crashed"
    """run_job itself raised (the database went away, for instance)."""


def run_detached(
    service: JobService,
    tools: ToolRegistry,
    job_id: str,
    *,
    watch_interval_s: float = WATCH_INTERVAL_S,
) -> WorkerOutcome:
    """Run the job on a thread while this one watches it.

    Returns as soon as the job is finished, cancelled, deleted or over its time limit;
    in the last three cases the tool may still be running and the caller should end
    the process rather than wait for it.
    """
    crashed: list[BaseException] = []

    def target() -> None:
        try:
            run_job(service, tools, job_id)
        except BaseException as exc:
            log.exception("job %s: the worker failed outside the tool", job_id)
            crashed.append(exc)

    worker = threading.Thread(target=target, name=f"piq-job-{job_id}", daemon=True)
    started = time.monotonic()
    worker.start()
    limit_s: float | None = None
    while True:
        worker.join(watch_interval_s)
        if not worker.is_alive():
            break
        try:
            job = service.job_for_run(job_id)
        except NotFound:
            log.info("job %s was deleted; stopping", job_id)
            return WorkerOutcome.STOPPED
        if job.status.is_terminal:
            log.info("job %s is %s; stopping its tool", job_id, job.status)
            return WorkerOutcome.STOPPED
        if limit_s is None and job.tool in tools:
            limit_s = tools.get(job.tool).time_limit_s
        if limit_s is not None and time.monotonic() - started > limit_s:
            service.time_out(job_id, limit_s)
            log.info("job %s passed its time limit of %g s", job_id, limit_s)
            return WorkerOutcome.TIMED_OUT
    if crashed:
        exc = crashed[0]
        service.fail(job_id, f"the job's worker process failed: {type(exc).__name__}: {exc}")
        return WorkerOutcome.CRASHED
    return WorkerOutcome.FINISHED


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of a worker process: ``python -m ...detached JOB_ID``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or not args[0] or args[0].startswith("-"):
        print(f"usage: python -m {MODULE} JOB_ID", file=sys.stderr)
        return 2
    job_id = args[0]
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    log.info("worker %d running job %s", os.getpid(), job_id)
    from ..engine import open_engine  # the engine module imports this one

    engine = open_engine(EngineConfig.from_env())
    try:
        outcome = run_detached(engine.service, engine.tools, job_id)
    except Exception:
        log.exception("job %s: the worker could not record an outcome", job_id)
        outcome = WorkerOutcome.CRASHED
    log.info("worker %d done with job %s: %s", os.getpid(), job_id, outcome)
    if outcome in (WorkerOutcome.STOPPED, WorkerOutcome.TIMED_OUT):
        # The tool is still running on its thread; ending the process stops it.
        logging.shutdown()
        os._exit(0)
    engine.close()
    return 1 if outcome is WorkerOutcome.CRASHED else 0


if __name__ == "__main__":
    sys.exit(main())
