"""What a run prints when a test goes wrong, the moment it does.

* A failing test's report is written as soon as it fails, not only in the summary
  at the end, so a run cut short later still shows why each failure failed.
* pytest-timeout ends a test that runs too long by raising in its thread; a test
  blocked where that cannot reach (a C call that waits for ever) would hold the
  whole run. A second limit, ``GRACE_S`` past the test's own, prints the stack of
  every thread, stops the processes the tests started and ends the run, so it
  stops with the place it hung."""

from __future__ import annotations

import faulthandler
import os
import sys
import threading
import time
from collections.abc import Iterator

import psutil
import pytest

from . import process_exit

#: How long past its pytest-timeout limit a test may go before the process ends.
GRACE_S = 120.0


def limit_s(item: pytest.Item) -> float | None:
    """The test's pytest-timeout limit: its marker's, else the configured one."""
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    if marker is not None and "timeout" in marker.kwargs:
        return float(marker.kwargs["timeout"])
    configured = item.config.getini("timeout")
    return float(configured) if configured else None


def terminal_fd(config: pytest.Config) -> int:
    """The run's own standard error: while a test runs, pytest's capture has put a
    file of its own in its place (fd 2), which nobody would read after an exit."""
    capture = config.pluginmanager.getplugin("capturemanager")
    capturing = getattr(capture, "_global_capturing", None)
    saved = getattr(getattr(capturing, "err", None), "targetfd_save", None)
    return saved if isinstance(saved, int) else 2


class Watchdog:
    """One thread that ends the process when the test in hand overruns its limit:
    it prints every thread's stack, stops the processes the tests started, and
    exits. Should the thread itself not get to run (a C call holding the
    interpreter), faulthandler does the printing and the exit ``GRACE_S`` later."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._deadline: float | None = None
        self._test = ""
        self._fd = 2
        threading.Thread(target=self._watch, name="piq-test-watchdog", daemon=True).start()

    def arm(self, test: str, seconds: float, fd: int) -> None:
        with self._changed:
            self._deadline, self._test, self._fd = time.monotonic() + seconds, test, fd
            self._changed.notify()
        faulthandler.dump_traceback_later(seconds + GRACE_S, exit=True, file=fd)

    def disarm(self) -> None:
        faulthandler.cancel_dump_traceback_later()
        with self._changed:
            self._deadline = None
            self._changed.notify()

    def _watch(self) -> None:
        with self._changed:
            while True:
                if self._deadline is None:
                    self._changed.wait()
                elif time.monotonic() < self._deadline:
                    self._changed.wait(self._deadline - time.monotonic())
                else:
                    break
        os.write(self._fd, f"\n\n{self._test} is stuck past its time limit:\n".encode())
        faulthandler.dump_traceback(file=self._fd, all_threads=True)
        for child in process_exit.leftover_children():
            try:
                os.write(self._fd, f"stopping {child.pid}: {' '.join(child.cmdline())}\n".encode())
                child.kill()
            except (psutil.Error, OSError):
                pass
        os._exit(3)


WATCHDOG = Watchdog()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    limit = limit_s(item)
    if limit:
        WATCHDOG.arm(item.nodeid, limit + GRACE_S, terminal_fd(item.config))
    try:
        return (yield)
    finally:
        WATCHDOG.disarm()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not report.failed:
        return
    reporter = sys.__stdout__
    if reporter is None:
        return
    reporter.write(f"\n\nFAILED {report.nodeid} ({report.when})\n{report.longreprtext}\n\n")
    reporter.flush()
