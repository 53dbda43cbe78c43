"""Stopping and restarting the hub, the engine service and a single-user server
while jobs run loses no job and charges no credit twice."""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path

import psutil
import pytest

from proteiniq_jupyter.config import EngineConfig
from proteiniq_jupyter.engine import open_engine
from proteiniq_jupyter.hub import team_workspace_id

from ..engines import wait_until
from ..helpers import Gate
from .conftest import Hub, job_of, needs_hub
from .test_team_on_jupyterhub import team_members

pytestmark = [
    needs_hub,
    pytest.mark.timeout(600),
    pytest.mark.parametrize("backend", ["postgresql"], indirect=True),
]


def sleeper(text: str, gate: Gate) -> dict:
    """A run that, after its first second, waits at ``gate``: it is still running
    when the restarts come, however long they take on a busy machine."""
    return {
        "tool": "sleep",
        "input": {
            "inputs": [{"slotId": "text", "kind": "text", "format": "text", "content": text}]
        },
        "settings": gate.settings(steps=2, seconds=2),
    }


def the_service(hub: Hub) -> psutil.Process | None:
    """This hub's engine service process."""
    for process in psutil.process_iter(["cmdline"]):
        if "proteiniq_jupyter.hub_service" not in " ".join(process.info["cmdline"] or []):
            continue
        try:
            if process.environ().get("PIQ_DATA_DIR", "").startswith(str(hub.root)):
                return process
        except psutil.Error:
            continue
    return None


def test_restarts_during_a_run_lose_no_job_and_no_credit(hub: Hub, tmp_path: Path) -> None:
    gate = Gate(tmp_path / "gate")
    tokens = hub.tokens()
    hub.start_server("alice")
    wait_until(lambda: "alice" in team_members(hub.database_url), 60)
    alice = hub.user_api("alice", tokens["alice"])
    jobs = [job_of(alice.post("jobs", json=sleeper(f"run {i}", gate)))["id"] for i in range(4)]

    def statuses() -> Counter[str]:
        return Counter(job_of(alice.get(f"jobs/{j}/status"))["status"] for j in jobs)

    wait_until(lambda: statuses()["PROCESSING"] >= 1, 120, 0.25)
    # alice's server stops and starts again while her jobs run on the service
    hub.stop_server("alice")
    hub.start_server("alice")
    # the service is killed outright; the hub starts it again
    service = the_service(hub)
    assert service is not None
    os.kill(service.pid, signal.SIGKILL)
    wait_until(lambda: (s := the_service(hub)) is not None and s.pid != service.pid, 120, 0.5)
    # the whole hub stops (its servers and the service with it) and starts again
    hub.restart()
    hub.start_server("alice")
    tokens = hub.tokens()
    alice = hub.user_api("alice", tokens["alice"])
    gate.open()
    wait_until(lambda: statuses() == Counter({"COMPLETED": 4}), 300, 1.0)

    # one charge per job, nothing held, the balance what the charges say
    engine = open_engine(EngineConfig.from_env(database_url=hub.database_url, executor="inprocess"))
    try:
        me = engine.service.sign_in("alice", workspace_id=team_workspace_id("lab"))
        ledger = engine.service.ledger(me)
        charges = Counter(e.job_id for e in ledger if e.kind == "charge")
        assert charges == Counter(dict.fromkeys(jobs, 1)), charges
        assert not [e for e in ledger if e.kind == "refund"]
        held = sum(e.delta for e in ledger if e.kind in ("reserve", "release"))
        assert held == 0
        grants = sum(e.delta for e in ledger if e.kind == "grant")
        charged = -sum(e.delta for e in ledger if e.kind == "charge")
        assert engine.service.account(me).available_credits == grants - charged
        attempts = [engine.service.get(me, j).job.attempts for j in jobs]
        assert max(attempts) > 1, attempts  # a restart did stop a run
        for job_id in jobs:
            job = engine.service.get(me, job_id).job
            assert job.credits_charged == -sum(
                e.delta for e in ledger if e.job_id == job_id and e.kind == "charge"
            )
    finally:
        engine.close()
