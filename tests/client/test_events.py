"""One event subscription per client feeds every handle: jobs waited on at once
over HTTP open one stream between them; a dropped stream resumes where it left
off; in-process the same waits share the service's event bus."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from proteiniq_jupyter import api
from proteiniq_jupyter.client import Client, Job
from proteiniq_jupyter.client.events import apply_event
from proteiniq_jupyter.client.http import HttpTransport
from proteiniq_jupyter.client.transport import Connection
from proteiniq_jupyter.jobs.status import JobStatus

from ..helpers import Gate

WAITERS = 4


@pytest.fixture
def counted(stack: Any) -> Iterator[tuple[Client, list[httpx.Request]]]:
    """A fresh HTTP client, and the event streams it asks the server for."""
    transport = HttpTransport(
        stack.url, stack.token, Connection("http", stack.url, "given to the test")
    )
    streams: list[httpx.Request] = []

    def record(request: httpx.Request) -> None:
        if request.url.path.endswith("/events"):
            streams.append(request)

    transport._client.event_hooks["request"].append(record)
    client = Client(transport)
    yield client, streams
    client.close()


def wait_all(client: Client, jobs: list[Job], gate: Gate) -> list[Job]:
    """Wait for every job from threads of its own, all at once; the jobs run on
    once every wait is following them."""
    with ThreadPoolExecutor(len(jobs)) as pool:
        waits = [pool.submit(job.wait, 60, show=False) for job in jobs]
        try:
            assert client.transport.events.wait_watching(len(jobs), 60)
        finally:
            gate.open()
        return [w.result() for w in waits]


def test_concurrent_waits_over_http_share_one_stream(
    counted: tuple[Client, list[httpx.Request]], tmp_path: Path
) -> None:
    client, streams = counted
    gate = Gate(tmp_path / "gate")
    jobs = [
        client.run("sleep", f"held {n}", new=True, **gate.settings(steps=2)) for n in range(WAITERS)
    ]
    done = wait_all(client, jobs, gate)
    assert [job.status for job in done] == [JobStatus.COMPLETED] * WAITERS
    assert all(job.progress == 1.0 for job in done)
    assert len(streams) == 1
    assert streams[0].url.path.endswith("/api/v1/events")
    assert client.transport.events.watching() == 0


def test_a_dropped_stream_resumes_from_the_last_event(
    counted: tuple[Client, list[httpx.Request]], tmp_path: Path
) -> None:
    client, streams = counted
    gate = Gate(tmp_path / "gate")
    job = client.run("sleep", "held", new=True, **gate.settings(steps=3))
    events = client.transport.events
    seen, _ = events.watch(job.id)
    with seen, ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(job.wait, 60, show=False)
        try:
            assert events.wait_watching(2, 60)
            # the first step's event: the stream now has a place to resume from
            while (event := seen.get(60)) is None or event.data.get("progress") is None:
                pass
            events.drop_connection()  # type: ignore[attr-defined]
        finally:
            gate.open()
        assert waiting.result().status is JobStatus.COMPLETED
    assert len(streams) == 2
    assert streams[1].headers.get("Last-Event-ID") is not None


@pytest.mark.parametrize("client", ["inprocess"], indirect=True)
def test_concurrent_waits_in_process_share_the_bus(client: Client, tmp_path: Path) -> None:
    gate = Gate(tmp_path / "gate")
    bus = client.transport.service.bus  # type: ignore[attr-defined]
    jobs = [
        client.run("sleep", f"held {n}", new=True, **gate.settings(steps=2)) for n in range(WAITERS)
    ]
    subscribers = len(bus._subscribers)
    with ThreadPoolExecutor(WAITERS) as pool:
        waits = [pool.submit(job.wait, 60, show=False) for job in jobs]
        try:
            assert client.transport.events.wait_watching(WAITERS, 60)
            assert len(bus._subscribers) == subscribers
        finally:
            gate.open()
        done = [w.result() for w in waits]
    assert [job.status for job in done] == [JobStatus.COMPLETED] * WAITERS


def test_an_event_that_arrives_after_the_end_changes_nothing(client: Client) -> None:
    """A progress report overtaken by the job's end (a cancel answered in this
    process, then the worker's last report delivered) leaves the ended job as it is."""
    ended = client.run("protein-stats", "MKTAYIAKQR", new=True).wait(60, show=False)
    resource = client.job(ended.id).resource
    late = api.JobEvent.model_validate(
        {
            "id": 1,
            "object": "job_event",
            "job_id": ended.id,
            "kind": "progress",
            "status": "PROCESSING",
            "data": {"progress": 0.5, "progress_message": "half way"},
            "created_at": resource.created_at,
        }
    )
    after = apply_event(resource, late)
    assert after.status is JobStatus.COMPLETED
    assert after.progress == resource.progress
    assert after.progress_message == resource.progress_message


def test_a_rename_or_a_share_shows_from_its_event_on_an_ended_job(client: Client) -> None:
    """The events of a rename and of a change of sharing carry the new name and
    visibility, which show on the job whatever its status, as a read would give them."""
    ended = client.run("protein-stats", "MKTAYIAKQR", new=True).wait(60, show=False)
    before = client.transport.job(ended.id)
    seen: list[api.JobEvent] = []
    stop = client.transport.events.listen(
        lambda item: seen.append(item) if isinstance(item, api.JobEvent) else None
    )
    try:
        client.transport.rename(ended.id, "renamed from elsewhere")
        client.transport.share(ended.id, {"visibility": "public"})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and {e.kind for e in seen if e.job_id == ended.id} < {
            "renamed",
            "shared",
        }:
            time.sleep(0.05)
    finally:
        stop()
    shown = before
    for event in (e for e in seen if e.job_id == ended.id):
        shown = apply_event(shown, event)
    stored = client.job(ended.id).resource
    assert shown.status is JobStatus.COMPLETED
    assert (shown.name, shown.visibility) == (stored.name, stored.visibility)
    assert (stored.name, str(stored.visibility)) == ("renamed from elsewhere", "public")


def test_the_start_event_gives_the_start_time_and_the_charge(
    client: Client, tmp_path: Path
) -> None:
    """The event that takes a job to PROCESSING carries what a read would add: the
    start (its own time) and the credits charged as processing began."""
    gate = Gate(tmp_path / "gate")
    seen: list[api.JobEvent] = []
    stop = client.transport.events.listen(
        lambda item: seen.append(item) if isinstance(item, api.JobEvent) else None
    )
    try:
        submitted = client.run("sleep", "starting", new=True, **gate.settings(steps=2))
        assert submitted.resource.started_at is None

        def start() -> api.JobEvent | None:
            return next(
                (
                    e
                    for e in list(seen)
                    if e.job_id == submitted.id
                    and e.kind == "status"
                    and e.status is JobStatus.PROCESSING
                ),
                None,
            )

        deadline = time.monotonic() + 60
        while start() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        event = start()
        assert event is not None, "no PROCESSING event"
        shown = apply_event(submitted.resource, event)
        stored = client.job(submitted.id).resource
        assert shown.started_at == stored.started_at
        assert shown.credits.charged == stored.credits.charged == 10
    finally:
        stop()
        gate.open()


def test_wait_returns_on_the_ending_event_and_reads_the_rest_when_asked(
    counted: tuple[Client, list[httpx.Request]], tmp_path: Path
) -> None:
    """Waiting costs the submit and the shared stream, no read of the job; the
    times, credits and result the ending event does not carry are read once, on
    first use, and are those of the ended job."""
    client, _ = counted
    sent: list[str] = []
    client.transport._client.event_hooks["request"].append(  # type: ignore[attr-defined]
        lambda request: sent.append(f"{request.method} {request.url.path.split('/v1/')[1]}")
    )
    gate = Gate(tmp_path / "gate")
    job = client.run("sleep", "ends", new=True, **gate.settings(steps=2))
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(job.wait, 60, show=False)
        try:
            assert client.transport.events.wait_watching(1, 60)
        finally:
            gate.open()
        assert waiting.result() is job
    assert job.status is JobStatus.COMPLETED and job.progress == 1.0
    # the tool's slots and the account are read before the submit; no job is read
    assert sorted(s for s in sent if "jobs" in s or "events" in s) == ["GET events", "POST jobs"]
    assert job.resource.completed_at is not None and job.resource.duration_s is not None
    assert sent[-1] == f"GET jobs/{job.id}"
    assert job.result().results.fields["pid"] > 0
    assert job.resource.credits.charged == client.job(job.id).resource.credits.charged
    assert sent.count(f"GET jobs/{job.id}") == 2  # the first use, then client.job()
