"""People, workspaces and credits: signing in, members, the account and its
ledger."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from . import credits
from .access import Actor
from .budgets import uses as budget_uses
from .core import ServiceCore, is_email, usernames_in
from .errors import Conflict, DuplicateRecord, Forbidden, NotFound, ValidationError
from .model import BudgetUse, Member, Role, User, Workspace, is_managed, new_id
from .ports import LedgerEntry, StoreTransaction
from .status import CANCELLABLE
from .text import check_text

_T = TypeVar("_T")
#: The longest user name (the deployment's: a JupyterHub or operating-system user).
MAX_USERNAME_LENGTH = 200


@dataclass(frozen=True)
class Account:
    workspace: Workspace
    role: Role
    available_credits: int
    active_jobs: int
    max_concurrent_jobs: int | None
    #: The workspace's open budgets, with what each has used.
    budgets: tuple[BudgetUse, ...] = ()
    #: The budget a notebook gets unless it sets its own; None: none.
    notebook_budget_credits: int | None = None


class Accounts(ServiceCore):
    # -- people and workspaces ---------------------------------------------

    def sign_in(
        self, username: str, *, email: str | None = None, workspace_id: str | None = None
    ) -> Actor:
        """The actor for a deployment identity. A first sign-in creates the user and
        a personal workspace holding the starting grant."""
        username = checked_identity(username, email)

        def sign_in(tx: StoreTransaction) -> tuple[User, list[Member]]:
            user = self._user(tx, username, email)
            return user, tx.memberships(user.id)

        user, memberships = self._creating_users(sign_in)
        chosen = _choose_membership(memberships, workspace_id)
        return Actor(user=user, workspace_id=chosen.workspace_id, role=chosen.role)

    def acting(self, user: User, workspace_id: str | None) -> Actor | None:
        """Who ``user`` is now, read again (a membership or a role may have changed
        since they signed in): in ``workspace_id`` while they are a member of it,
        else where ``sign_in`` would put them; None when they belong nowhere."""
        with self.store.read() as tx:
            memberships = tx.memberships(user.id)
        if not memberships:
            return None
        try:
            chosen = _choose_membership(memberships, workspace_id)
        except NotFound:
            chosen = _choose_membership(memberships, None)
        return Actor(user=user, workspace_id=chosen.workspace_id, role=chosen.role)

    def add_member(
        self, actor: Actor, username: str, role: Role, *, email: str | None = None
    ) -> Member:
        """Add (or change the role of) a teammate, signing them up if they are new.
        Admins cannot make owners or admins."""
        workspace_id, _, actor_role = self._member(actor)
        if not actor_role.manages_workspace:
            raise Forbidden("only a workspace owner or admin may add members")
        if actor_role is Role.ADMIN and role in (Role.OWNER, Role.ADMIN):
            raise Forbidden("an admin cannot make owners or admins")
        refuse_managed(workspace_id)
        username = checked_identity(username, email)

        def add(tx: StoreTransaction) -> User:
            user = self._user(tx, username, email)
            current = tx.get_role(workspace_id, user.id)
            if actor_role is Role.ADMIN and current in (Role.OWNER, Role.ADMIN):
                raise Forbidden("an admin cannot change an owner or another admin")
            tx.set_member(workspace_id, user.id, role, self.clock())
            return user

        return Member(user=self._creating_users(add), workspace_id=workspace_id, role=role)

    def record_email(self, username: str, email: str) -> User:
        """The deployment says whose ``email`` this is (the engine service, from the
        hub's auth state or its administrator's list): invitations to it become
        the user's. Creates the user if new."""
        username = checked_identity(username, email)
        return self._creating_users(lambda tx: self._user(tx, username, email))

    def _creating_users(self, step: Callable[[StoreTransaction], _T]) -> _T:
        """Run ``step`` in a write transaction, once more if a first sign-in of the
        same user raced it: the second try finds the user the other one created."""
        try:
            with self._write() as (tx, _):
                return step(tx)
        except DuplicateRecord:
            with self._write() as (tx, _):
                return step(tx)

    def _user(self, tx: StoreTransaction, username: str, email: str | None) -> User:
        """The user with this name, created with a personal workspace holding the
        starting grant if new; a new email given is recorded."""
        if email is not None:
            holder = tx.get_user_by_email(email)
            if holder is not None and holder.username != username:
                raise Conflict(f"the email {email} belongs to another user")
        user = tx.get_user_by_username(username)
        if user is None:
            now = self.clock()
            user = User(id=new_id("usr"), username=username, email=email, created_at=now)
            tx.insert_user(user)
            workspace = self._new_workspace(tx, new_id("ws"), f"{username}'s workspace")
            tx.set_member(workspace.id, user.id, Role.OWNER, now)
        elif email is not None and (user.email or "").lower() != email.lower():
            tx.set_user_email(user.id, email)
            user = replace(user, email=email.lower())
        return user

    def _new_workspace(self, tx: StoreTransaction, workspace_id: str, name: str) -> Workspace:
        now = self.clock()
        workspace = Workspace(id=workspace_id, name=name, plan=self.config.plan, created_at=now)
        tx.insert_workspace(workspace)
        if self.config.starting_credits > 0:
            credits.grant(
                tx,
                workspace_id,
                self.config.starting_credits,
                grant_key=f"{workspace_id}:starting-grant",
                at=now,
                note="starting grant",
            )
        return workspace

    def usernames(self, actor: Actor) -> dict[str, str]:
        """User id to user name for the actor's workspace (to label submitters)."""
        workspace_id, _, _ = self._member(actor)
        with self.store.read() as tx:
            return usernames_in(tx, workspace_id)

    def members(self, actor: Actor) -> list[Member]:
        workspace_id, _, _ = self._member(actor)
        with self.store.read() as tx:
            return tx.list_members(workspace_id)

    # -- credits ------------------------------------------------------------

    def account(self, actor: Actor) -> Account:
        workspace_id, _, role = self._member(actor)
        with self.store.read() as tx:
            workspace = tx.get_workspace(workspace_id)
            assert workspace is not None
            return Account(
                workspace=workspace,
                role=role,
                available_credits=credits.available(tx, workspace_id),
                active_jobs=tx.count_jobs(workspace_id, sorted(CANCELLABLE)),
                max_concurrent_jobs=self.config.max_concurrent_jobs,
                budgets=tuple(budget_uses(tx, tx.list_budgets(workspace_id))),
                notebook_budget_credits=tx.notebook_budget_credits(workspace_id),
            )

    def grant_credits(self, actor: Actor, amount: int, *, note: str | None = None) -> int:
        """Add credits to the workspace; returns the new balance."""
        workspace_id, user_id, role = self._member(actor)
        if not role.manages_workspace:
            raise Forbidden("only a workspace owner or admin may grant credits")
        if not isinstance(amount, int) or amount <= 0:
            raise ValidationError(
                f"amount must be a positive whole number of credits, got {amount!r}"
            )
        with self._write() as (tx, _):
            tx.lock_workspace(workspace_id)
            credits.grant(
                tx,
                workspace_id,
                amount,
                grant_key=new_id("grant"),
                at=self.clock(),
                actor_id=user_id,
                note=note,
            )
            return credits.available(tx, workspace_id)

    def ledger(self, actor: Actor, *, job_id: str | None = None) -> list[LedgerEntry]:
        workspace_id, _, _ = self._member(actor)
        with self.store.read() as tx:
            return tx.ledger_entries(workspace_id, job_id=job_id)


def checked_identity(username: str, email: str | None) -> str:
    username = check_text(username, "username").strip()
    if not username or len(username) > MAX_USERNAME_LENGTH:
        raise ValidationError(f"a user name must be 1 to {MAX_USERNAME_LENGTH} characters")
    if email is not None and not is_email(email):
        raise ValidationError(f"{email!r} is not an email address")
    return username


def refuse_managed(workspace_id: str) -> None:
    """Members of a team the deployment manages change there, not here."""
    if is_managed(workspace_id):
        raise Conflict(
            "this team follows a group of the deployment (a JupyterHub group): "
            "change its members there"
        )


def _choose_membership(memberships: list[Member], workspace_id: str | None) -> Member:
    if workspace_id is None:
        owned = [m for m in memberships if m.role is Role.OWNER]
        return (owned or memberships)[0]
    for member in memberships:
        if member.workspace_id == workspace_id:
            return member
    raise NotFound(f"no workspace {workspace_id} for this user")
