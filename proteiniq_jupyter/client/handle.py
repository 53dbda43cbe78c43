"""The job handle: what ``piq.run`` and ``piq.job`` give back.

It holds the job as the API last answered it (an ``api.Job``) and reads or changes
it through the client's transport. ``wait`` follows the job's events from the
client's one subscription (a live display in a notebook, a bar on a terminal),
never a polling loop.
"""

from __future__ import annotations

import asyncio
import io
import queue
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

from .. import api
from ..jobs.status import JobStatus
from .diff import JobDiff
from .display import mimebundle, open_widget
from .errors import JobFailed
from .events import apply_event
from .inputs import Output
from .progress import Live
from .render import job_html
from .transport import Transport

#: Result file formats a structure is read from, best first.
STRUCTURE_FORMATS = ("pdb", "mmcif", "cif")


class Job:
    def __init__(
        self,
        transport: Transport,
        resource: api.Job,
        *,
        how: str | None = None,
        mark: int | None = None,
    ) -> None:
        self._transport = transport
        self._resource = resource
        #: The event subscription's mark taken before ``resource`` was read.
        self._mark = mark
        self._result: api.JobResult | None = None
        #: Ended as an event said: the rest of the job is read when first asked for.
        self._stale = False
        #: How this handle came to be: submitted, or attached to an earlier job.
        self.how = how

    # -- what it is -------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._resource.id

    @property
    def resource(self) -> api.Job:
        """The job as the API last answered it (read again once, after ``wait``
        saw it end: the event that ended it does not carry its times or result)."""
        if self._stale:
            self.refresh()
        return self._resource

    @property
    def name(self) -> str:
        return self._resource.name

    @property
    def tool(self) -> str:
        return self._resource.tool

    @property
    def status(self) -> JobStatus:
        return self._resource.status

    @property
    def progress(self) -> float:
        return self._resource.progress

    @property
    def message(self) -> str | None:
        return self._resource.progress_message

    @property
    def error(self) -> str | None:
        error = self.resource.error
        return error if isinstance(error, str) else None

    @property
    def done(self) -> bool:
        return self.status.is_terminal

    def refresh(self) -> Job:
        self._mark = self._transport.events.mark()
        return self._take(self._transport.job(self.id))

    def _take(self, resource: api.Job) -> Job:
        self._resource = resource
        self._stale = False
        return self

    def _apply(self, event: api.JobEvent) -> None:
        self._resource = apply_event(self._resource, event)

    # -- waiting ----------------------------------------------------------------

    def wait(self, timeout: float | None = None, *, show: bool = True) -> Job:
        """Follow the job until it ends (TimeoutError after ``timeout`` seconds)."""
        if self.done:
            return self
        if not self._transport.events.carries(self._resource):
            return self._follow_alone(timeout, show=show)
        deadline = None if timeout is None else time.monotonic() + timeout
        watch, complete = self._transport.events.watch(self.id, self._mark)
        live = None
        fresh = False  # the job as last read, with no event since
        try:
            if not complete:  # events before the watch are in what this reads
                self.refresh()
                fresh = True
            live = Live(self) if show else None
            while not self.done:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"job {self.id} did not finish within {timeout} s")
                try:
                    event = watch.get(remaining)
                except queue.Empty:
                    continue
                if event is None:
                    self.refresh()
                    fresh = True
                else:
                    self._apply(event)
                    fresh = False
                if live is not None:
                    live.update()
        finally:
            watch.close()
            if not fresh:
                if self.done:
                    # Its end is known now; the rest is read when first asked for.
                    self._stale = True
                else:
                    self.refresh()
            if live is not None:
                live.close()
        return self

    def _follow_alone(self, timeout: float | None, *, show: bool) -> Job:
        """``wait`` for a job the client's subscription does not carry."""
        live = Live(self) if show else None

        def on_event(event: api.JobEvent) -> None:
            self._apply(event)
            if live is not None:
                live.update()

        try:
            self._transport.follow(self.id, on_event, timeout=timeout)
        finally:
            self.refresh()
            if live is not None:
                live.close()
        return self

    def __await__(self) -> Generator[Any, None, Job]:
        return asyncio.to_thread(self.wait, None, show=False).__await__()

    # -- results ----------------------------------------------------------------

    def result(self, timeout: float | None = None) -> api.JobResult:
        """The job's result, once it has ended; a job that did not complete raises
        ``JobFailed`` with its message."""
        self.wait(timeout, show=False)
        if self._result is None:
            if self.status is not JobStatus.COMPLETED:
                raise JobFailed(
                    self.id, str(self.status), self.error or self.resource.status_reason
                )
            self._result = self._transport.result(self.id)
        return self._result

    @property
    def results(self) -> Any:
        """The result as a pandas DataFrame: its rows, or its fields as one row."""
        import pandas as pd

        values = self.result().results
        return pd.DataFrame(values.rows) if values.rows else pd.DataFrame([values.fields])

    @property
    def files(self) -> list[api.ResultFileLink]:
        return list(self.result().files)

    def download(self, name: str, to: str | Path = ".") -> Path:
        """Save an output file; ``to`` is a folder or a file path."""
        target = Path(to)
        if target.is_dir():
            target = target / name
        target.write_bytes(self._transport.file(self.id, name))
        return target

    def output(self, name: str) -> Output:
        """An output file (by name, stem or format) or result field, to give to
        another job as its input."""
        result = self.result()
        for file in result.files:
            if name in (file.name, file.format) or file.name.rsplit(".", 1)[0] == name:
                text = self._transport.file(self.id, file.name).decode("utf-8")
                return Output(self.id, name, file.format, text)
        if name in result.results.fields:
            return Output(self.id, name, "text", str(result.results.fields[name]))
        known = [f.name for f in result.files] + list(result.results.fields)
        raise KeyError(f"job {self.id} has no output {name!r}; it has {', '.join(known)}")

    def structure(self) -> Any:
        """The job's output structure as a gemmi Structure."""
        import gemmi

        for fmt in STRUCTURE_FORMATS:
            for file in self.result().files:
                if file.format == fmt:
                    text = self._transport.file(self.id, file.name).decode("utf-8")
                    if fmt == "pdb":
                        return gemmi.read_pdb_string(text)
                    return gemmi.make_structure_from_block(gemmi.cif.read_string(text)[0])
        raise KeyError(f"job {self.id} has no structure among its files")

    def export(self, fmt: str = "json") -> str:
        return self._transport.export(self.id, fmt)

    def to_dataframe(self) -> Any:
        """The job as one row, as its CSV export has it."""
        import pandas as pd

        return pd.read_csv(io.StringIO(self.export("csv")))

    # -- changes ----------------------------------------------------------------

    def rename(self, name: str) -> Job:
        return self._take(self._transport.rename(self.id, name))

    def delete(self) -> None:
        self._transport.delete(self.id)

    def cancel(self) -> Job:
        return self._take(self._transport.action(self.id, "cancel"))

    def retry(self) -> Job:
        mark = self._transport.events.mark()
        resource = self._transport.action(self.id, "retry")
        return Job(self._transport, resource, how="retry", mark=mark)

    def duplicate(self, *, name: str | None = None, **settings: Any) -> Job:
        """A new job with this one's inputs, its settings with ``settings`` over them;
        a setting given as None goes back to the tool's default."""
        body: dict[str, Any] = {"settings": settings} if settings else {}
        if name is not None:
            body["name"] = name
        mark = self._transport.events.mark()
        resource = self._transport.action(self.id, "duplicate", body)
        return Job(self._transport, resource, how="duplicate", mark=mark)

    def share(
        self,
        visibility: str | None = None,
        invite: list[str] | None = None,
        uninvite: list[str] | None = None,
    ) -> api.Share:
        """Change who may see the job (or, with no arguments, say who may);
        ``uninvite`` takes invitations back."""
        if visibility is None and not invite and not uninvite:
            return self._transport.share(self.id, None)
        body: dict[str, Any] = {"visibility": visibility or str(self.resource.visibility)}
        if invite:
            body["invite"] = list(invite)
        if uninvite:
            body["uninvite"] = list(uninvite)
        share = self._transport.share(self.id, body)
        self.refresh()
        return share

    def share_dialog(self) -> Any:
        """Who may see the job, as a widget: visibility, invitations (pending until
        the person has an account), the link to copy."""
        return open_widget("share", self)

    def link(self) -> str | None:
        """The JupyterLab page of the job (None without a server)."""
        return self._transport.lab_url(self.id)

    def diff(self, other: Job | str) -> JobDiff:
        """What differs between this job and ``other`` (a handle or a job id): inputs,
        settings and provenance, both read as they are now."""
        other_id = other if isinstance(other, str) else other.id
        self.refresh()
        return JobDiff(api.JobDiff.of(self._resource, self._transport.job(other_id)))

    # -- display ----------------------------------------------------------------

    def view(self, backend: str = "widget", **options: Any) -> Any:
        """The job's structures in 3D: a ``StructureView`` widget (pLDDT colours,
        models, docked poses), or with ``backend="py3dmol"`` a py3Dmol view
        (``model=``, ``pose=``, ``width=``, ``height=``). Both load 3Dmol.js from
        this installation, never from the internet."""
        return open_widget(
            "structure", self._transport, self.refresh().resource, backend, **options
        )

    def detail(self) -> Any:
        """The job in full as a widget (inputs, settings, results, files, timeline),
        live while it runs."""
        return open_widget("detail", self._transport, self.resource)

    def __repr__(self) -> str:
        line = f"<Job {self.id} {self.tool} {self.status} {self.progress:.0%}"
        return line + (f" {self.how}>" if self.how else ">")

    def _repr_html_(self) -> str:
        return job_html(self.resource, how=self.how, link=self.link())

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The live progress widget in a notebook; the HTML summary where it cannot show."""
        return mimebundle("job", self, self._repr_html_(), repr(self))
