"""What a workspace holds besides jobs: its account, quotes, batches and files."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import Field, WithJsonSchema

from ..jobs import model as domain
from ..jobs.accounts import Account as DomainAccount
from ..jobs.model import FileOrigin, Role
from ..jobs.status import JobStatus
from .base import JsonObject, ListResource, Resource, Timestamp
from .budgets import Budget


class WorkspaceCredits(Resource):
    available: int


class AccountWorkspace(Resource):
    id: str
    name: str
    plan: str
    credits: WorkspaceCredits


class ConcurrentJobs(Resource):
    max: int | None
    remaining: int | None


class AccountLimits(Resource):
    active_jobs: int
    concurrent_jobs: ConcurrentJobs


class Account(Resource):
    object: Literal["account"]
    workspace: AccountWorkspace
    role: Role
    limits: AccountLimits
    budgets: list[Budget] = Field(description="the workspace's open budgets and their use")
    notebook_budget_credits: int | None = Field(
        description="the budget each notebook gets unless it sets its own; null: none"
    )

    @classmethod
    def of(cls, account: DomainAccount) -> Account:
        most = account.max_concurrent_jobs
        workspace = account.workspace
        return cls.model_construct(
            object="account",
            workspace=AccountWorkspace.model_construct(
                id=workspace.id,
                name=workspace.name,
                plan=workspace.plan,
                credits=WorkspaceCredits.model_construct(available=account.available_credits),
            ),
            role=account.role,
            limits=AccountLimits.model_construct(
                active_jobs=account.active_jobs,
                concurrent_jobs=ConcurrentJobs.model_construct(
                    max=most,
                    remaining=None if most is None else max(0, most - account.active_jobs),
                ),
            ),
            budgets=[Budget.of(use) for use in account.budgets],
            notebook_budget_credits=account.notebook_budget_credits,
        )


class QuoteLine(Resource):
    label: str
    quantity: float
    unit_credits: int
    credits: int


#: A problem that stops a quoted run, as the domain words it: a code, a message
#: and where it is (field, line, column ...).
BlockingError = Annotated[
    JsonObject,
    WithJsonSchema(
        {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "required": ["code", "message"],
        }
    ),
]


class QuoteLimits(Resource):
    active_concurrent_jobs: int
    max_concurrent_jobs: int | None


class Billing(Resource):
    mode: Literal["fixed", "usage"] = Field(
        description="usage: charged by what the run uses, the estimate being the least"
    )
    max_credits: int | None = Field(description="the cap the request carries")


class QuoteBudget(Resource):
    id: str
    name: str
    credits: int
    used: int
    remaining: int


class JobQuote(Resource):
    object: Literal["job_quote"]
    tool: str
    estimated_credits: int
    available_credits: int
    billable_credits: int
    breakdown: list[QuoteLine]
    blocking_errors: list[BlockingError]
    limits: QuoteLimits
    billing: Billing
    max_credits: int | None = Field(description="the cap the request carries, beside the cost")
    budget: QuoteBudget | None = Field(description="the budget the run would count against")

    @classmethod
    def of(cls, quote: domain.Quote) -> JobQuote:
        use = quote.budget
        return cls.model_construct(
            object="job_quote",
            tool=quote.tool,
            estimated_credits=quote.estimated_credits,
            available_credits=quote.available_credits,
            billable_credits=quote.billable_credits,
            breakdown=[
                QuoteLine.model_construct(
                    label=line.label,
                    quantity=line.quantity,
                    unit_credits=line.unit_credits,
                    credits=line.credits,
                )
                for line in quote.estimate.lines
            ],
            blocking_errors=list(quote.blocking_errors),
            limits=QuoteLimits.model_construct(
                active_concurrent_jobs=quote.active_concurrent_jobs,
                max_concurrent_jobs=quote.max_concurrent_jobs,
            ),
            billing=Billing.model_construct(
                mode="usage" if quote.billed_by_use else "fixed", max_credits=quote.max_credits
            ),
            max_credits=quote.max_credits,
            budget=None
            if use is None
            else QuoteBudget.model_construct(
                id=use.budget.id,
                name=use.budget.name,
                credits=use.budget.credits,
                used=use.used,
                remaining=use.remaining,
            ),
        )


Count = Annotated[int, Field(ge=0)]


class Batch(Resource):
    object: Literal["batch"]
    id: str
    name: str
    tool: str
    status: Literal["PROCESSING", "COMPLETED", "CANCELLED", "FAILED", "PARTIAL"]
    created_at: Timestamp
    progress: Annotated[float, Field(ge=0, le=1)]
    counts: dict[JobStatus, Count] = Field(description="children by status")
    total: Count
    reserved_credits: int
    credits_charged: int
    job_ids: list[str]

    @classmethod
    def of(cls, summary: domain.BatchSummary) -> Batch:
        return cls.model_construct(**_batch(summary))


def _batch(summary: domain.BatchSummary) -> JsonObject:
    batch = summary.batch
    return {
        "object": "batch",
        "id": batch.id,
        "name": batch.name,
        "tool": batch.tool,
        "status": summary.status,
        "created_at": batch.created_at,
        "progress": summary.progress,
        "counts": {JobStatus(status): n for status, n in summary.counts.items()},
        "total": summary.total,
        "reserved_credits": batch.reserved_credits,
        "credits_charged": summary.credits_charged,
        "job_ids": list(batch.child_ids),
    }


class BatchRetry(Batch):
    """A batch with the children a retry started."""

    retried_job_ids: list[str]

    @classmethod
    def after(cls, summary: domain.BatchSummary, retried: Iterable[domain.Job]) -> BatchRetry:
        return cls.model_construct(**_batch(summary), retried_job_ids=[j.id for j in retried])


class BatchList(ListResource):
    data: list[Batch]

    @classmethod
    def of(cls, summaries: Iterable[domain.BatchSummary], next_cursor: str | None) -> BatchList:
        return cls.page((Batch.of(s) for s in summaries), next_cursor)


class FileRecord(Resource):
    id: str
    object: Literal["file"]
    name: str
    format: str
    content_type: str
    size: Count
    origin: FileOrigin
    job_id: str | None
    owner_id: str
    created_at: Timestamp

    @classmethod
    def of(cls, record: domain.FileRecord) -> FileRecord:
        return cls.model_construct(
            id=record.id,
            object="file",
            name=record.name,
            format=record.format,
            content_type=record.content_type,
            size=record.size,
            origin=record.origin,
            job_id=record.job_id,
            owner_id=record.owner_id,
            created_at=record.created_at,
        )


class FileList(ListResource):
    data: list[FileRecord]

    @classmethod
    def of(cls, records: Iterable[domain.FileRecord], next_cursor: str | None) -> FileList:
        return cls.page((FileRecord.of(r) for r in records), next_cursor)


class FilePreview(Resource):
    object: Literal["file_preview"]
    file: FileRecord
    text: str = Field(description="the first 64 KiB, as UTF-8")
    truncated: bool

    @classmethod
    def of(cls, record: domain.FileRecord, head: bytes, limit: int) -> FilePreview:
        """``head``: the file's first bytes, up to one more than ``limit``."""
        return cls.model_construct(
            object="file_preview",
            file=FileRecord.of(record),
            text=head[:limit].decode("utf-8", errors="replace"),
            truncated=len(head) > limit,
        )


class DeletedFile(Resource):
    id: str
    object: Literal["file"]
    deleted: Literal[True]

    @classmethod
    def of(cls, file_id: str) -> DeletedFile:
        return cls.model_construct(id=file_id, object="file", deleted=True)
