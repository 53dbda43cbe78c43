"""Running a job in a process of its own, as the detached worker and the Dask
workers do: the tool runs in a child process group that is killed on cancel, past
the time limit, or when the lease is lost; a crashed tool fails the job (refunded).
Real stores on both backends, real processes."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from proteiniq_jupyter.config import EngineConfig
from proteiniq_jupyter.execution import detached
from proteiniq_jupyter.execution.detached import (
    DetachedProcessExecutor,
    run_claimed,
    worker_environment,
)
from proteiniq_jupyter.execution.supervisor import Outcome
from proteiniq_jupyter.jobs.access import Actor
from proteiniq_jupyter.jobs.model import JsonDict
from proteiniq_jupyter.jobs.service import JobService
from proteiniq_jupyter.jobs.status import JobStatus

from .conftest import text_input
from .helpers import TEST_TOOL_PATHS, process_alive


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> EngineConfig:
    return EngineConfig(
        data_dir=tmp_path,
        database_url=database_url,
        username="alice",
        extra_tools=TEST_TOOL_PATHS,
        lease_ttl_s=3.0,
    )


def runner(service: JobService, actor: Actor, job_id: str, timeout: float = 60) -> JsonDict:
    """What the job's (first) run recorded when it started: its pid and holder."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in service.events(actor, job_id):
            if event.kind == "runner":
                return event.data
        time.sleep(0.02)
    raise AssertionError("the job never started its process")


def runner_pid(service: JobService, actor: Actor, job_id: str, timeout: float = 60) -> int:
    return int(runner(service, actor, job_id, timeout)["pid"])


def in_background(service, tools, config, job_id) -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []
    thread = threading.Thread(
        target=lambda: outcome.append(run_claimed(service.runs, tools, config, job_id))
    )
    thread.start()
    return thread, outcome


def test_a_finished_job_is_recorded(service, tools, config, alice):
    job = service.submit(alice, "echo", [text_input("hello there")], {"repeat": 2})
    assert run_claimed(service.runs, tools, config, job.id) is Outcome.COMPLETED
    done = service.get(alice, job.id).job
    assert done.status is JobStatus.COMPLETED
    assert done.result.fields == {"length": 11, "echo": "hello there hello there"}
    assert (service.files.job_dir(job.id) / "echo.txt").read_text() == "hello there hello there"
    assert done.lease_owner is None
    # a second claim of a finished job does nothing
    assert run_claimed(service.runs, tools, config, job.id) is None


def wait_until(check: Callable[[], object], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not true after {timeout} s: {check}"
        time.sleep(0.02)


def test_cancel_kills_the_process_group(service, tools, config, alice, gate):
    job = service.submit(alice, "sleep", [text_input("x")], gate.settings(spawn_grandchild=True))
    thread, outcome = in_background(service, tools, config, job.id)
    run = runner(service, alice, job.id)
    pid = run["pid"]
    grandchild_file = service.files.attempt_dir(job.id, run["holder"]) / "grandchild.pid"
    wait_until(grandchild_file.exists)
    grandchild = int(grandchild_file.read_text())
    assert process_alive(pid) and process_alive(grandchild)
    service.cancel(alice, job.id)
    # How soon they go is measured by benchmarks/latency.py.
    wait_until(lambda: not (process_alive(pid) or process_alive(grandchild)))
    thread.join(60)
    assert outcome == [Outcome.CANCELLED]
    cancelled = service.get(alice, job.id).job
    assert cancelled.status is JobStatus.CANCELLED
    assert cancelled.credits_charged == 10  # it ran: the charge stands


def test_past_the_time_limit_is_timeout_and_the_process_is_gone(
    service, tools, config, alice, gate
):
    limited = replace(config, time_limits=(("sleep", 0.5),))
    job = service.submit(alice, "sleep", [text_input("x")], gate.settings())
    thread, outcome = in_background(service, tools, limited, job.id)
    pid = runner_pid(service, alice, job.id)
    thread.join(60)
    assert outcome == [Outcome.TIMEOUT]
    timed_out = service.get(alice, job.id).job
    assert timed_out.status is JobStatus.TIMEOUT
    assert timed_out.error == "stopped after its time limit of 0.5 s"
    # not before its limit (how soon after it is measured by benchmarks/latency.py)
    assert timed_out.finished_at - timed_out.started_at >= timedelta(seconds=0.5)
    assert not process_alive(pid)


def test_a_crashed_tool_fails_the_job_and_refunds(service, tools, config, alice):
    job = service.submit(alice, "sleep", [text_input("x")], {"crash": True})
    assert run_claimed(service.runs, tools, config, job.id) is Outcome.FAILED
    failed = service.get(alice, job.id).job
    assert failed.status is JobStatus.FAILED
    assert "exit status 9" in failed.error
    assert failed.credits_charged == 0
    assert service.account(alice).available_credits == 500


def test_progress_reaches_the_job_while_it_runs(service, tools, config, alice, gate):
    job = service.submit(alice, "sleep", [text_input("x")], gate.settings(steps=4))
    thread, outcome = in_background(service, tools, config, job.id)
    seen = set()
    for step in (1, 2, 3):  # the job takes its next step once this one was seen
        wait_until(lambda step=step: service.get(alice, job.id).job.progress == step / 4)
        view = service.get(alice, job.id).job
        assert view.status is JobStatus.PROCESSING
        seen.add(view.progress)
        gate.allow(step + 1)
    thread.join(60)
    assert outcome == [Outcome.COMPLETED]
    assert {0.25, 0.5, 0.75} <= seen
    progress = [e for e in service.events(alice, job.id) if e.kind == "progress"]
    assert [e.data["progress_message"] for e in progress] == [
        "step 1",
        "step 2",
        "step 3",
        "step 4",
    ]


def test_a_lost_lease_stops_the_run(service, tools, config, alice, gate):
    job = service.submit(alice, "sleep", [text_input("x")], gate.settings())
    thread, outcome = in_background(service, tools, config, job.id)
    pid = runner_pid(service, alice, job.id)
    with service.store.write() as tx:  # someone else recovered the job meanwhile
        taken = tx.get_job(job.id)
        tx.update_job(replace(taken, lease_owner="worker:elsewhere"))
    thread.join(60)
    assert outcome == [Outcome.LOST]
    assert not process_alive(pid)
    assert service.get(alice, job.id).job.status is JobStatus.PROCESSING  # not ours to end


def test_a_worker_that_cannot_start_fails_the_job_at_once(
    service, alice, config, tmp_path, monkeypatch
):
    monkeypatch.setattr(detached, "worker_command", lambda job_id: [str(tmp_path / "no-python")])
    service.attach_executor(DetachedProcessExecutor(service.runs, config))
    job = service.submit(alice, "echo", [text_input("hello")])
    failed = service.get(alice, job.id).job
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None and "could not start a worker process" in failed.error
    assert failed.credits_charged == 0
    assert service.account(alice).available_credits == 500


def test_the_detached_executor_runs_jobs_in_processes_of_their_own(service, alice, config):
    service.attach_executor(DetachedProcessExecutor(service.runs, config))
    job = service.submit(alice, "sleep", [text_input("x")], {"seconds": 0.2})
    service.executor.wait(30)
    done = service.get(alice, job.id).job
    assert done.status is JobStatus.COMPLETED
    assert done.result.fields["pid"] != os.getpid()


def test_the_worker_gets_the_engine_configuration(tmp_path: Path) -> None:
    config = EngineConfig(
        data_dir=tmp_path,
        database_url="sqlite+pysqlite:////x/piq.sqlite",
        username="bob",
        time_limits=(("sleep", 5.0),),
        extra_tools=("tests.helpers:Sleep",),
    )
    env = worker_environment(config, {"PIQ_DATABASE_URL": "postgresql://elsewhere", "HOME": "/h"})
    assert env["PIQ_DATABASE_URL"] == "sqlite+pysqlite:////x/piq.sqlite"
    assert env["PIQ_DATA_DIR"] == str(tmp_path)
    assert env["HOME"] == "/h"
    assert EngineConfig.from_env(env) == config
    assert detached.main([]) == 2
