"""JobService operations as a user meets them: history lists and paging, rename,
delete, retry, duplicate and export. (Idempotent submit: test_idempotency.py.)"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from proteiniq_jupyter import api
from proteiniq_jupyter.execution.inprocess import run_job
from proteiniq_jupyter.jobs.errors import Conflict, JobNotCompleted, NotFound, ValidationError
from proteiniq_jupyter.jobs.export import to_dataframe
from proteiniq_jupyter.jobs.model import Batch, Role, ToolResult, new_id
from proteiniq_jupyter.jobs.paging import cursor_after, decode_cursor
from proteiniq_jupyter.jobs.ports import JobFilter
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.store import tables as t

from .conftest import text_input


def completed(service, tools, actor, text="alpha beta gamma", **settings):
    job = service.submit(actor, "echo", [text_input(text)], settings or None, name=f"echo {text}")
    run_job(service.runs, tools, job.id)
    return service.get(actor, job.id).job


# -- delete ----------------------------------------------------------------------


def test_delete_leaves_no_row_and_no_file(service, tools, alice, store):
    job = completed(service, tools, alice)
    service.share(alice, job.id, "invited", invite=["someone@lab.example"])
    folder = service.files.job_dir(job.id)
    assert (folder / "echo.txt").is_file()

    service.delete(alice, job.id)

    with store.read() as tx:
        for table in (t.jobs, t.job_events, t.job_invites):
            column = table.c.id if table is t.jobs else table.c.job_id
            count = tx.conn.execute(
                select(func.count()).select_from(table).where(column == job.id)
            ).scalar_one()
            assert count == 0, f"{table.name} still holds the job"
    assert not folder.exists()
    with pytest.raises(NotFound):
        service.get(alice, job.id)
    with pytest.raises(NotFound):
        service.delete(alice, job.id)


def test_a_running_job_must_be_cancelled_before_delete(service, alice):
    job = service.submit(alice, "echo", [text_input("busy")])
    service.runs.start(job.id)
    with pytest.raises(Conflict, match="cancel it"):
        service.delete(alice, job.id)
    service.cancel(alice, job.id)
    service.delete(alice, job.id)


# -- export ----------------------------------------------------------------------


def test_export_csv_field_by_field(service, tools, alice):
    job = completed(service, tools, alice, "alpha beta gamma", repeat=2)
    rows = list(csv.DictReader(io.StringIO(service.export(alice, job.id, "csv"))))
    assert len(rows) == 3  # one line per word in the tool's table
    for index, (row, word) in enumerate(zip(rows, ["alpha", "beta", "gamma"], strict=True)):
        assert row["job_id"] == job.id
        assert row["job_name"] == "echo alpha beta gamma"
        assert row["tool"] == "echo"
        assert row["status"] == "COMPLETED"
        assert row["created_at"] == job.created_at.isoformat()
        assert row["completed_at"] == job.finished_at.isoformat()
        assert row["length"] == "16"
        assert row["echo"] == "alpha beta gamma alpha beta gamma"
        assert row["index"] == str(index + 1)
        assert row["word"] == word
    assert list(rows[0]) == [
        "job_id",
        "job_name",
        "tool",
        "status",
        "created_at",
        "completed_at",
        "length",
        "echo",
        "index",
        "word",
    ]


def test_export_json_envelope(service, tools, alice):
    job = completed(service, tools, alice, "one two", repeat=3)
    data = json.loads(service.export(alice, job.id, "json"))
    assert data["object"] == "job_export"
    assert data["job_id"] == job.id
    assert data["name"] == "echo one two"
    assert data["tool"] == "echo"
    assert data["status"] == "COMPLETED"
    assert data["settings"] == {"repeat": 3, "outcome": "ok"}  # defaults filled in
    assert data["inputs"] == [api.JobInputItem.of(i).model_dump() for i in job.inputs]
    assert data["results"]["fields"] == {"length": 7, "echo": "one two one two one two"}
    assert data["results"]["rows"] == [{"index": 1, "word": "one"}, {"index": 2, "word": "two"}]
    assert data["files"] == [
        {"name": "echo.txt", "format": "text", "size": 23, "content_type": "text/plain"}
    ]
    assert data["credits_used"] == 30
    exported = data["exported_at"]
    assert exported >= data["completed_at"] >= data["created_at"]
    with pytest.raises(ValidationError):
        service.export(alice, job.id, "xlsx")


def test_export_to_pandas(service, tools, alice):
    jobs = [completed(service, tools, alice, text) for text in ("a b", "c")]
    frame = to_dataframe(jobs)
    assert list(frame["word"]) == ["a", "b", "c"]
    assert list(frame["job_id"]) == [jobs[0].id, jobs[0].id, jobs[1].id]
    assert str(frame["created_at"].dtype).startswith("datetime64")


def test_result_before_completion_says_so(service, alice):
    job = service.submit(alice, "echo", [text_input("wait")])
    with pytest.raises(JobNotCompleted) as info:
        service.result(alice, job.id)
    assert info.value.details == {"current_status": "PENDING"}


# -- history lists ---------------------------------------------------------------


def _make_batch_child(service, actor, tool="echo"):
    """A batch with one child job, written the way the batch machinery writes them."""
    batch = Batch(
        id=new_id("batch"),
        workspace_id=actor.workspace_id,
        submitter_id=actor.user_id,
        tool=tool,
        name="a batch",
        created_at=service.clock(),
        reserved_credits=0,
    )
    child = service.submit(actor, tool, [text_input("child")])
    with service.store.write() as tx:
        tx.insert_batch(batch)
        tx.conn.execute(t.jobs.update().where(t.jobs.c.id == child.id).values(batch_id=batch.id))
    return batch, child


def test_history_filters(service, tools, alice):
    bob_member = service.add_member(alice, "bob", Role.MEMBER)
    bob = service.sign_in(bob_member.user.username, workspace_id=alice.workspace_id)
    done = completed(service, tools, alice, "finished work")
    waiting = service.submit(bob, "echo", [text_input("queued up")], name="Bob's Query")
    failing = service.submit(alice, "echo", [text_input("doomed")], {"outcome": "error"})
    run_job(service.runs, tools, failing.id)
    batch, child = _make_batch_child(service, alice)

    def ids(**filters):
        return [v.job.id for v in service.list_jobs(alice, JobFilter(**filters)).items]

    # the team history: everyone's jobs, newest first, batch children left out
    assert ids() == [failing.id, waiting.id, done.id]
    assert ids(tool="echo") == [failing.id, waiting.id, done.id]
    assert ids(tool="nope") == []
    assert ids(statuses=(JobStatus.COMPLETED,)) == [done.id]
    assert ids(statuses=(JobStatus.FAILED, JobStatus.PENDING)) == [failing.id, waiting.id]
    assert ids(submitter_id=bob.user_id) == [waiting.id]
    assert ids(name_contains="bob's") == [waiting.id]
    assert ids(name_contains="%") == []  # wildcards are literal
    assert ids(batch_id=batch.id) == [child.id]
    views = service.list_jobs(alice).items
    assert views[1].job.name == "Bob's Query"
    assert views[1].permissions.see_contents is False  # bob's private job: row only
    assert views[1].job.settings == {}
    carol = service.sign_in("carol")
    with pytest.raises(NotFound):
        service.list_jobs(carol, JobFilter(batch_id=batch.id))


def test_cursor_paging_visits_every_job_once(service, alice):
    service.grant_credits(alice, 1000)
    base = service.clock()
    made = []
    for i in range(23):
        job = service.submit(alice, "echo", [text_input(f"page {i}")])
        made.append(job.id)
    # several jobs sharing one timestamp must still page cleanly
    with service.store.write() as tx:
        for job_id in made[5:10]:
            tx.conn.execute(t.jobs.update().where(t.jobs.c.id == job_id).values(created_at=base))
    seen, cursor, pages = [], None, 0
    while True:
        page = service.list_jobs(alice, starting_after=cursor, limit=4)
        pages += 1
        seen.extend(v.job.id for v in page.items)
        if not page.has_more:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))
    assert pages == 6
    created = [service.get(alice, i).job.created_at for i in seen]
    assert created == sorted(created, reverse=True)
    with pytest.raises(ValidationError) as refused:
        service.list_jobs(alice, starting_after="not-a-cursor")
    assert refused.value.message == "starting_after is not a cursor from this server"
    assert refused.value.errors == [
        {"field": "starting_after", "message": "not a cursor from this server"}
    ]
    for limit in (0, 101):
        with pytest.raises(ValidationError) as refused:
            service.list_jobs(alice, limit=limit)
        assert refused.value.message == "limit must be between 1 and 100"
        assert refused.value.errors == [{"field": "limit", "message": "must be between 1 and 100"}]


def test_a_cursor_goes_into_a_url_as_it_is_and_names_its_row():
    """URL-safe and unpadded whatever the length of what it encodes."""
    for at in (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5, 6, UTC)):
        for row in ("job_1", "job_12", "job_123"):
            cursor = cursor_after(at, row)
            assert cursor.replace("-", "").replace("_", "").isalnum(), cursor
            assert decode_cursor(cursor) == (at, row)


# -- rename, retry, duplicate --------------------------------------------------


def test_rename(service, alice):
    job = service.submit(alice, "echo", [text_input("nameless")])
    assert service.rename(alice, job.id, "  Kinase screen  ").name == "Kinase screen"
    assert service.get(alice, job.id).job.name == "Kinase screen"
    assert service.events(alice, job.id)[-1].data == {"name": "Kinase screen"}
    for bad in ("", "   ", "x" * 301):
        with pytest.raises(ValidationError):
            service.rename(alice, job.id, bad)


def test_retry_makes_a_new_job_with_the_same_inputs(service, tools, alice):
    failing = service.submit(alice, "echo", [text_input("try again")], {"outcome": "error"})
    run_job(service.runs, tools, failing.id)
    retried = service.retry(alice, failing.id)
    assert retried.id != failing.id
    assert retried.origin_job_id == failing.id
    assert retried.status is JobStatus.PENDING
    assert retried.inputs == service.get(alice, failing.id).job.inputs
    assert retried.settings == {"repeat": 1, "outcome": "error"}
    assert retried.name.endswith("(retry)")
    assert retried.estimated_credits == 10
    assert service.account(alice).available_credits == 490  # charged as usual
    done = completed(service, tools, alice)
    with pytest.raises(Conflict, match="COMPLETED"):
        service.retry(alice, done.id)


def test_duplicate_with_other_settings(service, tools, alice):
    done = completed(service, tools, alice, "copy me")
    copy = service.duplicate(alice, done.id, settings={"repeat": 3}, name="three times")
    assert copy.settings == {"repeat": 3, "outcome": "ok"}
    assert copy.name == "three times" and copy.origin_job_id == done.id
    run_job(service.runs, tools, copy.id)
    assert service.get(alice, copy.id).job.result.fields["echo"] == "copy me copy me copy me"
    with pytest.raises(ValidationError):
        service.duplicate(alice, done.id, settings={"repeat": 0})
    with pytest.raises(ValidationError):
        service.duplicate(alice, done.id, settings={"colour": "blue"})
    pending = service.submit(alice, "echo", [text_input("not yet")])
    with pytest.raises(Conflict):
        service.duplicate(alice, pending.id)


def test_a_duplicate_takes_a_setting_given_as_none_back_to_its_default(service, tools, alice):
    done = completed(service, tools, alice, "twice")
    thrice = service.duplicate(alice, done.id, settings={"repeat": 3, "outcome": "ok"})
    run_job(service.runs, tools, thrice.id)
    back = service.duplicate(alice, thrice.id, settings={"repeat": None})
    assert back.settings == {"repeat": 1, "outcome": "ok"}
    with pytest.raises(ValidationError, match="did you mean 'repeat'"):
        service.duplicate(alice, thrice.id, settings={"repaet": None})


def test_durations_and_timestamps(service, tools, alice):
    job = completed(service, tools, alice)
    assert job.started_at is not None and job.finished_at >= job.started_at
    assert job.duration_s is not None and job.duration_s < 60
    assert job.created_at <= job.started_at
    assert replace(job, finished_at=job.started_at + timedelta(seconds=5)).duration_s == 5


def test_unknown_tool_is_a_validation_error(service, alice):
    with pytest.raises(ValidationError) as info:
        service.submit(alice, "no-such-tool", [text_input("x")])
    assert info.value.errors[0]["field"] == "tool"


def test_complete_stores_files_in_the_manifest(service, tools, alice):
    job = completed(service, tools, alice, "manifest")
    [entry] = job.result.files
    assert (entry.name, entry.format, entry.size) == ("echo.txt", "text", 8)
    assert (service.files.job_dir(job.id) / entry.name).read_text() == "manifest"
    assert isinstance(job.result, ToolResult)
