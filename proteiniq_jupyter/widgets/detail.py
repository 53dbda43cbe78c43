"""JobDetail: one job in full, live while it runs.

Its inputs, settings, results table, files (each with a preview and a download),
credits, execution time, submitter and the event timeline; the structure view
below when the job has a structure. The timeline is the job's history, read once,
then the events of the kernel's one subscription.
"""

from __future__ import annotations

import base64
import threading
from typing import Any

import ipywidgets
import traitlets

from .. import api
from ..client.events import apply_event
from ..client.transport import Transport
from .base import PiqWidget, action, dump
from .structure import StructureView
from .structures import result_scene

#: Characters of each input kept in the widget's state (a receptor's text is long).
MAX_SHOWN_INPUT = 4000
#: Characters of a file shown in its preview.
PREVIEW_CHARS = 20000
#: Events the timeline keeps (the latest).
MAX_EVENTS = 500


def shown_job(job: api.Job) -> tuple[dict[str, Any], list[int]]:
    """The job's JSON with each input's content cut to ``MAX_SHOWN_INPUT``
    characters, and each input's full length."""
    state = dump(job)
    lengths: list[int] = []
    for item in (state.get("input") or {}).get("inputs", []):
        lengths.append(len(item["content"]))
        item["content"] = item["content"][:MAX_SHOWN_INPUT]
    return state, lengths


class JobDetail(PiqWidget):
    bundle = "job_detail"

    #: The job (``api.Job`` JSON; inputs cut to ``MAX_SHOWN_INPUT`` characters).
    job = traitlets.Dict().tag(sync=True)
    #: The full length of each input, in characters.
    input_lengths = traitlets.List(traitlets.Int()).tag(sync=True)
    #: The timeline: ``api.JobEvent`` JSON, oldest first.
    events = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: The structure view, once the job has a structure.
    structure = traitlets.Instance(StructureView, allow_none=True).tag(
        sync=True, **ipywidgets.widget_serialization
    )
    #: The JupyterLab page of the job, when there is a server.
    link = traitlets.Unicode(None, allow_none=True).tag(sync=True)

    def __init__(self, transport: Transport, job: api.Job, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._transport = transport
        self._lock = threading.Lock()
        self.link = transport.lab_url(job.id)
        if not job.status.is_terminal and transport.events.carries(job):
            # Following first, then reading: an event is in what is read or arrives.
            self.follow(transport.events, job.id)
        self._show(transport.job(job.id))
        self._merge(transport.history(job.id))

    @property
    def job_id(self) -> str:
        return str(self.job["id"])

    def _show(self, job: api.Job) -> None:
        self._resource = job
        state, lengths = shown_job(job)
        with self.hold_sync():
            self.job, self.input_lengths = state, lengths
            if self.structure is None and job.status.is_terminal and result_scene(job):
                self.structure = StructureView(self._transport, job)

    def _merge(self, events: list[api.JobEvent]) -> None:
        with self._lock:
            known = {e["id"]: e for e in self.events}
            for event in events:
                known[event.id] = dump(event)
            self.events = [known[k] for k in sorted(known)][-MAX_EVENTS:]

    # -- live -----------------------------------------------------------------

    def on_event(self, event: api.JobEvent) -> None:
        self._merge([event])
        if event.status.is_terminal:
            self._show(self._transport.job(self.job_id))
            return
        self._resource = apply_event(self._resource, event)
        self.job = {**self.job, **shown_job(self._resource)[0]}

    def on_resync(self) -> None:
        self._show(self._transport.job(self.job_id))
        self._merge(self._transport.history(self.job_id))

    # -- actions --------------------------------------------------------------

    @action("file")
    def read_file(self, name: str, preview: bool = True) -> dict[str, Any]:
        """A result file: its first ``PREVIEW_CHARS`` characters, or all of it to
        download (as text, or base64 when it is not text)."""
        files = {f["name"]: f for f in (self.job.get("result") or {}).get("files", [])}
        if name not in files:
            known = ", ".join(files) or "none"
            raise LookupError(f"job {self.job_id} has no file {name!r}; its files are {known}")
        data = self._transport.file(self.job_id, name)
        answer: dict[str, Any] = {"name": name, "content_type": files[name]["content_type"]}
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            if preview:
                return {**answer, "text": None, "truncated": False, "binary": True}
            return {**answer, "base64": base64.b64encode(data).decode("ascii")}
        if preview:
            return {**answer, "text": text[:PREVIEW_CHARS], "truncated": len(text) > PREVIEW_CHARS}
        return {**answer, "text": text}

    @action("cancel")
    def cancel(self) -> dict[str, Any]:
        job = self._transport.action(self.job_id, "cancel")
        self._show(job)
        return {"status": str(job.status)}

    @action("refresh")
    def refresh(self) -> dict[str, Any]:
        self.on_resync()
        return {}
