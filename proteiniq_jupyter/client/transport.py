"""The one interface both transports implement: each method is one API call, its
request given as the API's JSON body, its answer the API's model.

``HttpTransport`` sends it to a Jupyter server with the extension; ``LocalTransport``
hands it to the same service in this process. Request bodies are parsed by the
API's own request models on both sides, so a bad request is refused the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from .. import api
from .events import EventHub

JsonBody = dict[str, Any]
#: Called with each event of a followed job as it arrives.
EventSink = Callable[[api.JobEvent], None]


@dataclass(frozen=True)
class Connection:
    """Which transport the client uses, which server, and why it was chosen."""

    transport: Literal["http", "inprocess"]
    url: str | None
    reason: str
    database: str | None = None

    def __str__(self) -> str:
        where = self.url if self.transport == "http" else f"in-process on {self.database}"
        return f"{self.transport}: {where} ({self.reason})"


class Transport(Protocol):
    connection: Connection

    @property
    def events(self) -> EventHub:
        """The client's one subscription to its jobs' events, feeding every handle."""
        ...

    def tools(self) -> api.ToolList: ...

    def tool(self, tool_id: str) -> api.ToolDetail: ...

    def quote(self, body: JsonBody) -> api.JobQuote: ...

    def submit(self, body: JsonBody, idempotency_key: str) -> api.Job: ...

    def job(self, job_id: str) -> api.Job: ...

    def jobs(self, params: Mapping[str, str]) -> api.JobList: ...

    def result(self, job_id: str) -> api.JobResult: ...

    def rename(self, job_id: str, name: str) -> api.Job: ...

    def delete(self, job_id: str) -> None: ...

    def action(self, job_id: str, action: str, body: JsonBody | None = None) -> api.Job:
        """cancel, retry or duplicate."""
        ...

    def share(self, job_id: str, body: JsonBody | None) -> api.Share:
        """The job's sharing; changed first when ``body`` is given."""
        ...

    def export(self, job_id: str, fmt: str) -> str: ...

    def file(self, job_id: str, name: str) -> bytes: ...

    def submit_batch(self, body: JsonBody, idempotency_key: str) -> api.Batch: ...

    def batch(self, batch_id: str) -> api.Batch: ...

    def batch_action(self, batch_id: str, action: str) -> api.Batch:
        """cancel, or retry-failed (then an ``api.BatchRetry``)."""
        ...

    def files(self, params: Mapping[str, str]) -> api.FileList: ...

    def account(self) -> api.Account: ...

    def open_budget(self, body: JsonBody) -> api.Budget: ...

    def budgets(self) -> api.BudgetList: ...

    def follow(
        self, job_id: str, on_event: EventSink, *, after: int = 0, timeout: float | None = None
    ) -> int:
        """Deliver the job's events after ``after`` until one with a final status;
        returns the last event id seen. TimeoutError once ``timeout`` passes."""
        ...

    def history(self, job_id: str) -> list[api.JobEvent]:
        """The job's events so far, oldest first (its timeline); what comes next
        arrives on ``events``."""
        ...

    def lab_url(self, job_id: str) -> str | None:
        """Where JupyterLab shows the job, when there is a server."""
        ...

    def close(self) -> None: ...
