"""Re-attaching over HTTP with two people on one server: Alice and Tim share a
workspace and each has a copy of the same notebook at the same path. A rerun
attaches each of them to what they made; neither is given the other's private
job or batch, and each run is charged once."""

from __future__ import annotations

import asyncio

import pytest

from proteiniq_jupyter.client import Client
from proteiniq_jupyter.client.http import HttpTransport
from proteiniq_jupyter.client.transport import Connection
from proteiniq_jupyter.jobs.status import JobStatus

from .conftest import TOKENS, PiqServer


def client_of(piq: PiqServer, user: str) -> Client:
    url = piq.app.connection_url
    return Client(HttpTransport(url, TOKENS[user], Connection("http", url, f"{user} in a test")))


async def test_each_person_reattaches_to_their_own(
    piq: PiqServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JPY_SESSION_NAME", "shared/analysis.ipynb")
    alice, tim = client_of(piq, "alice"), client_of(piq, "tim")

    def scenario() -> None:
        before = alice.credits()
        cost = alice.quote("echo", "same cell").estimated_credits
        mine = alice.run("echo", "same cell", wait=True)
        theirs = tim.run("echo", "same cell", wait=True)
        assert theirs.id != mine.id and theirs.status is JobStatus.COMPLETED
        assert theirs.how == f"submitted job {theirs.id}"
        again = tim.run("echo", "same cell")
        assert again.id == theirs.id and again.how is not None and "attached" in again.how
        assert alice.run("echo", "same cell").id == mine.id
        assert alice.credits() == before - 2 * cost  # one charge each

        batch = alice.run_batch("echo", ["x", "y"])
        their_batch = tim.run_batch("echo", ["x", "y"])
        assert their_batch.id != batch.id
        assert tim.run_batch("echo", ["x", "y"]).id == their_batch.id
        assert alice.run_batch("echo", ["x", "y"]).id == batch.id
        batch.wait(60)
        their_batch.wait(60)

    try:
        await asyncio.to_thread(scenario)
    finally:
        alice.close()
        tim.close()
