"""``piq batch``: one tool over many items, each item its own job."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from .. import api
from ..engine import Engine
from ..execution.base import EngineExecutor
from ..jobs.access import Actor
from ..jobs.model import BatchSummary
from ..jobs.ports import JobFilter
from .app import cli
from .engine import _engine
from .follow import POLL_INTERVAL_S
from .inputs import _parse_inputs, _parse_settings, _read_file
from .options import input_option, json_option, set_option, settings_json_option, wait_option
from .render import _echo_json, _job_row, _pairs, _submitters, _table


@cli.group("batch")
def batch_group() -> None:
    """Run one tool over many items, each item its own job, as one batch."""


def _render_batch(summary: BatchSummary) -> str:
    batch = api.Batch.of(summary)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(batch.counts.items()))
    return _pairs(
        [
            ("batch", batch.id),
            ("name", batch.name),
            ("tool", batch.tool),
            ("status", batch.status),
            ("progress", f"{batch.progress:.0%}"),
            ("children", f"{batch.total} ({counts})"),
            ("credits", f"{batch.credits_charged} charged of {batch.reserved_credits} held"),
        ]
    )


def _follow_batch(engine: Engine[EngineExecutor], actor: Actor, batch_id: str) -> BatchSummary:
    while True:
        summary = engine.service.get_batch(actor, batch_id)
        if summary.status != "PROCESSING":
            return summary
        time.sleep(POLL_INTERVAL_S)


@batch_group.command("run")
@click.argument("tool_id", metavar="TOOL")
@click.argument("items", nargs=-1, metavar="[ITEM]...")
@click.option(
    "--items-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="One item per line (a sequence, a SMILES, a complex).",
)
@input_option
@set_option
@settings_json_option
@click.option("--name", help="The batch's name (children are numbered after it).")
@wait_option
def batch_run(
    tool_id: str,
    items: tuple[str, ...],
    items_file: Path | None,
    input_pairs: tuple[str, ...],
    set_pairs: tuple[str, ...],
    settings_json: str | None,
    name: str | None,
    wait: bool,
) -> None:
    """Submit a batch: each ITEM (a file, or text) is one job of TOOL; or, with
    --input, one input that the tool splits into its jobs (a receptor with several
    ligands for autodock-vina, one sequence or complex per line for alphafold-2 and
    boltz-2). Children beyond the workspace's batch concurrency wait QUEUED; the
    whole batch's credits are held up front."""
    values = list(items)
    if items_file is not None:
        values += [line.strip() for line in _read_file(items_file).splitlines() if line.strip()]
    if bool(values) == bool(input_pairs):
        raise click.UsageError("give ITEMs (or --items-file), or --input for the tool to split")
    settings = _parse_settings(set_pairs, settings_json)
    with _engine(detached=not wait) as engine:
        tool = engine.tools.get(tool_id)
        actor = engine.actor()
        if input_pairs:
            summary = engine.service.submit_batch_input(
                actor, tool_id, _parse_inputs(tool, input_pairs, ()), settings, name=name
            )
        else:
            summary = engine.service.submit_batch(
                actor, tool_id, [_parse_inputs(tool, (), [v]) for v in values], settings, name=name
            )
        click.echo(summary.batch.id)
        if wait:
            summary = _follow_batch(engine, actor, summary.batch.id)
            click.echo(_render_batch(summary))
            if summary.status != "COMPLETED":
                sys.exit(1)


@batch_group.command("show")
@click.argument("batch_id", metavar="BATCH")
@json_option
def batch_show(batch_id: str, as_json: bool) -> None:
    """A batch's status, progress and credits, and its children."""
    with _engine() as engine:
        actor = engine.actor()
        summary = engine.service.get_batch(actor, batch_id)
        children = engine.service.list_jobs(actor, JobFilter(batch_id=batch_id), limit=100).items
        submitters = _submitters(engine, actor)
    jobs = [_job_row(api.Job.of(view, submitters)) for view in children]
    if as_json:
        _echo_json({**api.Batch.of(summary).model_dump(), "children": jobs})
        return
    click.echo(_render_batch(summary))
    if jobs:
        click.echo()
        click.echo(_table(list(jobs[0]), [list(row.values()) for row in reversed(jobs)]))


@batch_group.command("list")
@json_option
def batch_list(as_json: bool) -> None:
    """The workspace's batches, newest first."""
    with _engine() as engine:
        summaries, _ = engine.service.list_batches(engine.actor(), limit=100)
    if as_json:
        _echo_json([api.Batch.of(s).model_dump() for s in summaries])
        return
    rows = [
        [s.batch.id, s.batch.name, s.batch.tool, s.status, s.total, f"{s.progress:.0%}"]
        for s in summaries
    ]
    click.echo(_table(["batch", "name", "tool", "status", "jobs", "progress"], rows))


@batch_group.command("retry")
@click.argument("batch_id", metavar="BATCH")
def batch_retry(batch_id: str) -> None:
    """Run the batch's failed, timed-out or cancelled children again."""
    with _engine(detached=True) as engine:
        jobs = engine.service.retry_failed_children(engine.actor(), batch_id)
    for job in jobs:
        click.echo(job.id)
    if not jobs:
        click.echo("no failed children to retry", err=True)


@batch_group.command("cancel")
@click.argument("batch_id", metavar="BATCH")
def batch_cancel(batch_id: str) -> None:
    """Cancel every child still waiting or running."""
    with _engine() as engine:
        summary = engine.service.cancel_batch(engine.actor(), batch_id)
    click.echo(_render_batch(summary))
