"""A real Jupyter server with the ``proteiniq`` extension, for HTTP tests.

Each test gets its own server (pytest-jupyter), under a base URL with unusual
characters, on the ``database_url`` backends (SQLite and PostgreSQL). Requests
carry bearer tokens that a small identity provider maps to Jupyter users, so one
server has several people:

- ``alice`` owns the team workspace;
- ``tim`` is a member of it, and is the server's own user (``ProteinIQApp.user``
  and ``ProteinIQApp.workspace``), so he acts in alice's workspace. (A request
  cannot choose a workspace: anyone else acts in the workspace they own.)
- ``bob`` and ``olga`` belong to workspaces of their own;
- a request with no token, or one nobody issued, is anonymous.

pytest only accepts ``pytest_plugins`` in the top-level conftest, so the fixtures
and hooks of ``pytest_jupyter.jupyter_server`` are brought in by import: they
then serve the tests under this folder only.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth import IdentityProvider, User
from pytest_jupyter.jupyter_server import *  # noqa: F403
from tornado.httpclient import HTTPResponse
from tornado.httputil import HTTPHeaders
from traitlets.config import Config

from proteiniq_jupyter.jobs.model import Role
from proteiniq_jupyter.jobs.service import JobService
from proteiniq_jupyter.store.sql_store import DirectoryJobFiles, SqlStore
from proteiniq_jupyter.tools.registry import ToolRegistry

from ..helpers import TEST_TOOL_PATHS, Gate

#: Escaped as a browser would send it: ``.``, ``-``, ``_`` and ``~`` are sent as they
#: are, ``@`` as ``%40``. (A space would break Jupyter's own cookie paths.)
BASE_URL = "/user/al.ice-1_~x%40lab/"
API_PREFIX = "proteiniq/api/v1"
SERVER_USER = "tim"
#: Statuses a job does not leave.
FINAL = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "BUDGET_EXCEEDED")


@dataclass
class PiqUser(User):
    """A Jupyter user with an email, as JupyterHub-style providers can give."""

    email: str | None = None


#: Bearer token -> the Jupyter user it stands for.
USERS: dict[str, PiqUser] = {
    "alice-token": PiqUser(username="alice", email="alice@lab.example"),
    "tim-token": PiqUser(username="tim", email="tim@lab.example"),
    "bob-token": PiqUser(username="bob", email="bob@other.example"),
    "olga-token": PiqUser(username="olga", email="olga@elsewhere.example"),
    # invited before her first visit, as pending@elsewhere.example
    "petra-token": PiqUser(username="petra", email="pending@elsewhere.example"),
}
TOKENS = {user.username: token for token, user in USERS.items()}


class TokenIdentityProvider(IdentityProvider):
    """``Authorization: token <t>`` names a user from ``USERS``; the server's own
    token (the one kernels are given) is its own user. Anything else is nobody."""

    def get_user(self, handler: Any) -> User | None:
        scheme, _, token = handler.request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() not in ("token", "bearer") or not token:
            return None
        user: User | None = USERS.get(token)
        if user is None and self.token and token == self.token:
            user = PiqUser(username=SERVER_USER, email="tim@lab.example")
        if user is not None:
            # What Jupyter's own token check records: no XSRF cookie needed.
            handler._token_authenticated = True
        return user


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "piq(**traits): ProteinIQApp settings for the test's server")
    config.addinivalue_line(
        "markers", "jupyter(**traits): ServerApp settings for the test's server"
    )


@dataclass(frozen=True)
class Team:
    workspace_id: str
    alice_id: str
    tim_id: str


@pytest.fixture
def piq_data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "piq-data"
    path.mkdir()
    return path


@pytest.fixture
def team(database_url: str, piq_data_dir: Path) -> Team:
    """Alice's workspace with Tim in it, made before the server starts (the way an
    admin would, with ``piq members add``)."""
    store = SqlStore.open(database_url)
    try:
        service = JobService(store, ToolRegistry(), DirectoryJobFiles(piq_data_dir / "jobs"))
        alice = service.sign_in("alice", email="alice@lab.example")
        tim = service.add_member(alice, "tim", Role.MEMBER, email="tim@lab.example")
    finally:
        store.close()
    assert alice.workspace_id is not None and alice.user_id is not None
    return Team(alice.workspace_id, alice.user_id, tim.user.id)


@pytest.fixture
def jp_base_url() -> str:
    return BASE_URL


@pytest.fixture
def jp_auth_header() -> dict[str, str]:
    """No token by default: each request says who sends it."""
    return {}


@pytest.fixture
def jp_server_config(
    request: pytest.FixtureRequest,
    database_url: str,
    piq_data_dir: Path,
    team: Team,
    monkeypatch: pytest.MonkeyPatch,
) -> Config:
    """The extension on the test database; ``@pytest.mark.piq(trait=value)`` changes
    any ProteinIQApp setting for one test, ``@pytest.mark.jupyter(...)`` any ServerApp
    setting."""
    monkeypatch.setenv("PIQ_EXTRA_TOOLS", ",".join(TEST_TOOL_PATHS))
    # What the extension tells kernels must come from this server.
    monkeypatch.delenv("PIQ_SERVER_URL", raising=False)
    monkeypatch.delenv("PIQ_SERVER_TOKEN", raising=False)
    marker = request.node.get_closest_marker("piq")
    jupyter = request.node.get_closest_marker("jupyter")
    traits: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": str(piq_data_dir),
        "executor": "inprocess",
        "trust_identity_provider": True,
        "user": SERVER_USER,
        "email": "tim@lab.example",
        "workspace": team.workspace_id,
        **(marker.kwargs if marker else {}),
    }
    return Config(
        {
            "ServerApp": {
                "jpserver_extensions": {
                    "proteiniq_jupyter": True,
                    "jupyter_server_terminals": False,
                },
                "identity_provider_class": TokenIdentityProvider,
                **(jupyter.kwargs if jupyter else {}),
            },
            "ProteinIQApp": traits,
        }
    )


@dataclass
class Reply:
    """One HTTP answer: status, headers and body, with the JSON parsed on demand."""

    status: int
    headers: HTTPHeaders
    body: bytes

    @property
    def json(self) -> Any:
        assert self.headers.get("Content-Type", "").startswith("application/json"), (
            f"{self.status} is not JSON: {self.headers.get('Content-Type')} {self.body[:200]!r}"
        )
        return json.loads(self.body)

    @property
    def error(self) -> dict[str, Any]:
        """The error envelope's ``error``, checked for its shape."""
        data = self.json
        assert set(data) == {"error"}, data
        assert set(data["error"]) == {"code", "message", "details"}, data
        assert isinstance(data["error"]["message"], str) and data["error"]["message"]
        error: dict[str, Any] = data["error"]
        return error

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


class Api:
    """Calls the extension's routes as one user (``None``: no token at all)."""

    def __init__(self, server: PiqServer, user: str | None, token: str | None = None) -> None:
        self.server = server
        self.user = user
        self.token = token if token is not None else (TOKENS[user] if user else None)

    def as_user(self, user: str | None) -> Api:
        return Api(self.server, user)

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        raw: bytes | str | None = None,
    ) -> Reply:
        """``path`` is under the API prefix (``jobs/ID``); ``body`` is sent as JSON,
        ``raw`` as it is (with whatever Content-Type ``headers`` give)."""
        sent = dict(headers or {})
        if self.token is not None:
            sent.setdefault("Authorization", f"token {self.token}")
        payload: bytes | str | None = raw
        if body is not None:
            payload = json.dumps(body)
            sent.setdefault("Content-Type", "application/json")
        if payload is None and method in ("POST", "PUT", "PATCH"):
            payload = b""
        response: HTTPResponse = await self.server.fetch(
            API_PREFIX,
            path,
            method=method,
            body=payload,
            headers=sent,
            params=dict(params or {}),
            raise_error=False,
            allow_nonstandard_methods=True,
        )
        return Reply(response.code, response.headers, response.body or b"")

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return await self.request("POST", path, body, **kwargs)

    async def put(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return await self.request("PUT", path, body, **kwargs)

    async def patch(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return await self.request("PATCH", path, body, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("DELETE", path, **kwargs)

    async def fetch_path(self, path: str) -> Reply:
        """GET an absolute path on the server (a Location header, a file URL)."""
        headers = {"Authorization": f"token {self.token}"} if self.token else {}
        response = await self.server.client.fetch(path, headers=headers, raise_error=False)
        return Reply(response.code, response.headers, response.body or b"")

    # -- jobs -------------------------------------------------------------------

    async def submit(
        self,
        text: str = "hello world",
        *,
        tool: str = "echo",
        settings: dict[str, Any] | None = None,
        name: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        reply = await self.post(
            "jobs", job_body(text, tool=tool, settings=settings, name=name), headers=headers
        )
        assert reply.status == 201, reply.body
        job: dict[str, Any] = reply.json
        return job

    async def wait(
        self, job_id: str, *, until: tuple[str, ...] = FINAL, timeout: float = 30.0
    ) -> dict[str, Any]:
        """Poll ``jobs/{id}/status`` until the job reaches one of ``until``."""
        deadline = time.monotonic() + timeout
        while True:
            reply = await self.get(f"jobs/{job_id}/status")
            assert reply.status == 200, reply.body
            status: dict[str, Any] = reply.json
            if status["status"] in until:
                return status
            assert time.monotonic() < deadline, f"job {job_id} still {status['status']}"
            await asyncio.sleep(0.05)

    async def run(self, text: str = "hello world", **kwargs: Any) -> dict[str, Any]:
        """Submit a job and wait for it to finish; the job as it then is."""
        job = await self.submit(text, **kwargs)
        await self.wait(job["id"])
        reply = await self.get(f"jobs/{job['id']}")
        assert reply.status == 200, reply.body
        finished: dict[str, Any] = reply.json
        return finished


def job_body(
    text: str,
    *,
    tool: str = "echo",
    settings: dict[str, Any] | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "tool": tool,
        "input": {
            "inputs": [{"slotId": "text", "kind": "text", "format": "text", "content": text}]
        },
    }
    if settings is not None:
        body["settings"] = settings
    if name is not None:
        body["name"] = name
    return body


@dataclass
class PiqServer:
    """The running server, its extension's state, and a way to call it."""

    app: Any
    fetch: Any
    client: Any
    team: Team

    @property
    def state(self) -> Any:
        return self.app.web_app.settings["proteiniq"]

    @property
    def extension(self) -> Any:
        (extension,) = self.app.extension_manager.extension_apps["proteiniq_jupyter"]
        return extension

    def api(self, user: str | None) -> Api:
        return Api(self, user)


@pytest.fixture
def piq(
    jp_serverapp: Any,
    jp_fetch: Any,
    http_server_client: Any,
    jp_asyncio_loop: Any,
    team: Team,
) -> Iterator[PiqServer]:
    server = PiqServer(jp_serverapp, jp_fetch, http_server_client, team)
    yield server
    # Stop the engine (its job threads, its Dask cluster) while its database still
    # exists; pytest-jupyter's own clean-up, later, finds nothing left to stop.
    jp_asyncio_loop.run_until_complete(server.extension.stop_extension())


@pytest.fixture
def gate(piq: PiqServer, tmp_path: Path) -> Iterator[Gate]:
    """Holds the test's jobs of the sleep tool until it lets them go; open before
    the server stops, whose job threads would otherwise wait for it."""
    gate = Gate(tmp_path / "gate")
    yield gate
    gate.open()


@pytest.fixture
def alice(piq: PiqServer) -> Api:
    return piq.api("alice")


@pytest.fixture
def tim(piq: PiqServer) -> Api:
    return piq.api("tim")


@pytest.fixture
def bob(piq: PiqServer) -> Api:
    return piq.api("bob")


@pytest.fixture
def anonymous(piq: PiqServer) -> Api:
    return piq.api(None)
