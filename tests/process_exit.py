"""How the test process ends under `make test`.

Every test has passed or failed once pytest has written its report; what follows is
interpreter teardown, in which the native libraries the tools load into this process
(RDKit, OpenMM, PyTorch, Vina) destroy their objects in no fixed order, and can crash
doing so. A crash there would turn a reported result into "Segmentation fault". With
PIQ_TEST_HARD_EXIT=1 (set by the Makefile) the process ends with pytest's own exit
status as soon as pytest is done, after stopping any process the tests left behind
(each one named, so a leak shows in the log)."""

from __future__ import annotations

import os
import sys

import psutil
import pytest

EXIT_STATUS = pytest.StashKey[int]()


def remember(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[EXIT_STATUS] = int(exitstatus)


#: multiprocessing's helpers of this process (the resource tracker, and the fork server
#: that job processes started from the tests' own process fork from) end by themselves
#: when this process does.
OWN_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def leftover_children() -> list[psutil.Process]:
    """Processes the tests started that are still running."""
    strays = []
    for proc in psutil.Process().children(recursive=True):
        try:
            command = " ".join(proc.cmdline())
        except psutil.Error:
            continue
        if not any(helper in command for helper in OWN_HELPERS):
            strays.append(proc)
    return strays


def end(config: pytest.Config) -> None:
    """Report and stop leftover children, then leave without interpreter teardown."""
    if os.environ.get("PIQ_TEST_HARD_EXIT") != "1" or EXIT_STATUS not in config.stash:
        return
    status = config.stash[EXIT_STATUS]
    strays = leftover_children()
    for proc in strays:
        try:
            print(f"a test left process {proc.pid} running: {' '.join(proc.cmdline())}")
            proc.kill()
        except psutil.Error:
            pass
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
