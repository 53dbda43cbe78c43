"""Jobs that a Dask worker refused, held by the engine until they are sent again:
after a pause that doubles with each refusal of the same job."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ..jobs.model import Job

#: A job a worker refused is sent again after this long, doubled with each refusal.
REFUSAL_BACKOFF_S = (1.0, 60.0)


@dataclass
class _Refused:
    job: Job
    refusals: int
    again_at: float


class RefusedJobs:
    """The refused jobs held, each with when it is sent again."""

    def __init__(self) -> None:
        self._held: dict[str, _Refused] = {}
        self._lock = threading.Lock()

    def hold(self, job: Job, now: float) -> float:
        """Hold ``job``, refused once more at ``now`` (``time.monotonic``); returns
        the pause before it is sent again."""
        with self._lock:
            earlier = self._held.get(job.id)
            refusals = 1 if earlier is None else earlier.refusals + 1
            first, most = REFUSAL_BACKOFF_S
            pause: float = min(first * 2 ** (refusals - 1), most)
            self._held[job.id] = _Refused(job, refusals, now + pause)
        return pause

    def take_due(self, now: float) -> list[Job]:
        """The jobs whose pause is over, no longer held."""
        with self._lock:
            due = [r for r in self._held.values() if r.again_at <= now]
            for refused in due:
                del self._held[refused.job.id]
        return [refused.job for refused in due]

    def drop(self, job_id: str) -> None:
        with self._lock:
            self._held.pop(job_id, None)

    def job_ids(self) -> list[str]:
        with self._lock:
            return list(self._held)
