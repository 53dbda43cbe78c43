"""What the client raises: the domain's own errors, whichever transport answered.

In-process the service raises them; over HTTP the error envelope's ``code`` names
the same class, so a caller catches ``InsufficientCredits`` or ``NotFound`` the
same way on both."""

from __future__ import annotations

from typing import Any

from ..jobs import errors as domain
from ..jobs.errors import PiqError

__all__ = ["ConnectionFailed", "JobFailed", "PiqError", "ServerError", "error_for"]

#: Every domain error class by the code it is answered with.
_BY_CODE: dict[str, type[PiqError]] = {
    cls.code: cls
    for cls in (
        domain.ValidationError,
        domain.InsufficientCredits,
        domain.ConcurrentJobLimitExceeded,
        domain.CreditCapExceeded,
        domain.BudgetExceeded,
        domain.Forbidden,
        domain.NotFound,
        domain.Conflict,
        domain.PayloadTooLarge,
        domain.JobNotCompleted,
    )
}


class ServerError(PiqError):
    """A refusal the domain has no class for (unauthorized, rate_limited, a 5xx)."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(message, details=details)
        self.status = status
        self.api_code = code

    def __str__(self) -> str:
        return f"{self.message} ({self.api_code}, HTTP {self.status})"


class ConnectionFailed(PiqError):
    """The server could not be reached, after retrying."""


class JobFailed(PiqError):
    """``result()`` of a job that did not complete: carries its status and message."""

    def __init__(self, job_id: str, status: str, message: str | None) -> None:
        text = f"job {job_id} ended {status}" + (f": {message}" if message else "")
        super().__init__(text, details={"job_id": job_id, "status": status})
        self.job_id = job_id
        self.status = status
        self.reason = message


def error_for(status: int, body: Any) -> PiqError:
    """The error an HTTP answer's envelope stands for."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ServerError(status, "internal_error", f"HTTP {status} from the server", {})
    code = str(error.get("code") or "internal_error")
    message = str(error.get("message") or f"HTTP {status}")
    given = error.get("details")
    details: dict[str, Any] = given if isinstance(given, dict) else {}
    cls = _BY_CODE.get(code)
    if cls is domain.ValidationError:
        return domain.ValidationError(message, errors=details.get("errors"))
    if cls is not None:
        return cls(message, details=details)
    return ServerError(status, code, message, details)
