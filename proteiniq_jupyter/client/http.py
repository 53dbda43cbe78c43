"""The HTTP transport: the extension's REST API through one httpx connection pool.

Every POST carries an ``Idempotency-Key`` (the caller's, or a fresh one kept for
all retries of that call), so a request retried after a lost answer never makes a
second job. Connection errors and ``429`` answers are retried with backoff (the
server's ``Retry-After`` when it gives one). Waiting follows the job's
Server-Sent Events, resuming with ``Last-Event-ID`` after a dropped connection.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from httpx_sse import connect_sse
from pydantic import BaseModel

from .. import api
from ..links import HubLinks
from .errors import ConnectionFailed, error_for
from .http_events import SseEvents
from .transport import Connection, EventSink, JsonBody

ModelT = TypeVar("ModelT", bound=BaseModel)

#: Tries of one call before a connection error is given up on.
ATTEMPTS = 6
#: Seconds before the first retry; doubled each time, up to MAX_BACKOFF_S.
FIRST_BACKOFF_S = 0.2
MAX_BACKOFF_S = 5.0
#: The server sends a comment every 15 s on a quiet stream; a read waits a while longer.
STREAM_READ_S = 40.0
API_PATH = "proteiniq/api/v1/"


class HttpTransport:
    def __init__(
        self, url: str, token: str | None, connection: Connection, *, attempts: int = ATTEMPTS
    ) -> None:
        self.connection = connection
        self.attempts = attempts
        #: Requests sent again after a connection error or a 429 (for diagnostics).
        self.retried = 0
        self.server_url = url if url.endswith("/") else url + "/"
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"token {token}"
        self._client = httpx.Client(
            base_url=self.server_url + API_PATH,
            headers=headers,
            timeout=httpx.Timeout(60.0, connect=10.0),
            limits=httpx.Limits(max_connections=10, max_keepalive_connections=5),
        )
        self._workspace_id: str | None = None
        self.events = SseEvents(self._client, self.server_url, self.workspace_id)

    # -- one call ---------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: JsonBody | None = None,
        params: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        headers: dict[str, str] = {}
        content: bytes | None = None
        if method == "POST":
            headers["Idempotency-Key"] = idempotency_key or uuid.uuid4().hex
        if body is not None or method in ("POST", "PUT", "PATCH"):
            content = json.dumps(body or {}).encode()
            headers["Content-Type"] = "application/json"
        delay = FIRST_BACKOFF_S
        for attempt in range(1, self.attempts + 1):
            try:
                response = self._client.request(
                    method, path, content=content, params=params, headers=headers
                )
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
                if attempt == self.attempts:
                    raise ConnectionFailed(
                        f"cannot reach {self.server_url}: {exc or type(exc).__name__}"
                    ) from None
                self.retried += 1
                time.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
                continue
            if response.status_code == 429 and attempt < self.attempts:
                self.retried += 1
                time.sleep(_retry_after(response, delay))
                delay = min(delay * 2, MAX_BACKOFF_S)
                continue
            if response.status_code >= 400:
                raise error_for(response.status_code, _json(response))
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _model(self, model: type[ModelT], method: str, path: str, **kwargs: Any) -> ModelT:
        return model.model_validate_json(self._send(method, path, **kwargs).content)

    # -- the API ----------------------------------------------------------------

    def tools(self) -> api.ToolList:
        return self._model(api.ToolList, "GET", "tools")

    def tool(self, tool_id: str) -> api.ToolDetail:
        return self._model(api.ToolDetail, "GET", f"tools/{_seg(tool_id)}")

    def quote(self, body: JsonBody) -> api.JobQuote:
        return self._model(api.JobQuote, "POST", "jobs/quote", body=body)

    def submit(self, body: JsonBody, idempotency_key: str) -> api.Job:
        return self._model(api.Job, "POST", "jobs", body=body, idempotency_key=idempotency_key)

    def job(self, job_id: str) -> api.Job:
        return self._model(api.Job, "GET", f"jobs/{_seg(job_id)}")

    def jobs(self, params: Mapping[str, str]) -> api.JobList:
        return self._model(api.JobList, "GET", "jobs", params=params)

    def result(self, job_id: str) -> api.JobResult:
        return self._model(api.JobResult, "GET", f"results/{_seg(job_id)}")

    def rename(self, job_id: str, name: str) -> api.Job:
        return self._model(api.Job, "PATCH", f"jobs/{_seg(job_id)}", body={"name": name})

    def delete(self, job_id: str) -> None:
        self._send("DELETE", f"jobs/{_seg(job_id)}")

    def action(self, job_id: str, action: str, body: JsonBody | None = None) -> api.Job:
        return self._model(api.Job, "POST", f"jobs/{_seg(job_id)}/{action}", body=body)

    def share(self, job_id: str, body: JsonBody | None) -> api.Share:
        if body is None:
            return self._model(api.Share, "GET", f"jobs/{_seg(job_id)}/share")
        return self._model(api.Share, "PUT", f"jobs/{_seg(job_id)}/share", body=body)

    def export(self, job_id: str, fmt: str) -> str:
        return self._send("GET", f"jobs/{_seg(job_id)}/export", params={"format": fmt}).text

    def file(self, job_id: str, name: str) -> bytes:
        return self._send("GET", f"jobs/{_seg(job_id)}/files/{_seg(name)}").content

    def submit_batch(self, body: JsonBody, idempotency_key: str) -> api.Batch:
        return self._model(api.Batch, "POST", "batches", body=body, idempotency_key=idempotency_key)

    def batch(self, batch_id: str) -> api.Batch:
        return self._model(api.Batch, "GET", f"batches/{_seg(batch_id)}")

    def batch_action(self, batch_id: str, action: str) -> api.Batch:
        model = api.BatchRetry if action == "retry-failed" else api.Batch
        return self._model(model, "POST", f"batches/{_seg(batch_id)}/{_seg(action)}")

    def files(self, params: Mapping[str, str]) -> api.FileList:
        return self._model(api.FileList, "GET", "files", params=params)

    def account(self) -> api.Account:
        account = self._model(api.Account, "GET", "account")
        self._workspace_id = account.workspace.id
        return account

    def open_budget(self, body: JsonBody) -> api.Budget:
        return self._model(api.Budget, "POST", "budgets", body=body)

    def budgets(self) -> api.BudgetList:
        return self._model(api.BudgetList, "GET", "budgets")

    def workspace_id(self) -> str:
        """The workspace the token acts in (read once)."""
        if self._workspace_id is None:
            self.account()
        assert self._workspace_id is not None
        return self._workspace_id

    def follow(
        self, job_id: str, on_event: EventSink, *, after: int = 0, timeout: float | None = None
    ) -> int:
        """Read ``jobs/{id}/events`` until a final status; a dropped stream is
        opened again with ``Last-Event-ID``, so no event is missed or repeated."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = FIRST_BACKOFF_S
        while True:
            read_s = STREAM_READ_S
            if deadline is not None:
                read_s = min(read_s, max(deadline - time.monotonic(), 0.001))
            headers = {"Accept": "text/event-stream"}
            if after:
                headers["Last-Event-ID"] = str(after)
            try:
                with connect_sse(
                    self._client,
                    "GET",
                    f"jobs/{_seg(job_id)}/events",
                    headers=headers,
                    timeout=httpx.Timeout(60.0, connect=10.0, read=read_s),
                ) as source:
                    response = source.response
                    if response.status_code == 204:  # over, and nothing after ``after``
                        return after
                    if response.status_code >= 400:
                        response.read()
                        raise error_for(response.status_code, _json(response))
                    for sse in source.iter_sse():
                        if not sse.data:
                            continue
                        event = api.JobEvent.model_validate_json(sse.data)
                        after = event.id
                        on_event(event)
                        if event.status.is_terminal:
                            return after
                        delay = FIRST_BACKOFF_S
            except httpx.ReadTimeout:
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"job {job_id} did not finish within {timeout} s") from None
                continue
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError):
                time.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} did not finish within {timeout} s")

    def history(self, job_id: str) -> list[api.JobEvent]:
        events: list[api.JobEvent] = []
        with connect_sse(
            self._client,
            "GET",
            f"jobs/{_seg(job_id)}/events",
            params={"history": "1"},
            headers={"Accept": "text/event-stream"},
        ) as source:
            response = source.response
            if response.status_code == 204:
                return events
            if response.status_code >= 400:
                response.read()
                raise error_for(response.status_code, _json(response))
            events.extend(
                api.JobEvent.model_validate_json(sse.data) for sse in source.iter_sse() if sse.data
            )
        return events

    def lab_url(self, job_id: str) -> str | None:
        """The job in JupyterLab: under JupyterHub through the hub, so the link
        opens in the JupyterLab of whoever follows it."""
        hub = HubLinks.from_env()
        if hub is not None:
            return hub.lab(job_id)
        return f"{self.server_url}lab?jobId={quote(job_id)}"

    def close(self) -> None:
        self.events.close()
        self._client.close()


def _seg(text: str) -> str:
    return quote(text, safe="")


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _retry_after(response: httpx.Response, fallback: float) -> float:
    try:
        return min(max(float(response.headers.get("Retry-After", "")), 0.0), 30.0)
    except ValueError:
        return fallback
