"""Job statuses and the one table of legal moves between them.

Spelled as the ProteinIQ API spells them so one client can read either server.
"""

from __future__ import annotations

from enum import StrEnum

from .errors import Conflict


class JobStatus(StrEnum):
    """Where a job is in its life; terminal: COMPLETED, FAILED, TIMEOUT, CANCELLED,
    BUDGET_EXCEEDED."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"
    RETRY = "RETRY"
    BUDGET_EXCEEDED = "BUDGET_EXCEEDED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def is_live(self) -> bool:
        return self not in TERMINAL


TERMINAL: frozenset[JobStatus] = frozenset(
    {
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.TIMEOUT,
        JobStatus.BUDGET_EXCEEDED,
    }
)

#: Statuses a new job may start in.
INITIAL: frozenset[JobStatus] = frozenset({JobStatus.PENDING, JobStatus.QUEUED})

#: Statuses a person may cancel from.
CANCELLABLE: frozenset[JobStatus] = frozenset(
    {JobStatus.PENDING, JobStatus.QUEUED, JobStatus.RETRY, JobStatus.PROCESSING}
)

#: Statuses from which "retry" makes a new job with the same inputs.
RETRYABLE: frozenset[JobStatus] = frozenset(
    {JobStatus.FAILED, JobStatus.TIMEOUT, JobStatus.CANCELLED}
)

TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.PENDING, JobStatus.CANCELLED}),
    JobStatus.PENDING: frozenset({JobStatus.PROCESSING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.PROCESSING: frozenset(
        {
            JobStatus.COMPLETED,
            JobStatus.FAILED,
            JobStatus.TIMEOUT,
            JobStatus.CANCELLED,
            JobStatus.RETRY,
            JobStatus.BUDGET_EXCEEDED,
        }
    ),
    JobStatus.RETRY: frozenset({JobStatus.PROCESSING, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
    JobStatus.TIMEOUT: frozenset(),
    JobStatus.BUDGET_EXCEEDED: frozenset(),
}
"""PENDING -> FAILED covers a job whose tool turns out to be unavailable before it
starts (a missing program or model): it never ran, so nothing was charged."""


class IllegalTransition(Conflict):
    """A status change the machine does not allow (answered as 409 conflict)."""

    def __init__(self, job_id: str, current: JobStatus, target: JobStatus) -> None:
        super().__init__(
            f"job {job_id} is {current} and cannot become {target}",
            details={"current_status": str(current), "requested_status": str(target)},
        )
        self.current = current
        self.target = target


def check_transition(job_id: str, current: JobStatus, target: JobStatus) -> None:
    """Raise IllegalTransition unless ``current -> target`` is in the table."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(job_id, current, target)
