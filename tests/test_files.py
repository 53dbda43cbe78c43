"""Files across jobs: uploads usable as job inputs by id, job outputs listed with
filters, each visible only to those who may see it, gone with its job."""

from __future__ import annotations

import pytest

from proteiniq_jupyter import api
from proteiniq_jupyter.execution.inprocess import run_job
from proteiniq_jupyter.jobs.errors import NotFound, PayloadTooLarge, ValidationError
from proteiniq_jupyter.jobs.model import FileOrigin, JobInput, Role
from proteiniq_jupyter.jobs.ports import FileFilter
from proteiniq_jupyter.jobs.status import JobStatus

from .conftest import text_input


def from_file(file_id: str) -> JobInput:
    return JobInput(
        id="text_1", slot_id="text", kind="text", format="text", content="", file_id=file_id
    )


def test_upload_then_run_a_job_on_it(service, tools, alice):
    record = service.upload_file(alice, "notes.txt", b"hello from a file")
    assert (record.origin, record.format, record.size) == (FileOrigin.UPLOAD, "txt", 17)
    path, again = service.get_file(alice, record.id)
    assert again == record and path.read_bytes() == b"hello from a file"
    job = service.submit(alice, "echo", [from_file(record.id)], {"outcome": "ok"})
    assert job.inputs[0].content == "hello from a file"
    assert job.inputs[0].label == "notes.txt"
    assert api.input_source(job.inputs[0]).model_dump() == {"type": "file", "file_id": record.id}
    run_job(service.runs, tools, job.id)
    assert service.get(alice, job.id).job.result.fields["echo"] == "hello from a file"


def test_job_outputs_are_listed_across_jobs_with_filters(service, tools, alice):
    service.upload_file(alice, "ligands.smi", b"CCO ethanol\n")
    jobs = []
    for text in ("first", "second"):
        job = service.submit(alice, "echo", [text_input(text)], name=text)
        run_job(service.runs, tools, job.id)
        jobs.append(job)
    files, cursor = service.list_files(alice)
    assert [f.name for f in files] == ["echo.txt", "echo.txt", "ligands.smi"]
    assert cursor is None
    assert [f.job_id for f in files[:2]] == [jobs[1].id, jobs[0].id]
    outputs, _ = service.list_files(alice, FileFilter(origin="JOB_OUTPUT"))
    assert len(outputs) == 2 and all(f.origin is FileOrigin.JOB_OUTPUT for f in outputs)
    assert [f.name for f in service.list_files(alice, FileFilter(format="smi"))[0]] == [
        "ligands.smi"
    ]
    assert [f.name for f in service.list_files(alice, FileFilter(name_contains="LIG"))[0]] == [
        "ligands.smi"
    ]
    page, cursor = service.list_files(alice, limit=2)
    assert len(page) == 2 and cursor is not None
    rest, end = service.list_files(alice, starting_after=cursor, limit=2)
    assert [f.name for f in rest] == ["ligands.smi"] and end is None
    path, record = service.get_file(alice, outputs[0].id)
    assert path.read_text() == "second" and record.job_id == jobs[1].id
    # the outputs go with their job
    service.delete(alice, jobs[1].id)
    assert len(service.list_files(alice, FileFilter(origin="JOB_OUTPUT"))[0]) == 1
    with pytest.raises(NotFound):
        service.get_file(alice, outputs[0].id)


def test_who_sees_which_file(service, tools, alice):
    service.add_member(alice, "tim", Role.MEMBER)
    tim = service.sign_in("tim", workspace_id=alice.workspace_id)
    olga = service.sign_in("olga")
    upload = service.upload_file(alice, "shared.txt", b"team data")
    job = service.submit(alice, "echo", [text_input("private work")])
    run_job(service.runs, tools, job.id)
    [output] = service.list_files(alice, FileFilter(origin="JOB_OUTPUT"))[0]
    # a teammate sees the workspace's uploads, not a private job's outputs
    assert [f.id for f in service.list_files(tim)[0]] == [upload.id]
    with pytest.raises(NotFound):
        service.get_file(tim, output.id)
    # someone of another workspace sees neither
    assert service.list_files(olga)[0] == []
    for file_id in (upload.id, output.id):
        with pytest.raises(NotFound):
            service.get_file(olga, file_id)
    with pytest.raises(ValidationError, match="no file"):
        service.submit(olga, "echo", [from_file(upload.id)])
    # once the job is public, its output can be fetched by anyone who has the job
    service.share(alice, job.id, "public")
    path, _ = service.get_file(olga, output.id)
    assert path.read_text() == "private work"


def test_bad_uploads(service, alice):
    for name in ("", "../escape.txt", ".hidden", "a/b.txt"):
        with pytest.raises(ValidationError):
            service.upload_file(alice, name, b"x")
    service.config = type(service.config)(max_upload_bytes=10)
    with pytest.raises(PayloadTooLarge) as info:
        service.upload_file(alice, "big.txt", b"x" * 11)
    assert info.value.http_status == 413
    assert service.list_files(alice)[0] == []
    service.add_member(alice, "vera", Role.VIEWER)
    vera = service.sign_in("vera", workspace_id=alice.workspace_id)
    with pytest.raises(Exception, match="viewer"):
        service.upload_file(vera, "v.txt", b"x")


def test_a_job_status_is_unaffected_by_files(service, tools, alice):
    job = service.submit(alice, "echo", [text_input("x")], {"outcome": "error"})
    run_job(service.runs, tools, job.id)
    assert service.get(alice, job.id).job.status is JobStatus.FAILED
    assert service.list_files(alice)[0] == []  # a failed job lists no outputs
