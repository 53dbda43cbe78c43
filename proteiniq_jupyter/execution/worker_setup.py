"""What each Dask worker says about itself, and where it runs its jobs.

A worker checks each tool's requirements where its jobs would run, when it
starts (through ``WorkerSetup``, which the engine registers with the cluster, so
every worker that joins runs it) and again before its first job, when its fork
server loads. It advertises each tool it can run as a Dask resource
(``dask_tasks.tool_resource``), and the engine asks for that resource with each
job, so the scheduler sends a job only to a worker that can run it; a job that no
worker can run waits in the scheduler until one joins.

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

from distributed import Worker, WorkerPlugin
from distributed.core import Status
from distributed.utils import sync
from sqlalchemy.engine import make_url

from ..config import VARIABLES, EngineConfig
from ..tools.registry import ToolRegistry
from .availability import requirement_gaps
from .dask_tasks import WORKER_TOPIC, tool_resource

#: Dask's own logger family, so that ``dask worker`` prints what the worker says.
log = logging.getLogger("distributed.proteiniq")

#: How much of each tool's resource a worker advertises: more than it could ever
#: run at once, so that it routes jobs and never limits them.
TOOL_CAPACITY = 1_000_000
#: The settings that are a worker's own to say, where it has them.
OWN_SETTINGS = ("database_url", "data_dir")

_rechecked = threading.Event()


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


def recheck_once(worker: Worker, config: EngineConfig) -> None:
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
