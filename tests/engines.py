"""What the tests that run jobs on a real engine share: waiting for a condition, the
settings of an engine on the embedded Dask cluster, and that engine as a fixture."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from proteiniq_jupyter.config import EngineConfig
from proteiniq_jupyter.engine import Engine, open_engine

from .helpers import TEST_TOOL_PATHS

#: Where the commands of this environment (``dask``, ``piq``) are.
BIN = Path(sys.executable).parent


def wait_until(check: Callable[[], Any], timeout: float = 60, every: float = 0.02) -> Any:
    """The first true value of ``check``, asked every ``every`` seconds; an
    assertion error if none came within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not true after {timeout} s: {check}")


def dask_config(database_url: str, tmp_path: Path, **changes: Any) -> EngineConfig:
    """Alice's engine on an embedded Dask cluster of two workers, with short leases
    and the test tools; ``changes`` replace any of these settings."""
    settings: dict[str, Any] = {
        "data_dir": tmp_path / "piq",
        "database_url": database_url,
        "username": "alice",
        "executor": "dask",
        "dask_workers": 2,
        "lease_ttl_s": 3.0,
        "recovery_interval_s": 0.5,
        "extra_tools": TEST_TOOL_PATHS,
    }
    return EngineConfig(**(settings | changes))


def in_background(command: Sequence[str], log: Path, **options: Any) -> subprocess.Popen[bytes]:
    """Start ``command`` in a session of its own (so that its whole group can be
    signalled), its standard error added to ``log``."""
    with log.open("ab") as stderr:
        return subprocess.Popen(
            list(command),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
            **options,
        )


def dask_worker(address: str, name: str, *options: str) -> list[str]:
    """The command of a ``dask worker`` of one process and one thread, called
    ``name``, on 127.0.0.1, joining the scheduler at ``address``."""
    return [
        str(BIN / "dask"),
        "worker",
        address,
        *options,
        "--nworkers",
        "1",
        "--nthreads",
        "1",
        "--no-dashboard",
        "--host",
        "127.0.0.1",
        "--name",
        name,
    ]


@pytest.fixture(name="engine")
def engine_fixture(config: EngineConfig) -> Iterator[Engine]:
    """An engine opened on the test's ``config``, closed at the end."""
    engine = open_engine(config)
    yield engine
    engine.close()
