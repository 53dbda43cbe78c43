"""The worker side of the Dask executor: the task that runs a job.

A worker that finds it cannot run a job after all (see ``worker_setup`` for what
it says it can run) refuses it: it stops advertising the tool, says on the job
which worker refused it and why, and hands it back.
"""

from __future__ import annotations

import threading

from distributed import Worker, get_worker
from distributed.utils import sync

from ..assembly import build_service
from ..config import EngineConfig
from ..jobs.errors import NotFound
from ..jobs.model import Job
from ..jobs.runs import RunService
from ..tools.registry import ToolRegistry
from .availability import requirement_gap
from .dask_tasks import WorkerRefused, tool_resource, worker_holder
from .supervisor import run_held
from .worker_setup import WorkerSetup, recheck_once, safe_url, worker_config

__all__ = ["WorkerSetup", "execute_job", "safe_url", "worker_config"]

_engines: dict[EngineConfig, tuple[RunService, ToolRegistry]] = {}
_engines_lock = threading.Lock()


def _worker_engine(config: EngineConfig) -> tuple[RunService, ToolRegistry]:
    """One store connection pool per worker process and configuration."""
    with _engines_lock:
        if config not in _engines:
            service, tools = build_service(config)
            _engines[config] = (service.runs, tools)
        return _engines[config]


def execute_job(config: EngineConfig, job: Job, run: str) -> str:
    """The Dask task: run the job (as the engine dispatched it) in a child process
    and record its end, with the worker's own database and data folder. Taking
    the job over from the engine happens when it starts, so a job costs the
    worker two store writes: start and end. The run's lease holder ends with
    ``run``, which the engine chose, so that the engine can tell this run from any
    other run of the job. A worker that cannot run the job's tool refuses it
    (``WorkerRefused``), and leaves it waiting for one that can."""
    config = worker_config(config)
    service, tools = _worker_engine(config)
    try:
        worker: Worker | None = get_worker()
    except ValueError:
        worker = None
    address = worker.address if worker is not None else "local"
    if worker is not None:
        recheck_once(worker, config)
    gap = _gap(tools, job.tool)
    if gap is not None:
        if worker is not None:
            sync(worker.loop, worker.set_resources, **{tool_resource(job.tool): 0})
        service.set_waiting_reason(
            job.id,
            f"worker {address} cannot run {job.tool}: {gap}",
            details={"refused_by": address, "refusal": gap},
        )
        raise WorkerRefused(gap)
    return str(run_held(service, tools, config, job, worker_holder(address, run)))


def _gap(tools: ToolRegistry, tool_id: str) -> str | None:
    try:
        tool = tools.get(tool_id)
    except NotFound:
        return f"{tool_id} is not installed on it"
    return requirement_gap(tool)
