"""Progress that moves while a library reports nothing: the engine's estimate from
past runs of the same tool, marked as an estimate, with the time left; a real Vina
docking run through the engine on both stores."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from proteiniq_jupyter import api
from proteiniq_jupyter.client.render import job_html
from proteiniq_jupyter.execution.inprocess import run_job
from proteiniq_jupyter.jobs.access import Permissions
from proteiniq_jupyter.jobs.model import Job, JobInput, utcnow
from proteiniq_jupyter.jobs.reading import JobView
from proteiniq_jupyter.jobs.service import JobService
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.jobs.timing import expected_seconds
from proteiniq_jupyter.store.sql_store import DirectoryJobFiles, SqlStore
from proteiniq_jupyter.tools import estimate
from proteiniq_jupyter.tools.estimate import PhaseEstimate
from proteiniq_jupyter.tools.registry import ToolRegistry
from proteiniq_jupyter.tools.vina import AutodockVina

SETTINGS = {
    **{"center_x": 28.5, "center_y": 6.0, "center_z": 14.4},
    **{"size_x": 18.0, "size_y": 18.0, "size_z": 18.0},
    **{"exhaustiveness": 4, "num_poses": 3},
}


def test_an_estimate_moves_through_its_phase_and_holds_below_its_end() -> None:
    phase = PhaseEstimate(0.3, 0.9, expected_s=10.0, tail_s=1.0)
    assert phase.at(0.0) == (0.3, 11.0)
    fraction, eta = phase.at(5.0)
    assert fraction == pytest.approx(0.6) and eta == pytest.approx(6.0)
    late, unknown = phase.at(30.0)
    assert 0.6 < late < 0.9 and unknown is None
    assert PhaseEstimate(0.3, 0.9, expected_s=None).at(5.0) == (0.3, None)


def test_expected_seconds_scale_with_input_size_by_the_median() -> None:
    assert expected_seconds([], 4) is None
    # 2 s per unit in the middle; one outlier does not move it.
    past = [(2.0, 1), (8.0, 4), (100.0, 1)]
    assert expected_seconds(past, 3) == pytest.approx(6.0)


def _dock_job(service: JobService, receptor: str) -> str:
    actor = service.sign_in("alice")
    inputs = [
        JobInput(id="r", slot_id="receptor", kind="structure", format="pdb", content=receptor),
        JobInput(id="l", slot_id="ligands", kind="ligand", format="smiles", content="c1ccccc1O"),
    ]
    return service.submit(actor, "autodock-vina", inputs, SETTINGS).id


def test_a_docking_reports_estimated_progress_then_a_time_left(
    store: SqlStore, tmp_path: Path, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(estimate, "TICK_S", 0.1)
    registry = ToolRegistry([AutodockVina()])
    service = JobService(store, registry, DirectoryJobFiles(tmp_path / "files"))
    receptor = (fixtures_dir / "docking" / "BACE_1_receptorH.pdb").read_text()
    actor = service.sign_in("alice")
    estimated = []
    for _ in range(2):
        job_id = _dock_job(service, receptor)
        run_job(service.runs, registry, job_id)
        assert service.get(actor, job_id).job.status is JobStatus.COMPLETED
        events = [e for e in service.events(actor, job_id) if e.kind == "progress"]
        estimated.append([e.data for e in events if e.data.get("progress_estimated")])
    first, second = estimated
    # No past run: the tool's own guess; the fraction moves inside the phase.
    fractions = [d["progress"] for d in first]
    # Ticks every 0.1 s through a docking of seconds (a docking holding this
    # process's interpreter lock would let through a few only).
    assert len(fractions) >= 8, first
    assert fractions == sorted(fractions) and 0.3 <= fractions[0] < fractions[-1] < 0.9
    # With a past run: the time left comes from it, counting down.
    etas = [d["eta_s"] for d in second if d["eta_s"] is not None]
    assert len(etas) >= 2, second
    assert etas[0] > etas[-1] >= 0
    assert all("estimated" in (d["progress_message"] or "") for d in second)
    # The finished job is no longer an estimate.
    done = service.get(actor, job_id).job
    assert not done.progress_estimated and done.eta_s is None


def test_a_notebook_shows_an_estimate_with_its_time_left() -> None:
    now = utcnow()
    running = Job(
        id="job_1",
        workspace_id="ws_1",
        submitter_id="usr_1",
        tool="autodock-vina",
        name="dock",
        status=JobStatus.PROCESSING,
        inputs=(),
        settings={},
        created_at=now,
        updated_at=now,
        started_at=now,
        progress=0.5,
        progress_message="docking with exhaustiveness 8 (estimated)",
        progress_estimated=True,
        progress_eta_at=now + timedelta(seconds=30),
    )
    seen = Permissions(see_row=True, see_contents=True, change=True)
    resource = api.Job.of(JobView(running, seen))
    assert resource.progress_estimated and 25 < (resource.eta_seconds or 0) <= 30
    html = job_html(resource)
    assert "(estimated, about" in html and "s left)" in html
    done = api.Job.of(JobView(replace(running, status=JobStatus.COMPLETED), seen))
    assert done.eta_seconds is None and "estimated, about" not in job_html(done)
