"""JobTable: pages through the server's cursor (never the whole history), filters
by tool, status and name, and every row action from the page reaches the store;
rows follow the kernel's event feed with no call."""

from __future__ import annotations

import csv
import io
import json
import secrets
from pathlib import Path

import pytest

from proteiniq_jupyter.client import Client, Job
from proteiniq_jupyter.jobs.errors import NotFound
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.widgets import JobTable
from proteiniq_jupyter.widgets.base import feed_for

from ..helpers import Gate
from .conftest import FrontEnd


def made(client: Client, count: int, tag: str, **settings: object) -> list[Job]:
    """``count`` finished echo jobs named ``tag n``, oldest first."""
    return [
        client.run("echo", f"row {n}", name=f"{tag} {n}", new=True, **settings).wait(60)
        for n in range(count)
    ]


def made_free(client: Client, count: int, tag: str) -> list[Job]:
    """``count`` jobs of a free tool named ``tag n``, oldest first."""
    return [
        client.run("protein-stats", "MKTAYIAKQR", name=f"{tag} {n}", new=True).wait(60)
        for n in range(count)
    ]


def ids(rows: list[dict[str, object]]) -> list[object]:
    return [r["id"] for r in rows]


def test_pages_turn_forward_and_back_through_the_cursor(client: Client, front: FrontEnd) -> None:
    tag = f"paged {secrets.token_hex(3)}"
    jobs = made(client, 5, tag)
    newest_first = [j.id for j in reversed(jobs)]
    table = JobTable(client.transport, search=tag, page_size=2)
    state = front.opened_state(table)
    assert ids(state["rows"]) == newest_first[:2]
    assert state["page"] == 0 and state["has_more"] is True
    assert "echo" in state["tools"] and state["search"] == tag
    listed = client.jobs(search=tag, page_size=2).first_page()
    assert state["rows"] == [j.model_dump(mode="json") for j in listed]

    assert front.act(table, "page", to="next") == {
        "reply": front.of(table)[-1]["content"]["reply"],
        "ok": True,
        "error": None,
        "page": 1,
        "has_more": True,
        "count": 2,
    }
    assert ids(table.rows) == newest_first[2:4]
    last = front.act(table, "page", to="next")
    assert last["ok"] and last["has_more"] is False and ids(table.rows) == newest_first[4:]
    beyond = front.act(table, "page", to="next")
    assert beyond["ok"] is False and beyond["error"] == "this is the last page"
    assert front.act(table, "page", to="previous")["page"] == 1
    assert ids(table.rows) == newest_first[2:4]
    assert front.act(table, "page", to="first")["page"] == 0
    assert ids(front.updates(table, "rows")[-1]) == newest_first[:2]
    before = front.act(table, "page", to="previous")
    assert before["ok"] is False and before["error"] == "this is the first page"


def test_filters_by_tool_status_and_name(client: Client, front: FrontEnd) -> None:
    tag = f"filtered {secrets.token_hex(3)}"
    done = made(client, 2, tag)
    failed = client.run("echo", "x", name=f"{tag} broken", outcome="error", new=True).wait(60)
    table = JobTable(client.transport, page_size=50)
    assert front.act(table, "query", search=tag)["count"] == 3
    reply = front.act(table, "query", status=["FAILED"])
    assert reply["ok"] and ids(table.rows) == [failed.id]
    assert table.status == ["FAILED"] and front.updates(table, "status")[-1] == ["FAILED"]
    front.act(table, "query", status=[], tool="echo", search=f"{tag} 1")
    assert ids(table.rows) == [done[1].id]
    front.act(table, "query", tool="sleep", search=tag)
    assert table.rows == []
    bad_tool = front.act(table, "query", tool="no-such-tool")
    assert bad_tool["ok"] is False and "unknown tool 'no-such-tool'" in bad_tool["error"]
    bad_status = front.act(table, "query", status=["LOST"])
    assert bad_status["ok"] is False and "unknown status 'LOST'" in bad_status["error"]
    bad_size = front.act(table, "query", page_size=1000)
    assert bad_size["ok"] is False and "1 to 100" in bad_size["error"]
    assert table.tool == "sleep" and table.search == tag  # a refused query changes nothing


def test_rename_delete_retry_duplicate_reach_the_store(client: Client, front: FrontEnd) -> None:
    tag = f"menu {secrets.token_hex(3)}"
    [kept, doomed] = made(client, 2, tag)
    failed = client.run("echo", "x", name=f"{tag} failed", outcome="error", new=True).wait(60)
    table = JobTable(client.transport, search=tag)

    renamed = front.act(table, "rename", job=kept.id, name=f"{tag} renamed")
    assert renamed["ok"] and renamed["job"]["name"] == f"{tag} renamed"
    assert client.transport.job(kept.id).name == f"{tag} renamed"
    assert next(r for r in table.rows if r["id"] == kept.id)["name"] == f"{tag} renamed"
    empty = front.act(table, "rename", job=kept.id, name="  ")
    assert empty["ok"] is False and "cannot be empty" in empty["error"]

    assert front.act(table, "delete", job=doomed.id)["ok"]
    with pytest.raises(NotFound):
        client.transport.job(doomed.id)
    assert doomed.id not in ids(table.rows)
    again = front.act(table, "delete", job=doomed.id)
    assert again["ok"] is False and doomed.id in again["error"]

    retried = front.act(table, "retry", job=failed.id)
    assert retried["ok"] and retried["job"]["origin_job_id"] == failed.id
    twin = front.act(table, "duplicate", job=kept.id)
    assert twin["ok"] and twin["job"]["origin_job_id"] == kept.id
    # the new jobs show on the first page without a call
    front.wait_for(lambda: {retried["job"]["id"], twin["job"]["id"]} <= set(ids(table.rows)))


def test_export_share_and_link(client: Client, front: FrontEnd) -> None:
    [job] = made(client, 1, f"export {secrets.token_hex(3)}")
    table = JobTable(client.transport, search=job.name)
    as_csv = front.act(table, "export", job=job.id, format="csv")
    assert as_csv["ok"] and as_csv["filename"] == f"{job.id}.csv" and as_csv["mime"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(as_csv["text"])))
    assert rows and job.id in rows[0].values()
    assert as_csv["text"] == client.transport.export(job.id, "csv")
    as_json = front.act(table, "export", job=job.id, format="json")
    assert as_json["mime"] == "application/json" and job.id in json.dumps(
        json.loads(as_json["text"])
    )
    xml = front.act(table, "export", job=job.id, format="xml")
    assert xml["ok"] is False and "csv or json" in xml["error"]

    link = front.act(table, "link", job=job.id)
    if client.connection.transport == "http":
        assert link["link"].endswith(f"lab?jobId={job.id}")
    else:
        assert link["link"] is None
    shared = front.act(table, "share", job=job.id, visibility="public")
    assert shared["ok"] and shared["share"]["visibility"] == "public"
    assert str(client.transport.job(job.id).visibility) == "public"
    assert table.rows[0]["visibility"] == "public"
    refused = front.act(table, "share", job=job.id, visibility="everyone")
    assert refused["ok"] is False and "visibility must be one of" in refused["error"]
    assert str(client.transport.job(job.id).visibility) == "public"


def test_rows_follow_the_event_feed(client: Client, front: FrontEnd, tmp_path: Path) -> None:
    tag = f"live {secrets.token_hex(3)}"
    gate = Gate(tmp_path / "gate")
    table = JobTable(client.transport, search=tag)
    assert table.rows == []
    try:
        job = client.run("sleep", "live", name=f"{tag} sleeper", new=True, **gate.settings(steps=2))
        front.wait_for(lambda: ids(table.rows) == [job.id])
        front.wait_for(lambda: table.rows[0]["status"] == "PROCESSING")
        gate.open()
        front.wait_for(lambda: table.rows[0]["status"] == "COMPLETED")
        assert table.rows[0]["duration_s"] is not None
        assert front.updates(table, "rows")[-1][0]["status"] == "COMPLETED"
        client.transport.rename(job.id, f"{tag} renamed elsewhere")
        front.wait_for(lambda: table.rows[0]["name"] == f"{tag} renamed elsewhere")
    finally:
        gate.open()
    assert client.transport.job(job.id).status is JobStatus.COMPLETED


def test_jobs_that_end_together_are_read_with_one_page(
    client: Client, front: FrontEnd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three shown jobs let go at once: each row says COMPLETED from its event, and
    their durations come with one read of the page, not a read of each job; a
    rename elsewhere shows from its event alone."""
    tag = f"together {secrets.token_hex(3)}"
    gate = Gate(tmp_path / "gate")
    try:
        jobs = [
            client.run("sleep", "x", name=f"{tag} {n}", new=True, **gate.settings(steps=2))
            for n in range(3)
        ]
        table = JobTable(client.transport, search=tag)
        front.wait_for(lambda: sorted(ids(table.rows)) == sorted(j.id for j in jobs))
        front.wait_for(lambda: any(r["status"] == "PROCESSING" for r in table.rows))
        reads: list[str] = []
        transport = client.transport
        for name in ("job", "jobs"):
            original = getattr(transport, name)

            def counted(*args: object, _name: str = name, _original: object = original) -> object:
                reads.append(_name)
                return _original(*args)  # type: ignore[operator]

            monkeypatch.setattr(transport, name, counted)
        gate.open()
        front.wait_for(
            lambda: all(
                r["status"] == "COMPLETED" and r["duration_s"] is not None for r in table.rows
            ),
            timeout=60,
        )
        assert reads.count("job") == 0, reads
        assert 1 <= reads.count("jobs") <= 3, reads  # a read per burst, the jobs may end apart
        monkeypatch.undo()
        reads.clear()
        client.transport.rename(jobs[0].id, f"{tag} renamed")
        front.wait_for(lambda: f"{tag} renamed" in [r["name"] for r in table.rows])
    finally:
        gate.open()


def test_an_event_between_the_first_read_and_the_follow_is_not_lost(
    client: Client, front: FrontEnd
) -> None:
    """The table reads its first page, then starts following the feed: a job renamed
    in between still shows its new name."""
    tag = f"between {secrets.token_hex(3)}"
    (job,) = made(client, 1, tag)
    events = client.transport.events

    class RenamedWhileReading(JobTable):
        renamed = False

        def _load(self, page: int) -> None:
            super()._load(page)
            if not self.renamed:
                self.renamed = True
                before = events.progress()
                client.transport.rename(job.id, f"{tag} renamed")
                front.wait_for(lambda: events.progress() != before)

    table = RenamedWhileReading(client.transport, search=tag)
    assert [r["name"] for r in table.rows] == [f"{tag} renamed"]


@pytest.mark.timeout(60)
def test_a_widget_closed_inside_the_feeds_lock_leaves_the_feed_running(
    client: Client, front: FrontEnd
) -> None:
    """ipywidgets closes a widget from ``__del__``, so the garbage collector can close
    one at any allocation on any thread, the feed's own while it holds its lock among
    them. That close must not wait for the lock: the closed table stops following,
    and a table made afterwards follows the feed as before."""
    tag = f"closed {secrets.token_hex(3)}"
    closed = JobTable(client.transport, search=tag)
    feed = feed_for(client.transport.events)
    with feed._lock:  # where the collector may run, in the feed's thread
        closed.close()
    assert closed not in feed.followers(None)
    table = JobTable(client.transport, search=tag)
    job = client.run("echo", "after", name=f"{tag} after", new=True).wait(60)
    front.wait_for(lambda: ids(table.rows) == [job.id])
    assert closed.rows == []


def test_a_sort_gives_the_first_page_of_the_whole_history_in_that_order(
    client: Client, front: FrontEnd
) -> None:
    tag = f"sorted {secrets.token_hex(3)}"
    jobs = made_free(client, 5, tag)  # "tag 0" oldest ... "tag 4" newest
    table = JobTable(client.transport, search=tag, page_size=2)
    assert ids(table.rows) == [jobs[4].id, jobs[3].id]
    front.act(table, "page", to="next")
    reply = front.act(table, "sort", column="name")
    assert reply["ok"] and reply["page"] == 0 and reply["has_more"] is True
    # the oldest two come first: rows that were on later pages, not this page re-ordered
    assert ids(table.rows) == [jobs[0].id, jobs[1].id]
    assert table.sort == {"column": "name", "descending": False}
    assert front.updates(table, "sort")[-1] == {"column": "name", "descending": False}
    front.act(table, "page", to="next")
    assert ids(table.rows) == [jobs[2].id, jobs[3].id]
    assert front.act(table, "sort", column="name", descending=True)["page"] == 0
    assert ids(table.rows) == [jobs[4].id, jobs[3].id]
    front.act(table, "sort", column="created_at", descending=False)
    assert ids(table.rows) == [jobs[0].id, jobs[1].id]
    # the order stays when the filters change, and is what the table's frame reads
    front.act(table, "query", search=f"{tag} 3")
    assert ids(table.rows) == [jobs[3].id] and table.sort["column"] == "created_at"
    refused = front.act(table, "sort", column="colour")
    assert refused["ok"] is False and "colour" in refused["error"]
    assert "created_at, name, status" in refused["error"]
    assert table.sort == {"column": "created_at", "descending": False}


def test_the_table_of_piq_jobs_keeps_its_order(client: Client, front: FrontEnd) -> None:
    tag = f"ordered {secrets.token_hex(3)}"
    jobs = made_free(client, 3, tag)
    table = JobTable.of(client.jobs(search=tag, page_size=2, sort="name", descending=True))
    assert table.sort == {"column": "name", "descending": True}
    assert ids(table.rows) == [jobs[2].id, jobs[1].id]
    assert list(table.to_dataframe()["id"]) == [j.id for j in reversed(jobs)]


def test_to_dataframe_reads_every_page_the_filters_select(client: Client, front: FrontEnd) -> None:
    tag = f"frame {secrets.token_hex(3)}"
    jobs = made(client, 3, tag)
    table = JobTable(client.transport, search=tag, page_size=1)
    frame = table.to_dataframe()
    assert list(frame["id"]) == [j.id for j in reversed(jobs)]
    assert list(frame["name"]) == [j.name for j in reversed(jobs)]
    assert len(table.rows) == 1  # the page shown is still one row


def test_the_table_of_piq_jobs(client: Client, front: FrontEnd) -> None:
    tag = f"of {secrets.token_hex(3)}"
    made(client, 2, tag)
    rows = client.jobs(tool="echo", status="COMPLETED", search=tag, page_size=1)
    table = JobTable.of(rows)
    assert (table.tool, table.status, table.search, table.page_size) == (
        "echo",
        ["COMPLETED"],
        tag,
        1,
    )
    assert ids(table.rows) == [rows[0].id] and table.has_more
