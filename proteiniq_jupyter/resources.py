"""The JSON shapes of the public API (``object`` fields, list envelopes), shared by
every face that prints a job: the HTTP API, the CLI's --json, the kernel client."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from .jobs.model import Job, JobEvent, JsonDict, Page, Share
from .jobs.reading import JobView


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def job_resource(view: JobView, usernames: Mapping[str, str] | None = None) -> JsonDict:
    """A job as its reader may see it: contents only where they may see them."""
    job, perms = view.job, view.permissions
    data: JsonDict = {
        "id": job.id,
        "object": "job",
        "name": job.name,
        "tool": job.tool,
        "status": str(job.status),
        "status_reason": job.status_reason,
        "progress": job.progress,
        "progress_message": job.progress_message,
        "created_at": iso(job.created_at),
        "updated_at": iso(job.updated_at),
        "started_at": iso(job.started_at),
        "completed_at": iso(job.finished_at),
        "duration_s": job.duration_s,
        "submitter": {
            "id": job.submitter_id,
            "username": (usernames or {}).get(job.submitter_id),
        },
        "workspace_id": job.workspace_id,
        "batch_id": job.batch_id,
        "origin_job_id": job.origin_job_id,
        "visibility": str(job.visibility),
        "attempts": job.attempts,
        "credits": {"estimated": job.estimated_credits, "charged": job.credits_charged},
        "permissions": {"see_contents": perms.see_contents, "change": perms.change},
    }
    if perms.see_contents:
        data["error"] = job.error
        data["input"] = {"inputs": [item.to_api() for item in job.inputs]}
        data["settings"] = job.settings
        data["result"] = job.result.to_api() if job.result else None
    return data


def status_resource(job: Job) -> JsonDict:
    return {
        "id": job.id,
        "object": "job_status",
        "status": str(job.status),
        "progress": job.progress,
        "progress_message": job.progress_message,
        "status_reason": job.status_reason,
        "updated_at": iso(job.updated_at),
    }


def result_resource(job: Job, files_url: str) -> JsonDict:
    """``files_url`` is where a file of the job is downloaded, with ``{name}``."""
    result = job.result
    files = []
    for f in result.files if result else []:
        files.append(
            {
                "name": f.name,
                "key": f"{job.id}/{f.name}",
                "format": f.format,
                "size": f.size,
                "content_type": f.content_type,
                "url": files_url.format(name=quote(f.name)),
            }
        )
    return {
        "object": "job_result",
        "job_id": job.id,
        "tool": job.tool,
        "status": str(job.status),
        "completed_at": iso(job.finished_at),
        "files": files,
        "results": {
            "fields": dict(result.fields) if result else {},
            "rows": list(result.rows) if result else [],
        },
    }


def share_resource(share: Share, public_url: str | None) -> JsonDict:
    return {
        "object": "share",
        "job_id": share.job_id,
        "visibility": str(share.visibility),
        "invites": [
            {"email": i.email, "status": "pending" if i.pending else "active"}
            for i in share.invites
        ],
        "public_url": public_url,
    }


def event_resource(event: JobEvent) -> JsonDict:
    return {
        "id": event.seq,
        "object": "job_event",
        "job_id": event.job_id,
        "kind": event.kind,
        "status": str(event.status),
        "data": event.data,
        "created_at": iso(event.created_at),
    }


def list_resource(items: Iterable[Any], next_cursor: str | None) -> JsonDict:
    return {
        "object": "list",
        "data": list(items),
        "has_more": next_cursor is not None,
        "next_cursor": next_cursor,
    }


def page_resource(page: Page, usernames: Mapping[str, str] | None = None) -> JsonDict:
    return list_resource((job_resource(v, usernames) for v in page.items), page.next_cursor)
