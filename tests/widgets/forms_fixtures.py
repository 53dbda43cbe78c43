"""What the run form's, share dialog's and batch view's tests share: a wait on a
widget's traits, which follow the kernel's event feed on a thread of their own."""

from __future__ import annotations

import time
from collections.abc import Callable

#: How long a widget may take to show what the store holds, on a busy machine.
LIVE_TIMEOUT_S = 60.0


def eventually(check: Callable[[], bool], what: str, timeout: float = LIVE_TIMEOUT_S) -> None:
    """Until ``check`` holds (the widget's traits follow the feed on its own thread)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)
