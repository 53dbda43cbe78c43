"""Batch machinery in the service: children beyond the workspace's concurrency wait
QUEUED, the total is held up front, failed children are refunded, the hold is fully
released at the end, and only failed children are re-run."""

from __future__ import annotations

from collections import Counter

import pytest

from proteiniq_jupyter.execution.inprocess import run_job
from proteiniq_jupyter.jobs.errors import InsufficientCredits, ValidationError
from proteiniq_jupyter.jobs.ports import JobFilter
from proteiniq_jupyter.jobs.status import JobStatus

from .conftest import text_input


def statuses(service, actor, batch_id):
    page = service.list_jobs(actor, JobFilter(batch_id=batch_id), limit=100)
    return {v.job.id: v.job.status for v in page.items}


def test_batch_holds_queues_and_releases(service, tools, alice):
    items = [[text_input(f"item {i:02d}")] for i in range(10)]  # 10 credits each
    summary = service.submit_batch(alice, "echo", items, name="ten echoes")
    assert summary.batch.reserved_credits == 100
    assert summary.counts == {"PENDING": 3, "QUEUED": 7}
    assert service.account(alice).available_credits == 400
    # children stay out of the team history
    assert service.list_jobs(alice).items == []

    most_processing = 0
    for _ in range(20):
        current = statuses(service, alice, summary.batch.id)
        waiting = [j for j, s in current.items() if s is JobStatus.PENDING]
        live = [s for s in current.values() if s in (JobStatus.PENDING, JobStatus.PROCESSING)]
        assert len(live) <= 3
        if not waiting:
            break
        job_id = sorted(waiting)[0]
        started = service.runs.start(job_id)
        most_processing = max(
            most_processing,
            Counter(statuses(service, alice, summary.batch.id).values())[JobStatus.PROCESSING],
        )
        if started.name.endswith("#4"):
            service.runs.fail(job_id, "platform fault")  # refunded
        else:
            service.runs.complete(job_id, _result())
    final = service.get_batch(alice, summary.batch.id)
    assert final.counts == {"COMPLETED": 9, "FAILED": 1}
    assert final.status == "PARTIAL" and final.progress == 1.0
    assert final.credits_charged == 90
    assert most_processing <= 3
    assert service.account(alice).available_credits == 410
    ledger = service.ledger(alice)
    held = -sum(e.delta for e in ledger if e.kind == "reserve")
    released = sum(e.delta for e in ledger if e.kind == "release")
    assert held == released == 100  # the hold is fully released


def _result():
    from proteiniq_jupyter.jobs.model import ToolResult

    return ToolResult(fields={"ok": True})


def test_retry_failed_children_reruns_only_those(service, tools, alice):
    items = [[text_input("fine")], [text_input("also fine")]]
    summary = service.submit_batch(alice, "echo", items, {"outcome": "ok"})
    first, second = summary.batch.child_ids
    service.runs.start(first)
    service.runs.complete(first, _result())
    service.runs.start(second)
    service.runs.fail(second, "worker exploded")
    rerun = service.retry_failed_children(alice, summary.batch.id)
    assert [j.origin_job_id for j in rerun] == [second]
    assert rerun[0].status is JobStatus.PENDING
    assert service.retry_failed_children(alice, summary.batch.id) == []  # once only
    run_job(service.runs, tools, rerun[0].id)
    final = service.get_batch(alice, summary.batch.id)
    assert final.counts == {"COMPLETED": 2, "FAILED": 1}
    assert service.account(alice).available_credits == 500 - 10 - 10  # two completed


def test_a_bad_item_refuses_the_whole_batch(service, alice):
    items = [[text_input("good")], [text_input("bad!")], [text_input("good")]]
    with pytest.raises(ValidationError) as info:
        service.submit_batch(alice, "echo", items)
    assert info.value.errors[0]["item"] == 2
    assert info.value.message.startswith("item 2:")
    assert service.list_batches(alice)[0] == []
    assert service.account(alice).available_credits == 500


def test_batch_needs_its_whole_total(service, alice):
    items = [[text_input("x" * 100)] for _ in range(6)]  # 6 x 100 credits
    with pytest.raises(InsufficientCredits):
        service.submit_batch(alice, "echo", items)
    assert service.list_batches(alice)[0] == []


def test_batch_pages_add_up_each_batch(service, alice):
    first = service.submit_batch(alice, "echo", [[text_input("a")], [text_input("b")]])
    second = service.submit_batch(alice, "echo", [[text_input("c")]])
    service.runs.start(second.batch.child_ids[0])
    page, cursor = service.list_batches(alice, limit=1)
    assert page == [service.get_batch(alice, second.batch.id)]
    assert page[0].counts == {"PROCESSING": 1}
    rest, end = service.list_batches(alice, starting_after=cursor, limit=1)
    assert rest == [service.get_batch(alice, first.batch.id)] and end is None
    assert rest[0].batch.child_ids == first.batch.child_ids
    assert rest[0].counts == {"PENDING": 2}


def test_cancel_batch_releases_everything(service, alice):
    items = [[text_input(f"n{i}")] for i in range(5)]
    summary = service.submit_batch(alice, "echo", items)
    service.runs.start(summary.batch.child_ids[0])
    cancelled = service.cancel_batch(alice, summary.batch.id)
    assert cancelled.counts == {"CANCELLED": 5}
    assert cancelled.status == "CANCELLED"
    # the started child keeps its charge; everything else is back
    assert service.account(alice).available_credits == 490
