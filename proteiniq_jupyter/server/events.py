"""Live job events as Server-Sent Events: ``GET jobs/{id}/events`` follows one job
until it ends, ``GET events`` follows every job that concerns the reader. The
streams take their events from the server's feed (``feed``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import ClassVar

from tornado.iostream import StreamClosedError

from .. import api
from ..jobs.access import Actor
from ..jobs.errors import ValidationError
from ..jobs.model import JobEvent
from .base import ApiError, PiqHandler, authenticated
from .feed import FEED_KEY, EventFeed, Subscription
from .routes import API, JOB_ID
from .state import ServerStopping

#: Seconds between comments on a quiet stream, so proxies keep it open and a
#: client that went away is noticed.
KEEPALIVE_S = 15.0
#: How long a new stream waits for the feed to have its starting point.
READY_TIMEOUT_S = 30.0
#: Events read per replay query of the all-jobs stream.
REPLAY_PAGE = 500
#: The highest event id a database can hold (a signed 64-bit seq).
MAX_EVENT_ID = 2**63 - 1
#: The values of ``history``: whether the stream ends after the job's past events.
HISTORY_VALUES = {"1": True, "true": True, "0": False, "false": False}


def sse_message(event: JobEvent) -> str:
    data = api.render(api.JobEvent.of(event))
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
        except ValueError:  # not a number, or one of thousands of digits
            value = -1
        if not 0 <= value <= MAX_EVENT_ID:
            raise ValidationError(
                f"Last-Event-ID must be an event id from this server, got {raw!r}",
                errors=[
                    {
                        "field": "Last-Event-ID",
                        "message": f"must be a whole number from 0 to {MAX_EVENT_ID}",
                    }
                ],
            )
        return value

    async def subscribe(self, actor: Actor, job_id: str | None = None) -> Subscription:
        try:
            sub = await asyncio.wait_for(self.feed.subscribe(actor, job_id=job_id), READY_TIMEOUT_S)
        except TimeoutError:
            raise ApiError(
                503, "unavailable", "live events are not available yet; try again shortly"
            ) from None
        if sub.closed:  # the feed has stopped: so is the server
            raise ServerStopping
        self._subscription = sub
        return sub

    async def resume_after(self, after: int, sub: Subscription) -> int:
        """Where a stream resumed at ``after`` starts: there, or now when no event
        of the log has that id yet (the client's came from a database since
        replaced), rather than waiting for ids that may never come."""
        if after <= sub.since:
            return after
        last = await self.call(self.state.service.last_event_seq)
        return sub.since if after > last else after

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

    async def pump(
        self,
        sub: Subscription,
        *,
        after: int,
        until_terminal: bool,
        reader: Actor | None = None,
    ) -> None:
        """Live events after ``after`` until the subscription ends, the client
        goes, (``until_terminal``) the job reaches a final status, or ``reader``
        is no longer who the request's person is (taken out of their team, or
        given another role), looked at once a keep-alive interval: the client
        then reconnects with ``Last-Event-ID`` as who they are now."""
        looked = time.monotonic()
        while True:
            try:
                batch = await sub.next(self.keepalive_s)
            except TimeoutError:
                self.write(": keepalive\n\n")
                if not await self._flush():
                    return
                batch = []
            if batch is None:
                return
            if reader is not None and time.monotonic() - looked >= self.keepalive_s:
                if not _same_reader(reader, await self.actor()):
                    return
                looked = time.monotonic()
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
    already has everything of a finished job (an EventSource then stops). With
    ``history=1`` the stream ends after the history: a timeline reads the past
    this way and follows the rest on the events it already receives."""

    @authenticated
    async def get(self, job_id: str) -> None:
        actor = await self.actor()
        after = self.last_event_id() or 0
        history = self.history_only()
        sub = await self.subscribe(actor, job_id)
        after = await self.resume_after(after, sub)
        try:
            backlog, status = await self.call(
                self.state.service.job_event_replay,
                actor,
                job_id,
                after_seq=after,
                # The history is all the log holds (the feed may not have caught up).
                through_seq=None if history else sub.since,
            )
            over = status is not None and status.is_terminal
            if over and not backlog:
                self.set_status(204)
                return
            self.begin()
            if not await self.send_events(backlog) or over or history:
                return
            await self.pump(sub, after=max(after, sub.since), until_terminal=True)
        finally:
            sub.close()

    def history_only(self) -> bool:
        raw = self.get_query_argument("history", "0")
        if raw not in HISTORY_VALUES:
            raise ValidationError(
                f"history must be 1 or 0, got {raw!r}",
                errors=[{"field": "history", "message": "must be 1, true, 0 or false"}],
            )
        return HISTORY_VALUES[raw]


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
        if after is not None:
            after = await self.resume_after(after, sub)
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
            await self.pump(
                sub, after=max(after or 0, sub.since), until_terminal=False, reader=actor
            )
        finally:
            sub.close()


def _same_reader(before: Actor, now: Actor) -> bool:
    return (before.workspace_id, before.role) == (now.workspace_id, now.role)


def route_table() -> list[tuple[str, type[PiqHandler]]]:
    return [
        (rf"{API}/jobs/{JOB_ID}/events", JobEventsHandler),
        (rf"{API}/events", AccountEventsHandler),
    ]
