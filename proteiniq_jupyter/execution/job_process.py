"""Starting a job's process, and killing it with everything it started.

Job processes fork from a fork server of their worker's own, started with the
first job, with the engine's modules imported (and the libraries of the tools
chosen to preload, then those tools warmed up): a job's process forks from it in
milliseconds, and never carries the worker's threads or sockets. What the job's
process does is ``child``'s; staying with it to its end is ``supervisor``'s.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Sequence
from multiprocessing import spawn
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from ..tools.registry import ToolRegistry
from .child import run_tool
from .cpu import openmp_variables
from .fork_server import WARM_UP_ENV

_context: BaseContext | None = None
_context_lock = threading.Lock()

#: Dask sets this for its workers, to hand freed memory back to the system sooner;
#: in a tool's process it makes numerical work markedly slower (an ESMFold fold by
#: a fifth), so the fork server, and every job process forked from it, go without.
_WORKER_ONLY_VARIABLES = ("MALLOC_TRIM_THRESHOLD_",)
#: Huge pages for the C library's allocations in job processes (where the kernel
#: gives them on request, as Linux does by default). A job process starts with none
#: of its memory touched, and its tool's first large allocations fault every 4 kB
#: (Vina's grid maps: 83,000 faults, 4,000 with huge pages); numerical work also
#: runs faster on them (a CPU ESMFold fold, 15 to 23%). A ``GLIBC_TUNABLES`` that
#: already sets ``glibc.malloc.hugetlb`` is left as it is.
_HUGE_PAGES = "glibc.malloc.hugetlb=1"
FORK_SERVER_MODULE = "proteiniq_jupyter.execution.fork_server"


def preload_modules(tools: ToolRegistry, tool_ids: Sequence[str]) -> tuple[str, ...]:
    """What the fork server imports for the tools named (``all``: every tool): each
    tool's libraries, and the tool itself as ``module:Class``, which is warmed up."""
    chosen = list(tools) if "all" in tool_ids else [t for t in tools if t.id in tool_ids]
    return tuple(dict.fromkeys(module for tool in chosen for module in tool.preload_modules()))


def _process_context(preload: Sequence[str] = ()) -> BaseContext:
    """A fork server with the engine's modules imported (and the libraries of the
    tools chosen to preload, then those tools warmed up): job processes fork from it
    in milliseconds, and it never carries the worker's threads or sockets. It starts
    with the first job, so what it preloads is fixed then; a library that is not
    installed is skipped."""
    global _context
    with _context_lock:
        if _context is None:
            modules = [spec.partition(":")[0] for spec in preload]
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(
                ["proteiniq_jupyter.execution.child", *dict.fromkeys(modules), FORK_SERVER_MODULE]
            )
            _context = context
        return _context


def _fork_server_environment(preload: Sequence[str]) -> dict[str, str | None]:
    """The environment the fork server starts with, and every job process inherits,
    as changes to this worker's: ``None`` removes a variable."""
    changes: dict[str, str | None] = dict.fromkeys(_WORKER_ONLY_VARIABLES)
    changes[WARM_UP_ENV] = ",".join(spec for spec in preload if ":" in spec)
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if sys.platform == "linux" and "glibc.malloc.hugetlb" not in tunables:
        changes["GLIBC_TUNABLES"] = ":".join(filter(None, (tunables, _HUGE_PAGES)))
    changes.update(openmp_variables())
    return changes


def start_job_process(
    request: dict[str, Any], preload: Sequence[str] = ()
) -> tuple[BaseProcess, Connection]:
    """Start a job's process; returns it with our end of the pipe it reports on.
    The process prepares, then waits for ``GO`` before it runs the tool.

    Two of multiprocessing's habits are set aside while one is started. Dask starts
    its workers as daemonic processes, which may not have children lest they outlive
    their parent; job processes kill themselves when their supervisor goes away.
    And a new process re-imports the parent's main program (a whole Jupyter server
    or test run, a second or more) so that functions defined there can be found;
    the job's target lives in this package, so the main program is left alone.
    """
    receiver, sender = multiprocessing.Pipe(duplex=True)
    process = _process_context(preload).Process(  # type: ignore[attr-defined]
        target=run_tool, args=(request, sender), name=f"piq-job-{request['job_id']}"
    )
    config = multiprocessing.current_process()._config  # type: ignore[attr-defined]
    with _context_lock:
        daemonic = config.pop("daemon", None)
        preparation = spawn.get_preparation_data
        spawn.get_preparation_data = _without_main(preparation)
        # The first start launches the fork server, with this environment.
        changes = _fork_server_environment(preload)
        saved = {name: os.environ.get(name) for name in changes}
        _set_environment(changes)
        try:
            process.start()
        finally:
            _set_environment(saved)
            spawn.get_preparation_data = preparation
            if daemonic is not None:
                config["daemon"] = daemonic
    sender.close()
    return process, receiver


def _set_environment(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


class _Preparation(Protocol):
    """``multiprocessing.spawn.get_preparation_data``, and what stands in for it."""

    def __call__(self, name: str) -> dict[str, Any]: ...


def _without_main(preparation: _Preparation) -> _Preparation:
    def prepare(name: str) -> dict[str, Any]:
        data = preparation(name)
        data.pop("init_main_from_name", None)
        data.pop("init_main_from_path", None)
        return data

    return prepare


def kill_group(process: BaseProcess) -> None:
    """Kill the job's process and everything it started, and reap it."""
    pid = process.pid
    if pid is not None:
        for kill in (os.killpg, os.kill):  # the group, then the leader in case it had
            with contextlib.suppress(ProcessLookupError, PermissionError):  # no group yet
                kill(pid, signal.SIGKILL)
    process.join()
