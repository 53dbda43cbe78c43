"""The kernel side: ``import proteiniq_jupyter as piq`` and run tools as jobs.

The first call finds the server (see ``discovery``) or, with none, runs the engine
in this process on the default store; ``connect`` chooses explicitly and
``connection`` says what was chosen and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import api
from ..quotes import Quote
from .errors import ConnectionFailed, JobFailed, PiqError, ServerError
from .handle import Job
from .inputs import Output
from .session import Batch, Client, default_client, set_default
from .tables import JobTable
from .transport import Connection

__all__ = [
    "Batch",
    "Client",
    "Connection",
    "ConnectionFailed",
    "Job",
    "JobFailed",
    "JobTable",
    "Output",
    "PiqError",
    "Quote",
    "ServerError",
    "account",
    "batch",
    "budget",
    "budgets",
    "connect",
    "connection",
    "credits",
    "files",
    "form",
    "job",
    "jobs",
    "quote",
    "run",
    "run_batch",
    "tool",
    "tools",
]


def connect(url: str | None = None, token: str | None = None) -> Connection:
    """Use the server at ``url`` (or the one discovery finds) from now on."""
    client = Client.connect(url, token)
    set_default(client)
    return client.connection


def connection() -> Connection:
    """Which transport the client uses, which server, and why."""
    return default_client().connection


def tools() -> list[api.ToolSummary]:
    return default_client().tools()


def tool(tool_id: str) -> api.ToolDetail:
    return default_client().tool(tool_id)


def form(tool_id: str, *, name: str | None = None, **values: Any) -> Any:
    """The tool's run form: ``piq.form("esmfold")`` shows it, ``form.job`` is
    the job its Run button submitted."""
    return default_client().form(tool_id, name=name, **values)


def quote(tool_id: str, *args: Any, **kwargs: Any) -> Quote:
    return default_client().quote(tool_id, *args, **kwargs)


def run(tool_id: str, *args: Any, **kwargs: Any) -> Job:
    return default_client().run(tool_id, *args, **kwargs)


def run_batch(tool_id: str, items: Sequence[Any], **kwargs: Any) -> Batch:
    return default_client().run_batch(tool_id, items, **kwargs)


def job(job_id: str) -> Job:
    return default_client().job(job_id)


def jobs(**kwargs: Any) -> JobTable:
    return default_client().jobs(**kwargs)


def batch(batch_id: str) -> Batch:
    return default_client().batch(batch_id)


def files(limit: int = 20) -> list[api.FileRecord]:
    return default_client().files(limit)


def account() -> api.Account:
    return default_client().account()


def credits() -> int:
    return default_client().credits()


def budget(credits: int, *, name: str | None = None) -> api.Budget:
    """Bound this notebook's spending to ``credits`` (see ``Client.budget``)."""
    return default_client().budget(credits, name=name)


def budgets() -> list[api.Budget]:
    return default_client().budgets()
