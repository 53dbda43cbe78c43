"""JobProgress: a job's live progress follows the kernel's one event feed, and its
cancel button's action reaches the store; a job handle shows it in a notebook and
its HTML summary where widgets cannot render."""

from __future__ import annotations

from pathlib import Path

from proteiniq_jupyter.client import Client
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.widgets import JobProgress
from proteiniq_jupyter.widgets.base import served_esm

from ..helpers import Gate
from .conftest import FrontEnd

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def test_the_page_gets_the_job_as_the_api_answers_it(client: Client, front: FrontEnd) -> None:
    job = client.run("echo", "progress shown", new=True).wait(60)
    widget = JobProgress(job)
    state = front.opened_state(widget)
    assert state["job"] == client.transport.job(job.id).model_dump(mode="json")
    assert state["job"]["status"] == "COMPLETED" and state["job"]["progress"] == 1.0
    assert state["_esm"] == served_esm("job_progress")
    assert state["link"] == job.link()


def test_progress_and_status_reach_the_page_with_no_call(
    client: Client, front: FrontEnd, tmp_path: Path
) -> None:
    gate = Gate(tmp_path / "gate")
    try:
        job = client.run("sleep", "watched", new=True, **gate.settings(steps=4))
        widget = JobProgress(job)
        before = client.transport.events.watching()
        # the job holds after its first step: the page sees it processing at 25 %
        front.wait_for(
            lambda: any(
                j["status"] == "PROCESSING" and j["progress"] >= 0.25
                for j in [*front.updates(widget, "job"), front.opened_state(widget)["job"]]
            )
        )
        gate.open()
        # the end shows from its event first, then from the read that follows it
        front.wait_for(lambda: widget.job["completed_at"] is not None)
        shown = front.updates(widget, "job")[-1]
        assert shown["status"] == "COMPLETED" and shown["progress"] == 1.0
        assert shown["completed_at"] is not None and shown["credits"]["charged"] == 10
        assert shown["progress_message"] == "step 4"
        # no handle-level watch was opened for it: the widgets' one feed listens
        assert client.transport.events.watching() == before
    finally:
        gate.open()


def test_the_end_shows_from_its_event_before_the_job_is_read_again(
    client: Client, front: FrontEnd, tmp_path: Path
) -> None:
    """The page reads COMPLETED as soon as the event says so, not after the read of
    the whole job that follows it (a busy server can make that read wait its turn:
    the badge must not); the read then adds the end's time and the charge."""
    gate = Gate(tmp_path / "gate")
    try:
        job = client.run("sleep", "ends", new=True, **gate.settings(steps=2))
        widget = JobProgress(job)
        front.wait_for(lambda: widget.job["status"] == "PROCESSING")
        gate.open()
        front.wait_for(lambda: widget.job["completed_at"] is not None)
        ended = [j for j in front.updates(widget, "job") if j["status"] == "COMPLETED"]
        assert ended[0]["completed_at"] is None, ended[0]  # the event's word, at once
        assert ended[-1]["credits"]["charged"] == 10 and ended[-1]["progress"] == 1.0
    finally:
        gate.open()


def test_cancel_from_the_page_cancels_the_job_in_the_store(
    client: Client, front: FrontEnd, tmp_path: Path
) -> None:
    gate = Gate(tmp_path / "gate")
    try:
        job = client.run("sleep", "to cancel", new=True, **gate.settings(steps=3))
        widget = JobProgress(job)
        reply = front.act(widget, "cancel")
        assert reply["ok"] is True and reply["error"] is None
        assert reply["job"]["status"] == "CANCELLED"
        assert client.transport.job(job.id).status is JobStatus.CANCELLED
        front.wait_for(lambda: widget.job["status"] == "CANCELLED")
    finally:
        gate.open()


def test_a_refused_action_answers_the_clients_message(client: Client, front: FrontEnd) -> None:
    job = client.run("echo", "already done", new=True).wait(60)
    widget = JobProgress(job)
    reply = front.act(widget, "cancel")
    assert reply["ok"] is False
    assert job.id in reply["error"] and "COMPLETED" in reply["error"]
    assert client.transport.job(job.id).status is JobStatus.COMPLETED
    unknown = front.act(widget, "explode")
    assert unknown["ok"] is False and "no action 'explode'" in unknown["error"]
    assert "cancel" in unknown["error"]
    bad = front.act(widget, "cancel", force=True)
    assert bad["ok"] is False and "force" in bad["error"]


def test_outside_a_kernel_a_handle_shows_its_html_summary(client: Client) -> None:
    job = client.run("echo", "in a terminal", new=True).wait(60)
    data = job._repr_mimebundle_()
    assert WIDGET_MIME not in data
    assert job.id in data["text/html"] and data["text/plain"] == repr(job)
