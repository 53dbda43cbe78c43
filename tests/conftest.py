"""Shared fixtures: every store-backed test runs on a real SQLite file and on the
real PostgreSQL server named by PIQ_TEST_DATABASE_URL (each test in a schema of its
own, dropped afterwards)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from proteiniq_jupyter.jobs.access import Actor
from proteiniq_jupyter.jobs.core import ServiceConfig
from proteiniq_jupyter.jobs.model import JobInput
from proteiniq_jupyter.jobs.service import JobService
from proteiniq_jupyter.store.database import normalise_url, sqlite_url
from proteiniq_jupyter.store.sql_store import DirectoryJobFiles, SqlStore
from proteiniq_jupyter.tools.registry import ToolRegistry

from .helpers import TEST_TOOLS

REPO = Path(__file__).resolve().parents[1]
#: The real data files the tests read (sources and licences in its README.md).
FIXTURES = REPO / "tests" / "data"
PG_URL = os.environ.get("PIQ_TEST_DATABASE_URL")
PG_SKIP_REASON = (
    "PostgreSQL half skipped: set PIQ_TEST_DATABASE_URL "
    "(e.g. postgresql://postgres@127.0.0.1:5432/test) to run it"
)


# Processes the tests start (Dask workers, job processes) import the test tools.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
)


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") and not PG_URL:
        raise pytest.UsageError("CI must run the PostgreSQL tests: PIQ_TEST_DATABASE_URL is unset")


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "piq.sqlite")
        return
    if not PG_URL:
        pytest.skip(PG_SKIP_REASON)
    schema = f"piq_test_{secrets.token_hex(6)}"
    admin = create_engine(normalise_url(PG_URL))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    store = SqlStore.open(database_url)
    yield store
    store.close()


@pytest.fixture
def tools() -> ToolRegistry:
    return ToolRegistry(tool() for tool in TEST_TOOLS)


@pytest.fixture
def service(store: SqlStore, tools: ToolRegistry, tmp_path: Path) -> JobService:
    return JobService(store, tools, DirectoryJobFiles(tmp_path / "files"), config=ServiceConfig())


@pytest.fixture
def alice(service: JobService) -> Actor:
    return service.sign_in("alice", email="alice@lab.example")


def text_input(content: str, slot: str = "text") -> JobInput:
    return JobInput(id=f"{slot}_1", slot_id=slot, kind="text", format="text", content=content)
