"""A real Jupyter server with the extension, in a process of its own, shared by
the tests of a module; and a client on each transport: over HTTP to that server,
and in-process on the same store, as the same person. The store is SQLite (the
default store in the data folder) or a fresh PostgreSQL schema (``backend``).

The server runs in its own process so that a synchronous client in the test can
talk to it, and so that it can start kernels the way it does for a notebook.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import create_engine, text

from proteiniq_jupyter.client import Client
from proteiniq_jupyter.client.http import HttpTransport
from proteiniq_jupyter.client.transport import Connection
from proteiniq_jupyter.store.database import normalise_url

from ..conftest import BACKENDS, PG_SKIP_REASON, PG_URL, POSTGRES_TALLY, on_postgres
from ..helpers import TEST_TOOL_PATHS

#: How long a server may take to start on a busy machine.
START_TIMEOUT_S = 120.0
#: Server extensions of this environment that the tests do not need.
OTHER_EXTENSIONS = ("jupyterlab", "notebook_shim", "jupyter_lsp", "jupyter_server_terminals")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class Stack:
    """The server process and what the tests need to reach it and its store."""

    root: Path
    url: str
    token: str
    process: subprocess.Popen[str]
    env: dict[str, str]
    log: list[str] = field(default_factory=list)

    @property
    def runtime_dir(self) -> Path:
        return Path(self.env["JUPYTER_RUNTIME_DIR"])

    def http(self) -> httpx.Client:
        """A plain HTTP client for Jupyter's own API (kernels, sessions)."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"token {self.token}"}, timeout=60
        )


def stack_env(root: Path, database_url: str | None = None) -> dict[str, str]:
    """What the server, its kernels and the in-process client share: the data
    folder (so the same default store), the test tools, Jupyter's folders."""
    config = root / "config"
    config.mkdir(parents=True, exist_ok=True)
    extensions: dict[str, Any] = {name: False for name in OTHER_EXTENSIONS}
    extensions["proteiniq_jupyter"] = True
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": extensions}})
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PIQ_", "JPY_", "JUPYTERHUB_"))
    }
    env.update(
        PIQ_DATA_DIR=str(root / "piq"),
        PIQ_EXTRA_TOOLS=",".join(TEST_TOOL_PATHS),
        PIQ_EXECUTOR="inprocess",
        PIQ_PDB_URL="",
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_RUNTIME_DIR=str(root / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    if database_url:
        env["PIQ_DATABASE_URL"] = database_url
    return env


def start_stack(
    root: Path,
    *options: str,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Stack:
    """A server on a fresh store (under ``root``, or ``database_url``); ``options``
    are added to its command line (``--ProteinIQApp.rate_limit=3``), ``extra_env``
    to its environment (and the in-process client's: ``PIQ_`` names)."""
    env = {**stack_env(root, database_url), **(extra_env or {})}
    port, token = free_port(), secrets.token_hex(16)
    notebooks = root / "notebooks"
    notebooks.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={notebooks}",
            *options,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    stack = Stack(root, f"http://127.0.0.1:{port}/", token, process, env)
    ready, engine, serving = threading.Event(), threading.Event(), threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            stack.log.append(line)
            if "proteiniq: jobs in" in line:
                engine.set()
            if f"127.0.0.1:{port}/" in line and engine.is_set():
                serving.set()
                ready.set()
        ready.set()  # the process ended: the check below says so

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(START_TIMEOUT_S) or not serving.is_set():
        process.kill()
        raise RuntimeError("the Jupyter server did not start:\n" + "".join(stack.log[-40:]))
    return stack


def stop_stack(stack: Stack) -> None:
    stack.process.terminate()
    try:
        stack.process.wait(30)
    except subprocess.TimeoutExpired:
        stack.process.kill()
        stack.process.wait()


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
