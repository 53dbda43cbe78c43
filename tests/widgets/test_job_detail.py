"""JobDetail's model on both transports and both stores: a real docking in full
(inputs, settings, results, files with preview and download, credits, timeline, the
structure view inside), a job followed live from the kernel's one subscription,
and its actions reaching the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from proteiniq_jupyter.client import Client
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.widgets.detail import MAX_SHOWN_INPUT, PREVIEW_CHARS, JobDetail
from proteiniq_jupyter.widgets.structure import StructureView

from ..helpers import Gate
from .structure_fixtures import (
    RECEPTOR,
    Jobs,
    _count_postgres,
    backend,
    client,
    clients,
    eventually,
    jobs,
    module_database_url,
    stack,
)

__all__ = [
    "_count_postgres",
    "backend",
    "client",
    "clients",
    "jobs",
    "module_database_url",
    "stack",
]

pytestmark = pytest.mark.timeout(600)


def test_a_docking_in_full(client: Client, jobs: Jobs) -> None:
    job = jobs.docked(client)
    detail = job.detail()
    assert isinstance(detail, JobDetail)
    shown = detail.job
    assert shown["id"] == job.id and shown["status"] == "COMPLETED"
    assert shown["settings"] == job.resource.settings
    assert shown["credits"]["charged"] == job.resource.credits.charged > 0
    assert shown["duration_s"] == job.resource.duration_s and shown["duration_s"] > 0
    assert shown["submitter"]["id"] == job.resource.submitter.id
    # The receptor's text is long: its start is kept, and its length said.
    receptor = RECEPTOR.read_text()
    (given,) = [i for i in shown["input"]["inputs"] if i["slotId"] == "receptor"]
    assert given["content"] == receptor[:MAX_SHOWN_INPUT]
    index = shown["input"]["inputs"].index(given)
    assert detail.input_lengths[index] == len(receptor)
    assert [f["name"] for f in shown["result"]["files"]] == [f.name for f in job.files]
    assert shown["result"]["rows"] == job.result().results.rows
    # The structure view inside shows the same scene as job.view().
    assert isinstance(detail.structure, StructureView)
    assert detail.structure.scene == job.view().scene
    # The timeline: from creation to completion, in order, as the store logged it.
    events = detail.events
    assert events[0]["kind"] == "created" and events[-1]["status"] == "COMPLETED"
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert [e["id"] for e in events] == [e.id for e in client.transport.history(job.id)]
    assert any(e["kind"] == "progress" for e in events)


def test_files_preview_and_download(client: Client, jobs: Jobs) -> None:
    job = jobs.docked(client)
    detail = job.detail()
    whole = client.transport.file(job.id, "receptor.pdbqt").decode()
    assert len(whole) > PREVIEW_CHARS
    preview = detail.handle({"action": "file", "request": "p", "name": "receptor.pdbqt"})
    assert preview["ok"] and preview["reply"] == "p"
    assert preview["text"] == whole[:PREVIEW_CHARS] and preview["truncated"] is True
    download = detail.handle(
        {"action": "file", "request": "d", "name": "receptor.pdbqt", "preview": False}
    )
    assert download["ok"] and download["text"] == whole
    poses = detail.handle({"action": "file", "request": "s", "name": "poses.sdf"})
    assert poses["truncated"] is False and poses["text"].count("$$$$") == len(job.results)
    missing = detail.handle({"action": "file", "request": "m", "name": "nothing.pdb"})
    assert missing == {
        "reply": "m",
        "ok": False,
        "error": f"job {job.id} has no file 'nothing.pdb'; its files are "
        + ", ".join(f.name for f in job.files),
    }


def test_live_while_processing_from_the_kernels_one_subscription(
    client: Client, tmp_path: Path
) -> None:
    gate = Gate(tmp_path / "gate")
    try:
        job = client.run("sleep", "live", new=True, **gate.settings(steps=3))
        detail = job.detail()
        eventually(lambda: detail.job["status"] == "PROCESSING", "the detail sees it start")
        assert detail.job.get("result") is None and detail.structure is None
        eventually(
            lambda: detail.events[-1]["data"].get("progress_message") == "step 1",
            "its first step is on the timeline",
        )
        shown = len(detail.events)
    finally:
        gate.open()
    eventually(lambda: detail.job["status"] == "COMPLETED", "the detail sees it complete")
    eventually(lambda: detail.job.get("result") is not None, "the result is read once")
    assert detail.events[-1]["status"] == "COMPLETED" and len(detail.events) > shown
    assert [e["id"] for e in detail.events] == [e.id for e in client.transport.history(job.id)]
    stored = client.job(job.id).resource
    assert detail.job["result"] == stored.model_dump(mode="json")["result"]
    assert detail.job["duration_s"] == stored.duration_s


def test_cancel_reaches_the_store(client: Client, tmp_path: Path) -> None:
    gate = Gate(tmp_path / "gate")
    try:
        job = client.run("sleep", "to cancel", new=True, **gate.settings(steps=3))
        detail = job.detail()
        reply = detail.handle({"action": "cancel", "request": "c"})
        assert reply["ok"] and reply["status"] == "CANCELLED"
        assert client.job(job.id).status is JobStatus.CANCELLED
        assert detail.job["status"] == "CANCELLED"
    finally:
        gate.open()
    again = detail.handle({"action": "cancel", "request": "c2"})
    assert again["ok"] is False and "CANCELLED" in again["error"]


def test_an_unknown_action_is_refused_by_name(client: Client) -> None:
    job = client.run("protein-stats", "MKTAYIAKQR", new=True).wait(60, show=False)
    reply = job.detail().handle({"action": "explode", "request": "x"})
    assert reply["ok"] is False
    assert (
        reply["error"]
        == "JobDetail has no action 'explode' (it has: bundle, cancel, file, refresh)"
    )
