"""The workspace routes under ``{base_url}proteiniq/api/v1/workspaces``: the
caller's workspaces, team workspaces created by the deployment's administrators,
and their members. Thin, as every route (see ``routes``)."""

from __future__ import annotations

from .. import api
from .base import PiqHandler, authenticated

WORKSPACE = r"(?P<workspace_id>[A-Za-z0-9_\-]+)"
#: A user name on the deployment (its slashes escaped as %2F).
USERNAME = r"(?P<username>[^/]+)"


class WorkspacesHandler(PiqHandler):
    @authenticated
    async def get(self) -> None:
        actor = await self.actor()
        workspaces = await self.call(self.state.service.workspaces, actor)
        self.send(api.WorkspaceList.of(workspaces))

    @authenticated
    async def post(self) -> None:
        request = api.WorkspaceCreate.parse(self.json_body())
        actor = await self.actor()
        workspace = await self.call(
            self.state.service.create_team,
            actor,
            request.name,  # checked by the service
            {m.username: m.role for m in request.members},
            emails={m.username: m.email for m in request.members if m.email},
        )
        self.send(api.Workspace.of(workspace, None), status=201)


class MembersHandler(PiqHandler):
    @authenticated
    async def get(self, workspace_id: str) -> None:
        actor = await self.actor()
        members = await self.call(self.state.service.team_members, actor, workspace_id)
        self.send(api.MemberList.of(members))


class MemberHandler(PiqHandler):
    @authenticated
    async def put(self, workspace_id: str, username: str) -> None:
        request = api.MemberUpdate.parse(self.json_body())
        actor = await self.actor()
        member = await self.call(
            self.state.service.set_team_member,
            actor,
            workspace_id,
            username,
            request.role,
            email=request.email,
        )
        self.state.identity.forget(username)
        self.send(api.Member.of(member))

    @authenticated
    async def delete(self, workspace_id: str, username: str) -> None:
        actor = await self.actor()
        await self.call(self.state.service.remove_team_member, actor, workspace_id, username)
        self.state.identity.forget(username)
        self.send(api.RemovedMember.of(workspace_id, username))


def team_routes(prefix: str) -> list[tuple[str, type[PiqHandler]]]:
    return [
        (rf"{prefix}/workspaces", WorkspacesHandler),
        (rf"{prefix}/workspaces/{WORKSPACE}/members", MembersHandler),
        (rf"{prefix}/workspaces/{WORKSPACE}/members/{USERNAME}", MemberHandler),
    ]
