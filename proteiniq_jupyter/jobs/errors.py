"""Domain errors. Each carries the API error code and HTTP status it maps to, so
every face (HTTP, CLI, magics) reports the same problem the same way."""

from __future__ import annotations

from typing import Any, ClassVar


class PiqError(Exception):
    code: ClassVar[str] = "internal_error"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class ValidationError(PiqError):
    """Bad input. ``details["errors"]`` lists each problem with its place."""

    code = "validation_error"
    http_status = 400

    def __init__(self, message: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, details={"errors": errors or [{"message": message}]})

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = self.details["errors"]
        return errors


class InsufficientCredits(PiqError):
    code = "insufficient_credits"
    http_status = 402


class CreditCapExceeded(PiqError):
    """A run's quote is more than the cap (``max_credits``) its request carries."""

    code = "credit_cap_exceeded"
    http_status = 402


class BudgetExceeded(PiqError):
    """A submission would take its budget's held and charged credits past its limit."""

    code = "budget_exceeded"
    http_status = 402


class ConcurrentJobLimitExceeded(PiqError):
    code = "concurrent_job_limit_exceeded"
    http_status = 402


class Forbidden(PiqError):
    code = "forbidden"
    http_status = 403


class NotFound(PiqError):
    code = "not_found"
    http_status = 404


class Conflict(PiqError):
    code = "conflict"
    http_status = 409


class DuplicateRecord(Conflict):
    """The store refused a write that would break a uniqueness rule (two writers
    raced to create the same thing)."""


class LeaseLost(Conflict):
    """A runner wrote to a job whose lease it no longer holds (the job was taken
    over, or ended, meanwhile): the write is refused and rolled back."""


class ToolUnavailable(PiqError):
    """No worker of this installation can run the tool: the request is sound, the
    installation lacks the tool's program, packages or model weights."""

    code = "tool_unavailable"
    http_status = 409


class PayloadTooLarge(PiqError):
    code = "payload_too_large"
    http_status = 413


class JobNotCompleted(PiqError):
    code = "job_not_completed"
    http_status = 409
