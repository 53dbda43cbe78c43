"""``GET jobs/{id}/scene``: what a job's result draws in 3D, for the JupyterLab
job detail; null for a result with no structure, not found for a job one may not see."""

from __future__ import annotations

from pathlib import Path

from .conftest import Api
from .test_public_page import public_structure_job


async def test_a_converted_structure_has_its_scene(alice: Api, fixtures_dir: Path) -> None:
    job = await public_structure_job(alice, fixtures_dir)
    reply = await alice.get(f"jobs/{job['id']}/scene")
    assert reply.status == 200, reply.body
    scene = reply.json
    assert scene["object"] == "structure_scene"
    assert [s["name"] for s in scene["structures"]] == ["model.cif"]
    assert scene["poses"] == [] and scene["poses_file"] is None


async def test_a_text_result_has_no_scene_and_an_unseen_job_is_not_found(
    alice: Api, bob: Api
) -> None:
    job = await alice.run("no structure here")
    reply = await alice.get(f"jobs/{job['id']}/scene")
    assert reply.status == 200 and reply.json is None
    hidden = await bob.get(f"jobs/{job['id']}/scene")
    assert hidden.status == 404, hidden.body
