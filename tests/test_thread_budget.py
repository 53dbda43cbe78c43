"""Each job's process gets a share of its machine's CPUs: all of them when it runs
alone, a split when jobs run together, on a real Dask cluster whose workers Dask
starts with one thread each (``OMP_NUM_THREADS=1``)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from proteiniq_jupyter.config import EngineConfig
from proteiniq_jupyter.engine import Engine, open_engine
from proteiniq_jupyter.execution.cpu import THREAD_VARIABLES, thread_budget
from proteiniq_jupyter.jobs.model import Job
from proteiniq_jupyter.jobs.status import JobStatus

from .conftest import text_input
from .engines import dask_config, wait_until
from .helpers import (
    TEST_TOOL_PATHS,
    THREAD_TOOL_PATHS,
    Gate,
    huge_pages_on_request,
)

pytestmark = pytest.mark.timeout(240)
CPUS = 2


def _pin(cpus: set[int]) -> None:
    """Pin every thread of this process (and so the cluster it starts) to ``cpus``."""
    for thread in os.listdir("/proc/self/task"):
        with contextlib.suppress(ProcessLookupError):  # the thread ended meanwhile
            os.sched_setaffinity(int(thread), cpus)


@pytest.fixture
def two_cpus() -> Iterator[None]:
    """This process and the cluster it starts run on two CPUs, however many the
    machine has (as ``taskset`` or a container's cpuset would give them)."""
    available = os.sched_getaffinity(0)
    if len(available) < CPUS:
        pytest.skip(f"needs {CPUS} CPUs, this machine lets the tests use {len(available)}")
    _pin(set(sorted(available)[:CPUS]))
    yield
    _pin(available)


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> EngineConfig:
    return dask_config(database_url, tmp_path, extra_tools=(*TEST_TOOL_PATHS, *THREAD_TOOL_PATHS))


def runner_event(engine: Engine, job: Job) -> dict[str, object]:
    [runner] = [e for e in engine.service.events(engine.actor(), job.id) if e.kind == "runner"]
    return dict(runner.data)


def started(engine: Engine, job: Job) -> bool:
    events = engine.service.events(engine.actor(), job.id)
    return any(e.kind == "progress" and e.data.get("progress") == 0.5 for e in events)


def finished(engine: Engine, job: Job) -> Job:
    done = engine.service.get(engine.actor(), job.id).job
    assert done.status is JobStatus.COMPLETED, done.error
    return done


def threads_seen(done: Job) -> dict[str, object]:
    assert done.result is not None
    fields = done.result.fields
    return {
        "torch": fields["torch_threads"],
        "context": fields["context_threads"],
        **{name: fields[name] for name in THREAD_VARIABLES},
    }


def seen(threads: int) -> dict[str, object]:
    return {
        "torch": threads,
        "context": threads,
        **{name: str(threads) for name in THREAD_VARIABLES},
    }


@pytest.mark.parametrize("preloaded", [False, True], ids=["torch-imported-by-job", "preloaded"])
def test_a_job_alone_gets_every_cpu_and_jobs_together_share_them(
    config: EngineConfig, two_cpus: None, gate: Gate, preloaded: bool
):
    """A job alone on a two-CPU machine runs on two threads, though Dask starts its
    workers with one; a job that starts while it runs gets its share, one; once
    both have ended a job has both CPUs again. Torch reads its count when the job
    imports it, or is told when the fork server had imported it already; the
    runner event records the budget."""
    engine = open_engine(replace(config, preload_tools=("thread-probe",) if preloaded else ()))
    try:
        me = engine.actor()
        first = engine.service.submit(
            me, "thread-probe", [text_input("a")], {"hold": str(gate.folder)}
        )
        wait_until(lambda: started(engine, first))
        second = engine.service.submit(
            me, "thread-probe", [text_input("b")], {"hold": str(gate.folder)}
        )
        wait_until(lambda: started(engine, second))
        gate.open()
        engine.wait(timeout=120)
        third = engine.service.submit(me, "thread-probe", [text_input("c")])
        engine.wait(timeout=120)

        alone, together, again = (finished(engine, job) for job in (first, second, third))
        assert threads_seen(alone) == seen(2)
        assert threads_seen(together) == seen(1)
        assert threads_seen(again) == seen(2)
        assert alone.result is not None and alone.result.fields["torch_preloaded"] is preloaded
        # OpenMP's threads wait without spinning, which other work on the CPUs needs
        assert alone.result.fields["wait_policy"] == "PASSIVE"
        assert runner_event(engine, first) | {"pid": 0, "holder": ""} == {
            "pid": 0,
            "holder": "",
            "threads": 2,
            "cpus": 2,
            "jobs_sharing_cpus": 1,
        }
        assert runner_event(engine, second)["threads"] == 1
        assert runner_event(engine, second)["jobs_sharing_cpus"] == 2
        assert runner_event(engine, third)["threads"] == 2
    finally:
        engine.close()


def test_a_tool_can_turn_huge_pages_off_for_its_jobs(config: EngineConfig):
    """The fork server asks for huge pages for every job; a tool that declares
    ``huge_pages = False`` (Vina) gets none, even for memory it fills."""
    if not huge_pages_on_request():
        pytest.skip("this kernel gives no transparent huge pages on request")
    engine = open_engine(config)
    try:
        me = engine.actor()
        job = engine.service.submit(me, "process-probe-small-pages", [text_input("x")])
        engine.wait(timeout=60)
        done = engine.service.get(me, job.id).job
        assert done.status is JobStatus.COMPLETED, done.error
        assert done.result is not None
        assert "glibc.malloc.hugetlb=1" in str(done.result.fields["glibc_tunables"])
        assert done.result.fields["huge_pages_kb"] == 0
    finally:
        engine.close()


def _hold_a_slot(pool: str, ready: multiprocessing.synchronize.Event) -> None:
    with thread_budget(pool, "job_dies", cpus=4):
        ready.set()
        signal.pause()


def test_a_dead_jobs_slot_is_not_counted(tmp_path: Path):
    """A supervisor killed while its job ran leaves its slot behind; the next job
    does not count it, and gets every CPU."""
    pool = str(tmp_path)
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    holder = context.Process(target=_hold_a_slot, args=(pool, ready))
    holder.start()
    try:
        assert ready.wait(30)
        with thread_budget(pool, "job_b", cpus=4) as budget:
            assert (budget.threads, budget.jobs) == (2, 2)
    finally:
        os.kill(holder.pid or 0, signal.SIGKILL)
        holder.join()
    with thread_budget(pool, "job_c", cpus=4) as budget:
        assert (budget.threads, budget.jobs) == (4, 1)


def test_where_no_slot_can_be_kept_a_job_still_runs_with_every_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A temporary folder where the slots cannot be kept (here a file stands where
    their folder goes) costs the job its share, never its run."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    (tmp_path / f"piq-cpu-{os.getuid()}").write_text("not a folder")
    with (
        thread_budget("pool", "job_a", cpus=4) as first,
        thread_budget("pool", "job_b", cpus=4) as second,
    ):
        assert (first.threads, second.threads) == (4, 4)
