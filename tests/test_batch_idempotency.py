"""Idempotency-Key for batches at the service, on both stores: a replay of the same
batch request returns the first batch and holds nothing more; the same key with
another tool, items, settings or name is a conflict naming that batch; another
member of the workspace cannot take over someone's key. Concurrent replays start
together from a barrier, so the race between them is run every time."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from proteiniq_jupyter.jobs.access import Role
from proteiniq_jupyter.jobs.errors import Conflict
from proteiniq_jupyter.jobs.model import BatchSummary, JobInput
from proteiniq_jupyter.tools.colabfold import AlphaFold2

from .conftest import text_input

RACERS = 6


def items(*texts: str) -> list[list[Any]]:
    return [[text_input(text)] for text in texts]


def submit(service: Any, actor: Any, key: str, *texts: str, **kwargs: Any) -> BatchSummary:
    summary: BatchSummary = service.submit_batch(
        actor, "echo", items(*(texts or ("a", "b"))), idempotency_key=key, **kwargs
    )
    return summary


def test_a_replayed_batch_is_the_first_one_held_once(service, alice):
    first = submit(service, alice, "batch-1", settings={"repeat": 2}, name="two")
    held = service.account(alice).available_credits
    again = submit(service, alice, "batch-1", settings={"repeat": 2}, name="two")
    assert again.batch.id == first.batch.id
    assert again.batch.child_ids == first.batch.child_ids
    assert service.account(alice).available_credits == held
    batches, _ = service.list_batches(alice)
    assert [b.batch.id for b in batches] == [first.batch.id]
    assert len(service.list_jobs(alice).items) == 0  # children are not top-level jobs


@pytest.mark.parametrize(
    "other",
    [
        {"texts": ("a", "c")},
        {"texts": ("a",)},
        {"settings": {"repeat": 3}},
        {"name": "another"},
        {"tool": "gpu-echo"},
    ],
    ids=["items", "fewer items", "settings", "name", "tool"],
)
def test_the_same_key_for_another_batch_is_a_conflict(service, alice, other):
    first = submit(service, alice, "batch-1", name="two")
    held = service.account(alice).available_credits
    other = dict(other)
    texts = other.pop("texts", ("a", "b"))
    tool = other.pop("tool", "echo")
    settings = {"name": "two", **other}
    with pytest.raises(Conflict, match="different request") as info:
        service.submit_batch(alice, tool, items(*texts), idempotency_key="batch-1", **settings)
    assert info.value.details == {"batch_id": first.batch.id}
    assert service.account(alice).available_credits == held
    assert len(service.list_batches(alice)[0]) == 1


def test_a_batch_split_from_one_input_replays_too(service, tools, alice):
    tools.add(AlphaFold2())

    def split(text: str) -> BatchSummary:
        given = [JobInput("seqs", "sequences", "protein", "text", text)]
        summary: BatchSummary = service.submit_batch_input(
            alice, AlphaFold2.id, given, idempotency_key="split"
        )
        return summary

    first = split("a MKTAYIAKQR\nb MKTAYIAKQRQISFVK\n")
    assert len(first.batch.child_ids) == 2
    assert split("a MKTAYIAKQR\nb MKTAYIAKQRQISFVK\n").batch.id == first.batch.id
    with pytest.raises(Conflict, match="different request"):
        split("a MKTAYIAKQR\nc MKTAYIAKQRQISFVKSH\n")


def test_another_member_cannot_take_over_a_key(service, alice):
    service.add_member(alice, "tim", Role.MEMBER)
    tim = service.sign_in("tim", workspace_id=alice.workspace_id)
    first = submit(service, alice, "shared")
    with pytest.raises(Conflict, match="someone else") as info:
        submit(service, tim, "shared")
    assert info.value.details == {"batch_id": first.batch.id}
    assert submit(service, tim, "tim's own").batch.submitter_id != alice.user_id


def test_keys_are_scoped_to_the_workspace(service, alice):
    carol = service.sign_in("carol")
    assert submit(service, alice, "k").batch.id != submit(service, carol, "k").batch.id


def test_concurrent_replays_make_one_batch(service, alice):
    barrier = threading.Barrier(RACERS)

    def race(_: int) -> str:
        barrier.wait()
        return submit(service, alice, "race").batch.id

    with ThreadPoolExecutor(RACERS) as pool:
        ids = set(pool.map(race, range(RACERS)))
    assert len(ids) == 1
    assert len(service.list_batches(alice)[0]) == 1
