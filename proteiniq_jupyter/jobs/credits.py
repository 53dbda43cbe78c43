"""The credit rules, written once: when a job reserves, is charged, is refunded or
releases its hold. Every entry is keyed by job and kind, so running any of these
twice (a crash, a retry, two engines) changes nothing the second time.

Available credits are the sum of the ledger's signed deltas:
grants - charges + refunds - open reservations.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from enum import StrEnum

from .errors import InsufficientCredits
from .model import Batch, Job
from .ports import StoreTransaction
from .status import JobStatus


class EntryKind(StrEnum):
    GRANT = "grant"
    RESERVE = "reserve"
    RELEASE = "release"
    CHARGE = "charge"
    REFUND = "refund"


#: Terminal statuses whose charge is given back: the platform failed the job.
#: A cancelled, timed-out or budget-capped job used the compute it was charged for.
REFUNDED_STATUSES: frozenset[JobStatus] = frozenset({JobStatus.FAILED})


def key(owner_id: str, kind: EntryKind) -> str:
    return f"{owner_id}:{kind}"


def available(tx: StoreTransaction, workspace_id: str) -> int:
    return tx.ledger_balance(workspace_id)


def grant(
    tx: StoreTransaction,
    workspace_id: str,
    amount: int,
    *,
    grant_key: str,
    at: datetime,
    actor_id: str | None = None,
    note: str | None = None,
) -> bool:
    if amount <= 0:
        raise ValueError("a grant must be a positive number of credits")
    return tx.ledger_append(
        workspace_id,
        EntryKind.GRANT,
        amount,
        grant_key,
        at=at,
        actor_id=actor_id,
        note=note,
    )


_SIGN = {
    EntryKind.GRANT: 1,
    EntryKind.RESERVE: -1,
    EntryKind.RELEASE: 1,
    EntryKind.CHARGE: -1,
    EntryKind.REFUND: 1,
}


def _job_entry(tx: StoreTransaction, job: Job, kind: EntryKind, amount: int, at: datetime) -> bool:
    """Append the job's entry of ``kind`` unless it is already there."""
    return tx.ledger_append(
        job.workspace_id,
        kind,
        _SIGN[kind] * amount,
        key(job.id, kind),
        at=at,
        job_id=job.id,
        batch_id=job.batch_id,
    )


def reserve(tx: StoreTransaction, job: Job, at: datetime) -> None:
    """Hold a new job's estimate, or refuse it. Call with the workspace locked."""
    if job.estimated_credits == 0:
        return
    balance = tx.ledger_balance(job.workspace_id)
    if balance < job.estimated_credits:
        raise InsufficientCredits(
            f"{job.tool} needs {job.estimated_credits} credits and the workspace has "
            f"{balance} available",
            details={"required_credits": job.estimated_credits, "available_credits": balance},
        )
    _job_entry(tx, job, EntryKind.RESERVE, job.estimated_credits, at)


def reserve_batch(tx: StoreTransaction, batch: Batch, at: datetime) -> None:
    """Hold a whole batch's total at once (the caller has checked the balance under
    the workspace lock). Each child's charge or release later gives back its share
    of this hold, so when every child has ended the hold is fully released."""
    if batch.reserved_credits == 0:
        return
    tx.ledger_append(
        batch.workspace_id,
        EntryKind.RESERVE,
        -batch.reserved_credits,
        key(batch.id, EntryKind.RESERVE),
        at=at,
        batch_id=batch.id,
    )


def release(tx: StoreTransaction, job: Job, at: datetime) -> None:
    """Give back the hold of a job that ends without being charged."""
    if job.estimated_credits == 0 or job.credits_charged:
        return
    _job_entry(tx, job, EntryKind.RELEASE, job.estimated_credits, at)


def charge(tx: StoreTransaction, job: Job, at: datetime) -> int:
    """Turn the hold into a charge, once; later attempts of the same job find the
    key and charge nothing. Returns the credits charged by this call."""
    if job.estimated_credits == 0:
        return 0
    if not _job_entry(tx, job, EntryKind.CHARGE, job.estimated_credits, at):
        return 0
    _job_entry(tx, job, EntryKind.RELEASE, job.estimated_credits, at)
    return job.estimated_credits


def refund(tx: StoreTransaction, job: Job, at: datetime) -> int:
    """Give back what a job was charged, once. Returns the credits refunded."""
    if job.credits_charged == 0:
        return 0
    if not _job_entry(tx, job, EntryKind.REFUND, job.credits_charged, at):
        return 0
    return job.credits_charged


def settle(tx: StoreTransaction, job: Job, at: datetime) -> Job:
    """Bring the ledger in line with a job that has just reached a terminal status:
    release an unused hold, refund a platform failure. Returns the job with its
    ``credits_charged`` net of any refund."""
    if not job.status.is_terminal:
        return job
    release(tx, job, at)
    if job.status in REFUNDED_STATUSES and refund(tx, job, at):
        return replace(job, credits_charged=0)
    return job
