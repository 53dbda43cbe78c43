"""Public job pages, as a visitor without a Jupyter login sees them: in a real
browser (Debian's chromium), the structure drawn by the bundled viewer, with no
request leaving the server; and 404 for anything not public."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from .conftest import Api

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
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


@pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
    reason="chromium is not installed (make test installs it)",
)
async def test_the_structure_renders_in_a_browser(alice: Api, fixtures_dir, jp_http_port, tmp_path):
    from playwright.async_api import async_playwright

    job = await public_structure_job(alice, fixtures_dir)
    url = f"http://127.0.0.1:{jp_http_port}{job['public_url']}"
    outside: list[str] = []
    errors: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 900})
            page.on(
                "request",
                lambda r: (
                    outside.append(r.url)
                    if urlsplit(r.url).hostname not in ("127.0.0.1", None)
                    else None
                ),
            )
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(url)
            await page.wait_for_selector("#viewer[data-rendered]", timeout=30_000)
            atoms = await page.get_attribute("#viewer", "data-rendered")
            canvas = await page.query_selector("#viewer canvas")
            box = await canvas.bounding_box() if canvas else None
            await page.screenshot(path=str(tmp_path / "public-page.png"))
            title = await page.title()
        finally:
            await browser.close()
    assert atoms == "1069"  # every atom of the model is in the drawing
    assert box is not None and box["width"] > 500 and box["height"] > 300
    assert title.startswith("Model 1 <public>")
    assert errors == []
    assert outside == []  # the viewer is bundled: nothing is fetched from the internet
