"""What the engine writes to the store when a job's Dask task ends in error, or
when the scheduler says a worker left: a run that its worker took with it goes to
RETRY at once (charged once), rather than when its lease runs out, and a job the
engine still held is let go, to be dispatched again."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..jobs.runs import RunService
from ..jobs.status import JobStatus
from .cluster_view import WorkerLeft
from .dask_tasks import is_on_worker_at, is_run_on_worker


def task_failed(
    service: RunService, engine_id: str, job_id: str, run: str, error: BaseException | None
) -> bool:
    """A job's task, dispatched as ``run``, ended with ``error`` (not a refusal).
    Returns False when the job is gone."""
    state = service.job_state(job_id)
    if state is None:
        return False
    status, holder = state
    if status is JobStatus.PROCESSING and is_run_on_worker(holder, run):
        # Its worker died mid-run: retry it now rather than when the lease
        # expires (unless the job runs elsewhere already: then it is not this
        # task's run that is to fail).
        service.fail(
            job_id,
            f"the worker running it stopped ({type(error).__name__})",
            transient=True,
            holder=holder,
        )
    elif status in (JobStatus.PENDING, JobStatus.RETRY) and holder == engine_id:
        service.release_lease(job_id, engine_id)
    return True


def fail_runs_on(
    service: RunService, departure: WorkerLeft, job_ids: Iterable[str]
) -> Iterator[str]:
    """Of ``job_ids``, fail each that the worker which left was running, and yield
    it once it has failed (for its task to be dropped: Dask would run it again
    elsewhere, and the job is dispatched anew instead)."""
    for job_id in job_ids:
        state = service.job_state(job_id)
        if state is None:
            continue
        status, holder = state
        if status is not JobStatus.PROCESSING or not is_on_worker_at(holder, departure.address):
            continue
        service.fail(
            job_id,
            f"the worker running it ({departure.address}) left the cluster",
            transient=True,
            holder=holder,
        )
        yield job_id
