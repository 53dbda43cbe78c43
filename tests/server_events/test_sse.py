"""Live job events over Server-Sent Events, on a real server and on both database
backends: replay from ``Last-Event-ID`` joined to the live feed with nothing lost
or repeated, many streams at once, the end of a job's stream, who sees what, and
a commit in PostgreSQL that lands after a later one."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import pytest

from proteiniq_jupyter.jobs.model import JobEvent
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.server.event_cursor import EventCursor

from .conftest import Server, Stream, Writer, parse_sse

T = TypeVar("T")


async def off_loop(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run store work on a thread: the server shares this event loop."""
    return await asyncio.get_running_loop().run_in_executor(
        None, partial(function, *args, **kwargs)
    )


async def until(check: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        await asyncio.sleep(0.01)


async def subscribed(server: Server, count: int) -> None:
    await until(lambda: server.feed.subscribers == count, what=f"{count} subscribers")


# -- one job ---------------------------------------------------------------------


async def test_job_stream_replays_then_ends_after_the_final_status(
    server: Server, writer: Writer
) -> None:
    job = await off_loop(writer.submit)
    await off_loop(writer.run, job)
    log = await off_loop(writer.service.events, writer.alice, job)

    reply = await server.get("alice", f"jobs/{job}/events")
    assert reply.code == 200
    assert reply.headers["Content-Type"] == "text/event-stream"
    assert reply.headers["Cache-Control"] == "private, no-cache, no-transform"
    assert reply.headers["X-Accel-Buffering"] == "no"
    events = parse_sse(reply.body)
    assert [e.id for e in events] == [e.seq for e in log]
    assert [e.event for e in events] == [
        "created",
        "status",
        "progress",
        "progress",
        "progress",
        "status",
    ]
    last = events[-1].data
    assert last["object"] == "job_event" and last["id"] == events[-1].id
    assert last["job_id"] == job and last["status"] == "COMPLETED"
    assert last["data"]["status"] == "COMPLETED" and last["data"]["progress"] == 1.0

    # Resuming in the middle gives the rest; resuming after the end says there is
    # nothing more (204 stops an EventSource from reconnecting).
    rest = await server.get("alice", f"jobs/{job}/events", last_id=log[2].seq)
    assert [e.id for e in parse_sse(rest.body)] == [e.seq for e in log[3:]]
    by_query = await server.get("alice", f"jobs/{job}/events", last_event_id=log[4].seq)
    assert [e.id for e in parse_sse(by_query.body)] == [log[5].seq]
    done = await server.get("alice", f"jobs/{job}/events", last_id=log[-1].seq)
    assert done.code == 204 and not done.body


async def test_job_stream_follows_a_running_job_live_and_closes(
    server: Server, writer: Writer
) -> None:
    job = await off_loop(writer.submit)
    stream = server.stream("alice", f"jobs/{job}/events")
    await stream.wait_for(1)
    assert stream.events[0].event == "created"
    await off_loop(writer.run, job, steps=5, pause_s=0.02)
    response = await stream.finished()
    assert response is not None and response.code == 200
    log = await off_loop(writer.service.events, writer.alice, job)
    assert stream.ids == [e.seq for e in log]
    assert stream.events[-1].data["status"] == "COMPLETED"
    assert server.feed.subscribers == 0


async def test_history_ends_after_the_past_events_of_a_running_job(
    server: Server, writer: Writer
) -> None:
    """``history=1``: a timeline reads what happened so far, and the stream ends
    though the job has not (what comes next it takes from its live events)."""
    job = await off_loop(writer.submit)
    past = await server.get("alice", f"jobs/{job}/events", history="1")
    assert past.code == 200, past.body
    assert [e.event for e in parse_sse(past.body)] == ["created"]
    await off_loop(writer.run, job, steps=2)
    log = await off_loop(writer.service.events, writer.alice, job)
    after = await server.get("alice", f"jobs/{job}/events", history="true")
    assert [e.id for e in parse_sse(after.body)] == [e.seq for e in log]
    for value in ("2", "yes", ""):
        refused = await server.get("alice", f"jobs/{job}/events", history=value)
        assert refused.code == 400 and b"history must be 1 or 0" in refused.body
    assert server.feed.subscribers == 0


async def test_refusals(server: Server, writer: Writer) -> None:
    job = await off_loop(writer.submit)
    for path in (f"jobs/{job}/events", "events"):
        reply = await server.get(None, path)
        assert reply.code == 401, reply.body
    hidden = await server.get("bob", f"jobs/{job}/events")
    assert hidden.code == 404 and b"not_found" in hidden.body
    missing = await server.get("alice", "jobs/job_nope/events")
    assert missing.code == 404
    # Not a number, below zero, past what a 64-bit seq holds, past what int() reads.
    for value in ("abc", "-1", str(2**63), "9" * 30, "9" * 5000):
        reply = await server.client.fetch(
            server.url("events"),
            headers={**server.headers("alice"), "Last-Event-ID": value},
            raise_error=False,
        )
        assert reply.code == 400, reply.body
        by_query = await server.get("alice", f"jobs/{job}/events", last_event_id=value)
        assert by_query.code == 400, by_query.body
    assert server.feed.subscribers == 0


async def test_a_last_event_id_past_the_end_of_the_log_follows_from_now(
    server: Server, writer: Writer
) -> None:
    """An id no event has yet (a client of a database since replaced): the streams
    go on from now, rather than wait for ids that may never come."""
    job = await off_loop(writer.submit)
    beyond = 10**15
    following = server.stream("alice", f"jobs/{job}/events", last_id=beyond)
    everything = server.stream("alice", "events", last_id=beyond)
    await subscribed(server, 2)
    await off_loop(writer.run, job, steps=2, pause_s=0.0)
    response = await following.finished()
    assert response is not None and response.code == 200
    assert following.events[-1].data["status"] == "COMPLETED"
    await everything.wait_for(len(following.events))
    assert everything.events[-1].data["status"] == "COMPLETED"
    await everything.hang_up()


async def test_a_job_stream_reconnecting_gets_every_event_once_in_order(
    server: Server, writer: Writer
) -> None:
    """The client hangs up after a few events each time, mid-chunk, and comes back
    with the last id it handled (as a header, or as ``last_event_id``)."""
    job = await off_loop(writer.submit)
    driving = asyncio.ensure_future(off_loop(writer.run, job, steps=25, pause_s=0.01))
    rng = random.Random(20)
    received: list[int] = []
    connections = 0
    while True:
        last = received[-1] if received else None
        params: dict[str, Any] = {}
        if last is not None and connections % 2:
            params["last_event_id"] = last
            last = None
        stream = server.stream(
            "alice",
            f"jobs/{job}/events",
            last_id=last,
            hang_up_after=rng.randint(1, 4),
            **params,
        )
        response = await stream.finished(timeout=30)
        received += stream.ids
        connections += 1
        if response is not None:
            assert response.code in (200, 204)
            break
    await driving
    log = await off_loop(writer.service.events, writer.alice, job)
    assert received == [e.seq for e in log]
    assert connections >= 5
    assert log[-1].status is JobStatus.COMPLETED
    await subscribed(server, 0)


async def test_the_account_stream_reconnecting_gets_every_event_once_in_order(
    server: Server, writer: Writer
) -> None:
    baseline = await off_loop(writer.last_seq)
    pool = ThreadPoolExecutor(3)
    loop = asyncio.get_running_loop()

    def one_job(index: int) -> None:
        writer.run(writer.submit(f"job {index}"), steps=8, pause_s=0.01)

    driving = asyncio.gather(*(loop.run_in_executor(pool, one_job, i) for i in range(6)))
    rng = random.Random(3)
    received: list[int] = []
    expected: list[int] | None = None
    connections = 0
    try:
        while expected is None or len(received) < len(expected):
            stream = server.stream(
                "alice",
                "events",
                last_id=received[-1] if received else baseline,
                hang_up_after=rng.randint(1, 6),
            )
            while not stream.done:
                if driving.done() and expected is None:
                    expected = [e.seq for e in await off_loop(writer.events_after, baseline)]
                if expected is not None and len(received) + len(stream.events) >= len(expected):
                    break
                await asyncio.sleep(0.01)
            if stream.done:
                assert await stream.finished() is None  # only ever hung up by us
            else:
                await stream.hang_up()
            received += stream.ids
            connections += 1
    finally:
        await driving
        pool.shutdown()
    assert received == expected
    assert connections >= 10
    await subscribed(server, 0)


# -- many at once -------------------------------------------------------------------


async def test_a_hundred_streams_and_five_hundred_transitions_lose_nothing(
    server: Server, writer: Writer
) -> None:
    """100 clients of the account stream join while four writers move 100 jobs
    through 5 transitions each (start, three progress reports, complete). Each
    client resumes from the same id, so joins happen at every point of the
    run; each must get every event, once, in order."""
    baseline = await off_loop(writer.last_seq)
    jobs = [await off_loop(writer.submit, f"job {i}") for i in range(100)]
    pool = ThreadPoolExecutor(4)
    loop = asyncio.get_running_loop()
    driving = asyncio.gather(
        *(loop.run_in_executor(pool, partial(writer.run, job, steps=3)) for job in jobs)
    )
    streams: list[Stream] = []
    rng = random.Random(100)
    for _ in range(100):
        streams.append(server.stream("alice", "events", last_id=baseline))
        await asyncio.sleep(rng.uniform(0, 0.02))
    await driving
    pool.shutdown()
    expected = [e.seq for e in await off_loop(writer.events_after, baseline)]
    assert len(expected) == 100 + 500
    await until(
        lambda: all(len(s.events) >= len(expected) for s in streams),
        timeout=45,
        what="every stream to have every event",
    )
    for stream in streams:
        assert stream.ids == expected
    await asyncio.gather(*(s.hang_up() for s in streams))
    await subscribed(server, 0)


# -- who sees what ------------------------------------------------------------------


async def test_each_reader_gets_the_events_of_the_jobs_that_concern_them(
    server: Server, writer: Writer
) -> None:
    """Alice's private job shows to her teammate Tim as rows only (no error) and
    not at all to Bob; the job she shares with Bob by invitation shows to him
    with its contents. Replays from ``Last-Event-ID`` give the same as live."""
    private = await off_loop(writer.submit, "private")
    shared = await off_loop(writer.submit, "shared")
    baseline = await off_loop(writer.last_seq)
    await until(lambda: server.feed.through >= baseline, what="the feed to catch up")
    streams = {user: server.stream(user, "events") for user in ("alice", "tim", "bob")}
    await subscribed(server, 3)

    await off_loop(
        writer.service.share, writer.alice, shared, "invited", invite=["bob@other.example"]
    )
    await off_loop(writer.service.runs.start, private)
    await off_loop(writer.service.runs.fail, private, "the echo chamber collapsed")
    await off_loop(writer.run, shared, steps=1)

    log = await off_loop(writer.events_after, baseline)
    of_shared = [e.seq for e in log if e.job_id == shared]
    expected = {"alice": [e.seq for e in log], "tim": [e.seq for e in log], "bob": of_shared}
    # Nothing else may come: each reader's next event is one written after all
    # of these (a job of Alice's workspace, and one of Bob's own).
    last_of_team = await off_loop(writer.submit, "last")
    last_of_bob = await off_loop(writer.submit, "last", actor=writer.bob)
    closing = {e.job_id: e.seq for e in await off_loop(writer.events_after, log[-1].seq)}
    expected = {
        "alice": [*expected["alice"], closing[last_of_team]],
        "tim": [*expected["tim"], closing[last_of_team]],
        "bob": [*expected["bob"], closing[last_of_bob]],
    }
    for user, stream in streams.items():
        await stream.wait_for(len(expected[user]))
        assert stream.ids == expected[user], user

    failed = next(e for e in streams["alice"].events if e.data["status"] == "FAILED")
    assert failed.data["data"]["error"] == "the echo chamber collapsed"
    failed_for_tim = next(e for e in streams["tim"].events if e.data["status"] == "FAILED")
    assert "error" not in failed_for_tim.data["data"]
    assert failed_for_tim.data["data"]["status"] == "FAILED"
    shared_event = next(e for e in streams["tim"].events if e.event == "shared")
    assert "invited" not in shared_event.data["data"]
    assert all("error" in e.data["data"] for e in streams["bob"].events if e.event == "status")

    for user in ("alice", "tim", "bob"):
        replay = server.stream(user, "events", last_id=baseline)
        await replay.wait_for(len(expected[user]))
        assert replay.ids == expected[user], user
        assert [e.data for e in replay.events] == [e.data for e in streams[user].events]
        await replay.hang_up()

    assert (await server.get("bob", f"jobs/{private}/events")).code == 404
    bob_follows = await server.get("bob", f"jobs/{shared}/events")
    assert [e.id for e in parse_sse(bob_follows.body)] == [
        e.seq for e in await off_loop(writer.service.events, writer.alice, shared)
    ]
    await asyncio.gather(*(s.hang_up() for s in streams.values()))


# -- connections -------------------------------------------------------------------


async def test_streams_keep_alive_and_let_go_when_clients_leave(
    server: Server, writer: Writer
) -> None:
    job = await off_loop(writer.submit)
    streams = [server.stream("alice", "events") for _ in range(4)]
    streams.append(server.stream("alice", f"jobs/{job}/events"))
    await subscribed(server, 5)
    await until(lambda: all(s.comments >= 1 for s in streams), what='": keepalive" on each')
    await asyncio.gather(*(s.hang_up() for s in streams[:3]))
    await subscribed(server, 2)
    # A stopping server ends the streams still open.
    await server.feed.stop()
    for stream in streams[3:]:
        response = await stream.finished()
        assert response is not None and response.code == 200
    assert server.feed.subscribers == 0


# -- PostgreSQL's commit order -------------------------------------------------------


def _append_and_hold(
    writer: Writer, job_id: str, appended: list[int], release: threading.Event, *, commit: bool
) -> None:
    """Append an event in a transaction that stays open until ``release``, then
    commits it (or rolls it back)."""

    class RolledBack(Exception):
        pass

    try:
        with writer.store.write() as tx:
            job = tx.get_job(job_id)
            assert job is not None
            event = tx.append_event(job, "progress", {"status": "PROCESSING"}, datetime.now(UTC))
            appended.append(event.seq)
            release.wait(30)
            if not commit:
                raise RolledBack
    except RolledBack:
        pass


async def test_an_event_committed_late_is_sent_in_order_not_skipped(
    server: Server, writer: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction takes seq N and stays open while the next one takes N+1 and
    commits (PostgreSQL lets it; SQLite makes it wait). Nothing after N may be
    sent before N, and N must not be skipped."""
    job = await off_loop(writer.submit)
    await off_loop(writer.service.runs.start, job)
    baseline = await off_loop(writer.last_seq)
    stream = server.stream("alice", "events", last_id=baseline)
    await subscribed(server, 1)
    # What each of the feed's polls read up to, and what it handed out.
    handed: list[tuple[int, list[int]]] = []
    hand_out = server.feed._hand_out

    def recorded(polled: Any) -> None:
        handed.append((server.feed._cursor.high, [e.seq for e in polled.events]))
        hand_out(polled)

    monkeypatch.setattr(server.feed, "_hand_out", recorded)
    appended: list[int] = []
    release = threading.Event()
    holding = threading.Thread(
        target=_append_and_hold, args=(writer, job, appended, release), kwargs={"commit": True}
    )
    holding.start()
    await until(lambda: bool(appended), what="the slow transaction")
    later = asyncio.ensure_future(off_loop(writer.service.runs.progress, job, 0.5, "later"))
    if writer.store.backend == "postgresql":
        await later  # N+1 is committed, N is not
        after_n = appended[0] + 1
        await until(lambda: any(high >= after_n for high, _ in handed), what="a poll to read N+1")
        assert all(not seqs for high, seqs in handed if high >= after_n), handed  # N+1 waits
    assert stream.events == []
    release.set()
    await later
    holding.join()
    expected = [e.seq for e in await off_loop(writer.events_after, baseline)]
    assert expected == [appended[0], appended[0] + 1]
    await stream.wait_for(2)
    assert stream.ids == expected
    await stream.hang_up()


async def test_a_rolled_back_seq_holds_nothing_back(
    server: Server, writer: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A seq taken by a transaction that rolls back never comes; the feed sees that
    every transaction that could hold it has ended and goes on, not waiting for
    its last-resort grace period (made an hour here)."""
    job = await off_loop(writer.submit)
    await off_loop(writer.service.runs.start, job)
    baseline = await off_loop(writer.last_seq)
    stream = server.stream("alice", "events", last_id=baseline)
    await subscribed(server, 1)
    monkeypatch.setattr(server.feed._cursor, "gap_grace_s", 3600.0)
    appended: list[int] = []
    release = threading.Event()
    holding = threading.Thread(
        target=_append_and_hold, args=(writer, job, appended, release), kwargs={"commit": False}
    )
    holding.start()
    await until(lambda: bool(appended), what="the transaction to roll back")
    later = asyncio.ensure_future(off_loop(writer.service.runs.progress, job, 0.5, "after"))
    if writer.store.backend == "postgresql":
        await later  # committed after the seq that will never come
    release.set()
    await later
    holding.join()
    expected = [e.seq for e in await off_loop(writer.events_after, baseline)]
    assert len(expected) == 1
    await stream.wait_for(1, timeout=120)
    assert stream.ids == expected
    await stream.hang_up()


def _event(seq: int) -> JobEvent:
    return JobEvent(seq, "job_x", "ws_x", "progress", JobStatus.PROCESSING, {}, datetime.now(UTC))


def _seqs(events: list[JobEvent]) -> list[int]:
    return [e.seq for e in events]


def test_the_cursor_waits_for_a_missing_seq_exactly_as_long_as_it_may_come() -> None:
    """Marks are (oldest transaction in flight, next transaction number)."""
    cursor = EventCursor(gap_grace_s=10.0)
    cursor.start(5, (100, 103), now=0.0)
    assert not cursor.ready  # transactions 100-102 may hold seqs up to 5
    assert cursor.advance([], [], set(), (103, 104), 0.0) == []
    assert not cursor.ready  # seen before the marks that show them gone
    assert cursor.advance([], [], set(), (104, 104), 0.0) == []
    assert cursor.ready
    # 7 is in, 6 is not: transaction 104 may hold it.
    assert cursor.advance([_event(7)], [], set(), (104, 105), 0.1) == []
    assert cursor.advance([], [], {6}, (104, 105), 0.2) == []
    assert _seqs(cursor.advance([], [_event(6)], {6}, (105, 105), 0.3)) == [6, 7]
    # 8 was rolled back: let go once every transaction below 106 is seen to have ended.
    assert cursor.advance([_event(9)], [], set(), (105, 106), 0.4) == []
    assert cursor.advance([], [], {8}, (106, 106), 0.5) == []
    assert _seqs(cursor.advance([], [], {8}, (106, 106), 0.6)) == [9]
    # A transaction that never ends holds a gap only for the grace period.
    assert cursor.advance([_event(11)], [], set(), (106, 200), 1.0) == []
    assert cursor.advance([], [], {10}, (106, 200), 10.9) == []
    assert _seqs(cursor.advance([], [], {10}, (106, 200), 11.1)) == [11]
    assert cursor.through == 11 and not cursor.gaps and not cursor.held
    # Events released but not handed out (the job lookup failed) come out again.
    released = cursor.advance([_event(12), _event(14)], [], set(), (200, 200), 12.0)
    assert _seqs(released) == [12]
    cursor.take_back(released, 11)
    assert _seqs(cursor.advance([], [], {13}, (200, 200), 12.1)) == [12, 14]
    # On SQLite (no marks) a seq missing below a visible one never comes.
    sqlite = EventCursor(gap_grace_s=10.0)
    sqlite.start(0, None, 0.0)
    assert sqlite.ready
    assert _seqs(sqlite.advance([_event(2), _event(4)], [], set(), None, 0.0)) == [2, 4]


# -- both paths --------------------------------------------------------------------


async def test_commits_of_another_process_and_of_this_server_reach_the_stream(
    server: Server, writer: Writer
) -> None:
    """A commit by another process (found by polling) and one by the server's own
    service (which also wakes the feed) both reach a follower, in order. How soon
    is measured by benchmarks/latency.py."""
    job = await off_loop(writer.submit)
    await off_loop(writer.service.runs.start, job)
    stream = server.stream("alice", f"jobs/{job}/events", last_id=await off_loop(writer.last_seq))
    await subscribed(server, 1)
    for label, service in (
        ("other process", writer.service.runs),
        ("this server", server.state.service.runs),
    ):
        messages = [f"{label} {i}" for i in range(20)]

        def report(service: Any = service, messages: list[str] = messages) -> None:
            for message in messages:
                service.progress(job, 0.5, message)

        before = len(stream.events)
        await off_loop(report)
        await stream.wait_for(before + len(messages))
        assert [e.data["data"]["progress_message"] for e in stream.events[before:]] == messages
    await stream.hang_up()


async def test_a_reader_taken_out_of_the_team_stops_getting_its_events(
    server: Server, writer: Writer
) -> None:
    """Tim follows the team's events; taken out of alice's workspace, his stream
    ends while the team's events keep coming, and once he reconnects he gets his
    own workspace's events, never the team's."""
    stream = server.stream("tim", "events")
    await subscribed(server, 1)
    first = await off_loop(writer.submit, "before")
    await until(lambda: first in {e.data["job_id"] for e in stream.events}, what="the team's job")
    workspace = writer.alice.workspace_id
    assert workspace is not None
    await off_loop(writer.service.remove_team_member, writer.alice, workspace, "tim")
    deadline = time.monotonic() + 20
    while not stream.done:  # a busy team: its events keep coming until the stream ends
        assert time.monotonic() < deadline, "tim's stream went on"
        await off_loop(writer.submit, "after")
        await asyncio.sleep(0.05)
    response = await stream.finished()
    assert response is not None and response.code == 200

    again = server.stream("tim", "events", last_id=stream.ids[-1])
    await subscribed(server, 1)
    team_job = await off_loop(writer.submit, "the team's, unseen")
    own = writer.service.sign_in("tim")
    assert own.workspace_id != workspace
    tims = await off_loop(writer.submit, "tim's own", actor=own)
    await until(lambda: tims in {e.data["job_id"] for e in again.events}, what="tim's own job")
    assert team_job not in {e.data["job_id"] for e in again.events}
    assert {e.data["job_id"] for e in again.events} == {tims}
    await again.hang_up()


async def test_a_stopping_server_answers_503_not_500(server: Server, writer: Writer) -> None:
    job = await off_loop(writer.submit)
    await server.extension.stop_extension()
    for path in (f"jobs/{job}/events", "events", f"jobs/{job}", "jobs"):
        reply = await server.get("alice", path)
        assert reply.code == 503, (path, reply.code, reply.body)
        assert b'"unavailable"' in reply.body and b"stopping" in reply.body, reply.body
        assert reply.headers.get("Retry-After"), reply.headers
