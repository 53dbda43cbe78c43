"""The OpenAPI 3.1 document of the extension's HTTP API, and the route that serves it.

The document is written here in Python, beside the routes, rather than generated
from them: generation would only repeat what the handlers do, mistakes included.
Written by hand it states what the server promises, and the tests hold the two
together: every routed pattern must be documented and every documented path
routed, and a property-based run against the real server checks each response's
status, content type, headers and body against it.

Paths are written in full (``/proteiniq/api/v1/jobs``) and ``servers`` names the
Jupyter server's own base URL, taken from the request, so the public job pages
(outside the API prefix) fit in the same document and a generated client needs
no extra configuration behind a proxy or under JupyterHub.
"""

from __future__ import annotations

import json
from typing import Any

from .. import __version__
from ..jobs.model import FileOrigin, Visibility
from ..jobs.status import JobStatus
from .base import RESULT_RETRY_AFTER_S, PiqHandler, authenticated
from .public import PREFIX as PUBLIC_JOBS
from .routes import API

JsonDict = dict[str, Any]

OPENAPI_VERSION = "3.1.0"
#: The route of the document itself.
DOCUMENT_PATH = f"{API}/openapi.json"

#: Path parameters, each with the pattern its route matches, so a generated value
#: always reaches the handler. Tool ids and file names may not start with a dot:
#: clients normalise the segments "." and ".." away, which would be another URL.
_ID_PATTERN = r"^[A-Za-z0-9_\-]+$"
_TOOL_ID_PATTERN = r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*$"
_FILE_NAME_PATTERN = r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*$"

_STATUSES = [str(s) for s in JobStatus]
_ORIGINS = [str(o) for o in FileOrigin]
_VISIBILITIES = [str(v) for v in Visibility]


# -- small builders ---------------------------------------------------------------


def _ref(name: str) -> JsonDict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: JsonDict) -> JsonDict:
    """``schema`` or null: OpenAPI 3.1 spells it as a list of types."""
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    kind = schema["type"]
    return {**schema, "type": [kind, "null"] if isinstance(kind, str) else [*kind, "null"]}


def _obj(
    properties: JsonDict,
    required: list[str] | None = None,
    *,
    closed: bool = True,
    description: str | None = None,
) -> JsonDict:
    """An object schema. Resources the server renders are ``closed`` (no other
    properties), so a field added to a resource but not to this document fails
    the conformance run instead of drifting silently."""
    schema: JsonDict = {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }
    if closed:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


def _json(schema: JsonDict) -> JsonDict:
    return {"application/json": {"schema": schema}}


_STRING: JsonDict = {"type": "string"}
_INT: JsonDict = {"type": "integer"}
_NUMBER: JsonDict = {"type": "number"}
_BOOL: JsonDict = {"type": "boolean"}
_DATETIME: JsonDict = {"type": "string", "format": "date-time"}
_ANY_OBJECT: JsonDict = {"type": "object"}

_RATE_LIMIT_HEADERS: JsonDict = {
    "X-RateLimit-Limit": {"$ref": "#/components/headers/X-RateLimit-Limit"},
    "X-RateLimit-Remaining": {"$ref": "#/components/headers/X-RateLimit-Remaining"},
    "X-RateLimit-Reset": {"$ref": "#/components/headers/X-RateLimit-Reset"},
}


def _ok(description: str, schema: JsonDict, *, headers: JsonDict | None = None) -> JsonDict:
    """A JSON success response; every one passed the rate limiter, so it carries
    the limiter's headers."""
    return {
        "description": description,
        "headers": {**_RATE_LIMIT_HEADERS, **(headers or {})},
        "content": _json(schema),
    }


def _errors(*statuses: int) -> JsonDict:
    """The error responses an authenticated route can give: 401 and 429 always,
    plus ``statuses``."""
    names = {
        400: "BadRequest",
        401: "Unauthorized",
        402: "PaymentRequired",
        403: "Forbidden",
        404: "NotFound",
        409: "Conflict",
        413: "PayloadTooLarge",
        415: "UnsupportedMediaType",
        429: "TooManyRequests",
        503: "Unavailable",
    }
    return {
        str(status): {"$ref": f"#/components/responses/{names[status]}"}
        for status in sorted({401, 429, *statuses})
    }


#: What a route with a JSON body can answer about the body itself.
_BODY_ERRORS = (400, 413, 415)


def _param(name: str) -> JsonDict:
    return {"$ref": f"#/components/parameters/{name}"}


def _body(schema: JsonDict, *, required: bool = True, description: str = "") -> JsonDict:
    return _body_content(_json(schema), description, required=required)


def _body_content(content: JsonDict, description: str = "", *, required: bool = True) -> JsonDict:
    body: JsonDict = {"required": required, "content": content}
    if description:
        body["description"] = description
    return body


def _query_param(name: str, schema: JsonDict, description: str) -> JsonDict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _op(
    operation_id: str,
    summary: str,
    tag: str,
    responses: JsonDict,
    *,
    parameters: list[JsonDict] | None = None,
    body: JsonDict | None = None,
    description: str | None = None,
    security: list[JsonDict] | None = None,
) -> JsonDict:
    op: JsonDict = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "responses": responses,
    }
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = body
    if security is not None:
        op["security"] = security
    return op


# -- components ---------------------------------------------------------------------


def _schemas() -> JsonDict:
    input_item = _obj(
        {
            "id": _STRING,
            "slotId": _STRING,
            "kind": _STRING,
            "format": _STRING,
            "content": _STRING,
            "source": {
                "oneOf": [
                    _obj({"type": {"const": "text"}}),
                    _obj({"type": {"const": "file"}, "file_id": _STRING}),
                    _obj({"type": {"const": "pdb"}, "id": _STRING}),
                ]
            },
            "label": _STRING,
        },
        ["id", "slotId", "kind", "format", "content", "source"],
    )
    input_item_request = _obj(
        {
            "id": {**_STRING, "description": "defaults to the slot id"},
            "slotId": {**_STRING, "description": "one of the tool's input.slots[].id"},
            "kind": _STRING,
            "format": {**_STRING, "description": "one of the slot's formats"},
            "content": _STRING,
            "source": _obj(
                {
                    "type": {"type": "string", "enum": ["text", "file", "pdb"]},
                    "file_id": _STRING,
                    "id": _STRING,
                },
                [],
                closed=False,
                description=(
                    "where the content comes from: inline text, a saved file (file_id, "
                    "from POST files) whose text fills an empty content, or a Protein "
                    "Data Bank entry (id, as 1ABC) fetched at submit, as PDB text"
                ),
            ),
            "label": _STRING,
        },
        ["slotId", "content"],
        closed=False,
    )
    result_file = _obj({"name": _STRING, "format": _STRING, "size": _INT, "content_type": _STRING})
    tool_result = _obj(
        {
            "fields": {**_ANY_OBJECT, "description": "the job as one row: the CSV columns"},
            "rows": {"type": "array", "items": _ANY_OBJECT},
            "files": {"type": "array", "items": _ref("ResultFile")},
        }
    )

    def job_schema(result: JsonDict) -> JsonDict:
        return _obj(
            {
                "id": _STRING,
                "object": {"const": "job"},
                "name": _STRING,
                "tool": _STRING,
                "status": _ref("JobStatus"),
                "status_reason": _nullable(_STRING),
                "progress": {**_NUMBER, "minimum": 0, "maximum": 1},
                "progress_message": _nullable(_STRING),
                "created_at": _DATETIME,
                "updated_at": _DATETIME,
                "started_at": _nullable(_DATETIME),
                "completed_at": _nullable(_DATETIME),
                "duration_s": _nullable({**_NUMBER, "minimum": 0}),
                "submitter": _obj({"id": _STRING, "username": _nullable(_STRING)}),
                "workspace_id": _STRING,
                "batch_id": _nullable(_STRING),
                "origin_job_id": _nullable(_STRING),
                "visibility": _ref("Visibility"),
                "attempts": {**_INT, "minimum": 0},
                "credits": _obj({"estimated": _INT, "charged": _INT}),
                "permissions": _obj({"see_contents": _BOOL, "change": _BOOL}),
                "error": _nullable(_STRING),
                "input": _obj({"inputs": {"type": "array", "items": _ref("JobInputItem")}}),
                "settings": _ANY_OBJECT,
                "result": _nullable(result),
            },
            [
                "id",
                "object",
                "name",
                "tool",
                "status",
                "status_reason",
                "progress",
                "progress_message",
                "created_at",
                "updated_at",
                "started_at",
                "completed_at",
                "duration_s",
                "submitter",
                "workspace_id",
                "batch_id",
                "origin_job_id",
                "visibility",
                "attempts",
                "credits",
                "permissions",
            ],
            description=(
                "error, input, settings and result are present only where "
                "permissions.see_contents is true (a job shared without its contents "
                "shows the row alone)."
            ),
        )

    batch_properties: JsonDict = {
        "object": {"const": "batch"},
        "id": _STRING,
        "name": _STRING,
        "tool": _STRING,
        "status": {"type": "string", "enum": ["PROCESSING", "COMPLETED", "FAILED", "PARTIAL"]},
        "created_at": _DATETIME,
        "progress": {**_NUMBER, "minimum": 0, "maximum": 1},
        "counts": {
            "type": "object",
            "propertyNames": _ref("JobStatus"),
            "additionalProperties": {**_INT, "minimum": 0},
            "description": "children by status",
        },
        "total": {**_INT, "minimum": 0},
        "reserved_credits": _INT,
        "credits_charged": _INT,
        "job_ids": {"type": "array", "items": _STRING},
    }
    tool_summary_properties: JsonDict = {
        "id": _STRING,
        "object": {"const": "tool"},
        "name": _STRING,
        "description": _STRING,
        "category": _STRING,
        "tags": {"type": "array", "items": _STRING},
        "credit_model": _obj(
            {
                "is_free": _BOOL,
                "description": _STRING,
                "rates": {**_ANY_OBJECT, "description": "the numbers the cost is computed from"},
            }
        ),
    }
    input_slot = _obj(
        {
            "id": _STRING,
            "kind": _STRING,
            "formats": {"type": "array", "items": _STRING},
            "label": _STRING,
            "description": _STRING,
            "required": _BOOL,
            "max_items": {**_INT, "minimum": 1},
        }
    )
    job_input_request = _obj(
        {"inputs": {"type": "array", "items": _ref("JobInputItemRequest")}},
        closed=False,
    )
    file_record = _obj(
        {
            "id": _STRING,
            "object": {"const": "file"},
            "name": _STRING,
            "format": _STRING,
            "content_type": _STRING,
            "size": {**_INT, "minimum": 0},
            "origin": {"type": "string", "enum": _ORIGINS},
            "job_id": _nullable(_STRING),
            "owner_id": _STRING,
            "created_at": _DATETIME,
        }
    )
    list_properties = {
        "object": {"const": "list"},
        "has_more": _BOOL,
        "next_cursor": _nullable(_STRING),
    }

    def list_of(item: str) -> JsonDict:
        return _obj({**list_properties, "data": {"type": "array", "items": _ref(item)}})

    return {
        "Error": _obj(
            {
                "error": _obj(
                    {
                        "code": {
                            **_STRING,
                            "description": (
                                "invalid_json, validation_error, unauthorized, "
                                "insufficient_credits, concurrent_job_limit_exceeded, "
                                "forbidden, not_found, conflict, job_not_completed, "
                                "payload_too_large, unsupported_media_type, rate_limited"
                            ),
                        },
                        "message": _STRING,
                        "details": {
                            **_ANY_OBJECT,
                            "description": (
                                "validation_error: errors[] with field and message; "
                                "job_not_completed: current_status; rate_limited: retry_after"
                            ),
                        },
                    }
                )
            }
        ),
        "JobStatus": {
            "type": "string",
            "enum": _STATUSES,
            "description": "terminal: COMPLETED, FAILED, TIMEOUT, CANCELLED, BUDGET_EXCEEDED",
        },
        "Visibility": {"type": "string", "enum": _VISIBILITIES},
        "JobInputItem": input_item,
        "JobInputItemRequest": input_item_request,
        "JobInputRequest": job_input_request,
        "ResultFile": result_file,
        "ToolResult": tool_result,
        "Job": job_schema(_ref("ToolResult")),
        "PublicJob": job_schema(_ref("JobResult")),
        "JobList": list_of("Job"),
        "JobStatusResource": _obj(
            {
                "id": _STRING,
                "object": {"const": "job_status"},
                "status": _ref("JobStatus"),
                "progress": {**_NUMBER, "minimum": 0, "maximum": 1},
                "progress_message": _nullable(_STRING),
                "status_reason": _nullable(_STRING),
                "updated_at": _DATETIME,
            }
        ),
        "DeletedJob": _obj({"id": _STRING, "object": {"const": "job"}, "deleted": {"const": True}}),
        "JobCreate": _obj(
            {
                "tool": {**_STRING, "minLength": 1},
                "name": {**_STRING, "minLength": 1, "maxLength": 300},
                "input": _ref("JobInputRequest"),
                "settings": {**_ANY_OBJECT, "description": "the tool's settings model"},
            },
            ["tool", "input"],
            closed=False,
        ),
        "JobUpdate": _obj({"name": {**_STRING, "minLength": 1, "maxLength": 300}}),
        "JobDuplicate": _obj(
            {
                "name": {**_STRING, "minLength": 1, "maxLength": 300},
                "settings": {**_ANY_OBJECT, "description": "merged over the job's settings"},
            },
            [],
            closed=False,
        ),
        "QuoteRequest": _obj(
            {
                "tool": {**_STRING, "minLength": 1},
                "input": _ref("JobInputRequest"),
                "settings": _ANY_OBJECT,
            },
            ["tool", "input"],
            closed=False,
        ),
        "JobQuote": _obj(
            {
                "object": {"const": "job_quote"},
                "tool": _STRING,
                "estimated_credits": _INT,
                "available_credits": _INT,
                "billable_credits": _INT,
                "breakdown": {
                    "type": "array",
                    "items": _obj(
                        {
                            "label": _STRING,
                            "quantity": _NUMBER,
                            "unit_credits": _INT,
                            "credits": _INT,
                        }
                    ),
                },
                "blocking_errors": {
                    "type": "array",
                    "items": _obj({"code": _STRING, "message": _STRING}, closed=False),
                },
                "limits": _obj(
                    {"active_concurrent_jobs": _INT, "max_concurrent_jobs": _nullable(_INT)}
                ),
                "billing": _obj({"mode": {"const": "fixed"}}),
            }
        ),
        "JobResult": _obj(
            {
                "object": {"const": "job_result"},
                "job_id": _STRING,
                "tool": _STRING,
                "status": _ref("JobStatus"),
                "completed_at": _nullable(_DATETIME),
                "files": {
                    "type": "array",
                    "items": _obj(
                        {
                            "name": _STRING,
                            "key": _STRING,
                            "format": _STRING,
                            "size": _INT,
                            "content_type": _STRING,
                            "url": {**_STRING, "description": "GET it with the same credentials"},
                        }
                    ),
                },
                "results": _obj(
                    {"fields": _ANY_OBJECT, "rows": {"type": "array", "items": _ANY_OBJECT}}
                ),
            }
        ),
        "JobExport": _obj(
            {
                "object": {"const": "job_export"},
                "job_id": _STRING,
                "name": _STRING,
                "tool": _STRING,
                "status": _ref("JobStatus"),
                "created_at": _DATETIME,
                "completed_at": _nullable(_DATETIME),
                "exported_at": _DATETIME,
                "settings": _ANY_OBJECT,
                "inputs": {"type": "array", "items": _ref("JobInputItem")},
                "credits_used": _INT,
                "results": _obj(
                    {"fields": _ANY_OBJECT, "rows": {"type": "array", "items": _ANY_OBJECT}}
                ),
                "files": {"type": "array", "items": _ref("ResultFile")},
            }
        ),
        "Share": _obj(
            {
                "object": {"const": "share"},
                "job_id": _STRING,
                "visibility": _ref("Visibility"),
                "invites": {
                    "type": "array",
                    "items": _obj(
                        {
                            "email": _STRING,
                            "status": {"type": "string", "enum": ["pending", "active"]},
                        }
                    ),
                },
                "public_url": {
                    **_nullable(_STRING),
                    "description": "the page anyone may open; set when visibility is public",
                },
            }
        ),
        "ShareUpdate": _obj(
            {
                "visibility": _ref("Visibility"),
                "invite": {
                    "type": "array",
                    "items": {"type": "string", "format": "email"},
                    "description": "emails added to the invited list",
                },
                "invited_emails": {
                    "type": "array",
                    "items": {"type": "string", "format": "email"},
                    "description": "the same as invite (read when invite is absent)",
                },
                "uninvite": {
                    "type": "array",
                    "items": _STRING,
                    "description": "emails removed from the invited list",
                },
            },
            ["visibility"],
            closed=False,
        ),
        "Batch": _obj(batch_properties),
        "BatchRetry": _obj(
            {**batch_properties, "retried_job_ids": {"type": "array", "items": _STRING}}
        ),
        "BatchList": list_of("Batch"),
        "BatchCreate": _obj(
            {
                "tool": {**_STRING, "minLength": 1},
                "name": {**_STRING, "minLength": 1, "maxLength": 300},
                "settings": _ANY_OBJECT,
                "items": {
                    "type": "array",
                    "minItems": 1,
                    "items": _obj({"input": _ref("JobInputRequest")}, closed=False),
                    "description": "one job per item, each with its own input.inputs",
                },
                "input": {
                    **_ref("JobInputRequest"),
                    "description": "instead of items: one input the tool splits into its "
                    "children (each ligand with the receptor, each line a complex); only "
                    "for tools whose processing.batch_input is true",
                },
            },
            ["tool"],
            closed=False,
        ),
        "ToolSummary": _obj(tool_summary_properties),
        "ToolList": list_of("ToolSummary"),
        "InputSlot": input_slot,
        "ToolDetail": _obj(
            {
                **tool_summary_properties,
                "subcategory": _nullable(_STRING),
                "version": _STRING,
                "beta": _BOOL,
                "processing": _obj(
                    {
                        "gpu": _BOOL,
                        "prefers_gpu": _BOOL,
                        "time_limit_s": _NUMBER,
                        "batch_input": _BOOL,
                    }
                ),
                "input": _obj(
                    {
                        "slots": {"type": "array", "items": _ref("InputSlot")},
                        "settings": {
                            **_ANY_OBJECT,
                            "description": "the JSON schema of the tool's settings",
                        },
                    }
                ),
                "output": _obj(
                    {
                        "fields": {
                            "type": "array",
                            "items": _obj(
                                {
                                    "name": _STRING,
                                    "description": _STRING,
                                    "unit": _nullable(_STRING),
                                }
                            ),
                        }
                    }
                ),
                "limits": _ANY_OBJECT,
            }
        ),
        "Account": _obj(
            {
                "object": {"const": "account"},
                "workspace": _obj(
                    {
                        "id": _STRING,
                        "name": _STRING,
                        "plan": _STRING,
                        "credits": _obj({"available": _INT}),
                    }
                ),
                "role": {"type": "string", "enum": ["owner", "admin", "member", "viewer"]},
                "limits": _obj(
                    {
                        "active_jobs": _INT,
                        "concurrent_jobs": _obj(
                            {"max": _nullable(_INT), "remaining": _nullable(_INT)}
                        ),
                    }
                ),
            }
        ),
        "FileRecord": file_record,
        "FileList": list_of("FileRecord"),
        "FilePreview": _obj(
            {
                "object": {"const": "file_preview"},
                "file": _ref("FileRecord"),
                "text": {**_STRING, "description": "the first 64 KiB, as UTF-8"},
                "truncated": _BOOL,
            }
        ),
        "DeletedFile": _obj(
            {"id": _STRING, "object": {"const": "file"}, "deleted": {"const": True}}
        ),
        "FileUpload": _obj(
            {"file": {"type": "string", "format": "binary", "description": "the file"}},
            closed=False,
        ),
        "JobEvent": _obj(
            {
                "id": {**_INT, "description": "the SSE id: resume after it with Last-Event-ID"},
                "object": {"const": "job_event"},
                "job_id": _STRING,
                "kind": {
                    **_STRING,
                    "description": "created, status, progress, renamed, shared ...",
                },
                "status": _ref("JobStatus"),
                "data": {**_ANY_OBJECT, "description": "the job's status data, for status events"},
                "created_at": _DATETIME,
            }
        ),
        "OpenApiDocument": {
            "type": "object",
            "required": ["openapi", "info", "paths"],
            "properties": {"openapi": _STRING, "info": _ANY_OBJECT, "paths": _ANY_OBJECT},
        },
    }


def _error_response(description: str, *, headers: JsonDict | None = None) -> JsonDict:
    response: JsonDict = {"description": description, "content": _json(_ref("Error"))}
    if headers:
        response["headers"] = headers
    return response


def _responses() -> JsonDict:
    """Error responses. Those of authenticated routes come after the rate limiter
    has counted the request, so they carry its headers too (a client learns its
    budget from a refusal as well as from a success); a 401 and a 403 may come
    before it. The public pages count requests per address and say only when to
    come back."""
    limited = _RATE_LIMIT_HEADERS
    unlimited = {name: {**header, "required": False} for name, header in _headers().items()}
    retry_after = {
        "required": True,
        "schema": {**_INT, "minimum": 1},
        "description": "seconds until the window resets",
    }
    return {
        "BadRequest": _error_response(
            "invalid_json (the body does not parse) or validation_error (details.errors "
            "names each problem and its place)",
            headers=limited,
        ),
        "UploadBadRequest": _error_response(
            "validation_error (no file name, or not a plain one), or invalid_request: a "
            "multipart body that does not parse, refused before the rate limiter (so "
            "without its headers)",
            headers=unlimited,
        ),
        "Unauthorized": _error_response(
            "unauthorized: no signed-in Jupyter user (send Authorization: token ...)"
        ),
        "PaymentRequired": _error_response(
            "insufficient_credits or concurrent_job_limit_exceeded; nothing was created",
            headers=limited,
        ),
        "Forbidden": _error_response(
            "forbidden: the job, batch or file is visible to this user but not theirs "
            "to change, or a viewer tried to run a job; also a state-changing request "
            "signed in by Jupyter's login cookie without its XSRF token (refused before "
            "the rate limiter, so without its headers)",
            headers=unlimited,
        ),
        "NotFound": _error_response(
            "not_found: no such resource, or one this user may not see (existence is "
            "never revealed)",
            headers=limited,
        ),
        "Conflict": _error_response(
            "conflict: the status does not allow this (details.current_status), an "
            "Idempotency-Key was reused for a different request, or a job's output "
            "file was to be deleted on its own",
            headers=limited,
        ),
        "JobNotCompleted": _error_response(
            "job_not_completed: no result yet (details.current_status); ask again after "
            "Retry-After seconds",
            headers={
                **limited,
                "Retry-After": {
                    "required": True,
                    "schema": {**_INT, "minimum": 0, "examples": [RESULT_RETRY_AFTER_S]},
                    "description": "seconds to wait before asking again",
                },
            },
        ),
        "PayloadTooLarge": _error_response(
            "payload_too_large: the body is over the server's limit", headers=limited
        ),
        "UnsupportedMediaType": _error_response(
            "unsupported_media_type: the body was not sent as application/json",
            headers=limited,
        ),
        "TooManyRequests": _error_response(
            "rate_limited: over the per-user request limit; details.retry_after",
            headers={**limited, "Retry-After": retry_after},
        ),
        "Unavailable": _error_response(
            "unavailable: live events are not ready yet; try again shortly", headers=limited
        ),
        "PublicNotFound": _error_response(
            "not_found: no such job, or one that is not public (the same answer)"
        ),
        "PublicTooManyRequests": _error_response(
            "rate_limited: too many requests from this address",
            headers={"Retry-After": retry_after},
        ),
    }


def _headers() -> JsonDict:
    """The rate limiter's headers, on every response of an authenticated route
    after the request was counted."""
    return {
        "X-RateLimit-Limit": {
            "required": True,
            "schema": {**_INT, "minimum": 0},
            "description": "requests allowed per window (0: no limit is configured)",
        },
        "X-RateLimit-Remaining": {
            "required": True,
            "schema": {**_INT, "minimum": 0},
            "description": "requests left in the current window",
        },
        "X-RateLimit-Reset": {
            "required": True,
            "schema": {**_INT, "minimum": 0},
            "description": "when the window resets, in seconds since the Unix epoch",
        },
    }


def _parameters() -> JsonDict:
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
        "JobId": path("job_id", _ID_PATTERN, "a job id (job_...)"),
        "BatchId": path("batch_id", _ID_PATTERN, "a batch id (batch_...)"),
        "ToolId": path("tool_id", _TOOL_ID_PATTERN, "a tool id, as listed by GET tools"),
        "FileName": path("name", _FILE_NAME_PATTERN, "a file name from the job's result"),
        "FileId": path("file_id", _ID_PATTERN, "a file id (file_...)"),
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
        "LastEventIdQuery": _query_param(
            "last_event_id",
            {"type": "string", "pattern": "^[0-9]{1,18}$"},
            "the same as the Last-Event-ID header, for clients that cannot set it",
        ),
        "Mine": _query_param(
            "mine",
            {"type": "string", "enum": ["1", "true", "0", "false"]},
            "only the caller's own (1 or true)",
        ),
        "Limit": _query_param(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
            "page size",
        ),
        "StartingAfter": _query_param(
            "starting_after",
            _STRING,
            "the next_cursor of the previous page",
        ),
        "IdempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": (
                "makes a repeated submission (same key, same request) return the first "
                "job; the same key with another request is a 409 conflict. Scoped to "
                "the workspace."
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


# -- paths ----------------------------------------------------------------------------


def _paths() -> JsonDict:
    """The REST routes of routes.py; the event streams, files and public pages
    of their own modules follow."""
    job_id, batch_id = _param("JobId"), _param("BatchId")
    page = [_param("Limit"), _param("StartingAfter")]
    job = _ref("Job")
    batch = _ref("Batch")
    return {
        f"{API}/openapi.json": {
            "get": _op(
                "getOpenApiDocument",
                "This document",
                "meta",
                {"200": _ok("the OpenAPI document", _ref("OpenApiDocument")), **_errors()},
                description=(
                    "Served to signed-in users only, like Jupyter's own /api/spec.yaml: "
                    "every client that can use the API already holds a token, and an "
                    "anonymous scanner learns nothing about the server from it."
                ),
            )
        },
        f"{API}/account": {
            "get": _op(
                "getAccount",
                "The workspace, its credits and limits",
                "account",
                {"200": _ok("the account", _ref("Account")), **_errors()},
            )
        },
        f"{API}/tools": {
            "get": _op(
                "listTools",
                "Every installed tool",
                "tools",
                {"200": _ok("the tools (one page)", _ref("ToolList")), **_errors()},
            )
        },
        f"{API}/tools/{{tool_id}}": {
            "get": _op(
                "getTool",
                "A tool's detail: slots, settings schema, outputs, limits",
                "tools",
                {"200": _ok("the tool", _ref("ToolDetail")), **_errors(404)},
                parameters=[_param("ToolId")],
            )
        },
        f"{API}/jobs/quote": {
            "post": _op(
                "quoteJob",
                "What a run would cost and whether it could start now",
                "jobs",
                {"200": _ok("the quote", _ref("JobQuote")), **_errors(*_BODY_ERRORS, 403)},
                body=_body(_ref("QuoteRequest")),
                description=(
                    "Problems with the tool, the input or the settings are listed in "
                    "blocking_errors rather than refused, so a form can show them all; "
                    "only a body that is not a JSON object with input.inputs is a 400."
                ),
            )
        },
        f"{API}/jobs": {
            "get": _op(
                "listJobs",
                "The workspace's jobs, newest first",
                "jobs",
                {"200": _ok("a page of jobs", _ref("JobList")), **_errors(400, 404)},
                parameters=[
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "description": (
                            "only jobs in these statuses (repeat the parameter, or "
                            "separate with commas; case does not matter)"
                        ),
                        "schema": {"type": "array", "items": _ref("JobStatus")},
                        "style": "form",
                        "explode": True,
                    },
                    {
                        "name": "tool",
                        "in": "query",
                        "required": False,
                        "description": "only this tool's jobs",
                        "schema": _STRING,
                    },
                    {
                        "name": "submitter",
                        "in": "query",
                        "required": False,
                        "description": "only jobs submitted by this user id",
                        "schema": _STRING,
                    },
                    _param("Mine"),
                    {
                        "name": "q",
                        "in": "query",
                        "required": False,
                        "description": "only jobs whose name contains this text",
                        "schema": _STRING,
                    },
                    {
                        "name": "batch",
                        "in": "query",
                        "required": False,
                        "description": "only this batch's children (404 for an unknown batch)",
                        "schema": _STRING,
                    },
                    *page,
                ],
            ),
            "post": _op(
                "submitJob",
                "Submit a job",
                "jobs",
                {
                    "201": _ok(
                        "the job, accepted (or the first job of a repeated Idempotency-Key)",
                        job,
                        headers={
                            "Location": {
                                "required": True,
                                "schema": _STRING,
                                "description": "the job's URL",
                            }
                        },
                    ),
                    **_errors(*_BODY_ERRORS, 402, 403, 409),
                },
                parameters=[_param("IdempotencyKey"), _param("XIdempotencyKey")],
                body=_body(_ref("JobCreate")),
                description=(
                    "Validated, priced and its credits held, or refused with nothing "
                    "created: 400 names each problem of the input or settings, 402 when "
                    "credits or the concurrency limit do not allow it."
                ),
            ),
        },
        f"{API}/jobs/{{job_id}}": {
            "parameters": [job_id],
            "get": _op("getJob", "A job", "jobs", {"200": _ok("the job", job), **_errors(404)}),
            "patch": _op(
                "renameJob",
                "Rename a job (the name is all that can change)",
                "jobs",
                {"200": _ok("the renamed job", job), **_errors(*_BODY_ERRORS, 403, 404)},
                body=_body(_ref("JobUpdate")),
            ),
            "delete": _op(
                "deleteJob",
                "Delete a finished job, its event log and its files",
                "jobs",
                {
                    "200": _ok("deleted", _ref("DeletedJob")),
                    **_errors(403, 404, 409),
                },
                description="A live job must be cancelled first (409 otherwise).",
            ),
        },
        f"{API}/jobs/{{job_id}}/cancel": {
            "parameters": [job_id],
            "post": _op(
                "cancelJob",
                "Cancel a waiting or running job",
                "jobs",
                {"200": _ok("the cancelled job", job), **_errors(403, 404, 409)},
            ),
        },
        f"{API}/jobs/{{job_id}}/retry": {
            "parameters": [job_id],
            "post": _op(
                "retryJob",
                "Run a FAILED, TIMEOUT or CANCELLED job again as a new job",
                "jobs",
                {"201": _ok("the new job", job), **_errors(400, 402, 403, 404, 409)},
            ),
        },
        f"{API}/jobs/{{job_id}}/duplicate": {
            "parameters": [job_id],
            "post": _op(
                "duplicateJob",
                "Run a COMPLETED job again as a new job, optionally with other settings",
                "jobs",
                {
                    "201": _ok("the new job", job),
                    **_errors(*_BODY_ERRORS, 402, 403, 404, 409),
                },
                body=_body(_ref("JobDuplicate"), required=False),
            ),
        },
        f"{API}/jobs/{{job_id}}/status": {
            "parameters": [job_id],
            "get": _op(
                "getJobStatus",
                "A job's status (the polling fallback for its event stream)",
                "jobs",
                {"200": _ok("the status", _ref("JobStatusResource")), **_errors(404)},
            ),
        },
        f"{API}/jobs/{{job_id}}/export": {
            "parameters": [job_id],
            "get": _op(
                "exportJob",
                "A job's results as a CSV table or a JSON envelope, as a download",
                "jobs",
                {
                    "200": {
                        "description": "the export",
                        "headers": {
                            **_RATE_LIMIT_HEADERS,
                            "Content-Disposition": {
                                "required": True,
                                "schema": _STRING,
                                "description": 'attachment; filename="<job id>.<format>"',
                            },
                        },
                        "content": {
                            "text/csv": {"schema": _STRING},
                            "application/json": {"schema": _ref("JobExport")},
                        },
                    },
                    **_errors(400, 404),
                },
                parameters=[
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["json", "csv"], "default": "json"},
                    }
                ],
            ),
        },
        f"{API}/jobs/{{job_id}}/share": {
            "parameters": [job_id],
            "get": _op(
                "getJobShare",
                "Who may see the job",
                "sharing",
                {"200": _ok("the sharing settings", _ref("Share")), **_errors(403, 404)},
            ),
            "put": _op(
                "shareJob",
                "Set the job's visibility and invited emails",
                "sharing",
                {
                    "200": _ok("the sharing settings", _ref("Share")),
                    **_errors(*_BODY_ERRORS, 403, 404),
                },
                body=_body(_ref("ShareUpdate")),
            ),
        },
        f"{API}/jobs/{{job_id}}/files/{{name}}": {
            "parameters": [job_id, _param("FileName")],
            "get": _op(
                "getJobFile",
                "One output file of a job (as listed by results/{job_id})",
                "jobs",
                {
                    "200": {
                        "description": "the file, in its own content type",
                        "headers": {
                            **_RATE_LIMIT_HEADERS,
                            "Content-Disposition": {
                                "required": False,
                                "schema": _STRING,
                                "description": "attachment, unless download=0",
                            },
                        },
                        "content": {"*/*": {"schema": {}}},
                    },
                    **_errors(404),
                },
                parameters=[
                    {
                        "name": "download",
                        "in": "query",
                        "required": False,
                        "description": "0 to view inline instead of as an attachment",
                        "schema": {"type": "string", "enum": ["0", "1"], "default": "1"},
                    }
                ],
            ),
        },
        f"{API}/results/{{job_id}}": {
            "parameters": [job_id],
            "get": _op(
                "getJobResult",
                "A job's results: fields, rows and files",
                "jobs",
                {
                    "200": _ok("the result", _ref("JobResult")),
                    **_errors(404),
                    "409": {"$ref": "#/components/responses/JobNotCompleted"},
                },
            ),
        },
        f"{API}/batches": {
            "get": _op(
                "listBatches",
                "The workspace's batches, newest first",
                "batches",
                {"200": _ok("a page of batches", _ref("BatchList")), **_errors(400)},
                parameters=page,
            ),
            "post": _op(
                "submitBatch",
                "One job per item, run as a batch",
                "batches",
                {
                    "201": _ok("the batch", batch),
                    **_errors(*_BODY_ERRORS, 402, 403),
                },
                body=_body(_ref("BatchCreate")),
                description=(
                    "Every item is validated first (a bad one refuses the whole batch, "
                    "naming it) and the total is held up front."
                ),
            ),
        },
        f"{API}/batches/{{batch_id}}": {
            "parameters": [batch_id],
            "get": _op(
                "getBatch",
                "A batch and what its children add up to",
                "batches",
                {"200": _ok("the batch", batch), **_errors(404)},
            ),
        },
        f"{API}/batches/{{batch_id}}/cancel": {
            "parameters": [batch_id],
            "post": _op(
                "cancelBatch",
                "Cancel every child still waiting or running",
                "batches",
                {"200": _ok("the batch", batch), **_errors(403, 404)},
            ),
        },
        f"{API}/batches/{{batch_id}}/retry-failed": {
            "parameters": [batch_id],
            "post": _op(
                "retryFailedBatchChildren",
                "Run the failed, timed-out or cancelled children again, once each",
                "batches",
                {
                    "201": _ok("the batch, with the new children's ids", _ref("BatchRetry")),
                    **_errors(402, 403, 404),
                },
            ),
        },
        **_event_paths(),
        **_file_paths(),
        **_public_paths(),
    }


def _event_stream(description: str) -> JsonDict:
    return {
        "description": description,
        "headers": {
            **_RATE_LIMIT_HEADERS,
            "Cache-Control": {
                "required": True,
                "schema": {"const": "private, no-cache, no-transform"},
            },
        },
        "content": {
            "text/event-stream": {
                "schema": {
                    "type": "object",
                    "description": (
                        "one Server-Sent Event (the stream is a sequence of them; "
                        "': keepalive' comments keep a quiet stream open)"
                    ),
                    "properties": {
                        "id": {
                            "type": "string",
                            "pattern": "^[0-9]+$",
                            "description": "the event id, for Last-Event-ID",
                        },
                        "event": {"type": "string", "description": "the event's kind"},
                        "data": {
                            "type": "string",
                            "contentMediaType": "application/json",
                            "contentSchema": _ref("JobEvent"),
                        },
                    },
                    "required": ["id", "event", "data"],
                    "additionalProperties": False,
                },
            }
        },
    }


def _event_paths() -> JsonDict:
    resume = [_param("LastEventId"), _param("LastEventIdQuery")]
    return {
        f"{API}/jobs/{{job_id}}/events": {
            "parameters": [_param("JobId")],
            "get": _op(
                "streamJobEvents",
                "A job's events as Server-Sent Events, until it ends",
                "events",
                {
                    "200": _event_stream(
                        "the job's history after Last-Event-ID, then its live events; "
                        "the stream ends after a final status"
                    ),
                    "204": {
                        "description": (
                            "the job has ended and the client already has every event "
                            "(an EventSource stops reconnecting)"
                        ),
                        "headers": _RATE_LIMIT_HEADERS,
                    },
                    **_errors(400, 404, 503),
                },
                parameters=resume,
                description=(
                    "Read it with fetch (an EventSource cannot send the Authorization "
                    "header); GET jobs/{job_id}/status is the polling fallback."
                ),
            ),
        },
        f"{API}/events": {
            "get": _op(
                "streamEvents",
                "Events of every job that concerns the reader, as Server-Sent Events",
                "events",
                {
                    "200": _event_stream(
                        "the events after Last-Event-ID (none without it), then live "
                        "ones; the stream does not end by itself"
                    ),
                    **_errors(400, 503),
                },
                parameters=resume,
            ),
        },
    }


def _file_paths() -> JsonDict:
    file_record = _ref("FileRecord")
    return {
        f"{API}/files": {
            "get": _op(
                "listFiles",
                "The workspace's files, newest first: uploads and job outputs",
                "files",
                {"200": _ok("a page of files", _ref("FileList")), **_errors(400)},
                parameters=[
                    _query_param("q", _STRING, "only files whose name contains this text"),
                    _query_param("format", _STRING, "only files of this format (pdb, sdf ...)"),
                    _query_param("origin", {"type": "string", "enum": _ORIGINS}, "only these"),
                    _param("Mine"),
                    _param("Limit"),
                    _param("StartingAfter"),
                ],
            ),
            "post": _op(
                "uploadFile",
                "Upload a file, to use as a job input by its id",
                "files",
                {
                    "201": _ok(
                        "the saved file",
                        file_record,
                        headers={
                            "Location": {
                                "required": True,
                                "schema": _STRING,
                                "description": "the file's URL",
                            }
                        },
                    ),
                    **_errors(403, 413),
                    "400": {"$ref": "#/components/responses/UploadBadRequest"},
                },
                parameters=[
                    _query_param("name", _STRING, "the file name, for a raw upload"),
                    _query_param("format", _STRING, "the format (default: the name's suffix)"),
                    {
                        "name": "X-File-Name",
                        "in": "header",
                        "required": False,
                        "description": "the file name, for a raw upload without ?name=",
                        "schema": _STRING,
                    },
                ],
                body=_body_content(
                    {
                        "multipart/form-data": {"schema": _ref("FileUpload")},
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        },
                    },
                    "one multipart part named file, or the raw bytes with the name in "
                    "?name= or X-File-Name",
                ),
            ),
        },
        f"{API}/files/{{file_id}}": {
            "parameters": [_param("FileId")],
            "get": _op(
                "getFile",
                "Download a file, or preview a text file",
                "files",
                {
                    "200": {
                        "description": (
                            "the file in its own content type, as an attachment; with "
                            "preview, a FilePreview (JSON)"
                        ),
                        "headers": _RATE_LIMIT_HEADERS,
                        "content": {
                            "application/json": {
                                "schema": {"anyOf": [_ref("FilePreview"), {}]},
                            },
                            "*/*": {"schema": {}},
                        },
                    },
                    **_errors(400, 404),
                },
                parameters=[
                    _query_param(
                        "preview",
                        {"type": "string", "enum": ["1", "true", "0", "false"]},
                        "1 or true: the start of a text file as JSON (400 for other formats)",
                    )
                ],
            ),
            "delete": _op(
                "deleteFile",
                "Delete an upload (a job's outputs go with their job)",
                "files",
                {"200": _ok("deleted", _ref("DeletedFile")), **_errors(403, 404, 409)},
            ),
        },
    }


def _public_paths() -> JsonDict:
    public_errors = {
        "404": {"$ref": "#/components/responses/PublicNotFound"},
        "429": {"$ref": "#/components/responses/PublicTooManyRequests"},
    }
    return {
        f"{PUBLIC_JOBS}/{{job_id}}": {
            "parameters": [_param("JobId")],
            "get": _op(
                "getPublicJob",
                "A public job's read-only page, for anyone with the link",
                "public",
                {
                    "200": {
                        "description": (
                            "the page, or with format=json (or Accept: application/json) "
                            "the job with its result"
                        ),
                        "content": {
                            "text/html": {"schema": _STRING},
                            "application/json": {"schema": _ref("PublicJob")},
                        },
                    },
                    **public_errors,
                },
                parameters=[
                    _query_param("format", {"type": "string", "enum": ["json", "html"]}, "json")
                ],
                security=[],
            ),
        },
        f"{PUBLIC_JOBS}/{{job_id}}/files/{{name}}": {
            "parameters": [_param("JobId"), _param("FileName")],
            "get": _op(
                "getPublicJobFile",
                "An output file of a public job, shown inline",
                "public",
                {
                    "200": {
                        "description": "the file in its own content type",
                        "headers": {"Content-Disposition": {"required": True, "schema": _STRING}},
                        "content": {"*/*": {"schema": {}}},
                    },
                    **public_errors,
                },
                security=[],
            ),
        },
    }


def build_document(server_url: str) -> JsonDict:
    """The whole document, with ``server_url`` (the Jupyter server's base URL, no
    trailing slash) as its one server."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "ProteinIQ for Jupyter",
            "version": __version__,
            "description": (
                "Protein and molecule tools as tracked, shareable, credit-metered jobs. "
                "Shapes follow the ProteinIQ public API v1: resources carry an object "
                "field, lists are {object: list, data, has_more, next_cursor} with "
                "cursor pagination (starting_after, limit 1-100), errors are "
                "{error: {code, message, details}}. Authenticate as to the Jupyter "
                "server: Authorization: token <token>, the token query parameter, or "
                "the login cookie."
            ),
        },
        "servers": [{"url": server_url, "description": "this Jupyter server"}],
        "security": [{"JupyterToken": []}, {"JupyterTokenQuery": []}],
        "tags": [
            {"name": name}
            for name in (
                "meta",
                "account",
                "tools",
                "jobs",
                "sharing",
                "batches",
                "events",
                "files",
                "public",
            )
        ],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "responses": _responses(),
            "headers": _headers(),
            "parameters": _parameters(),
            "securitySchemes": {
                "JupyterToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "the Jupyter server's token, sent as: token <token>",
                },
                "JupyterTokenQuery": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "token",
                    "description": (
                        "the token as a query parameter; Jupyter reads it before the "
                        "header, so a wrong one fails a request whatever the header says"
                    ),
                },
            },
        },
    }


class OpenApiHandler(PiqHandler):
    """``GET {API}/openapi.json``: the document, naming this server as reached by
    the request (scheme, host and Jupyter base URL)."""

    @authenticated
    async def get(self) -> None:
        origin = f"{self.request.protocol}://{self.request.host}"
        self.send_json(json.dumps(build_document(origin + self.base_url.rstrip("/"))))


def route_table() -> list[tuple[str, type[PiqHandler]]]:
    return [(DOCUMENT_PATH.replace(".", r"\."), OpenApiHandler)]
