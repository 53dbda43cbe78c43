"""Team workspaces: the deployment's administrators create them with ``piq`` (and
the service), their owners and admins manage members, a plain member is refused
and a stranger is told there is no such team; the hub's groups decide the
members of the teams it manages, and a user taken out of a group leaves its team."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proteiniq_jupyter.hub import team_workspace_id
from proteiniq_jupyter.hub.teams import HubUser, sync
from proteiniq_jupyter.jobs.core import ServiceConfig
from proteiniq_jupyter.jobs.errors import Conflict, Forbidden, NotFound, ValidationError
from proteiniq_jupyter.jobs.model import Role
from proteiniq_jupyter.jobs.service import JobService

from .conftest import text_input
from .test_cli import environment, invoker, one_error_line


def test_an_administrator_makes_a_team_with_piq_and_its_owner_manages_it(
    database_url: str, tmp_path: Path
) -> None:
    def piq_as(user: str):  # type: ignore[no-untyped-def]
        env = environment(database_url, tmp_path)
        return invoker({**env, "PIQ_USER": user, "PIQ_EMAIL": None, "PIQ_ADMINS": "root"})

    root, alice, bob, dave = (piq_as(u) for u in ("root", "alice", "bob", "dave"))
    assert json.loads(root("config", "--json").stdout)["admins"] == ["root"]
    team = root("teams", "create", "Structure lab", "--member", "alice:owner", "--member", "bob")
    team_id = team.stdout.strip()
    assert team_id.startswith("ws_")
    listed = root("teams", "members", team_id).stdout
    assert "alice" in listed and "owner" in listed and "bob" in listed
    assert "root" not in listed  # the administrator joins only if listed

    # Its owner adds a viewer; a plain member is refused; a stranger finds no team.
    assert alice("teams", "add", team_id, "carol", "--role", "viewer").stdout.strip() == (
        "carol: viewer"
    )
    refused = bob("teams", "add", team_id, "erin", code=1)
    assert "only a workspace owner or admin" in one_error_line(refused)
    assert f"no workspace {team_id}" in one_error_line(dave("teams", "members", team_id, code=1))
    assert "administrators" in one_error_line(bob("teams", "create", "Mine", code=1))
    assert "1 to 200 characters" in one_error_line(root("teams", "create", " ", code=1))
    assert "--member" in root("teams", "create", "X", "--member", "bob:boss", code=2).stderr

    # Bob acts in it when it is his configured workspace, until he is taken out.
    assert "Structure lab" in bob("teams").stdout
    assert alice("teams", "remove", team_id, "bob").stdout.strip() == "bob removed"
    assert "Structure lab" not in bob("teams").stdout
    members = root("teams", "members", team_id, "--json").stdout
    assert '"bob"' not in members and '"carol"' in members


def admin_service(service: JobService) -> JobService:
    service.config = ServiceConfig(admins=("root",))
    return service


def test_roles_bound_what_a_team_manager_may_do(service: JobService) -> None:
    service = admin_service(service)
    root = service.sign_in("root")
    team = service.create_team(root, "Lab", {"alice": Role.OWNER, "ada": Role.ADMIN})
    alice = service.sign_in("alice", workspace_id=team.id)
    ada = service.sign_in("ada", workspace_id=team.id)
    service.set_team_member(ada, team.id, "bob", Role.MEMBER)
    for role in (Role.ADMIN, Role.OWNER):
        with pytest.raises(Forbidden, match="an admin cannot"):
            service.set_team_member(ada, team.id, "bob", role)
    with pytest.raises(Forbidden, match="an admin cannot"):
        service.remove_team_member(ada, team.id, "alice")
    # The last owner stays; with a second owner the first may step down.
    with pytest.raises(Conflict, match="at least one owner"):
        service.remove_team_member(alice, team.id, "alice")
    with pytest.raises(Conflict, match="at least one owner"):
        service.set_team_member(alice, team.id, "alice", Role.MEMBER)
    service.set_team_member(root, team.id, "ada", Role.OWNER)
    service.set_team_member(alice, team.id, "alice", Role.MEMBER)
    assert {m.user.username: m.role for m in service.team_members(root, team.id)} == {
        "alice": Role.MEMBER,
        "ada": Role.OWNER,
        "bob": Role.MEMBER,
    }
    with pytest.raises(NotFound, match="not a member"):
        service.remove_team_member(root, team.id, "nobody")
    with pytest.raises(ValidationError, match="text"):
        service.create_team(root, 42)


def test_a_team_the_hub_manages_changes_its_members_on_the_hub(service: JobService) -> None:
    service = admin_service(service)
    sync(service, [HubUser("alice", ("lab",)), HubUser("bob", ("lab",))], emails={}, roles={})
    root = service.sign_in("root")
    with pytest.raises(Conflict, match="JupyterHub group"):
        service.set_team_member(root, team_workspace_id("lab"), "carol", Role.MEMBER)
    with pytest.raises(Conflict, match="JupyterHub group"):
        service.remove_team_member(root, team_workspace_id("lab"), "bob")
    service.sync_team(team_workspace_id("lab"), "lab", {"alice": Role.OWNER})
    owner = service.sign_in("alice", workspace_id=team_workspace_id("lab"))
    with pytest.raises(Conflict, match="JupyterHub group"):  # piq members add
        service.add_member(owner, "carol", Role.MEMBER)


def test_leaving_a_hub_group_ends_the_membership_at_the_next_request(
    service: JobService,
) -> None:
    """Users as the hub's REST API describes them (GET /hub/api/users): bob leaves
    the group that makes him an admin of ``lab``, then ``lab`` itself, and the
    hub deletes the group ``old`` outright."""

    def hub(bob_groups: list[str], *, old: bool = True) -> list[HubUser]:
        models = [
            {"kind": "user", "name": "alice", "admin": False, "groups": ["lab"] + ["old"] * old},
            {"kind": "user", "name": "bob", "admin": False, "groups": bob_groups},
        ]
        return [HubUser.from_model(model) for model in models]

    roles = {"lab-admins": ("lab", Role.ADMIN)}
    lab = team_workspace_id("lab")
    sync(service, hub(["lab", "lab-admins", "old"]), emails={}, roles=roles)
    bob = service.sign_in("bob", workspace_id=lab)
    assert bob.role is Role.ADMIN
    alice = service.sign_in("alice", workspace_id=lab)
    job = service.submit(alice, "echo", [text_input("the team's")])
    assert [v.job.id for v in service.list_jobs(bob).items] == [job.id]

    sync(service, hub(["lab", "old"]), emails={}, roles=roles)
    assert bob.user is not None
    again = service.acting(bob.user, lab)
    assert again is not None and again.workspace_id == lab and again.role is Role.MEMBER

    sync(service, hub([], old=False), emails={}, roles=roles)
    outside = service.acting(bob.user, lab)
    assert outside is not None and outside.workspace_id != lab and outside.role is Role.OWNER
    assert service.list_jobs(outside).items == []
    assert service.team_members(alice, lab)[0].user.username == "alice"
    assert len(service.team_members(alice, lab)) == 1
    with pytest.raises(NotFound):
        service.team_members(outside, team_workspace_id("old"))
    with service.store.read() as tx:  # the deleted group's team keeps no one
        assert tx.list_members(team_workspace_id("old")) == []
