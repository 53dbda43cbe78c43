"""Team workspaces: the deployment's administrators create them and manage their
members (so do a team's owners and admins), and the deployment's own teams (the
hub groups of a JupyterHub deployment) follow what it says.

Who may do what in a team:
- a deployment administrator (a user named in ``ServiceConfig.admins``) creates
  teams and manages any team's members;
- an owner or admin of the team manages its members, an admin neither making
  nor changing owners and admins;
- any other member sees who is in it and is refused changes (forbidden);
- anyone else is told there is no such workspace (not found).
A team the deployment manages changes its members there, never through these.
"""

from __future__ import annotations

from collections.abc import Mapping

from .access import Actor
from .accounts import Accounts, checked_identity, refuse_managed
from .errors import Conflict, Forbidden, NotFound, ValidationError
from .model import MANAGED_PREFIX, Member, Role, User, Workspace, new_id
from .ports import StoreTransaction
from .text import check_text

MAX_TEAM_NAME_LENGTH = 200


class Teams(Accounts):
    # -- what actors ask ----------------------------------------------------

    def workspaces(self, actor: Actor) -> list[tuple[Workspace, Role]]:
        """The workspaces the actor is a member of, with their role in each."""
        user = _signed_in(actor)
        with self.store.read() as tx:
            found = []
            for member in tx.memberships(user.id):
                workspace = tx.get_workspace(member.workspace_id)
                if workspace is not None:
                    found.append((workspace, member.role))
            return found

    def create_team(
        self,
        actor: Actor,
        name: object,
        members: Mapping[str, Role] | None = None,
        *,
        emails: Mapping[str, str] | None = None,
    ) -> Workspace:
        """A new team workspace named ``name``, with the starting grant and
        ``members`` (user name -> role; users not seen yet are signed up, with
        their email from ``emails``). Only the deployment's administrators create
        teams; they join only if listed."""
        if not self._deployment_admin(actor):
            raise Forbidden(
                "only the deployment's administrators (PIQ_ADMINS) may create team workspaces"
            )
        name = _team_name(name)
        emails = dict(emails or {})
        members = {checked_identity(u, emails.get(u)): r for u, r in (members or {}).items()}

        def create(tx: StoreTransaction) -> Workspace:
            workspace = self._new_workspace(tx, new_id("ws"), name)
            for username, role in members.items():
                user = self._user(tx, username, emails.get(username))
                tx.set_member(workspace.id, user.id, role, self.clock())
            return workspace

        return self._creating_users(create)

    def team_members(self, actor: Actor, workspace_id: str) -> list[Member]:
        with self.store.read() as tx:
            self._team_role(tx, actor, workspace_id)
            return tx.list_members(workspace_id)

    def set_team_member(
        self,
        actor: Actor,
        workspace_id: str,
        username: str,
        role: Role,
        *,
        email: str | None = None,
    ) -> Member:
        """Add ``username`` to the team with ``role``, or change their role."""
        username = checked_identity(username, email)

        def set_member(tx: StoreTransaction) -> User:
            acting_role = self._managing(tx, actor, workspace_id)
            user = self._user(tx, username, email)
            current = tx.get_role(workspace_id, user.id)
            if acting_role is Role.ADMIN and any(
                r and r.manages_workspace for r in (role, current)
            ):
                raise Forbidden("an admin cannot make or change owners and admins")
            if current is Role.OWNER and role is not Role.OWNER:
                _keep_an_owner(tx, workspace_id, user.id)
            if current is not role:
                tx.set_member(workspace_id, user.id, role, self.clock())
            return user

        user = self._creating_users(set_member)
        return Member(user=user, workspace_id=workspace_id, role=role)

    def remove_team_member(self, actor: Actor, workspace_id: str, username: str) -> None:
        """Take ``username`` out of the team; their jobs stay in its history."""
        username = checked_identity(username, None)
        with self._write() as (tx, _):
            acting_role = self._managing(tx, actor, workspace_id)
            user = tx.get_user_by_username(username)
            current = None if user is None else tx.get_role(workspace_id, user.id)
            if user is None or current is None:
                raise NotFound(
                    f"{username} is not a member of workspace {workspace_id}",
                    details={"username": username},
                )
            if acting_role is Role.ADMIN and current.manages_workspace:
                raise Forbidden("an admin cannot remove owners or admins")
            if current is Role.OWNER:
                _keep_an_owner(tx, workspace_id, user.id)
            tx.remove_member(workspace_id, user.id)

    # -- what the deployment says -------------------------------------------

    def sync_team(self, workspace_id: str, name: str, members: Mapping[str, Role]) -> Workspace:
        """Make the deployment's team ``workspace_id`` (a JupyterHub group) hold
        exactly ``members`` (user name -> role), creating the workspace, with the
        starting grant, and any user not seen yet; whoever the deployment no longer
        lists leaves it. What the deployment manages is not an actor's request:
        only the engine service calls this."""
        for username in members:
            checked_identity(username, None)

        def sync(tx: StoreTransaction) -> Workspace:
            workspace = tx.get_workspace(workspace_id) or self._new_workspace(
                tx, workspace_id, name
            )
            now = self.clock()
            kept = set()
            for username, role in members.items():
                user = self._user(tx, username, None)
                kept.add(user.id)
                if tx.get_role(workspace_id, user.id) is not role:
                    tx.set_member(workspace_id, user.id, role, now)
            for member in tx.list_members(workspace_id):
                if member.user.id not in kept:
                    tx.remove_member(workspace_id, member.user.id)
            return workspace

        return self._creating_users(sync)

    def managed_workspace_ids(self) -> list[str]:
        """The teams the deployment manages, as the store holds them."""
        with self.store.read() as tx:
            return tx.workspace_ids(MANAGED_PREFIX)

    # -- helpers --------------------------------------------------------------

    def _deployment_admin(self, actor: Actor) -> bool:
        return actor.user is not None and actor.user.username in self.config.admins

    def _team_role(self, tx: StoreTransaction, actor: Actor, workspace_id: str) -> Role | None:
        """The actor's role in the workspace (None for a deployment administrator
        outside it); NotFound for anyone else, or when there is no such workspace."""
        user = _signed_in(actor)
        role = tx.get_role(workspace_id, user.id)
        if role is None and not (
            self._deployment_admin(actor) and tx.get_workspace(workspace_id) is not None
        ):
            raise NotFound(f"no workspace {workspace_id}", details={"workspace_id": workspace_id})
        return role

    def _managing(self, tx: StoreTransaction, actor: Actor, workspace_id: str) -> Role:
        """The role the actor manages the team's members with (a deployment
        administrator as its owner); refused when they may not. Changes to one
        team's members wait for each other, so two owners stepping down at once
        cannot leave it without one."""
        tx.lock_workspace(workspace_id)
        role = self._team_role(tx, actor, workspace_id)
        if self._deployment_admin(actor):
            role = Role.OWNER
        if role is None or not role.manages_workspace:
            raise Forbidden("only a workspace owner or admin may change its members")
        refuse_managed(workspace_id)
        return role


def _signed_in(actor: Actor) -> User:
    if actor.user is None:
        raise Forbidden("sign in first")
    return actor.user


def _team_name(name: object) -> str:
    if not isinstance(name, str):
        raise ValidationError("a team's name must be text")
    name = check_text(name, "name").strip()
    if not name or len(name) > MAX_TEAM_NAME_LENGTH:
        raise ValidationError(f"a team's name must be 1 to {MAX_TEAM_NAME_LENGTH} characters")
    return name


def _keep_an_owner(tx: StoreTransaction, workspace_id: str, user_id: str) -> None:
    owners = [m for m in tx.list_members(workspace_id) if m.role is Role.OWNER]
    if [m.user.id for m in owners] == [user_id]:
        raise Conflict("a workspace keeps at least one owner: make another member owner first")
