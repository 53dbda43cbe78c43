"""Public job pages, as a visitor without a Jupyter login sees them: in a real
browser (Debian's chromium), the structure drawn by the bundled viewer, with no
request leaving the server; and 404 for anything not public."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..browser.chromium import ARTIFACTS, CANVAS_PIXELS, NEEDS_CHROMIUM, visit
from .conftest import Api

MODEL = "colabfold/ERR550519_2213899_unrelaxed_model_1.pdb"


async def public_structure_job(alice: Api, fixtures_dir: Path) -> dict[str, Any]:
    """A real conversion of a real ColabFold model, shared publicly."""
    upload = await alice.post(
        "files",
        raw=(fixtures_dir / MODEL).read_bytes(),
        params={"name": "model.pdb"},
        headers={"Content-Type": "application/octet-stream"},
    )
    assert upload.status == 201, upload.body
    item = {
        "slotId": "structure",
        "kind": "structure",
        "format": "pdb",
        "content": "",
        "source": {"type": "file", "file_id": upload.json["id"]},
    }
    reply = await alice.post(
        "jobs", {"tool": "pdb-to-mmcif", "name": "Model 1 <public>", "input": {"inputs": [item]}}
    )
    assert reply.status == 201, reply.body
    await alice.wait(reply.json["id"])
    share = await alice.put(f"jobs/{reply.json['id']}/share", {"visibility": "public"})
    assert share.status == 200 and share.json["public_url"]
    job: dict[str, Any] = reply.json
    job["public_url"] = share.json["public_url"]
    return job


async def test_public_page_and_json_without_login(alice: Api, anonymous: Api, fixtures_dir):
    job = await public_structure_job(alice, fixtures_dir)
    page = await anonymous.fetch_path(job["public_url"])
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert "Model 1 &lt;public&gt;" in html and "<public>" not in html  # escaped
    assert "COMPLETED" in html and "model.cif" in html and "1069" in html
    assert "id='pose'" not in html  # no poses: no pose picker
    data = await anonymous.fetch_path(job["public_url"] + "?format=json")
    assert data.status == 200 and data.json["id"] == job["id"]
    assert data.json["result"]["results"]["fields"]["atoms"] == 1069
    [cif] = data.json["result"]["files"]
    download = await anonymous.fetch_path(cif["url"])
    assert download.status == 200 and download.body.startswith(b"data_")
    # taking it private again hides all of it, as if it never existed
    await alice.put(f"jobs/{job['id']}/share", {"visibility": "private"})
    for url in (job["public_url"], job["public_url"] + "?format=json", cif["url"]):
        assert (await anonymous.fetch_path(url)).status == 404


@pytest.mark.parametrize("visibility", ["private", "logged_in", "invited"])
async def test_only_public_jobs_have_a_page(alice: Api, anonymous: Api, visibility: str):
    job = await alice.run("not for the public")
    if visibility != "private":
        body: dict[str, Any] = {"visibility": visibility}
        if visibility == "invited":
            body["invite"] = ["someone@elsewhere.example"]
        assert (await alice.put(f"jobs/{job['id']}/share", body)).status == 200
    prefix = alice.server.app.base_url.rstrip("/")
    assert (await anonymous.fetch_path(f"{prefix}/proteiniq/public/jobs/{job['id']}")).status == 404
    assert (await anonymous.fetch_path(f"{prefix}/proteiniq/public/jobs/job_nothere")).status == 404


@NEEDS_CHROMIUM
async def test_the_structure_renders_in_a_browser(alice: Api, fixtures_dir, jp_http_port, tmp_path):
    job = await public_structure_job(alice, fixtures_dir)
    url = f"http://127.0.0.1:{jp_http_port}{job['public_url']}"
    async with visit("--disable-gpu") as seen:
        page = seen.page
        await page.goto(url)
        await page.wait_for_selector("#viewer[data-rendered]", timeout=30_000)
        atoms = await page.get_attribute("#viewer", "data-rendered")
        canvas = await page.query_selector("#viewer canvas")
        box = await canvas.bounding_box() if canvas else None
        await page.screenshot(path=str(tmp_path / "public-page.png"))
        title = await page.title()
    assert atoms == "1069"  # every atom of the model is in the drawing
    assert box is not None and box["width"] > 500 and box["height"] > 300
    assert title.startswith("Model 1 <public>")
    assert seen.errors == []
    assert seen.outside == []  # the viewer is bundled: nothing is fetched from the internet


RECEPTOR = "docking/BACE_1_receptorH.pdb"
#: A small box in the BACE-1 active site, exhaustiveness 1: a docking of seconds.
DOCKING = {
    "center_x": 28.5,
    "center_y": 6.0,
    "center_z": 14.4,
    "size_x": 16.0,
    "size_y": 16.0,
    "size_z": 16.0,
    "exhaustiveness": 1,
    "num_poses": 3,
    "energy_range": 5.0,
}


async def public_docking_job(alice: Api, fixtures_dir: Path) -> dict[str, Any]:
    """A real Vina docking of paracetamol into BACE-1, shared publicly."""
    inputs = [
        {
            "slotId": "receptor",
            "kind": "structure",
            "format": "pdb",
            "content": (fixtures_dir / RECEPTOR).read_text(),
            "label": "BACE_1_receptorH.pdb",
        },
        {
            "slotId": "ligands",
            "kind": "ligand",
            "format": "smiles",
            "content": "CC(=O)Nc1ccc(O)cc1 paracetamol",
        },
    ]
    reply = await alice.post(
        "jobs",
        {
            "tool": "autodock-vina",
            "name": "Paracetamol into BACE-1",
            "input": {"inputs": inputs},
            "settings": DOCKING,
        },
    )
    assert reply.status == 201, reply.body
    status = await alice.wait(reply.json["id"], timeout=180)
    assert status["status"] == "COMPLETED", status
    share = await alice.put(f"jobs/{reply.json['id']}/share", {"visibility": "public"})
    assert share.status == 200
    return {**reply.json, "public_url": share.json["public_url"]}


@pytest.mark.timeout(300)
@NEEDS_CHROMIUM
async def test_a_docking_page_shows_the_receptor_with_each_pose(
    alice: Api, anonymous: Api, fixtures_dir: Path, jp_http_port: int
):
    """A docking job's page draws the receptor with the docked ligand, and a picker
    lists every pose with its affinity: choosing another redraws the ligand where
    that pose lies. Checked through the canvas's pixels; screenshots of both poses
    go to tests/artifacts/."""
    job = await public_docking_job(alice, fixtures_dir)
    data = (await anonymous.fetch_path(job["public_url"] + "?format=json")).json
    rows = data["result"]["results"]["rows"]
    files = {f["name"]: f for f in data["result"]["files"]}
    assert len(rows) >= 2, rows  # two poses at least, to choose between
    receptor = (await anonymous.fetch_path(files["receptor.pdbqt"]["url"])).text
    # 3Dmol.js leaves out hydrogens (meeko keeps the polar ones, type HD)
    receptor_atoms = sum(
        line.startswith(("ATOM", "HETATM")) and line[77:79].strip() not in ("H", "HD", "HS")
        for line in receptor.splitlines()
    )

    page_html = (await anonymous.fetch_path(job["public_url"])).text
    assert f"data-url='{files['receptor.pdbqt']['url']}'" in page_html
    assert f"data-poses-url='{files['poses.sdf']['url']}'" in page_html
    for row in rows:
        assert f"Pose {row['pose']}: {row['affinity']:.3f} kcal/mol (paracetamol)" in page_html

    ARTIFACTS.mkdir(exist_ok=True)
    async with visit() as seen:
        page = seen.page
        await page.goto(f"http://127.0.0.1:{jp_http_port}{job['public_url']}")
        await page.wait_for_selector("#viewer[data-pose='1']", timeout=60_000)
        viewer = await page.query_selector("#viewer")
        assert viewer is not None
        drawn_atoms = await viewer.get_attribute("data-rendered")
        drawn_poses = await viewer.get_attribute("data-poses")
        canvas = await page.query_selector("#viewer canvas")
        first = await page.evaluate(CANVAS_PIXELS, canvas)
        await viewer.screenshot(path=str(ARTIFACTS / "public-docking-pose-1.png"))
        await page.screenshot(path=str(ARTIFACTS / "public-docking-page.png"))
        await page.select_option("#pose", "2")
        await page.wait_for_selector("#viewer[data-pose='2']", timeout=10_000)
        second = await page.evaluate(CANVAS_PIXELS, canvas)
        await viewer.screenshot(path=str(ARTIFACTS / "public-docking-pose-2.png"))
    assert drawn_atoms == str(receptor_atoms)  # the whole receptor, its heavy atoms
    assert drawn_poses == str(len(rows))
    assert first["drawn"] > first["total"] // 10  # the receptor fills the view
    assert first["green"] > 100 and second["green"] > 100  # a ligand is drawn
    assert second["changed"] > 100  # another pose, elsewhere
    assert seen.errors == []
    assert seen.outside == []
