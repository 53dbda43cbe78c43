"""A worker that stops (SIGSTOP, a swap storm, a network cut) past its lease must
not let a job run twice. Its job's process kills itself before the lease runs
out, without the worker's help; and nothing a run writes once its job has moved
on (files, progress, result, status) lands. Real job processes, real worker
processes stopped with SIGSTOP, a real Dask cluster, real stores on both
backends."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

import pytest

from proteiniq_jupyter.assembly import build_service
from proteiniq_jupyter.config import EngineConfig
from proteiniq_jupyter.engine import Engine
from proteiniq_jupyter.execution.child import GO, lease_message
from proteiniq_jupyter.execution.detached import worker_command, worker_environment
from proteiniq_jupyter.execution.supervisor import LOG_NAME, kill_group, start_job_process
from proteiniq_jupyter.jobs.access import Actor
from proteiniq_jupyter.jobs.errors import LeaseLost
from proteiniq_jupyter.jobs.model import JsonDict, ResultFile, ToolResult
from proteiniq_jupyter.jobs.service import JobService
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.store import codec

from .conftest import text_input
from .engines import dask_config, engine_fixture, wait_until  # noqa: F401  (a fixture)
from .helpers import TEST_TOOL_PATHS, Gate, process_alive

pytestmark = pytest.mark.timeout(240)
#: How long past its lease a stopped worker's run may take to be gone.
GRACE_S = 1.0


# -- the job process and its watchdog ----------------------------------------------


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[Callable[[JsonDict], tuple[BaseProcess, Connection]]]:
    """Starts the sleep tool's job process as a worker's supervisor does; whatever
    it started is killed at the end."""
    started: list[BaseProcess] = []

    def start(settings: JsonDict) -> tuple[BaseProcess, Connection]:
        workdir = tmp_path / f"run{len(started)}"
        workdir.mkdir()
        process, conn = start_job_process(
            {
                "job_id": f"job_{len(started)}",
                "tool": "sleep",
                "inputs": codec.encode_inputs((text_input("x"),)),
                "settings": settings,
                "workdir": str(workdir),
                "log": str(workdir / LOG_NAME),
                "cache": str(tmp_path / "cache"),
                "extra_tools": list(TEST_TOOL_PATHS),
            }
        )
        started.append(process)
        return process, conn

    yield start
    for process in started:
        kill_group(process)


def test_a_job_process_whose_lease_is_not_renewed_kills_itself(sleeper, gate: Gate):
    process, conn = sleeper(gate.settings(steps=2))
    conn.send(lease_message(time.monotonic() + 60))
    conn.send(GO)
    assert conn.recv()["fraction"] == 0.5  # it runs, held at the gate after its first step
    # The lease is renewed once more, then never again (its supervisor stopped).
    given = time.monotonic() + 1.0
    conn.send(lease_message(given))
    process.join(30)
    assert process.exitcode == -signal.SIGKILL
    assert given <= time.monotonic() < given + GRACE_S


def test_a_go_that_comes_after_the_lease_ran_out_runs_nothing(sleeper, tmp_path: Path):
    markers = tmp_path / "markers"
    markers.mkdir()
    process, conn = sleeper({"marker_dir": str(markers)})
    conn.send(lease_message(time.monotonic() - 0.001))  # its supervisor came back too late
    conn.send(GO)
    process.join(30)
    assert process.exitcode == -signal.SIGKILL
    assert not list(markers.iterdir())  # the tool never started


def test_a_job_process_goes_when_its_supervisor_s_end_closes(sleeper, gate: Gate):
    process, conn = sleeper(gate.settings(steps=2))
    conn.send(lease_message(time.monotonic() + 60))
    conn.send(GO)
    assert conn.recv()["fraction"] == 0.5
    conn.close()  # the worker died
    process.join(30)
    assert process.exitcode == -signal.SIGKILL


# -- writes of a run that lost its job --------------------------------------------


def expire_lease(service: JobService, job_id: str) -> None:
    """The lease's holder has been silent past its lease."""
    with service.store.write() as tx:
        job = tx.get_job(job_id, for_update=True)
        assert job is not None and job.lease_expires_at is not None
        tx.update_job(replace(job, lease_expires_at=job.lease_expires_at - timedelta(hours=1)))


def echo_result(text: str) -> ToolResult:
    return ToolResult(
        fields={"echo": text}, files=[ResultFile(name="echo.txt", format="text", size=len(text))]
    )


def test_a_run_that_lost_its_job_writes_nothing_that_lands(service: JobService, alice: Actor):
    runs = service.runs
    job = service.submit(alice, "echo", [text_input("hello")])
    folder = service.files.job_dir(job.id)

    def run_writes(holder: str, text: str) -> None:
        own = service.files.attempt_dir(job.id, holder)
        own.mkdir(parents=True, exist_ok=True)
        (own / "echo.txt").write_text(text)

    assert runs.start(job.id, holder="worker:a") is not None
    run_writes("worker:a", "from a")
    runs.progress(job.id, 0.25, "a, step 1", holder="worker:a")
    expire_lease(service, job.id)  # a's worker stopped
    [recovered] = runs.recover_lost()
    assert recovered.status is JobStatus.RETRY
    assert runs.start(job.id, holder="worker:b") is not None
    run_writes("worker:b", "from b")

    # a's worker comes back and carries on, while b runs and after b has finished
    for finished in (False, True):
        runs.progress(job.id, 0.75, "a, step 2", holder="worker:a")
        assert runs.complete(job.id, echo_result("from a"), holder="worker:a") is None
        assert runs.fail(job.id, "a failed", holder="worker:a") is None
        assert runs.fail(job.id, "a's worker", transient=True, holder="worker:a") is None
        assert runs.time_out(job.id, 1.0, holder="worker:a") is None
        now = service.get(alice, job.id).job
        if not finished:
            assert (now.status, now.progress, now.lease_owner) == (
                JobStatus.PROCESSING,
                0.0,
                "worker:b",
            )
            assert not (folder / "echo.txt").exists()
            done = runs.complete(job.id, echo_result("from b"), holder="worker:b")
            assert done is not None
    final = service.get(alice, job.id).job
    assert (final.status, final.finished_at) == (JobStatus.COMPLETED, done.finished_at)
    assert final.attempts == 2 and final.progress == 1.0 and final.error is None
    assert final.result is not None and final.result.fields == {"echo": "from b"}
    assert (folder / "echo.txt").read_text() == "from b"
    assert sorted(p.name for p in folder.iterdir()) == ["echo.txt"]  # no run's folder is left
    stale = ("a, step 2", "a failed", "a's worker", "time limit")
    assert not [e for e in service.events(alice, job.id) if any(s in str(e.data) for s in stale)]
    charges = [e for e in service.ledger(alice, job_id=job.id) if e.kind == "charge"]
    assert len(charges) == 1


def test_the_store_refuses_a_write_for_a_runner_that_does_not_hold_the_job(
    service: JobService, alice: Actor
):
    job = service.submit(alice, "echo", [text_input("hello")])
    assert service.runs.start(job.id, holder="worker:b") is not None
    with pytest.raises(LeaseLost), service.store.write() as tx:
        held = tx.get_job(job.id, for_update=True)
        assert held is not None
        tx.update_job(replace(held, progress=0.9), held_by="worker:a")
    assert service.get(alice, job.id).job.progress == 0.0
    with service.store.write() as tx:
        tx.update_job(replace(held, progress=0.5), held_by="worker:b")
    assert service.get(alice, job.id).job.progress == 0.5


# -- a real worker stopped past its lease -----------------------------------------


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> EngineConfig:
    return dask_config(database_url, tmp_path)


def runners(service: JobService, actor: Actor, job_id: str) -> list[JsonDict]:
    """What each run of the job recorded when it started: its pid and holder."""
    return [e.data for e in service.events(actor, job_id) if e.kind == "runner"]


def stop_after_a_renewal(service: JobService, job_id: str, pid: int) -> float:
    """SIGSTOP the worker ``pid`` just after it renewed the job's lease (so not in
    the middle of writing to the store); returns when."""
    renewed = service.runs.job_for_run(job_id).lease_expires_at
    wait_until(lambda: service.runs.job_for_run(job_id).lease_expires_at != renewed, every=0.005)
    os.kill(pid, signal.SIGSTOP)
    return time.monotonic()


def held_at_the_gate(service: JobService, actor: Actor, job_id: str) -> None:
    """The job's first run has taken its first step and said so."""
    wait_until(lambda: service.get(actor, job_id).job.progress == 0.5)


def check_the_run_that_completed_wrote_the_files(
    service: JobService, actor: Actor, job_id: str, stale: JsonDict, completed: JsonDict
) -> None:
    done = service.get(actor, job_id).job
    assert done.status is JobStatus.COMPLETED and done.attempts == 2
    assert done.result is not None and done.result.fields["pid"] == completed["pid"]
    assert completed["pid"] != stale["pid"]
    folder = service.files.job_dir(job_id)
    assert (folder / "run.txt").read_text() == str(completed["pid"])
    assert not (folder / ".attempts").exists()
    charges = [e for e in service.ledger(actor, job_id=job_id) if e.kind == "charge"]
    assert len(charges) == 1 and done.credits_charged == 10


def start_detached_worker(config: EngineConfig, job_id: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            worker_command(job_id),
            env=worker_environment(config),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_a_stopped_detached_worker_s_run_is_gone_before_its_job_runs_again(
    config: EngineConfig, tmp_path: Path, gate: Gate
):
    service, _ = build_service(config)
    me = service.sign_in("alice")
    job = service.submit(me, "sleep", [text_input("x")], gate.settings(write_pid=True))
    log = tmp_path / "workers.log"
    workers = [start_detached_worker(config, job.id, log)]
    try:
        [first] = wait_until(lambda: runners(service, me, job.id))
        held_at_the_gate(service, me, job.id)
        stopped = stop_after_a_renewal(service, job.id, workers[0].pid)

        # The stopped worker's run goes by itself, within its lease and a grace ...
        wait_until(lambda: not process_alive(first["pid"]), config.lease_ttl_s + GRACE_S, 0.01)
        assert time.monotonic() - stopped < config.lease_ttl_s + GRACE_S
        # ... so before its job may be taken over: that waits for the lease to run out.
        [recovered] = wait_until(service.runs.recover_lost)
        assert recovered.id == job.id and recovered.status is JobStatus.RETRY
        workers.append(start_detached_worker(config, job.id, log))
        second = wait_until(lambda: runners(service, me, job.id)[1:])[0]
        assert not process_alive(first["pid"])
        gate.open()
        assert workers[1].wait(60) == 0
        check_the_run_that_completed_wrote_the_files(service, me, job.id, first, second)
        done = service.get(me, job.id).job

        # The stopped worker comes back to a job that has moved on, and leaves it be.
        os.kill(workers[0].pid, signal.SIGCONT)
        assert workers[0].wait(60) == 0
        assert service.get(me, job.id).job == done
        check_the_run_that_completed_wrote_the_files(service, me, job.id, first, second)
        assert f"done with job {job.id}: lost" in log.read_text()
    finally:
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGCONT)
                os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(30)


def test_a_stopped_dask_worker_s_run_is_gone_before_its_job_runs_again(
    engine: Engine, config: EngineConfig, gate: Gate
):
    service, me = engine.service, engine.actor()
    job = service.submit(me, "sleep", [text_input("x")], gate.settings(write_pid=True))
    [first] = wait_until(lambda: runners(service, me, job.id))
    worker_pid = int(first["holder"].split(":")[-2])
    worker_address = first["holder"].rsplit(":", 2)[0].removeprefix("worker:")
    held_at_the_gate(service, me, job.id)
    stopped = stop_after_a_renewal(service, job.id, worker_pid)
    try:
        wait_until(lambda: not process_alive(first["pid"]), config.lease_ttl_s + GRACE_S, 0.01)
        assert time.monotonic() - stopped < config.lease_ttl_s + GRACE_S
        # The engine recovers the job once the lease has run out, and runs it elsewhere.
        second = wait_until(lambda: runners(service, me, job.id)[1:], timeout=90)[0]
        assert not second["holder"].startswith(f"worker:{worker_address}:")
        assert not process_alive(first["pid"])
        gate.open()
        wait_until(lambda: service.get(me, job.id).job.status.is_terminal, timeout=90)
        check_the_run_that_completed_wrote_the_files(service, me, job.id, first, second)
        done = service.get(me, job.id).job
    finally:
        os.kill(worker_pid, signal.SIGCONT)
    # The stopped worker comes back, ends its task, and leaves the job be.
    client = engine.executor.client()
    wait_until(lambda: not client.processing(workers=[worker_address]).get(worker_address))
    assert service.get(me, job.id).job == done
    check_the_run_that_completed_wrote_the_files(service, me, job.id, first, second)
