"""Idempotency-Key at the service, on both stores: a replay of the same request
returns the first job, and the same key with any other tool, inputs, settings or
name is a conflict naming that job. Concurrent replays start together from a
barrier, so the race between them is run every time, not by luck."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import pytest

from proteiniq_jupyter.jobs.errors import Conflict
from proteiniq_jupyter.jobs.model import Job, JobInput
from proteiniq_jupyter.jobs.submission import request_hash

from .conftest import text_input

#: Threads that submit at the same moment in each race.
RACERS = 8


@dataclass(frozen=True)
class Request:
    """A submission as a caller makes it."""

    tool: str = "echo"
    text: str = "same text"
    settings: dict[str, Any] | None = None
    name: str | None = None

    def submit(self, service: Any, actor: Any, key: str) -> Job:
        job: Job = service.submit(
            actor,
            self.tool,
            [text_input(self.text)],
            self.settings,
            name=self.name,
            idempotency_key=key,
        )
        return job


FIRST = Request(settings={"repeat": 2}, name="first run")
#: Requests that differ from FIRST in one thing each.
OTHERS = {
    "tool": replace(FIRST, tool="gpu-echo"),
    "inputs": replace(FIRST, text="other text"),
    "settings": replace(FIRST, settings={"repeat": 3}),
    "settings left out": replace(FIRST, settings=None),
    "name": replace(FIRST, name="second run"),
    "name left out": replace(FIRST, name=None),
}


def test_a_request_fingerprint_stays_what_was_stored() -> None:
    """Fingerprints are kept with idempotency keys: a changed form would make a
    repeated request look like another one. A request without a name has the form it
    always had; a name is part of the fingerprint."""
    items = [
        JobInput("text", "text", "text", "text", "hello world"),
        JobInput("r", "receptor", "structure", "pdb", "ATOM", label="1abc.pdb", pdb_id="1ABC"),
        JobInput("f", "ligand", "molecule", "sdf", "", file_id="file_1"),
    ]
    unnamed = "efec03fb55cafe9ddce4a17c0a8d9b44433b69ce726d8d87b857fd8e547ebab6"
    assert request_hash("echo", items, {"repeat": 2}) == unnamed
    assert request_hash("echo", items, {"repeat": 2}, None) == unnamed
    named = request_hash("echo", items, {"repeat": 2}, "first run")
    assert named == "b62252bfc9fda78f2496b1f9b03ec4e19224c31354a3184ae0afaec4e2a443a1"
    assert request_hash("echo", items, {"repeat": 2}, "") not in (named, unnamed)


def test_same_idempotency_key_returns_the_same_job(service, alice):
    first = service.submit(alice, "echo", [text_input("once")], idempotency_key="key-1")
    again = service.submit(alice, "echo", [text_input("once")], idempotency_key="key-1")
    assert again.id == first.id
    assert len(service.list_jobs(alice).items) == 1
    assert service.account(alice).available_credits == 490  # held once
    with pytest.raises(Conflict, match="different request"):
        service.submit(alice, "echo", [text_input("twice")], idempotency_key="key-1")


@pytest.mark.parametrize("difference", sorted(OTHERS))
def test_the_same_key_for_another_request_is_a_conflict(service, alice, difference):
    first = FIRST.submit(service, alice, "key-1")
    held = service.account(alice).available_credits
    with pytest.raises(Conflict, match="already used for a different request") as info:
        OTHERS[difference].submit(service, alice, "key-1")
    assert info.value.message == "this Idempotency-Key was already used for a different request"
    assert info.value.details == {"job_id": first.id}
    # The refusal made nothing and held nothing; the first request still replays.
    assert FIRST.submit(service, alice, "key-1").id == first.id
    assert [view.job.id for view in service.list_jobs(alice).items] == [first.id]
    assert service.account(alice).available_credits == held
    # Under a key of its own, the other request is a job of its own.
    assert OTHERS[difference].submit(service, alice, "key-2").id != first.id


def race(service: Any, actor: Any, requests: list[Request], key: str) -> list[Job | Conflict]:
    """Submit every request with ``key`` from threads released together by a barrier;
    what each got back (its job, or the conflict it raised), in order."""
    barrier = threading.Barrier(len(requests))

    def submit(request: Request) -> Job | Conflict:
        barrier.wait(timeout=60)
        try:
            return request.submit(service, actor, key)
        except Conflict as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(submit, requests))


def test_concurrent_repeats_of_one_key_make_one_job(service, alice):
    answers = race(service, alice, [FIRST] * RACERS, "race")
    assert all(isinstance(answer, Job) for answer in answers), answers
    assert len({answer.id for answer in answers if isinstance(answer, Job)}) == 1
    assert len(service.list_jobs(alice).items) == 1
    assert service.account(alice).available_credits == 500 - 20  # held once


@pytest.mark.parametrize("difference", sorted(OTHERS))
def test_concurrent_different_requests_under_one_key(service, alice, difference):
    """Half the racers send FIRST, half the other request: one job is made, for
    whichever came first; a racer with that request gets it, every other racer a
    conflict naming it."""
    requests = [FIRST, OTHERS[difference]] * (RACERS // 2)
    answers = race(service, alice, requests, "race")
    [listed] = service.list_jobs(alice).items
    job = service.get(alice, listed.job.id).job
    winners = [r for r, answer in zip(requests, answers, strict=True) if isinstance(answer, Job)]
    winner = winners[0]
    assert all(request == winner for request in winners), answers
    assert (job.tool, job.inputs[0].content) == (winner.tool, winner.text)
    assert job.name == winner.name or winner.name is None
    for request, answer in zip(requests, answers, strict=True):
        if request == winner:
            assert isinstance(answer, Job) and answer.id == job.id, answer
        else:
            assert isinstance(answer, Conflict), answer
            assert answer.details == {"job_id": job.id}


def test_idempotency_keys_are_scoped_to_the_workspace(service, alice):
    carol = service.sign_in("carol")
    a = service.submit(alice, "echo", [text_input("same")], idempotency_key="shared-key")
    c = service.submit(carol, "echo", [text_input("same")], idempotency_key="shared-key")
    assert a.id != c.id
