"""The small pieces the OpenAPI document is written with."""

from __future__ import annotations

from typing import Any

from ...jobs.model import FileOrigin

JsonDict = dict[str, Any]

#: Path parameters, each with the pattern its route matches, so a generated value
#: always reaches the handler. Tool ids and file names may not start with a dot:
#: clients normalise the segments "." and ".." away, which would be another URL.
ID_PATTERN = r"^[A-Za-z0-9_\-]+$"
TOOL_ID_PATTERN = r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*$"
FILE_NAME_PATTERN = r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*$"

ORIGINS = [str(o) for o in FileOrigin]


# -- small builders ---------------------------------------------------------------


def ref(name: str) -> JsonDict:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: JsonDict) -> JsonDict:
    return {"application/json": {"schema": schema}}


STRING: JsonDict = {"type": "string"}
INT: JsonDict = {"type": "integer"}
ANY_OBJECT: JsonDict = {"type": "object"}

RATE_LIMIT_HEADERS: JsonDict = {
    "X-RateLimit-Limit": {"$ref": "#/components/headers/X-RateLimit-Limit"},
    "X-RateLimit-Remaining": {"$ref": "#/components/headers/X-RateLimit-Remaining"},
    "X-RateLimit-Reset": {"$ref": "#/components/headers/X-RateLimit-Reset"},
}


def ok(description: str, schema: JsonDict, *, headers: JsonDict | None = None) -> JsonDict:
    """A JSON success response; every one passed the rate limiter, so it carries
    the limiter's headers."""
    return {
        "description": description,
        "headers": {**RATE_LIMIT_HEADERS, **(headers or {})},
        "content": json_content(schema),
    }


def errors(*statuses: int) -> JsonDict:
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
BODY_ERRORS = (400, 413, 415)


def param(name: str) -> JsonDict:
    return {"$ref": f"#/components/parameters/{name}"}


def body(schema: JsonDict, *, required: bool = True, description: str = "") -> JsonDict:
    return body_content(json_content(schema), description, required=required)


def body_content(content: JsonDict, description: str = "", *, required: bool = True) -> JsonDict:
    request_body: JsonDict = {"required": required, "content": content}
    if description:
        request_body["description"] = description
    return request_body


def query_param(name: str, schema: JsonDict, description: str) -> JsonDict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def op(
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
    operation: JsonDict = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "responses": responses,
    }
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = body
    if security is not None:
        operation["security"] = security
    return operation
