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
        )

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "jobs"


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
