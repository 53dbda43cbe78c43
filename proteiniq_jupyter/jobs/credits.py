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

from .errors import CreditCapExceeded, InsufficientCredits, ValidationError
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


def _job_entry(
    tx: StoreTransaction,
    job: Job,
    kind: EntryKind,
    amount: int,
    at: datetime,
    entry_key: str | None = None,
) -> bool:
    """Append the job's entry of ``kind`` unless it is already there."""
    return tx.ledger_append(
        job.workspace_id,
        kind,
        _SIGN[kind] * amount,
        entry_key or key(job.id, kind),
        at=at,
        job_id=job.id,
        batch_id=job.batch_id,
        budget_id=job.budget_id,
    )


# -- caps -----------------------------------------------------------------------


def check_cap(max_credits: object) -> int | None:
    """A submission's ``max_credits``: None, or a whole number of credits, 0 or more."""
    if max_credits is None:
        return None
    if isinstance(max_credits, bool) or not isinstance(max_credits, int) or max_credits < 0:
        message = f"must be a whole number of credits, 0 or more, not {max_credits!r}"
        raise ValidationError(
            f"max_credits {message}", errors=[{"field": "max_credits", "message": message}]
        )
    return max_credits


def cap_problem(tool_id: str, cost: int, max_credits: int | None) -> str | None:
    """Why a run quoted at ``cost`` cannot start under its cap, or None."""
    if max_credits is None or cost <= max_credits:
        return None
    return (
        f"{tool_id} is quoted at {cost} credits, more than its cap of {max_credits} "
        "(max_credits): raise the cap or make the run smaller"
    )


def refuse_over_cap(tool_id: str, cost: int, max_credits: int | None) -> None:
    problem = cap_problem(tool_id, cost, max_credits)
    if problem is not None:
        raise CreditCapExceeded(
            problem, details={"estimated_credits": cost, "max_credits": max_credits}
        )


def hold_for(cost: int, max_credits: int | None, billed_by_use: bool) -> int | None:
    """What a job holds beyond its estimate (None: its estimate): a tool billed by
    what it uses holds its cap, since it may be charged up to it."""
    if billed_by_use and max_credits is not None and max_credits > cost:
        return max_credits
    return None


def reserve(tx: StoreTransaction, job: Job, at: datetime) -> None:
    """Hold a new job's estimate (or its cap, for a tool billed by use), or refuse
    it. Call with the workspace locked."""
    held = job.held_credits
    if held == 0:
        return
    balance = tx.ledger_balance(job.workspace_id)
    if balance < held:
        raise InsufficientCredits(
            f"{job.tool} needs {held} credits and the workspace has {balance} available",
            details={"required_credits": held, "available_credits": balance},
        )
    _job_entry(tx, job, EntryKind.RESERVE, held, at)


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
        budget_id=batch.budget_id,
    )


def release(tx: StoreTransaction, job: Job, at: datetime) -> None:
    """Give back the hold of a job that ends without being charged, or what is
    left of the hold of a job charged less than it held."""
    if job.held_credits == 0:
        return
    if not job.credits_charged:
        _job_entry(tx, job, EntryKind.RELEASE, job.held_credits, at)
        return
    rest = open_hold(job)
    if rest > 0:
        _job_entry(tx, job, EntryKind.RELEASE, rest, at, f"{job.id}:release:rest")


def open_hold(job: Job) -> int:
    """What a started job still holds beyond what it was charged."""
    return max(0, job.held_credits - max(job.credits_charged, job.estimated_credits))


def use_cap(job: Job, budget_room: int | None) -> int | None:
    """The most a job billed by use may be charged in all: its own cap, and no
    more than its budget has room for (``budget_room``: the budget's credits less
    what it has used, this job's hold and charges included)."""
    caps = [c for c in (job.max_credits,) if c is not None]
    if budget_room is not None:
        caps.append(job.credits_charged + open_hold(job) + max(0, budget_room))
    return min(caps) if caps else None


def charge_use(
    tx: StoreTransaction, job: Job, used: int, at: datetime, *, cap: int | None
) -> tuple[Job, bool]:
    """Charge a job billed by use for what it has used so far (``used``, in all),
    beyond what it was charged already; never past ``cap`` (see ``use_cap``).
    Returns the job with its new ``credits_charged``, and whether it has gone past
    its cap (it is then charged the cap, and must stop). Each charge gives back as
    much of its hold; every entry's key names the total it brings the job to, so a
    report read twice charges once."""
    over = cap is not None and used > cap
    target = min(used, cap) if cap is not None else used
    extra = target - job.credits_charged
    if extra <= 0:
        return job, over
    _job_entry(tx, job, EntryKind.CHARGE, extra, at, f"{job.id}:charge:{target}")
    held_left = open_hold(job)
    if held_left > 0:
        released = min(extra, held_left)
        _job_entry(tx, job, EntryKind.RELEASE, released, at, f"{job.id}:release:{target}")
    return replace(job, credits_charged=target), over


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
