"""The commands on single jobs: quote, run, jobs, show, events, rename, delete,
cancel, retry, duplicate, export and share."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .. import api
from ..console import clip as _clip
from ..console import duration_text as _duration
from ..jobs.errors import PiqError
from ..jobs.model import JobEvent, Share, Visibility
from ..jobs.ports import JobFilter
from ..jobs.sorting import DEFAULT_SORT, ORDERS, SORT_VALUES, JobSort
from ..jobs.status import JobStatus
from ..quotes import quote_text
from .app import cli
from .engine import _engine
from .follow import _cancelled_text, _finish
from .inputs import _parse_inputs, _parse_settings
from .options import (
    budget_option,
    input_option,
    inputs_argument,
    json_option,
    max_credits_option,
    set_option,
    settings_json_option,
    wait_option,
)
from .render import (
    _credits_text,
    _describe_job,
    _echo_json,
    _iso,
    _job_row,
    _render_detail,
    _status_text,
    _submitters,
    _table,
    _when,
)


@cli.command()
@click.argument("tool_id", metavar="TOOL")
@inputs_argument
@input_option
@set_option
@settings_json_option
@max_credits_option
@budget_option
@json_option
def quote(
    tool_id: str,
    inputs: tuple[str, ...],
    input_pairs: tuple[str, ...],
    set_pairs: tuple[str, ...],
    settings_json: str | None,
    max_credits: int | None,
    budget: str | None,
    as_json: bool,
) -> None:
    """What a run would cost, and what stops it from running now (exit 1 if anything)."""
    settings = _parse_settings(set_pairs, settings_json)
    jobs = 1
    with _engine() as engine:
        tool = engine.tools.get(tool_id)
        items = _parse_inputs(tool, input_pairs, inputs)
        actor = engine.actor()
        result = engine.service.quote(
            actor, tool_id, items, settings, max_credits=max_credits, budget=budget
        )
        if result.blocking_errors:
            # Several items for a tool that runs one per job (ligands docked one by
            # one): the price of the batch that would run them.
            try:
                batch, jobs = engine.service.quote_batch_input(actor, tool_id, items, settings)
            except PiqError:
                pass
            else:
                if jobs > 1:
                    result = batch
    if as_json:
        _echo_json({**api.JobQuote.of(result).model_dump(), "jobs": jobs})
    else:
        click.echo(quote_text(api.JobQuote.of(result), jobs))
    if result.blocking_errors:
        sys.exit(1)


@cli.command()
@click.argument("tool_id", metavar="TOOL")
@inputs_argument
@input_option
@set_option
@settings_json_option
@click.option("--name", help="A name for the job (default: the tool and the time).")
@click.option("--idempotency-key", help="Submitting the same key again returns the first job.")
@max_credits_option
@budget_option
@wait_option
def run(
    tool_id: str,
    inputs: tuple[str, ...],
    input_pairs: tuple[str, ...],
    set_pairs: tuple[str, ...],
    settings_json: str | None,
    name: str | None,
    idempotency_key: str | None,
    max_credits: int | None,
    budget: str | None,
    wait: bool,
) -> None:
    """Submit a job and print its id.

    Without --wait the job runs in a background process and the command returns at
    once; follow it with `piq show ID`.
    """
    settings = _parse_settings(set_pairs, settings_json)
    with _engine(detached=not wait) as engine:
        tool = engine.tools.get(tool_id)
        items = _parse_inputs(tool, input_pairs, inputs)
        actor = engine.actor()
        job = engine.service.submit(
            actor,
            tool_id,
            items,
            settings,
            name=name,
            idempotency_key=idempotency_key,
            max_credits=max_credits,
            budget=budget,
        )
        _finish(engine, actor, job, wait)


@cli.command("jobs")
@click.option("--tool", help="Only jobs of this tool.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in JobStatus], case_sensitive=False),
    help="Only jobs in this status (repeat for several).",
)
@click.option("--mine", is_flag=True, help="Only jobs I submitted.")
@click.option("--search", help="Only jobs whose name contains this text.")
@click.option(
    "--sort",
    "sort_column",
    type=click.Choice(SORT_VALUES, case_sensitive=False),
    help="Sort the whole history by this column (default: created_at, newest first).",
)
@click.option(
    "--order",
    type=click.Choice(ORDERS, case_sensitive=False),
    help="asc or desc (default: desc for created_at, asc for the others).",
)
@click.option("--limit", type=int, default=20, show_default=True, help="Jobs per page.")
@click.option(
    "--after", "cursor", metavar="CURSOR", help="The page after this cursor (same --sort)."
)
@json_option
def jobs_command(
    tool: str | None,
    statuses: tuple[str, ...],
    mine: bool,
    search: str | None,
    sort_column: str | None,
    order: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """The workspace's job history, newest first, or sorted by a column."""
    sort = JobSort.parse(sort_column and sort_column.lower(), order and order.lower())
    with _engine() as engine:
        actor = engine.actor()
        job_filter = JobFilter(
            tool=tool,
            statuses=tuple(JobStatus(s.upper()) for s in statuses),
            submitter_id=actor.user_id if mine else None,
            name_contains=search,
        )
        page = engine.service.list_jobs(
            actor, job_filter, starting_after=cursor, limit=limit, sort=sort
        )
        submitters = _submitters(engine, actor)
        batches, _ = engine.service.list_batches(actor, limit=1)
    jobs = [view.job for view in page.items]
    if as_json:
        items = [_job_row(api.Job.of(view, submitters)) for view in page.items]
        _echo_json({"items": items, "next_cursor": page.next_cursor})
        return
    if not jobs:
        click.echo("no jobs")
    else:
        rows = [
            [
                j.id,
                _clip(j.name, 40),
                j.tool,
                _status_text(j),
                _duration(j.duration_s),
                submitters.get(j.submitter_id, j.submitter_id),
                _credits_text(j),
            ]
            for j in jobs
        ]
        headers = ["id", "name", "tool", "status", "duration", "submitter", "credits"]
        click.echo(_table(headers, rows))
    if page.next_cursor:
        same_sort = "" if sort == DEFAULT_SORT else f"--sort {sort.column} --order {sort.order} "
        click.echo(f"next page: {same_sort}--after {page.next_cursor}")
    if batches:
        click.echo("the jobs of batches are listed by batch: piq batch list", err=True)


@cli.command()
@click.argument("job_id", metavar="ID")
@json_option
def show(job_id: str, as_json: bool) -> None:
    """Everything about a job: inputs, settings, status, results and files."""
    with _engine() as engine:
        data = _describe_job(engine, engine.actor(), job_id)
    if as_json:
        _echo_json(data)
    else:
        click.echo(_render_detail(data))


def _event_detail(event: JobEvent) -> str:
    data = event.data
    if event.kind == "progress":
        message = data.get("progress_message") or ""
        return f"{data.get('progress', 0):.0%} {message}".strip()
    if event.kind in ("status", "created"):
        parts = [data.get("status_reason"), data.get("error")]
        if data.get("credits_charged"):
            parts.append(f"{data['credits_charged']} credits charged")
        return "; ".join(str(p) for p in parts if p)
    if event.kind == "renamed":
        return f"name: {data.get('name')}"
    if event.kind == "shared":
        invited = ", ".join(data.get("invited") or []) or "nobody"
        return f"{data.get('visibility')}; invited: {invited}"
    return json.dumps(data, separators=(",", ":"), default=str)


@cli.command()
@click.argument("job_id", metavar="ID")
@json_option
def events(job_id: str, as_json: bool) -> None:
    """A job's event log, oldest first."""
    with _engine() as engine:
        log = engine.service.events(engine.actor(), job_id)
    if as_json:
        _echo_json(
            [
                {
                    "seq": e.seq,
                    "kind": e.kind,
                    "status": str(e.status),
                    "data": e.data,
                    "created_at": _iso(e.created_at),
                }
                for e in log
            ]
        )
        return
    rows = [[e.seq, _when(e.created_at), e.kind, str(e.status), _event_detail(e)] for e in log]
    click.echo(_table(["seq", "time", "kind", "status", "detail"], rows))


@cli.command()
@click.argument("job_id", metavar="ID")
@click.argument("name")
def rename(job_id: str, name: str) -> None:
    """Give a job a new name."""
    with _engine() as engine:
        job = engine.service.rename(engine.actor(), job_id, name)
    click.echo(f"{job.id}: {job.name}")


@cli.command()
@click.argument("job_id", metavar="ID")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def delete(job_id: str, yes: bool) -> None:
    """Delete a finished job, its events and its files."""
    if not yes:
        click.confirm(f"delete job {job_id} and its files?", abort=True, err=True)
    with _engine() as engine:
        engine.service.delete(engine.actor(), job_id)
    click.echo(f"deleted {job_id}")


@cli.command()
@click.argument("job_id", metavar="ID")
def cancel(job_id: str) -> None:
    """Cancel a job that has not finished."""
    with _engine() as engine:
        job = engine.service.cancel(engine.actor(), job_id)
    click.echo(f"{job.id}: {job.status}")
    click.echo(_cancelled_text(job), err=True)


@cli.command()
@click.argument("job_id", metavar="ID")
@wait_option
def retry(job_id: str, wait: bool) -> None:
    """Run a failed, timed-out or cancelled job again as a new job."""
    with _engine(detached=not wait) as engine:
        actor = engine.actor()
        job = engine.service.retry(actor, job_id)
        _finish(engine, actor, job, wait)


@cli.command()
@click.argument("job_id", metavar="ID")
@set_option
@settings_json_option
@click.option(
    "--unset",
    "unset_names",
    multiple=True,
    metavar="KEY",
    help="Take a setting back to the tool's default (the same as --set KEY=null).",
)
@click.option("--name", help="A name for the new job (default: the old name, copied).")
@wait_option
def duplicate(
    job_id: str,
    set_pairs: tuple[str, ...],
    settings_json: str | None,
    unset_names: tuple[str, ...],
    name: str | None,
    wait: bool,
) -> None:
    """Run a completed job again as a new job, optionally with other settings."""
    settings = {**(_parse_settings(set_pairs, settings_json) or {}), **dict.fromkeys(unset_names)}
    with _engine(detached=not wait) as engine:
        actor = engine.actor()
        job = engine.service.duplicate(actor, job_id, settings=settings, name=name)
        _finish(engine, actor, job, wait)


@cli.command()
@click.argument("job_id", metavar="ID")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="CSV: one line per result row; JSON: the whole job.",
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file."
)
def export(job_id: str, fmt: str, output: Path | None) -> None:
    """A job's results as CSV or JSON, on standard output or in a file."""
    with _engine() as engine:
        text = engine.service.export(engine.actor(), job_id, fmt)
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"wrote {output}", err=True)


def _render_share(share: Share) -> str:
    out = [f"{share.job_id}: {share.visibility}"]
    for invite in share.invites:
        out.append(f"  {invite.email}  {'pending' if invite.pending else 'active'}")
    return "\n".join(out)


@cli.command()
@click.argument("job_id", metavar="ID")
@click.option(
    "--visibility",
    type=click.Choice([v.value for v in Visibility]),
    help="Who may see the job (default: unchanged).",
)
@click.option("--invite", multiple=True, metavar="EMAIL", help="Invite this email.")
@click.option("--uninvite", multiple=True, metavar="EMAIL", help="Remove this email.")
def share(
    job_id: str, visibility: str | None, invite: tuple[str, ...], uninvite: tuple[str, ...]
) -> None:
    """Show or set who may see a job; invited emails without an account are pending."""
    with _engine() as engine:
        actor = engine.actor()
        if visibility is None and not invite and not uninvite:
            current = engine.service.get_share(actor, job_id)
        else:
            if visibility is None:
                visibility = engine.service.get_share(actor, job_id).visibility
            current = engine.service.share(
                actor, job_id, visibility, invite=invite, uninvite=uninvite
            )
    click.echo(_render_share(current))
