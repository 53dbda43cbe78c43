"""Idempotency-Key on POST batches, over HTTP: the same key with the same batch
answers the first batch and holds nothing more; with other items, settings or
name, a 409 conflict naming that batch; another member's key is theirs alone.
Concurrent requests start together from a barrier, so the race is run every time."""

from __future__ import annotations

import asyncio
from typing import Any

from .conftest import Api, Reply

RACERS = 6


def batch_body(*texts: str, **more: Any) -> dict[str, Any]:
    items = [
        {"input": {"inputs": [{"slotId": "text", "kind": "text", "format": "text", "content": t}]}}
        for t in texts
    ]
    return {"tool": "echo", "items": items, **more}


FIRST = batch_body("a", "b", settings={"repeat": 2}, name="two")
OTHERS = {
    "items": batch_body("a", "c", settings={"repeat": 2}, name="two"),
    "settings": batch_body("a", "b", settings={"repeat": 3}, name="two"),
    "name": batch_body("a", "b", settings={"repeat": 2}, name="other"),
}


async def batch_ids(api: Api) -> set[str]:
    reply = await api.get("batches", params={"limit": 100})
    assert reply.status == 200, reply.body
    return {batch["id"] for batch in reply.json["data"]}


async def available(api: Api) -> int:
    reply = await api.get("account")
    assert reply.status == 200, reply.body
    credits: int = reply.json["workspace"]["credits"]["available"]
    return credits


async def test_a_replayed_batch_answers_the_first_and_holds_once(alice: Api) -> None:
    key = {"Idempotency-Key": "batch key"}
    first = await alice.post("batches", FIRST, headers=key)
    assert first.status == 201, first.body
    held = await available(alice)
    again = await alice.post("batches", FIRST, headers=key)
    assert again.status == 201, again.body
    assert (again.json["id"], again.json["job_ids"]) == (first.json["id"], first.json["job_ids"])
    assert await available(alice) == held
    for difference, other in OTHERS.items():
        refused = await alice.post("batches", other, headers=key)
        assert refused.status == 409, (difference, refused.body)
        assert refused.error["details"] == {"batch_id": first.json["id"]}, difference
    assert await batch_ids(alice) == {first.json["id"]}
    assert await available(alice) == held
    # without a key, the same request is another batch
    unkeyed = await alice.post("batches", FIRST)
    assert unkeyed.status == 201 and unkeyed.json["id"] != first.json["id"]


async def test_another_member_gets_a_conflict_not_the_batch(alice: Api, tim: Api) -> None:
    key = {"Idempotency-Key": "one notebook"}
    first = await alice.post("batches", FIRST, headers=key)
    assert first.status == 201, first.body
    theirs = await tim.post("batches", FIRST, headers=key)
    assert theirs.status == 409, theirs.body
    assert "someone else" in theirs.error["message"]


async def test_concurrent_requests_under_one_key_make_one_batch(alice: Api) -> None:
    barrier = asyncio.Barrier(RACERS)

    async def send() -> Reply:
        await barrier.wait()
        return await alice.post("batches", FIRST, headers={"Idempotency-Key": "race"})

    replies = await asyncio.gather(*(send() for _ in range(RACERS)))
    assert {r.status for r in replies} == {201}, [r.body for r in replies]
    assert len({r.json["id"] for r in replies}) == 1
    assert len(await batch_ids(alice)) == 1
