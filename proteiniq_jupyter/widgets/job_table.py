"""JobTable: the workspace's jobs a page at a time, filtered by tool, status and
name, with a menu of actions on each row, kept live by the kernel's event feed.

Pages come from the server's keyset cursor through the client, one request per
turn whatever the history's length; the table keeps the cursors of the pages
before, so it can turn back, and never loads the whole history (``to_dataframe``
reads every page on purpose).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import traitlets

from .. import api
from ..client.events import apply_event
from ..client.handle import Job
from ..client.tables import JobTable as Rows
from ..client.transport import Transport
from ..jobs.paging import MAX_PAGE
from ..jobs.sorting import DEFAULT_SORT, JobSort, sort_order
from ..jobs.status import JobStatus
from .base import PiqWidget, action, dump

log = logging.getLogger(__name__)

#: Rows a page shows unless asked otherwise.
PAGE_SIZE = 20
#: Events this close together are followed by one read of the page shown (new jobs
#: on the first page; the times, charge and result of jobs that ended).
RELOAD_DELAY_S = 0.3
EXPORT_TYPES = {"csv": "text/csv", "json": "application/json"}


class JobTable(PiqWidget):
    bundle = "job_table"

    #: The page shown: the API's jobs in the table's order.
    rows = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: Which page (0 is the newest) and whether there are more after it.
    page = traitlets.Int(0).tag(sync=True)
    page_size = traitlets.Int(PAGE_SIZE).tag(sync=True)
    has_more = traitlets.Bool(False).tag(sync=True)
    #: The filters: tool id, statuses, part of the name ("" or [] for any).
    tool = traitlets.Unicode("").tag(sync=True)
    status = traitlets.List(traitlets.Unicode()).tag(sync=True)
    search = traitlets.Unicode("").tag(sync=True)
    #: The tools there are, for the tool filter.
    tools = traitlets.List(traitlets.Unicode()).tag(sync=True)
    #: The order of the whole history, which pages follow: {"column", "descending"}.
    sort = traitlets.Dict(
        {"column": DEFAULT_SORT.column.value, "descending": DEFAULT_SORT.descending}
    ).tag(sync=True)

    def __init__(
        self,
        transport: Transport,
        *,
        tool: str | None = None,
        status: str | list[str] | None = None,
        search: str | None = None,
        page_size: int = PAGE_SIZE,
        mine: bool = False,
        sort: JobSort = DEFAULT_SORT,
    ) -> None:
        self._transport = transport
        self._mine = mine
        self._lock = threading.RLock()
        #: The cursor each page starts after (None: the first page).
        self._cursors: list[str | None] = [None]
        self._next: str | None = None
        self._reload: threading.Timer | None = None
        # The first page is read before the comm opens, so the page's first state has it.
        self.tools = sorted(t.id for t in transport.tools().data)
        statuses = [status] if isinstance(status, str) else list(status or [])
        self._set_query(tool or "", statuses, search or "", page_size)
        self._set_sort(sort)
        events = transport.events
        events.start()
        before = events.progress()
        self._load(0)
        super().__init__()
        self.follow(events, None)
        if events.progress() != before:  # events came between the read and the follow
            self._load(0)

    @classmethod
    def of(cls, rows: Rows) -> JobTable:
        """The widget of what ``piq.jobs(...)`` asked for."""
        params = rows._params
        status = params.get("status", "")
        return cls(
            rows._transport,
            tool=params.get("tool"),
            status=[s for s in status.split(",") if s],
            search=params.get("q"),
            page_size=int(params.get("limit", PAGE_SIZE)),
            mine=params.get("mine") == "1",
            sort=JobSort.parse(params.get("sort"), params.get("order")),
        )

    # -- reading ----------------------------------------------------------------

    def _set_query(self, tool: str, status: list[str], search: str, page_size: int) -> None:
        if tool and tool not in self.tools:
            raise ValueError(f"unknown tool {tool!r}; the tools are {', '.join(self.tools)}")
        known = {s.value for s in JobStatus}
        unknown = [s for s in status if s.upper() not in known]
        if unknown:
            raise ValueError(f"unknown status {unknown[0]!r}; use {', '.join(sorted(known))}")
        if not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"a page holds 1 to {MAX_PAGE} jobs, not {page_size}")
        self.tool, self.status = tool, [s.upper() for s in status]
        self.search, self.page_size = search.strip(), page_size

    def params(self) -> dict[str, str]:
        """The request of a page, as the client's ``jobs`` sends it."""
        params = {"limit": str(self.page_size)}
        if self.tool:
            params["tool"] = self.tool
        if self.status:
            params["status"] = ",".join(self.status)
        if self.search:
            params["q"] = self.search
        if self._mine:
            params["mine"] = "1"
        order = self._order()
        if order != DEFAULT_SORT:
            params["sort"], params["order"] = order.column.value, order.order
        return params

    def _order(self) -> JobSort:
        return JobSort.parse(str(self.sort["column"]), sort_order(bool(self.sort["descending"])))

    def _set_sort(self, order: JobSort) -> None:
        self.sort = {"column": order.column.value, "descending": order.descending}

    def _load(self, page: int) -> None:
        """Read page ``page`` (its cursor is known: it is at most one past the last)."""
        with self._lock:
            params = self.params()
            cursor = self._cursors[page]
            if cursor:
                params["starting_after"] = cursor
            answer = self._transport.jobs(params)
            del self._cursors[page + 1 :]
            if answer.has_more and answer.next_cursor:
                self._cursors.append(answer.next_cursor)
            self.rows = [dump(job) for job in answer.data]
            self.page, self.has_more = page, bool(answer.has_more and answer.next_cursor)

    def _state(self) -> dict[str, Any]:
        return {"page": self.page, "has_more": self.has_more, "count": len(self.rows)}

    def job(self, job_id: str) -> Job:
        """A handle on a job of the table."""
        mark = self._transport.events.mark()
        return Job(self._transport, self._transport.job(job_id), mark=mark)

    def to_dataframe(self) -> Any:
        """Every job the filters select (all pages) as a pandas DataFrame."""
        params = self.params()
        params["limit"] = str(MAX_PAGE)
        return Rows(self._transport, params, None).to_dataframe()

    # -- paging and filters -------------------------------------------------------

    @action("query")
    def query(
        self,
        tool: str | None = None,
        status: list[str] | str | None = None,
        search: str | None = None,
        page_size: int | None = None,
    ) -> dict[str, Any]:
        """New filters: the table starts again at its first page."""
        with self._lock:
            statuses = [status] if isinstance(status, str) else status
            self._set_query(
                self.tool if tool is None else tool,
                self.status if statuses is None else [s for s in statuses if s],
                self.search if search is None else search,
                self.page_size if page_size is None else int(page_size),
            )
            self._cursors = [None]
            self._load(0)
            return self._state()

    @action("page")
    def turn(self, to: str) -> dict[str, Any]:
        """``next``, ``previous``, ``first`` or ``reload``."""
        with self._lock:
            target = {
                "next": self.page + 1,
                "previous": self.page - 1,
                "first": 0,
                "reload": self.page,
            }.get(to)
            if target is None:
                raise ValueError(f"turn to next, previous, first or reload, not {to!r}")
            if target < 0:
                raise ValueError("this is the first page")
            if target >= len(self._cursors):
                raise ValueError("this is the last page")
            self._load(target)
            return self._state()

    @action("sort")
    def set_sort(self, column: str, descending: bool | None = None) -> dict[str, Any]:
        """Order the whole history by ``column``: the table starts again at its
        first page, in that order."""
        order = None if descending is None else sort_order(bool(descending))
        with self._lock:
            self._set_sort(JobSort.parse(column, order))
            self._cursors = [None]
            self._load(0)
            return self._state()

    # -- the row menu -------------------------------------------------------------

    def _replace(self, resource: api.Job) -> None:
        """Show a job read alone as its row of a page: without its inputs' contents
        and its provenance, as the list gives it, so a page stays light."""
        update: dict[str, Any] = {"provenance": api.MISSING}
        if isinstance(resource.input, api.JobInput):
            update["input"] = api.JobInput(inputs=[])
        row = dump(resource.model_copy(update=update))
        with self._lock:
            self.rows = [row if r["id"] == resource.id else r for r in self.rows]

    @action("rename")
    def rename(self, job: str, name: str) -> dict[str, Any]:
        if not name.strip():
            raise ValueError("a job's name cannot be empty")
        renamed = self._transport.rename(job, name.strip())
        self._replace(renamed)
        return {"job": dump(renamed)}

    @action("delete")
    def delete(self, job: str) -> dict[str, Any]:
        self._transport.delete(job)
        with self._lock:
            self._load(self.page)
        return self._state()

    @action("retry")
    def retry(self, job: str) -> dict[str, Any]:
        created = self._transport.action(job, "retry")
        self._reload_soon()
        return {"job": dump(created)}

    @action("duplicate")
    def duplicate(self, job: str) -> dict[str, Any]:
        created = self._transport.action(job, "duplicate")
        self._reload_soon()
        return {"job": dump(created)}

    @action("export")
    def export(self, job: str, format: str = "csv") -> dict[str, Any]:
        fmt = format.lower()
        if fmt not in EXPORT_TYPES:
            raise ValueError(f"export as csv or json, not {format!r}")
        text = self._transport.export(job, fmt)
        return {"filename": f"{job}.{fmt}", "mime": EXPORT_TYPES[fmt], "text": text}

    @action("share")
    def share(
        self,
        job: str,
        visibility: str | None = None,
        invite: list[str] | None = None,
        uninvite: list[str] | None = None,
    ) -> dict[str, Any]:
        """The job's sharing (the share dialog opened from the row menu), changed
        first when a visibility or invitations are given."""
        handle = Job(self._transport, self._transport.job(job))
        shared = handle.share(visibility, invite=invite, uninvite=uninvite)
        if visibility is not None or invite or uninvite:
            self._replace(handle.resource)
        return {"share": dump(shared), "link": shared.public_url or handle.link()}

    @action("link")
    def link(self, job: str) -> dict[str, Any]:
        """The job's page: JupyterLab's with a server, else its public page if any."""
        url = self._transport.lab_url(job)
        if url is None:
            url = self._transport.share(job, None).public_url
        return {"link": url}

    # -- live ----------------------------------------------------------------------

    def on_event(self, event: api.JobEvent) -> None:
        """What an event says shows in its row at once; jobs that end (their times,
        charge and result are not in the event) and new jobs on the first page are
        read with the page, once for a burst of events."""
        with self._lock:
            shown = next((r for r in self.rows if r["id"] == event.job_id), None)
        if shown is None:
            if event.kind == "created" and self.page == 0:
                self._reload_soon()
            return
        self._replace(apply_event(api.Job.model_validate(shown), event))
        if event.kind == "status" and event.status.is_terminal:
            self._reload_soon()

    def on_resync(self) -> None:
        self.turn("reload")

    def _reload_soon(self) -> None:
        """Read the page shown again in ``RELOAD_DELAY_S``, unless a read is already due."""
        with self._lock:
            if self._reload is not None:
                return

            def reload() -> None:
                with self._lock:
                    self._reload = None
                    if self._closed:
                        return
                    try:
                        self._load(self.page)
                    except Exception as exc:  # what the events showed stays shown
                        log.info("a job table could not read its page again: %s", exc)

            self._reload = threading.Timer(RELOAD_DELAY_S, reload)
            self._reload.daemon = True
            self._reload.start()
