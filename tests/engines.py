"""What the tests that run jobs on a real engine share: waiting for a condition, the
settings of an engine on the embedded Dask cluster, and that engine as a fixture."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from proteiniq_jupyter.config import EngineConfig
from proteiniq_jupyter.engine import Engine, open_engine

from .helpers import TEST_TOOL_PATHS


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


@pytest.fixture(name="engine")
def engine_fixture(config: EngineConfig) -> Iterator[Engine]:
    """An engine opened on the test's ``config``, closed at the end."""
    engine = open_engine(config)
    yield engine
    engine.close()
