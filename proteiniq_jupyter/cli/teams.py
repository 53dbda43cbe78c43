"""Team workspaces: ``piq teams`` (the workspaces you belong to), ``piq teams
create`` (the deployment's administrators) and a team's members."""

from __future__ import annotations

import click

from .. import api
from ..jobs.model import Role
from .app import cli
from .engine import _engine
from .options import json_option
from .render import _echo_json, _table

ROLES = click.Choice([r.value for r in Role])


def _member_role(value: str) -> tuple[str, Role]:
    """``bob:admin`` -> ("bob", Role.ADMIN); a bare name is a member."""
    username, separator, role = value.rpartition(":")
    if not separator:
        username, role = value, Role.MEMBER.value
    try:
        return username, Role(role)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: give USER or USER:ROLE with a role of {', '.join(r.value for r in Role)}",
            param_hint="--member",
        ) from None


@cli.group("teams", invoke_without_command=True)
@json_option
@click.pass_context
def teams_group(ctx: click.Context, as_json: bool) -> None:
    """The workspaces you belong to (your own and your teams), with your role."""
    if ctx.invoked_subcommand is not None:
        return
    with _engine() as engine:
        workspaces = engine.service.workspaces(engine.actor())
    listed = api.WorkspaceList.of(workspaces)
    if as_json:
        _echo_json(listed.model_dump())
        return
    rows = [[w.id, w.name, str(w.role), "hub group" if w.managed else ""] for w in listed.data]
    click.echo(_table(["id", "name", "role", "members from"], rows))


@teams_group.command("create")
@click.argument("name")
@click.option(
    "--member",
    "members",
    multiple=True,
    metavar="USER[:ROLE]",
    help="A first member (role member unless given); repeat for more.",
)
@json_option
def teams_create(name: str, members: tuple[str, ...], as_json: bool) -> None:
    """Create a team workspace named NAME (the deployment's administrators, named
    in PIQ_ADMINS). You join it only if you list yourself."""
    roles = dict(_member_role(m) for m in members)
    with _engine() as engine:
        workspace = engine.service.create_team(engine.actor(), name, roles)
    if as_json:
        _echo_json(api.Workspace.of(workspace, None).model_dump())
        return
    click.echo(workspace.id)


@teams_group.command("members")
@click.argument("team", metavar="TEAM_ID")
@json_option
def teams_members(team: str, as_json: bool) -> None:
    """A team's members and their roles."""
    with _engine() as engine:
        members = engine.service.team_members(engine.actor(), team)
    if as_json:
        _echo_json(api.MemberList.of(members).model_dump())
        return
    rows = [[m.user.username, m.user.email or "", str(m.role)] for m in members]
    click.echo(_table(["user", "email", "role"], rows))


@teams_group.command("add")
@click.argument("team", metavar="TEAM_ID")
@click.argument("username", metavar="USER")
@click.option("--role", type=ROLES, default="member", show_default=True)
@click.option("--email", help="Their email, which makes their invites active.")
def teams_add(team: str, username: str, role: str, email: str | None) -> None:
    """Add USER to a team, or change their role (the team's owners and admins, and
    the deployment's administrators)."""
    with _engine() as engine:
        member = engine.service.set_team_member(
            engine.actor(), team, username, Role(role), email=email
        )
    click.echo(f"{member.user.username}: {member.role}")


@teams_group.command("remove")
@click.argument("team", metavar="TEAM_ID")
@click.argument("username", metavar="USER")
def teams_remove(team: str, username: str) -> None:
    """Take USER out of a team; their jobs stay in its history."""
    with _engine() as engine:
        engine.service.remove_team_member(engine.actor(), team, username)
    click.echo(f"{username} removed")
