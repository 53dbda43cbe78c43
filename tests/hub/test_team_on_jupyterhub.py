"""A team on a real JupyterHub: alice and bob in one team, carol outside it, one
engine service running everyone's jobs on one Dask cluster, and public pages
that outlive a stopped server."""

from __future__ import annotations

import httpx
import psutil
import pytest

import proteiniq_jupyter as piq
from proteiniq_jupyter.config import EngineConfig
from proteiniq_jupyter.hub import team_workspace_id
from proteiniq_jupyter.jobs.model import Role
from proteiniq_jupyter.store.sql_store import SqlStore

from ..engines import wait_until
from .conftest import EMAILS, Hub, job_of, needs_hub

pytestmark = [
    needs_hub,
    pytest.mark.timeout(600),
    pytest.mark.parametrize("backend", ["postgresql"], indirect=True),
]

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
    result = job_of(alice.get(f"results/{job_id}"))
    assert result["results"]["fields"]["engine_label"] == "service"  # run by the service
    assert singleuser_dask_children() == []  # the servers run nothing themselves

    # Bob sees the row in the team history, not its contents.
    history = job_of(bob.get("jobs"))
    row = next(j for j in history["data"] if j["id"] == job_id)
    assert row["name"] == "alice's probe" and "input" not in row
    assert bob.get(f"results/{job_id}").status_code == 404

    # Shared with bob's email: bob opens it.
    share = job_of(alice.put(f"jobs/{job_id}/share", json={"visibility": "invited", "invite": [EMAILS["bob"]]}))
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
