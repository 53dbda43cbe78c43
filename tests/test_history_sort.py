"""The history in every sort order, across all its pages: each order walked page by
page gives every job once, in the order a person sorting the whole table expects
(ties and jobs with no duration included), with any filter, and a cursor of one
order is refused by another."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from proteiniq_jupyter.execution.inprocess import run_job
from proteiniq_jupyter.jobs.errors import ValidationError
from proteiniq_jupyter.jobs.model import Role
from proteiniq_jupyter.jobs.ports import JobFilter
from proteiniq_jupyter.jobs.sorting import SORT_VALUES, JobSort, sort_after, sort_cursor
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.store import tables as t

from .conftest import text_input

NAMES = ["screen", "Screen", "alpha", "screen", "zeta", "Émile", "screen", "b"]
STATUSES = [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.PENDING, JobStatus.CANCELLED]


def _history(service, tools, alice):
    """31 jobs of two people with many equal names, statuses and credits; some
    never started, some still running, some run for real."""
    bob_member = service.add_member(alice, "bob", Role.MEMBER)
    bob = service.sign_in(bob_member.user.username, workspace_id=alice.workspace_id)
    service.grant_credits(alice, 10_000)
    made = []
    for i in range(28):
        actor = bob if i % 3 == 0 else alice
        job = service.submit(actor, "echo", [text_input(f"job {i}")], name=NAMES[i % len(NAMES)])
        made.append(job.id)
    with service.store.write() as tx:
        for i, job_id in enumerate(made):
            job = tx.get_job(job_id)
            status = STATUSES[i % len(STATUSES)]
            started = job.created_at + timedelta(seconds=1) if i % 5 else None
            finished = None
            if started is not None and status is not JobStatus.PENDING:
                finished = started + timedelta(seconds=(i * 7) % 4 * 10)  # many equal
            if i % 7 == 0 and started is not None:
                status, finished = JobStatus.PROCESSING, None  # running: no duration yet
            tx.update_job(
                replace(
                    job,
                    status=status,
                    started_at=started,
                    finished_at=finished,
                    credits_charged=[0, 5, 0, 12][i % 4],
                )
            )
        # several jobs created at one moment still page cleanly
        at = tx.get_job(made[0]).created_at
        for job_id in made[3:8]:
            tx.conn.execute(t.jobs.update().where(t.jobs.c.id == job_id).values(created_at=at))
    for text in ("run one", "run two", "run three"):
        job = service.submit(alice, "echo", [text_input(text)], name="ran")
        run_job(service.runs, tools, job.id)
        made.append(job.id)
    # a batch child is never in the history, in any order
    child = service.submit(alice, "echo", [text_input("child")], name="aaa child")
    batch_id = _batch_of(service, alice, child.id)
    return made, batch_id


def _batch_of(service, alice, child_id):
    from proteiniq_jupyter.jobs.model import Batch, new_id

    batch = Batch(
        id=new_id("bat"),
        workspace_id=alice.workspace_id,
        submitter_id=alice.user_id,
        tool="echo",
        name="b",
        reserved_credits=0,
        created_at=service.clock(),
    )
    with service.store.write() as tx:
        tx.insert_batch(batch)
        tx.conn.execute(t.jobs.update().where(t.jobs.c.id == child_id).values(batch_id=batch.id))
    return batch.id


def _key(row: Any, column: str) -> Any:
    """What the table shows in a column, as a person would compare it."""
    job = row.job
    if column == "submitter":
        return row.submitter
    if column == "credits":
        return job.credits_charged or job.estimated_credits
    if column == "duration_s":
        if job.started_at is None or job.finished_at is None:
            return None
        return (job.finished_at - job.started_at).total_seconds()
    return getattr(job, column)


class _Row:
    def __init__(self, view: Any, names: dict[str, str]) -> None:
        self.job = view.job
        self.submitter = names[view.job.submitter_id]


def _expected(rows: list[_Row], column: str, descending: bool) -> list[str]:
    """Sorted by (value, id), both one way; rows with no value after all others."""
    valued = [r for r in rows if _key(r, column) is not None]
    valued.sort(key=lambda r: (_key(r, column), r.job.id), reverse=descending)
    empty = sorted((r for r in rows if _key(r, column) is None), key=lambda r: r.job.id)
    if descending:
        empty.reverse()
    return [r.job.id for r in valued + empty]


def _walk(service, actor, sort: JobSort, job_filter: JobFilter | None = None, limit: int = 4):
    seen, cursor = [], None
    while True:
        page = service.list_jobs(actor, job_filter, starting_after=cursor, limit=limit, sort=sort)
        assert len(page.items) <= limit
        seen.extend(v.job.id for v in page.items)
        if not page.has_more:
            return seen
        assert len(page.items) == limit
        cursor = page.next_cursor


def test_every_order_walks_every_page_once_in_order(service, tools, alice):
    made, _ = _history(service, tools, alice)
    names = {m.user.id: m.user.username for m in service.members(alice)}
    everything = [_Row(v, names) for v in service.list_jobs(alice, limit=100).items]
    assert sorted(r.job.id for r in everything) == sorted(made)
    orders_seen = set()
    for column in SORT_VALUES:
        for descending in (False, True):
            sort = JobSort.parse(column, "desc" if descending else "asc")
            seen = _walk(service, alice, sort)
            assert len(seen) == len(set(seen)) == len(made), (column, descending)
            assert seen == _expected(everything, column, descending), (column, descending)
            orders_seen.add(tuple(seen))
    assert len(orders_seen) == 2 * len(SORT_VALUES)  # every order is an order of its own
    # ties are real: many equal names, statuses, credits and durations
    for column in ("name", "status", "credits", "duration_s", "submitter"):
        values = [_key(r, column) for r in everything]
        assert len(set(values)) < len(values) / 2, column
    assert sum(_key(r, "duration_s") is None for r in everything) >= 5
    # code point order: upper case before lower case, accents after both
    by_name = [service.get(alice, i).job.name for i in _walk(service, alice, JobSort.parse("name"))]
    assert by_name.index("Screen") < by_name.index("alpha") < by_name.index("Émile")


def test_filters_combine_with_every_order(service, tools, alice):
    _history(service, tools, alice)
    names = {m.user.id: m.user.username for m in service.members(alice)}
    bob_id = next(i for i, n in names.items() if n == "bob")
    filters = [
        JobFilter(statuses=(JobStatus.COMPLETED, JobStatus.FAILED)),
        JobFilter(name_contains="scre"),
        JobFilter(submitter_id=bob_id),
        JobFilter(tool="echo", statuses=(JobStatus.CANCELLED,)),
    ]
    for job_filter in filters:
        rows = [_Row(v, names) for v in service.list_jobs(alice, job_filter, limit=100).items]
        assert rows
        for column in SORT_VALUES:
            for order in ("asc", "desc"):
                seen = _walk(service, alice, JobSort.parse(column, order), job_filter, limit=3)
                assert seen == _expected(rows, column, order == "desc"), (job_filter, column)


def test_a_batch_lists_its_children_in_any_order(service, tools, alice):
    _, batch_id = _history(service, tools, alice)
    for column in SORT_VALUES:
        seen = _walk(service, alice, JobSort.parse(column), JobFilter(batch_id=batch_id))
        assert [service.get(alice, i).job.name for i in seen] == ["aaa child"]


def test_a_cursor_of_one_order_is_refused_by_another(service, tools, alice):
    _history(service, tools, alice)
    cursors = {}
    for column in SORT_VALUES:
        for order in ("asc", "desc"):
            sort = JobSort.parse(column, order)
            cursors[sort] = service.list_jobs(alice, limit=2, sort=sort).next_cursor
    for made_for, cursor in cursors.items():
        for asked in cursors:
            if asked == made_for:
                assert service.list_jobs(alice, starting_after=cursor, sort=asked).items
                continue
            with pytest.raises(ValidationError) as refused:
                service.list_jobs(alice, starting_after=cursor, sort=asked)
            assert "not a cursor from this server" in refused.value.message
            assert refused.value.errors[0]["field"] == "starting_after"


def test_unknown_sort_or_order_names_the_valid_values():
    with pytest.raises(ValidationError) as refused:
        JobSort.parse("size")
    assert refused.value.message == (
        "unknown sort 'size'; sort by created_at, name, status, tool, submitter, "
        "credits, duration_s"
    )
    with pytest.raises(ValidationError) as refused:
        JobSort.parse("name", "up")
    assert refused.value.message == "unknown order 'up'; use asc or desc"
    assert JobSort.parse(None) == JobSort.parse("created_at", "desc")
    assert JobSort.parse("name") == JobSort.parse("name", "asc")


def test_the_job_table_offers_exactly_the_orders_the_server_reads():
    """The view's columns (js/src/views/JobTable.tsx) are the sort values the API takes."""
    source = (Path(__file__).parents[1] / "js" / "src" / "views" / "JobTable.tsx").read_text()
    declared = re.search(r"export type Column = ([^;]+);", source)
    assert declared is not None
    assert sorted(re.findall(r'"([a-z_]+)"', declared.group(1))) == sorted(SORT_VALUES)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("name", "bad\x00name"),  # no database stores text with NUL
        ("name", 7),
        ("credits", 2**40),  # past what the column holds
        ("credits", True),
        ("credits", "7"),
        ("duration_s", float("inf")),
        ("duration_s", "long"),
        ("created_at", "2026-01-01T00:00:00"),  # no timezone
        ("created_at", "9999-12-31T23:59:59-05:00"),  # past year 9999 in UTC
    ],
)
def test_a_cursor_this_server_did_not_make_is_refused(column, value):
    sort = JobSort.parse(column, "asc")
    made = sort_cursor(sort, value, "job_0123")
    with pytest.raises(ValidationError) as refused:
        sort_after(sort, made)
    assert refused.value.errors[0]["field"] == "starting_after"
    fine = {"name": "x", "credits": 3, "duration_s": None, "created_at": "2026-01-01T00:00:00Z"}
    assert sort_after(sort, sort_cursor(sort, fine[column], "job_0123")) is not None
