"""Who may see a job's row, who may see its contents, and who may change it.

A row is what a history page shows (name, tool, status, duration, submitter).
Contents are inputs, settings, results and files. Changing is renaming, deleting,
re-running, cancelling and sharing. Anyone who may not see a job is told it does
not exist, never that it is forbidden.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Job, Role, User, Visibility


@dataclass(frozen=True)
class Actor:
    """Someone making a request: a signed-in user acting in one workspace, or an
    anonymous visitor (``user is None``) following a public link."""

    user: User | None
    workspace_id: str | None
    role: Role | None

    @classmethod
    def anonymous(cls) -> Actor:
        return cls(user=None, workspace_id=None, role=None)

    @property
    def signed_in(self) -> bool:
        return self.user is not None

    @property
    def user_id(self) -> str | None:
        return self.user.id if self.user else None

    @property
    def email(self) -> str | None:
        return self.user.email.lower() if self.user and self.user.email else None

    def is_member_of(self, workspace_id: str) -> bool:
        return self.signed_in and self.role is not None and self.workspace_id == workspace_id


@dataclass(frozen=True)
class Permissions:
    see_row: bool
    see_contents: bool
    change: bool


def permissions(actor: Actor, job: Job, *, invited: bool) -> Permissions:
    """The whole rule in one place. ``invited`` says whether the actor's email is on
    the job's invite list (the caller looks it up only when it matters)."""
    is_submitter = actor.user_id is not None and actor.user_id == job.submitter_id
    teammate = actor.is_member_of(job.workspace_id)
    if job.visibility is Visibility.PUBLIC:
        shared = True
    elif job.visibility is Visibility.LOGGED_IN:
        shared = actor.signed_in
    elif job.visibility is Visibility.INVITED:
        shared = actor.signed_in and invited
    else:
        shared = False
    see_contents = is_submitter or shared
    manages = teammate and actor.role is not None and actor.role.manages_workspace
    return Permissions(
        see_row=is_submitter or teammate or see_contents,
        see_contents=see_contents,
        change=is_submitter or manages,
    )


def needs_invite_lookup(actor: Actor, job: Job) -> bool:
    return job.visibility is Visibility.INVITED and actor.email is not None
