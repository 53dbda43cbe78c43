"""The client: one transport (found by discovery, or given) and the verbs."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import make_url

from .. import api
from ..jobs.errors import NotFound, ValidationError
from ..jobs.sorting import DEFAULT_SORT, JobSort, sort_order
from ..quotes import Quote
from . import reattach
from .discovery import discover
from .display import mimebundle, open_widget
from .handle import Job
from .inputs import request_parts
from .render import batch_html
from .tables import JobTable
from .transport import Connection, JsonBody, Transport

#: Largest page the API gives.
MAX_PAGE = 100


class Client:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._tools: dict[str, api.ToolDetail] = {}

    @classmethod
    def connect(cls, url: str | None = None, token: str | None = None) -> Client:
        found = discover(url, token)
        if found.transport == "http":
            from .http import HttpTransport

            assert found.url is not None
            connection = Connection("http", found.url, found.reason)
            return cls(HttpTransport(found.url, found.token, connection))
        from .local import LocalTransport

        transport = LocalTransport(Connection("inprocess", None, found.reason))
        database = make_url(transport.engine.config.database_url).render_as_string(
            hide_password=True
        )
        transport.connection = Connection("inprocess", None, found.reason, database)
        return cls(transport)

    @property
    def connection(self) -> Connection:
        return self.transport.connection

    def close(self) -> None:
        self.transport.close()

    # -- the catalogue ------------------------------------------------------------

    def tools(self) -> list[api.ToolSummary]:
        return list(self.transport.tools().data)

    def tool(self, tool_id: str) -> api.ToolDetail:
        detail = self._tools.get(tool_id)
        if detail is None:
            try:
                detail = self.transport.tool(tool_id)
            except NotFound:
                known = ", ".join(t.id for t in self.tools())
                raise ValidationError(
                    f"no tool {tool_id!r}; the tools are {known}",
                    errors=[{"field": "tool", "message": f"no tool {tool_id!r}"}],
                ) from None
            self._tools[tool_id] = detail
        return detail

    # -- requests -----------------------------------------------------------------

    def request(
        self, tool_id: str, args: Sequence[Any], kwargs: Mapping[str, Any], name: str | None
    ) -> JsonBody:
        """The API body of a run of ``tool_id`` with these inputs and settings."""
        inputs, settings = request_parts(self.tool(tool_id), args, kwargs)
        body: JsonBody = {"tool": tool_id, "input": {"inputs": inputs}}
        if settings:
            body["settings"] = settings
        if name is not None:
            body["name"] = name
        return body

    def quote(
        self,
        tool_id: str,
        *args: Any,
        max_credits: int | None = None,
        budget: str | None = None,
        **kwargs: Any,
    ) -> Quote:
        """What the run would cost, and what stops it now; shown as ``piq quote``
        prints it."""
        body = with_limits(self.request(tool_id, args, kwargs, None), max_credits, budget)
        return Quote.shown(self.transport.quote(body))

    def form(self, tool_id: str, *, name: str | None = None, **values: Any) -> Any:
        """The tool's run form (a widget): its inputs and settings, the cost on the
        Run button, its submit giving ``form.job``; ``values`` fill it in."""
        return open_widget("form", tool_id, name=name, client=self, **values)

    def run(
        self,
        tool_id: str,
        *args: Any,
        name: str | None = None,
        new: bool = False,
        wait: bool = False,
        timeout: float | None = None,
        max_credits: int | None = None,
        budget: str | None = None,
        **kwargs: Any,
    ) -> Job:
        """Submit a run (or, from a notebook, attach to the one this same request
        started before: see ``reattach``). ``wait`` follows it to its end.
        ``max_credits`` caps what it may cost; ``budget`` names the budget it
        counts against (from a notebook, by default the notebook's own, if any)."""
        body = with_limits(self.request(tool_id, args, kwargs, name), max_credits, budget)
        # Subscribed before submitting, the job's events are all seen: waiting
        # needs no second read of the job.
        self.transport.events.start()
        mark = self.transport.events.mark()
        resource, how = reattach.submit(
            self.transport, body, new=new, session=reattach.notebook_path()
        )
        job = Job(self.transport, resource, how=how, mark=mark)
        if wait:
            job.wait(timeout)
        return job

    def run_batch(
        self,
        tool_id: str,
        items: Sequence[Any],
        *,
        name: str | None = None,
        new: bool = False,
        max_credits: int | None = None,
        budget: str | None = None,
        **common: Any,
    ) -> Batch:
        """One job per item: an item is a dict of inputs (and settings), or the
        value of the tool's one required input; ``common`` applies to each. From a
        notebook, a rerun attaches to the batch this same request made (``new``
        always submits)."""
        children: list[JsonBody] = []
        settings: JsonBody = {}
        for item in items:
            args: tuple[Any, ...] = ()
            given = dict(common)
            if isinstance(item, Mapping):
                given.update(item)
            else:
                args = (item,)
            inputs, item_settings = request_parts(self.tool(tool_id), args, given)
            if children and item_settings != settings:
                raise ValidationError("every item of a batch runs with the same settings")
            settings = item_settings
            children.append({"input": {"inputs": inputs}})
        if not children:
            raise ValidationError("a batch needs at least one item")
        body: JsonBody = {"tool": tool_id, "items": children}
        if settings:
            body["settings"] = settings
        if name is not None:
            body["name"] = name
        body = with_limits(body, max_credits, budget)
        resource, how = reattach.submit_batch(
            self.transport, body, new=new, session=reattach.notebook_path()
        )
        return Batch(self.transport, resource, how=how)

    # -- reading ------------------------------------------------------------------

    def job(self, job_id: str) -> Job:
        mark = self.transport.events.mark()
        return Job(self.transport, self.transport.job(job_id), mark=mark)

    def jobs(
        self,
        *,
        tool: str | None = None,
        status: str | Sequence[str] | None = None,
        search: str | None = None,
        mine: bool = False,
        limit: int | None = None,
        page_size: int = 20,
        sort: str = "created_at",
        descending: bool | None = None,
    ) -> JobTable:
        """Jobs of the workspace, newest first, or sorted by ``sort`` (created_at,
        name, status, tool, submitter, credits, duration_s; ascending but for
        created_at unless ``descending`` says) across the whole history:
        ``limit`` rows at most (all with None), read ``page_size`` at a time as
        the table is read."""
        order = JobSort.parse(sort, None if descending is None else sort_order(descending))
        size = min(limit, page_size) if limit else page_size
        params: dict[str, str] = {"limit": str(max(1, min(size, MAX_PAGE)))}
        if order != DEFAULT_SORT:
            params["sort"], params["order"] = order.column.value, order.order
        if tool:
            params["tool"] = tool
        if status:
            params["status"] = status if isinstance(status, str) else ",".join(status)
        if search:
            params["q"] = search
        if mine:
            params["mine"] = "1"
        return JobTable(self.transport, params, limit)

    def batch(self, batch_id: str) -> Batch:
        return Batch(self.transport, self.transport.batch(batch_id))

    def files(self, limit: int = 20) -> list[api.FileRecord]:
        return list(self.transport.files({"limit": str(min(limit, MAX_PAGE))}).data)

    def account(self) -> api.Account:
        return self.transport.account()

    def credits(self) -> int:
        """The credits the workspace has available."""
        return self.account().workspace.credits.available

    def budget(self, credits: int, *, name: str | None = None) -> api.Budget:
        """Bound what this notebook's runs may hold and spend to ``credits`` (a
        budget named by the notebook's path, made or changed); elsewhere, or for
        a budget of another name, give ``name``."""
        notebook = reattach.notebook_path()
        budget_name = name or notebook
        if budget_name is None:
            raise ValidationError(
                "piq.budget(N) bounds the current notebook, and this kernel runs none: "
                "give the budget a name (piq.budget(N, name='...')) and run under it "
                "with budget='...'",
                errors=[{"field": "name", "message": "no notebook to name the budget"}],
            )
        body: JsonBody = {
            "name": budget_name,
            "credits": credits,
            "notebook": name is None,
            "update": True,
        }
        return self.transport.open_budget(body)

    def budgets(self) -> list[api.Budget]:
        return list(self.transport.budgets().data)


def with_limits(body: JsonBody, max_credits: int | None, budget: str | None) -> JsonBody:
    """A request body with what bounds its spending: its cap, its budget, and the
    notebook it comes from (whose budget, if it has one, it counts against)."""
    if max_credits is not None:
        body["max_credits"] = max_credits
    if budget is not None:
        body["budget"] = budget
    notebook = reattach.notebook_path()
    if notebook is not None:
        body["notebook"] = notebook
    return body


class Batch:
    """A batch of jobs: its counts, its children, waiting for all of them."""

    def __init__(
        self, transport: Transport, resource: api.Batch, *, how: str | None = None
    ) -> None:
        self._transport = transport
        self.resource = resource
        #: How this handle came to be: submitted, or attached to an earlier batch.
        self.how = how

    @property
    def id(self) -> str:
        return self.resource.id

    @property
    def status(self) -> str:
        return self.resource.status

    def refresh(self) -> Batch:
        self.resource = self._transport.batch(self.id)
        return self

    def jobs(self) -> list[Job]:
        return [Job(self._transport, self._transport.job(i)) for i in self.resource.job_ids]

    def wait(self, timeout: float | None = None) -> Batch:
        for job in self.jobs():
            job.wait(timeout, show=False)
        return self.refresh()

    def retry_failed(self) -> list[Job]:
        """Run again, in this batch, the children that failed, timed out or were
        cancelled (each once); gives the new children."""
        mark = self._transport.events.mark()
        retried = self._transport.batch_action(self.id, "retry-failed")
        self.resource = retried
        ids = retried.retried_job_ids if isinstance(retried, api.BatchRetry) else []
        return [Job(self._transport, self._transport.job(i), how="retry", mark=mark) for i in ids]

    def cancel(self) -> Batch:
        """Cancel every child still waiting or running."""
        self.resource = self._transport.batch_action(self.id, "cancel")
        return self

    def view(self) -> Any:
        """The batch as a live widget: each child's status and progress, its
        credits, and a retry of the failed children."""
        return open_widget("batch", self)

    def _repr_html_(self) -> str:
        return batch_html(self.resource)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The live batch view in a notebook; the HTML summary where it cannot show."""
        return mimebundle("batch", self, self._repr_html_(), repr(self))

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.resource.counts.items() if n)
        return f"<Batch {self.id} {self.resource.tool} {self.status}: {counts}>"


_default: Client | None = None
_lock = threading.Lock()


def default_client() -> Client:
    global _default
    with _lock:
        if _default is None:
            _default = Client.connect()
        return _default


def set_default(client: Client | None) -> None:
    global _default
    with _lock:
        old, _default = _default, client
    if old is not None and old is not client:
        old.close()
