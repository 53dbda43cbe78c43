"""The API's shapes as models: built without validation exactly as pydantic would
build them, written as the server has always written them, and request bodies
refused with the messages clients have always had."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from proteiniq_jupyter import api
from proteiniq_jupyter.api.schema import REQUESTS, RESPONSES, components
from proteiniq_jupyter.jobs.access import Permissions
from proteiniq_jupyter.jobs.errors import ValidationError
from proteiniq_jupyter.jobs.model import Job, JobInput, Page, ResultFile, ToolResult
from proteiniq_jupyter.jobs.provenance import (
    Derivation,
    ModelWeights,
    Provenance,
    Software,
    Worker,
)
from proteiniq_jupyter.jobs.reading import JobView
from proteiniq_jupyter.jobs.status import JobStatus

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def job(**changes: Any) -> Job:
    values: dict[str, Any] = {
        "id": "job_1",
        "workspace_id": "ws_1",
        "submitter_id": "usr_1",
        "tool": "echo",
        "name": "first",
        "status": JobStatus.COMPLETED,
        "inputs": (
            JobInput("text", "text", "text", "text", "héllo", label="note.txt", file_id="file_1"),
        ),
        "settings": {"repeat": 2},
        "created_at": NOW,
        "updated_at": NOW,
        "progress": 1.0,
        "started_at": NOW - timedelta(seconds=1.5e-5),
        "finished_at": NOW,
        "result": ToolResult({"length": 5}, [{"index": 1}], [ResultFile("echo.txt", "text", 5)]),
        "provenance": Provenance(
            derived_from="job_0",
            derivation=Derivation.RETRY,
            recorded_at=NOW,
            attempt=1,
            tool="echo",
            tool_version="1",
            software=(Software("gemmi", "library", "0.7.5"), Software("boltz", "program", None)),
            models=(ModelWeights("tiny", "/models/tiny", "sha256:ab"),),
            worker=Worker("node1", "Linux", "3.11.7", "AMD EPYC", 2, None, 2),
            inputs_fingerprint="sha256:01",
            settings_fingerprint="sha256:02",
        ),
    }
    return Job(**{**values, **changes})


def view(see_contents: bool = True) -> JobView:
    return JobView(job(), Permissions(see_row=True, see_contents=see_contents, change=False))


def test_a_job_is_written_as_before() -> None:
    text = api.render(api.Job.of(view(), {"usr_1": "alice"}))
    assert text == (
        '{"id": "job_1", "object": "job", "name": "first", "tool": "echo", '
        '"status": "COMPLETED", "status_reason": null, "progress": 1.0, '
        '"progress_message": null, "progress_estimated": false, "eta_seconds": null, '
        '"created_at": "2026-01-02T03:04:05.678901+00:00", '
        '"updated_at": "2026-01-02T03:04:05.678901+00:00", '
        '"started_at": "2026-01-02T03:04:05.678886+00:00", '
        '"completed_at": "2026-01-02T03:04:05.678901+00:00", "duration_s": 1.5e-05, '
        '"submitter": {"id": "usr_1", "username": "alice"}, "workspace_id": "ws_1", '
        '"batch_id": null, "origin_job_id": null, "visibility": "private", "attempts": 0, '
        '"credits": {"estimated": 0, "charged": 0, "held": 0, "max_credits": null, '
        '"budget_id": null}, '
        '"permissions": {"see_contents": true, "change": false}, "error": null, '
        '"input": {"inputs": [{"id": "text", "slotId": "text", "kind": "text", '
        '"format": "text", "content": "h\\u00e9llo", '
        '"source": {"type": "file", "file_id": "file_1"}, "label": "note.txt"}]}, '
        '"settings": {"repeat": 2}, "result": {"fields": {"length": 5}, '
        '"rows": [{"index": 1}], "files": [{"name": "echo.txt", "format": "text", '
        '"size": 5, "content_type": "text/plain"}]}, '
        '"provenance": {"derived_from": {"job_id": "job_0", "how": "retry"}, '
        '"recorded_at": "2026-01-02T03:04:05.678901+00:00", "attempt": 1, '
        '"tool": {"id": "echo", "version": "1"}, "software": ['
        '{"name": "gemmi", "kind": "library", "version": "0.7.5", "path": null}, '
        '{"name": "boltz", "kind": "program", "version": null, "path": null}], '
        '"models": [{"name": "tiny", "location": "/models/tiny", "fingerprint": "sha256:ab"}], '
        '"worker": {"host": "node1", "platform": "Linux", "python": "3.11.7", '
        '"cpu": "AMD EPYC", "cpus": 2, "gpu": null, "threads": 2}, '
        '"fingerprints": {"inputs": "sha256:01", "settings": "sha256:02"}}}'
    )


def test_contents_are_absent_not_null_for_a_reader_of_the_row() -> None:
    data = json.loads(api.render(api.Job.of(view(see_contents=False))))
    assert not {"error", "input", "settings", "result", "provenance"} & set(data)
    assert data["submitter"] == {"id": "usr_1", "username": None}


def test_a_list_page_leaves_provenance_to_the_job_read_by_its_id() -> None:
    page = json.loads(api.render(api.JobList.of(Page([view()], None))))
    assert "provenance" not in page["data"][0] and "settings" in page["data"][0]
    detail = json.loads(api.render(api.Job.of(view())))
    assert detail["provenance"]["tool"] == {"id": "echo", "version": "1"}


def resources() -> list[BaseModel]:
    return [
        api.Job.of(view()),
        api.Job.of(view(see_contents=False)),
        api.PublicJob.of(view(), "/files/{name}"),
        api.JobStatusResource.of(job()),
        api.JobResult.of(job(), "/files/{name}"),
        api.DeletedJob.of("job_1"),
        api.Error.of("not_found", "no job job_1", {"job_id": "job_1"}),
    ]


@pytest.mark.parametrize("resource", resources(), ids=lambda r: type(r).__name__)
def test_resources_are_built_as_pydantic_builds_them(resource: BaseModel) -> None:
    """The lean ``model_construct`` of resources makes what pydantic's makes."""
    pydantics = BaseModel.__dict__["model_construct"].__func__
    theirs = pydantics(type(resource), **resource.__dict__)
    assert resource.__dict__ == theirs.__dict__
    assert list(resource.__dict__) == list(theirs.__dict__)
    assert resource.model_fields_set == theirs.model_fields_set
    assert api.render(resource) == api.render(theirs)


def test_a_resource_without_a_required_field_is_not_built() -> None:
    with pytest.raises(KeyError):
        api.Submitter.model_construct(id="usr_1")


def test_every_shape_is_a_component() -> None:
    schemas = components()
    for model in (*RESPONSES, *REQUESTS):
        assert model.__name__ in schemas
    assert schemas["Job"]["additionalProperties"] is False
    assert "error" not in schemas["Job"]["required"]
    assert "object" in schemas["Job"]["required"]


def submission(**changes: Any) -> dict[str, Any]:
    item = {"slotId": "text", "content": "hello"}
    return {"tool": "echo", "input": {"inputs": [item]}, **changes}


REFUSALS: list[tuple[type[api.requests.Body], dict[str, Any], str, list[dict[str, str]]]] = [
    (
        api.JobCreate,
        {"tool": "echo"},
        "input.inputs must be a list of input items",
        [{"field": "input.inputs", "message": "must be a list"}],
    ),
    (
        api.JobCreate,
        submission(tool=""),
        "tool is required",
        [{"field": "tool", "message": "a tool id is required"}],
    ),
    (
        api.JobCreate,
        {"tool": "echo", "input": {"inputs": [5, {"slotId": 1, "label": 2, "source": "x"}]}},
        "input.inputs[0] must be an object; input.inputs[1].slotId must be a string; "
        "input.inputs[1].content must be a string; input.inputs[1].label must be a string; "
        "input.inputs[1].source must be an object",
        [
            {"field": "input.inputs[0]", "message": "must be an object"},
            {"field": "input.inputs[1].slotId", "message": "must be a string"},
            {"field": "input.inputs[1].content", "message": "must be a string"},
            {"field": "input.inputs[1].label", "message": "must be a string"},
            {"field": "input.inputs[1].source", "message": "must be an object"},
        ],
    ),
    (
        api.JobCreate,
        {
            "tool": "echo",
            "input": {
                "inputs": [
                    {"slotId": "a", "content": "", "source": {"type": "file", "file_id": 3}},
                    {"slotId": "b", "content": "", "source": {"type": ["pdb"]}},
                ]
            },
        },
        "input.inputs[0].source.file_id must be a string for a file source; "
        "input.inputs[1].source.type must be one of text, file, pdb, not ['pdb']",
        [
            {
                "field": "input.inputs[0].source.file_id",
                "message": "must be a string for a file source",
            },
            {
                "field": "input.inputs[1].source.type",
                "message": "must be one of text, file, pdb, not ['pdb']",
            },
        ],
    ),
    (
        api.JobCreate,
        submission(settings=[], name=5),
        "settings must be an object",
        [{"field": "settings", "message": "must be an object"}],
    ),
    (
        api.JobDuplicate,
        {"name": 5},
        "name must be a string",
        [{"field": "name", "message": "must be a string"}],
    ),
    (
        api.JobUpdate,
        {"tool": "x", "name": 5, "a": 1},
        "only the name of a job can be changed",
        [
            {"field": "a", "message": "cannot be changed"},
            {"field": "tool", "message": "cannot be changed"},
        ],
    ),
    (
        api.JobUpdate,
        {},
        "only the name of a job can be changed",
        [{"field": "name", "message": "required"}],
    ),
    (
        api.ShareUpdate,
        {"visibility": "invited", "invited_emails": ["a@lab.example", 5], "uninvite": 1},
        "invite must be a list of emails",
        [{"field": "invite", "message": "must be a list of emails"}],
    ),
    (
        api.BatchCreate,
        {"tool": 5, "items": [submission(), "x"]},
        "items[1] must be an object",
        [{"field": "items[1]", "message": "must be an object"}],
    ),
    (
        api.BatchCreate,
        {"tool": "echo", "items": [submission(), {"input": {"inputs": [{}]}}, {}]},
        "items[1].input.inputs[0].slotId must be a string; "
        "items[1].input.inputs[0].content must be a string",
        [
            {"field": "items[1].input.inputs[0].slotId", "message": "must be a string"},
            {"field": "items[1].input.inputs[0].content", "message": "must be a string"},
        ],
    ),
    (
        api.BatchCreate,
        {"tool": "echo", "items": [{}]},
        "items[0].input.inputs must be a list",
        [{"field": "items[0].input.inputs", "message": "must be a list"}],
    ),
    (
        api.BatchCreate,
        {"tool": 5},
        "items must be a non-empty list, each with its own input.inputs (or give one input "
        "for the tool to split)",
        [{"field": "items", "message": "must be a non-empty list"}],
    ),
    (
        api.BatchCreate,
        {"tool": 5, "input": {"inputs": []}},
        "tool is required",
        [{"field": "tool", "message": "a tool id is required"}],
    ),
]


@pytest.mark.parametrize(("model", "body", "message", "errors"), REFUSALS)
def test_refusals_keep_their_messages(
    model: type[api.requests.Body], body: dict[str, Any], message: str, errors: list[Any]
) -> None:
    with pytest.raises(ValidationError) as refused:
        model.parse(body)
    assert (refused.value.message, refused.value.errors) == (message, errors)


def test_bodies_become_what_the_service_takes() -> None:
    body = submission(name="n", settings={"repeat": 2}, extra="ignored")
    body["input"]["inputs"].append(
        {"slotId": "s", "content": "", "format": "pdb", "source": {"type": "pdb", "id": "1abc"}}
    )
    request = api.JobCreate.parse(body)
    assert (request.tool, request.name, request.settings) == ("echo", "n", {"repeat": 2})
    assert request.input.to_domain() == [
        JobInput(id="text", slot_id="text", kind="", format="", content="hello"),
        JobInput(id="s", slot_id="s", kind="", format="pdb", content="", pdb_id="1abc"),
    ]
    share = api.ShareUpdate.parse({"visibility": "all", "invited_emails": ["a@lab.example"]})
    assert (share.visibility, share.invite, share.uninvite) == ("all", ["a@lab.example"], [])
    batch = api.BatchCreate.parse({"tool": "echo", "items": [submission()], "input": 5})
    assert batch.input is api.MISSING and len(batch.children()) == 1
