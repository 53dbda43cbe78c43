"""What every notebook widget shares: its front end, its actions, its live feed.

A widget is an anywidget whose front end is the bundle ``static/widgets/<bundle>.js``
(built from ``js/src/widgets/<bundle>.tsx``). Its traits carry the API's models as
JSON, never new shapes.

anywidget keeps a widget's front end (``_esm``) in its state, so a notebook saved with
ten progress bars would hold ten copies of React and the views. A widget's ``_esm`` is
instead a loader of about a kilobyte (``js/src/widgets/served_loader.tsx``) that imports
the bundle the server extension serves (``{base_url}static/proteiniq/widgets/<bundle>.js``),
once per page; on a page with no Jupyter server (VS Code) it asks the kernel for the
bundle once instead (the ``bundle`` action).

Actions: the front end sends ``{"action": name, "request": id, ...arguments}``; the
method marked ``@action(name)`` runs on a worker thread (the kernel stays free) and
its answer goes back as ``{"reply": id, "ok": True, "error": None, ...answer}``, or
``{"reply": id, "ok": False, "error": message}`` with the client's own message when
it raises one of the client's errors (a bad argument, a refusal, a lost server).

Live updates: the kernel has one subscription to its jobs' events (the client's event
hub). One feed per hub listens to it and hands each event, on its own thread, to the
widgets following that job (or every job); trait changes made there reach the front
end while the kernel runs another cell. No widget polls.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import queue
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import anywidget
import pydantic

from .. import api
from ..client.errors import PiqError
from ..client.events import RESYNC, EventHub, Item

log = logging.getLogger(__name__)

#: Where the build puts each widget's bundle.
BUNDLES = Path(__file__).resolve().parent.parent / "static" / "widgets"
#: The loader's own bundle.
LOADER = "served_loader"
#: Threads that run the front end's actions (the kernel's own thread stays free).
ACTION_THREADS = 4

Answer = dict[str, Any] | None
F = TypeVar("F", bound=Callable[..., Answer])


class BundleMissing(RuntimeError):
    """The front end of a widget was not built (a source checkout before ``make install``)."""


@functools.cache
def bundle(name: str) -> str:
    """The built front end of the widget ``name``."""
    path = BUNDLES / f"{name}.js"
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BundleMissing(
            f"the front end of the {name} widget ({path}) is not built: "
            "run `make install` in the source checkout (or install the wheel)"
        ) from None


def served_esm(name: str) -> str:
    """The loader of the bundle ``name``, the bundle's digest in its URL so that a
    page never runs a stale copy from its cache."""
    digest = hashlib.sha256(bundle(name).encode()).hexdigest()[:12]
    target = json.dumps(f"{name}.js?v={digest}")
    return f"const __PIQ_BUNDLE__ = {target};\n{bundle(LOADER)}"


def action(name: str) -> Callable[[F], F]:
    """Marks a widget method as the handler of the front end's action ``name``;
    it gets the message's other fields as keyword arguments."""

    def mark(method: F) -> F:
        method._piq_action = name  # type: ignore[attr-defined]
        return method

    return mark


def error_message(exc: BaseException) -> str:
    """What the view shows for a failed action: the client's message, or what was
    wrong with the arguments."""
    if isinstance(exc, PiqError):
        return str(exc)
    if isinstance(exc, TypeError | ValueError | KeyError | LookupError):
        return str(exc).strip("'\"") or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _actions_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(ACTION_THREADS, thread_name_prefix="piq-widget-action")
        return _executor


_reader: ThreadPoolExecutor | None = None


def _reads_executor() -> ThreadPoolExecutor:
    """The one thread that widgets read the server on after an event (in order)."""
    global _reader
    with _executor_lock:
        if _reader is None:
            _reader = ThreadPoolExecutor(1, thread_name_prefix="piq-widget-read")
        return _reader


class PiqWidget(anywidget.AnyWidget):
    #: The name of the widget's bundle: ``js/src/widgets/<bundle>.tsx``.
    bundle: ClassVar[str]
    #: Action name to method name, collected from ``@action`` marks.
    _actions: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        actions: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                name = getattr(value, "_piq_action", None)
                if isinstance(name, str):
                    actions[name] = attr
        cls._actions = actions

    def __init__(self, **kwargs: Any) -> None:
        # Read here, not on import, so a checkout without built bundles still imports.
        self._esm = served_esm(self.bundle)
        #: Closed: the feeds pass it over (and drop it once it is collected).
        self._closed = False
        super().__init__(**kwargs)
        self._pending: set[Any] = set()
        self._read_waiting = False
        self._read_lock = threading.Lock()
        self.on_msg(_on_message)

    # -- actions --------------------------------------------------------------

    @action("bundle")
    def send_bundle(self) -> dict[str, Any]:
        """The widget's bundle, for a page with no server to import it from."""
        return {"esm": bundle(self.bundle)}

    def handle(self, content: dict[str, Any]) -> dict[str, Any]:
        """Run one action message and give its reply (also what tests call)."""
        request = content.get("request")
        name = content.get("action")
        arguments = {k: v for k, v in content.items() if k not in ("action", "request")}
        method = self._actions.get(name) if isinstance(name, str) else None
        if method is None:
            known = ", ".join(sorted(self._actions)) or "none"
            error = f"{type(self).__name__} has no action {name!r} (it has: {known})"
            return {"reply": request, "ok": False, "error": error}
        try:
            answer = getattr(self, method)(**arguments) or {}
        except Exception as exc:
            if not isinstance(exc, PiqError | TypeError | ValueError | LookupError):
                log.exception("widget action %s failed", name)
            return {"reply": request, "ok": False, "error": error_message(exc)}
        return {"reply": request, "ok": True, "error": None, **answer}

    def _run_action(self, content: dict[str, Any]) -> None:
        future = _actions_executor().submit(self.handle, content)
        self._pending.add(future)

        def done(_: Any) -> None:
            self._pending.discard(future)
            try:
                self.send(future.result())
            except Exception:
                log.exception("could not answer a widget action")

        future.add_done_callback(done)

    # -- live -----------------------------------------------------------------

    def follow(self, hub: EventHub, job_id: str | None) -> None:
        """Receive ``on_event`` for the job ``job_id`` (every job with None) and
        ``on_resync`` when events may have been missed, until the widget closes."""
        feed_for(hub).add(self, job_id)

    def on_event(self, event: api.JobEvent) -> None:
        """An event of a followed job (on the feed's thread)."""

    def read_later(self, read: Callable[[], None]) -> None:
        """Run ``read``, a read of the server that may have to wait (a server that
        asks the client to slow down, a lost connection), on the widgets' reading
        thread rather than the feed's, so that the wait holds up no widget's events.
        A read of this widget already waiting to run stands for this one."""
        with self._read_lock:
            if self._read_waiting:
                return
            self._read_waiting = True

        def run() -> None:
            with self._read_lock:
                self._read_waiting = False
            if self._closed:
                return
            try:
                read()
            except Exception as exc:  # what the events showed stays shown
                log.info("a widget could not read its job again: %s", error_message(exc))

        _reads_executor().submit(run)

    def on_resync(self) -> None:
        """Events may have been missed: read what is shown again (on the feed's thread)."""

    def close(self) -> None:
        # Takes no lock: the garbage collector calls this (through ipywidgets'
        # __del__) at any allocation, a feed's own, inside its lock, among them.
        self._closed = True
        super().close()


def _on_message(widget: PiqWidget, content: Any, buffers: Any) -> None:
    if isinstance(content, dict) and "action" in content:
        widget._run_action(content)


def dump(model: pydantic.BaseModel) -> dict[str, Any]:
    """A model as the trait carries it: the API's JSON."""
    return model.model_dump(mode="json")


class Feed:
    """The widgets' one listener on a hub, delivering on one thread of its own so a
    widget's work never holds up the subscription."""

    def __init__(self, hub: EventHub) -> None:
        self.hub = hub
        self._lock = threading.Lock()
        self._followers: dict[str | None, weakref.WeakSet[PiqWidget]] = {}
        self._items: queue.SimpleQueue[Item] = queue.SimpleQueue()
        self._stop: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None

    def add(self, widget: PiqWidget, job_id: str | None) -> None:
        with self._lock:
            self._followers.setdefault(job_id, weakref.WeakSet()).add(widget)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._deliver, name="piq-widget-feed", daemon=True
                )
                self._thread.start()
        if self._stop is None:
            self._stop = self.hub.listen(self._items.put)

    def followers(self, job_id: str | None) -> list[PiqWidget]:
        """The open widgets following ``job_id`` (every followed job with None)."""
        with self._lock:
            if job_id is None:
                found = list({w for ws in self._followers.values() for w in ws})
            else:
                found = [*self._followers.get(job_id, ()), *self._followers.get(None, ())]
        return [w for w in found if not w._closed]

    def _deliver(self) -> None:
        while True:
            item = self._items.get()
            for widget in self.followers(None if item is RESYNC else item.job_id):
                try:
                    if item is RESYNC:
                        widget.on_resync()
                    else:
                        widget.on_event(item)
                except Exception:
                    log.exception("a widget failed to take a job event")


_feeds: weakref.WeakKeyDictionary[EventHub, Feed] = weakref.WeakKeyDictionary()
_feeds_lock = threading.Lock()


def feed_for(hub: EventHub) -> Feed:
    """The one feed of ``hub`` (made on first use)."""
    with _feeds_lock:
        feed = _feeds.get(hub)
        if feed is None:
            feed = _feeds[hub] = Feed(hub)
        return feed
