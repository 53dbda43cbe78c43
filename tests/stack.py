"""A real Jupyter server with the ``proteiniq`` extension in a process of its own:
a plain Jupyter server for the client's tests, or JupyterLab for the browser's.
Its kernels, and an in-process client of the test, share its store (the default
store in its data folder, or the database URL given)."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .helpers import TEST_TOOL_PATHS

#: How long a server may take to start on a busy machine.
START_TIMEOUT_S = 120.0
#: Server extensions of this environment that the tests do not need.
OTHER_EXTENSIONS = ("jupyterlab", "notebook_shim", "jupyter_lsp", "jupyter_server_terminals")
#: The applications a stack can run: Jupyter's plain server, or JupyterLab on it.
APPS = {"server": "jupyter_server", "lab": "jupyterlab"}


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


def stack_env(
    root: Path,
    database_url: str | None = None,
    *,
    app: str = "server",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """What the server, its kernels and the in-process client share: the data
    folder (so the same default store), the test tools, Jupyter's folders; and
    ``extra`` variables (``PIQ_STARTING_CREDITS``, a model's location)."""
    config = root / "config"
    config.mkdir(parents=True, exist_ok=True)
    extensions: dict[str, Any] = {name: False for name in OTHER_EXTENSIONS}
    extensions[APPS[app]] = True
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
    env.update(extra or {})
    return env


def start_stack(
    root: Path,
    *options: str,
    database_url: str | None = None,
    app: str = "server",
    extra_env: Mapping[str, str] | None = None,
) -> Stack:
    """A server (``app``: ``server`` or ``lab``) on a fresh store (under ``root``, or
    ``database_url``); ``options`` are added to its command line
    (``--ProteinIQApp.rate_limit=3``), ``extra_env`` to its environment."""
    env = stack_env(root, database_url, app=app, extra=extra_env)
    port, token = free_port(), secrets.token_hex(16)
    notebooks = root / "notebooks"
    notebooks.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            APPS[app],
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
