"""A team on a real JupyterHub: alice and bob in one team, carol outside it, one
engine service running everyone's jobs on one Dask cluster, and public pages
that outlive a stopped server."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import psutil
import pytest

import proteiniq_jupyter as piq
from proteiniq_jupyter.hub import team_workspace_id
from proteiniq_jupyter.links import HubLinks
from proteiniq_jupyter.store.sql_store import SqlStore

from ..engines import wait_until
from .conftest import EMAILS, Hub, job_of, needs_hub

pytestmark = [
    needs_hub,
    pytest.mark.timeout(600),
    pytest.mark.parametrize("backend", ["postgresql"], indirect=True),
]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
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

    # Alice submits from her kernel's client, through her own server.
    client = piq.Client.connect(f"{hub.url}/user/alice/", tokens["alice"])
    try:
        job = client.run("process-probe", "from alice's notebook", name="alice's probe")
        job_id = job.id
    finally:
        client.close()
    finished = wait_for(alice, job_id)
    assert finished["status"] == "COMPLETED", finished
    # One Dask cluster, the service's, serves all three; the servers run nothing.
    others = [
        job_of(api.post("jobs", json=probe(name))) for name, api in (("bob", bob), ("carol", carol))
    ]
    for api, job_id_ in ((alice, job_id), (bob, others[0]["id"]), (carol, others[1]["id"])):
        assert wait_for(api, job_id_)["status"] == "COMPLETED"
        result = job_of(api.get(f"results/{job_id_}"))
        assert result["results"]["fields"]["engine_label"] == "service"
    assert singleuser_dask_children() == []

    # Bob sees the row in the team history, not its contents.
    history = job_of(bob.get("jobs"))
    row = next(j for j in history["data"] if j["id"] == job_id)
    assert row["name"] == "alice's probe" and "input" not in row
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
            assert "alice's probe" in page.content()
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
