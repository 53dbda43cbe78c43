"""The jobs an engine has handed to Dask and whose tasks it still follows: each
one's task, its tool, whether it needs a GPU, and the waiting reason last written
for it (so that a reason is written once, not on every look)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from distributed import Future


@dataclass
class _Task:
    future: Future[str]
    tool: str
    gpu: bool
    explained: str | None = None


class DispatchedJobs:
    """The dispatched jobs by id, safe to use from the monitor and from callers."""

    def __init__(self) -> None:
        self._tasks: dict[str, _Task] = {}
        self._lock = threading.Lock()

    def add(self, job_id: str, future: Future[str], tool: str, gpu: bool) -> None:
        """Follow the job's new task (in place of any earlier one)."""
        with self._lock:
            self._tasks[job_id] = _Task(future, tool, gpu)

    def drop(self, job_id: str) -> Future[str] | None:
        """Stop following the job; returns its task, if it had one."""
        with self._lock:
            task = self._tasks.pop(job_id, None)
        return None if task is None else task.future

    def ended(self, job_id: str, future: Future[str]) -> None:
        """The task ``future`` ended: stop following the job, unless it has been
        dispatched again since."""
        with self._lock:
            task = self._tasks.get(job_id)
            if task is not None and task.future is future:
                del self._tasks[job_id]

    def futures(self) -> dict[str, Future[str]]:
        with self._lock:
            return {job_id: task.future for job_id, task in self._tasks.items()}

    def busy_cpu(self) -> int:
        """How many tasks that need no GPU have not ended."""
        with self._lock:
            return sum(1 for t in self._tasks.values() if not t.future.done() and not t.gpu)

    def outstanding(self) -> bool:
        """Whether any task has not ended."""
        with self._lock:
            return any(not task.future.done() for task in self._tasks.values())

    def waiting(self, job_id: str) -> tuple[str, bool, str | None] | None:
        """The job's tool, whether it needs a GPU, and the reason last written for
        it; None when the job is not followed."""
        with self._lock:
            task = self._tasks.get(job_id)
            return None if task is None else (task.tool, task.gpu, task.explained)

    def explained(self, job_id: str, reason: str) -> None:
        """``reason`` was written for the job (kept while the job is followed)."""
        with self._lock:
            task = self._tasks.get(job_id)
            if task is not None:
                task.explained = reason
