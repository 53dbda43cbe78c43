"""The error envelope every refusal is answered with."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..jobs.errors import PiqError
from .base import JsonObject, Resource

#: What ``details`` holds, by code.
DETAILS = (
    "validation_error: errors[] with field and message; "
    "job_not_completed: current_status; rate_limited: retry_after; tool_unavailable: tool"
)
CODES = (
    "invalid_json, validation_error, unauthorized, insufficient_credits, "
    "concurrent_job_limit_exceeded, forbidden, not_found, conflict, job_not_completed, "
    "payload_too_large, unsupported_media_type, rate_limited, tool_unavailable"
)


class ErrorBody(Resource):
    code: str = Field(description=CODES)
    message: str
    details: JsonObject = Field(description=DETAILS)


class Error(Resource):
    error: ErrorBody

    @classmethod
    def of(cls, code: str, message: str, details: dict[str, Any] | None = None) -> Error:
        return cls.model_construct(
            error=ErrorBody.model_construct(code=code, message=message, details=details or {})
        )

    @classmethod
    def of_problem(cls, problem: PiqError) -> Error:
        """A domain error, with the code it carries."""
        return cls.of(problem.code, problem.message, problem.details)
