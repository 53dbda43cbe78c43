"""The detached worker: what it does when its job is cancelled, runs past its time
limit, or the worker itself breaks, and what the executor does when no worker can
be started. Real stores on both backends; the tools are the test tools."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import pydantic
import pytest

from proteiniq_jupyter.config import EngineConfig
from proteiniq_jupyter.execution import detached
from proteiniq_jupyter.execution.detached import (
    DetachedProcessExecutor,
    WorkerOutcome,
    run_detached,
    worker_environment,
)
from proteiniq_jupyter.jobs.access import Actor
from proteiniq_jupyter.jobs.model import JobInput, ToolResult
from proteiniq_jupyter.jobs.service import JobService
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.tools.base import InputSlot, RunContext, Tool
from proteiniq_jupyter.tools.registry import ToolRegistry

from .conftest import text_input
from .helpers import TEST_TOOLS


class Slow(Tool):
    """Runs until the test releases it."""

    id = "slow"
    name = "Slow"
    description = "Waits for the test."
    category = "testing"
    slots: ClassVar[tuple[InputSlot, ...]] = (
        InputSlot(id="text", kind="text", formats=("text",), label="Text"),
    )
    release: ClassVar[threading.Event] = threading.Event()

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        context.progress(0.1, "waiting")
        self.release.wait(10)
        return ToolResult(fields={"waited": True})


class SlowWithLimit(Slow):
    id = "slow-limited"
    time_limit_s = 0.3


@pytest.fixture
def tools() -> Iterator[ToolRegistry]:
    Slow.release.clear()
    yield ToolRegistry([*(tool() for tool in TEST_TOOLS), Slow(), SlowWithLimit()])
    Slow.release.set()


def _run_in_background(
    service: JobService, tools: ToolRegistry, job_id: str
) -> tuple[threading.Thread, list[WorkerOutcome]]:
    outcome: list[WorkerOutcome] = []
    thread = threading.Thread(
        target=lambda: outcome.append(run_detached(service, tools, job_id, watch_interval_s=0.02))
    )
    thread.start()
    return thread, outcome


def _wait_for(service: JobService, alice: Actor, job_id: str, status: JobStatus) -> None:
    deadline = time.monotonic() + 10
    while service.get(alice, job_id).job.status is not status:
        assert time.monotonic() < deadline, service.get(alice, job_id).job.status
        time.sleep(0.01)


def _let_tool_finish(job_id: str) -> None:
    Slow.release.set()
    deadline = time.monotonic() + 10
    while any(t.name == f"piq-job-{job_id}" for t in threading.enumerate()):
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_finished_job_is_recorded(service: JobService, tools: ToolRegistry, alice: Actor) -> None:
    job = service.submit(alice, "echo", [text_input("hello")])
    assert run_detached(service, tools, job.id) is WorkerOutcome.FINISHED
    assert service.get(alice, job.id).job.status is JobStatus.COMPLETED


def test_cancelling_stops_the_worker_while_the_tool_runs(
    service: JobService, tools: ToolRegistry, alice: Actor
) -> None:
    job = service.submit(alice, "slow", [text_input("x")])
    thread, outcome = _run_in_background(service, tools, job.id)
    _wait_for(service, alice, job.id, JobStatus.PROCESSING)
    service.cancel(alice, job.id)
    thread.join(5)
    assert outcome == [WorkerOutcome.STOPPED]
    _let_tool_finish(job.id)
    assert service.get(alice, job.id).job.status is JobStatus.CANCELLED


def test_a_tool_past_its_time_limit_times_the_job_out(
    service: JobService, tools: ToolRegistry, alice: Actor
) -> None:
    job = service.submit(alice, "slow-limited", [text_input("x")])
    thread, outcome = _run_in_background(service, tools, job.id)
    thread.join(5)
    assert outcome == [WorkerOutcome.TIMED_OUT]
    _let_tool_finish(job.id)
    timed_out = service.get(alice, job.id).job
    assert timed_out.status is JobStatus.TIMEOUT
    assert timed_out.error == "stopped after its time limit of 0.3 s"


def test_a_worker_that_breaks_fails_the_job(
    service: JobService, tools: ToolRegistry, alice: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = service.submit(alice, "echo", [text_input("hello")])

    def broken_start(job_id: str) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(service, "start", broken_start)
    assert run_detached(service, tools, job.id) is WorkerOutcome.CRASHED
    failed = service.get(alice, job.id).job
    assert failed.status is JobStatus.FAILED
    assert failed.error == "the job's worker process failed: RuntimeError: the disk is full"


def test_a_worker_that_cannot_start_fails_the_job_at_once(
    service: JobService,
    alice: Actor,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = EngineConfig(data_dir=tmp_path, database_url=database_url, username="alice")
    monkeypatch.setattr(detached, "worker_command", lambda job_id: [str(tmp_path / "no-python")])
    service.attach_executor(DetachedProcessExecutor(service, config))
    job = service.submit(alice, "echo", [text_input("hello")])
    failed = service.get(alice, job.id).job
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None and "could not start a worker process" in failed.error
    assert failed.credits_charged == 0
    assert service.account(alice).available_credits == 500


def test_the_worker_gets_the_engine_configuration(tmp_path: Path) -> None:
    config = EngineConfig(
        data_dir=tmp_path, database_url="sqlite+pysqlite:////x/piq.sqlite", username="bob"
    )
    env = worker_environment(config, {"PIQ_DATABASE_URL": "postgresql://elsewhere", "HOME": "/h"})
    assert env["PIQ_DATABASE_URL"] == "sqlite+pysqlite:////x/piq.sqlite"
    assert env["PIQ_DATA_DIR"] == str(tmp_path)
    assert env["HOME"] == "/h"
    assert detached.main([]) == 2
