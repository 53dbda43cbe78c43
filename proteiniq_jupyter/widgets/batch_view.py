"""BatchView: a batch in a notebook. Its progress and counts, the credits it
reserved and spent, each child's status and progress (live from the kernel's one
event feed), a retry of the children that failed and a cancel of the rest. What
``piq.batch(id)`` and ``piq.run_batch(...)`` display.
"""

from __future__ import annotations

import threading
from typing import Any

import traitlets

from .. import api
from ..client.events import apply_event
from ..client.session import MAX_PAGE, Batch
from .base import PiqWidget, action, dump


class BatchView(PiqWidget):
    bundle = "batch_view"

    #: The batch (``api.Batch``).
    batch = traitlets.Dict().tag(sync=True)
    #: Its jobs (``api.Job`` each), in the batch's order.
    jobs = traitlets.List(traitlets.Dict()).tag(sync=True)

    def __init__(self, batch: Batch) -> None:
        self._batch = batch
        #: One change at a time: the feed's events, reads and actions.
        self._lock = threading.RLock()
        # Read before the widget opens, so its first state (and a saved notebook)
        # shows the jobs; read again once subscribed, so no event falls between.
        self._rows: dict[str, api.Job] = {job.id: job for job in _children(batch)}
        batch.refresh()
        super().__init__(batch=dump(batch.resource), jobs=self._ordered())
        self.follow(batch._transport.events, None)
        self.refresh()

    @property
    def id(self) -> str:
        return self._batch.id

    def refresh(self) -> BatchView:
        """Read the batch and all its jobs again (the jobs first, so the batch's
        counts are no older than the rows)."""
        with self._lock:
            self._rows = {job.id: job for job in _children(self._batch)}
            self._batch.refresh()
            self._show()
        return self

    def _ordered(self) -> list[dict[str, Any]]:
        """The rows in the batch's order."""
        order = {job_id: n for n, job_id in enumerate(self._batch.resource.job_ids)}
        rows = sorted(self._rows.values(), key=lambda job: order.get(job.id, len(order)))
        return [dump(job) for job in rows]

    def _show(self) -> None:
        self.batch = dump(self._batch.resource)
        self.jobs = self._ordered()

    # -- actions --------------------------------------------------------------

    def retry_failed(self) -> list[str]:
        """Run again the children that failed, timed out or were cancelled; gives
        the new jobs' ids."""
        jobs = self._batch.retry_failed()
        self.refresh()
        return [job.id for job in jobs]

    def cancel(self) -> BatchView:
        self._batch.cancel()
        return self.refresh()

    @action("retry_failed")
    def _retry_action(self) -> dict[str, Any]:
        return {"retried": self.retry_failed()}

    @action("cancel")
    def _cancel_action(self) -> dict[str, Any]:
        self.cancel()
        return {"batch": self.batch}

    # -- live -----------------------------------------------------------------

    def on_event(self, event: api.JobEvent) -> None:
        """A child moved: its row follows the event's progress; a change of status
        reads the job and the batch's counts and credits again (and any child a
        retry elsewhere added)."""
        with self._lock:
            row = self._rows.get(event.job_id)
            if row is None:
                return
            if event.kind == "progress":
                self._rows[event.job_id] = apply_event(row, event)
            else:
                transport = self._batch._transport
                self._rows[event.job_id] = transport.job(event.job_id)
                self._batch.refresh()
                for job_id in self._batch.resource.job_ids:
                    if job_id not in self._rows:
                        self._rows[job_id] = transport.job(job_id)
            self._show()

    def on_resync(self) -> None:
        self.refresh()


def _children(batch: Batch) -> list[api.Job]:
    """Every job of the batch, read a page at a time."""
    transport = batch._transport
    params = {"batch": batch.id, "limit": str(MAX_PAGE)}
    jobs: list[api.Job] = []
    while True:
        page = transport.jobs(params)
        jobs.extend(page.data)
        if not page.has_more or not page.next_cursor:
            return jobs
        params = {**params, "starting_after": page.next_cursor}
