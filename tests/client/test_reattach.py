"""A rerun from the same notebook attaches to the job it started; --new, a failed
or cancelled job, and a person who may not see the job each get a new one."""

from __future__ import annotations

from pathlib import Path

import pytest

from proteiniq_jupyter.client import Client
from proteiniq_jupyter.client.local import LocalTransport
from proteiniq_jupyter.client.transport import Connection
from proteiniq_jupyter.engine import open_engine
from proteiniq_jupyter.jobs.model import Role
from proteiniq_jupyter.jobs.status import JobStatus

from ..helpers import Gate


@pytest.fixture
def notebook(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    path = f"analysis/{request.node.name}.ipynb"
    monkeypatch.setenv("JPY_SESSION_NAME", path)
    return path


def test_a_rerun_attaches_and_pays_once(client: Client, notebook: str) -> None:
    before, cost = client.credits(), client.quote("echo", "once only").estimated_credits
    assert cost > 0
    first = client.run("echo", "once only", wait=True)
    assert first.how == f"submitted job {first.id}"
    again = client.run("echo", "once only", wait=True)
    assert again.id == first.id and again.how is not None and "attached" in again.how
    assert client.credits() == before - cost
    other = client.run("echo", "once only", new=True, wait=True)
    assert other.id != first.id
    assert client.credits() == before - 2 * cost
    changed = client.run("echo", "once only", repeat=2, wait=True)
    assert changed.id not in (first.id, other.id)


def test_another_notebook_gets_its_own_job(
    client: Client, notebook: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = client.run("echo", "per notebook", wait=True)
    monkeypatch.setenv("JPY_SESSION_NAME", notebook + "-copy")
    assert client.run("echo", "per notebook", wait=True).id != first.id


def test_failed_and_cancelled_jobs_are_run_again(
    client: Client, notebook: str, tmp_path: Path
) -> None:
    failed = client.run("echo", "fails", outcome="error", wait=True)
    assert failed.status is JobStatus.FAILED
    rerun = client.run("echo", "fails", outcome="error", wait=True)
    assert rerun.id != failed.id
    third = client.run("echo", "fails", outcome="error", wait=True)
    assert third.id not in (failed.id, rerun.id)
    gate = Gate(tmp_path / "gate")
    try:
        cancelled = client.run("sleep", "cancel me", **gate.settings()).cancel()
        assert cancelled.status is JobStatus.CANCELLED
        rerun_cancelled = client.run("sleep", "cancel me", **gate.settings())
        assert rerun_cancelled.id != cancelled.id
        assert client.run("sleep", "cancel me", **gate.settings()).id == rerun_cancelled.id
    finally:
        gate.open()
    ok = client.run("echo", "then fine", wait=True)
    assert client.run("echo", "then fine").id == ok.id


def test_someone_who_may_not_see_the_job_gets_their_own(
    clients: dict[str, Client], notebook: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another member of the workspace, with a copy of the same notebook at the
    same path: the first run's job is private, so the key leads to a job of theirs."""
    owner = clients["inprocess"]
    mine = owner.run("echo", "shared notebook", wait=True)
    transport = owner.transport
    assert isinstance(transport, LocalTransport)
    transport.service.add_member(transport.actor, "colleague", Role.MEMBER)
    monkeypatch.setenv("PIQ_USER", "colleague")
    monkeypatch.setenv("PIQ_WORKSPACE", transport.actor.workspace_id or "")
    engine = open_engine(executor="inprocess")
    colleague = Client(LocalTransport(Connection("inprocess", None, "test"), engine))
    try:
        theirs = colleague.run("echo", "shared notebook", wait=True)
        assert theirs.id != mine.id and theirs.status is JobStatus.COMPLETED
        assert colleague.run("echo", "shared notebook").id == theirs.id
        assert owner.run("echo", "shared notebook").id == mine.id
    finally:
        colleague.close()


def test_a_rerun_batch_attaches_and_pays_once(client: Client, notebook: str) -> None:
    before = client.credits()
    first = client.run_batch("echo", ["one", "two"], name="a pair")
    assert first.how == f"submitted batch {first.id}"
    again = client.run_batch("echo", ["one", "two"], name="a pair")
    assert again.id == first.id and again.how is not None and "attached" in again.how
    assert again.resource.job_ids == first.resource.job_ids
    charged = first.wait(60).resource.credits_charged
    assert charged > 0 and client.credits() == before - charged
    assert client.run_batch("echo", ["one", "two"], name="a pair").id == first.id
    assert client.credits() == before - charged
    other = client.run_batch("echo", ["one", "two"], name="a pair", new=True)
    assert other.id != first.id and other.how == f"submitted batch {other.id}"
    changed = client.run_batch("echo", ["one", "three"], name="a pair")
    assert changed.id not in (first.id, other.id)
    for batch in (other, changed):
        batch.wait(60)
