"""``piq batch``: one tool over many items, each item its own job."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from .. import api
from ..console import clip as _clip
from ..console import duration_text as _duration
from ..engine import Engine
from ..execution.base import EngineExecutor
from ..jobs.access import Actor
from ..jobs.model import BatchSummary, Job
from ..jobs.ports import JobFilter
from ..jobs.submission import Limits
from ..tools.base import Tool
from .app import cli
from .engine import _engine
from .follow import child_label, follow_batch, in_batch_order
from .inputs import _parse_inputs, _parse_settings, _read_file
from .options import (
    budget_option,
    input_option,
    json_option,
    max_credits_option,
    set_option,
    settings_json_option,
    wait_option,
)
from .render import (
    _credits_text,
    _echo_json,
    _job_row,
    _pairs,
    _status_text,
    _submitters,
    _table,
    _when,
)


@cli.group("batch")
def batch_group() -> None:
    """Run one tool over many items, each item its own job, as one batch."""


def _render_batch(summary: BatchSummary, children: Sequence[Job] = ()) -> str:
    batch = api.Batch.of(summary)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(batch.counts.items()))
    started = [c.started_at for c in children if c.started_at is not None]
    finished = [c.finished_at for c in children if c.finished_at is not None]
    ended = summary.status != "PROCESSING" and finished
    pairs: list[tuple[str, Any]] = [
        ("batch", batch.id),
        ("name", batch.name),
        ("tool", batch.tool),
        ("status", batch.status),
        ("progress", f"{batch.progress:.0%}"),
        ("children", f"{batch.total} ({counts})"),
        ("created", _when(summary.batch.created_at)),
    ]
    if children:
        pairs += [
            ("started", _when(min(started)) if started else "-"),
            ("finished", _when(max(finished)) if ended else "-"),
            (
                "duration",
                _duration((max(finished) - min(started)).total_seconds())
                if ended and started
                else "-",
            ),
        ]
    pairs.append(("credits", f"{batch.credits_charged} charged of {batch.reserved_credits} held"))
    return _pairs(pairs)


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
@max_credits_option
@budget_option
@wait_option
def batch_run(
    tool_id: str,
    items: tuple[str, ...],
    items_file: Path | None,
    input_pairs: tuple[str, ...],
    set_pairs: tuple[str, ...],
    settings_json: str | None,
    name: str | None,
    max_credits: int | None,
    budget: str | None,
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
    if not values and not input_pairs:
        raise click.UsageError("give ITEMs (or --items-file), or --input for the tool to split")
    settings = _parse_settings(set_pairs, settings_json)
    limits = Limits(max_credits=max_credits, budget=budget)
    with _engine(detached=not wait) as engine:
        tool = engine.tools.get(tool_id)
        actor = engine.actor()
        if not values:
            summary = engine.service.submit_batch_input(
                actor,
                tool_id,
                _parse_inputs(tool, input_pairs, ()),
                settings,
                name=name,
                limits=limits,
            )
        else:
            # Each item goes to the first slot that --input leaves open (the ligands
            # of a docking whose receptor is given once), beside the --input items.
            shared = _parse_inputs(tool, input_pairs, ())
            slot = _open_slot(tool, {item.slot_id for item in shared})
            items_of = [[*shared, *_parse_inputs(tool, (), [v], bare_slot=slot)] for v in values]
            summary = engine.service.submit_batch(
                actor, tool_id, items_of, settings, name=name, limits=limits
            )
        click.echo(summary.batch.id)
        if wait:
            summary = follow_batch(engine, actor, summary.batch.id, cancel=True)
            _show_batch(engine, actor, summary.batch.id)
            if summary.status != "COMPLETED":
                sys.exit(1)


def _open_slot(tool: Tool, given: set[str]) -> str:
    for slot in tool.slots:
        if slot.id not in given:
            return slot.id
    raise click.UsageError(f"--input fills every slot of {tool.id}; give no ITEMs as well")


@batch_group.command("show")
@click.argument("batch_id", metavar="BATCH")
@click.option("--follow", "-f", is_flag=True, help="Show each child's progress until it ends.")
@json_option
def batch_show(batch_id: str, follow: bool, as_json: bool) -> None:
    """A batch's status, progress and credits, and its children: what each one
    takes (the ligand it docks, the sequence it folds), when it ran and for how long."""
    with _engine() as engine:
        actor = engine.actor()
        if follow:
            follow_batch(engine, actor, batch_id, cancel=False)
        if as_json:
            summary = engine.service.get_batch(actor, batch_id)
            children = engine.service.list_jobs(
                actor, JobFilter(batch_id=batch_id), limit=100
            ).items
            submitters = _submitters(engine, actor)
            jobs = [_job_row(api.Job.of(view, submitters)) for view in children]
            _echo_json({**api.Batch.of(summary).model_dump(), "children": jobs})
            return
        _show_batch(engine, actor, batch_id)


def _child_item(job: Job, slot: str | None) -> str:
    """What a child takes that its siblings do not: its item's label, else the
    first line of its content."""
    items = [i for i in job.inputs if i.slot_id == slot] or list(job.inputs[-1:])
    if not items:
        return "-"
    item = items[0]
    text = item.label or (item.content.strip().splitlines() or [""])[0]
    return _clip(text, 40)


def _show_batch(engine: Engine[EngineExecutor], actor: Actor, batch_id: str) -> None:
    summary = engine.service.get_batch(actor, batch_id)
    children = in_batch_order(
        [engine.service.get(actor, child_id).job for child_id in summary.batch.child_ids]
    )
    click.echo(_render_batch(summary, children))
    if not children:
        return
    # The slot whose item differs between children (the ligand, the sequence).
    slots = [i.slot_id for i in children[0].inputs]
    varying = next(
        (
            s
            for s in slots
            if len({tuple(i.content for i in c.inputs if i.slot_id == s) for c in children}) > 1
        ),
        slots[-1] if slots else None,
    )
    rows = [
        [
            c.id,
            child_label(summary, c),
            _child_item(c, varying),
            _status_text(c),
            _when(c.started_at),
            _duration(c.duration_s),
            _credits_text(c),
        ]
        for c in children
    ]
    click.echo()
    headers = ["id", "name", varying or "item", "status", "started", "duration", "credits"]
    click.echo(_table(headers, rows))
    failed = [c for c in children if c.error]
    for c in failed:
        click.echo(f"  {c.name}: {c.error}")


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
        click.echo(
            "no failed, timed-out or cancelled children left to retry (each runs again once)",
            err=True,
        )


@batch_group.command("cancel")
@click.argument("batch_id", metavar="BATCH")
def batch_cancel(batch_id: str) -> None:
    """Cancel every child still waiting or running."""
    with _engine() as engine:
        actor = engine.actor()
        engine.service.cancel_batch(actor, batch_id)
        _show_batch(engine, actor, batch_id)
