"""A job and what hangs off it: its inputs, status, result, events and sharing."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Generic, Literal, Self, TypeVar, cast
from urllib.parse import quote

from pydantic import Field

from ..jobs import model as domain
from ..jobs.model import Visibility
from ..jobs.reading import JobView
from ..jobs.status import JobStatus
from .base import MISSING, JsonObject, ListResource, Resource, Timestamp
from .provenance import JobProvenance

ResultT = TypeVar("ResultT", bound=Resource)

Fraction = Annotated[float, Field(ge=0, le=1)]


class TextSource(Resource):
    type: Literal["text"]


class FileSource(Resource):
    type: Literal["file"]
    file_id: str


class PdbSource(Resource):
    type: Literal["pdb"]
    id: str


InputSource = Annotated[TextSource | FileSource | PdbSource, Field(discriminator="type")]


def input_source(item: domain.JobInput) -> InputSource:
    """Where an input's content came from: a saved file, a PDB entry, or the text itself."""
    if item.file_id:
        return FileSource.model_construct(type="file", file_id=item.file_id)
    if item.pdb_id is not None:
        return PdbSource.model_construct(type="pdb", id=item.pdb_id)
    return TextSource.model_construct(type="text")


class JobInputItem(Resource):
    """One item of a job's input."""

    id: str
    slotId: str
    kind: str
    format: str
    content: str
    source: InputSource
    label: str | MISSING = MISSING

    @classmethod
    def of(cls, item: domain.JobInput) -> JobInputItem:
        return cls.model_construct(
            id=item.id,
            slotId=item.slot_id,
            kind=item.kind,
            format=item.format,
            content=item.content,
            source=input_source(item),
            label=MISSING if item.label is None else item.label,
        )


class ResultFile(Resource):
    name: str
    format: str
    size: int
    content_type: str

    @classmethod
    def of(cls, file: domain.ResultFile) -> ResultFile:
        return cls.model_construct(
            name=file.name, format=file.format, size=file.size, content_type=file.content_type
        )


class ToolResult(Resource):
    fields: JsonObject = Field(description="the job as one row: the CSV columns")
    rows: list[JsonObject]
    files: list[ResultFile]

    @classmethod
    def of(cls, result: domain.ToolResult) -> ToolResult:
        return cls.model_construct(
            fields=result.fields,
            rows=result.rows,
            files=[ResultFile.of(f) for f in result.files],
        )


class Submitter(Resource):
    id: str
    username: str | None


class JobCredits(Resource):
    estimated: int
    charged: int
    held: int = Field(description="what the job held when accepted (its cap, if billed by use)")
    max_credits: int | None = Field(description="the most the job may cost; null: no cap")
    budget_id: str | None = Field(description="the budget the job counts against")


class JobPermissions(Resource):
    see_contents: bool
    change: bool


class JobInput(Resource):
    inputs: list[JobInputItem]


class JobRow(Resource, Generic[ResultT]):
    """What ``Job`` and ``PublicJob`` share; they differ in the shape of the result."""

    id: str
    object: Literal["job"]
    name: str
    tool: str
    status: JobStatus
    status_reason: str | None
    progress: Fraction
    progress_message: str | None
    progress_estimated: bool = Field(
        description="the progress is the engine's estimate from past runs of the tool, "
        "which reports nothing while this phase runs"
    )
    eta_seconds: Annotated[float, Field(ge=0)] | None = Field(
        description="seconds the running job is expected to take still, when estimated"
    )
    created_at: Timestamp
    updated_at: Timestamp
    started_at: Timestamp | None
    completed_at: Timestamp | None
    duration_s: Annotated[float, Field(ge=0)] | None
    submitter: Submitter
    workspace_id: str
    batch_id: str | None
    origin_job_id: str | None
    visibility: Visibility
    attempts: Annotated[int, Field(ge=0)]
    credits: JobCredits
    permissions: JobPermissions
    error: str | MISSING | None = MISSING
    input: JobInput | MISSING = MISSING
    settings: JsonObject | MISSING = MISSING
    result: ResultT | MISSING | None = MISSING
    provenance: JobProvenance | MISSING = Field(
        MISSING,
        description="what produced the result; on a job read by its id (a list page leaves it out)",
    )

    @classmethod
    def _of(
        cls,
        view: JobView,
        usernames: Mapping[str, str] | None,
        result: Callable[[domain.Job, domain.ToolResult], ResultT],
        *,
        provenance: bool = True,
        public: bool = False,
    ) -> Self:
        job, perms = view.job, view.permissions
        record = job.provenance.for_anyone() if public and job.provenance else job.provenance
        shown = perms.see_contents
        row = cls.model_construct(
            id=job.id,
            object="job",
            name=job.name,
            tool=job.tool,
            status=job.status,
            status_reason=job.status_reason,
            progress=job.progress,
            progress_message=job.progress_message,
            progress_estimated=job.progress_estimated,
            eta_seconds=job.eta_s,
            created_at=job.created_at,
            updated_at=job.updated_at,
            started_at=job.started_at,
            completed_at=job.finished_at,
            duration_s=job.duration_s,
            submitter=Submitter.model_construct(
                id=job.submitter_id, username=(usernames or {}).get(job.submitter_id)
            ),
            workspace_id=job.workspace_id,
            batch_id=job.batch_id,
            origin_job_id=job.origin_job_id,
            visibility=job.visibility,
            attempts=job.attempts,
            credits=JobCredits.model_construct(
                estimated=job.estimated_credits,
                charged=job.credits_charged,
                held=job.held_credits,
                max_credits=job.max_credits,
                budget_id=job.budget_id,
            ),
            permissions=JobPermissions.model_construct(
                see_contents=perms.see_contents, change=perms.change
            ),
            error=job.error if shown else MISSING,
            input=JobInput.model_construct(inputs=[JobInputItem.of(i) for i in job.inputs])
            if shown
            else MISSING,
            settings=job.settings if shown else MISSING,
            result=(result(job, job.result) if job.result else None) if shown else MISSING,
            provenance=JobProvenance.of(record) if shown and provenance else MISSING,
        )
        return cast(Self, row)  # the plugin types model_construct as the declaring class


class Job(JobRow[ToolResult]):
    """A job as its reader may see it: error, input, settings and result are
    present only where permissions.see_contents is true (a job shared without its
    contents shows the row alone)."""

    @classmethod
    def of(
        cls,
        view: JobView,
        usernames: Mapping[str, str] | None = None,
        *,
        provenance: bool = True,
    ) -> Job:
        return cls._of(
            view, usernames, lambda _job, result: ToolResult.of(result), provenance=provenance
        )


class JobStatusResource(Resource):
    id: str
    object: Literal["job_status"]
    status: JobStatus
    progress: Fraction
    progress_message: str | None
    progress_estimated: bool
    eta_seconds: Annotated[float, Field(ge=0)] | None
    status_reason: str | None
    updated_at: Timestamp

    @classmethod
    def of(cls, job: domain.Job) -> JobStatusResource:
        return cls.model_construct(
            id=job.id,
            object="job_status",
            status=job.status,
            progress=job.progress,
            progress_message=job.progress_message,
            progress_estimated=job.progress_estimated,
            eta_seconds=job.eta_s,
            status_reason=job.status_reason,
            updated_at=job.updated_at,
        )


class ResultFileLink(Resource):
    name: str
    key: str
    format: str
    size: int
    content_type: str
    url: str = Field(description="GET it with the same credentials")


class ResultValues(Resource):
    fields: JsonObject
    rows: list[JsonObject]


class JobResult(Resource):
    object: Literal["job_result"]
    job_id: str
    tool: str
    status: JobStatus
    completed_at: Timestamp | None
    files: list[ResultFileLink]
    results: ResultValues

    @classmethod
    def of(cls, job: domain.Job, files_url: str) -> JobResult:
        """``files_url`` is where a file of the job is downloaded, with ``{name}``."""
        result = job.result
        return cls.model_construct(
            object="job_result",
            job_id=job.id,
            tool=job.tool,
            status=job.status,
            completed_at=job.finished_at,
            files=[
                ResultFileLink.model_construct(
                    name=f.name,
                    key=f"{job.id}/{f.name}",
                    format=f.format,
                    size=f.size,
                    content_type=f.content_type,
                    url=files_url.format(name=quote(f.name)),
                )
                for f in (result.files if result else [])
            ],
            results=ResultValues.model_construct(
                fields=dict(result.fields) if result else {},
                rows=list(result.rows) if result else [],
            ),
        )


class PublicJob(JobRow[JobResult]):
    """A public job with its result, as its page shows it to anyone with the link
    (its provenance without the worker's host name or paths on disk)."""

    @classmethod
    def of(cls, view: JobView, files_url: str) -> PublicJob:
        return cls._of(view, None, lambda job, _result: JobResult.of(job, files_url), public=True)


class JobList(ListResource):
    data: list[Job]

    @classmethod
    def of(cls, jobs: domain.Page, usernames: Mapping[str, str] | None = None) -> JobList:
        rows = (Job.of(view, usernames, provenance=False) for view in jobs.items)
        return cls.page(rows, jobs.next_cursor)


class DeletedJob(Resource):
    id: str
    object: Literal["job"]
    deleted: Literal[True]

    @classmethod
    def of(cls, job_id: str) -> DeletedJob:
        return cls.model_construct(id=job_id, object="job", deleted=True)


class JobEvent(Resource):
    id: int = Field(description="the SSE id: resume after it with Last-Event-ID")
    object: Literal["job_event"]
    job_id: str
    kind: str = Field(description="created, status, progress, renamed, shared ...")
    status: JobStatus
    data: JsonObject = Field(description="the job's status data, for status events")
    created_at: Timestamp

    @classmethod
    def of(cls, event: domain.JobEvent) -> JobEvent:
        return cls.model_construct(
            id=event.seq,
            object="job_event",
            job_id=event.job_id,
            kind=event.kind,
            status=event.status,
            data=event.data,
            created_at=event.created_at,
        )


class ShareInvite(Resource):
    email: str
    status: Literal["pending", "active"]


class Share(Resource):
    object: Literal["share"]
    job_id: str
    visibility: Visibility
    invites: list[ShareInvite]
    public_url: str | None = Field(
        description="the page anyone may open; set when visibility is public"
    )

    @classmethod
    def of(cls, share: domain.Share, public_url: str | None) -> Share:
        return cls.model_construct(
            object="share",
            job_id=share.job_id,
            visibility=share.visibility,
            invites=[
                ShareInvite.model_construct(
                    email=i.email, status="pending" if i.pending else "active"
                )
                for i in share.invites
            ],
            public_url=public_url,
        )


class JobExport(Resource):
    """A job's JSON export (written by the domain's export, described here)."""

    object: Literal["job_export"]
    job_id: str
    name: str
    tool: str
    status: JobStatus
    created_at: Timestamp
    completed_at: Timestamp | None
    exported_at: Timestamp
    settings: JsonObject
    inputs: list[JobInputItem]
    credits_used: int
    results: ResultValues
    files: list[ResultFile]
    provenance: JobProvenance
