"""The HTTP transport's one subscription: the server's ``GET events`` stream (the
events of every job that concerns the user), read by a background thread that
hands each event to the hub. A dropped stream is opened again with
``Last-Event-ID``, so the server replays what came in between; with no event
seen yet there is nothing to resume from, and the watches read their jobs again.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any

import httpx
from httpx_sse import connect_sse

from .. import api
from ..jobs.model import Visibility
from .errors import ConnectionFailed, error_for
from .events import EventHub

#: Seconds before the first reconnect; doubled each time, up to MAX_BACKOFF_S.
FIRST_BACKOFF_S = 0.2
MAX_BACKOFF_S = 5.0
#: The server sends a comment every 15 s on a quiet stream; a read waits a while longer.
STREAM_READ_S = 40.0
#: How long ``start`` waits for the stream to open before giving up.
OPEN_TIMEOUT_S = 60.0
#: How long ``close`` waits for the reader to stop.
CLOSE_TIMEOUT_S = 5.0
#: Failed tries to open the stream the first time before ``start`` gives up.
OPEN_ATTEMPTS = 6


class SseEvents(EventHub):
    def __init__(self, client: httpx.Client, server_url: str, workspace: Callable[[], str]) -> None:
        super().__init__()
        self._client = client
        self._server_url = server_url
        self._workspace = workspace
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._error: Exception | None = None
        self._response: httpx.Response | None = None
        #: The last event id seen: where a reconnect resumes.
        self.last_event_id: int | None = None
        #: Streams opened so far (one, unless the connection dropped).
        self.opened = 0

    def start(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                if self._stop.is_set():
                    raise ConnectionFailed("the client is closed")
                self._ready.clear()
                self._error = None
                self._thread = threading.Thread(target=self._run, name="piq-events", daemon=True)
                self._thread.start()
            thread = self._thread
        if not self._ready.wait(OPEN_TIMEOUT_S):
            raise ConnectionFailed(f"the event stream of {self._server_url} did not open")
        if self._error is not None and not thread.is_alive():
            raise self._error

    def carries(self, job: api.Job) -> bool:
        """The stream carries the jobs that concern the user: their workspace's,
        and those shared with them by invitation (as the server's ``GET events``)."""
        if job.visibility is Visibility.INVITED and job.permissions.see_contents:
            return True
        return job.workspace_id == self._workspace()

    def _run(self) -> None:
        delay = FIRST_BACKOFF_S
        failures = 0
        while not self._stop.is_set():
            try:
                self._read_stream()
                delay = FIRST_BACKOFF_S
                failures = 0
                continue  # the server ended the stream: open it again
            except _Refused as refused:
                error: Exception = refused.error
            except httpx.HTTPError as exc:
                error = ConnectionFailed(
                    f"cannot follow the events of {self._server_url}: {exc or type(exc).__name__}"
                )
            except Exception as exc:  # a closed client mid-read, a malformed event
                if self._stop.is_set():
                    return
                error = exc
            if self._stop.is_set():
                return
            failures += 1
            if not self._ready.is_set() and failures >= OPEN_ATTEMPTS:
                self._error = error
                self._ready.set()
                return
            self._stop.wait(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)

    def _read_stream(self) -> None:
        headers = {"Accept": "text/event-stream"}
        resuming = self.last_event_id is not None
        if resuming:
            headers["Last-Event-ID"] = str(self.last_event_id)
        with connect_sse(
            self._client,
            "GET",
            "events",
            headers=headers,
            timeout=httpx.Timeout(60.0, connect=10.0, read=STREAM_READ_S),
        ) as source:
            response = source.response
            if response.status_code >= 400:
                response.read()
                raise _Refused(error_for(response.status_code, _json(response)))
            self._response = response
            self.opened += 1
            if self.opened > 1 and not resuming:
                self.restarted()
            self._set_open()
            self._ready.set()
            for sse in source.iter_sse():
                if not sse.data:
                    continue
                event = api.JobEvent.model_validate_json(sse.data)
                self.last_event_id = event.id
                self.dispatch(event)

    def drop_connection(self) -> None:
        """End the stream's connection now (as a network failure would): the reader
        opens it again, resuming after the last event, unless the hub is closed."""
        response = self._response
        if response is None:
            return
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            # A read blocked in another thread returns only once the socket is shut.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):  # already closed, or closing under the reader
            response.close()

    def close(self) -> None:
        super().close()
        self._stop.set()
        self.drop_connection()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(CLOSE_TIMEOUT_S)


class _Refused(Exception):
    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
