"""The status machine: every legal move works through the one transition function,
every illegal one is refused and changes nothing, and the event log replays a job's
whole history."""

from __future__ import annotations

from dataclasses import replace

import pytest

from proteiniq_jupyter.execution.inprocess import run_job
from proteiniq_jupyter.jobs.errors import Conflict
from proteiniq_jupyter.jobs.model import Job, ToolResult, new_id, utcnow
from proteiniq_jupyter.jobs.status import (
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    JobStatus,
    check_transition,
)

from .conftest import text_input

ALL = list(JobStatus)
LEGAL = [(a, b) for a in ALL for b in ALL if b in TRANSITIONS[a]]
ILLEGAL = [(a, b) for a in ALL for b in ALL if b not in TRANSITIONS[a]]


def test_table_matches_the_design():
    assert TRANSITIONS[JobStatus.QUEUED] == {JobStatus.PENDING, JobStatus.CANCELLED}
    assert TRANSITIONS[JobStatus.PENDING] >= {JobStatus.PROCESSING, JobStatus.CANCELLED}
    assert TRANSITIONS[JobStatus.PROCESSING] == {
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.TIMEOUT,
        JobStatus.CANCELLED,
        JobStatus.RETRY,
        JobStatus.BUDGET_EXCEEDED,
    }
    assert TRANSITIONS[JobStatus.RETRY] == {
        JobStatus.PROCESSING,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
    }
    for status in TERMINAL:
        assert TRANSITIONS[status] == frozenset(), f"{status} must be final"
    for a, b in ILLEGAL:
        with pytest.raises(IllegalTransition) as refused:
            check_transition("job_x", a, b)
        # answered as a 409 that names both ends of the move
        assert (refused.value.current, refused.value.target) == (a, b)
        assert refused.value.message == f"job job_x is {a} and cannot become {b}"
        assert refused.value.details == {"current_status": str(a), "requested_status": str(b)}


def _job_in(service, actor, status: JobStatus) -> Job:
    """A job row placed directly in ``status`` (with a reservation held, as a real
    job in that status would have)."""
    job = service.submit(actor, "echo", [text_input("status machine")])
    if status is not JobStatus.PENDING:
        forced = replace(job, status=status, attempts=1 if status is JobStatus.RETRY else 0)
        with service.store.write() as tx:
            tx.update_job(forced)
        job = forced
    return job


def test_every_pair_through_the_transition_function(service, alice):
    service.grant_credits(alice, 5000)
    for current in ALL:
        for target in ALL:
            job = _job_in(service, alice, current)
            events_before = len(service.events(alice, job.id))
            if target in TRANSITIONS[current]:
                with service._write() as (tx, outbox):
                    moved = service._transition(tx, outbox, job, target)
                assert moved.status is target
                stored = service.get(alice, job.id).job
                assert stored.status is target, (current, target)
                log = service.events(alice, job.id)
                assert len(log) == events_before + 1
                assert log[-1].kind == "status" and log[-1].status is target
            else:
                with pytest.raises(IllegalTransition), service._write() as (tx, outbox):
                    service._transition(tx, outbox, job, target)
                stored = service.get(alice, job.id).job
                assert stored.status is current, (current, target)
                assert len(service.events(alice, job.id)) == events_before


def test_public_operations_refuse_illegal_moves(service, tools, alice):
    job = service.submit(alice, "echo", [text_input("done soon")])
    run_job(service.runs, tools, job.id)
    assert service.get(alice, job.id).job.status is JobStatus.COMPLETED
    # a finished job cannot be cancelled, started, completed or failed again
    with pytest.raises(Conflict):
        service.cancel(alice, job.id)
    assert service.runs.start(job.id) is None
    assert service.runs.complete(job.id, ToolResult()) is None
    assert service.runs.fail(job.id, "late") is None
    assert service.get(alice, job.id).job.status is JobStatus.COMPLETED


def test_event_log_replays_the_whole_history(service, alice):
    job = service.submit(alice, "echo", [text_input("replay me")])
    service.runs.start(job.id)
    service.runs.progress(job.id, 0.25, "a quarter")
    service.runs.fail(job.id, "worker lost", transient=True)
    service.runs.start(job.id)
    service.runs.progress(job.id, 0.75, "most")
    service.rename(alice, job.id, "replayed")
    service.runs.complete(job.id, ToolResult(fields={"length": 9}))

    log = service.events(alice, job.id)
    seqs = [e.seq for e in log]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert [(e.kind, e.status) for e in log] == [
        ("created", JobStatus.PENDING),
        ("status", JobStatus.PROCESSING),
        ("progress", JobStatus.PROCESSING),
        ("status", JobStatus.RETRY),
        ("status", JobStatus.PROCESSING),
        ("progress", JobStatus.PROCESSING),
        ("renamed", JobStatus.PROCESSING),
        ("status", JobStatus.COMPLETED),
    ]
    # folding the log gives the job as stored
    state: dict[str, object] = {}
    for event in log:
        state["status"] = event.status
        state.update({k: v for k, v in event.data.items() if k != "status"})
    final = service.get(alice, job.id).job
    assert state["status"] is final.status
    assert state["name"] == final.name == "replayed"
    assert state["attempts"] == final.attempts == 2
    assert state["progress"] == final.progress == 1.0
    assert state["credits_charged"] == final.credits_charged
    # progress is written without reading the inputs, and leaves them as they were
    assert final.inputs == job.inputs and final.inputs[0].content == "replay me"
    # and events after a sequence number give exactly the rest, for reconnection
    assert service.events(alice, job.id, after_seq=seqs[3]) == log[4:]


def test_sequence_numbers_increase_across_jobs(service, alice):
    first = service.submit(alice, "echo", [text_input("one")])
    second = service.submit(alice, "echo", [text_input("two")])
    service.runs.start(first.id)
    service.runs.start(second.id)
    service.runs.complete(first.id, ToolResult())
    seqs = [e.seq for e in service.events(alice, first.id) + service.events(alice, second.id)]
    assert len(set(seqs)) == len(seqs)
    assert max(e.seq for e in service.events(alice, first.id)) > max(
        e.seq for e in service.events(alice, second.id)
    )


def test_identifiers_are_unguessable():
    ids = {new_id("job") for _ in range(1000)}
    assert len(ids) == 1000
    sample = next(iter(ids))
    assert len(sample.removeprefix("job_")) == 32  # 128 random bits as hex
    assert utcnow().tzinfo is not None
