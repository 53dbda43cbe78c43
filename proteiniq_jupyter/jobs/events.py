"""In-process publication of job events once they are committed. Live faces (the
server's event streams, a waiting CLI, a widget) subscribe here; the event log in
the store stays the record to replay from."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from .model import JobEvent

log = logging.getLogger(__name__)
Subscriber = Callable[[JobEvent], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns the function that removes it."""
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, events: Iterable[JobEvent]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for event in events:
            for subscriber in subscribers:
                try:
                    subscriber(event)
                except Exception:  # one broken listener must not stop the others
                    log.exception("event subscriber failed on event %s", event.seq)
