"""Runs one claimed job in its own process and stays with it to the end: relays
progress, renews the lease, and kills the whole process group on cancel, on the
time limit, or when the lease is lost. Whatever runs the job (a Dask worker, a
detached process) calls ``supervise``."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..jobs.model import Job, ToolResult
from ..jobs.service import JobService
from ..jobs.status import JobStatus
from .child import REPORT_FD_ENV

log = logging.getLogger(__name__)

#: Progress closer together than this is merged (the latest always wins).
PROGRESS_INTERVAL_S = 0.05
#: How often the store is asked whether the job was cancelled.
CANCEL_POLL_S = 0.2
LOG_NAME = "run.log"


class Outcome(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    LOST = "lost"  # the lease went to someone else; this run's outcome is void


@dataclass
class _Reports:
    """What the child said, read on a thread of its own."""

    final: dict[str, Any] | None = None
    done: threading.Event = field(default_factory=threading.Event)


def _read_reports(
    fd: int, service: JobService, job_id: str, holder: str, reports: _Reports
) -> None:
    last_sent = 0.0
    pending: dict[str, Any] | None = None
    try:
        with os.fdopen(fd, "r") as stream:
            for line in stream:
                try:
                    message = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if message.get("type") != "progress":
                    reports.final = message
                    continue
                pending = message
                now = time.monotonic()
                if now - last_sent >= PROGRESS_INTERVAL_S or message["fraction"] >= 1.0:
                    service.progress(
                        job_id, message["fraction"], message.get("message"), holder=holder
                    )
                    last_sent, pending = now, None
        if pending is not None:
            service.progress(job_id, pending["fraction"], pending.get("message"), holder=holder)
    except Exception:
        log.exception("reading the reports of job %s failed", job_id)
    finally:
        reports.done.set()


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the child and everything it started, and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def supervise(
    service: JobService,
    job: Job,
    holder: str,
    *,
    time_limit_s: float,
    lease_ttl_s: float,
    extra_tools: tuple[str, ...] = (),
) -> Outcome:
    """Run ``job`` (already PROCESSING and held by ``holder``) to its end."""
    workdir = service.files.job_dir(job.id)
    workdir.mkdir(parents=True, exist_ok=True)
    read_fd, write_fd = os.pipe()
    with open(workdir / LOG_NAME, "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "proteiniq_jupyter.execution.child"],
            stdin=subprocess.PIPE,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
            start_new_session=True,
            cwd=workdir,
            env={**os.environ, REPORT_FD_ENV: str(write_fd)},
        )
    os.close(write_fd)
    started = time.monotonic()
    service.record_runner(job.id, holder, {"pid": process.pid, "holder": holder})
    reports = _Reports()
    threading.Thread(
        target=_read_reports,
        args=(read_fd, service, job.id, holder, reports),
        name=f"piq-reports-{job.id}",
        daemon=True,
    ).start()
    request = {
        "tool": job.tool,
        "inputs": [item.to_api() for item in job.inputs],
        "settings": job.settings,
        "workdir": str(workdir),
        "extra_tools": list(extra_tools),
    }
    assert process.stdin is not None
    try:
        process.stdin.write(json.dumps(request).encode())
        process.stdin.close()
    except BrokenPipeError:
        pass  # the child died at once; its exit status tells the rest

    next_check = started + CANCEL_POLL_S
    next_renewal = started + lease_ttl_s / 3
    deadline = started + time_limit_s
    while process.poll() is None:
        time.sleep(0.02)
        now = time.monotonic()
        if now >= deadline:
            kill_group(process)
            service.time_out(job.id, time_limit_s, holder=holder)
            return Outcome.TIMEOUT
        if now >= next_check:
            next_check = now + CANCEL_POLL_S
            state = service.job_state(job.id)
            if state is None or state[0] is JobStatus.CANCELLED:
                kill_group(process)
                return Outcome.CANCELLED
            if state[1] != holder:
                kill_group(process)
                return Outcome.LOST
        if now >= next_renewal:
            next_renewal = now + lease_ttl_s / 3
            if job.id not in service.renew_leases(holder, [job.id], lease_ttl_s):
                kill_group(process)
                return Outcome.LOST

    # Whatever the tool started and left behind goes with it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    reports.done.wait(timeout=5)
    final = reports.final or {}
    if final.get("type") == "result":
        done = service.complete(job.id, ToolResult.from_api(final["result"]), holder=holder)
        return Outcome.COMPLETED if done is not None else Outcome.LOST
    if final.get("type") == "error":
        message = str(final.get("message"))
    else:
        message = (
            f"the tool's process ended unexpectedly (exit status {process.returncode}); "
            f"see {LOG_NAME} in the job's files"
        )
    service.fail(job.id, message, holder=holder)
    return Outcome.FAILED
