"""What a single-user server needs to know, set by the hub when it spawns one
(``c.Spawner.pre_spawn_hook = proteiniq_jupyter.hub.configure_spawner``): who the
person is, their email, the team they act in, and that jobs are left to the
engine service."""

from __future__ import annotations

import os
from typing import Any

from .teams import EMAILS_ENV, email_in_auth_state, read_json_setting, team_workspace_id

#: Teams in the order a user in several acts in them (comma-separated hub groups).
TEAMS_ENV = "PIQ_HUB_TEAMS"


async def configure_spawner(spawner: Any) -> None:
    """Set the server's ``PIQ_*`` variables from the hub: ``PIQ_USER`` (the hub
    user), ``PIQ_EMAIL`` (the administrator's list in ``PIQ_HUB_EMAILS``, else the
    authenticator's auth state), ``PIQ_WORKSPACE`` (the team of the user's first
    group, in the order ``PIQ_HUB_TEAMS`` lists teams when set) and
    ``PIQ_EXECUTOR=service``, and for a hub admin ``PIQ_ADMINS`` (they create team
    workspaces and manage their members). What ``c.Spawner.environment`` sets is
    kept."""
    user = spawner.user
    env = dict(spawner.environment or {})
    env.setdefault("PIQ_USER", user.name)
    env.setdefault("PIQ_EXECUTOR", "service")
    if getattr(user, "admin", False):
        env.setdefault("PIQ_ADMINS", user.name)
    email = read_json_setting(EMAILS_ENV).get(user.name)  # the hub's own environment
    if email is None:
        email = email_in_auth_state(await user.get_auth_state())
    if email:
        env.setdefault("PIQ_EMAIL", email)
    groups = sorted(group.name for group in user.groups)
    listed = os.environ.get(TEAMS_ENV, "")
    preferred = [t.strip() for t in listed.split(",") if t.strip()]
    ordered = [t for t in preferred if t in groups] + [g for g in groups if g not in preferred]
    if ordered:
        env.setdefault("PIQ_WORKSPACE", team_workspace_id(ordered[0]))
    spawner.environment = env
