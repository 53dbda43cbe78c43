"""Handing a job to whatever runs jobs for this installation, for a command that
does not wait for it (``piq run`` without ``--wait``).

* A running engine on the same database (a Jupyter server with this extension,
  or ``piq engine``) announces itself with a runtime file in Jupyter's runtime
  folder, beside the server's own (``announce``); it takes waiting jobs from the
  store, so the job is left to it.
* Otherwise, with a Dask scheduler configured, the job is sent to that cluster as
  a task that outlives the command (``ClusterHandOff``), and runs on a worker that
  can run its tool.
* With neither, the job runs in a detached process of its own on this machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_core.paths import jupyter_runtime_dir

from ..config import EngineConfig
from ..jobs.ports import ToolAvailability
from ..jobs.runs import ENGINE_LEASE_PREFIX, RunService
from ..tools.registry import ToolRegistry

if TYPE_CHECKING:
    from distributed import Client

RUNTIME_PREFIX = "proteiniq-engine-"


def _database_key(database_url: str) -> str:
    """The database, named without its address or password."""
    return hashlib.sha256(database_url.encode()).hexdigest()


def _runtime_dir() -> Path:
    return Path(jupyter_runtime_dir())


@dataclass(frozen=True)
class RunningEngine:
    pid: int
    kind: str  # "server" or "engine"
    url: str | None

    def describe(self) -> str:
        where = f" at {self.url}" if self.url else ""
        return f"the running {'Jupyter server' if self.kind == 'server' else 'engine'}{where}"


def announce(config: EngineConfig, kind: str, url: str | None = None) -> Path:
    """Say, until ``withdraw``, that this process runs the jobs of ``config``'s
    database; returns the runtime file."""
    folder = _runtime_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{RUNTIME_PREFIX}{os.getpid()}.json"
    record = {
        "pid": os.getpid(),
        "kind": kind,
        "url": url,
        "database": _database_key(config.database_url),
    }
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(record), encoding="utf-8")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path


def withdraw(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_engine(config: EngineConfig) -> RunningEngine | None:
    """A live engine that runs the jobs of ``config``'s database, if any; runtime
    files of engines that are gone are removed."""
    key = _database_key(config.database_url)
    try:
        paths = sorted(_runtime_dir().glob(f"{RUNTIME_PREFIX}*.json"))
    except OSError:
        return None
    for path in paths:
        try:
            record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            pid = int(record["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if pid == os.getpid():
            continue
        if not _alive(pid):
            withdraw(path)
            continue
        if record.get("database") == key:
            return RunningEngine(pid, str(record.get("kind", "engine")), record.get("url"))
    return None


class EngineHandOff:
    """Leaves each job in the store for a running engine, which takes waiting jobs
    as it finds them (within its recovery interval)."""

    def __init__(self, engine: RunningEngine) -> None:
        self.engine = engine
        #: Where the jobs go, in words.
        self.destination = engine.describe()

    def submit(self, job_id: str) -> None:
        """Nothing to do: the running engine finds the job."""

    def cancel(self, job_id: str) -> None:
        """Nothing to do: the engine's supervisor sees the cancel in the store."""

    def availability(self, tool_id: str) -> ToolAvailability:
        """The running engine's workers decide; it explains on the job."""
        return ToolAvailability()

    def start(self) -> None:
        """Nothing to start."""

    def wait(self, timeout: float | None = None) -> None:
        """Nothing of this process's to wait for."""

    def shutdown(self) -> None:
        """Nothing to stop."""


def _knows(dask_scheduler: Any, key: str) -> bool:
    """On the scheduler: whether it holds the task ``key``."""
    return key in dask_scheduler.tasks


def _has_plugin(dask_scheduler: Any, name: str) -> bool:
    """On the scheduler: whether worker plugin ``name`` is registered."""
    return name in dask_scheduler.worker_plugins


class ClusterHandOff:
    """Sends each job to the configured Dask scheduler as a task that the cluster
    runs after this process has gone. The job is held for the time of a lease as
    an engine holds what it dispatches, so that a running engine does not send it
    a second time meanwhile; the worker that runs it takes it over."""

    def __init__(self, service: RunService, tools: ToolRegistry, config: EngineConfig) -> None:
        if not config.dask_scheduler_address:
            raise ValueError("a hand-off to a cluster needs a scheduler address")
        self.service = service
        self.tools = tools
        self.config = config
        self.holder = f"{ENGINE_LEASE_PREFIX}handoff:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        #: Where the jobs go, in words.
        self.destination = f"the Dask cluster at {config.dask_scheduler_address}"
        self._client: Client | None = None
        self._lock = threading.Lock()

    def _connect(self) -> Client:
        from distributed import Client

        from .worker_setup import WorkerSetup

        with self._lock:
            if self._client is None:
                client = Client(self.config.dask_scheduler_address, set_as_default=False)
                if not client.run_on_scheduler(_has_plugin, name=WorkerSetup.name):
                    client.register_plugin(WorkerSetup(self.config), name=WorkerSetup.name)
                self._client = client
            return self._client

    def submit(self, job_id: str) -> None:
        from distributed import fire_and_forget

        from .dask_tasks import task_key, task_resources
        from .dask_worker import execute_job

        job = self.service.claim(job_id, self.holder, lease_ttl_s=self.config.lease_ttl_s)
        if job is None:
            return
        client = self._connect()
        run = f"handoff.{uuid.uuid4().hex[:8]}"
        key = task_key(job.id, job.attempts, run)
        future = client.submit(
            execute_job,
            self.config,
            job,
            run,
            key=key,
            pure=False,
            resources=task_resources(self.tools.get(job.tool)),
        )
        fire_and_forget(future)
        # The task is the scheduler's before this process may go.
        while not client.run_on_scheduler(_knows, key=key):
            threading.Event().wait(0.01)

    def cancel(self, job_id: str) -> None:
        """The worker's supervisor sees the cancel in the store."""

    def availability(self, tool_id: str) -> ToolAvailability:
        """A capable worker may join the cluster later: the job is accepted, and the
        engine that watches the cluster says why it waits."""
        return ToolAvailability()

    def start(self) -> None:
        """Nothing to start: each job is sent as it is submitted."""

    def wait(self, timeout: float | None = None) -> None:
        """The cluster runs the jobs; this process does not wait for them."""

    def shutdown(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
