"""StructureView's model on both transports and both stores, over real jobs: a Vina
docking (the receptor, each pose with its affinity) and a fold with the tiny
ESMFold model (pLDDT colours); the scene, the files in its state, the choices, the
viewer's one load per page, ``job.view()`` and its py3Dmol backend."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from pathlib import Path

import pytest
from ipywidgets.widgets.widget import _remove_buffers

from proteiniq_jupyter.client import Client
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.widgets.base import bundle
from proteiniq_jupyter.widgets.py3dmol import pose_record
from proteiniq_jupyter.widgets.structure import StructureView
from proteiniq_jupyter.widgets.structures import VIEWER_SCRIPT

from ..helpers import Gate
from .structure_fixtures import (
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


def display_data(view: StructureView) -> dict[str, object]:
    """What a notebook receives when it shows the view."""
    bundle = view._repr_mimebundle_()
    return dict(bundle[0] if isinstance(bundle, tuple) else bundle)


def texts(view: StructureView) -> dict[str, str]:
    return {name: gzip.decompress(data).decode() for name, data in view.structures.items()}


def test_a_docking_shows_the_receptor_and_each_pose_with_its_affinity(
    client: Client, jobs: Jobs
) -> None:
    job = jobs.docked(client)
    view = job.view()
    assert isinstance(view, StructureView)
    scene = view.scene
    assert scene is not None and view.error is None
    assert [s["name"] for s in scene["structures"]] == ["receptor.pdbqt"]
    assert scene["poses_file"] == "poses.sdf"
    rows = job.result().results.rows
    assert [(p["rank"], p["affinity"]) for p in scene["poses"]] == [
        (r["pose"], r["affinity"]) for r in rows
    ]
    assert len(scene["poses"]) >= 2 and scene["poses"][0]["affinity"] < 0
    # The state holds the very files of the result, and shows the best pose first.
    shown = texts(view)
    assert shown["receptor.pdbqt"] == client.transport.file(job.id, "receptor.pdbqt").decode()
    assert shown["poses.sdf"].count("$$$$") == len(rows)
    assert view.pose == 1
    assert view.job["id"] == job.id and "input" not in view.job
    # Where the widget cannot render (a notebook shared as static HTML), its
    # summary says what it shows.
    data = display_data(view)
    assert "application/vnd.jupyter.widget-view+json" in data
    best = rows[0]
    assert (
        f"<code>poses.sdf</code>: {len(rows)} poses, the best {best['affinity']:.2f} kcal/mol"
        in str(data["text/html"])
    )
    assert "<code>receptor.pdbqt</code>" in str(data["text/html"])


def test_a_fold_is_coloured_by_plddt_from_its_b_factors(client: Client, jobs: Jobs) -> None:
    job = jobs.folded(client)
    view = job.view()
    scene = view.scene
    assert scene is not None and scene["colour"] == "plddt" and scene["poses"] == []
    (structure,) = scene["structures"]
    fields = job.result().results.fields
    assert structure["mean_plddt"] == fields["mean_plddt"]
    assert f"mean pLDDT {fields['mean_plddt']:.1f}" in structure["label"]
    summary = str(display_data(view)["text/html"])
    assert "in 3D coloured by pLDDT" in summary and structure["label"] in summary
    # pLDDT is in the B-factor column on 0-100, residue by residue as the rows say.
    pdb = texts(view)[structure["name"]]
    by_residue = {
        int(line[22:26]): float(line[60:66]) for line in pdb.splitlines() if line.startswith("ATOM")
    }
    rows = job.result().results.rows
    assert [by_residue[r["residue_number"]] for r in rows] == pytest.approx(
        [r["plddt"] for r in rows], abs=0.01
    )


def test_choices_are_traits_the_page_and_python_share(client: Client, jobs: Jobs) -> None:
    view = jobs.docked(client).view()
    view.set_state({"pose": 2, "surface": True, "sticks": True})
    assert (view.pose, view.surface, view.sticks) == (2, True, True)
    state = view.get_state()
    assert state["pose"] == 2 and state["surface"] is True


def test_the_viewer_is_loaded_once_per_page_not_saved_in_each_widget(
    client: Client, jobs: Jobs, stack: object
) -> None:
    view = jobs.folded(client).view()
    script = VIEWER_SCRIPT.read_text()
    state = view.get_state()
    saved = json.dumps({k: v for k, v in state.items() if k != "structures"})
    assert script[200:400] not in saved and len(saved) < len(script)
    # Where a server is, the page loads it from there; else it asks the kernel once.
    if client.connection.transport == "http":
        assert view.viewer_url == "/static/proteiniq/vendor/3Dmol-min.js"
        served = client.transport._client.get(  # type: ignore[attr-defined]
            client.connection.url + view.viewer_url.lstrip("/")
        )
        assert served.status_code == 200 and served.text == script
    else:
        assert view.viewer_url is None
    reply = view.handle({"action": "viewer_script", "request": "r1"})
    assert reply["ok"] and reply["reply"] == "r1" and reply["script"] == script


def test_a_saved_view_holds_a_loader_of_its_bundle_not_the_bundle(
    client: Client, jobs: Jobs
) -> None:
    view = jobs.folded(client).view()
    built = bundle(StructureView.bundle)
    digest = hashlib.sha256(built.encode()).hexdigest()[:12]
    assert len(view._esm) < 4000 < len(built)
    assert view._esm.startswith(f'const __PIQ_BUNDLE__ = "structure_view.js?v={digest}";')
    # Saved, the whole view is the loader, the scene and its compressed files.
    state, _, buffers = _remove_buffers(view.get_state())
    saved = len(json.dumps(state)) + sum(len(base64.b64encode(bytes(b))) for b in buffers)
    assert saved < 40_000, saved
    # A page with no server to import the bundle from asks the kernel for it.
    reply = view.handle({"action": "bundle", "request": "b"})
    assert reply["ok"] and reply["esm"] == built


def test_py3dmol_backend_draws_from_the_served_viewer_never_a_cdn(
    client: Client, jobs: Jobs
) -> None:
    py3dmol = pytest.importorskip("py3Dmol")
    job = jobs.docked(client)
    view = job.view(backend="py3dmol", pose=2)
    assert isinstance(view, py3dmol.view)
    page = view._make_html()
    assert "cdn.jsdelivr" not in page and "https://" not in page.split("<script>")[1][:2000]
    if client.connection.transport == "http":
        assert "'/static/proteiniq/vendor/3Dmol-min.js'" in page
    else:
        assert "data:text/javascript;base64," in page
    # The receptor and the second pose, alone, are in it.
    sdf = client.transport.file(job.id, "poses.sdf").decode()
    assert json.dumps(pose_record(sdf, 2)) in page
    assert json.dumps(pose_record(sdf, 1)) not in page
    assert json.dumps(client.transport.file(job.id, "receptor.pdbqt").decode()) in page
    with pytest.raises(ValueError, match="no pose 99; the poses are 1, 2"):
        job.view(backend="py3dmol", pose=99)
    with pytest.raises(ValueError, match="no view backend 'nglview'"):
        job.view(backend="nglview")


def test_a_job_without_a_structure_says_so(client: Client) -> None:
    job = client.run("protein-stats", "MKTAYIAKQR", new=True).wait(60, show=False)
    view = job.view()
    assert view.scene is None
    assert view.error == f"job {job.id} (protein-stats) has no structure among its files"
    assert view.error in str(display_data(view)["text/html"])
    with pytest.raises(ValueError, match="has no structure"):
        job.view(backend="py3dmol")


def test_a_view_of_a_running_job_draws_itself_when_it_completes(
    client: Client, tmp_path: Path
) -> None:
    gate = Gate(tmp_path / "gate")
    try:
        job = client.run("sleep", "hold", new=True, **gate.settings(steps=2))
        view = job.view()
        assert view.scene is None and view.error is None
        assert view.job["status"] in ("PENDING", "PROCESSING")
    finally:
        gate.open()
    eventually(lambda: view.job["status"] == "COMPLETED", "the view sees the job complete")
    eventually(lambda: view.error is not None, "the view says what it found")
    assert "has no structure" in str(view.error)
    assert job.wait(60, show=False).status is JobStatus.COMPLETED
