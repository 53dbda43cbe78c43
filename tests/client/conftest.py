"""A real Jupyter server with the extension, in a process of its own, shared by
the tests of a module; and a client on each transport: over HTTP to that server,
and in-process on the same store, as the same person. The store is SQLite (the
default store in the data folder) or a fresh PostgreSQL schema (``backend``).

The server runs in its own process so that a synchronous client in the test can
talk to it, and so that it can start kernels the way it does for a notebook.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from proteiniq_jupyter.client import Client
from proteiniq_jupyter.client.http import HttpTransport
from proteiniq_jupyter.client.transport import Connection

from ..conftest import BACKENDS, PG_SKIP_REASON, PG_URL, POSTGRES_TALLY, on_postgres
from ..pg_schema import postgres_schema
from ..stack import Stack, free_port, start_stack, stop_stack

__all__ = ["Stack", "free_port", "start_stack", "stop_stack"]


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The store of the module's server (the tests of a module share one)."""
    name: str = request.param
    return name


@pytest.fixture(autouse=True)
def _count_postgres(request: pytest.FixtureRequest) -> None:
    """Tests on PostgreSQL are counted as the suite's other such tests are."""
    if on_postgres(request.node):
        tally = request.config.stash[POSTGRES_TALLY]
        if PG_URL:
            tally.ran += 1
        else:
            tally.skipped += 1


@pytest.fixture(scope="module")
def module_database_url(backend: str) -> Iterator[str | None]:
    """None for SQLite (the default store in the data folder); on PostgreSQL a
    schema of the module's own, dropped afterwards."""
    if backend == "sqlite":
        yield None
        return
    if not PG_URL:
        pytest.skip(PG_SKIP_REASON)
    with postgres_schema(PG_URL) as url:
        yield url


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str | None
) -> Iterator[Stack]:
    stack = start_stack(tmp_path_factory.mktemp("stack"), database_url=module_database_url)
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith(("PIQ_", "JPY_", "JUPYTERHUB_"))]:
            patch.delenv(key)
        for key in [k for k in stack.env if k.startswith("PIQ_")]:
            patch.setenv(key, stack.env[key])
        try:
            yield stack
        finally:
            stop_stack(stack)


@pytest.fixture(scope="module")
def clients(stack: Stack) -> Iterator[dict[str, Client]]:
    """One client per transport for the module, as the same person."""
    http = Client(
        HttpTransport(stack.url, stack.token, Connection("http", stack.url, "given to the test"))
    )
    local = Client.connect()
    yield {"http": http, "inprocess": local}
    http.close()
    local.close()


@pytest.fixture(params=["http", "inprocess"])
def client(request: pytest.FixtureRequest, clients: dict[str, Client]) -> Client:
    """The test runs once over HTTP and once in-process."""
    chosen: Client = clients[request.param]
    return chosen
