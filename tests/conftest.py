"""Shared fixtures: every store-backed test runs on a real SQLite file and on the
real PostgreSQL server named by PIQ_TEST_DATABASE_URL (each test in a schema of its
own, dropped afterwards). After each such test its database is checked to be the one
it asked for; a run in which the PostgreSQL half did not run says so at its end."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, inspect

from proteiniq_jupyter.jobs.access import Actor
from proteiniq_jupyter.jobs.core import ServiceConfig
from proteiniq_jupyter.jobs.model import JobInput
from proteiniq_jupyter.jobs.service import JobService
from proteiniq_jupyter.store.database import normalise_url, sqlite_url
from proteiniq_jupyter.store.sql_store import DirectoryJobFiles, SqlStore
from proteiniq_jupyter.tools.registry import ToolRegistry

from . import process_exit
from .helpers import TEST_TOOLS, Gate
from .pg_schema import postgres_schema

pytest_plugins = ("tests.watchdog",)

REPO = Path(__file__).resolve().parents[1]
#: The real data files the tests read (sources and licences in its README.md).
FIXTURES = REPO / "tests" / "data"
PG_URL = os.environ.get("PIQ_TEST_DATABASE_URL")
PG_SKIP_REASON = (
    "PostgreSQL half skipped: set PIQ_TEST_DATABASE_URL "
    "(e.g. postgresql://postgres@127.0.0.1:5432/test) to run it"
)
BACKENDS = ("sqlite", "postgresql")


# Property-based tests judge what they compute, never how long it took; under CI
# (or HYPOTHESIS_PROFILE=ci) they draw the same examples on every run.
hypothesis_settings.register_profile(
    "local", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.register_profile(
    "ci", hypothesis_settings.get_profile("local"), derandomize=True, database=None
)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "local")
)

# Processes the tests start (Dask workers, job processes) import the test tools.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
)


@dataclass
class PostgresTally:
    """Tests that asked for PostgreSQL: those that got it, and those skipped for
    want of a server (or deselected)."""

    ran: int = 0
    skipped: int = 0
    deselected: int = 0


POSTGRES_TALLY = pytest.StashKey[PostgresTally]()


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") and not PG_URL:
        raise pytest.UsageError("CI must run the PostgreSQL tests: PIQ_TEST_DATABASE_URL is unset")
    config.stash[POSTGRES_TALLY] = PostgresTally()


#: Whether a test's own body passed (its fixtures' checks afterwards judge only those).
PASSED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[None] | pytest.TestReport:
    report: pytest.TestReport = yield
    if report.when == "call":
        item.stash[PASSED] = report.passed
    return report


def pytest_deselected(items: list[pytest.Item]) -> None:
    if not items:
        return
    tally = items[0].config.stash[POSTGRES_TALLY]
    tally.deselected += sum(on_postgres(item) for item in items)


def on_postgres(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("backend") == "postgresql"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    process_exit.remember(session, exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    process_exit.end(config)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """A banner at the very end when tests that asked for PostgreSQL did not run."""
    tally = terminalreporter.config.stash[POSTGRES_TALLY]
    missed = tally.skipped + tally.deselected
    if not missed:
        if tally.ran:
            terminalreporter.write_line(f"PostgreSQL half: {tally.ran} tests ran on PostgreSQL.")
        return
    banner = "THE POSTGRESQL HALF DID NOT RUN"
    if tally.ran:
        banner = f"PART OF {banner}"
    terminalreporter.write_sep("!", banner, red=True, bold=True)
    if tally.skipped:
        terminalreporter.write_line(
            f"{tally.skipped} tests on PostgreSQL were skipped: PIQ_TEST_DATABASE_URL is "
            "unset, so only SQLite was tested.",
            red=True,
            bold=True,
        )
        terminalreporter.write_line(
            "Set it to run them, e.g. "
            "PIQ_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test",
            red=True,
        )
    if tally.deselected:
        terminalreporter.write_line(
            f"{tally.deselected} tests on PostgreSQL were deselected.", red=True, bold=True
        )
    terminalreporter.write_line(f"{tally.ran} tests ran on PostgreSQL.", red=True)
    terminalreporter.write_sep("!", red=True, bold=True)


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend the test asked for."""
    name: str = request.param
    return name


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on ``backend``. Afterwards the database asked for
    must hold the schema (whatever the test started opened it), and on PostgreSQL no
    SQLite database may have appeared instead."""
    tally = request.config.stash[POSTGRES_TALLY]
    if backend == "sqlite":
        path = tmp_path / "piq.sqlite"
        yield sqlite_url(path)
        if request.node.stash.get(PASSED, False):
            assert path.is_file(), f"nothing opened the SQLite database {path}"
            assert_migrated(create_engine(sqlite_url(path)), backend)
        return
    if not PG_URL:
        tally.skipped += 1
        pytest.skip(PG_SKIP_REASON)
    tally.ran += 1
    with postgres_schema(PG_URL) as url:
        yield url
        if request.node.stash.get(PASSED, False):
            assert_migrated(create_engine(normalise_url(url)), backend)
            strays = sorted(str(p) for p in tmp_path.rglob("*.sqlite"))
            assert not strays, f"a test on PostgreSQL made SQLite databases: {strays}"


def assert_migrated(engine: Engine, backend: str) -> None:
    """The database ``engine`` reaches is on ``backend`` and holds the schema."""
    try:
        assert engine.dialect.name == backend, (engine.dialect.name, backend)
        with engine.connect() as conn:
            assert "alembic_version" in inspect(conn).get_table_names(), (
                f"the {backend} database given to the test holds no schema: nothing opened it"
            )
    finally:
        engine.dispose()


@pytest.fixture
def store(database_url: str, backend: str) -> Iterator[SqlStore]:
    store = SqlStore.open(database_url)
    assert store.backend == backend
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


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Gate]:
    """Holds the test's jobs of the sleep tool until it lets them go; open at the
    end, so that none outlives the test."""
    gate = Gate(tmp_path / "gate")
    yield gate
    gate.open()


def text_input(content: str, slot: str = "text") -> JobInput:
    return JobInput(id=f"{slot}_1", slot_id=slot, kind="text", format="text", content=content)
