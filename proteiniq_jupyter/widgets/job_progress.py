"""JobProgress: one job's status, progress, elapsed time and latest message, live,
with a cancel button."""

from __future__ import annotations

from typing import Any

import traitlets

from .. import api
from ..client.events import apply_event
from ..client.handle import Job
from .base import PiqWidget, action, dump

#: Events after which the job is read again: what they change is not in them. A
#: status event carries the status, progress and charge (and its time is the start's),
#: a rename the name, a share the visibility, so only the end's (its times and result)
#: is followed by a read.
REREAD_KINDS = frozenset({"created"})


class JobProgress(PiqWidget):
    bundle = "job_progress"

    #: The job as the API answers it.
    job = traitlets.Dict().tag(sync=True)
    #: The job's page in JupyterLab, when there is a server.
    link = traitlets.Unicode(None, allow_none=True).tag(sync=True)

    def __init__(self, handle: Job, **kwargs: Any) -> None:
        self._handle = handle
        self._resource = handle.resource
        super().__init__(job=dump(handle.resource), link=handle.link(), **kwargs)
        events = handle._transport.events
        if not handle.done and events.carries(handle.resource):
            self.follow(events, handle.id)
            self.reread()  # what happened before the feed followed it

    @property
    def resource(self) -> api.Job:
        return self._resource

    def show(self, resource: api.Job) -> None:
        self._resource = resource
        self.job = dump(resource)

    def reread(self) -> None:
        fresh = self._handle._transport.job(self._handle.id)
        if self._resource.status.is_terminal and not fresh.status.is_terminal:
            return  # read before the end that an event has shown since
        self.show(fresh)

    def on_event(self, event: api.JobEvent) -> None:
        """What the event says shows at once; the rest of the job (its times, its
        charge) follows from a read where the event does not carry it."""
        self.show(apply_event(self._resource, event))
        if event.kind in REREAD_KINDS or event.status.is_terminal:
            self.read_later(self.reread)

    def on_resync(self) -> None:
        self.read_later(self.reread)

    @action("cancel")
    def cancel(self) -> dict[str, Any]:
        self.show(self._handle.cancel().resource)
        return {"job": self.job}

    @action("refresh")
    def refresh(self) -> dict[str, Any]:
        self.reread()
        return {"job": self.job}
