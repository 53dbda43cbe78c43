"""An executor that runs each job in a process of its own, started in a new session,
so the job outlives whatever submitted it: ``piq run`` without ``--wait`` prints the
job id and exits while the job carries on.

The worker is ``python -m proteiniq_jupyter.execution.detached JOB_ID``. It opens the
same database (the submitting engine hands its configuration down through the
environment), claims the job and supervises it like a Dask worker does: the tool
runs in a process of its own, killed on cancel or past its time limit.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Mapping, Sequence

from ..assembly import build_service
from ..config import EngineConfig
from ..jobs.ports import ToolAvailability
from ..jobs.runs import RunService
from ..tools.registry import ToolRegistry
from .availability import LocalAvailability
from .base import Deadline
from .preflight import fail_held
from .supervisor import Outcome, run_held

log = logging.getLogger(__name__)

#: The worker's standard output and error, kept with the job's files (and deleted
#: with them) so a job that went wrong in an unexpected way can be looked into.
LOG_NAME = "worker.log"

MODULE = "proteiniq_jupyter.execution.detached"


def worker_environment(
    config: EngineConfig, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The submitting process's environment with its engine configuration written
    into it, so the worker opens the same database and job folders even when the
    engine was configured in code rather than from ``PIQ_*`` variables."""
    env = dict(os.environ if base is None else base)
    env.update(config.to_env())
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

    def __init__(
        self, service: RunService, config: EngineConfig, tools: ToolRegistry | None = None
    ) -> None:
        self.service = service
        self.config = config
        self._tools = tools
        self._availability: LocalAvailability | None = None
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def availability(self, tool_id: str) -> ToolAvailability:
        """Workers run on this machine, with the tools installed for it."""
        with self._lock:
            if self._availability is None:
                tools = self._tools or ToolRegistry.from_entry_points(self.config.extra_tools)
                self._availability = LocalAvailability(tools)
            availability = self._availability
        return availability.availability(tool_id)

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

    def start(self) -> None:
        """Nothing to do: each job gets its worker when it is submitted."""

    def cancel(self, job_id: str) -> None:
        """Nothing to do here: the service has already marked the job cancelled, and
        the worker, which watches its job, kills the job's process within
        ``supervisor.CANCEL_POLL_S``."""

    def wait(self, timeout: float | None = None) -> None:
        """Block until every worker this executor started has exited."""
        deadline = Deadline.after(timeout)
        while True:
            with self._lock:
                children = list(self._children.values())
            if not children:
                return
            for process in children:
                remaining = deadline.left()
                try:
                    process.wait(remaining)
                except subprocess.TimeoutExpired:
                    return

    def shutdown(self) -> None:
        """Workers are detached on purpose: closing the engine leaves them running."""


def new_holder() -> str:
    """The lease holder of one run by a detached worker."""
    return f"detached:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_claimed(
    service: RunService,
    tools: ToolRegistry,
    config: EngineConfig,
    job_id: str,
    holder: str | None = None,
) -> Outcome | None:
    """Claim the job for this process and supervise its run; None when the job was
    no longer waiting (cancelled meanwhile, or taken by another worker)."""
    holder = holder or new_holder()
    job = service.claim(job_id, holder, lease_ttl_s=config.lease_ttl_s)
    if job is None:
        return None
    return run_held(service, tools, config, job, holder)


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
    config = EngineConfig.from_env()
    service, tools = build_service(config)
    runs = service.runs
    # Batch children this job lets in when it ends run as detached workers too.
    runs.attach_executor(DetachedProcessExecutor(runs, config))
    holder = new_holder()
    try:
        outcome = run_claimed(runs, tools, config, job_id, holder)
    except Exception as exc:
        log.exception("job %s: the worker failed outside the tool", job_id)
        # As this run's holder: a job that has moved on to another run is not
        # this worker's to fail.
        fail_held(
            runs, job_id, f"the job's worker process failed: {type(exc).__name__}: {exc}", holder
        )
        return 1
    log.info("worker %d done with job %s: %s", os.getpid(), job_id, outcome)
    return 0


if __name__ == "__main__":
    sys.exit(main())
