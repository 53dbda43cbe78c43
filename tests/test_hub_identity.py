"""Identity and links on JupyterHub: teams from hub groups, emails from auth state
or the administrator's list, links through the hub, on both databases. (What a
spawned server is told is checked on a real hub, in tests/hub.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from proteiniq_jupyter.hub import configure_spawner, team_workspace_id
from proteiniq_jupyter.hub.teams import HubUser, group_roles, sync, teams
from proteiniq_jupyter.jobs.model import Role, Visibility
from proteiniq_jupyter.links import HubLinks

from .conftest import text_input

REPO = Path(__file__).resolve().parents[1]


def test_links_under_the_hub_lead_through_it() -> None:
    env = {"JUPYTERHUB_BASE_URL": "/", "PIQ_HUB_URL": "https://hub.example.org/"}
    links = HubLinks.from_env(env)
    assert links is not None
    assert links.lab("job_1") == "https://hub.example.org/hub/user-redirect/lab?jobId=job_1"
    assert links.public("job_1") == "https://hub.example.org/services/proteiniq/public/jobs/job_1"
    prefixed = HubLinks.from_env(
        {"JUPYTERHUB_BASE_URL": "/team/", "PIQ_HUB_URL": "https://h.org/team"}
    )
    assert prefixed is not None
    assert prefixed.lab("j") == "https://h.org/team/hub/user-redirect/lab?jobId=j"
    assert HubLinks.from_env({"PIQ_HUB_URL": "https://h.org"}) is None  # not under a hub


def test_hub_groups_make_teams_with_roles() -> None:
    users = [
        HubUser("alice", ("lab",)),
        HubUser("bob", ("lab", "lab-admins")),
        HubUser("root", ("lab",), admin=True),
        HubUser("carol"),
    ]
    found = teams(users, group_roles({"lab-admins": "lab:admin"}))
    assert found == {"lab": {"alice": Role.MEMBER, "bob": Role.ADMIN, "root": Role.ADMIN}}
    with pytest.raises(ValueError, match="got 'lab:boss'"):
        group_roles({"lab-admins": "lab:boss"})


def test_emails_come_from_auth_state() -> None:
    assert HubUser.from_model({"name": "a", "auth_state": {"email": "a@x.org"}}).email == "a@x.org"
    nested = {"name": "b", "auth_state": {"oauth_user": {"email": "b@x.org"}}}
    assert HubUser.from_model(nested).email == "b@x.org"
    assert HubUser.from_model({"name": "c", "auth_state": {"email": "not an email"}}).email is None


def test_the_sync_makes_invitations_reach_hub_users(service) -> None:
    """Alice invites bob's email before bob ever signed in: once the service has
    read the hub, bob is a teammate, and the invitation is his."""
    alice = service.sign_in("alice")
    job = service.submit(alice, "echo", [text_input("hi")])
    service.share(alice, job.id, Visibility.INVITED, invite=["bob@lab.example"])
    hub = [HubUser("alice", ("lab",)), HubUser("bob", ("lab",), email="bob@lab.example")]
    sync(service, hub, emails={"alice": "alice@lab.example"}, roles={})
    bob = service.sign_in("bob", workspace_id=team_workspace_id("lab"))
    assert bob.role is Role.MEMBER
    assert service.get(bob, job.id).permissions.see_contents
    members = {m.user.username: m.user.email for m in service.members(bob)}
    assert members == {"alice": "alice@lab.example", "bob": "bob@lab.example"}
    sync(service, hub, emails={}, roles={})  # again: nothing changes, nothing fails
    assert len(service.members(bob)) == 2


def test_the_example_hub_configuration_loads() -> None:
    """deploy/jupyterhub_config.py, as JupyterHub loads it: the engine service and
    its role, the single-user servers' settings and the spawn hook."""
    from traitlets.config import Config

    config = Config()
    path = REPO / "deploy" / "jupyterhub_config.py"
    exec(compile(path.read_text(), str(path), "exec"), {"get_config": lambda: config})
    [service] = config.JupyterHub.services
    assert service["name"] == "proteiniq"
    assert service["command"][-2:] == ["-m", "proteiniq_jupyter.hub_service"]
    [role] = config.JupyterHub.load_roles
    assert role["services"] == ["proteiniq"] and "read:groups" in role["scopes"]
    assert config.Spawner.environment["PIQ_EXECUTOR"] == "service"
    assert config.Spawner.pre_spawn_hook is configure_spawner
