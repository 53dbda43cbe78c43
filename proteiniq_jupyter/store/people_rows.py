"""Workspaces, their members and the invitations to jobs, in the database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select
from sqlalchemy import update as sql_update

from ..jobs.model import Invite, Member, Role, User, Workspace
from . import tables as t


def user_from_row(row: RowMapping) -> User:
    return User(
        id=row["id"], username=row["username"], email=row["email"], created_at=row["created_at"]
    )


class PeopleRows:
    """Workspaces, people and invitations: that part of ``SqlTransaction`` (see
    ``jobs.ports.StoreTransaction``)."""

    conn: Connection
    _postgres: bool

    def lock_workspace(self, workspace_id: str) -> None:
        # SQLite write transactions already hold the database's write lock.
        if self._postgres:
            self.conn.execute(
                select(t.workspaces.c.id).where(t.workspaces.c.id == workspace_id).with_for_update()
            )

    def get_workspace(self, workspace_id: str) -> Workspace | None:
        row = (
            self.conn.execute(select(t.workspaces).where(t.workspaces.c.id == workspace_id))
            .mappings()
            .first()
        )
        if row is None:
            return None
        return Workspace(
            id=row["id"], name=row["name"], plan=row["plan"], created_at=row["created_at"]
        )

    def insert_workspace(self, workspace: Workspace) -> None:
        self.conn.execute(
            insert(t.workspaces).values(
                id=workspace.id,
                name=workspace.name,
                plan=workspace.plan,
                created_at=workspace.created_at,
            )
        )

    def _one_user(self, *where: Any) -> User | None:
        row = self.conn.execute(select(t.users).where(*where)).mappings().first()
        return None if row is None else user_from_row(row)

    def get_user(self, user_id: str) -> User | None:
        return self._one_user(t.users.c.id == user_id)

    def get_user_by_username(self, username: str) -> User | None:
        return self._one_user(t.users.c.username == username)

    def get_user_by_email(self, email: str) -> User | None:
        return self._one_user(t.users.c.email == email.lower())

    def insert_user(self, user: User) -> None:
        self.conn.execute(
            insert(t.users).values(
                id=user.id,
                username=user.username,
                email=user.email.lower() if user.email else None,
                created_at=user.created_at,
            )
        )

    def set_user_email(self, user_id: str, email: str | None) -> None:
        self.conn.execute(
            sql_update(t.users)
            .where(t.users.c.id == user_id)
            .values(email=email.lower() if email else None)
        )

    def get_role(self, workspace_id: str, user_id: str) -> Role | None:
        role = self.conn.execute(
            select(t.members.c.role).where(
                t.members.c.workspace_id == workspace_id, t.members.c.user_id == user_id
            )
        ).scalar()
        return None if role is None else Role(role)

    def set_member(self, workspace_id: str, user_id: str, role: Role, at: datetime) -> None:
        updated = self.conn.execute(
            sql_update(t.members)
            .where(t.members.c.workspace_id == workspace_id, t.members.c.user_id == user_id)
            .values(role=str(role))
        )
        if updated.rowcount == 0:
            self.conn.execute(
                insert(t.members).values(
                    workspace_id=workspace_id, user_id=user_id, role=str(role), created_at=at
                )
            )

    def remove_member(self, workspace_id: str, user_id: str) -> None:
        self.conn.execute(
            delete(t.members).where(
                t.members.c.workspace_id == workspace_id, t.members.c.user_id == user_id
            )
        )

    def workspace_ids(self, prefix: str) -> list[str]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.conn.execute(
            select(t.workspaces.c.id)
            .where(t.workspaces.c.id.like(escaped + "%", escape="\\"))
            .order_by(t.workspaces.c.id)
        )
        return [row[0] for row in rows]

    def _members(self, *where: Any) -> list[Member]:
        rows = self.conn.execute(
            select(t.users, t.members.c.workspace_id, t.members.c.role)
            .join(t.members, t.members.c.user_id == t.users.c.id)
            .where(*where)
            .order_by(t.members.c.created_at, t.users.c.username)
        ).mappings()
        return [
            Member(user=user_from_row(r), workspace_id=r["workspace_id"], role=Role(r["role"]))
            for r in rows
        ]

    def list_members(self, workspace_id: str) -> list[Member]:
        return self._members(t.members.c.workspace_id == workspace_id)

    def memberships(self, user_id: str) -> list[Member]:
        return self._members(t.members.c.user_id == user_id)

    # -- sharing ------------------------------------------------------------

    def list_invites(self, job_id: str) -> list[Invite]:
        rows = self.conn.execute(
            select(t.job_invites.c.email, t.users.c.id)
            .select_from(t.job_invites.outerjoin(t.users, t.users.c.email == t.job_invites.c.email))
            .where(t.job_invites.c.job_id == job_id)
            .order_by(t.job_invites.c.email)
        ).all()
        return [Invite(email=email, user_id=user_id) for email, user_id in rows]

    def set_invites(self, job_id: str, emails: Sequence[str], at: datetime) -> None:
        self.conn.execute(delete(t.job_invites).where(t.job_invites.c.job_id == job_id))
        if emails:
            self.conn.execute(
                insert(t.job_invites),
                [{"job_id": job_id, "email": e.lower(), "created_at": at} for e in emails],
            )

    def is_invited(self, job_id: str, email: str) -> bool:
        return (
            self.conn.execute(
                select(t.job_invites.c.job_id).where(
                    t.job_invites.c.job_id == job_id, t.job_invites.c.email == email.lower()
                )
            ).first()
            is not None
        )
