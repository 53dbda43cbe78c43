"""``piq budget``: named budgets that bound what the jobs run under them may hold
and spend, and the workspace's default budget for notebooks."""

from __future__ import annotations

from typing import Any

import click

from .. import api
from ..jobs.model import BudgetUse
from .app import cli
from .engine import _engine
from .options import json_option
from .render import _echo_json, _pairs, _table, _when


def budget_rows(uses: list[BudgetUse]) -> list[list[Any]]:
    return [
        [
            use.budget.name,
            use.budget.credits,
            use.used,
            use.charged,
            use.remaining,
            use.jobs,
            "open" if use.budget.is_open else "closed",
        ]
        for use in uses
    ]


BUDGET_HEADERS = ["budget", "credits", "used", "charged", "left", "jobs", "status"]


def _show(use: BudgetUse, as_json: bool) -> None:
    if as_json:
        _echo_json(api.Budget.of(use, with_jobs=bool(use.job_ids)).model_dump())
        return
    budget = use.budget
    pairs: list[tuple[str, Any]] = [
        ("budget", f"{budget.name} ({budget.id})"),
        ("status", "open" if budget.is_open else f"closed {_when(budget.closed_at)}"),
        ("credits", budget.credits),
        ("used", f"{use.used} ({use.reserved} held, {use.charged} charged)"),
        ("left", use.remaining),
        ("jobs", use.jobs),
    ]
    if budget.notebook:
        pairs.append(("notebook", "yes: the budget of the notebook it is named after"))
    click.echo(_pairs(pairs))
    if use.job_ids:
        click.echo("latest jobs")
        click.echo("\n".join(f"  {job_id}" for job_id in use.job_ids))


@cli.group("budget", invoke_without_command=True)
@click.option("--all", "include_closed", is_flag=True, help="Closed budgets too.")
@json_option
@click.pass_context
def budget_group(ctx: click.Context, include_closed: bool, as_json: bool) -> None:
    """Named budgets: what the jobs run under each may hold and spend in all."""
    if ctx.invoked_subcommand is not None:
        return
    with _engine() as engine:
        uses = engine.service.budgets(engine.actor(), include_closed=include_closed)
    if as_json:
        _echo_json(api.BudgetList.of(uses).model_dump())
        return
    click.echo(_table(BUDGET_HEADERS, budget_rows(uses)) if uses else "no open budgets")


@budget_group.command("list")
@click.option("--all", "include_closed", is_flag=True, help="Closed budgets too.")
@json_option
@click.pass_context
def budget_list(ctx: click.Context, include_closed: bool, as_json: bool) -> None:
    """The workspace's budgets and what each has used."""
    ctx.invoke(budget_group, include_closed=include_closed, as_json=as_json)


@budget_group.command("create")
@click.argument("name")
@click.option("--credits", type=int, required=True, metavar="N", help="The budget's size.")
@click.option("--update", is_flag=True, help="Set the credits of an open budget of this name.")
@json_option
def budget_create(name: str, credits: int, update: bool, as_json: bool) -> None:
    """Open a budget of N credits; run jobs under it with --budget NAME."""
    with _engine() as engine:
        use = engine.service.open_budget(engine.actor(), name, credits, update=update)
    _show(use, as_json)


@budget_group.command("show")
@click.argument("name", metavar="NAME|ID")
@json_option
def budget_show(name: str, as_json: bool) -> None:
    """A budget, what it has used, and its latest jobs."""
    with _engine() as engine:
        use = engine.service.budget(engine.actor(), name)
    _show(use, as_json)


@budget_group.command("close")
@click.argument("name", metavar="NAME|ID")
def budget_close(name: str) -> None:
    """Close a budget: nothing more runs under it; its jobs run on."""
    with _engine() as engine:
        use = engine.service.close_budget(engine.actor(), name)
    click.echo(f"closed {use.budget.name} ({use.used} of {use.budget.credits} credits used)")


@budget_group.command("notebooks")
@click.option("--credits", type=int, metavar="N", help="Each notebook's default budget.")
@click.option("--none", "unset", is_flag=True, help="Notebooks get no budget of their own.")
def budget_notebooks(credits: int | None, unset: bool) -> None:
    """The budget every notebook of the workspace gets unless it sets its own
    (owners and admins set it; without options, show it)."""
    with _engine() as engine:
        actor = engine.actor()
        if unset or credits is not None:
            value = engine.service.set_notebook_budget_default(actor, None if unset else credits)
        else:
            value = engine.service.notebook_budget_default(actor)
    click.echo(
        "notebooks: no default budget" if value is None else f"notebooks: {value} credits each"
    )
