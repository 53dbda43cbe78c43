"""The job table ``piq.jobs()`` gives: pages are fetched as they are read (the
first one to show it), so a history of any length costs one page up front."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .. import api
from .display import mimebundle
from .handle import Job
from .render import jobs_html
from .transport import Transport

#: Columns of ``to_dataframe``.
COLUMNS = (
    "id",
    "name",
    "tool",
    "status",
    "progress",
    "credits_charged",
    "created_at",
    "completed_at",
    "duration_s",
    "submitter",
)


class JobTable:
    def __init__(self, transport: Transport, params: dict[str, str], limit: int | None) -> None:
        self._transport = transport
        self._params = params
        self._limit = limit
        self._rows: list[api.Job] = []
        self._cursor: str | None = None
        self._exhausted = False

    def _fetch(self) -> bool:
        """One more page; False when there is none."""
        if self._exhausted:
            return False
        params = dict(self._params)
        if self._cursor:
            params["starting_after"] = self._cursor
        page = self._transport.jobs(params)
        self._rows.extend(page.data)
        self._cursor = page.next_cursor
        self._exhausted = not page.has_more
        if self._limit is not None and len(self._rows) >= self._limit:
            del self._rows[self._limit :]
            self._exhausted = True
        return True

    def __iter__(self) -> Iterator[Job]:
        index = 0
        while True:
            while index >= len(self._rows):
                if not self._fetch():
                    return
            yield Job(self._transport, self._rows[index])
            index += 1

    def __getitem__(self, index: int) -> Job:
        if index < 0:
            raise IndexError("count from the start: the table's length is known only when read")
        while index >= len(self._rows) and self._fetch():
            pass
        return Job(self._transport, self._rows[index])

    def first_page(self) -> list[api.Job]:
        if not self._rows:
            self._fetch()
        return list(self._rows)

    def to_dataframe(self) -> Any:
        """Every row (all pages) as a pandas DataFrame."""
        import pandas as pd

        rows = [
            {
                "id": j.id,
                "name": j.resource.name,
                "tool": j.tool,
                "status": str(j.status),
                "progress": j.progress,
                "credits_charged": j.resource.credits.charged,
                "created_at": j.resource.created_at,
                "completed_at": j.resource.completed_at,
                "duration_s": j.resource.duration_s,
                "submitter": j.resource.submitter.username or j.resource.submitter.id,
            }
            for j in self
        ]
        return pd.DataFrame(rows, columns=list(COLUMNS))

    def __repr__(self) -> str:
        rows = self.first_page()
        lines = [f"{j.id}  {j.tool:<16} {j.status!s:<10} {j.name}" for j in rows]
        if not self._exhausted:
            lines.append("...")
        return "\n".join(lines) or "(no jobs)"

    def _repr_html_(self) -> str:
        rows = self.first_page()
        return jobs_html(rows, more=not self._exhausted)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The live job table widget in a notebook; the HTML table where it cannot show."""
        return mimebundle("jobs", self, self._repr_html_(), repr(self))
