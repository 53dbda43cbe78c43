"""The paths of the REST routes (``routes.py``): account, tools, jobs and batches."""

from __future__ import annotations

from ..routes import API
from .budgets import budget_paths
from .builders import (
    BODY_ERRORS,
    RATE_LIMIT_HEADERS,
    STRING,
    JsonDict,
    body,
    errors,
    ok,
    op,
    param,
    ref,
)
from .streams import event_paths, file_paths, public_paths
from .teams import team_paths


def paths() -> JsonDict:
    """The REST routes of routes.py; the event streams, files and public pages
    of their own modules follow."""
    job_id, batch_id = param("JobId"), param("BatchId")
    page = [param("Limit"), param("StartingAfter")]
    job = ref("Job")
    batch = ref("Batch")
    return {
        f"{API}/openapi.json": {
            "get": op(
                "getOpenApiDocument",
                "This document",
                "meta",
                {"200": ok("the OpenAPI document", ref("OpenApiDocument")), **errors()},
                description=(
                    "Served to signed-in users only, like Jupyter's own /api/spec.yaml: "
                    "every client that can use the API already holds a token, and an "
                    "anonymous scanner learns nothing about the server from it."
                ),
            )
        },
        f"{API}/account": {
            "get": op(
                "getAccount",
                "The workspace, its credits and limits",
                "account",
                {"200": ok("the account", ref("Account")), **errors()},
            )
        },
        f"{API}/tools": {
            "get": op(
                "listTools",
                "Every installed tool",
                "tools",
                {"200": ok("the tools (one page)", ref("ToolList")), **errors()},
            )
        },
        f"{API}/tools/{{tool_id}}": {
            "get": op(
                "getTool",
                "A tool's detail: slots, settings schema, outputs, limits",
                "tools",
                {"200": ok("the tool", ref("ToolDetail")), **errors(404)},
                parameters=[param("ToolId")],
            )
        },
        f"{API}/jobs/quote": {
            "post": op(
                "quoteJob",
                "What a run would cost and whether it could start now",
                "jobs",
                {"200": ok("the quote", ref("JobQuote")), **errors(*BODY_ERRORS, 403)},
                body=body(ref("QuoteRequest")),
                description=(
                    "Problems with the tool, the input or the settings are listed in "
                    "blocking_errors rather than refused, so a form can show them all; "
                    "only a body that is not a JSON object with input.inputs is a 400."
                ),
            )
        },
        f"{API}/jobs": {
            "get": op(
                "listJobs",
                "The workspace's jobs, newest first unless sorted otherwise",
                "jobs",
                {"200": ok("a page of jobs", ref("JobList")), **errors(400, 404)},
                parameters=[
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "description": (
                            "only jobs in these statuses (repeat the parameter, or "
                            "separate with commas; case does not matter)"
                        ),
                        "schema": {"type": "array", "items": ref("JobStatus")},
                        "style": "form",
                        "explode": True,
                    },
                    {
                        "name": "tool",
                        "in": "query",
                        "required": False,
                        "description": "only this tool's jobs",
                        "schema": STRING,
                    },
                    {
                        "name": "submitter",
                        "in": "query",
                        "required": False,
                        "description": "only jobs submitted by this user id",
                        "schema": STRING,
                    },
                    param("Mine"),
                    {
                        "name": "q",
                        "in": "query",
                        "required": False,
                        "description": "only jobs whose name contains this text",
                        "schema": STRING,
                    },
                    {
                        "name": "batch",
                        "in": "query",
                        "required": False,
                        "description": "only this batch's children (404 for an unknown batch)",
                        "schema": STRING,
                    },
                    param("JobSort"),
                    param("SortOrder"),
                    *page,
                ],
            ),
            "post": op(
                "submitJob",
                "Submit a job",
                "jobs",
                {
                    "201": ok(
                        "the job, accepted (or the first job of a repeated Idempotency-Key)",
                        job,
                        headers={
                            "Location": {
                                "required": True,
                                "schema": STRING,
                                "description": "the job's URL",
                            }
                        },
                    ),
                    **errors(*BODY_ERRORS, 402, 403, 409),
                },
                parameters=[param("IdempotencyKey"), param("XIdempotencyKey")],
                body=body(ref("JobCreate")),
                description=(
                    "Validated, priced and its credits held, or refused with nothing "
                    "created: 400 names each problem of the input or settings, 402 when "
                    "credits or the concurrency limit do not allow it."
                ),
            ),
        },
        f"{API}/jobs/{{job_id}}": {
            "parameters": [job_id],
            "get": op("getJob", "A job", "jobs", {"200": ok("the job", job), **errors(404)}),
            "patch": op(
                "renameJob",
                "Rename a job (the name is all that can change)",
                "jobs",
                {"200": ok("the renamed job", job), **errors(*BODY_ERRORS, 403, 404)},
                body=body(ref("JobUpdate")),
            ),
            "delete": op(
                "deleteJob",
                "Delete a finished job, its event log and its files",
                "jobs",
                {
                    "200": ok("deleted", ref("DeletedJob")),
                    **errors(403, 404, 409),
                },
                description="A live job must be cancelled first (409 otherwise).",
            ),
        },
        f"{API}/jobs/{{job_id}}/cancel": {
            "parameters": [job_id],
            "post": op(
                "cancelJob",
                "Cancel a waiting or running job",
                "jobs",
                {"200": ok("the cancelled job", job), **errors(403, 404, 409)},
            ),
        },
        f"{API}/jobs/{{job_id}}/retry": {
            "parameters": [job_id],
            "post": op(
                "retryJob",
                "Run a FAILED, TIMEOUT or CANCELLED job again as a new job",
                "jobs",
                {"201": ok("the new job", job), **errors(400, 402, 403, 404, 409)},
            ),
        },
        f"{API}/jobs/{{job_id}}/duplicate": {
            "parameters": [job_id],
            "post": op(
                "duplicateJob",
                "Run a COMPLETED job again as a new job, optionally with other settings",
                "jobs",
                {
                    "201": ok("the new job", job),
                    **errors(*BODY_ERRORS, 402, 403, 404, 409),
                },
                body=body(ref("JobDuplicate"), required=False),
            ),
        },
        f"{API}/jobs/{{job_id}}/status": {
            "parameters": [job_id],
            "get": op(
                "getJobStatus",
                "A job's status (the polling fallback for its event stream)",
                "jobs",
                {"200": ok("the status", ref("JobStatusResource")), **errors(404)},
            ),
        },
        f"{API}/jobs/{{job_id}}/export": {
            "parameters": [job_id],
            "get": op(
                "exportJob",
                "A job's results as a CSV table or a JSON envelope, as a download",
                "jobs",
                {
                    "200": {
                        "description": "the export",
                        "headers": {
                            **RATE_LIMIT_HEADERS,
                            "Content-Disposition": {
                                "required": True,
                                "schema": STRING,
                                "description": 'attachment; filename="<job id>.<format>"',
                            },
                        },
                        "content": {
                            "text/csv": {"schema": STRING},
                            "application/json": {"schema": ref("JobExport")},
                        },
                    },
                    **errors(400, 404),
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
            "get": op(
                "getJobShare",
                "Who may see the job",
                "sharing",
                {"200": ok("the sharing settings", ref("Share")), **errors(403, 404)},
            ),
            "put": op(
                "shareJob",
                "Set the job's visibility and invited emails",
                "sharing",
                {
                    "200": ok("the sharing settings", ref("Share")),
                    **errors(*BODY_ERRORS, 403, 404),
                },
                body=body(ref("ShareUpdate")),
            ),
        },
        f"{API}/jobs/{{job_id}}/scene": {
            "parameters": [job_id],
            "get": op(
                "getJobScene",
                "What the job's result draws in 3D (structures, pLDDT, docked poses), "
                "as the structure views draw it; null when it has no structure",
                "jobs",
                {
                    "200": ok(
                        "the scene, or null",
                        {"oneOf": [ref("StructureScene"), {"type": "null"}]},
                    ),
                    **errors(404),
                },
            ),
        },
        f"{API}/jobs/{{job_id}}/files/{{name}}": {
            "parameters": [job_id, param("FileName")],
            "get": op(
                "getJobFile",
                "One output file of a job (as listed by results/{job_id})",
                "jobs",
                {
                    "200": {
                        "description": "the file, in its own content type",
                        "headers": {
                            **RATE_LIMIT_HEADERS,
                            "Content-Disposition": {
                                "required": False,
                                "schema": STRING,
                                "description": "attachment, unless download=0",
                            },
                        },
                        "content": {"*/*": {"schema": {}}},
                    },
                    **errors(404),
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
            "get": op(
                "getJobResult",
                "A job's results: fields, rows and files",
                "jobs",
                {
                    "200": ok("the result", ref("JobResult")),
                    **errors(404),
                    "409": {"$ref": "#/components/responses/JobNotCompleted"},
                },
            ),
        },
        f"{API}/batches": {
            "get": op(
                "listBatches",
                "The workspace's batches, newest first",
                "batches",
                {"200": ok("a page of batches", ref("BatchList")), **errors(400)},
                parameters=page,
            ),
            "post": op(
                "submitBatch",
                "One job per item, run as a batch",
                "batches",
                {
                    "201": ok(
                        "the batch, accepted (or the first batch of a repeated Idempotency-Key)",
                        batch,
                    ),
                    **errors(*BODY_ERRORS, 402, 403, 409),
                },
                parameters=[param("IdempotencyKey"), param("XIdempotencyKey")],
                body=body(ref("BatchCreate")),
                description=(
                    "Every item is validated first (a bad one refuses the whole batch, "
                    "naming it) and the total is held up front. A repeated Idempotency-Key "
                    "returns the first batch; one used by another person of the workspace "
                    "is a 409 conflict."
                ),
            ),
        },
        f"{API}/batches/{{batch_id}}": {
            "parameters": [batch_id],
            "get": op(
                "getBatch",
                "A batch and what its children add up to",
                "batches",
                {"200": ok("the batch", batch), **errors(404)},
            ),
        },
        f"{API}/batches/{{batch_id}}/cancel": {
            "parameters": [batch_id],
            "post": op(
                "cancelBatch",
                "Cancel every child still waiting or running",
                "batches",
                {"200": ok("the batch", batch), **errors(403, 404)},
            ),
        },
        f"{API}/batches/{{batch_id}}/retry-failed": {
            "parameters": [batch_id],
            "post": op(
                "retryFailedBatchChildren",
                "Run the failed, timed-out or cancelled children again, once each",
                "batches",
                {
                    "201": ok("the batch, with the new children's ids", ref("BatchRetry")),
                    **errors(402, 403, 404, 409),
                },
            ),
        },
        **budget_paths(),
        **team_paths(),
        **event_paths(),
        **file_paths(),
        **public_paths(),
    }
