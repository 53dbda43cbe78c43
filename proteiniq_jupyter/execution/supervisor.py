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
import time
from collections.abc import Sequence
from enum import StrEnum
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from ..config import EngineConfig
from ..jobs.model import Job
from ..jobs.provenance import RunEnvironment
from ..jobs.runs import RunService
from ..jobs.status import JobStatus
from ..store import codec
from ..tools.registry import ToolRegistry
from .child import GO, lease_message
from .cpu import ThreadBudget, thread_budget
from .environment import run_environment
from .job_process import kill_group, preload_modules, start_job_process
from .preflight import runnable_tool
from .reports import Reports

__all__ = [
    "CANCEL_POLL_S",
    "LOG_NAME",
    "Outcome",
    "kill_group",
    "run_held",
    "start_job_process",
    "supervise",
]

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
    BUDGET_EXCEEDED = "budget_exceeded"  # it went past its credit cap
    LOST = "lost"  # the lease went to someone else; this run's outcome is void


def run_held(
    service: RunService, tools: ToolRegistry, config: EngineConfig, job: Job, holder: str
) -> Outcome:
    """Run a job handed to this process (dispatched to it, or claimed by it) to its
    end as ``holder``, under the configured time limit and lease. A job whose tool
    this process lacks, or cannot run, fails before it starts."""
    tool = runnable_tool(service, tools, job.tool, job.id, holder)
    if tool is None:
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
            environment=run_environment(tool, budget.threads),
        )


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
    environment: RunEnvironment | None = None,
) -> Outcome:
    """Run ``job`` to its end as ``holder``. The job becomes PROCESSING, is charged
    and is taken from the engine that dispatched it in one step, once its process
    is there to run it; a job someone else took meanwhile is left to them. What
    the run wrote is dropped unless the run ended the job. Its process uses
    ``budget``'s threads, which its runner event records; ``environment`` goes
    into its provenance when it starts."""
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
        return _follow(
            service,
            job,
            holder,
            process,
            receiver,
            time_limit_s,
            lease_ttl_s,
            budget,
            environment,
        )
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
    environment: RunEnvironment | None,
) -> Outcome:
    """Start the job in the store once its process is there, then stay with it."""
    assert process.pid is not None
    runner = {"pid": process.pid, "holder": holder, **(budget.to_event() if budget else {})}
    taking = time.monotonic()  # the lease the store gives runs from later than this
    taken = service.start(
        job.id, holder=holder, runner=runner, environment=environment, lease_ttl_s=lease_ttl_s
    )
    if taken is None:
        kill_group(process)  # cancelled, or taken by another runner, meanwhile
        return Outcome.LOST
    lease_until = _watchdog_deadline(taking, lease_ttl_s)
    receiver.send(lease_message(lease_until))
    receiver.send(GO)
    started = time.monotonic()
    reports = Reports(receiver, service, job.id, holder)
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
                if state is not None and state[0] is JobStatus.BUDGET_EXCEEDED:
                    return Outcome.BUDGET_EXCEEDED
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
