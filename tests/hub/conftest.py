"""A real JupyterHub (from PyPI, with configurable-http-proxy from npm) on
127.0.0.1: its dummy authenticator, the simple local-process spawner, the
``proteiniq`` engine service on an embedded Dask cluster, and PostgreSQL. Alice
and bob are the hub group ``lab`` (a team); carol, a hub admin, is in no group. The tests
drive the hub through its REST API with the token of a ``tester`` service."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from jupyter_client.blocking.client import BlockingKernelClient

from ..engines import BIN, wait_until
from ..helpers import ENGINE_LABEL_ENV, PROBE_TOOL_PATH, TEST_TOOL_PATHS

REPO = Path(__file__).resolve().parents[2]
PROXY = REPO / "node_modules" / ".bin" / "configurable-http-proxy"
EMAILS = {"alice": "alice@lab.example", "bob": "bob@lab.example", "carol": "carol@else.example"}

needs_hub = pytest.mark.skipif(
    not PROXY.exists(), reason="configurable-http-proxy is not installed (npm ci installs it)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def hub_config(
    *,
    url: str,
    hub_port: int,
    proxy_api_port: int,
    service_port: int,
    database_url: str,
    root: Path,
    token: str,
) -> str:
    tools = ",".join((*TEST_TOOL_PATHS, PROBE_TOOL_PATH))
    shared = {
        "PIQ_DATABASE_URL": database_url,
        "PIQ_DATA_DIR": str(root / "piq"),
        "PIQ_EXTRA_TOOLS": tools,
        "PIQ_HUB_URL": url,
        "PYTHONPATH": str(REPO),
    }
    service_env = {
        **shared,
        "PIQ_DASK_WORKERS": "1",
        "PIQ_RECOVERY_INTERVAL": "0.5",
        "PIQ_LEASE_TTL": "3",
        "PIQ_MAX_ATTEMPTS": "6",
        "PIQ_HUB_SYNC_INTERVAL": "1",
        "PIQ_HUB_EMAILS": json.dumps(EMAILS),
        ENGINE_LABEL_ENV: "service",
        "PATH": os.environ["PATH"],
    }
    return f"""
from proteiniq_jupyter.hub import configure_spawner
c.JupyterHub.bind_url = {url!r}
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.JupyterHub.db_url = "sqlite:///{root / "jupyterhub.db"}"
c.JupyterHub.cookie_secret_file = {str(root / "cookie_secret")!r}
c.JupyterHub.pid_file = {str(root / "jupyterhub.pid")!r}
c.ConfigurableHTTPProxy.command = [{str(PROXY)!r}]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.pid_file = {str(root / "proxy.pid")!r}
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {{"alice", "bob", "carol"}}
c.Authenticator.admin_users = {{"carol"}}
c.JupyterHub.load_groups = {{"lab": {{"users": ["alice", "bob"]}}}}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(root / "home" / "{username}")!r}
c.Spawner.cmd = [{str(BIN / "jupyterhub-singleuser")!r}]
c.Spawner.args = ["--ServerApp.ip=127.0.0.1", "--LabApp.news_url=None", "--allow-root"]
c.Spawner.environment = {json.dumps({**shared, "PIQ_EXECUTOR": "service"})}
c.Spawner.pre_spawn_hook = configure_spawner
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.JupyterHub.services = [
    {{
        "name": "proteiniq",
        "command": [{sys.executable!r}, "-m", "proteiniq_jupyter.hub_service"],
        "url": "http://127.0.0.1:{service_port}",
        "environment": {json.dumps(service_env)},
    }},
    {{"name": "tester", "api_token": {token!r}}},
]
c.JupyterHub.load_roles = [
    {{
        "name": "proteiniq-service",
        "scopes": ["list:users", "read:users", "read:groups", "admin:auth_state"],
        "services": ["proteiniq"],
    }},
    {{
        "name": "tester",
        "scopes": ["admin:users", "admin:servers", "tokens", "admin:groups", "list:users"],
        "services": ["tester"],
    }},
]
"""


@dataclass
class Hub:
    url: str
    root: Path
    database_url: str
    process: subprocess.Popen[bytes]
    api: httpx.Client
    config: Path
    log: Path

    def tokens(self) -> dict[str, str]:
        """An API token of each user (what their JupyterLab holds)."""
        found = {}
        for name in EMAILS:
            reply = self.api.post(f"users/{name}/tokens", json={"note": "test"})
            assert reply.status_code == 201, reply.text
            found[name] = reply.json()["token"]
        return found

    def start_server(self, name: str) -> None:
        reply = self.api.post(f"users/{name}/server")
        assert reply.status_code in (201, 202, 400), reply.text
        wait_until(lambda: self.server_ready(name), timeout=120, every=0.5)

    def stop_server(self, name: str) -> None:
        reply = self.api.delete(f"users/{name}/server")
        assert reply.status_code in (202, 204), reply.text
        wait_until(lambda: not self.api.get(f"users/{name}").json()["servers"], 60, 0.5)

    def server_ready(self, name: str) -> bool:
        servers = self.api.get(f"users/{name}").json().get("servers") or {}
        return bool(servers.get("", {}).get("ready"))

    def user_api(self, name: str, token: str) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.url}/user/{name}/proteiniq/api/v1/",
            headers={"Authorization": f"token {token}"},
            timeout=60,
        )

    @contextlib.contextmanager
    def kernel(self, name: str, token: str) -> Iterator[BlockingKernelClient]:
        """A kernel that ``name``'s server starts for a notebook, as their
        JupyterLab asks (through the hub's proxy), reached on its connection file.
        Its IPython keeps no history file (the test's PostgreSQL run makes no SQLite
        database)."""
        home = self.root / "home" / name
        profile = home / ".ipython" / "profile_default"
        profile.mkdir(parents=True, exist_ok=True)
        (profile / "ipython_kernel_config.py").write_text(
            'c.HistoryManager.hist_file = ":memory:"\n'
        )
        server = httpx.Client(
            base_url=f"{self.url}/user/{name}/",
            headers={"Authorization": f"token {token}"},
            timeout=120,
        )
        reply = server.post(
            "api/sessions",
            json={"path": "team.ipynb", "type": "notebook", "name": "", "kernel": {}},
        )
        assert reply.status_code == 201, reply.text
        session = reply.json()
        kernel_id = session["kernel"]["id"]
        [connection] = wait_until(lambda: list(home.rglob(f"kernel-{kernel_id}.json")), 60)
        client = BlockingKernelClient(connection_file=str(connection))
        client.load_connection_file()
        client.hb_channel.time_to_dead = 10.0
        client.start_channels()
        try:
            client.wait_for_ready(timeout=120)
            yield client
        finally:
            client.stop_channels()
            server.delete(f"api/sessions/{session['id']}")
            server.close()

    def stop(self) -> None:
        stop_group(self.process)
        proxy = self.root / "proxy.pid"  # the proxy runs in a session of its own
        if proxy.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(proxy.read_text()), signal.SIGTERM)

    def restart(self) -> None:
        """Stop the hub (its servers and the service keep running or are stopped as
        JupyterHub does) and start it again on the same configuration."""
        self.stop()
        self.process = start_hub(self.config, self.root, self.log)
        wait_for_hub(self)


@dataclass
class EventStream:
    """A person's live event stream (``GET events`` on their own server, as their
    JupyterLab follows it), read on a thread: each event with when it arrived."""

    url: str
    token: str
    received: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    opened: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> EventStream:
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()
        assert self.opened.wait(60), "the event stream did not open"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._client.close()
        self._thread.join(30)

    def _follow(self) -> None:
        self._client = httpx.Client(
            headers={"Authorization": f"token {self.token}"}, timeout=httpx.Timeout(10, read=None)
        )
        with contextlib.suppress(httpx.HTTPError), self._client.stream("GET", self.url) as reply:
            assert reply.status_code == 200, reply.read()
            self.opened.set()
            for line in reply.iter_lines():
                if line.startswith("data:"):
                    self.received.append((time.time(), json.loads(line[5:])))
                if self._stop.is_set():
                    return

    def arrival(self, job_id: str, status: str, timeout: float = 300) -> float:
        """When the event that took ``job_id`` to ``status`` arrived."""

        def found() -> float | None:
            for at, event in list(self.received):
                if event.get("job_id") == job_id and event.get("status") == status:
                    return at
            return None

        return float(wait_until(found, timeout, 0.05))

    def latencies(self, job_id: str) -> list[float]:
        """Seconds from each of the job's events' commit to its arrival here."""
        return [
            at - datetime.fromisoformat(event["created_at"]).timestamp()
            for at, event in list(self.received)
            if event.get("job_id") == job_id
        ]


def stop_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(60)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)


def start_hub(config: Path, root: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PIQ_HUB_EMAILS": json.dumps(EMAILS)}
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(BIN / "jupyterhub"), "-f", str(config)],
            cwd=root,
            stdout=out,
            stderr=out,
            env=env,
            start_new_session=True,
        )


def wait_for_hub(hub: Hub) -> None:
    def up() -> bool:
        try:
            return hub.api.get("").status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, timeout=90, every=0.5)
    except AssertionError:
        raise AssertionError(hub.log.read_text()[-4000:]) from None


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    root = tmp_path / "hub"
    (root / "home").mkdir(parents=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    token = secrets.token_hex(16)
    config = root / "jupyterhub_config.py"
    config.write_text(
        hub_config(
            url=url,
            hub_port=free_port(),
            proxy_api_port=free_port(),
            service_port=free_port(),
            database_url=database_url,
            root=root,
            token=token,
        )
    )
    log = root / "jupyterhub.log"
    process = start_hub(config, root, log)
    api = httpx.Client(
        base_url=f"{url}/hub/api/", headers={"Authorization": f"token {token}"}, timeout=60
    )
    hub = Hub(url, root, database_url, process, api, config, log)
    try:
        wait_for_hub(hub)
        yield hub
    finally:
        for name in EMAILS:
            with contextlib.suppress(httpx.HTTPError):
                hub.api.delete(f"users/{name}/server")
        time.sleep(1)
        hub.stop()
        api.close()
        stop_leftovers(root)


def stop_leftovers(root: Path) -> None:
    """Whatever this hub started that outlived it (the workers of a service killed
    outright): each process whose data directory lies under ``root``."""
    import psutil

    for process in psutil.process_iter():
        try:
            if process.environ().get("PIQ_DATA_DIR", "").startswith(str(root)):
                process.kill()
        except psutil.Error:
            continue


def job_of(reply: httpx.Response) -> Any:
    assert reply.status_code in (200, 201), reply.text
    return reply.json()
