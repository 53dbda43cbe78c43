"""Idempotency-Key over HTTP, as the API promises it: the same key with the same
request answers the first job; with any other tool, inputs, settings or name, a 409
conflict naming that job. Concurrent requests start together from a barrier, so
the race between them is run every time."""

from __future__ import annotations

import asyncio
from typing import Any

from .conftest import Api, Reply, job_body

FIRST = job_body("same text", settings={"repeat": 2}, name="first run")
#: Requests that differ from FIRST in one thing each.
OTHERS = {
    "tool": job_body("same text", tool="gpu-echo", settings={"repeat": 2}, name="first run"),
    "inputs": job_body("other text", settings={"repeat": 2}, name="first run"),
    "settings": job_body("same text", settings={"repeat": 3}, name="first run"),
    "settings left out": job_body("same text", name="first run"),
    "name": job_body("same text", settings={"repeat": 2}, name="second run"),
    "name left out": job_body("same text", settings={"repeat": 2}),
}
#: Requests sent at the same moment in each race.
RACERS = 6


def conflict_with(reply: Reply, job_id: str) -> bool:
    return (
        reply.status == 409
        and reply.error["code"] == "conflict"
        and reply.error["details"] == {"job_id": job_id}
    )


async def job_ids(api: Api) -> set[str]:
    reply = await api.get("jobs", params={"limit": 100})
    assert reply.status == 200, reply.body
    return {job["id"] for job in reply.json["data"]}


async def test_the_same_key_for_another_request_is_a_conflict(alice: Api) -> None:
    for difference, other in OTHERS.items():
        key = {"Idempotency-Key": f"key {difference}"}
        first = await alice.post("jobs", FIRST, headers=key)
        assert first.status == 201, first.body
        job_id = first.json["id"]
        refused = await alice.post("jobs", other, headers=key)
        assert conflict_with(refused, job_id), (difference, refused.status, refused.body)
        again = await alice.post("jobs", FIRST, headers=key)
        assert (again.status, again.json["id"]) == (201, job_id), difference
    # One job per key: the refusals made none.
    assert len(await job_ids(alice)) == len(OTHERS)


async def race(api: Api, bodies: list[dict[str, Any]], key: str) -> list[Reply]:
    """POST every body with ``key``, each request leaving a barrier at once."""
    barrier = asyncio.Barrier(len(bodies))

    async def send(body: dict[str, Any]) -> Reply:
        await barrier.wait()
        return await api.post("jobs", body, headers={"Idempotency-Key": key})

    return list(await asyncio.gather(*(send(body) for body in bodies)))


async def test_concurrent_requests_under_one_key(alice: Api) -> None:
    """For each difference, half the racers send FIRST and half the other request:
    one job is made, for whichever came first; a racer with that request gets it
    (201), every other racer a conflict naming it (409). All racers with one and the
    same request get the one job."""
    seen: set[str] = set()
    for difference, other in {"none": FIRST, **OTHERS}.items():
        bodies = [FIRST, other] * (RACERS // 2)
        replies = await race(alice, bodies, f"race {difference}")
        made = await job_ids(alice) - seen
        assert len(made) == 1, (difference, made)
        [job_id] = made
        seen |= made
        winners = [b for b, r in zip(bodies, replies, strict=True) if r.status == 201]
        assert winners, (difference, [r.body for r in replies])
        for body, reply in zip(bodies, replies, strict=True):
            if body == winners[0]:
                assert (reply.status, reply.json["id"]) == (201, job_id), (difference, reply.body)
            else:
                assert conflict_with(reply, job_id), (difference, reply.status, reply.body)
        job = (await alice.get(f"jobs/{job_id}")).json
        assert job["tool"] == winners[0]["tool"], difference
        assert job["input"]["inputs"][0]["content"] == winners[0]["input"]["inputs"][0]["content"]
