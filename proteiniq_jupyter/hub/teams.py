"""Who is who on the hub, in the job system's terms: every hub user is a user, with
the email the authenticator's auth state gives (or the administrator's list), and
every hub group is a team workspace whose members are the group's users. A
configured mapping can give a group's users another role in a team (members of
``lab-admins`` are admins of ``lab``)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..jobs.core import is_email
from ..jobs.model import MANAGED_PREFIX, Role
from ..jobs.service import JobService

log = logging.getLogger(__name__)

#: JSON ``{"hub user": "email"}``, or the path of a file holding it.
EMAILS_ENV = "PIQ_HUB_EMAILS"
#: JSON ``{"hub group": "team group:role"}``: the group's users get that role in
#: that team (``{"lab-admins": "lab:admin"}``).
GROUP_ROLES_ENV = "PIQ_HUB_GROUP_ROLES"


def team_workspace_id(group: str) -> str:
    """The workspace of the hub group ``group``: the same on every server and in
    the service, so a single-user server can be told which team it acts in."""
    return MANAGED_PREFIX + hashlib.sha256(group.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class HubUser:
    name: str
    groups: tuple[str, ...] = ()
    admin: bool = False
    email: str | None = None

    @classmethod
    def from_model(cls, model: Mapping[str, Any]) -> HubUser:
        """A user as the hub's REST API describes it (``auth_state`` included
        where the service may read it)."""
        return cls(
            name=str(model["name"]),
            groups=tuple(str(g) for g in model.get("groups") or ()),
            admin=bool(model.get("admin")),
            email=email_in_auth_state(model.get("auth_state")),
        )


def email_in_auth_state(auth_state: Any) -> str | None:
    """The email an authenticator keeps in its auth state: ``email`` at the top,
    or in the identity provider's user record (``oauth_user``, ``user``)."""
    if not isinstance(auth_state, Mapping):
        return None
    for holder in (auth_state, auth_state.get("oauth_user"), auth_state.get("user")):
        if isinstance(holder, Mapping):
            email = holder.get("email")
            if isinstance(email, str) and is_email(email):
                return email
    return None


def read_json_setting(name: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A JSON object of strings from variable ``name``: inline, or in a file the
    variable names."""
    env = os.environ if env is None else env
    text = (env.get(name) or "").strip()
    if not text:
        return {}
    if not text.startswith("{"):
        text = Path(text).read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ValueError(f"{name} must be a JSON object of strings")
    return data


def group_roles(mapping: Mapping[str, str]) -> dict[str, tuple[str, Role]]:
    """``{"lab-admins": "lab:admin"}`` -> ``{"lab-admins": ("lab", Role.ADMIN)}``."""
    roles = {}
    for group, target in mapping.items():
        team, _, role = target.rpartition(":")
        try:
            roles[group] = (team or group, Role(role))
        except ValueError:
            raise ValueError(
                f"{GROUP_ROLES_ENV}: {group!r} must map to 'team:role' with a role of "
                f"{', '.join(r.value for r in Role)}, got {target!r}"
            ) from None
    return roles


def teams(
    users: Iterable[HubUser], roles: Mapping[str, tuple[str, Role]]
) -> dict[str, dict[str, Role]]:
    """Each team (hub group) and its members' roles. A group named in ``roles``
    gives its users that role in its team; any other group is a team of its own
    whose users are members (hub admins among them, admins). A user in several
    groups of one team gets the highest role."""
    rank = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}
    found: dict[str, dict[str, Role]] = {}
    for user in users:
        for group in user.groups:
            team, role = roles.get(group, (group, Role.ADMIN if user.admin else Role.MEMBER))
            members = found.setdefault(team, {})
            if user.name not in members or rank[role] > rank[members[user.name]]:
                members[user.name] = role
    return found


def sync(
    service: JobService,
    users: Iterable[HubUser],
    *,
    emails: Mapping[str, str],
    roles: Mapping[str, tuple[str, Role]],
) -> dict[str, dict[str, Role]]:
    """Bring the store in line with the hub: each user's email (the administrator's
    list first, then the auth state), and each team's workspace and members (a
    user no longer in a team's groups leaves it; a team whose groups are gone or
    empty keeps no members). Returns the teams."""
    users = list(users)
    for user in users:
        email = emails.get(user.name) or user.email
        if email:
            try:
                service.record_email(user.name, email)
            except Exception as exc:  # one user's bad record must not stop the rest
                log.warning("the email of hub user %s was not recorded: %s", user.name, exc)
    found = teams(users, roles)
    synced = set()
    for team, members in found.items():
        synced.add(service.sync_team(team_workspace_id(team), team, members).id)
    for workspace_id in service.managed_workspace_ids():
        if workspace_id not in synced:
            service.sync_team(workspace_id, workspace_id, {})
    return found
