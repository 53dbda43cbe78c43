"""The worker side of the Dask executor: what each worker says about itself when
it starts, and the task that runs a job.

A worker checks each tool's requirements where its jobs would run, when it
starts (through ``WorkerSetup``, which the engine registers with the cluster, so
every worker that joins runs it) and again before its first job, when its fork
server loads. It advertises each tool it can run as a Dask resource
(``tool_resource``), and the engine asks for that resource with each job, so the
scheduler sends a job only to a worker that can run it; a job that no worker can
run waits in the scheduler until one joins. A worker that finds it cannot run a
job after all refuses it: it stops advertising the tool, says on the job which
worker refused it and why, and hands it back.

Where the database and the job files are is the worker's to say: its own
``PIQ_DATABASE_URL`` and ``PIQ_DATA_DIR`` win over the engine's, since the
engine's addresses (often 127.0.0.1) mean something else on another machine.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from distributed import Worker, WorkerPlugin, get_worker
from distributed.core import Status
from distributed.utils import sync
from sqlalchemy.engine import make_url

from ..assembly import build_service
from ..config import VARIABLES, EngineConfig
from ..jobs.errors import NotFound
from ..jobs.model import Job
from ..jobs.runs import RunService
from ..tools.base import Tool
from ..tools.registry import ToolRegistry
from .availability import requirement_gap, requirement_gaps
from .supervisor import run_held

#: Dask's own logger family, so that ``dask worker`` prints what the worker says.
log = logging.getLogger("distributed.proteiniq")

#: The resource a worker advertises for each tool it can run, and how much of it:
#: more than it could ever run at once, so that it routes jobs and never limits them.
TOOL_RESOURCE_PREFIX = "piq-tool-"
TOOL_CAPACITY = 1_000_000
#: The topic of the cluster's event log on which workers report what they can run.
WORKER_TOPIC = "proteiniq-worker"
#: The settings that are a worker's own to say, where it has them.
OWN_SETTINGS = ("database_url", "data_dir")


#: What GPU workers declare (``dask worker --resources GPU=1``).
GPU_RESOURCE = "GPU"


class WorkerRefused(RuntimeError):
    """What a job's task raises on a worker that cannot run the job's tool: the job
    is handed back, waiting (Dask tells the engine of it with the task's end,
    without a trip to the worker for a result)."""


def tool_resource(tool_id: str) -> str:
    return f"{TOOL_RESOURCE_PREFIX}{tool_id}"


def task_resources(tool: Tool) -> dict[str, float]:
    """What a job's task asks of its worker: the tool, and a GPU if it needs one."""
    resources = {tool_resource(tool.id): 1.0}
    if tool.gpu:
        resources[GPU_RESOURCE] = 1.0
    return resources


def worker_config(config: EngineConfig, env: Mapping[str, str] | None = None) -> EngineConfig:
    """The engine's configuration with the worker's own database and data folder
    (``PIQ_DATABASE_URL``, ``PIQ_DATA_DIR``) in place of the engine's."""
    env = os.environ if env is None else env
    own: dict[str, Any] = {}
    for name in OWN_SETTINGS:
        variable = VARIABLES[name]
        text = env.get(variable.name, "").strip()
        if text:
            own[name] = variable.read(variable.name, text)
    if "data_dir" in own and "database_url" not in own and _is_default_sqlite(config):
        # The default database lies in the data folder: it moves with it.
        own["database_url"] = EngineConfig.from_env({}, data_dir=own["data_dir"]).database_url
    return replace(config, **own) if own else config


def _is_default_sqlite(config: EngineConfig) -> bool:
    return config.database_url == EngineConfig.from_env({}, data_dir=config.data_dir).database_url


def safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(an unreadable database address)"


# -- what a worker can run ------------------------------------------------------

_engines: dict[EngineConfig, tuple[RunService, ToolRegistry]] = {}
_engines_lock = threading.Lock()
_rechecked = threading.Event()


def _worker_engine(config: EngineConfig) -> tuple[RunService, ToolRegistry]:
    """One store connection pool per worker process and configuration."""
    with _engines_lock:
        if config not in _engines:
            service, tools = build_service(config)
            _engines[config] = (service.runs, tools)
        return _engines[config]


def worker_report(config: EngineConfig, address: str) -> dict[str, Any]:
    """What the worker uses and what it can run, checked now."""
    tools = ToolRegistry.from_entry_points(config.extra_tools)
    gaps = requirement_gaps(tools)
    return {
        "worker": address,
        "pid": os.getpid(),
        "database": safe_url(config.database_url),
        "data_dir": str(Path(config.data_dir).absolute()),
        "runnable": sorted(tool for tool, gap in gaps.items() if gap is None),
        "missing": {tool: gap for tool, gap in gaps.items() if gap is not None},
    }


async def advertise(worker: Worker, report: dict[str, Any]) -> None:
    """Tell the scheduler which tools this worker runs (as resources) and log what
    it uses. Dask places waiting tasks on a worker when it joins, before this
    runs, so the worker then says it is running again, which makes the scheduler
    look at the tasks no worker could take."""
    runnable = {tool_resource(tool): TOOL_CAPACITY for tool in report["runnable"]}
    lacking = {tool_resource(tool): 0 for tool in report["missing"]}
    await worker.set_resources(**lacking, **runnable)
    if worker.status == Status.running:
        worker.status = Status.paused
        worker.status = Status.running
    worker.log_event(WORKER_TOPIC, report)
    log.info(
        "proteiniq worker %s: database %s, job files in %s; runs %s",
        report["worker"],
        report["database"],
        report["data_dir"],
        ", ".join(report["runnable"]) or "no tool",
    )
    for tool, gap in report["missing"].items():
        log.info("proteiniq worker %s cannot run %s: %s", report["worker"], tool, gap)


class WorkerSetup(WorkerPlugin):
    """Run on every worker of the cluster as it starts (and on those already
    there when the engine connects)."""

    name = "proteiniq"

    def __init__(self, config: EngineConfig) -> None:
        self.config = config

    async def setup(self, worker: Worker) -> None:
        config = worker_config(self.config)
        # The checks may import a tool's libraries: off the worker's event loop.
        report = await asyncio.get_running_loop().run_in_executor(
            None, worker_report, config, worker.address
        )
        await advertise(worker, report)


def _recheck(worker: Worker, config: EngineConfig) -> None:
    """Check every tool again, once per worker process, as its first job starts the
    fork server that its jobs are forked from: beside that job, which checks its
    own tool itself, rather than before it."""
    if _rechecked.is_set():
        return
    _rechecked.set()

    def check() -> None:
        try:
            sync(worker.loop, advertise, worker, worker_report(config, worker.address))
        except Exception:
            log.warning("checking the tools of worker %s again failed", worker.address)

    threading.Thread(target=check, name="piq-tool-check", daemon=True).start()


# -- the task ---------------------------------------------------------------------


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
        _recheck(worker, config)
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
    holder = f"worker:{address}:{os.getpid()}:{run}"
    return str(run_held(service, tools, config, job, holder))


def _gap(tools: ToolRegistry, tool_id: str) -> str | None:
    try:
        tool = tools.get(tool_id)
    except NotFound:
        return f"{tool_id} is not installed on it"
    return requirement_gap(tool)
