"""The engine: the job service with an executor attached, opened from configuration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Generic, TypeVar

from .assembly import build_service
from .config import EXECUTOR_NAMES, EngineConfig
from .execution.base import EngineExecutor
from .execution.detached import DetachedProcessExecutor
from .execution.inprocess import InProcessExecutor
from .jobs.access import Actor
from .jobs.runs import RunService
from .jobs.service import JobService
from .store.sql_store import SqlStore
from .tools.registry import ToolRegistry

if TYPE_CHECKING:
    from .execution.dask_executor import DaskExecutor

EXECUTORS = EXECUTOR_NAMES

E = TypeVar("E", bound=EngineExecutor, covariant=True)


@dataclass
class Engine(Generic[E]):
    config: EngineConfig
    store: SqlStore
    tools: ToolRegistry
    service: JobService
    executor: E

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
) -> Engine[EngineExecutor]:
    """The engine for ``config`` (from the environment by default). Jobs run where
    ``executor`` (or the configuration) says: on Dask (the default), on a thread
    pool of this process, or each in a detached process of its own that outlives
    this one. With ``detached`` (what ``piq run`` without ``--wait`` needs) each job
    is handed to whatever runs jobs for this installation without this process:
    a running engine on the same database, else the configured Dask scheduler,
    else a detached process."""
    config = config or EngineConfig.from_env()
    if detached:
        return open_hand_off_engine(config, tools=tools)
    kind = executor or config.executor
    if kind not in EXECUTORS:
        raise ValueError(f"unknown executor {kind!r}; use one of {', '.join(EXECUTORS)}")
    if kind == "dask":
        return open_dask_engine(config, tools=tools)
    config = replace(config, executor=kind)
    if kind == "service":
        from .execution.elsewhere import LeftToService

        return _open(config, tools, lambda runs, _registry: LeftToService(runs, config.username))
    if kind == "detached":
        return _open(
            config, tools, lambda runs, registry: DetachedProcessExecutor(runs, config, registry)
        )
    return _open(config, tools, InProcessExecutor)


def open_hand_off_engine(
    config: EngineConfig, *, tools: ToolRegistry | None = None
) -> Engine[EngineExecutor]:
    """The engine of a process that submits jobs and leaves them to others (see
    ``execution.handoff``)."""
    from .execution.handoff import ClusterHandOff, EngineHandOff, running_engine

    found = running_engine(config)
    if found is not None:
        return _open(config, tools, lambda _runs, _registry: EngineHandOff(found))
    if config.dask_scheduler_address:
        return _open(config, tools, lambda runs, registry: ClusterHandOff(runs, registry, config))
    config = replace(config, executor="detached")
    return _open(
        config, tools, lambda runs, registry: DetachedProcessExecutor(runs, config, registry)
    )


def open_dask_engine(
    config: EngineConfig, *, tools: ToolRegistry | None = None
) -> Engine[DaskExecutor]:
    """The engine for ``config`` with its jobs on Dask, where what is particular to
    Dask (its scheduler, its client) can be reached."""
    from .execution.dask_executor import DaskExecutor  # Dask loads only when used

    config = replace(config, executor="dask")
    return _open(config, tools, lambda runs, registry: DaskExecutor(runs, registry, config))


def _open(
    config: EngineConfig,
    tools: ToolRegistry | None,
    executor: Callable[[RunService, ToolRegistry], E],
) -> Engine[E]:
    store = SqlStore.open(config.database_url)
    service, registry = build_service(config, tools, store=store)
    chosen = executor(service.runs, registry)
    service.attach_executor(chosen)
    return Engine(config, store, registry, service, chosen)
