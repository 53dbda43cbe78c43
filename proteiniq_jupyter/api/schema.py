"""The OpenAPI component schemas of the resources and request bodies, derived from
their models."""

from __future__ import annotations

import copy
import functools
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import (
    GenerateJsonSchema,
    JsonSchemaMode,
    JsonSchemaValue,
    models_json_schema,
)
from pydantic_core import core_schema

from . import budgets, errors, jobs, requests, scene, teams, tools, workspace

REF_TEMPLATE = "#/components/schemas/{model}"

#: What the server sends, by component name (the model's name).
RESPONSES: tuple[type[BaseModel], ...] = (
    errors.Error,
    jobs.Job,
    jobs.PublicJob,
    jobs.JobList,
    jobs.JobStatusResource,
    jobs.DeletedJob,
    jobs.JobResult,
    jobs.JobExport,
    jobs.JobEvent,
    jobs.Share,
    scene.StructureScene,
    workspace.Account,
    workspace.JobQuote,
    budgets.Budget,
    budgets.BudgetList,
    budgets.NotebookBudget,
    teams.Workspace,
    teams.WorkspaceList,
    teams.Member,
    teams.MemberList,
    teams.RemovedMember,
    workspace.Batch,
    workspace.BatchRetry,
    workspace.BatchList,
    workspace.FileRecord,
    workspace.FileList,
    workspace.FilePreview,
    workspace.DeletedFile,
    tools.ToolSummary,
    tools.ToolList,
    tools.ToolDetail,
)
#: What the server reads.
REQUESTS: tuple[type[BaseModel], ...] = (
    requests.JobCreate,
    requests.QuoteRequest,
    requests.JobUpdate,
    requests.JobDuplicate,
    requests.ShareUpdate,
    requests.BatchCreate,
    budgets.BudgetCreate,
    budgets.NotebookBudgetUpdate,
    teams.WorkspaceCreate,
    teams.MemberUpdate,
)


class _Schemas(GenerateJsonSchema):
    """pydantic's schemas without the titles it makes up from names, nor a null
    default for a field that is simply optional."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        generated = super().default_schema(schema)
        if "default" in generated and generated["default"] is None:
            del generated["default"]
        return generated


def components() -> dict[str, Any]:
    """Every schema the resources and request bodies need, by name (a copy of its own)."""
    return copy.deepcopy(_components())


@functools.cache
def _components() -> dict[str, Any]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        *((model, "serialization") for model in RESPONSES),
        *((model, "validation") for model in REQUESTS),
    ]
    _, document = models_json_schema(models, ref_template=REF_TEMPLATE, schema_generator=_Schemas)
    schemas: dict[str, Any] = document["$defs"]
    for schema in schemas.values():
        schema.pop("title", None)
    return schemas
