"""Jobs on a cluster as it is deployed: a real ``dask scheduler`` and separate
``dask worker`` processes on 127.0.0.1, one of which lacks a tool (the weights it
needs are not there). A job goes only to a worker that can run its tool, waits
with the reason when none can, is refused by a worker that finds it cannot after
all (once), and a worker that dies is noticed when the scheduler says so. Workers
keep their own database and data folder. ``piq run`` without ``--wait`` hands its
job to the cluster, or to a running engine."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from distributed import Client

from proteiniq_jupyter.assembly import build_service
from proteiniq_jupyter.cli import cli
from proteiniq_jupyter.config import EngineConfig
from proteiniq_jupyter.engine import Engine
from proteiniq_jupyter.execution.dask_executor import DaskExecutor
from proteiniq_jupyter.execution.dask_worker import safe_url
from proteiniq_jupyter.jobs.model import Job
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.store.sql_store import SqlStore

from .conftest import REPO, text_input
from .engines import (  # noqa: F401  (engine_fixture is a fixture)
    BIN,
    dask_config,
    dask_worker,
    engine_fixture,
    in_background,
    wait_until,
)
from .helpers import WEIGHTS_ENV, Gate

pytestmark = pytest.mark.timeout(300)
#: The settings that a worker of these tests must not inherit from the test run.
NOT_INHERITED = (WEIGHTS_ENV, "PIQ_DATABASE_URL", "PIQ_DATA_DIR", "PIQ_EXTRA_TOOLS")


@dataclass
class Cluster:
    """A scheduler with one worker that lacks the weights, and the means to start
    more workers for one test."""

    folder: Path
    address: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start_worker(self, name: str, **env: str) -> str:
        """Start a ``dask worker`` (its own settings in ``env``); its address once it
        has joined."""
        clean = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        self.processes[name] = in_background(
            dask_worker(self.address, name), self.log(name), cwd=REPO, env={**clean, **env}
        )
        return str(wait_until(lambda: self.worker_address(name), timeout=90))

    def worker_address(self, name: str) -> str | None:
        with Client(self.address, set_as_default=False) as client:
            workers = client.scheduler_info(n_workers=-1)["workers"]
        return next((a for a, w in workers.items() if w.get("name") == name), None)

    def stop(self, name: str) -> None:
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("cluster")
    scheduler_file = folder / "scheduler.json"
    scheduler = in_background(
        [
            str(BIN / "dask"),
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--dashboard-address",  # nor Dask's HTTP routes on 8787
            "127.0.0.1:0",
            "--scheduler-file",
            str(scheduler_file),
        ],
        folder / "scheduler.log",
        cwd=REPO,
    )
    try:
        wait_until(scheduler_file.exists, timeout=60)
        address = json.loads(scheduler_file.read_text())["address"]
        cluster = Cluster(folder, address)
        cluster.start_worker("lacking")
        yield cluster
        for name in list(cluster.processes):
            cluster.stop(name)
    finally:
        os.killpg(scheduler.pid, signal.SIGTERM)
        scheduler.wait(30)


@pytest.fixture
def config(database_url: str, tmp_path: Path, cluster: Cluster) -> EngineConfig:
    return dask_config(
        database_url,
        tmp_path,
        dask_workers=None,
        dask_scheduler_address=cluster.address,
        lease_ttl_s=600.0,  # far longer than any wait below: no recovery by lease
        recovery_interval_s=0.3,
    )


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    path = tmp_path / "echo.weights"
    path.write_text("weights\n")
    return path


def job_of(engine: Engine, job_id: str) -> Job:
    return engine.service.get(engine.actor(), job_id).job


def events(engine: Engine, job_id: str, kind: str) -> list:
    return [e for e in engine.service.events(engine.actor(), job_id) if e.kind == kind]


def holder_of(engine: Engine, job_id: str) -> str:
    [runner] = events(engine, job_id, "runner")
    return str(runner.data["holder"])


def test_a_job_waits_for_a_worker_that_can_run_its_tool_and_runs_there(
    engine: Engine, cluster: Cluster, weights: Path
) -> None:
    lacking = cluster.worker_address("lacking")
    said = f"{lacking}: the echo weights are not there"
    availability = wait_until(
        lambda: (
            (a := engine.service.tool_availability("weights-echo")).reason
            and said in a.reason
            and a
        )
    )
    assert not availability.available and not availability.blocking  # one may join
    assert engine.service.tool_availability("echo").available

    me = engine.actor()
    job = engine.service.submit(me, "weights-echo", [text_input("needs weights")])
    wait_until(lambda: WEIGHTS_ENV in (job_of(engine, job.id).status_reason or ""))
    waiting = job_of(engine, job.id)
    assert waiting.status is JobStatus.PENDING
    assert waiting.status_reason is not None
    assert "no worker of the cluster can run weights-echo yet" in waiting.status_reason
    assert WEIGHTS_ENV in waiting.status_reason  # what to set
    # Meanwhile the worker runs what it can.
    echo = engine.service.submit(me, "echo", [text_input("on any worker")])
    wait_until(lambda: job_of(engine, echo.id).status is JobStatus.COMPLETED)

    capable = cluster.start_worker("capable", **{WEIGHTS_ENV: str(weights)})
    try:
        wait_until(lambda: job_of(engine, job.id).status is JobStatus.COMPLETED, timeout=90)
        assert holder_of(engine, job.id).startswith(f"worker:{capable}:")
        assert holder_of(engine, echo.id).startswith("worker:tcp://127.0.0.1:")
        # The reason was given once, however many times the engine looked.
        reasons = [e.data["status_reason"] for e in events(engine, job.id, "waiting")]
        assert reasons.count(waiting.status_reason) == 1, reasons
        assert job_of(engine, job.id).credits_charged == job.estimated_credits == 20
    finally:
        cluster.stop("capable")


def test_a_worker_that_finds_it_cannot_run_a_job_refuses_it_once(
    engine: Engine, cluster: Cluster, weights: Path, tmp_path: Path
) -> None:
    """Its weights vanish after it started: the job it is sent is handed back with
    who refused it and why, and never sent to it again."""
    fickle = cluster.start_worker("fickle", **{WEIGHTS_ENV: str(weights)})
    try:
        wait_until(lambda: engine.service.tool_availability("weights-echo").available)
        weights.unlink()
        me = engine.actor()
        job = engine.service.submit(me, "weights-echo", [text_input("x")])

        def refusals() -> list:
            return [e for e in events(engine, job.id, "waiting") if "refused_by" in e.data]

        [refusal] = wait_until(refusals)
        assert refusal.data["refused_by"] == fickle
        assert "the echo weights are not there" in refusal.data["refusal"]
        assert f"worker {fickle} cannot run weights-echo" in refusal.data["status_reason"]
        # Then it waits, saying that no worker can run it now.
        wait_until(
            lambda: (
                "no worker of the cluster can run weights-echo yet"
                in (job_of(engine, job.id).status_reason or "")
            )
        )
        assert job_of(engine, job.id).status is JobStatus.PENDING

        fresh = tmp_path / "fresh.weights"
        fresh.write_text("weights\n")
        capable = cluster.start_worker("capable", **{WEIGHTS_ENV: str(fresh)})
        wait_until(lambda: job_of(engine, job.id).status is JobStatus.COMPLETED, timeout=90)
        assert holder_of(engine, job.id).startswith(f"worker:{capable}:")
        assert len(refusals()) == 1
        assert job_of(engine, job.id).attempts == 1
    finally:
        cluster.stop("fickle")
        with contextlib.suppress(KeyError):
            cluster.stop("capable")


def test_a_worker_that_dies_is_noticed_when_the_scheduler_says_so(
    engine: Engine, cluster: Cluster, gate: Gate
) -> None:
    """The lease lasts ten minutes; the job is retried as soon as the scheduler
    sees its worker go, and charged once."""
    me = engine.actor()
    job = engine.service.submit(me, "sleep", [text_input("x")], gate.settings())
    [first] = wait_until(lambda: events(engine, job.id, "runner"))
    worker_pid = int(first.data["holder"].split(":")[-2])
    os.kill(worker_pid, signal.SIGKILL)  # its nanny starts a new one
    [retry] = wait_until(
        lambda: [e for e in events(engine, job.id, "status") if e.status is JobStatus.RETRY],
        timeout=60,
    )
    assert "left the cluster" in (retry.data.get("status_reason") or "")
    wait_until(lambda: len(events(engine, job.id, "runner")) == 2, timeout=90)
    gate.open()
    wait_until(lambda: job_of(engine, job.id).status.is_terminal, timeout=90)
    done = job_of(engine, job.id)
    assert done.status is JobStatus.COMPLETED and done.attempts == 2
    charges = [e for e in engine.service.ledger(me, job_id=job.id) if e.kind == "charge"]
    assert len(charges) == 1 and done.credits_charged == 10


def test_a_worker_keeps_its_own_database_and_data_folder(
    config: EngineConfig, cluster: Cluster, weights: Path, tmp_path: Path
) -> None:
    """The engine's addresses mean nothing on the worker's machine (here: a database
    host that does not exist); the worker's own settings are used, and it says
    which when it starts."""
    store = SqlStore.open(config.database_url)
    service, tools = build_service(config, store=store)
    elsewhere = replace(
        config, database_url="postgresql://piq@db.invalid/piq", data_dir=Path("/nonexistent/piq")
    )
    executor = DaskExecutor(service.runs, tools, elsewhere)
    service.attach_executor(executor)
    own_data = tmp_path / "worker-data"
    name = "own-settings"
    try:
        address = cluster.start_worker(
            name,
            PIQ_DATABASE_URL=config.database_url,
            PIQ_DATA_DIR=str(own_data),
            **{WEIGHTS_ENV: str(weights)},
        )
        me = service.sign_in("alice")
        job = service.submit(me, "weights-echo", [text_input("where am I")])
        wait_until(lambda: service.get(me, job.id).job.status.is_terminal, timeout=90)
        done = service.get(me, job.id).job
        assert done.status is JobStatus.COMPLETED, done.error
        assert (own_data / "jobs" / job.id / "echo.txt").read_text() == "where am I"
        said = cluster.log(name).read_text()
        assert (
            f"proteiniq worker {address}: database {safe_url(config.database_url)}, "
            f"job files in {own_data}" in said
        )
    finally:
        executor.shutdown()
        store.close()
        cluster.stop(name)


def _piq(env: dict[str, str], *args: str) -> tuple[str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout.strip(), result.stderr


def _cli_env(config: EngineConfig, tmp_path: Path) -> dict[str, str]:
    return {
        **config.to_env(),
        "PIQ_EXECUTOR": "inprocess",
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }


def test_run_without_wait_hands_the_job_to_the_configured_cluster(
    config: EngineConfig, cluster: Cluster, tmp_path: Path
) -> None:
    """No engine runs: the job runs on a worker of the cluster, not in a process of
    the submitting machine, after the command has returned."""
    env = _cli_env(config, tmp_path)
    job_id, said = _piq(env, "run", "echo", "handed over")
    assert f"handed to the Dask cluster at {cluster.address}" in said
    service, _ = build_service(config)
    me = service.sign_in("alice")
    wait_until(lambda: service.get(me, job_id).job.status.is_terminal, timeout=90)
    done = service.get(me, job_id).job
    assert done.status is JobStatus.COMPLETED, done.error
    [runner] = [e for e in service.events(me, job_id) if e.kind == "runner"]
    assert runner.data["holder"].startswith("worker:tcp://127.0.0.1:")


def test_run_without_wait_hands_the_job_to_a_running_engine(
    config: EngineConfig, tmp_path: Path
) -> None:
    """With a ``piq engine`` running on the same database, the command leaves the
    job to it (found through its runtime file), instead of running it itself."""
    config = replace(config, dask_scheduler_address=None)
    env = _cli_env(config, tmp_path)
    log = tmp_path / "engine.log"
    engine = in_background(
        [str(BIN / "piq"), "engine", "--workers", "1"], log, cwd=REPO, env={**os.environ, **env}
    )
    try:
        wait_until(lambda: list((tmp_path / "runtime").glob("proteiniq-engine-*.json")))
        job_id, said = _piq(env, "run", "echo", "to the engine")
        assert "handed to the running engine" in said
        service, _ = build_service(config)
        me = service.sign_in("alice")
        wait_until(lambda: service.get(me, job_id).job.status.is_terminal, timeout=90)
        done = service.get(me, job_id).job
        assert done.status is JobStatus.COMPLETED, log.read_text()[-2000:]
        [runner] = [e for e in service.events(me, job_id) if e.kind == "runner"]
        assert runner.data["holder"].startswith("worker:tcp://127.0.0.1:")
    finally:
        os.killpg(engine.pid, signal.SIGTERM)
        engine.wait(60)
    assert not list((tmp_path / "runtime").glob("proteiniq-engine-*.json"))
