"""The batch view's model on both transports and both stores: each child's status
and progress live from the kernel's one feed, the credits reserved and spent, and
a retry of the failed children that reaches the store."""

from __future__ import annotations

from pathlib import Path

from proteiniq_jupyter.client import Client
from proteiniq_jupyter.widgets.batch_view import BatchView

from ..helpers import Gate
from .conftest import FrontEnd
from .forms_fixtures import eventually


def statuses(view: BatchView) -> list[str]:
    return [child["status"] for child in view.jobs]


def test_children_follow_their_jobs_live(front: FrontEnd, client: Client, tmp_path: Path) -> None:
    gate = Gate(tmp_path / "gate")
    batch = client.run_batch("sleep", ["first", "second"], new=True, **gate.settings(steps=3))
    view = batch.view()
    assert isinstance(view, BatchView)
    assert view.batch["id"] == batch.id and view.batch["total"] == 2
    assert [child["id"] for child in view.jobs] == batch.resource.job_ids
    # Held after their first step: processing, part way, with no call to read them.
    eventually(lambda: statuses(view) == ["PROCESSING"] * 2, "both children processing")
    eventually(
        lambda: all(0 < child["progress"] < 1 for child in view.jobs),
        "both children part way",
    )
    gate.open()
    eventually(lambda: statuses(view) == ["COMPLETED"] * 2, "both children completed")
    eventually(lambda: view.batch["status"] == "COMPLETED", "the batch completed")
    assert view.batch["counts"]["COMPLETED"] == 2
    assert view.batch["credits_charged"] == client.batch(batch.id).resource.credits_charged
    assert [child["progress"] for child in view.jobs] == [1.0, 1.0]


def test_credits_and_a_retry_of_the_failed_children(front: FrontEnd, client: Client) -> None:
    batch = client.run_batch("echo", ["one", "two"], new=True, outcome="error")
    view = batch.view()
    assert view.batch["reserved_credits"] == 20  # 10 per child, held up front
    eventually(lambda: statuses(view) == ["FAILED"] * 2, "both children failed")
    failed = [child["id"] for child in view.jobs]
    eventually(lambda: view.batch["status"] == "FAILED", "the batch failed")
    reply = front.act(view, "retry_failed")
    assert reply["ok"] is True, reply
    retried = reply["retried"]
    assert len(retried) == 2 and not set(retried) & set(failed)
    # The store has the new children, each the retry of a failed one, in the batch.
    for job_id in retried:
        job = client.job(job_id)
        assert job.resource.batch_id == batch.id and job.resource.origin_job_id in failed
    assert {child["id"] for child in view.jobs} == set(failed) | set(retried)
    eventually(lambda: statuses(view).count("FAILED") == 4, "the retries failed too")
    # A failed child is retried once: a second retry runs the retries, not the first ones.
    again = front.act(view, "retry_failed")
    assert again["ok"] is True and len(again["retried"]) == 2
    assert {client.job(i).resource.origin_job_id for i in again["retried"]} == set(retried)
    assert len(client.batch(batch.id).resource.job_ids) == 6
    assert len(view.jobs) == 6


def test_cancel_stops_the_children_still_running(
    front: FrontEnd, client: Client, tmp_path: Path
) -> None:
    gate = Gate(tmp_path / "gate")
    batch = client.run_batch("sleep", ["a", "b"], new=True, **gate.settings(steps=3))
    view = batch.view()
    try:
        reply = front.act(view, "cancel")
        assert reply["ok"] is True and reply["batch"]["status"] == "CANCELLED"
        eventually(lambda: statuses(view) == ["CANCELLED"] * 2, "both children cancelled")
        assert {j.status for j in client.batch(batch.id).jobs()} == {"CANCELLED"}
    finally:
        gate.open()  # a thread of the in-process engine that outlived its cancel ends
