"""Two jobs compared: what differs in their inputs, settings and provenance."""

from __future__ import annotations

from typing import Any, Literal

from ..jobs import comparison
from ..jobs.errors import NotFound
from ..jobs.model import JsonDict
from .base import Resource
from .jobs import Job, JobInput
from .provenance import JobProvenance


def comparable(job: Job) -> JsonDict:
    """What a comparison reads of a job, as the API gave it."""
    if not job.permissions.see_contents or not isinstance(job.input, JobInput):
        raise NotFound(
            f"the inputs and settings of job {job.id} are not shared with you",
            details={"job_id": job.id},
        )
    return comparison.comparable(
        job.tool,
        [item.model_dump() for item in job.input.inputs],
        job.settings if isinstance(job.settings, dict) else {},
        job.provenance.model_dump() if isinstance(job.provenance, JobProvenance) else None,
    )


class JobChange(Resource):
    section: Literal["tool", "inputs", "settings", "provenance"]
    field: str
    a: Any
    b: Any


class JobDiff(Resource):
    """What differs between job ``a`` and job ``b``: their inputs, settings and
    provenance, field by field."""

    object: Literal["job_diff"]
    a: str
    b: str
    same: bool
    changes: list[JobChange]

    @classmethod
    def of(cls, a: Job, b: Job) -> JobDiff:
        changes = comparison.compare(comparable(a), comparable(b))
        return cls.model_construct(
            object="job_diff",
            a=a.id,
            b=b.id,
            same=not changes,
            changes=[JobChange.model_construct(**c.to_dict()) for c in changes],
        )

    def text(self) -> str:
        return comparison.diff_text(
            self.a, self.b, [comparison.Change(**c.model_dump()) for c in self.changes]
        )
