"""The paths whose answers are streams, files or pages: live events, workspace
files and the public job pages."""

from __future__ import annotations

from ...links import SERVER_PUBLIC_PATH
from ..routes import API
from .builders import (
    ORIGINS,
    RATE_LIMIT_HEADERS,
    STRING,
    JsonDict,
    body_content,
    errors,
    ok,
    op,
    param,
    query_param,
    ref,
)

PUBLIC_JOBS = "/" + SERVER_PUBLIC_PATH


def event_stream(description: str) -> JsonDict:
    return {
        "description": description,
        "headers": {
            **RATE_LIMIT_HEADERS,
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
                            "contentSchema": ref("JobEvent"),
                        },
                    },
                    "required": ["id", "event", "data"],
                    "additionalProperties": False,
                },
            }
        },
    }


def event_paths() -> JsonDict:
    resume = [param("LastEventId"), param("LastEventIdQuery")]
    return {
        f"{API}/jobs/{{job_id}}/events": {
            "parameters": [param("JobId")],
            "get": op(
                "streamJobEvents",
                "A job's events as Server-Sent Events, until it ends",
                "events",
                {
                    "200": event_stream(
                        "the job's history after Last-Event-ID, then its live events; "
                        "the stream ends after a final status"
                    ),
                    "204": {
                        "description": (
                            "the job has ended and the client already has every event "
                            "(an EventSource stops reconnecting)"
                        ),
                        "headers": RATE_LIMIT_HEADERS,
                    },
                    **errors(400, 404, 503),
                },
                parameters=[
                    *resume,
                    query_param(
                        "history",
                        {"type": "string", "enum": ["1", "true", "0", "false"]},
                        "1: end the stream after the events so far (the job's timeline)",
                    ),
                ],
                description=(
                    "Read it with fetch (an EventSource cannot send the Authorization "
                    "header); GET jobs/{job_id}/status is the polling fallback."
                ),
            ),
        },
        f"{API}/events": {
            "get": op(
                "streamEvents",
                "Events of every job that concerns the reader, as Server-Sent Events",
                "events",
                {
                    "200": event_stream(
                        "the events after Last-Event-ID (none without it), then live "
                        "ones; the stream does not end by itself"
                    ),
                    **errors(400, 503),
                },
                parameters=resume,
            ),
        },
    }


def file_paths() -> JsonDict:
    file_record = ref("FileRecord")
    return {
        f"{API}/files": {
            "get": op(
                "listFiles",
                "The workspace's files, newest first: uploads and job outputs",
                "files",
                {"200": ok("a page of files", ref("FileList")), **errors(400)},
                parameters=[
                    query_param("q", STRING, "only files whose name contains this text"),
                    query_param("format", STRING, "only files of this format (pdb, sdf ...)"),
                    query_param("origin", {"type": "string", "enum": ORIGINS}, "only these"),
                    param("Mine"),
                    param("Limit"),
                    param("StartingAfter"),
                ],
            ),
            "post": op(
                "uploadFile",
                "Upload a file, to use as a job input by its id",
                "files",
                {
                    "201": ok(
                        "the saved file",
                        file_record,
                        headers={
                            "Location": {
                                "required": True,
                                "schema": STRING,
                                "description": "the file's URL",
                            }
                        },
                    ),
                    **errors(403, 413),
                    "400": {"$ref": "#/components/responses/UploadBadRequest"},
                },
                parameters=[
                    query_param("name", STRING, "the file name, for a raw upload"),
                    query_param("format", STRING, "the format (default: the name's suffix)"),
                    {
                        "name": "X-File-Name",
                        "in": "header",
                        "required": False,
                        "description": "the file name, for a raw upload without ?name=",
                        "schema": STRING,
                    },
                ],
                body=body_content(
                    {
                        "multipart/form-data": {"schema": ref("FileUpload")},
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
            "parameters": [param("FileId")],
            "get": op(
                "getFile",
                "Download a file, or preview a text file",
                "files",
                {
                    "200": {
                        "description": (
                            "the file in its own content type, as an attachment; with "
                            "preview, a FilePreview (JSON)"
                        ),
                        "headers": RATE_LIMIT_HEADERS,
                        "content": {
                            "application/json": {
                                "schema": {"anyOf": [ref("FilePreview"), {}]},
                            },
                            "*/*": {"schema": {}},
                        },
                    },
                    **errors(400, 404),
                },
                parameters=[
                    query_param(
                        "preview",
                        {"type": "string", "enum": ["1", "true", "0", "false"]},
                        "1 or true: the start of a text file as JSON (400 for other formats)",
                    )
                ],
            ),
            "delete": op(
                "deleteFile",
                "Delete an upload (a job's outputs go with their job)",
                "files",
                {"200": ok("deleted", ref("DeletedFile")), **errors(403, 404, 409)},
            ),
        },
    }


def public_paths() -> JsonDict:
    public_errors = {
        "404": {"$ref": "#/components/responses/PublicNotFound"},
        "429": {"$ref": "#/components/responses/PublicTooManyRequests"},
    }
    return {
        f"{PUBLIC_JOBS}/{{job_id}}": {
            "parameters": [param("JobId")],
            "get": op(
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
                            "text/html": {"schema": STRING},
                            "application/json": {"schema": ref("PublicJob")},
                        },
                    },
                    **public_errors,
                },
                parameters=[
                    query_param("format", {"type": "string", "enum": ["json", "html"]}, "json")
                ],
                security=[],
            ),
        },
        f"{PUBLIC_JOBS}/{{job_id}}/files/{{name}}": {
            "parameters": [param("JobId"), param("FileName")],
            "get": op(
                "getPublicJobFile",
                "An output file of a public job, shown inline",
                "public",
                {
                    "200": {
                        "description": "the file in its own content type",
                        "headers": {"Content-Disposition": {"required": True, "schema": STRING}},
                        "content": {"*/*": {"schema": {}}},
                    },
                    **public_errors,
                },
                security=[],
            ),
        },
    }
