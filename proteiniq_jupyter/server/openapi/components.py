"""The document's components: the resources' schemas (derived from their models),
and the responses, headers and parameters that several operations share."""

from __future__ import annotations

from ...api.schema import components
from ...jobs.sorting import ORDERS, SORT_VALUES
from ..base import RESULT_RETRY_AFTER_S
from .builders import (
    ANY_OBJECT,
    FILE_NAME_PATTERN,
    ID_PATTERN,
    INT,
    RATE_LIMIT_HEADERS,
    STRING,
    TOOL_ID_PATTERN,
    JsonDict,
    json_content,
    query_param,
    ref,
)


def schemas() -> JsonDict:
    """The resources and request bodies, and the two shapes that are no resource:
    a multipart upload and this document."""
    return {
        **components(),
        "FileUpload": {
            "type": "object",
            "properties": {
                "file": {"type": "string", "format": "binary", "description": "the file"}
            },
            "required": ["file"],
        },
        "OpenApiDocument": {
            "type": "object",
            "required": ["openapi", "info", "paths"],
            "properties": {"openapi": STRING, "info": ANY_OBJECT, "paths": ANY_OBJECT},
        },
    }


def error_response(description: str, *, headers: JsonDict | None = None) -> JsonDict:
    response: JsonDict = {"description": description, "content": json_content(ref("Error"))}
    if headers:
        response["headers"] = headers
    return response


def responses() -> JsonDict:
    """Error responses. Those of authenticated routes come after the rate limiter
    has counted the request, so they carry its headers too (a client learns its
    budget from a refusal as well as from a success); a 401 and a 403 may come
    before it. The public pages count requests per address and say only when to
    come back."""
    limited = RATE_LIMIT_HEADERS
    unlimited = {name: {**header, "required": False} for name, header in headers().items()}
    retry_after = {
        "required": True,
        "schema": {**INT, "minimum": 1},
        "description": "seconds until the window resets",
    }
    return {
        "BadRequest": error_response(
            "invalid_json (the body does not parse) or validation_error (details.errors "
            "names each problem and its place)",
            headers=limited,
        ),
        "UploadBadRequest": error_response(
            "validation_error (no file name, or not a plain one), or invalid_request: a "
            "multipart body that does not parse, refused before the rate limiter (so "
            "without its headers)",
            headers=unlimited,
        ),
        "Unauthorized": error_response(
            "unauthorized: no signed-in Jupyter user (send Authorization: token ...)"
        ),
        "PaymentRequired": error_response(
            "insufficient_credits, concurrent_job_limit_exceeded, credit_cap_exceeded (the "
            "quote is more than max_credits) or budget_exceeded (the budget's held and "
            "charged credits would pass its limit; details name them); nothing was created",
            headers=limited,
        ),
        "Forbidden": error_response(
            "forbidden: the job, batch or file is visible to this user but not theirs "
            "to change, or a viewer tried to run a job; also a state-changing request "
            "signed in by Jupyter's login cookie without its XSRF token (refused before "
            "the rate limiter, so without its headers)",
            headers=unlimited,
        ),
        "NotFound": error_response(
            "not_found: no such resource, or one this user may not see (existence is "
            "never revealed)",
            headers=limited,
        ),
        "Conflict": error_response(
            "conflict: the status does not allow this (details.current_status), an "
            "Idempotency-Key was reused for a different request, or a job's output "
            "file was to be deleted on its own; or tool_unavailable: no worker of this "
            "installation can run the tool (the message names what to install or set; "
            "details.tool), and nothing was created",
            headers=limited,
        ),
        "JobNotCompleted": error_response(
            "job_not_completed: no result yet (details.current_status); ask again after "
            "Retry-After seconds",
            headers={
                **limited,
                "Retry-After": {
                    "required": True,
                    "schema": {**INT, "minimum": 0, "examples": [RESULT_RETRY_AFTER_S]},
                    "description": "seconds to wait before asking again",
                },
            },
        ),
        "PayloadTooLarge": error_response(
            "payload_too_large: the body is over the server's limit", headers=limited
        ),
        "UnsupportedMediaType": error_response(
            "unsupported_media_type: the body was not sent as application/json",
            headers=limited,
        ),
        "TooManyRequests": error_response(
            "rate_limited: over the per-user request limit; details.retry_after",
            headers={**limited, "Retry-After": retry_after},
        ),
        "Unavailable": error_response(
            "unavailable: live events are not ready yet; try again shortly", headers=limited
        ),
        "PublicNotFound": error_response(
            "not_found: no such job, or one that is not public (the same answer)"
        ),
        "PublicTooManyRequests": error_response(
            "rate_limited: too many requests from this address",
            headers={"Retry-After": retry_after},
        ),
    }


def headers() -> JsonDict:
    """The rate limiter's headers, on every response of an authenticated route
    after the request was counted."""
    return {
        "X-RateLimit-Limit": {
            "required": True,
            "schema": {**INT, "minimum": 0},
            "description": "requests allowed per window (0: no limit is configured)",
        },
        "X-RateLimit-Remaining": {
            "required": True,
            "schema": {**INT, "minimum": 0},
            "description": "requests left in the current window",
        },
        "X-RateLimit-Reset": {
            "required": True,
            "schema": {**INT, "minimum": 0},
            "description": "when the window resets, in seconds since the Unix epoch",
        },
    }


def parameters() -> JsonDict:
    """Parameters shared by several operations."""

    def path(name: str, pattern: str, description: str) -> JsonDict:
        return {
            "name": name,
            "in": "path",
            "required": True,
            "description": description,
            "schema": {"type": "string", "pattern": pattern, "minLength": 1, "maxLength": 200},
        }

    return {
        "JobId": path("job_id", ID_PATTERN, "a job id (job_...)"),
        "BatchId": path("batch_id", ID_PATTERN, "a batch id (batch_...)"),
        "BudgetRef": path(
            "ref",
            "^[^/]+$",
            "a budget's id (bdg_...) or the name of an open budget (a notebook's path, "
            "its slashes escaped as %2F)",
        ),
        "WorkspaceId": path("workspace_id", ID_PATTERN, "a workspace id (ws_...)"),
        "Username": path(
            "username", "^[^/]+$", "a user name on the deployment (slashes escaped as %2F)"
        ),
        "ToolId": path("tool_id", TOOL_ID_PATTERN, "a tool id, as listed by GET tools"),
        "FileName": path("name", FILE_NAME_PATTERN, "a file name from the job's result"),
        "FileId": path("file_id", ID_PATTERN, "a file id (file_...)"),
        "LastEventId": {
            "name": "Last-Event-ID",
            "in": "header",
            "required": False,
            "description": (
                "resume after this event id (what a reconnecting EventSource sends); "
                "the events after it are replayed first"
            ),
            "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
        },
        "LastEventIdQuery": query_param(
            "last_event_id",
            {"type": "string", "pattern": "^[0-9]{1,18}$"},
            "the same as the Last-Event-ID header, for clients that cannot set it",
        ),
        "Mine": query_param(
            "mine",
            {"type": "string", "enum": ["1", "true", "0", "false"]},
            "only the caller's own (1 or true)",
        ),
        "JobSort": query_param(
            "sort",
            {"type": "string", "enum": list(SORT_VALUES), "default": "created_at"},
            (
                "the order of the whole list, across its pages: by a job field; "
                "text in code point order (upper case first), credits as charged "
                "or else estimated, and jobs with no duration (not finished) last "
                "either way; equal values in id order. A cursor belongs to its "
                "sort and order: with another it is a 400"
            ),
        ),
        "SortOrder": query_param(
            "order",
            {"type": "string", "enum": list(ORDERS)},
            "asc or desc; by default desc for created_at, asc for the others",
        ),
        "Limit": query_param(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
            "page size",
        ),
        "StartingAfter": query_param(
            "starting_after",
            STRING,
            "the next_cursor of the previous page",
        ),
        "IdempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": (
                "makes a repeated submission (same key, same request) return the first "
                "job or batch; the same key with another tool, inputs, settings or name "
                "is a 409 conflict. Scoped to the workspace (jobs and batches each)."
            ),
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        },
        "XIdempotencyKey": {
            "name": "X-Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "read when Idempotency-Key is absent",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        },
    }
