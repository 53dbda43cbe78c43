"""Live job events as Server-Sent Events: ``GET jobs/{id}/events`` follows one job
until it ends, ``GET events`` follows every job that concerns the reader.

One feed per server reads the store for events after the last it has seen and
hands them to the streams open on this server. The store is the record: workers
in other processes write their jobs' events straight to it, so the feed reads them
from there; commits made in this process only wake it early.

An event's ``seq`` is its SSE id, so a stream must carry seqs in increasing order
with none left out, or a client resuming from ``Last-Event-ID`` would skip what it
never got. PostgreSQL hands out seqs in one order and commits them in another (a
transaction holding 10 can commit after the one holding 11), so the feed holds
events back above a missing seq until the seq shows up or cannot any more: every
transaction that could hold it has ended (``write_marks``: a write takes its
transaction number before its seq), or, as a last resort, ``gap_grace_s`` has
passed. On SQLite a writer holds the write lock until it commits, so a seq missing
below a visible one never comes.

A stream joins the feed without gap or repeat: it subscribes first, at the seq
the feed has released everything up to, replays the store up to that seq, then
takes live events after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from itertools import chain, pairwise
from typing import ClassVar

from tornado.ioloop import IOLoop
from tornado.iostream import StreamClosedError

from ..jobs.access import Actor
from ..jobs.errors import ValidationError
from ..jobs.model import JobEvent
from ..jobs.ports import Store
from ..jobs.reading import EventAudience, event_for_reader
from ..jobs.service import JobService
from ..resources import event_resource
from .base import ApiError, PiqHandler, authenticated
from .routes import API, JOB_ID
from .state import ServerState

log = logging.getLogger(__name__)

#: Where the server's feed lives in ``ServerState.extras``.
FEED_KEY = "event_feed"
#: Seconds between comments on a quiet stream, so proxies keep it open and a
#: client that went away is noticed.
KEEPALIVE_S = 15.0
#: How long a new stream waits for the feed to have its starting point.
READY_TIMEOUT_S = 30.0
#: Events read per replay query of the all-jobs stream.
REPLAY_PAGE = 500
#: Missing seqs re-read per poll, lowest first.
MAX_GAP_QUERY = 1000
#: A jump in seq longer than this (a sequence moved by hand) is not waited on.
MAX_TRACKED_GAP = 100_000


@dataclass
class _Gap:
    """A seq not seen while a higher one was. ``mark``: transactions numbered below
    it may still hold the seq (None: none can)."""

    mark: int | None
    seen_at: float


@dataclass
class _Polled:
    """What one poll released, in seq order, and the feed's position after it."""

    events: list[JobEvent]
    through: int
    ready: bool
    more: bool
    audiences: dict[str, EventAudience] = field(default_factory=dict)


class _Cursor:
    """The feed's place in the event log. Only the poll, one at a time on a pool
    thread, touches it."""

    def __init__(self, gap_grace_s: float) -> None:
        self.gap_grace_s = gap_grace_s
        self.started = False
        self.ready = False
        #: The highest seq read so far.
        self.high = 0
        #: Every seq up to here is released, or known never to come.
        self.through = 0
        self.held: dict[int, JobEvent] = {}
        self.gaps: dict[int, _Gap] = {}
        self.start_mark: int | None = None
        self.started_at = 0.0
        #: The oldest write in flight when the previous poll ended (None on SQLite).
        self.settled_below: int | None = None

    def start(self, last_seq: int, marks: tuple[int, int] | None, now: float) -> None:
        """Begin after ``last_seq``. Seqs up to it were taken before ``marks`` was
        read, so they are final once every transaction numbered below its second
        value has ended."""
        self.high = self.through = last_seq
        self.start_mark = None if marks is None or marks[0] >= marks[1] else marks[1]
        self.settled_below = None if marks is None else marks[0]
        self.ready = self.start_mark is None
        self.started_at = now
        self.started = True

    def advance(
        self,
        fresh: Sequence[JobEvent],
        refilled: Sequence[JobEvent],
        queried: set[int],
        marks: tuple[int, int] | None,
        now: float,
    ) -> list[JobEvent]:
        """Take one poll's reads (``refilled``: the missing seqs in ``queried``
        that showed up; ``fresh``: seqs above the highest so far; ``marks`` read
        after both) and release what no missing seq holds back any more."""
        settled = self.settled_below
        for event in refilled:
            if self.gaps.pop(event.seq, None) is not None:
                self.held[event.seq] = event
        mark = None if marks is None else marks[1]
        for event in fresh:
            if event.seq <= self.high:
                continue
            missing = event.seq - self.high - 1
            if missing > MAX_TRACKED_GAP:
                log.warning("event seq jumped from %s to %s; not waiting", self.high, event.seq)
            else:
                for seq in range(self.high + 1, event.seq):
                    self.gaps[seq] = _Gap(mark, now)
            self.held[event.seq] = event
            self.high = event.seq
        released: list[JobEvent] = []
        while self.through < self.high:
            seq = self.through + 1
            if seq in self.held:
                released.append(self.held.pop(seq))
                self.through = seq
                continue
            gap = self.gaps.get(seq)
            if gap is None:  # inside an untracked jump
                self.through = min(chain(self.held, self.gaps), default=self.high + 1) - 1
                continue
            if gap.mark is None or (settled is not None and settled >= gap.mark and seq in queried):
                del self.gaps[seq]
                self.through = seq
                continue
            if now - gap.seen_at > self.gap_grace_s:
                log.warning(
                    "event seq %s still missing after %ss; not waiting", seq, self.gap_grace_s
                )
                del self.gaps[seq]
                self.through = seq
                continue
            break
        if not self.ready and (
            self.start_mark is None
            or (settled is not None and settled >= self.start_mark)
            or now - self.started_at > self.gap_grace_s
        ):
            self.ready = True
        self.settled_below = None if marks is None else marks[0]
        return released

    def take_back(self, events: Sequence[JobEvent], through: int) -> None:
        """Undo a release that could not be handed out. Seqs between the events
        that were found never to come are simply not tracked any more."""
        for event in events:
            self.held[event.seq] = event
        self.through = through


class Subscription:
    """One open stream's share of the feed: batches of events its reader may see,
    in seq order, all after ``since``. None from ``next`` means it is over (the
    client left, the server stops, or the reader fell too far behind and should
    reconnect with ``Last-Event-ID``)."""

    def __init__(
        self, feed: EventFeed, actor: Actor, job_id: str | None, since: int, max_backlog: int
    ) -> None:
        self.feed = feed
        self.actor = actor
        self.job_id = job_id
        self.since = since
        self.closed = False
        self.overflowed = False
        self._max_backlog = max_backlog
        self._queued = 0
        self._queue: asyncio.Queue[list[JobEvent] | None] = asyncio.Queue()

    def offer(self, events: Sequence[JobEvent], audiences: dict[str, EventAudience]) -> None:
        """Queue what of ``events`` the reader may see. A followed job that the
        reader may no longer see (or that was deleted) ends its stream."""
        if self.closed:
            return
        batch: list[JobEvent] = []
        hidden = False
        for event in events:
            audience = audiences.get(event.job_id)
            shown = None
            if audience is not None:
                shown = event_for_reader(
                    self.actor, event, audience, job_stream=self.job_id is not None
                )
            if shown is not None:
                batch.append(shown)
            elif self.job_id is not None:
                hidden = True
                break
        if batch:
            if self._queued + len(batch) > self._max_backlog:
                self.overflowed = True
                self.close()
                return
            self._queued += len(batch)
            self._queue.put_nowait(batch)
        if hidden:
            self.close()

    async def next(self, timeout: float) -> list[JobEvent] | None:
        """The next batch; TimeoutError when none comes within ``timeout``."""
        batch = await asyncio.wait_for(self._queue.get(), timeout)
        if batch is None:
            self._queue.put_nowait(None)  # stays over for any later call
            return None
        self._queued -= len(batch)
        return batch

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.feed.forget(self)
        self._queue.put_nowait(None)


class EventFeed:
    """Polls the store for new events on the extension's thread pool (never on
    the event loop) and hands them to subscriptions. It polls every
    ``interval_s`` while anyone listens and every ``idle_interval_s`` otherwise,
    and at once when this process commits an event."""

    def __init__(
        self,
        store: Store,
        service: JobService,
        pool: Executor,
        *,
        interval_s: float = 0.005,
        idle_interval_s: float = 0.25,
        batch_size: int = 500,
        gap_grace_s: float = 15.0,
        max_backlog: int = 10_000,
    ) -> None:
        self.store = store
        self.service = service
        self.pool = pool
        self.interval_s = interval_s
        self.idle_interval_s = idle_interval_s
        self.batch_size = batch_size
        self.max_backlog = max_backlog
        #: Every event up to this seq has been handed out (or will never exist).
        self.through = 0
        self._cursor = _Cursor(gap_grace_s)
        self._everything: set[Subscription] = set()
        self._by_job: dict[str, set[Subscription]] = {}
        self._ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._closed = False

    # -- life ---------------------------------------------------------------

    def start(self) -> None:
        """Start polling on the running loop (once)."""
        if self._task is not None or self._closed:
            return
        self._loop = asyncio.get_running_loop()
        self._unsubscribe = self.service.bus.subscribe(self._on_commit)
        self._task = self._loop.create_task(self._run(), name="piq-event-feed")

    async def stop(self) -> None:
        """Stop polling and end every stream (idempotent)."""
        self._closed = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sub in [*self._everything, *chain.from_iterable(self._by_job.values())]:
            sub.close()

    @property
    def subscribers(self) -> int:
        return len(self._everything) + sum(len(s) for s in self._by_job.values())

    def _on_commit(self, _event: JobEvent) -> None:
        """Called on the committing thread: wake the poll now."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    # -- subscribing -----------------------------------------------------------

    async def subscribe(self, actor: Actor, *, job_id: str | None = None) -> Subscription:
        """A subscription to events after ``through`` as it is now; the caller
        replays the store up to ``Subscription.since``."""
        if self._task is None and not self._closed:
            self.start()
        await self._ready.wait()
        # No await from here on: ``since`` and registration happen between two
        # hand-outs, so nothing falls between the replay and the live events.
        sub = Subscription(self, actor, job_id, self.through, self.max_backlog)
        if self._closed:
            sub.close()
        elif job_id is None:
            self._everything.add(sub)
        else:
            self._by_job.setdefault(job_id, set()).add(sub)
        if self.subscribers == 1:
            # The first listener: poll at the live interval now, not after the
            # idle wait under way (events written by other processes wake nobody).
            self._wake.set()
        return sub

    def forget(self, sub: Subscription) -> None:
        if sub.job_id is None:
            self._everything.discard(sub)
            return
        subs = self._by_job.get(sub.job_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._by_job[sub.job_id]

    # -- polling ------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closed:
            self._wake.clear()
            try:
                polled = await loop.run_in_executor(self.pool, self._poll)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reading new job events failed; trying again")
                await asyncio.sleep(1.0)
                continue
            self._hand_out(polled)
            if polled.more:
                continue
            interval = self.interval_s if self.subscribers else self.idle_interval_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)

    def _poll(self) -> _Polled:
        """One read of the store (on a pool thread)."""
        cursor = self._cursor
        now = time.monotonic()
        with self.store.read() as tx:
            if not cursor.started:
                last = tx.last_event_seq()
                cursor.start(last, tx.write_marks(), now)
                return _Polled([], cursor.through, cursor.ready, more=False)
            queried = sorted(cursor.gaps)[:MAX_GAP_QUERY]
            refilled = tx.events_by_seq(queried)
            fresh = tx.events_after(cursor.high, self.batch_size)
            # Marks matter only while a seq is missing (or the start is not settled);
            # a poll without them leaves none for the next to judge gaps by, and the
            # first poll that finds a gap reads them after finding it.
            seqs = [cursor.high, *(e.seq for e in fresh)]
            holes = any(b - a > 1 for a, b in pairwise(seqs))
            marks = tx.write_marks() if cursor.gaps or holes or not cursor.ready else None
        before = cursor.through
        released = cursor.advance(fresh, refilled, set(queried), marks, now)
        try:
            audiences = self.service.event_audiences(e.job_id for e in released)
        except Exception:
            cursor.take_back(released, before)  # handed out by the next poll instead
            raise
        return _Polled(
            released, cursor.through, cursor.ready, len(fresh) == self.batch_size, audiences
        )

    def _hand_out(self, polled: _Polled) -> None:
        """On the loop: give each subscription its events, then move ``through``."""
        if polled.events:
            for sub in list(self._everything):
                sub.offer(polled.events, polled.audiences)
            if self._by_job:
                by_job: dict[str, list[JobEvent]] = {}
                for event in polled.events:
                    if event.job_id in self._by_job:
                        by_job.setdefault(event.job_id, []).append(event)
                for job_id, events in by_job.items():
                    for sub in list(self._by_job.get(job_id, ())):
                        sub.offer(events, polled.audiences)
        self.through = polled.through
        if polled.ready and not self._ready.is_set():
            self._ready.set()


def start_feed(state: ServerState) -> EventFeed:
    """The server's feed, kept in ``state.extras``; it starts with the loop."""
    feed = EventFeed(state.engine.store, state.engine.service, state.pool)
    state.extras[FEED_KEY] = feed
    IOLoop.current().add_callback(feed.start)
    return feed


async def stop_feed(state: ServerState) -> None:
    feed = state.extras.get(FEED_KEY)
    if isinstance(feed, EventFeed):
        await feed.stop()


def sse_message(event: JobEvent) -> str:
    data = json.dumps(event_resource(event), default=str)
    return f"id: {event.seq}\nevent: {event.kind}\ndata: {data}\n\n"


class EventStreamHandler(PiqHandler):
    """What both streams share: ``Last-Event-ID``, the SSE headers, keepalive
    comments, and letting go of the subscription when the client leaves."""

    keepalive_s: ClassVar[float] = KEEPALIVE_S
    _subscription: Subscription | None = None

    @property
    def feed(self) -> EventFeed:
        feed: EventFeed = self.state.extras[FEED_KEY]
        return feed

    def last_event_id(self) -> int | None:
        """The header ``Last-Event-ID`` (what a reconnecting EventSource sends) or
        the ``last_event_id`` query parameter."""
        raw = self.request.headers.get("Last-Event-ID")
        if raw is None:
            raw = self.get_query_argument("last_event_id", None)
        if raw is None or not raw.strip():
            return None
        try:
            value = int(raw.strip())
        except ValueError:
            value = -1
        if value < 0:
            raise ValidationError(
                f"Last-Event-ID must be an event id from this server, got {raw!r}",
                errors=[{"field": "Last-Event-ID", "message": "must be a whole number >= 0"}],
            )
        return value

    async def subscribe(self, actor: Actor, job_id: str | None = None) -> Subscription:
        try:
            sub = await asyncio.wait_for(self.feed.subscribe(actor, job_id=job_id), READY_TIMEOUT_S)
        except TimeoutError:
            raise ApiError(
                503, "unavailable", "live events are not available yet; try again shortly"
            ) from None
        self._subscription = sub
        return sub

    def begin(self) -> None:
        self.set_status(200)
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "private, no-cache, no-transform")
        self.set_header("X-Accel-Buffering", "no")

    async def send_events(self, events: Sequence[JobEvent]) -> bool:
        """Write and flush; False once the client has gone."""
        for event in events:
            self.write(sse_message(event))
        return await self._flush()

    async def _flush(self) -> bool:
        try:
            await self.flush()
        except StreamClosedError:
            return False
        return True

    async def pump(self, sub: Subscription, *, after: int, until_terminal: bool) -> None:
        """Live events after ``after`` until the subscription ends, the client
        goes, or (``until_terminal``) the job reaches a final status."""
        while True:
            try:
                batch = await sub.next(self.keepalive_s)
            except TimeoutError:
                self.write(": keepalive\n\n")
                if not await self._flush():
                    return
                continue
            if batch is None:
                return
            fresh = [e for e in batch if e.seq > after]
            if until_terminal:
                ends = next((i for i, e in enumerate(fresh) if e.status.is_terminal), None)
                if ends is not None:
                    await self.send_events(fresh[: ends + 1])
                    return
            if fresh:
                if not await self.send_events(fresh):
                    return
                after = fresh[-1].seq

    def on_connection_close(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
        super().on_connection_close()


class JobEventsHandler(EventStreamHandler):
    """``GET jobs/{id}/events``: the job's history after ``Last-Event-ID``, then
    its live events; over after a final status. 204 when a reconnecting client
    already has everything of a finished job (an EventSource then stops)."""

    @authenticated
    async def get(self, job_id: str) -> None:
        actor = await self.actor()
        after = self.last_event_id() or 0
        sub = await self.subscribe(actor, job_id)
        try:
            backlog, status = await self.call(
                self.state.service.job_event_replay,
                actor,
                job_id,
                after_seq=after,
                through_seq=sub.since,
            )
            over = status is not None and status.is_terminal
            if over and not backlog:
                self.set_status(204)
                return
            self.begin()
            if not await self.send_events(backlog) or over:
                return
            await self.pump(sub, after=max(after, sub.since), until_terminal=True)
        finally:
            sub.close()


class AccountEventsHandler(EventStreamHandler):
    """``GET events``: events of every job that concerns the reader (their
    workspace's jobs whose rows they may see, their own, those shared with them by
    invitation). With ``Last-Event-ID`` the ones after it are replayed first;
    without, the stream starts now. It never ends by itself."""

    @authenticated
    async def get(self) -> None:
        actor = await self.actor()
        after = self.last_event_id()
        sub = await self.subscribe(actor)
        try:
            self.begin()
            if not await self._flush():
                return
            cursor = sub.since if after is None else after
            while cursor < sub.since:
                events, cursor = await self.call(
                    self.state.service.reader_events,
                    actor,
                    after_seq=cursor,
                    through_seq=sub.since,
                    limit=REPLAY_PAGE,
                )
                if events and not await self.send_events(events):
                    return
            await self.pump(sub, after=max(after or 0, sub.since), until_terminal=False)
        finally:
            sub.close()


def route_table() -> list[tuple[str, type[PiqHandler]]]:
    return [
        (rf"{API}/jobs/{JOB_ID}/events", JobEventsHandler),
        (rf"{API}/events", AccountEventsHandler),
    ]
