"""The paths of the workspace routes (``team_routes.py``)."""

from __future__ import annotations

from ..routes import API
from .builders import BODY_ERRORS, JsonDict, body, errors, ok, op, param, ref


def team_paths() -> JsonDict:
    workspace_id, username = param("WorkspaceId"), param("Username")
    return {
        f"{API}/workspaces": {
            "get": op(
                "listWorkspaces",
                "The workspaces the caller belongs to, with their role in each",
                "workspaces",
                {"200": ok("the workspaces", ref("WorkspaceList")), **errors()},
            ),
            "post": op(
                "createWorkspace",
                "Create a team workspace (the deployment's administrators)",
                "workspaces",
                {
                    "201": ok("the team", ref("Workspace")),
                    **errors(*BODY_ERRORS, 403, 409),
                },
                body=body(ref("WorkspaceCreate")),
                description=(
                    "The deployment's administrators are the users named in PIQ_ADMINS "
                    "(under JupyterHub, the hub's admins). The team gets the starting grant "
                    "and the members listed, signed up if new; its creator joins only if "
                    "listed."
                ),
            ),
        },
        f"{API}/workspaces/{{workspace_id}}/members": {
            "parameters": [workspace_id],
            "get": op(
                "listMembers",
                "A workspace's members and their roles",
                "workspaces",
                {"200": ok("the members", ref("MemberList")), **errors(404)},
                description="Not found for anyone who is neither a member nor an administrator.",
            ),
        },
        f"{API}/workspaces/{{workspace_id}}/members/{{username}}": {
            "parameters": [workspace_id, username],
            "put": op(
                "setMember",
                "Add a member to a team, or change their role",
                "workspaces",
                {
                    "200": ok("the member", ref("Member")),
                    **errors(*BODY_ERRORS, 403, 404, 409),
                },
                body=body(ref("MemberUpdate")),
                description=(
                    "The team's owners and admins and the deployment's administrators; "
                    "an admin neither makes nor changes owners and admins, and a team "
                    "keeps an owner once it has one. A team that follows a JupyterHub "
                    "group changes its members on the hub (conflict)."
                ),
            ),
            "delete": op(
                "removeMember",
                "Take a member out of a team (their jobs stay in its history)",
                "workspaces",
                {"200": ok("the removed member", ref("RemovedMember")), **errors(403, 404, 409)},
            ),
        },
    }
