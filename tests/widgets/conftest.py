"""The widgets' models against a real server and store, on both transports and both
databases (the fixtures of ``tests/client``), with a front end that records what
the kernel sends it and sends actions the way the browser does: through the
widget's comm, as ipywidgets delivers a message from the page."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import comm
import pytest
from comm.base_comm import BaseComm
from ipywidgets.widgets.widget import _instances

from proteiniq_jupyter.widgets import PiqWidget, bundle

from ..client.conftest import (  # noqa: F401  (fixtures)
    _count_postgres,
    backend,
    client,
    clients,
    module_database_url,
    stack,
)

#: How long a test waits for the kernel side to answer or a live update to arrive.
WAIT_S = 60.0


class RecordingComm(BaseComm):
    """A comm whose messages to the page are kept instead of sent (to the page of
    the test that opened it)."""

    current: FrontEnd | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        assert RecordingComm.current is not None, "widgets are made inside a test with `front`"
        self.front = RecordingComm.current
        super().__init__(*args, **kwargs)

    def publish_msg(
        self,
        msg_type: str,
        data: Any = None,
        metadata: Any = None,
        buffers: Any = None,
        **keys: Any,
    ) -> None:
        self.front.record(self.comm_id, msg_type, data or {})


class FrontEnd:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str, dict[str, Any]]] = []
        self._changed = threading.Condition()

    def record(self, comm_id: str, msg_type: str, data: dict[str, Any]) -> None:
        with self._changed:
            self.messages.append((comm_id, msg_type, data))
            self._changed.notify_all()

    def of(self, widget: PiqWidget) -> list[dict[str, Any]]:
        with self._changed:
            return [d for c, _, d in self.messages if c == widget.comm.comm_id]

    def opened_state(self, widget: PiqWidget) -> dict[str, Any]:
        """The state the page got when the widget's comm opened."""
        with self._changed:
            for c, kind, data in self.messages:
                if c == widget.comm.comm_id and kind == "comm_open":
                    state: dict[str, Any] = data["state"]
                    return state
        raise AssertionError("the widget never opened its comm")

    def updates(self, widget: PiqWidget, trait: str) -> list[Any]:
        """The values of ``trait`` the page was sent after the widget opened."""
        return [
            d["state"][trait]
            for d in self.of(widget)
            if d.get("method") in ("update", "echo_update") and trait in d.get("state", {})
        ]

    def wait_for(self, check: Any, timeout: float = WAIT_S) -> Any:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = check()
                if found:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("the page was not sent what the test waited for")
                self._changed.wait(min(remaining, 0.5))

    def change(self, widget: PiqWidget, **state: Any) -> None:
        """Change traits as the page does (a control the person set)."""
        widget._handle_msg(
            {"content": {"data": {"method": "update", "state": state}}, "buffers": []}
        )

    def act(self, widget: PiqWidget, action: str, **arguments: Any) -> dict[str, Any]:
        """Send an action as the page does and give the kernel's reply."""
        request = uuid.uuid4().hex
        content = {"action": action, "request": request, **arguments}
        widget._handle_msg(
            {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}
        )

        def reply() -> dict[str, Any] | None:
            for d in self.of(widget):
                if d.get("method") == "custom" and d["content"].get("reply") == request:
                    answer: dict[str, Any] = d["content"]
                    return answer
            return None

        answer: dict[str, Any] = self.wait_for(reply)
        return answer


@pytest.fixture
def front() -> Iterator[FrontEnd]:
    """The page: every widget made in the test opens its comm to it."""
    front = FrontEnd()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RecordingComm, "current", front)
        patch.setattr(comm, "create_comm", RecordingComm)
        yield front
        # the page is closed: its widgets stop following the feed
        for widget in list(_instances.values()):
            if isinstance(widget, PiqWidget):
                widget.close()


@pytest.fixture(autouse=True, scope="session")
def _bundles_built() -> None:
    """The widgets' front end is built (``make install``) before their tests run."""
    bundle("job_progress")
