"""A warm host does a job's native work in a process that outlives the job and
serves the jobs after it, and still gives what working apart gives: a crash or an
error fails only its own work, a job that goes away stops its work at once, and
the host leaves with its owner or when idle."""

from __future__ import annotations

import ctypes
import faulthandler
import multiprocessing
import os
import re
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from proteiniq_jupyter.tools.apart import CrashedApart
from proteiniq_jupyter.tools.vina import AutodockVina
from proteiniq_jupyter.tools.warm_host import HostScope, run_warm

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="a warm host needs Linux's pidfd"),
]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().rpartition(")")[2].split()[0] != "Z"  # not a zombie


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return not alive(pid)


@pytest.fixture
def scope() -> Iterator[HostScope]:
    """A scope of its own, owned by a process the test ends when it is done."""
    owner = subprocess.Popen(["sleep", "600"])
    yield HostScope(secrets.token_hex(8), owner.pid)
    owner.kill()
    owner.wait()


def where() -> tuple[int, int]:
    return os.getpid(), os.getsid(0)


def sleep_then_where(seconds: float, note: str) -> tuple[int, int]:
    Path(note).write_text(str(os.getpid()))
    time.sleep(seconds)
    return where()


def refuse(message: str) -> NoReturn:
    raise ValueError(message)


def crash() -> NoReturn:
    faulthandler.disable()
    ctypes.string_at(0)
    raise AssertionError("reading address 0 did not crash the process")


def test_one_host_serves_work_after_work_in_a_session_of_its_own(scope: HostScope) -> None:
    first, session = run_warm(scope, "probing", where)
    assert first != os.getpid()
    assert session not in (os.getsid(0), os.getpgid(0))  # a cancel's group kill spares it
    for _ in range(3):
        assert run_warm(scope, "probing", where) == (first, session)


def test_an_error_comes_back_as_raised_and_the_host_stays(scope: HostScope) -> None:
    host, _ = run_warm(scope, "probing", where)
    with pytest.raises(ValueError, match="no such ligand"):
        run_warm(scope, "probing", refuse, "no such ligand")
    assert run_warm(scope, "probing", where)[0] == host


def test_a_crash_fails_its_own_work_and_the_next_gets_a_new_host(scope: HostScope) -> None:
    host, _ = run_warm(scope, "probing", where)
    with pytest.raises(CrashedApart, match=r"^docking crashed: its host process ended"):
        run_warm(scope, "docking", crash)
    assert gone_within(host, 5)
    again, _ = run_warm(scope, "probing", where)
    assert again != host and alive(again)


def test_work_that_finds_the_host_busy_runs_apart(scope: HostScope, tmp_path: Path) -> None:
    note = tmp_path / "busy"
    busy: list[tuple[int, int]] = []
    worker = threading.Thread(
        target=lambda: busy.append(run_warm(scope, "probing", sleep_then_where, 2.0, str(note)))
    )
    worker.start()
    deadline = time.monotonic() + 10
    while not note.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    host = int(note.read_text())
    elsewhere, _ = run_warm(scope, "probing", where)
    assert elsewhere not in (host, os.getpid())
    worker.join()
    assert busy[0][0] == host
    assert run_warm(scope, "probing", where)[0] == host  # idle again


def _client(scope: HostScope, note: str) -> None:
    run_warm(scope, "probing", sleep_then_where, 60.0, note)


@pytest.mark.parametrize("host", ["started by the job", "idle before the job"])
def test_a_job_that_goes_away_takes_its_work_along(
    scope: HostScope, tmp_path: Path, host: str
) -> None:
    """The job's process killed mid-work (a cancel, a lost lease): the host doing
    its work is killed too, at once, and the next work starts a new host."""
    before = run_warm(scope, "probing", where)[0] if host.startswith("idle") else None
    note = tmp_path / "working"
    client = multiprocessing.get_context("fork").Process(target=_client, args=(scope, str(note)))
    client.start()
    deadline = time.monotonic() + 10
    while not note.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    working = int(note.read_text())
    assert alive(working)
    assert before in (None, working)
    os.kill(client.pid or 0, signal.SIGKILL)
    client.join()
    assert gone_within(working, 2), "the host went on working for a job that was gone"
    assert run_warm(scope, "probing", where)[0] != working


def test_a_host_leaves_with_its_owner_and_when_idle(scope: HostScope) -> None:
    owner = subprocess.Popen(["sleep", "600"])
    try:
        host, _ = run_warm(HostScope(secrets.token_hex(8), owner.pid), "probing", where)
        assert alive(host)
    finally:
        owner.kill()
        owner.wait()
    assert gone_within(host, 5), "the host outlived its owner"
    idle = HostScope(scope.token, scope.owner, idle_s=0.5)
    host, _ = run_warm(idle, "probing", where)
    assert gone_within(host, 5), "an idle host kept its memory"


def test_without_a_scope_work_runs_apart_each_time() -> None:
    first, _ = run_warm(None, "probing", where)
    second, _ = run_warm(None, "probing", where)
    assert len({first, second, os.getpid()}) == 3


def touch_fresh_memory(size: int) -> int:
    """Page faults taken to allocate, fill and free ``size`` bytes of heap (in
    blocks, as a library's arrays are)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    blocks = [bytearray(b"\1") * (1 << 20) for _ in range(size >> 20)]
    del blocks
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_a_host_keeps_the_memory_its_work_freed_and_says_its_name(scope: HostScope) -> None:
    """What a host exists for: the second work's memory is already touched, where a
    new process takes a fault per page; and an operator can tell it in ``ps``."""
    size = 64 << 20
    pages = size // os.sysconf("SC_PAGE_SIZE")
    assert run_warm(scope, "probing", touch_fresh_memory, size) > pages * 0.9
    assert run_warm(scope, "probing", touch_fresh_memory, size) < pages * 0.05
    assert run_warm(None, "probing", touch_fresh_memory, size) > pages * 0.9
    host, _ = run_warm(scope, "probing", where)
    assert Path(f"/proc/{host}/comm").read_text().strip() == "piq-warm-host"


def test_a_worker_sets_how_long_its_hosts_wait_or_turns_them_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIQ_HOST_TOKEN", "worker")
    assert HostScope.of_job_process() == HostScope("worker", os.getppid(), 300.0)
    monkeypatch.setenv("PIQ_WARM_HOST_IDLE_S", "30")
    assert HostScope.of_job_process() == HostScope("worker", os.getppid(), 30.0)
    monkeypatch.setenv("PIQ_WARM_HOST_IDLE_S", "0")
    assert HostScope.of_job_process() is None  # each docking in a process of its own
    # A wrong value: no host, and the docking tool's requirements check names it
    # (so the catalogue says it, and a submit is refused before any charge).
    for wrong in ("soon", "-5", "inf", "nan"):
        monkeypatch.setenv("PIQ_WARM_HOST_IDLE_S", wrong)
        assert HostScope.of_job_process() is None
        assert re.fullmatch(
            f"PIQ_WARM_HOST_IDLE_S must be the seconds .* not '{wrong}'",
            AutodockVina().missing_requirements() or "",
        )
    monkeypatch.delenv("PIQ_HOST_TOKEN")
    monkeypatch.delenv("PIQ_WARM_HOST_IDLE_S")
    assert HostScope.of_job_process() is None  # not a job process of a fork server
