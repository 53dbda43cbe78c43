"""The executor of a server that runs no job itself: a single-user server under
JupyterHub, whose jobs the deployment's engine service takes from the shared
store (``hub_service``). Submitting leaves the job waiting there; cancelling is
seen in the store by whoever runs it."""

from __future__ import annotations

import time

from ..jobs.ports import ClaimScope, ToolAvailability
from ..jobs.runs import RunService
from .base import Deadline


class LeftToService:
    def __init__(self, service: RunService, username: str) -> None:
        self.service = service
        self.username = username

    def availability(self, tool_id: str) -> ToolAvailability:
        """What the service's workers can run is theirs to say, when a job reaches
        them: nothing is refused here."""
        return ToolAvailability()

    def start(self) -> None:
        """Nothing to start: no job runs here."""

    def submit(self, job_id: str) -> None:
        """The job waits in the store, where the engine service takes it."""

    def cancel(self, job_id: str) -> None:
        """The job's runner sees the cancel in the store."""

    def wait(self, timeout: float | None = None) -> None:
        """Block until none of this user's jobs is waiting or running, wherever it
        runs, or ``timeout`` seconds pass."""
        deadline = Deadline.after(timeout)
        scope = ClaimScope(submitters=(self.username,))
        while not deadline.passed() and self.service.has_waiting_jobs(scope):
            time.sleep(0.1)

    def shutdown(self) -> None:
        """Nothing is held here."""
