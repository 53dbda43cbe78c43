"""Where the client's server is, in order: the arguments to ``connect``; the
variables the extension sets for the kernels its server starts
(``PIQ_SERVER_URL``/``PIQ_SERVER_TOKEN``); the runtime file of the server that
started this kernel (``JPY_PARENT_PID``); JupyterHub's single-user variables; and
otherwise no server at all: the engine in this process, on the default store."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

SERVER_URL_ENV = "PIQ_SERVER_URL"
SERVER_TOKEN_ENV = "PIQ_SERVER_TOKEN"


@dataclass(frozen=True)
class Found:
    """The server to talk to (``url`` None: in-process), its token, and why."""

    url: str | None
    token: str | None
    reason: str
    transport: Literal["http", "inprocess"]


def discover(
    url: str | None = None,
    token: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    running_servers: Iterable[dict[str, Any]] | None = None,
) -> Found:
    """The first of the places above that names a server."""
    env = os.environ if env is None else env
    if url:
        return Found(url, token, "given to connect()", "http")
    if env.get(SERVER_URL_ENV):
        return Found(
            env[SERVER_URL_ENV],
            token or env.get(SERVER_TOKEN_ENV) or None,
            f"{SERVER_URL_ENV} (set by the server that started this kernel)",
            "http",
        )
    parent = env.get("JPY_PARENT_PID", "").strip()
    if parent.isdigit():
        server = _server_with_pid(int(parent), running_servers)
        if server is not None:
            return Found(
                str(server["url"]),
                token or str(server.get("token") or "") or None,
                f"the runtime file of the parent server (pid {parent})",
                "http",
            )
    hub_url = env.get("JUPYTERHUB_SERVICE_URL")
    if hub_url:
        return Found(
            _reachable(hub_url),
            token or env.get("JUPYTERHUB_API_TOKEN") or None,
            "JupyterHub's JUPYTERHUB_SERVICE_URL",
            "http",
        )
    return Found(
        None, None, "no Jupyter server found: the engine runs in this process", "inprocess"
    )


def _server_with_pid(
    pid: int, running_servers: Iterable[dict[str, Any]] | None
) -> dict[str, Any] | None:
    if running_servers is None:
        from jupyter_server.serverapp import list_running_servers

        running_servers = list_running_servers()
    for server in running_servers:
        if server.get("pid") == pid and server.get("url"):
            return server
    return None


def _reachable(url: str) -> str:
    """A URL a client can open: a server listening on every address (``0.0.0.0``,
    ``::``) is reached on the loopback one."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host in ("0.0.0.0", "::", ""):
        netloc = "127.0.0.1" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)
