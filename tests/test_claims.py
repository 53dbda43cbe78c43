"""Which engine takes which job from a shared store: an engine runs its own
user's jobs and the jobs handed to it, never another person's; the deployment's
engine service runs everyone's. Jobs run under the account of whoever runs the
engine, so a job taken by the wrong engine runs as the wrong person."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from proteiniq_jupyter.assembly import build_service
from proteiniq_jupyter.config import EngineConfig
from proteiniq_jupyter.engine import open_engine
from proteiniq_jupyter.jobs.ports import ClaimScope
from proteiniq_jupyter.jobs.status import JobStatus

from .conftest import text_input
from .engines import BIN, dask_config, in_background, wait_until
from .helpers import ENGINE_LABEL_ENV, PROBE_TOOL_PATH, TEST_TOOL_PATHS

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> EngineConfig:
    return dask_config(
        database_url, tmp_path, dask_workers=1, extra_tools=(*TEST_TOOL_PATHS, PROBE_TOOL_PATH)
    )


def test_a_scoped_claim_takes_its_users_jobs_and_those_handed_to_it(config: EngineConfig):
    service, _ = build_service(config)
    alice, bob = service.sign_in("alice"), service.sign_in("bob")
    alices = [service.submit(alice, "echo", [text_input(f"a{i}")]).id for i in range(3)]
    bobs = [service.submit(bob, "echo", [text_input(f"b{i}")]).id for i in range(3)]
    runs = service.runs

    taken = runs.claim_for_dispatch("engine:a", 30, scope=ClaimScope(submitters=("alice",)))
    assert sorted(j.id for j in taken) == sorted(alices)
    # nobody's jobs but those handed over: one of bob's, given to this engine
    handed = ClaimScope(submitters=("carol",), job_ids=frozenset({bobs[0]}))
    assert [j.id for j in runs.claim_for_dispatch("engine:b", 30, scope=handed)] == [bobs[0]]
    assert runs.claim_for_dispatch("engine:c", 30, scope=ClaimScope()) == []
    assert not runs.has_claimable_jobs(ClaimScope(submitters=("alice",)))
    assert runs.has_claimable_jobs(ClaimScope(submitters=("bob",)))
    # the engine service takes what is left, whoever submitted it
    assert sorted(j.id for j in runs.claim_for_dispatch("engine:s", 30)) == sorted(bobs[1:])
    assert runs.has_waiting_jobs(ClaimScope(submitters=("bob",)))
    assert not runs.has_waiting_jobs(ClaimScope(submitters=("carol",)))


def test_an_engine_runs_its_users_jobs_and_leaves_the_others(config: EngineConfig):
    """Alice's engine (on its embedded cluster) runs her jobs and the one of bob's
    submitted through it; bob's other jobs wait, unheld, until an engine that may
    run them comes: the engine service."""
    service, _ = build_service(config)
    alice, bob = service.sign_in("alice"), service.sign_in("bob")
    bobs = [service.submit(bob, "echo", [text_input(f"b{i}")]).id for i in range(3)]
    engine = open_engine(config)
    try:
        engine.executor.start()
        mine = [engine.service.submit(alice, "echo", [text_input(f"a{i}")]).id for i in range(3)]
        through_me = engine.service.submit(bob, "echo", [text_input("handed")]).id
        engine.wait(120)
        for job_id in [*mine, through_me]:
            assert service.runs.job_for_run(job_id).status is JobStatus.COMPLETED
        time.sleep(3 * config.recovery_interval_s)  # several more passes of its monitor
        for job_id in bobs:
            job = service.runs.job_for_run(job_id)
            assert job.status is JobStatus.PENDING and job.lease_owner is None
    finally:
        engine.close()
    everyone = open_engine(
        EngineConfig(**{**config.__dict__, "username": "operator", "runs_jobs_of": "everyone"})
    )
    try:
        everyone.executor.start()
        wait_until(
            lambda: all(service.runs.job_for_run(j).status.is_terminal for j in bobs), timeout=120
        )
    finally:
        everyone.close()
    assert {service.runs.job_for_run(j).status for j in bobs} == {JobStatus.COMPLETED}


def _start_engine(
    config: EngineConfig, user: str, log: Path, *options: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **config.to_env(),
        "PIQ_USER": user,
        "PIQ_DASK_WORKERS": "1",
        ENGINE_LABEL_ENV: user,
    }
    return in_background([str(BIN / "piq"), "engine", *options], log, env=env)


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)


# Two engines share one database only on PostgreSQL.
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_peoples_engines_on_one_postgres_each_run_only_their_own(
    config: EngineConfig, tmp_path: Path
):
    """Alice's and bob's engines, both running, both submitting: every job runs on
    the workers of its submitter's engine. With bob's engine stopped, his new jobs
    wait rather than run on alice's; the engine service then runs them."""
    service, _ = build_service(config)
    alice, bob = service.sign_in("alice"), service.sign_in("bob")
    logs = {name: tmp_path / f"{name}.log" for name in ("alice", "bob", "service")}
    engines = {name: _start_engine(config, name, logs[name]) for name in ("alice", "bob")}
    try:
        wait_until(lambda: all("Dask scheduler" in logs[n].read_text() for n in engines), 90)
        submitted = [
            (name, service.submit(actor, "process-probe", [text_input(f"{name} {i}")]).id)
            for i in range(12)
            for name, actor in (("alice", alice), ("bob", bob))
        ]
        wait_until(
            lambda: all(service.runs.job_for_run(j).status.is_terminal for _, j in submitted),
            timeout=150,
            every=0.25,
        )
        ran_on = Counter(
            (name, service.runs.job_for_run(job_id).result.fields["engine_label"])  # type: ignore[union-attr]
            for name, job_id in submitted
        )
        assert ran_on == {("alice", "alice"): 12, ("bob", "bob"): 12}, ran_on
        _stop(engines.pop("bob"))
        later = [
            service.submit(bob, "process-probe", [text_input(f"late {i}")]).id for i in range(3)
        ]
        time.sleep(8 * config.recovery_interval_s)
        assert {service.runs.job_for_run(j).status for j in later} == {JobStatus.PENDING}
        engines["service"] = _start_engine(config, "service", logs["service"], "--everyone")
        wait_until(
            lambda: all(service.runs.job_for_run(j).status.is_terminal for j in later),
            timeout=120,
            every=0.25,
        )
        labels = {service.runs.job_for_run(j).result.fields["engine_label"] for j in later}  # type: ignore[union-attr]
        assert labels == {"service"}
    finally:
        for process in engines.values():
            _stop(process)
