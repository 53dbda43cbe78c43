"""A job's provenance: what produced its result."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..jobs import provenance as domain
from .base import Resource, Timestamp


class DerivedFrom(Resource):
    job_id: str
    how: Literal["retry", "duplicate"]


class ToolVersion(Resource):
    id: str
    version: str


class SoftwareVersion(Resource):
    name: str
    kind: Literal["library", "program"]
    version: str | None = Field(description="as installed where the job ran; null if unknown")
    path: str | None = Field(description="where a program was found")


class ModelWeights(Resource):
    name: str
    location: str
    fingerprint: str | None = Field(
        description="SHA-256 of the weights' configuration and index files, or of the "
        "checkpoints' names and sizes"
    )


class WorkerInfo(Resource):
    host: str = Field(description="the worker's host name; empty on a public page")
    platform: str
    python: str
    cpu: str | None
    cpus: Annotated[int, Field(ge=0)]
    gpu: str | None
    threads: Annotated[int, Field(ge=1)] | None


class Fingerprints(Resource):
    inputs: str
    settings: str


class JobProvenance(Resource):
    """What produced the job's result. ``derived_from`` is set from the job's
    creation when it was made from another; the rest when it runs, for its latest
    attempt (null before)."""

    derived_from: DerivedFrom | None
    recorded_at: Timestamp | None
    attempt: Annotated[int, Field(ge=1)] | None
    tool: ToolVersion | None
    software: list[SoftwareVersion]
    models: list[ModelWeights]
    worker: WorkerInfo | None
    fingerprints: Fingerprints | None

    @classmethod
    def of(cls, provenance: domain.Provenance | None) -> JobProvenance:
        return cls.model_validate(domain.record(provenance))
