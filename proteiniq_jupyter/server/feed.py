"""One feed per server reads the store for events after the last it has seen and
hands them to the streams open on this server. The store is the record: workers
in other processes write their jobs' events straight to it, so the feed reads them
from there; commits made in this process only wake it early. Events are released
in seq order with none left out (see ``event_cursor``).

A stream joins the feed without gap or repeat: it subscribes first, at the seq
the feed has released everything up to, replays the store up to that seq, then
takes live events after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from itertools import chain, pairwise

from tornado.ioloop import IOLoop

from ..jobs.access import Actor
from ..jobs.model import JobEvent
from ..jobs.ports import Store
from ..jobs.reading import EventAudience, event_audiences_in, event_for_reader
from ..jobs.service import JobService
from .event_cursor import EventCursor
from .state import ServerState

log = logging.getLogger(__name__)

#: Where the server's feed lives in ``ServerState.extras``.
FEED_KEY = "event_feed"
#: Missing seqs re-read per poll, lowest first.
MAX_GAP_QUERY = 1000


@dataclass
class _Polled:
    """What one poll released, in seq order, and the feed's position after it."""

    events: list[JobEvent]
    through: int
    ready: bool
    more: bool
    audiences: dict[str, EventAudience] = field(default_factory=dict)


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
        self._cursor = EventCursor(gap_grace_s)
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
            try:  # who may read them, in the same read
                audiences = event_audiences_in(tx, (e.job_id for e in released))
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
