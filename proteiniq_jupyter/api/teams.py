"""Workspaces and their members: the workspaces a person belongs to, a team as
the deployment's administrators create it, and the bodies that create one and
set a member's role."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from ..jobs import model as domain
from ..jobs.model import Role
from .base import Request, Resource, Text, Timestamp
from .requests import Body, Email

RoleName = Annotated[Any, WithJsonSchema({"type": "string", "enum": [role.value for role in Role]})]


def _role(value: object) -> Role:
    if isinstance(value, str) and value in Role.__members__.values():
        return Role(value)
    raise PydanticCustomError(
        "role",
        "must be one of {roles}, not {value}",
        {"roles": ", ".join(r.value for r in Role), "value": repr(value)},
    )


class Workspace(Resource):
    object: Literal["workspace"]
    id: str
    name: str
    plan: str
    role: Role | None = Field(
        description="the caller's role in it; null for a deployment administrator outside it"
    )
    managed: bool = Field(
        description="its members follow a group of the deployment (a JupyterHub group)"
    )
    created_at: Timestamp

    @classmethod
    def of(cls, workspace: domain.Workspace, role: Role | None) -> Workspace:
        return cls.model_construct(
            object="workspace",
            id=workspace.id,
            name=workspace.name,
            plan=workspace.plan,
            role=role,
            managed=workspace.managed,
            created_at=workspace.created_at,
        )


class WorkspaceList(Resource):
    object: Literal["list"]
    data: list[Workspace]
    has_more: Literal[False]
    next_cursor: None

    @classmethod
    def of(cls, workspaces: Iterable[tuple[domain.Workspace, Role]]) -> WorkspaceList:
        data = [Workspace.of(workspace, role) for workspace, role in workspaces]
        return cls.model_construct(object="list", data=data, has_more=False, next_cursor=None)


class Member(Resource):
    object: Literal["member"]
    workspace_id: str
    username: str
    email: str | None
    role: Role

    @classmethod
    def of(cls, member: domain.Member) -> Member:
        return cls.model_construct(
            object="member",
            workspace_id=member.workspace_id,
            username=member.user.username,
            email=member.user.email,
            role=member.role,
        )


class RemovedMember(Resource):
    """What is left of a membership once removed."""

    object: Literal["member"]
    workspace_id: str
    username: str
    removed: Literal[True]

    @classmethod
    def of(cls, workspace_id: str, username: str) -> RemovedMember:
        return cls.model_construct(
            object="member", workspace_id=workspace_id, username=username, removed=True
        )


class MemberList(Resource):
    object: Literal["list"]
    data: list[Member]
    has_more: Literal[False]
    next_cursor: None

    @classmethod
    def of(cls, members: Iterable[domain.Member]) -> MemberList:
        data = [Member.of(member) for member in members]
        return cls.model_construct(object="list", data=data, has_more=False, next_cursor=None)


class MemberRole(Request):
    """A person and the role they get."""

    username: Text = Field(description="their user name on the deployment (the hub user)")
    role: RoleName
    email: Email | None = Field(default=None, description="their email, if known")

    @field_validator("role", mode="plain")
    @classmethod
    def _known_role(cls, value: object) -> Role:
        return _role(value)


class WorkspaceCreate(Body):
    name: object = Field(description="1 to 200 characters")
    members: list[MemberRole] = Field(
        default_factory=list,
        description="its first members (the administrator creating it joins only if listed)",
    )

    @field_validator("name", mode="plain", json_schema_input_type=str)
    @classmethod
    def _checked_by_the_service(cls, value: object) -> object:
        return value


class MemberUpdate(Body):
    role: RoleName
    email: Email | None = Field(default=None, description="their email, if known")

    @field_validator("role", mode="plain")
    @classmethod
    def _known_role(cls, value: object) -> Role:
        return _role(value)
