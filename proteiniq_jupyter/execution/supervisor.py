"""Runs one claimed job in its own process and stays with it to the end: relays
progress, renews the lease, and kills the whole process group on cancel, on the
time limit, or when the lease is lost. Whatever runs jobs in processes of their
own (a Dask worker, a detached worker) hands each to ``run_held``.

A run is fenced by its lease holder. Its tool writes into a folder of the run's
own, which becomes the job's only when the run ends the job while it still holds
it; its progress and its end are written only while it holds the job. And after
each renewal the job's watchdog (see ``child``) learns until when the lease is
good: a run whose supervisor stops renewing (its worker stopped, swapping, cut
off) kills itself before its lease runs out, so before anyone may run the job
again."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from enum import StrEnum
from multiprocessing import spawn
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from ..config import EngineConfig
from ..jobs.errors import NotFound
from ..jobs.model import Job
from ..jobs.runs import RunService
from ..jobs.status import JobStatus
from ..store import codec
from ..tools.base import Tool
from ..tools.registry import ToolRegistry
from .child import GO, lease_message, run_tool
from .cpu import ThreadBudget, openmp_variables, thread_budget
from .fork_server import WARM_UP_ENV

log = logging.getLogger(__name__)

#: Progress closer together than this is merged (the latest always wins).
PROGRESS_INTERVAL_S = 0.05
#: How often the store is asked whether the job was cancelled.
CANCEL_POLL_S = 0.2
#: The share of a lease after which a job's process kills itself unless the lease
#: was renewed meanwhile; the rest of the lease is the margin within which the kill
#: lands before the lease runs out and the job may be recovered.
WATCHDOG_SHARE = 5 / 6
LOG_NAME = "run.log"


class Outcome(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    LOST = "lost"  # the lease went to someone else; this run's outcome is void


class _Reports:
    """Reads what the job's process says, in the supervising loop itself (no thread
    per job): progress goes to the store at most every ``PROGRESS_INTERVAL_S``, the
    latest always landing, and the last message is kept."""

    def __init__(self, conn: Connection, service: RunService, job_id: str, holder: str) -> None:
        self.conn = conn
        self.service = service
        self.job_id = job_id
        self.holder = holder
        self.final: dict[str, Any] | None = None
        self.open = True
        self._pending: dict[str, Any] | None = None
        self._last_sent = 0.0

    def read(self, most: int = 1000) -> None:
        """Take the messages waiting on the pipe (at most ``most``, so that a tool
        flooding it with progress cannot keep cancel and time limits waiting)."""
        try:
            for _ in range(most):
                if not (self.open and self.conn.poll()):
                    break
                message = self.conn.recv()
                if message.get("type") != "progress":
                    self.final = message
                    self.close()
                    break
                self._pending = message
        except (EOFError, OSError):
            self.close()
        self.flush(time.monotonic())

    def due(self) -> float | None:
        """When held-back progress must be written, if any is held back."""
        return None if self._pending is None else self._last_sent + PROGRESS_INTERVAL_S

    def flush(self, now: float, *, force: bool = False) -> None:
        message = self._pending
        if message is None:
            return
        if force or now - self._last_sent >= PROGRESS_INTERVAL_S or message["fraction"] >= 1.0:
            self._pending, self._last_sent = None, now
            try:
                self.service.progress(
                    self.job_id,
                    message["fraction"],
                    message.get("message"),
                    holder=self.holder,
                    estimated=bool(message.get("estimated")),
                    eta_s=message.get("eta_s"),
                )
            except Exception:
                log.exception("recording the progress of job %s failed", self.job_id)

    def close(self) -> None:
        if self.open:
            self.open = False
            self.conn.close()


_context: BaseContext | None = None
_context_lock = threading.Lock()

#: Dask sets this for its workers, to hand freed memory back to the system sooner;
#: in a tool's process it makes numerical work markedly slower (an ESMFold fold by
#: a fifth), so the fork server, and every job process forked from it, go without.
_WORKER_ONLY_VARIABLES = ("MALLOC_TRIM_THRESHOLD_",)
#: Huge pages for the C library's allocations in job processes (where the kernel
#: gives them on request, as Linux does by default). A job process starts with none
#: of its memory touched, and its tool's first large allocations fault every 4 kB
#: (Vina's grid maps: 83,000 faults, 4,000 with huge pages); numerical work also
#: runs faster on them (a CPU ESMFold fold, 15 to 23%). A ``GLIBC_TUNABLES`` that
#: already sets ``glibc.malloc.hugetlb`` is left as it is.
_HUGE_PAGES = "glibc.malloc.hugetlb=1"
FORK_SERVER_MODULE = "proteiniq_jupyter.execution.fork_server"


def preload_modules(tools: ToolRegistry, tool_ids: Sequence[str]) -> tuple[str, ...]:
    """What the fork server imports for the tools named (``all``: every tool): each
    tool's libraries, and the tool itself as ``module:Class``, which is warmed up."""
    chosen = list(tools) if "all" in tool_ids else [t for t in tools if t.id in tool_ids]
    return tuple(dict.fromkeys(module for tool in chosen for module in tool.preload_modules()))


def _process_context(preload: Sequence[str] = ()) -> BaseContext:
    """A fork server with the engine's modules imported (and the libraries of the
    tools chosen to preload, then those tools warmed up): job processes fork from it
    in milliseconds, and it never carries the worker's threads or sockets. It starts
    with the first job, so what it preloads is fixed then; a library that is not
    installed is skipped."""
    global _context
    with _context_lock:
        if _context is None:
            modules = [spec.partition(":")[0] for spec in preload]
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(
                ["proteiniq_jupyter.execution.child", *dict.fromkeys(modules), FORK_SERVER_MODULE]
            )
            _context = context
        return _context


def _fork_server_environment(preload: Sequence[str]) -> dict[str, str | None]:
    """The environment the fork server starts with, and every job process inherits,
    as changes to this worker's: ``None`` removes a variable."""
    changes: dict[str, str | None] = dict.fromkeys(_WORKER_ONLY_VARIABLES)
    changes[WARM_UP_ENV] = ",".join(spec for spec in preload if ":" in spec)
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if sys.platform == "linux" and "glibc.malloc.hugetlb" not in tunables:
        changes["GLIBC_TUNABLES"] = ":".join(filter(None, (tunables, _HUGE_PAGES)))
    changes.update(openmp_variables())
    return changes


def start_job_process(
    request: dict[str, Any], preload: Sequence[str] = ()
) -> tuple[BaseProcess, Connection]:
    """Start a job's process; returns it with our end of the pipe it reports on.
    The process prepares, then waits for ``GO`` before it runs the tool.

    Two of multiprocessing's habits are set aside while one is started. Dask starts
    its workers as daemonic processes, which may not have children lest they outlive
    their parent; job processes kill themselves when their supervisor goes away.
    And a new process re-imports the parent's main program (a whole Jupyter server
    or test run, a second or more) so that functions defined there can be found;
    the job's target lives in this package, so the main program is left alone.
    """
    receiver, sender = multiprocessing.Pipe(duplex=True)
    process = _process_context(preload).Process(  # type: ignore[attr-defined]
        target=run_tool, args=(request, sender), name=f"piq-job-{request['job_id']}"
    )
    config = multiprocessing.current_process()._config  # type: ignore[attr-defined]
    with _context_lock:
        daemonic = config.pop("daemon", None)
        preparation = spawn.get_preparation_data
        spawn.get_preparation_data = _without_main(preparation)
        # The first start launches the fork server, with this environment.
        changes = _fork_server_environment(preload)
        saved = {name: os.environ.get(name) for name in changes}
        _set_environment(changes)
        try:
            process.start()
        finally:
            _set_environment(saved)
            spawn.get_preparation_data = preparation
            if daemonic is not None:
                config["daemon"] = daemonic
    sender.close()
    return process, receiver


def _set_environment(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


class _Preparation(Protocol):
    """``multiprocessing.spawn.get_preparation_data``, and what stands in for it."""

    def __call__(self, name: str) -> dict[str, Any]: ...


def _without_main(preparation: _Preparation) -> _Preparation:
    def prepare(name: str) -> dict[str, Any]:
        data = preparation(name)
        data.pop("init_main_from_name", None)
        data.pop("init_main_from_path", None)
        return data

    return prepare


def fail_if_unrunnable(
    service: RunService, tool: Tool, job_id: str, holder: str | None = None
) -> bool:
    """Fail the job before it starts, uncharged, when this machine lacks the tool's
    program or model weights; the error says what to install or set."""
    reason = tool.missing_requirements()
    if reason is None:
        return False
    _fail_before_start(service, job_id, f"{tool.name} cannot run here: {reason}", holder)
    return True


def _fail_before_start(service: RunService, job_id: str, error: str, holder: str | None) -> None:
    """Fail a job that never started (nothing is charged), as ``holder`` when given."""
    if holder is not None and service.claim(job_id, holder) is None:
        return  # cancelled, or another runner has it: not this runner's to fail
    service.fail(job_id, error, holder=holder)


def fail_held(service: RunService, job_id: str, error: str, holder: str) -> None:
    """Fail the job as ``holder``, whether its run had started or not; a job that
    another runner holds, or that has ended, stays as it is."""
    if service.fail(job_id, error, holder=holder) is None:
        _fail_before_start(service, job_id, error, holder)


def run_held(
    service: RunService, tools: ToolRegistry, config: EngineConfig, job: Job, holder: str
) -> Outcome:
    """Run a job handed to this process (dispatched to it, or claimed by it) to its
    end as ``holder``, under the configured time limit and lease. A job whose tool
    this process lacks, or cannot run, fails before it starts."""
    try:
        tool = tools.get(job.tool)
    except NotFound as exc:
        _fail_before_start(service, job.id, exc.message, holder)
        return Outcome.FAILED
    if fail_if_unrunnable(service, tool, job.id, holder):
        return Outcome.FAILED
    with thread_budget(str(config.data_dir.resolve()), job.id) as budget:
        return supervise(
            service,
            job,
            holder,
            time_limit_s=config.time_limit(job.tool, tool.time_limit_s),
            lease_ttl_s=config.lease_ttl_s,
            extra_tools=config.extra_tools,
            preload=preload_modules(tools, config.preload_tools),
            budget=budget,
        )


def kill_group(process: BaseProcess) -> None:
    """Kill the job's process and everything it started, and reap it."""
    pid = process.pid
    if pid is not None:
        for kill in (os.killpg, os.kill):  # the group, then the leader in case it had
            with contextlib.suppress(ProcessLookupError, PermissionError):  # no group yet
                kill(pid, signal.SIGKILL)
    process.join()


def supervise(
    service: RunService,
    job: Job,
    holder: str,
    *,
    time_limit_s: float,
    lease_ttl_s: float,
    extra_tools: tuple[str, ...] = (),
    preload: Sequence[str] = (),
    budget: ThreadBudget | None = None,
) -> Outcome:
    """Run ``job`` to its end as ``holder``. The job becomes PROCESSING, is charged
    and is taken from the engine that dispatched it in one step, once its process
    is there to run it; a job someone else took meanwhile is left to them. What
    the run wrote is dropped unless the run ended the job. Its process uses
    ``budget``'s threads, which its runner event records."""
    workdir = service.files.attempt_dir(job.id, holder)
    workdir.mkdir(parents=True, exist_ok=True)
    process, receiver = start_job_process(
        {
            "job_id": job.id,
            "tool": job.tool,
            "inputs": codec.encode_inputs(job.inputs),
            "settings": job.settings,
            "workdir": str(workdir),
            "log": str(workdir / LOG_NAME),
            "cache": str(service.files.cache_dir()),
            "extra_tools": list(extra_tools),
            "threads": budget.threads if budget is not None else None,
            "expected_s": service.expected_duration(job),
        },
        preload,
    )
    try:
        return _follow(service, job, holder, process, receiver, time_limit_s, lease_ttl_s, budget)
    except BaseException:
        kill_group(process)
        raise
    finally:
        service.files.discard(job.id, holder)


def _follow(
    service: RunService,
    job: Job,
    holder: str,
    process: BaseProcess,
    receiver: Connection,
    time_limit_s: float,
    lease_ttl_s: float,
    budget: ThreadBudget | None,
) -> Outcome:
    """Start the job in the store once its process is there, then stay with it."""
    assert process.pid is not None
    runner = {"pid": process.pid, "holder": holder, **(budget.to_event() if budget else {})}
    taking = time.monotonic()  # the lease the store gives runs from later than this
    if service.start(job.id, holder=holder, runner=runner, lease_ttl_s=lease_ttl_s) is None:
        kill_group(process)  # cancelled, or taken by another runner, meanwhile
        return Outcome.LOST
    lease_until = _watchdog_deadline(taking, lease_ttl_s)
    receiver.send(lease_message(lease_until))
    receiver.send(GO)
    started = time.monotonic()
    reports = _Reports(receiver, service, job.id, holder)
    next_check = started + CANCEL_POLL_S
    next_renewal = started + lease_ttl_s / 3
    deadline = started + time_limit_s
    sentinel = process.sentinel
    while True:
        wake = min(next_check, next_renewal, deadline, reports.due() or deadline)
        waiting_on: list[Any] = [sentinel, receiver] if reports.open else [sentinel]
        ready = wait(waiting_on, timeout=max(0.0, wake - time.monotonic()))
        if receiver in ready:
            reports.read()
        if sentinel in ready:
            break
        now = time.monotonic()
        reports.flush(now)
        if now >= deadline:
            kill_group(process)
            reports.close()
            service.time_out(job.id, time_limit_s, holder=holder)
            return Outcome.TIMEOUT
        if now >= next_check:
            next_check = now + CANCEL_POLL_S
            state = service.job_state(job.id)
            if state is None or state[0] is JobStatus.CANCELLED or state[1] != holder:
                kill_group(process)
                reports.close()
                cancelled = state is None or state[0] is JobStatus.CANCELLED
                return Outcome.CANCELLED if cancelled else Outcome.LOST
        if now >= next_renewal:
            next_renewal = now + lease_ttl_s / 3
            if job.id not in service.renew_leases(holder, [job.id], lease_ttl_s):
                kill_group(process)
                reports.close()
                return Outcome.LOST
            lease_until = _watchdog_deadline(now, lease_ttl_s)
            if reports.open:  # else the process has said its last and is ending
                with contextlib.suppress(OSError):  # it ended: the sentinel says so next
                    receiver.send(lease_message(lease_until))

    # Whatever the tool started and left behind goes with it.
    kill_group(process)
    # The last report was sent before the process ended; a process that died
    # without one has nothing more to say.
    reports.read(most=1_000_000)  # everything it wrote before it ended
    reports.flush(time.monotonic(), force=True)
    reports.close()
    final = reports.final or {}
    if final.get("type") == "result":
        done = service.complete(job.id, codec.decode_result(final["result"]), holder=holder)
        return Outcome.COMPLETED if done is not None else Outcome.LOST
    transient = False
    if final.get("type") == "error":
        message = str(final.get("message"))
    elif time.monotonic() >= lease_until:
        # Its watchdog stopped it: this supervisor did not renew the lease in time.
        message, transient = "its lease ran out before its worker could renew it", True
    else:
        message = (
            f"the tool's process ended unexpectedly (exit status {process.exitcode}); "
            f"see {LOG_NAME} in the job's files"
        )
    failed = service.fail(job.id, message, transient=transient, holder=holder)
    return Outcome.FAILED if failed is not None else Outcome.LOST


def _watchdog_deadline(renewed: float, lease_ttl_s: float) -> float:
    """Until when a job's process may run after its lease was renewed at
    ``renewed`` (``time.monotonic``, taken before the renewal was written)."""
    return renewed + lease_ttl_s * WATCHDOG_SHARE
