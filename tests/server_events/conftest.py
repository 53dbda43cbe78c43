"""A real Jupyter server with the ``proteiniq`` extension, and Server-Sent Events
clients for it, on the ``database_url`` backends (SQLite and PostgreSQL).

Jobs change status through a second service on the same database (``writer``),
as workers in other processes do: its commits reach the server only through the
store, never through the server's own in-process notifications.

pytest accepts ``pytest_plugins`` only in the top-level conftest, so the fixtures
and hooks of ``pytest_jupyter.jupyter_server`` are imported here: they then serve
the tests under this folder only.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from jupyter_server.auth import IdentityProvider, User
from pytest_jupyter.jupyter_server import *  # noqa: F403
from tornado.httpclient import HTTPRequest, HTTPResponse
from tornado.httputil import HTTPInputError
from tornado.simple_httpclient import HTTPStreamClosedError, SimpleAsyncHTTPClient
from traitlets.config import Config

from proteiniq_jupyter.jobs.access import Actor
from proteiniq_jupyter.jobs.core import ServiceConfig
from proteiniq_jupyter.jobs.model import JobEvent, JobInput, Role, ToolResult
from proteiniq_jupyter.jobs.service import JobService
from proteiniq_jupyter.server.events import EventStreamHandler
from proteiniq_jupyter.server.feed import FEED_KEY, EventFeed
from proteiniq_jupyter.store.sql_store import DirectoryJobFiles, SqlStore
from proteiniq_jupyter.tools.registry import ToolRegistry

from ..helpers import TEST_TOOLS

API_PREFIX = "proteiniq/api/v1"
#: Short, so that quiet streams still carry bytes (and a client can hang up).
TEST_KEEPALIVE_S = 0.25


@dataclass
class PiqUser(User):
    """A Jupyter user with an email, as JupyterHub-style providers give."""

    email: str | None = None


#: Bearer token -> the Jupyter user it stands for.
USERS: dict[str, PiqUser] = {
    "alice-token": PiqUser(username="alice", email="alice@lab.example"),
    "tim-token": PiqUser(username="tim", email="tim@lab.example"),
    "bob-token": PiqUser(username="bob", email="bob@other.example"),
}
TOKENS = {user.username: token for token, user in USERS.items()}


class TokenIdentityProvider(IdentityProvider):  # type: ignore[misc]
    """``Authorization: token <t>`` (or ``?token=<t>``, what an EventSource can
    send) names a user from ``USERS``; anything else is nobody."""

    def get_user(self, handler: Any) -> User | None:
        scheme, _, token = handler.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "token":
            token = handler.get_query_argument("token", "")
        user = USERS.get(token.strip())
        if user is not None:
            handler._token_authenticated = True
        return user


def text_input(content: str) -> JobInput:
    return JobInput(id="text_1", slot_id="text", kind="text", format="text", content=content)


@dataclass
class Writer:
    """A service of its own on the test database, standing for the worker
    processes that record what their jobs do."""

    service: JobService
    store: SqlStore
    alice: Actor
    tim: Actor
    bob: Actor

    def submit(self, text: str = "hello world", *, actor: Actor | None = None) -> str:
        return self.service.submit(actor or self.alice, "echo", [text_input(text)]).id

    def run(self, job_id: str, *, steps: int = 3, pause_s: float = 0.0) -> None:
        """PROCESSING, ``steps`` progress reports, COMPLETED."""
        self.service.runs.start(job_id)
        for step in range(steps):
            if pause_s:
                time.sleep(pause_s)
            self.service.runs.progress(job_id, (step + 1) / (steps + 1), f"step {step + 1}")
        if pause_s:
            time.sleep(pause_s)
        self.service.runs.complete(job_id, ToolResult(fields={"steps": steps}))

    def last_seq(self) -> int:
        with self.store.read() as tx:
            return tx.last_event_seq()

    def events_after(self, seq: int) -> list[JobEvent]:
        with self.store.read() as tx:
            return tx.events_after(seq, 1_000_000)


@pytest.fixture
def piq_data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "piq-data"
    path.mkdir()
    return path


@pytest.fixture
def writer(database_url: str, piq_data_dir: Path) -> Iterator[Writer]:
    """Alice's workspace (enough credits for hundreds of jobs) with Tim in it, and
    Bob in a workspace of his own."""
    store = SqlStore.open(database_url)
    service = JobService(
        store,
        ToolRegistry(tool() for tool in TEST_TOOLS),
        DirectoryJobFiles(piq_data_dir / "jobs"),
        config=ServiceConfig(starting_credits=1_000_000),
    )
    alice = service.sign_in("alice", email="alice@lab.example")
    tim = service.add_member(alice, "tim", Role.MEMBER, email="tim@lab.example")
    tim_actor = service.sign_in("tim", email="tim@lab.example", workspace_id=alice.workspace_id)
    assert tim.user.id == tim_actor.user_id
    bob = service.sign_in("bob", email="bob@other.example")
    yield Writer(service, store, alice, tim_actor, bob)
    store.close()


@pytest.fixture
def jp_server_config(
    database_url: str,
    piq_data_dir: Path,
    writer: Writer,
    monkeypatch: pytest.MonkeyPatch,
) -> Config:
    monkeypatch.setenv("PIQ_EXTRA_TOOLS", "tests.helpers:Echo,tests.helpers:Sleep")
    monkeypatch.setattr(EventStreamHandler, "keepalive_s", TEST_KEEPALIVE_S)
    return Config(
        {
            "ServerApp": {
                "jpserver_extensions": {
                    "proteiniq_jupyter": True,
                    "jupyter_server_terminals": False,
                },
                "identity_provider_class": TokenIdentityProvider,
            },
            "ProteinIQApp": {
                "database_url": database_url,
                "data_dir": str(piq_data_dir),
                "executor": "inprocess",
                "trust_identity_provider": True,
                # Tim is the server's own user, acting in Alice's workspace.
                "user": "tim",
                "email": "tim@lab.example",
                "workspace": writer.alice.workspace_id,
                "rate_limit": 0,
            },
        }
    )


class HungUp(HTTPInputError):
    """Raised from a stream's callback: the client closes the connection. (As an
    HTTPInputError, tornado closes it without logging an error.)"""


@dataclass
class SseEvent:
    id: int
    event: str
    data: dict[str, Any]


@dataclass
class Stream:
    """One open SSE connection, parsed as it arrives. ``hang_up_after`` closes it
    once that many events are in (events later in the same chunk are dropped, as
    by a client that stopped reading)."""

    url: str
    hang_up_after: int | None = None
    events: list[SseEvent] = field(default_factory=list)
    comments: int = 0
    response: HTTPResponse | None = None
    hung_up: bool = False
    _buffer: str = ""
    _decoder: Any = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")())
    _hang_up: bool = False
    _future: Any = None

    def open(self, client: SimpleAsyncHTTPClient, headers: dict[str, str]) -> Stream:
        request = HTTPRequest(
            self.url, headers=headers, streaming_callback=self._on_chunk, request_timeout=300
        )
        self._future = asyncio.ensure_future(client.fetch(request, raise_error=False))
        return self

    def _on_chunk(self, chunk: bytes) -> None:
        if self._hang_up:
            raise HungUp
        self._buffer += self._decoder.decode(chunk)
        while "\n\n" in self._buffer:
            block, self._buffer = self._buffer.split("\n\n", 1)
            lines = block.split("\n")
            if all(line.startswith(":") for line in lines):
                self.comments += 1
                continue
            fields = dict(line.split(": ", 1) for line in lines)
            self.events.append(
                SseEvent(int(fields["id"]), fields["event"], json.loads(fields["data"]))
            )
            if self.hang_up_after is not None and len(self.events) >= self.hang_up_after:
                self._hang_up = True
                raise HungUp

    @property
    def ids(self) -> list[int]:
        return [e.id for e in self.events]

    @property
    def done(self) -> bool:
        return bool(self._future.done())

    async def finished(self, timeout: float = 20.0) -> HTTPResponse | None:
        """The response once the server ended the stream; None if we hung up."""
        try:
            self.response = await asyncio.wait_for(asyncio.shield(self._future), timeout)
        except (HungUp, HTTPStreamClosedError):
            if not self._hang_up:
                raise
            self.hung_up = True
            return None
        return self.response

    async def hang_up(self) -> None:
        """Close at the next bytes (a keepalive comes every TEST_KEEPALIVE_S)."""
        self._hang_up = True
        if not self.done:
            await self.finished()
        elif self._future.exception() is not None:
            self.hung_up = True

    async def wait_for(self, count: int, timeout: float = 20.0) -> None:
        """Until ``count`` events are in (or the stream ended)."""
        deadline = time.monotonic() + timeout
        while len(self.events) < count and not self.done:
            assert time.monotonic() < deadline, f"{len(self.events)} of {count} events came"
            await asyncio.sleep(0.01)


@dataclass
class Server:
    app: Any
    base: str
    client: SimpleAsyncHTTPClient

    @property
    def state(self) -> Any:
        return self.app.web_app.settings["proteiniq"]

    @property
    def feed(self) -> EventFeed:
        feed: EventFeed = self.state.extras[FEED_KEY]
        return feed

    @property
    def extension(self) -> Any:
        (extension,) = self.app.extension_manager.extension_apps["proteiniq_jupyter"]
        return extension

    def url(self, path: str, **params: Any) -> str:
        query = f"?{urlencode(params)}" if params else ""
        return f"{self.base}{API_PREFIX}/{path}{query}"

    @staticmethod
    def headers(user: str | None, last_id: int | None = None) -> dict[str, str]:
        """``last_id`` goes in a ``Last-Event-ID`` header (``last_event_id=`` among
        the query parameters of ``get`` and ``stream`` is the other way)."""
        headers = {"Authorization": f"token {TOKENS[user]}"} if user else {}
        if last_id is not None:
            headers["Last-Event-ID"] = str(last_id)
        return headers

    async def get(
        self, user: str | None, path: str, *, last_id: int | None = None, **params: Any
    ) -> HTTPResponse:
        """A whole response (for streams that end, and for errors)."""
        response: HTTPResponse = await self.client.fetch(
            self.url(path, **params),
            headers=self.headers(user, last_id),
            raise_error=False,
            request_timeout=30,
        )
        return response

    def stream(
        self,
        user: str | None,
        path: str,
        *,
        last_id: int | None = None,
        hang_up_after: int | None = None,
        **params: Any,
    ) -> Stream:
        return Stream(self.url(path, **params), hang_up_after).open(
            self.client, self.headers(user, last_id)
        )


def parse_sse(body: bytes) -> list[SseEvent]:
    stream = Stream("")
    stream._on_chunk(body)
    return stream.events


@pytest.fixture
def server(
    jp_serverapp: Any,
    http_server_client: Any,
    jp_base_url: str,
    jp_asyncio_loop: Any,
) -> Iterator[Server]:
    async def make_client() -> SimpleAsyncHTTPClient:
        return SimpleAsyncHTTPClient(force_instance=True, max_clients=256)

    client = jp_asyncio_loop.run_until_complete(make_client())
    server = Server(jp_serverapp, http_server_client.get_url(jp_base_url), client)
    yield server
    # The feed and the engine stop while the database still exists; pytest-jupyter's
    # own clean-up, later, finds nothing left to stop.
    jp_asyncio_loop.run_until_complete(server.extension.stop_extension())
    client.close()
