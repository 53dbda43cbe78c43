"""Where the engine keeps its data and who is using it, from the environment.

Defaults need no set-up: SQLite at ``<jupyter data dir>/proteiniq/piq.sqlite`` and
the operating-system user. ``PIQ_DATABASE_URL`` points at PostgreSQL instead.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir

from .pdb_archive import RCSB_PDB_URL
from .store.database import sqlite_url


@dataclass(frozen=True)
class EngineConfig:
    data_dir: Path
    database_url: str
    username: str
    email: str | None = None
    workspace_id: str | None = None
    starting_credits: int = 500
    max_attempts: int = 3
    max_concurrent_jobs: int | None = None
    #: Where jobs run: "dask" (an embedded LocalCluster, or the scheduler at
    #: ``dask_scheduler_address``) or "inprocess" (a thread pool of this process).
    executor: str = "dask"
    dask_scheduler_address: str | None = None
    #: Workers of the embedded cluster; None means one per CPU core.
    dask_workers: int | None = None
    batch_concurrency: int = 3
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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EngineConfig:
        env = os.environ if env is None else env
        data_dir = Path(env.get("PIQ_DATA_DIR") or Path(jupyter_data_dir()) / "proteiniq")
        database_url = env.get("PIQ_DATABASE_URL") or sqlite_url(data_dir / "piq.sqlite")
        concurrent = env.get("PIQ_MAX_CONCURRENT_JOBS")
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            username=env.get("PIQ_USER") or getpass.getuser(),
            email=env.get("PIQ_EMAIL") or None,
            workspace_id=env.get("PIQ_WORKSPACE") or None,
            starting_credits=_int(env, "PIQ_STARTING_CREDITS", 500),
            max_attempts=_int(env, "PIQ_MAX_ATTEMPTS", 3),
            max_concurrent_jobs=int(concurrent) if concurrent else None,
            executor=env.get("PIQ_EXECUTOR") or "dask",
            dask_scheduler_address=env.get("PIQ_DASK_SCHEDULER_ADDRESS") or None,
            dask_workers=_int(env, "PIQ_DASK_WORKERS", 0) or None,
            batch_concurrency=_int(env, "PIQ_BATCH_CONCURRENCY", 3),
            time_limits=_time_limits(env.get("PIQ_TIME_LIMITS", "")),
            lease_ttl_s=_float(env, "PIQ_LEASE_TTL", 30.0),
            recovery_interval_s=_float(env, "PIQ_RECOVERY_INTERVAL", 2.0),
            extra_tools=_names(env.get("PIQ_EXTRA_TOOLS", "")),
            preload_tools=_names(env.get("PIQ_PRELOAD_TOOLS", "")),
            pdb_url=env.get("PIQ_PDB_URL", RCSB_PDB_URL).strip() or None,
        )

    def to_env(self) -> dict[str, str]:
        """The environment that makes ``from_env`` give this configuration back, for
        the processes the engine starts (workers, detached runs)."""
        env = {
            "PIQ_DATA_DIR": str(Path(self.data_dir).absolute()),
            "PIQ_DATABASE_URL": self.database_url,
            "PIQ_USER": self.username,
            "PIQ_STARTING_CREDITS": str(self.starting_credits),
            "PIQ_MAX_ATTEMPTS": str(self.max_attempts),
            "PIQ_EXECUTOR": self.executor,
            "PIQ_BATCH_CONCURRENCY": str(self.batch_concurrency),
            "PIQ_LEASE_TTL": str(self.lease_ttl_s),
            "PIQ_RECOVERY_INTERVAL": str(self.recovery_interval_s),
            "PIQ_TIME_LIMITS": ",".join(f"{tool}={limit:g}" for tool, limit in self.time_limits),
            "PIQ_EXTRA_TOOLS": ",".join(self.extra_tools),
            "PIQ_PRELOAD_TOOLS": ",".join(self.preload_tools),
            "PIQ_PDB_URL": self.pdb_url or "",
        }
        optional = {
            "PIQ_EMAIL": self.email,
            "PIQ_WORKSPACE": self.workspace_id,
            "PIQ_MAX_CONCURRENT_JOBS": self.max_concurrent_jobs,
            "PIQ_DASK_SCHEDULER_ADDRESS": self.dask_scheduler_address,
            "PIQ_DASK_WORKERS": self.dask_workers,
        }
        env.update({k: str(v) for k, v in optional.items() if v is not None})
        return env

    def time_limit(self, tool_id: str, default: float) -> float:
        return dict(self.time_limits).get(tool_id, default)

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "jobs"


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _time_limits(text: str) -> tuple[tuple[str, float], ...]:
    """``esmfold=600,vina=1200`` -> (("esmfold", 600.0), ("vina", 1200.0))."""
    limits = []
    for part in text.split(","):
        if not part.strip():
            continue
        tool, _, seconds = part.partition("=")
        try:
            limits.append((tool.strip(), float(seconds)))
        except ValueError:
            raise ValueError(
                f"PIQ_TIME_LIMITS takes tool=seconds pairs separated by commas, got {part!r}"
            ) from None
    return tuple(limits)


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    value = env.get(name)
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {value!r}") from None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
