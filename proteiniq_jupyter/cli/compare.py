"""``piq diff``: what differs between two jobs."""

from __future__ import annotations

import click

from .. import api
from .app import cli
from .engine import _engine
from .options import json_option
from .render import _echo_json, _submitters


@cli.command("diff")
@click.argument("job_a", metavar="A")
@click.argument("job_b", metavar="B")
@json_option
def diff(job_a: str, job_b: str, as_json: bool) -> None:
    """What differs between jobs A and B: inputs, settings and provenance (tool and
    library versions, model weights, worker)."""
    with _engine() as engine:
        actor = engine.actor()
        names = _submitters(engine, actor)
        a, b = (api.Job.of(engine.service.get(actor, j), names) for j in (job_a, job_b))
    result = api.JobDiff.of(a, b)
    if as_json:
        _echo_json(result.model_dump())
    else:
        click.echo(result.text())
