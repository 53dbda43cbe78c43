"""Waiting on a job the workspace's event stream does not carry: Bob, in a
workspace of his own, follows Alice's public job to its end on a stream of its
own, while his own jobs share his one subscription."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from proteiniq_jupyter.client import Client
from proteiniq_jupyter.client.http import HttpTransport
from proteiniq_jupyter.client.transport import Connection
from proteiniq_jupyter.jobs.status import JobStatus

from ..helpers import Gate
from .conftest import TOKENS, PiqServer


def client_of(piq: PiqServer, user: str) -> Client:
    url = piq.app.connection_url
    return Client(HttpTransport(url, TOKENS[user], Connection("http", url, f"{user} in a test")))


async def test_a_public_job_of_another_workspace_is_followed_to_its_end(
    piq: PiqServer, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    alice, bob = client_of(piq, "alice"), client_of(piq, "bob")

    def scenario() -> None:
        theirs = alice.run("sleep", "public", **gate.settings(steps=2))
        theirs.share("public")
        seen = bob.job(theirs.id)
        assert seen.resource.workspace_id != bob.account().workspace.id
        assert not bob.transport.events.carries(seen.resource)
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(seen.wait, 60, show=False)
            gate.open()
            assert waiting.result().status is JobStatus.COMPLETED
        mine = bob.run("echo", "mine", wait=True)
        assert bob.transport.events.carries(mine.resource)

    try:
        await asyncio.to_thread(scenario)
    finally:
        alice.close()
        bob.close()
