"""Jobs on a real Dask cluster: the embedded LocalCluster, a real `dask worker`
with a GPU resource, real kills of workers and engines. No fault may lose a job
or charge a credit twice."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import warnings
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from proteiniq_jupyter.assembly import build_service
from proteiniq_jupyter.config import EngineConfig
from proteiniq_jupyter.engine import Engine, open_engine
from proteiniq_jupyter.execution.dask_executor import WAITING_FOR_GPU
from proteiniq_jupyter.jobs.errors import ToolUnavailable
from proteiniq_jupyter.jobs.model import JobInput
from proteiniq_jupyter.jobs.status import JobStatus

from .conftest import text_input
from .engines import (  # noqa: F401  (engine_fixture is a fixture)
    BIN,
    dask_config,
    dask_worker,
    engine_fixture,
    in_background,
    wait_until,
)
from .helpers import (
    PROBE_TOOL_PATH,
    WEIGHTS_ENV,
    Gate,
    huge_pages_on_request,
    process_alive,
)

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> EngineConfig:
    return dask_config(database_url, tmp_path)


def status_of(engine: Engine, actor, job_id: str) -> JobStatus:
    return engine.service.get(actor, job_id).job.status


def runner_events(engine: Engine, actor, job_id: str):
    return [e for e in engine.service.events(actor, job_id) if e.kind == "runner"]


def test_jobs_run_on_the_embedded_cluster(engine: Engine):
    me = engine.actor()
    jobs = [
        engine.service.submit(me, "sleep", [text_input(f"job {i}")], {"seconds": 0.2})
        for i in range(6)
    ]
    engine.wait(120)
    for job in jobs:
        done = engine.service.get(me, job.id).job
        assert done.status is JobStatus.COMPLETED
        assert done.credits_charged == 10 and done.attempts == 1
        [runner] = runner_events(engine, me, job.id)
        assert runner.data["holder"].startswith("worker:tcp://127.0.0.1:")
        assert done.result.fields["pid"] == runner.data["pid"]
    assert engine.service.account(me).available_credits == 500 - 60


def test_progress_reports_reach_the_job_in_order(engine: Engine, gate: Gate):
    """Each report becomes an event of the job while it runs: the job takes its
    next step only once the last report was seen (how soon reports arrive is
    measured by benchmarks/latency.py)."""
    me = engine.actor()
    job = engine.service.submit(me, "sleep", [text_input("x")], gate.settings(steps=8))

    def reported() -> int:
        return sum(e.kind == "progress" for e in engine.service.events(me, job.id))

    for step in range(1, 8):
        wait_until(lambda step=step: reported() == step)
        assert status_of(engine, me, job.id) is JobStatus.PROCESSING
        gate.allow(step + 1)
    engine.wait(120)
    assert status_of(engine, me, job.id) is JobStatus.COMPLETED
    logged = [e for e in engine.service.events(me, job.id) if e.kind == "progress"]
    assert [e.data["progress"] for e in logged] == [(i + 1) / 8 for i in range(8)]
    assert [e.data["progress_message"] for e in logged] == [f"step {i + 1}" for i in range(8)]


def test_cancel_kills_the_job_process_and_its_children(engine: Engine, gate: Gate):
    me = engine.actor()
    settings = gate.settings(spawn_grandchild=True)
    job = engine.service.submit(me, "sleep", [text_input("x")], settings)
    [runner] = wait_until(lambda: runner_events(engine, me, job.id))
    pid = runner.data["pid"]
    run_folder = engine.service.files.attempt_dir(job.id, runner.data["holder"])
    grandchild_file = run_folder / "grandchild.pid"
    wait_until(grandchild_file.exists)
    grandchild = int(grandchild_file.read_text())
    assert process_alive(pid) and process_alive(grandchild)
    assert engine.service.cancel(me, job.id).status is JobStatus.CANCELLED
    # How soon they go is measured by benchmarks/latency.py.
    wait_until(lambda: not (process_alive(pid) or process_alive(grandchild)))
    assert status_of(engine, me, job.id) is JobStatus.CANCELLED


def test_past_its_time_limit_a_job_times_out(config: EngineConfig, gate: Gate):
    engine = open_engine(replace(config, time_limits=(("sleep", 1.0),)))
    try:
        me = engine.actor()
        job = engine.service.submit(me, "sleep", [text_input("x")], gate.settings())
        [runner] = wait_until(lambda: runner_events(engine, me, job.id))
        wait_until(lambda: status_of(engine, me, job.id).is_terminal)
        ended = engine.service.get(me, job.id).job
        assert ended.status is JobStatus.TIMEOUT
        assert ended.error == "stopped after its time limit of 1 s"
        # not before its limit (how soon after it is measured by benchmarks/latency.py)
        assert (ended.finished_at - ended.started_at).total_seconds() >= 1.0
        assert not process_alive(runner.data["pid"])
    finally:
        engine.close()


def test_gpu_tool_waits_for_a_gpu_worker_then_runs_on_it(engine: Engine, tmp_path: Path):
    me = engine.actor()
    job = engine.service.submit(me, "gpu-echo", [text_input("on the gpu")])
    waiting = wait_until(
        lambda: (j := engine.service.get(me, job.id).job).status_reason == WAITING_FOR_GPU and j,
        timeout=30,
    )
    assert waiting.status is JobStatus.PENDING
    # A job submitted after it runs to its end on the CPU workers, which never take it.
    later = engine.service.submit(me, "echo", [text_input("on a cpu")])
    wait_until(lambda: status_of(engine, me, later.id) is JobStatus.COMPLETED)
    assert status_of(engine, me, job.id) is JobStatus.PENDING  # nothing else will run it
    gpu_worker = in_background(
        dask_worker(engine.executor.scheduler_address, "gpu-worker", "--resources", "GPU=1"),
        tmp_path / "gpu-worker.log",
    )
    try:
        wait_until(lambda: status_of(engine, me, job.id) is JobStatus.COMPLETED, timeout=90)
        done = engine.service.get(me, job.id).job
        assert done.status_reason is None
        assert done.result.fields["echo"] == "on the gpu"
        [runner] = runner_events(engine, me, job.id)
        gpu_workers = [
            address
            for address, info in engine.executor.client()
            .scheduler_info(n_workers=-1)["workers"]
            .items()
            if info.get("resources", {}).get("GPU")
        ]
        assert any(runner.data["holder"].startswith(f"worker:{a}:") for a in gpu_workers)
    finally:
        os.killpg(gpu_worker.pid, signal.SIGTERM)
        gpu_worker.wait(30)


def test_a_killed_worker_means_retry_elsewhere_charged_once(engine: Engine, gate: Gate):
    me = engine.actor()
    job = engine.service.submit(me, "sleep", [text_input("x")], gate.settings())
    [first] = wait_until(lambda: runner_events(engine, me, job.id))
    worker_pid = int(first.data["holder"].split(":")[-2])
    assert worker_pid != os.getpid()
    os.kill(worker_pid, signal.SIGKILL)
    wait_until(
        lambda: any(
            e.kind == "status" and e.status is JobStatus.RETRY
            for e in engine.service.events(me, job.id)
        ),
        timeout=30,
    )
    wait_until(lambda: len(runner_events(engine, me, job.id)) == 2, timeout=90)
    gate.open()
    wait_until(lambda: status_of(engine, me, job.id).is_terminal, timeout=90)
    done = engine.service.get(me, job.id).job
    assert done.status is JobStatus.COMPLETED
    assert done.attempts == 2
    first_run, second_run = runner_events(engine, me, job.id)
    assert first_run.data["holder"] != second_run.data["holder"]
    assert not process_alive(first_run.data["pid"])
    charges = [e for e in engine.service.ledger(me, job_id=job.id) if e.kind == "charge"]
    assert len(charges) == 1 and done.credits_charged == 10
    assert engine.service.account(me).available_credits == 490


def _start_engine(config: EngineConfig, log: Path, workers: int = 2) -> subprocess.Popen[bytes]:
    env = {**os.environ, **config.to_env(), "PIQ_DASK_WORKERS": str(workers)}
    return in_background([str(BIN / "piq"), "engine"], log, env=env)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(30)


def _ledger_is_sound(service, actor, job_ids) -> None:
    entries = service.ledger(actor)
    per_job = Counter((e.job_id, e.kind) for e in entries if e.job_id)
    for job_id in job_ids:
        assert per_job[(job_id, "charge")] <= 1
        assert per_job[(job_id, "refund")] <= per_job[(job_id, "charge")]
    total = Counter()
    for e in entries:
        total[e.kind] += abs(e.delta)
    assert total["reserve"] == total["release"]  # nothing is held any more
    balance = total["grant"] - total["charge"] + total["refund"]
    assert balance == service.account(actor).available_credits == sum(e.delta for e in entries)


def test_kill_9_of_the_engine_loses_no_job(config: EngineConfig, tmp_path: Path):
    """20 running jobs, the engine killed outright, then a new engine: every job
    ends, none charged twice, the ledger balanced."""
    service, _ = build_service(config)
    me = service.sign_in("alice")
    jobs = [
        service.submit(me, "sleep", [text_input(f"j{i}")], {"seconds": 1.5, "steps": 3})
        for i in range(20)
    ]
    log = tmp_path / "engine.log"
    first = _start_engine(config, log)
    try:
        wait_until(
            lambda: (
                sum(service.get(me, j.id).job.status is JobStatus.PROCESSING for j in jobs) >= 2
            ),
            timeout=90,
        )
        os.kill(first.pid, signal.SIGKILL)  # the engine alone; its cluster is orphaned
        first.wait(10)
        second = _start_engine(config, log)
        try:
            wait_until(
                lambda: all(service.get(me, j.id).job.status.is_terminal for j in jobs),
                timeout=180,
                every=0.5,
            )
        finally:
            _stop_group(second)
    finally:
        _stop_group(first)
    final = [service.get(me, j.id).job for j in jobs]
    assert Counter(j.status for j in final) == {JobStatus.COMPLETED: 20}, log.read_text()[-3000:]
    _ledger_is_sound(service, me, [j.id for j in jobs])
    assert service.account(me).available_credits == 500 - 200


# Two engines share one database only on PostgreSQL.
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_engines_on_one_postgres_run_each_job_once(config: EngineConfig, tmp_path: Path):
    service, _ = build_service(config)
    me = service.sign_in("alice")
    service.grant_credits(me, 1000)
    markers = tmp_path / "runs"
    markers.mkdir()
    logs = [tmp_path / f"engine{i}.log" for i in range(2)]
    engines = [_start_engine(config, log, workers=1) for log in logs]
    try:
        # both clusters up before the jobs arrive, so that both engines compete
        wait_until(lambda: all("Dask scheduler" in log.read_text() for log in logs), timeout=60)
        jobs = [
            service.submit(
                me, "sleep", [text_input(f"j{i}")], {"seconds": 0.05, "marker_dir": str(markers)}
            )
            for i in range(100)
        ]
        wait_until(
            lambda: all(service.get(me, j.id).job.status.is_terminal for j in jobs),
            timeout=180,
            every=0.5,
        )
    finally:
        for process in engines:
            _stop_group(process)
    final = [service.get(me, j.id).job for j in jobs]
    assert Counter(j.status for j in final) == {JobStatus.COMPLETED: 100}, [
        j.error for j in final if j.error
    ]
    runs = Counter(p.name.split(".")[0] for p in markers.iterdir())
    assert runs == {j.id: 1 for j in jobs}  # each job ran exactly once
    assert all(j.attempts == 1 for j in final)
    holders = {runner_holder(service, me, j.id) for j in jobs}
    assert len({h.rsplit(":", 2)[0] for h in holders}) == 2  # both engines took part
    _ledger_is_sound(service, me, [j.id for j in jobs])


def runner_holder(service, actor, job_id):
    [runner] = [e for e in service.events(actor, job_id) if e.kind == "runner"]
    return runner.data["holder"]


def test_batch_of_ten_with_concurrency_three(engine: Engine, gate: Gate):
    """The children are held until some were seen waiting while others ran."""
    me = engine.actor()
    items = [[text_input("crash" if i in (2, 7) else f"child {i}")] for i in range(10)]
    summary = engine.service.submit_batch(me, "sleep", items, gate.settings(seconds=0.2))
    assert summary.counts == {"PENDING": 3, "QUEUED": 7}
    most = 0
    saw_queued_while_running = False
    deadline = time.monotonic() + 120
    while True:
        current = engine.service.get_batch(me, summary.batch.id)
        processing = current.counts.get("PROCESSING", 0)
        live = sum(current.counts.get(s, 0) for s in ("PENDING", "PROCESSING", "RETRY"))
        assert live <= 3, current.counts
        most = max(most, processing)
        if processing and current.counts.get("QUEUED"):
            saw_queued_while_running = True
            gate.open()
        if current.status != "PROCESSING":
            break
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert most <= 3 and saw_queued_while_running
    final = engine.service.get_batch(me, summary.batch.id)
    assert final.counts == {"COMPLETED": 8, "FAILED": 2}
    assert final.credits_charged == 80
    assert engine.service.account(me).available_credits == 420
    ledger = engine.service.ledger(me)
    held = -sum(e.delta for e in ledger if e.kind == "reserve")
    released = sum(e.delta for e in ledger if e.kind == "release")
    assert held == released == 100
    refunds = [e for e in ledger if e.kind == "refund"]
    assert len(refunds) == 2


def test_preloaded_tools_start_with_their_libraries_imported(config: EngineConfig):
    """With a tool in ``preload_tools`` its libraries are imported, and the tool
    warmed up, once per worker before its jobs are forked; without, each job imports
    its own. Either way a job process finds the fork server's objects frozen for the
    collector, goes without the allocator setting Dask gives its workers, and asks
    for huge pages (and gets them, where the kernel gives them on request)."""
    config = replace(config, extra_tools=(*config.extra_tools, PROBE_TOOL_PATH))
    for preload, expected in (((), False), (("process-probe",), True)):
        engine = open_engine(replace(config, preload_tools=preload))
        try:
            me = engine.actor()
            job = engine.service.submit(me, "process-probe", [text_input("x")])
            engine.wait(timeout=60)
            done = engine.service.get(me, job.id).job
            assert done.status is JobStatus.COMPLETED, done.error
            fields = done.result.fields
            assert fields["preloaded"] is expected
            assert fields["warmed_up_in_fork_server"] is expected
            assert fields["frozen_objects"] > 10_000  # the engine's modules, at least
            assert fields["malloc_trim_threshold"] is None
            assert "glibc.malloc.hugetlb=1" in fields["glibc_tunables"].split(":")
            assert fields["warm_up_variable"] is None
            if huge_pages_on_request():
                assert fields["huge_pages_kb"] >= 32 * 1024, fields
        finally:
            engine.close()


def test_the_embedded_cluster_starts_no_dashboard_unless_asked(config: EngineConfig):
    """Port 8787 held by another program: no warning about it, and Dask's HTTP
    server kept off it; asked for a dashboard, it is served where asked."""
    with socket.socket() as taken, socket.socket() as spare:
        with contextlib.suppress(OSError):  # held by someone else already: as good
            taken.bind(("127.0.0.1", 8787))
            taken.listen()
        spare.bind(("127.0.0.1", 0))
        free = spare.getsockname()[1]
        spare.close()
        for asked in (None, f"127.0.0.1:{free}"):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                engine = open_engine(replace(config, dask_workers=1, dask_dashboard_address=asked))
                try:
                    engine.executor.client()
                    port = engine.executor._cluster.scheduler.http_server.port
                finally:
                    engine.close()
            assert not [w for w in caught if "8787" in str(w.message)], caught
            assert port != 8787 if asked is None else port == free


def test_a_tool_no_worker_can_run_is_refused_at_submit(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
):
    """The embedded cluster's workers are this machine: a tool whose weights are
    not here can never start, so its quote says what to set, and submitting it
    (alone or as a batch) is refused, creating and charging nothing."""
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    me = engine.actor()
    availability = engine.service.tool_availability("weights-echo")
    assert availability.blocking and availability.reason is not None
    assert WEIGHTS_ENV in availability.reason
    assert engine.service.tool_availability("echo").available
    quote = engine.service.quote(me, "weights-echo", [text_input("x")], None)
    [error] = quote.blocking_errors
    assert error["code"] == "tool_unavailable"
    assert error["message"].startswith(
        "Weights Echo (weights-echo) cannot run on this installation"
    )
    with pytest.raises(ToolUnavailable) as refused:
        engine.service.submit(me, "weights-echo", [text_input("x")])
    assert refused.value.message == error["message"]
    with pytest.raises(ToolUnavailable):
        engine.service.submit_batch(me, "weights-echo", [[text_input("a")], [text_input("b")]])
    assert engine.service.list_jobs(me).items == []
    assert engine.service.account(me).available_credits == 500


def test_a_workers_jobs_share_one_warm_host_which_leaves_with_the_worker(
    config: EngineConfig,
):
    """Native work a tool sends to a warm host (Vina's docking) runs, job after
    job, in one host per worker: a process of neither job, which is gone once the
    cluster is."""
    config = replace(config, dask_workers=1, extra_tools=(*config.extra_tools, PROBE_TOOL_PATH))
    engine = open_engine(config)
    try:
        me = engine.actor()
        seen = []
        for text in ("first", "second"):
            job = engine.service.submit(me, "process-probe", [text_input(text)])
            engine.wait(timeout=60)
            done = engine.service.get(me, job.id).job
            assert done.status is JobStatus.COMPLETED, done.error
            seen.append((done.result.fields["job_process"], done.result.fields["warm_host"]))
    finally:
        engine.close()
    (first_job, host), (second_job, second_host) = seen
    assert second_host == host
    assert host not in (first_job, second_job, os.getpid())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process_alive(host):
        time.sleep(0.1)
    assert not process_alive(host), "the warm host outlived its worker"


def _warm_hosts() -> dict[int, float]:
    """The warm hosts on this machine, with when each started."""
    import psutil

    hosts = {}
    for process in psutil.process_iter(["name", "create_time"]):
        if process.info["name"] == "piq-warm-host":
            hosts[process.pid] = process.info["create_time"]
    return hosts


def test_cancelling_a_docking_stops_it_in_its_warm_host_at_once(
    config: EngineConfig, fixtures_dir: Path
):
    """A Vina job cancelled while it docks in its worker's warm host: the host (a
    process outside the job's group) stops docking at once, and the next docking
    on the worker runs in a new host and completes."""
    receptor = (fixtures_dir / "docking" / "BACE_1_receptorH.pdb").read_text()
    box = {"center_x": 28.5, "center_y": 6.0, "center_z": 14.4}
    box |= {"size_x": 20.0, "size_y": 20.0, "size_z": 20.0}

    def docking(exhaustiveness: int) -> str:
        inputs = [
            JobInput(id="r", slot_id="receptor", kind="structure", format="pdb", content=receptor),
            JobInput(
                id="l", slot_id="ligands", kind="ligand", format="smiles", content="c1ccccc1O"
            ),
        ]
        settings = {**box, "exhaustiveness": exhaustiveness, "num_poses": 3}
        return engine.service.submit(me, "autodock-vina", inputs, settings).id

    started = time.time() - 1
    engine = open_engine(replace(config, dask_workers=1))
    try:
        me = engine.actor()
        long = docking(64)

        def docking_in_a_host() -> int | None:
            job = engine.service.get(me, long).job
            assert not job.status.is_terminal, job.error
            new = [pid for pid, at in _warm_hosts().items() if at >= started]
            return new[0] if job.progress >= 0.3 and new else None

        host = wait_until(docking_in_a_host, timeout=120, every=0.1)
        engine.service.cancel(me, long)
        wait_until(lambda: not process_alive(host), timeout=5, every=0.05)
        short = docking(1)
        engine.wait(timeout=120)
        done = engine.service.get(me, short).job
        assert done.status is JobStatus.COMPLETED, done.error
        assert engine.service.get(me, long).job.status is JobStatus.CANCELLED
        assert any(pid != host and at >= started for pid, at in _warm_hosts().items())
    finally:
        engine.close()
