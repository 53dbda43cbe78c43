"""A team on a real JupyterHub: alice and bob in one team, carol outside it, one
engine service running everyone's jobs on one Dask cluster, and public pages
that outlive a stopped server."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import psutil
import pytest

from proteiniq_jupyter.hub import team_workspace_id
from proteiniq_jupyter.links import HubLinks
from proteiniq_jupyter.store.sql_store import SqlStore

from ..client.test_kernels import execute
from ..conftest import FIXTURES
from ..engines import wait_until
from .conftest import EMAILS, EventStream, Hub, job_of, needs_hub

pytestmark = [
    needs_hub,
    pytest.mark.timeout(600),
    pytest.mark.parametrize("backend", ["postgresql"], indirect=True),
]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
#: DHFR's inhibitor docked back into its receptor (tests/data/docking, PDB 1S3V) at
#: exhaustiveness 1: seconds. The client is found as a notebook's kernel finds it.
DOCKING = f"""import proteiniq_jupyter as piq
from rdkit import Chem
ligand = Chem.MolFromMolFile("{FIXTURES}/docking/1s3v_ligand.sdf")
dock = piq.run(
    "autodock-vina",
    receptor="{FIXTURES}/docking/1s3v_protein_one_lig_removed.pdb",
    ligands=ligand,
    reference_ligand="{FIXTURES}/docking/1s3v_ligand.sdf",
    exhaustiveness=1,
    num_poses=3,
    name="alice's docking",
)
dock.wait(show=False)
# What the hub gives every kernel of the server names the same server, and its
# token is let in there: the way a kernel finds it without the extension's hints.
import os
from proteiniq_jupyter.client.discovery import discover
hints = ("PIQ_SERVER_URL", "PIQ_SERVER_TOKEN", "JPY_PARENT_PID")
hub = discover(env={{k: v for k, v in os.environ.items() if k not in hints}})
via_hub = piq.Client.connect(hub.url, hub.token)
print(hub.reason, hub.url == piq.connection().url, via_hub.credits() > 0)
print(piq.connection().url, dock.id, dock.status, sep="\\n")"""
FINAL = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "BUDGET_EXCEEDED")


def team_members(database_url: str) -> dict[str, str]:
    store = SqlStore.open(database_url)
    try:
        with store.read() as tx:
            members = tx.list_members(team_workspace_id("lab"))
        return {m.user.username: str(m.role) for m in members}
    finally:
        store.close()


def wait_for(api: httpx.Client, job_id: str) -> dict:
    def done():
        status = job_of(api.get(f"jobs/{job_id}/status"))
        return status if status["status"] in FINAL else None

    return wait_until(done, timeout=180, every=0.25)


def singleuser_dask_children() -> list[str]:
    """Dask processes under any single-user server (there must be none)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if "jupyterhub-singleuser" not in command:
            continue
        for child in process.children(recursive=True):
            try:
                if "spawn_main" in " ".join(child.cmdline()):
                    found.append(" ".join(child.cmdline()))
            except psutil.Error:
                continue
    return found


def probe(text: str) -> dict:
    return {
        "tool": "process-probe",
        "input": {
            "inputs": [{"slotId": "text", "kind": "text", "format": "text", "content": text}]
        },
    }


def test_a_team_on_jupyterhub(hub: Hub) -> None:
    tokens = hub.tokens()
    for name in EMAILS:
        hub.start_server(name)
    # The service made the hub group a team, with the hub's people in it.
    wait_until(lambda: team_members(hub.database_url) == {"alice": "member", "bob": "member"}, 60)
    alice, bob, carol = (hub.user_api(n, tokens[n]) for n in ("alice", "bob", "carol"))
    # Carol, a hub admin, creates a named team from her own server; bob may not.
    named = {"name": "Structure lab", "members": [{"username": "bob", "role": "owner"}]}
    team = job_of(carol.post("workspaces", json=named))
    assert team["object"] == "workspace" and team["managed"] is False, team
    refused = bob.post("workspaces", json=named)
    assert refused.status_code == 403 and "administrators" in refused.json()["error"]["message"]
    assert team["id"] in {w["id"] for w in job_of(bob.get("workspaces"))["data"]}

    # Alice docks from a notebook: a kernel of her own server, whose client finds
    # that server (the hub's variables name it too). Bob follows the team's live
    # events on his own server meanwhile, fed by the shared store.
    events = f"{hub.url}/user/bob/proteiniq/api/v1/events"
    with EventStream(events, tokens["bob"]) as stream:
        with hub.kernel("alice", tokens["alice"]) as kernel:
            out = execute(kernel, DOCKING, timeout=300)
        hub_found, url, job_id, status = out.strip().splitlines()[-4:]
        assert hub_found == "JupyterHub's JUPYTERHUB_SERVICE_URL True True", out
        assert url.endswith("/user/alice/") and status == "COMPLETED", out
        # Bob's stream carried the job's end, pushed to it: no request asked for it.
        stream.arrival(job_id, "COMPLETED")
        docked = job_of(alice.get(f"results/{job_id}"))
        assert docked["tool"] == "autodock-vina" and docked["files"], docked
        assert 1 <= len(docked["results"]["rows"]) <= 3, docked
        # One Dask cluster, the service's, serves all three; the servers run nothing.
        others = [
            job_of(api.post("jobs", json=probe(name)))
            for name, api in (("alice", alice), ("bob", bob), ("carol", carol))
        ]
        for api, job in zip((alice, bob, carol), others, strict=True):
            assert wait_for(api, job["id"])["status"] == "COMPLETED"
            result = job_of(api.get(f"results/{job['id']}"))
            assert result["results"]["fields"]["engine_label"] == "service"
        for job in others[:2]:  # carol's is not the team's
            stream.arrival(job["id"], "COMPLETED")
    for what, ids in (
        ("alice's docking", [job_id]),
        ("the team's probes", [j["id"] for j in others[:2]]),
    ):
        latencies = [s for i in ids for s in stream.latencies(i)]
        print(f"{what}: {len(latencies)} events on bob's stream, commit to arrival (ms):")
        print(" ".join(f"{1000 * s:.1f}" for s in latencies))
    assert singleuser_dask_children() == []

    # Bob sees the row in the team history, not its contents.
    history = job_of(bob.get("jobs"))
    row = next(j for j in history["data"] if j["id"] == job_id)
    assert row["name"] == "alice's docking" and "input" not in row
    assert bob.get(f"results/{job_id}").status_code == 404

    # Shared with bob's email: bob opens it.
    share = job_of(
        alice.put(f"jobs/{job_id}/share", json={"visibility": "invited", "invite": [EMAILS["bob"]]})
    )
    assert [i["status"] for i in share["invites"]] == ["active"]
    assert bob.get(f"results/{job_id}").status_code == 200

    # Any hub user: carol, outside the team, opens it; nobody anonymous does.
    job_of(alice.put(f"jobs/{job_id}/share", json={"visibility": "logged_in"}))
    assert carol.get(f"results/{job_id}").status_code == 200
    service_page = f"{hub.url}/services/proteiniq/public/jobs/{job_id}"
    assert httpx.get(service_page, params={"format": "json"}).status_code == 404
    assert httpx.get(f"{hub.url}/user/alice/proteiniq/api/v1/jobs/{job_id}").status_code in (
        401,
        403,
    )

    # Public: the link leads to the service, which shows it with alice's server stopped.
    share = job_of(alice.put(f"jobs/{job_id}/share", json={"visibility": "public"}))
    assert share["public_url"] == service_page
    hub.stop_server("alice")
    page = httpx.get(service_page, params={"format": "json"})
    assert page.status_code == 200, page.text
    assert page.json()["id"] == job_id
    in_browser(hub, job_id, service_page)

    # Taken out of the hub group, bob leaves the team at his next request.
    left = hub.api.request("DELETE", "groups/lab/users", json={"users": ["bob"]})
    assert left.status_code == 200, left.text
    wait_until(lambda: team_members(hub.database_url) == {"alice": "member"}, 60)
    account = job_of(bob.get("account"))
    assert account["workspace"]["id"] != team_workspace_id("lab") and account["role"] == "owner"
    assert job_id not in [j["id"] for j in job_of(bob.get("jobs"))["data"]]


def in_browser(hub: Hub, job_id: str, service_page: str) -> None:
    """An anonymous visitor opens the public page; bob, signed in to the hub, opens
    the link that leads into his own JupyterLab."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--enable-unsafe-swiftshader", "--use-angle=swiftshader"],
        )
        try:
            anonymous = browser.new_context(viewport={"width": 1100, "height": 800})
            anonymous.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if route.request.url.startswith("http://127.0.0.1")
                    else route.abort()
                ),
            )
            page = anonymous.new_page()
            response = page.goto(service_page)
            assert response is not None and response.status == 200
            assert "alice&#x27;s docking" in page.content() or "alice's docking" in page.content()
            assert "/hub/login" not in page.url
            page.screenshot(path=str(ARTIFACTS / "hub-public-page.png"), full_page=True)

            signed_in = browser.new_context(viewport={"width": 1300, "height": 850})
            page = signed_in.new_page()
            page.goto(f"{hub.url}/hub/login")
            page.fill("input#username_input", "bob")
            page.fill("input#password_input", "any")
            page.click("#login_submit")
            page.wait_for_url("**/user/bob/**", timeout=120_000)
            link = HubLinks(hub.url, "/").lab(job_id)
            page.goto(link)
            page.wait_for_url(f"**/user/bob/lab?jobId={job_id}", timeout=120_000)
            # What JupyterLab's own requests do: the _xsrf cookie's value in a
            # header. Without it the hub's single-user server finds nobody, and the
            # answer says what is missing.
            seen = page.evaluate(
                """async (id) => {
                    const xsrf = document.cookie.split('; ').find(c => c.startsWith('_xsrf='));
                    const headers = {'X-XSRFToken': xsrf ? xsrf.slice(6) : ''};
                    const url = `proteiniq/api/v1/jobs/${id}`;
                    const without = await fetch(url);
                    const withToken = await fetch(url, {headers});
                    return [without.status, await without.json(), withToken.status];
                }""",
                job_id,
            )
            assert seen[0] == 403 and "XSRF" in seen[1]["error"]["message"], seen
            assert "sign in" not in seen[1]["error"]["message"]
            assert seen[2] == 200  # bob's own server shows him the job shared with him
            page.wait_for_selector("#jp-main-dock-panel", timeout=120_000)
            page.wait_for_timeout(2000)
            page.screenshot(path=str(ARTIFACTS / "hub-bob-lab.png"))
        finally:
            browser.close()
