"""Assembles the engine from configuration: store, files, tools, service, executor."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .config import EngineConfig
from .execution.detached import DetachedProcessExecutor
from .execution.inprocess import InProcessExecutor
from .jobs.access import Actor
from .jobs.core import ServiceConfig
from .jobs.service import JobService
from .pdb_archive import PdbArchive
from .store.sql_store import DirectoryJobFiles, SqlStore
from .tools.registry import ToolRegistry

if TYPE_CHECKING:
    from .execution.dask_executor import DaskExecutor

EXECUTORS = ("dask", "inprocess", "detached")


def build_service(
    config: EngineConfig, tools: ToolRegistry | None = None
) -> tuple[JobService, ToolRegistry]:
    """The service over the configured store, with no executor attached: what a
    worker needs to record what its jobs do."""
    store = SqlStore.open(config.database_url)
    registry = tools if tools is not None else ToolRegistry.from_entry_points(config.extra_tools)
    service = JobService(
        store,
        registry,
        DirectoryJobFiles(config.files_dir),
        config=ServiceConfig(
            starting_credits=config.starting_credits,
            max_attempts=config.max_attempts,
            max_concurrent_jobs=config.max_concurrent_jobs,
            batch_concurrency=config.batch_concurrency,
        ),
        structures=PdbArchive(config.pdb_url) if config.pdb_url else None,
    )
    return service, registry


@dataclass
class Engine:
    config: EngineConfig
    store: SqlStore
    tools: ToolRegistry
    service: JobService
    executor: DaskExecutor | InProcessExecutor | DetachedProcessExecutor

    def actor(self) -> Actor:
        """The configured (or operating-system) user, signed in."""
        return self.service.sign_in(
            self.config.username, email=self.config.email, workspace_id=self.config.workspace_id
        )

    def wait(self, timeout: float | None = None) -> None:
        """Block until the jobs this engine dispatched have finished."""
        self.executor.wait(timeout)

    def close(self) -> None:
        self.executor.shutdown()
        self.store.close()


def open_engine(
    config: EngineConfig | None = None,
    *,
    tools: ToolRegistry | None = None,
    executor: str | None = None,
    detached: bool = False,
) -> Engine:
    """The engine for ``config`` (from the environment by default). Jobs run where
    ``executor`` (or the configuration) says: on Dask (the default), on a thread
    pool of this process, or each in a detached process of its own that outlives
    this one (what ``piq run`` without ``--wait`` needs)."""
    config = config or EngineConfig.from_env()
    kind = "detached" if detached else (executor or config.executor)
    if kind not in EXECUTORS:
        raise ValueError(f"unknown executor {kind!r}; use one of {', '.join(EXECUTORS)}")
    config = replace(config, executor=kind)
    service, registry = build_service(config, tools)
    chosen: DaskExecutor | InProcessExecutor | DetachedProcessExecutor
    if kind == "dask":
        from .execution.dask_executor import DaskExecutor  # Dask loads only when used

        chosen = DaskExecutor(service.runs, registry, config)
    elif kind == "detached":
        chosen = DetachedProcessExecutor(service.runs, config)
    else:
        chosen = InProcessExecutor(service.runs, registry)
    service.attach_executor(chosen)
    store = service.store
    assert isinstance(store, SqlStore)
    return Engine(config, store, registry, service, chosen)
