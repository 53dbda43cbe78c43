"""Where the engine keeps its data, who is using it and how it runs jobs: every
setting with its default, and the ``PIQ_*`` environment variable that sets it.

Defaults need no set-up: SQLite at ``<jupyter data dir>/proteiniq/piq.sqlite`` and
the operating-system user. ``PIQ_DATABASE_URL`` points at PostgreSQL instead. The
rules the job service applies (credits, attempts, limits) take the service's own
defaults, so each default is written once.
"""

from __future__ import annotations

import difflib
import getpass
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir

from .jobs.core import ServiceConfig
from .pdb_archive import RCSB_PDB_URL
from .store.database import sqlite_url

_SERVICE = ServiceConfig()


@dataclass(frozen=True)
class EngineConfig:
    data_dir: Path
    database_url: str
    username: str
    email: str | None = None
    workspace_id: str | None = None
    starting_credits: int = _SERVICE.starting_credits
    max_attempts: int = _SERVICE.max_attempts
    max_concurrent_jobs: int | None = _SERVICE.max_concurrent_jobs
    #: Where jobs run: "dask" (an embedded LocalCluster, or the scheduler at
    #: ``dask_scheduler_address``), "inprocess" (a thread pool of this process),
    #: "detached" (a process of its own per job) or "service" (nowhere here: the
    #: deployment's engine service runs them, as single-user servers under
    #: JupyterHub leave them).
    executor: str = "dask"
    #: Whose waiting jobs a Dask engine takes from the store: "own" (those its
    #: user submitted, and those submitted through it) or "everyone" (the engine
    #: service of a deployment).
    runs_jobs_of: str = "own"
    dask_scheduler_address: str | None = None
    #: Workers of the embedded cluster; None means one per CPU core.
    dask_workers: int | None = None
    #: Where the embedded cluster serves Dask's dashboard ("127.0.0.1:8787");
    #: None starts none.
    dask_dashboard_address: str | None = None
    batch_concurrency: int = _SERVICE.batch_concurrency
    #: Per-tool time limits in seconds, overriding each tool's own.
    time_limits: tuple[tuple[str, float], ...] = ()
    #: How long a lease lasts without renewal; a holder silent this long is gone.
    lease_ttl_s: float = 30.0
    #: How often the engine looks for jobs to dispatch and holders that vanished.
    recovery_interval_s: float = 2.0
    #: Tool classes to load besides the installed entry points ("module:Class").
    extra_tools: tuple[str, ...] = ()
    #: Tools whose libraries each worker imports once, into the process its jobs are
    #: forked from, instead of in every job ("all" for every installed tool).
    preload_tools: tuple[str, ...] = ()
    #: Where inputs named by PDB id are fetched from (``{id}`` is filled in); None
    #: refuses them.
    pdb_url: str | None = RCSB_PDB_URL
    #: The largest file a workspace may upload.
    max_upload_bytes: int = _SERVICE.max_upload_bytes
    #: The deployment's administrators (user names): they create team workspaces
    #: and manage any team's members.
    admins: tuple[str, ...] = _SERVICE.admins

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **given: Any) -> EngineConfig:
        """The configuration that the ``PIQ_*`` variables of ``env`` (this process's
        environment by default) describe. A setting in ``given`` wins over its
        variable unless it is None; what neither sets keeps its default. The SQLite
        database lies in the data directory, wherever that comes from."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, variable in VARIABLES.items():
            text = env.get(variable.name)
            if text:
                values[name] = variable.read(variable.name, text)
            elif text is not None and variable.blank_is_none:
                values[name] = None
        values.update({name: value for name, value in given.items() if value is not None})
        data_dir = Path(values.pop("data_dir", None) or Path(jupyter_data_dir()) / "proteiniq")
        return cls(
            data_dir=data_dir,
            database_url=values.pop("database_url", None) or sqlite_url(data_dir / "piq.sqlite"),
            username=values.pop("username", None) or getpass.getuser(),
            **values,
        )

    def to_env(self) -> dict[str, str]:
        """The environment that makes ``from_env`` give this configuration back, for
        the processes the engine starts (workers, detached runs). A setting that is
        None is left out, or left blank where blank is how its variable says None."""
        env = {}
        for name, variable in VARIABLES.items():
            value = getattr(self, name)
            if value is not None:
                env[variable.name] = variable.write(value)
            elif variable.blank_is_none:
                env[variable.name] = ""
        return env

    def time_limit(self, tool_id: str, default: float) -> float:
        return dict(self.time_limits).get(tool_id, default)

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "jobs"


def parse_time_limit(pair: str) -> tuple[str, float]:
    """``esmfold=600`` -> ("esmfold", 600.0); a ValueError when it is not
    ``TOOL=SECONDS``."""
    tool, separator, seconds = pair.partition("=")
    if not separator or not tool.strip():
        raise ValueError(pair)
    limit = float(seconds)
    if not limit > 0 or limit != limit or limit == float("inf"):
        raise ValueError(pair)
    return tool.strip(), limit


def _text(_name: str, text: str) -> str:
    return text


def _whole(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {text!r}") from None


def _number(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text!r}") from None


def _at_least(least: int) -> Callable[[str, str], int]:
    def read(name: str, text: str) -> int:
        value = _whole(name, text)
        if value < least:
            raise ValueError(f"{name} must be {least} or more, got {value}")
        return value

    return read


def _positive(name: str, text: str) -> float:
    value = _number(name, text)
    if not value > 0:
        raise ValueError(f"{name} must be more than 0, got {text!r}")
    return value


#: The executors a configuration may name.
EXECUTOR_NAMES = ("dask", "inprocess", "detached", "service")
#: Whose jobs an engine may take from the store.
RUNS_JOBS_OF = ("own", "everyone")


def _executor(name: str, text: str) -> str:
    value = text.strip().lower()
    if value not in EXECUTOR_NAMES:
        nearest = difflib.get_close_matches(value, EXECUTOR_NAMES, n=1)
        hint = f"; did you mean {nearest[0]!r}?" if nearest else ""
        raise ValueError(f"{name} must be one of {', '.join(EXECUTOR_NAMES)}, got {text!r}{hint}")
    return value


def _runs_jobs_of(name: str, text: str) -> str:
    value = text.strip().lower()
    if value not in RUNS_JOBS_OF:
        raise ValueError(f"{name} must be one of {', '.join(RUNS_JOBS_OF)}, got {text!r}")
    return value


def _workers(name: str, text: str) -> int | None:
    return _at_least(0)(name, text) or None  # 0: one per core, as when unset


def _path(_name: str, text: str) -> Path:
    return Path(text)


def _url(_name: str, text: str) -> str | None:
    return text.strip() or None


def _names(_name: str, text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _time_limits(name: str, text: str) -> tuple[tuple[str, float], ...]:
    """``esmfold=600,vina=1200`` -> (("esmfold", 600.0), ("vina", 1200.0))."""
    limits = []
    for part in text.split(","):
        if not part.strip():
            continue
        try:
            limits.append(parse_time_limit(part))
        except ValueError:
            raise ValueError(
                f"{name} takes tool=seconds pairs separated by commas, got {part!r}"
            ) from None
    return tuple(limits)


def _write_path(path: Path) -> str:
    return str(Path(path).absolute())


def _write_names(names: tuple[str, ...]) -> str:
    return ",".join(names)


def _write_time_limits(limits: tuple[tuple[str, float], ...]) -> str:
    return ",".join(f"{tool}={seconds:g}" for tool, seconds in limits)


@dataclass(frozen=True)
class _Variable:
    """The environment variable of one setting: how its text is read (the
    variable's name comes along for errors) and how the setting is written into it.
    A blank variable leaves the setting at its default, or with ``blank_is_none``
    sets it to None."""

    name: str
    read: Callable[[str, str], Any] = _text
    write: Callable[[Any], str] = str
    blank_is_none: bool = False


#: Every setting's variable.
VARIABLES: dict[str, _Variable] = {
    "data_dir": _Variable("PIQ_DATA_DIR", _path, _write_path),
    "database_url": _Variable("PIQ_DATABASE_URL"),
    "username": _Variable("PIQ_USER"),
    "email": _Variable("PIQ_EMAIL"),
    "workspace_id": _Variable("PIQ_WORKSPACE"),
    "starting_credits": _Variable("PIQ_STARTING_CREDITS", _at_least(0)),
    "max_attempts": _Variable("PIQ_MAX_ATTEMPTS", _at_least(1)),
    "max_concurrent_jobs": _Variable("PIQ_MAX_CONCURRENT_JOBS", _at_least(1)),
    "executor": _Variable("PIQ_EXECUTOR", _executor),
    "runs_jobs_of": _Variable("PIQ_RUN_JOBS_OF", _runs_jobs_of),
    "dask_scheduler_address": _Variable("PIQ_DASK_SCHEDULER_ADDRESS"),
    "dask_workers": _Variable("PIQ_DASK_WORKERS", _workers),
    "dask_dashboard_address": _Variable("PIQ_DASK_DASHBOARD", _url),
    "batch_concurrency": _Variable("PIQ_BATCH_CONCURRENCY", _at_least(1)),
    "time_limits": _Variable("PIQ_TIME_LIMITS", _time_limits, _write_time_limits),
    "lease_ttl_s": _Variable("PIQ_LEASE_TTL", _positive),
    "recovery_interval_s": _Variable("PIQ_RECOVERY_INTERVAL", _positive),
    "extra_tools": _Variable("PIQ_EXTRA_TOOLS", _names, _write_names),
    "preload_tools": _Variable("PIQ_PRELOAD_TOOLS", _names, _write_names),
    # Blank turns inputs named by PDB id off.
    "pdb_url": _Variable("PIQ_PDB_URL", _url, blank_is_none=True),
    "max_upload_bytes": _Variable("PIQ_MAX_UPLOAD_BYTES", _at_least(1)),
    "admins": _Variable("PIQ_ADMINS", _names, _write_names),
}
