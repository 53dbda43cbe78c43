"""Team workspaces over HTTP: an administrator of the deployment creates one, its
owner manages its members, a plain member gets a 403 envelope, a stranger a 404,
bad bodies a 400; and a member taken out acts in their own workspace from their
very next request."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from proteiniq_jupyter.jobs.service import JobService
from proteiniq_jupyter.server.identity import FRESH_S
from proteiniq_jupyter.store.sql_store import DirectoryJobFiles, SqlStore
from proteiniq_jupyter.tools.registry import ToolRegistry

from .conftest import Api, PiqServer


@pytest.mark.piq(admins=["olga"])
async def test_teams_and_their_members_over_http(piq: PiqServer, alice: Api, bob: Api) -> None:
    olga, petra = piq.api("olga"), piq.api("petra")
    created = await olga.post(
        "workspaces",
        {"name": "Structure lab", "members": [{"username": "bob", "role": "owner"}]},
    )
    assert created.status == 201, created.body
    team = created.json
    assert team["object"] == "workspace" and team["name"] == "Structure lab"
    assert team["role"] is None and team["managed"] is False
    members = f"workspaces/{team['id']}/members"

    added = await bob.put(f"{members}/alice", {"role": "member", "email": "alice@lab.example"})
    assert added.status == 200, added.body
    assert added.json == {
        "object": "member",
        "workspace_id": team["id"],
        "username": "alice",
        "email": "alice@lab.example",
        "role": "member",
    }
    listed = await alice.get(members)
    assert [(m["username"], m["role"]) for m in listed.json["data"]] == [
        ("bob", "owner"),
        ("alice", "member"),
    ]
    mine = await alice.get("workspaces")
    assert team["id"] in {w["id"] for w in mine.json["data"]}

    # A plain member is refused, a stranger told there is no such team.
    refused = await alice.put(f"{members}/petra", {"role": "viewer"})
    assert refused.status == 403 and "owner or admin" in refused.error["message"]
    assert (await alice.delete(f"{members}/bob")).status == 403
    unseen = await petra.get(members)
    assert unseen.status == 404 and unseen.error["code"] == "not_found"
    assert (await petra.put(f"{members}/petra", {"role": "owner"})).status == 404
    assert (await alice.post("workspaces", {"name": "mine"})).status == 403

    # Bad input: a 400 naming the problem, and nothing made.
    for body, words in (
        ({"role": "boss"}, "role must be one of owner, admin, member, viewer"),
        ({}, "role is required"),
        ({"role": "member", "email": "no"}, "email"),
    ):
        reply = await bob.put(f"{members}/petra", body)
        assert reply.status == 400 and words in reply.error["message"], reply.body
    for body, words in (({"name": ""}, "1 to 200"), ({"name": 3}, "text"), ({}, "name")):
        reply = await olga.post("workspaces", body)
        assert reply.status == 400 and words in reply.error["message"], reply.body
    assert len((await bob.get(members)).json["data"]) == 2

    removed = await bob.delete(f"{members}/alice")
    assert removed.status == 200 and removed.json["removed"] is True
    assert (await alice.get(members)).status == 404


async def test_a_member_taken_out_acts_in_their_own_workspace_at_the_next_request(
    piq: PiqServer, alice: Api, tim: Api
) -> None:
    """Tim acts in the server's configured workspace (alice's) while he is in it."""
    workspace = piq.team.workspace_id
    assert (await tim.get("account")).json["workspace"]["id"] == workspace
    assert (await alice.delete(f"workspaces/{workspace}/members/tim")).status == 200
    account = (await tim.get("account")).json
    assert account["workspace"]["id"] != workspace and account["role"] == "owner"
    assert (await tim.get(f"workspaces/{workspace}/members")).status == 404


async def test_a_member_taken_out_elsewhere_is_out_within_the_freshness_window(
    piq: PiqServer, tim: Api, database_url: str, piq_data_dir: Path
) -> None:
    """Taken out by another process on the same store (``piq teams remove``, the
    hub's sync), Tim acts in his own workspace once his memberships are read again:
    within ``FRESH_S`` of his last request, not at some later sign-in."""
    workspace = piq.team.workspace_id
    assert (await tim.get("account")).json["workspace"]["id"] == workspace
    store = SqlStore.open(database_url)
    try:
        service = JobService(store, ToolRegistry(), DirectoryJobFiles(piq_data_dir / "jobs"))
        alice = service.sign_in("alice")
        await asyncio.to_thread(service.remove_team_member, alice, workspace, "tim")
    finally:
        store.close()
    await asyncio.sleep(FRESH_S)
    account = (await tim.get("account")).json
    assert account["workspace"]["id"] != workspace and account["role"] == "owner"
