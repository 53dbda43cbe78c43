"""The workspace and the installation: ``piq credits``, ``piq members`` and
``piq config``."""

from __future__ import annotations

import os
from typing import Any

import click

from .. import api
from ..config import EngineConfig
from ..jobs.model import Role
from ..jobs.ports import LedgerEntry
from ..tools.registry import ToolRegistry
from .app import cli
from .budgets import BUDGET_HEADERS, budget_rows
from .engine import _check_time_limits, _config, _engine, _safe_url
from .options import json_option
from .render import _echo_json, _iso, _pairs, _table, _when


@cli.group("credits", invoke_without_command=True)
@json_option
@click.pass_context
def credits_group(ctx: click.Context, as_json: bool) -> None:
    """The workspace's credits, plan and running jobs."""
    if ctx.invoked_subcommand is not None:
        return
    with _engine() as engine:
        account = engine.service.account(engine.actor())
    if as_json:
        _echo_json(api.Account.of(account).model_dump())
        return
    limit = account.max_concurrent_jobs
    click.echo(
        _pairs(
            [
                ("workspace", f"{account.workspace.name} ({account.workspace.id})"),
                ("plan", account.workspace.plan),
                ("role", str(account.role)),
                ("available", f"{account.available_credits} credits"),
                (
                    "active jobs",
                    f"{account.active_jobs}" + (f" of at most {limit}" if limit else ""),
                ),
                (
                    "notebook budget",
                    "none"
                    if account.notebook_budget_credits is None
                    else f"{account.notebook_budget_credits} credits each",
                ),
            ]
        )
    )
    if account.budgets:
        click.echo("budgets")
        click.echo(_table(BUDGET_HEADERS, budget_rows(list(account.budgets))))


@credits_group.command("grant", context_settings={"ignore_unknown_options": True})
@click.argument("amount", type=int)
@click.option("--note", help="Why the credits were added (kept in the ledger).")
def credits_grant(amount: int, note: str | None) -> None:
    """Add credits to the workspace (owners and admins)."""
    with _engine() as engine:
        balance = engine.service.grant_credits(engine.actor(), amount, note=note)
    click.echo(f"available: {balance} credits")


#: How the ledger's kinds read: a hold that ends gives its credits back to what is
#: available, which is not a refund of anything charged.
LEDGER_KINDS = {
    "grant": "grant",
    "reserve": "hold",
    "release": "hold released",
    "charge": "charge",
    "refund": "refund",
}


def _ledger_row(entry: LedgerEntry) -> list[Any]:
    delta = f"+{entry.delta}" if entry.delta > 0 else str(entry.delta)
    note = entry.note or ""
    if entry.kind == "release" and not note:
        note = "the hold ends (charged or not, see the job's other lines)"
    kind = LEDGER_KINDS.get(str(entry.kind), str(entry.kind))
    return [_when(entry.created_at), kind, delta, entry.job_id or entry.batch_id or "", note]


@credits_group.command("ledger")
@click.option("--job", "job_id", metavar="ID", help="Only the entries of this job.")
@json_option
def credits_ledger(job_id: str | None, as_json: bool) -> None:
    """Every credit movement of the workspace, oldest first."""
    with _engine() as engine:
        entries = engine.service.ledger(engine.actor(), job_id=job_id)
    if as_json:
        _echo_json(
            [
                {
                    "id": e.id,
                    "kind": e.kind,
                    "delta": e.delta,
                    "job_id": e.job_id,
                    "batch_id": e.batch_id,
                    "budget_id": e.budget_id,
                    "note": e.note,
                    "created_at": _iso(e.created_at),
                }
                for e in entries
            ]
        )
        return
    click.echo(_table(["time", "kind", "delta", "job", "note"], [_ledger_row(e) for e in entries]))


@cli.group("members", invoke_without_command=True)
@click.pass_context
def members_group(ctx: click.Context) -> None:
    """The workspace's members and their roles."""
    if ctx.invoked_subcommand is not None:
        return
    with _engine() as engine:
        members = engine.service.members(engine.actor())
    rows = [[m.user.username, m.user.email or "", str(m.role)] for m in members]
    click.echo(_table(["user", "email", "role"], rows))


@members_group.command("add")
@click.argument("username", metavar="USER")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--email", help="Their email, which makes their invites active.")
def members_add(username: str, role: str, email: str | None) -> None:
    """Add a teammate, or change their role (owners and admins)."""
    with _engine() as engine:
        member = engine.service.add_member(engine.actor(), username, Role(role), email=email)
    click.echo(f"{member.user.username}: {member.role}")


def _executors(config: EngineConfig) -> list[tuple[str, str]]:
    """Which executor runs the jobs of each command, as the commands choose it."""
    if config.dask_scheduler_address:
        dask = f"Dask, the scheduler at {config.dask_scheduler_address}"
    else:
        workers = config.dask_workers or os.cpu_count()
        dask = f"Dask, an embedded cluster of {workers} worker(s) on 127.0.0.1"
    described = {
        "dask": dask,
        "inprocess": "threads of the server's own process",
        "detached": "a process of its own per job",
        "service": "the deployment's engine service (piq hub-service)",
    }
    return [
        ("piq run/retry/duplicate/batch run --wait", "this command's own process, while it waits"),
        (
            "piq run/retry/duplicate/batch run",
            "a running engine on this database (piq engine, a Jupyter server), else "
            + (
                f"the scheduler at {config.dask_scheduler_address}"
                if config.dask_scheduler_address
                else "a detached process per job, outliving the command"
            ),
        ),
        ("piq engine", dask),
        ("the Jupyter server (PIQ_EXECUTOR)", described[config.executor]),
    ]


@cli.command("config")
@json_option
def config_command(as_json: bool) -> None:
    """The configuration in force (from PIQ_* variables), as an operator sees it,
    with the executor each command runs its jobs on. A value that is not valid is
    refused, naming its variable."""
    config = _config()
    # The installed tools, without opening the database.
    tools = ToolRegistry.from_entry_points(config.extra_tools)
    _check_time_limits(config, [tool.id for tool in tools])
    data: dict[str, Any] = {
        "database": _safe_url(config.database_url),
        "data_dir": str(config.data_dir),
        "user": config.username,
        "email": config.email,
        "executor": config.executor,
        "dask_scheduler_address": config.dask_scheduler_address or "embedded LocalCluster",
        "dask_workers": config.dask_workers or f"{os.cpu_count()} (one per core)",
        "dask_dashboard": config.dask_dashboard_address or "none",
        "max_attempts": config.max_attempts,
        "batch_concurrency": config.batch_concurrency,
        "time_limits": dict(config.time_limits) or "each tool's own",
        "lease_ttl_s": config.lease_ttl_s,
        "recovery_interval_s": config.recovery_interval_s,
        "starting_credits": config.starting_credits,
        "extra_tools": list(config.extra_tools),
        "preload_tools": list(config.preload_tools),
        "admins": list(config.admins) or "nobody",
    }
    executors = _executors(config)
    if as_json:
        _echo_json({**data, "executors": dict(executors)})
        return
    click.echo(_pairs([(k, v) for k, v in data.items()]))
    click.echo("jobs run on")
    click.echo(_pairs(executors, "  "))
