"""The engine a command works with, and ``piq engine``, which runs jobs on Dask."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from ..config import EngineConfig, parse_time_limit
from ..engine import Engine, open_dask_engine, open_engine
from ..execution import handoff
from ..execution.base import EngineExecutor
from .app import _first_line, cli


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the configured database"


def _config(**given: Any) -> EngineConfig:
    """The configuration from the environment, with the settings ``given`` on top."""
    try:
        return EngineConfig.from_env(**given)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _check_time_limits(config: EngineConfig, tools: Sequence[str]) -> None:
    """Refuse a time limit for a tool this installation does not have."""
    for tool, _ in config.time_limits:
        if tool not in tools:
            nearest = difflib.get_close_matches(tool, tools, n=1)
            hint = f"; did you mean {nearest[0]!r}?" if nearest else ""
            raise click.ClickException(
                f"a time limit is set for {tool!r}, which is not an installed tool{hint} "
                f"Tools: {', '.join(sorted(tools))}"
            )


@contextmanager
def _engine(
    *, detached: bool = False, executor: str = "inprocess"
) -> Iterator[Engine[EngineExecutor]]:
    """The engine from the environment, closed when the command is done. A command
    that waits for its job runs it here; one that does not hands it to a running
    engine, else to the configured Dask cluster, else to a detached process;
    ``piq engine`` runs the configured executor (Dask by default)."""
    config = _config()
    try:
        engine = open_engine(config, executor=executor, detached=detached)
    except OperationalError as exc:
        raise click.ClickException(
            f"cannot open the job database {_safe_url(config.database_url)}: "
            f"{_first_line(str(exc.orig or exc))}"
        ) from None
    try:
        yield engine
    finally:
        engine.close()


@cli.command("engine")
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="A remote Dask scheduler (default: PIQ_DASK_SCHEDULER_ADDRESS, else an "
    "embedded cluster on 127.0.0.1).",
)
@click.option("--workers", type=click.IntRange(min=1), help="Workers of the embedded cluster.")
@click.option(
    "--dashboard",
    metavar="ADDRESS",
    help="Serve the embedded cluster's Dask dashboard here, e.g. 127.0.0.1:8787 "
    "(default: PIQ_DASK_DASHBOARD, else none).",
)
@click.option(
    "--attempts",
    type=click.IntRange(min=1),
    help=f"Attempts before a job fails (default {EngineConfig.max_attempts}).",
)
@click.option(
    "--time-limit",
    "time_limits",
    multiple=True,
    metavar="TOOL=SECONDS",
    help="Override a tool's time limit.",
)
@click.option(
    "--batch-concurrency",
    type=click.IntRange(min=1),
    help=(
        "Batch children of one workspace running at once "
        f"(default {EngineConfig.batch_concurrency})."
    ),
)
@click.option(
    "--everyone",
    is_flag=True,
    default=None,
    help="Run every user's jobs, as the engine service of a deployment does (default: "
    "PIQ_RUN_JOBS_OF, else only the jobs of this engine's user, PIQ_USER).",
)
def engine_command(
    scheduler: str | None,
    workers: int | None,
    dashboard: str | None,
    attempts: int | None,
    time_limits: tuple[str, ...],
    batch_concurrency: int | None,
    everyone: bool | None,
) -> None:
    """Run jobs: dispatch waiting jobs to Dask and recover lost ones, until
    interrupted. Several engines may share one PostgreSQL database; each takes only
    its user's jobs unless it runs everyone's."""
    import dataclasses
    import signal
    import threading

    config = _config(
        dask_scheduler_address=scheduler or None,
        dask_workers=workers,
        dask_dashboard_address=dashboard,
        max_attempts=attempts,
        batch_concurrency=batch_concurrency,
        runs_jobs_of="everyone" if everyone else None,
    )
    limits = dict(config.time_limits)
    for pair in time_limits:
        try:
            tool, seconds = parse_time_limit(pair)
        except ValueError:
            raise click.UsageError(f"--time-limit takes TOOL=SECONDS, got {pair!r}") from None
        limits[tool] = seconds
    config = dataclasses.replace(config, time_limits=tuple(limits.items()))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    engine = open_dask_engine(config)
    runtime_file = None
    try:
        _check_time_limits(config, [tool.id for tool in engine.tools])
        executor = engine.executor
        executor.start()
        click.echo(
            f"piq engine {executor.engine_id}: Dask scheduler {executor.scheduler_address}, "
            f"database {_safe_url(config.database_url)}",
            err=True,
        )
        runtime_file = handoff.announce(config, "engine")
        stop.wait()
        click.echo("piq engine: interrupted; stopping", err=True)
    finally:
        if runtime_file is not None:
            handoff.withdraw(runtime_file)
        engine.close()
    click.echo(
        "piq engine: stopped. Jobs it was running are recovered by the next engine that "
        "starts: retried, never charged twice.",
        err=True,
    )
