"""Assembles the engine from configuration: store, files, tools, service, executor."""

from __future__ import annotations

from dataclasses import dataclass

from .config import EngineConfig
from .execution.detached import DetachedProcessExecutor
from .execution.inprocess import InProcessExecutor
from .jobs.access import Actor
from .jobs.service import JobService, ServiceConfig
from .store.sql_store import DirectoryJobFiles, SqlStore
from .tools.registry import ToolRegistry


@dataclass
class Engine:
    config: EngineConfig
    store: SqlStore
    tools: ToolRegistry
    service: JobService
    executor: InProcessExecutor | DetachedProcessExecutor

    def actor(self) -> Actor:
        """The configured (or operating-system) user, signed in."""
        return self.service.sign_in(
            self.config.username, email=self.config.email, workspace_id=self.config.workspace_id
        )

    def close(self) -> None:
        self.executor.shutdown()
        self.store.close()


def open_engine(
    config: EngineConfig | None = None,
    *,
    tools: ToolRegistry | None = None,
    detached: bool = False,
) -> Engine:
    """The engine for ``config`` (from the environment by default). Jobs run on a
    thread pool of this process, or with ``detached=True`` each in a process of its
    own that outlives this one (what ``piq run`` without ``--wait`` needs)."""
    config = config or EngineConfig.from_env()
    store = SqlStore.open(config.database_url)
    registry = tools if tools is not None else ToolRegistry.from_entry_points()
    service = JobService(
        store,
        registry,
        DirectoryJobFiles(config.files_dir),
        config=ServiceConfig(
            starting_credits=config.starting_credits,
            max_attempts=config.max_attempts,
            max_concurrent_jobs=config.max_concurrent_jobs,
        ),
    )
    executor: InProcessExecutor | DetachedProcessExecutor
    if detached:
        executor = DetachedProcessExecutor(service, config)
    else:
        executor = InProcessExecutor(service, registry)
    service.attach_executor(executor)
    return Engine(config, store, registry, service, executor)
