"""Waiting for a job or a batch from the command line, with progress on standard
error, and what an interrupt (Ctrl-C) does to what was being waited for."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import NoReturn

import click

from ..console import Bars, job_row
from ..engine import Engine
from ..execution.base import EngineExecutor
from ..jobs.access import Actor
from ..jobs.errors import PiqError
from ..jobs.model import BatchSummary, Job
from ..jobs.ports import JobFilter
from ..jobs.status import JobStatus
from .app import _error
from .render import _describe_job, _render_detail

#: How often a waiting command looks at its job.
POLL_INTERVAL_S = 0.1
#: Children a batch's progress shows, one line each.
MAX_CHILD_LINES = 100


def _cancelled_text(job: Job) -> str:
    """What cancelling did to a job's credits."""
    if job.status is not JobStatus.CANCELLED:
        return f"job {job.id} had already ended {job.status}"
    if job.credits_charged:
        return (
            f"job {job.id} cancelled while processing; its {job.credits_charged} credits "
            "stay charged (a cancelled job used the compute it started)"
        )
    return f"job {job.id} cancelled before it started; nothing was charged"


def _leave_now(status: int) -> NoReturn:
    """Exit at once after an interrupt. The jobs this process ran are cancelled in
    the store already; their tools' threads would only hold the exit up until they
    end (a fold can take minutes), and what they return is ignored."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def cancel_and_say(engine: Engine[EngineExecutor], actor: Actor, job_id: str) -> str:
    try:
        return _cancelled_text(engine.service.cancel(actor, job_id))
    except PiqError:
        return _cancelled_text(engine.service.get(actor, job_id).job)


def _follow(engine: Engine[EngineExecutor], actor: Actor, job_id: str) -> Job:
    """Wait for the job to end, showing its progress. Interrupting cancels the job,
    which would otherwise be left running with nobody to finish it, and says what
    that did to its credits."""
    bars = Bars()
    try:
        while True:
            job = engine.service.get(actor, job_id).job
            bars.show([job_row(job, job.eta_s)])
            if job.status.is_terminal:
                return job
            time.sleep(POLL_INTERVAL_S)
    except KeyboardInterrupt:
        bars.close()
        _error(f"interrupted; {cancel_and_say(engine, actor, job_id)}")
        _leave_now(130)
    finally:
        bars.close()


def _finish(engine: Engine[EngineExecutor], actor: Actor, job: Job, wait: bool) -> None:
    """Print the new job's id; when waiting, its outcome, exiting 1 unless it completed."""
    click.echo(job.id)
    if not wait:
        destination = getattr(engine.executor, "destination", None)
        if destination:
            click.echo(f"job {job.id} handed to {destination}", err=True)
        return
    done = _follow(engine, actor, job.id)
    click.echo(_render_detail(_describe_job(engine, actor, done.id)))
    if done.status is not JobStatus.COMPLETED:
        reason = done.error or done.status_reason
        _error(f"job {done.id} ended {done.status}" + (f": {reason}" if reason else ""))
        sys.exit(1)


def batch_head(summary: BatchSummary, children: Sequence[Job]) -> str:
    done = sum(1 for c in children if c.status.is_terminal)
    return f"batch {summary.batch.id}  {summary.status}  {done} of {summary.total} done"


def _batch_state(
    engine: Engine[EngineExecutor], actor: Actor, batch_id: str
) -> tuple[BatchSummary, list[Job]]:
    summary = engine.service.get_batch(actor, batch_id)
    page = engine.service.list_jobs(actor, JobFilter(batch_id=batch_id), limit=MAX_CHILD_LINES)
    return summary, in_batch_order([view.job for view in page.items])


def in_batch_order(children: Sequence[Job]) -> list[Job]:
    """Children in the order of the batch's items: each is named after its batch
    with its item's number (``#3``), while their ids are random."""

    def number(job: Job) -> tuple[int, str]:
        _, _, tail = job.name.rpartition("#")
        return (int(tail) if tail.isdigit() else sys.maxsize, job.id)

    return sorted(children, key=number)


def child_label(summary: BatchSummary, job: Job) -> str:
    """A child's name without its batch's name before it (``#3``)."""
    return job.name.removeprefix(summary.batch.name).strip() or job.name


def follow_batch(
    engine: Engine[EngineExecutor], actor: Actor, batch_id: str, *, cancel: bool
) -> BatchSummary:
    """Show every child's progress until the batch ends. Interrupting cancels the
    batch when ``cancel`` (its jobs run in this process), else leaves it running."""
    bars = Bars()
    try:
        while True:
            summary, children = _batch_state(engine, actor, batch_id)
            bars.show(
                [job_row(child, child.eta_s, child_label(summary, child)) for child in children],
                head=batch_head(summary, children),
            )
            if summary.status != "PROCESSING":
                return summary
            time.sleep(POLL_INTERVAL_S)
    except KeyboardInterrupt:
        bars.close()
        if not cancel:
            _error(f"interrupted; batch {batch_id} goes on (piq batch show {batch_id})")
            sys.exit(130)
        summary = engine.service.cancel_batch(actor, batch_id)
        charged = summary.credits_charged
        _error(
            f"interrupted; batch {batch_id} cancelled: "
            + ", ".join(f"{n} {status}" for status, n in sorted(summary.counts.items()))
            + (f"; {charged} credits stay charged for children that had started" if charged else "")
        )
        _leave_now(130)
    finally:
        bars.close()
