"""Jobs as rows: a row read back as a ``Job``, a ``Job`` as the values written,
which of them an update may change, and the condition that a job lies in a claim's
scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping, false, or_, select

from ..jobs.model import Job, Visibility
from ..jobs.ports import ClaimScope
from ..jobs.sorting import finished_duration_s, shown_credits
from ..jobs.status import JobStatus
from . import codec
from . import tables as t


def job_from_row(row: RowMapping) -> Job:
    result = row.get("result")
    return Job(
        id=row["id"],
        workspace_id=row["workspace_id"],
        submitter_id=row["submitter_id"],
        tool=row["tool"],
        name=row["name"],
        status=JobStatus(row["status"]),
        inputs=codec.decode_inputs(row.get("inputs")),
        settings=codec.decode_settings(row["settings"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        visibility=Visibility(row["visibility"]),
        progress=row["progress"],
        progress_message=row["progress_message"],
        progress_estimated=bool(row["progress_estimated"]),
        progress_eta_at=row["progress_eta_at"],
        status_reason=row["status_reason"],
        error=row["error"],
        result=codec.decode_result(result) if result else None,
        estimated_credits=row["estimated_credits"],
        credits_charged=row["credits_charged"],
        attempts=row["attempts"],
        batch_id=row["batch_id"],
        origin_job_id=row["origin_job_id"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"],
        provenance=codec.decode_provenance(row.get("provenance")),
        budget_id=row["budget_id"],
        max_credits=row["max_credits"],
        reserved_credits=row["reserved_credits"],
    )


def job_values(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "workspace_id": job.workspace_id,
        "submitter_id": job.submitter_id,
        "batch_id": job.batch_id,
        "origin_job_id": job.origin_job_id,
        "tool": job.tool,
        "name": job.name,
        "status": str(job.status),
        "visibility": str(job.visibility),
        "inputs": codec.encode_inputs(job.inputs),
        "settings": codec.encode_settings(job.settings),
        "result": codec.encode_result(job.result) if job.result else None,
        "progress": job.progress,
        "progress_message": job.progress_message,
        "progress_estimated": job.progress_estimated,
        "progress_eta_at": job.progress_eta_at,
        "status_reason": job.status_reason,
        "error": job.error,
        "estimated_credits": job.estimated_credits,
        "credits_charged": job.credits_charged,
        "attempts": job.attempts,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "lease_owner": job.lease_owner,
        "lease_expires_at": job.lease_expires_at,
        "provenance": codec.encode_provenance(job.provenance),
        "budget_id": job.budget_id,
        "max_credits": job.max_credits,
        "reserved_credits": job.reserved_credits,
        "credits_shown": shown_credits(job),
        "duration_s": finished_duration_s(job),
    }


# Lists never carry inputs (they can be whole structure files) nor provenance: a
# history page shows neither.
LIST_COLUMNS = [
    c for c in t.jobs.c if c.name not in ("inputs", "idempotency_key", "request_hash", "provenance")
]


def in_scope(scope: ClaimScope | None) -> list[Any]:
    """The condition that a job lies in ``scope``: submitted by one of its users,
    or one of its jobs (none: every job)."""
    if scope is None:
        return []
    c = t.jobs.c
    submitters = select(t.users.c.id).where(t.users.c.username.in_(list(scope.submitters)))
    either: list[Any] = []
    if scope.submitters:
        either.append(c.submitter_id.in_(submitters))
    if scope.job_ids:
        either.append(c.id.in_(sorted(scope.job_ids)))
    return [or_(*either)] if either else [false()]


MUTABLE = frozenset(
    {
        "name",
        "status",
        "visibility",
        "result",
        "progress",
        "progress_message",
        "progress_estimated",
        "progress_eta_at",
        "status_reason",
        "error",
        "credits_charged",
        "attempts",
        "updated_at",
        "started_at",
        "finished_at",
        "lease_owner",
        "lease_expires_at",
        "provenance",
        "credits_shown",
        "duration_s",
    }
)
