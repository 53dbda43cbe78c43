"""One event subscription per client, feeding every live job handle.

A client opens one subscription to the events of the jobs that concern its user
(over HTTP the workspace's ``GET events`` stream, read by a background thread and
resumed with ``Last-Event-ID`` after a dropped connection; in-process the
service's event bus) and hands each event to the handles watching its job. So
any number of handles waiting, or shown live, at once cost one stream.

A handle subscribes before it reads its job (or its job was read while the
subscription was already open), so an event is either in what it read or arrives
on its watch. The hub keeps the last events of recent jobs, so a job that ends
between its submit and the handle's ``wait`` is seen ending without another read.
A job the subscription does not carry (over HTTP, another workspace's public
job) is followed on a stream of its own. When the subscription may have missed
events (it reconnected with nothing to resume from), every watch is told to read
its job again.
"""

from __future__ import annotations

import abc
import queue
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, Final

from .. import api
from ..jobs.model import Visibility
from ..jobs.status import JobStatus

#: The visibilities a "shared" event may name.
VISIBILITIES: Final = frozenset(v.value for v in Visibility)

#: Put on a watch when events may have been missed: the handle reads its job again.
RESYNC: Final = None
#: Jobs whose recent events the hub keeps, and events kept per job.
RECENT_JOBS = 2000
RECENT_EVENTS = 64

Item = api.JobEvent | None
#: Called with every event the subscription carries (``RESYNC`` after a gap).
Listener = Callable[[Item], None]


class Watch:
    """One handle's view of the subscription: its job's events, in order."""

    def __init__(self, hub: EventHub, job_id: str) -> None:
        self.hub = hub
        self.job_id = job_id
        self._items: queue.SimpleQueue[Item] = queue.SimpleQueue()

    def put(self, item: Item) -> None:
        self._items.put(item)

    def get(self, timeout: float | None) -> Item:
        """The next event (``RESYNC`` when some may be missing); ``queue.Empty``
        once ``timeout`` passes."""
        return self._items.get(timeout=timeout)

    def close(self) -> None:
        self.hub.unwatch(self)

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventHub(abc.ABC):
    """What both transports' subscriptions share: watches, the recent events,
    and a mark that says whether the subscription ran unbroken since."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._watches: dict[str, list[Watch]] = {}
        self._recent: OrderedDict[str, deque[api.JobEvent]] = OrderedDict()
        #: Incremented whenever the subscription (re)starts without its past.
        self._generation = 0
        self._open = False
        self._listeners: list[Listener] = []
        #: Events handed out so far (with the generation: whether any came since).
        self._dispatched = 0

    # -- for the subscription -------------------------------------------------

    def dispatch(self, event: api.JobEvent) -> None:
        with self._lock:
            recent = self._recent.get(event.job_id)
            if recent is None:
                recent = self._recent[event.job_id] = deque(maxlen=RECENT_EVENTS)
                if len(self._recent) > RECENT_JOBS:
                    self._recent.popitem(last=False)
            recent.append(event)
            self._dispatched += 1
            watches = list(self._watches.get(event.job_id, ()))
            listeners = list(self._listeners)
        for watch in watches:
            watch.put(event)
        for listener in listeners:
            listener(event)

    def restarted(self) -> None:
        """The subscription began again with no way to resume: what came between
        is lost, so every watch reads its job again."""
        with self._lock:
            self._generation += 1
            self._recent.clear()
            watches = [w for ws in self._watches.values() for w in ws]
            listeners = list(self._listeners)
        for watch in watches:
            watch.put(RESYNC)
        for listener in listeners:
            listener(RESYNC)

    def _set_open(self) -> None:
        with self._lock:
            self._open = True

    # -- for handles ----------------------------------------------------------

    @abc.abstractmethod
    def start(self) -> None:
        """Open the subscription, if it is not open yet (blocks until it is)."""

    def carries(self, job: api.Job) -> bool:
        """Whether the job's events come on this subscription (a handle follows
        any other job on a stream of its own)."""
        return True

    def mark(self) -> int | None:
        """Taken just before a job is read: with ``watch(since=...)`` it says
        whether every later event of the job is on the watch (None when the
        subscription is not open)."""
        with self._lock:
            return self._generation if self._open else None

    def progress(self) -> tuple[int, int]:
        """Changes whenever an event is handed out or events may have been missed:
        taken before a read and again after listening, it says whether something
        came between the two."""
        with self._lock:
            return self._generation, self._dispatched

    def watch(self, job_id: str, since: int | None = None) -> tuple[Watch, bool]:
        """A watch on the job, and whether it is complete since ``since`` (a
        ``mark``): then the job's recent events are on it already and the handle
        need not read the job again before waiting."""
        self.start()
        watch = Watch(self, job_id)
        with self._lock:
            self._watches.setdefault(job_id, []).append(watch)
            self._changed.notify_all()
            complete = since is not None and since == self._generation and self._open
            backlog = list(self._recent.get(job_id, ())) if complete else []
        for event in backlog:
            watch.put(event)
        return watch, complete

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Every event of every job the subscription carries, handed to ``listener``
        on the subscription's thread (it must return at once); gives the call that
        stops it. The notebook widgets' one feed listens so."""
        self.start()
        with self._lock:
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return stop

    def unwatch(self, watch: Watch) -> None:
        with self._lock:
            watches = self._watches.get(watch.job_id, [])
            if watch in watches:
                watches.remove(watch)
            if not watches:
                self._watches.pop(watch.job_id, None)
            self._changed.notify_all()

    def watching(self) -> int:
        """How many watches are open (for diagnostics and tests)."""
        with self._lock:
            return sum(len(ws) for ws in self._watches.values())

    def wait_watching(self, count: int, timeout: float) -> bool:
        """Until ``count`` watches are open at once (False after ``timeout``)."""
        with self._changed:
            return self._changed.wait_for(
                lambda: sum(len(ws) for ws in self._watches.values()) >= count, timeout
            )

    def close(self) -> None:
        with self._lock:
            self._open = False


class BusEvents(EventHub):
    """In-process: one subscription to the service's event bus."""

    def __init__(self, subscribe: Callable[[Callable[[api.JobEvent], None]], Callable[[], None]]):
        super().__init__()
        self._subscribe = subscribe
        self._unsubscribe: Callable[[], None] | None = None
        self._start_lock = threading.Lock()

    def start(self) -> None:
        with self._start_lock:
            if self._unsubscribe is None:
                self._unsubscribe = self._subscribe(self.dispatch)
                self._set_open()

    def close(self) -> None:
        super().close()
        with self._start_lock:
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None


def apply_event(resource: api.Job, event: api.JobEvent) -> api.Job:
    """What an event says of the job, until the next read gives it all. A rename
    or a change of sharing shows whatever the job's status; otherwise an ended job
    never moves again, so an event that arrives after its end (a progress report
    overtaken by a cancel answered in this process) changes nothing."""
    data = event.data
    if event.kind == "renamed" and isinstance(data.get("name"), str):
        return resource.model_copy(update={"name": data["name"]})
    if event.kind == "shared" and data.get("visibility") in VISIBILITIES:
        return resource.model_copy(update={"visibility": Visibility(data["visibility"])})
    if resource.status.is_terminal:
        return resource
    update: dict[str, Any] = {"status": event.status}
    if event.status is JobStatus.PROCESSING and resource.started_at is None:
        update["started_at"] = event.created_at  # the job starts as this event is written
    charged = data.get("credits_charged")
    if isinstance(charged, int) and charged != resource.credits.charged:
        update["credits"] = resource.credits.model_copy(update={"charged": charged})
    if isinstance(data.get("progress"), (int, float)):
        update["progress"] = float(data["progress"])
    if "progress_message" in data:
        update["progress_message"] = data["progress_message"]
    if "progress_estimated" in data:
        update["progress_estimated"] = bool(data["progress_estimated"])
        eta = data.get("eta_s")
        update["eta_seconds"] = float(eta) if isinstance(eta, (int, float)) else None
    return resource.model_copy(update=update)
