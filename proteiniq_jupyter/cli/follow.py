"""Waiting for a job from the command line, with its progress on standard error."""

from __future__ import annotations

import sys
import time

import click

from ..engine import Engine
from ..execution.base import EngineExecutor
from ..jobs.access import Actor
from ..jobs.model import Job
from ..jobs.status import JobStatus
from .app import _error
from .render import _clip, _describe_job, _render_detail

#: How often a waiting command looks at its job.
POLL_INTERVAL_S = 0.1


class _Progress:
    """Progress of a waiting command on standard error: a redrawn bar on a terminal,
    one line per status change otherwise (logs, pipes, CI)."""

    WIDTH = 30

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.tty = sys.stderr.isatty()
        self.last: str | None = None

    def update(self, job: Job) -> None:
        if self.tty:
            filled = round(job.progress * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            line = f"[{bar}] {job.progress:4.0%}  {job.status}"
            if job.progress_message:
                line += f"  {_clip(job.progress_message, 40)}"
            if line != self.last:
                click.echo(f"\r\x1b[2K{line}", err=True, nl=False)
        else:
            line = str(job.status)
            if line != self.last:
                click.echo(f"{self.job_id}: {line}", err=True)
        self.last = line

    def close(self) -> None:
        if self.tty and self.last is not None:
            click.echo("", err=True)


def _follow(engine: Engine[EngineExecutor], actor: Actor, job_id: str) -> Job:
    """Wait for the job to end, showing its progress. Interrupting cancels the job,
    which would otherwise be left running with nobody to finish it."""
    progress = _Progress(job_id)
    try:
        while True:
            job = engine.service.get(actor, job_id).job
            progress.update(job)
            if job.status.is_terminal:
                return job
            time.sleep(POLL_INTERVAL_S)
    except KeyboardInterrupt:
        engine.service.cancel(actor, job_id)
        _error(f"interrupted; job {job_id} cancelled")
        sys.exit(130)
    finally:
        progress.close()


def _finish(engine: Engine[EngineExecutor], actor: Actor, job: Job, wait: bool) -> None:
    """Print the new job's id; when waiting, its outcome, exiting 1 unless it completed."""
    click.echo(job.id)
    if not wait:
        return
    done = _follow(engine, actor, job.id)
    click.echo(_render_detail(_describe_job(engine, actor, done.id)))
    if done.status is not JobStatus.COMPLETED:
        reason = done.error or done.status_reason
        _error(f"job {done.id} ended {done.status}" + (f": {reason}" if reason else ""))
        sys.exit(1)
