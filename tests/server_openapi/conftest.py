"""A real Jupyter server with the extension, for holding the API to its OpenAPI
document: SQLite in a temporary directory, jobs run in-process, and the test
tools of ``tests.helpers`` installed beside the real ones, because they give the
statuses the real tools cannot be made to reach on demand (a job still running,
a job that failed).

pytest accepts ``pytest_plugins`` only in the top-level conftest, so the fixtures
and hooks of ``pytest_jupyter.jupyter_server`` are imported here: they then serve
the tests under this folder only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403
from traitlets.config import Config

from ..helpers import Gate

#: High enough that the property-based run never meets it: 429 is exercised on
#: purpose by a test that lowers it.
RATE_LIMIT = 1_000_000


@pytest.fixture
def piq_traits(request: pytest.FixtureRequest) -> dict[str, Any]:
    """ProteinIQApp settings a test changes, through indirect parametrization."""
    return dict(getattr(request, "param", {}))


@pytest.fixture  # type: ignore[no-redef]  # replaces the plugin's
def jp_server_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piq_traits: dict[str, Any]
) -> Config:
    data_dir = tmp_path / "piq-data"
    data_dir.mkdir()
    monkeypatch.setenv("PIQ_EXTRA_TOOLS", "tests.helpers:Echo,tests.helpers:Sleep")
    monkeypatch.setenv("PIQ_USER", "alice")
    monkeypatch.setenv("PIQ_EMAIL", "alice@lab.example")
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"proteiniq_jupyter": True}},
            "ProteinIQApp": {
                "database_url": f"sqlite+pysqlite:///{data_dir / 'piq.sqlite'}",
                "data_dir": str(data_dir),
                "executor": "inprocess",
                "rate_limit": RATE_LIMIT,
                **piq_traits,
            },
        }
    )


@pytest.fixture
def gate(jp_serverapp: Any, tmp_path: Path) -> Iterator[Gate]:
    """Holds the test's jobs of the sleep tool until it lets them go; open before
    the server stops, whose job threads would otherwise wait for it."""
    gate = Gate(tmp_path / "gate")
    yield gate
    gate.open()
