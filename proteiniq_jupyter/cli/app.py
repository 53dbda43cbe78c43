"""The ``piq`` command group and its one place for failures: every error becomes one
line on standard error and an exit status, and the engine's log records become one-line
warnings for the length of a command."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

import click

from .. import __version__
from ..jobs.errors import PiqError

DEBUG_ENV = "PIQ_DEBUG"


def _debug() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


# -- errors -------------------------------------------------------------------


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def _error(message: str, details: Sequence[str] = ()) -> None:
    click.echo(f"piq: error: {message}", err=True)
    for line in details:
        click.echo(f"  {line}", err=True)


def _report_piq_error(exc: PiqError) -> None:
    """The message, and each located problem on its own line when there are several.
    A validation message that only joins the problems is replaced by their count so
    the problems are not printed twice."""
    items = exc.details.get("errors") if isinstance(exc.details, dict) else None
    messages = [str(e.get("message", e)) for e in items or [] if isinstance(e, Mapping)]
    if len(messages) <= 1:
        _error(exc.message)
        return
    header = exc.message
    if header == "; ".join(messages):
        header = f"{len(messages)} problems:"
    _error(header, messages)


class PiqGroup(click.Group):
    """The command group, with one place that turns every failure into one line."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> NoReturn:
        try:
            with _cli_logging():
                status = super().main(
                    args, prog_name or "piq", complete_var, standalone_mode=False, **extra
                )
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            _error(f"{_first_line(exc.format_message())}{hint}")
            sys.exit(2)
        except click.ClickException as exc:
            _error(_first_line(exc.format_message()))
            sys.exit(exc.exit_code)
        except click.Abort:
            _error("aborted")
            sys.exit(1)
        except PiqError as exc:
            _report_piq_error(exc)
            sys.exit(1)
        except BrokenPipeError:
            _silence_stdout()
            sys.exit(1)
        except Exception as exc:
            if _debug():
                raise
            _error(
                f"unexpected {type(exc).__name__}: {_first_line(str(exc))} "
                f"(set {DEBUG_ENV}=1 for the traceback)"
            )
            sys.exit(1)
        sys.exit(status if isinstance(status, int) else 0)


def _silence_stdout() -> None:
    """After the reader of a pipe went away, stop Python complaining at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


class _OneLineHandler(logging.Handler):
    """Warnings from the engine as one line each (a broken tool plug-in, a worker
    that could not start), without the traceback unless PIQ_DEBUG is set."""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            message = f"{message} ({type(exc).__name__}: {_first_line(str(exc))})"
        click.echo(f"piq: {record.levelname.lower()}: {message}", err=True)


@contextmanager
def _cli_logging() -> Iterator[None]:
    """Route the engine's log records to one-line messages for the length of one
    command, then put the logging set-up back as it was (the command may run inside
    a larger program, such as a test session or a notebook)."""
    package = logging.getLogger("proteiniq_jupyter")
    executor_log = logging.getLogger("proteiniq_jupyter.execution.inprocess")
    propagate, level = package.propagate, executor_log.level
    handler: logging.Handler
    if _debug():
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(logging.DEBUG)
    else:
        handler = _OneLineHandler(level=logging.WARNING)
        package.propagate = False
        # A tool that fails while a command waits for it is reported through the
        # job's own error; the executor's log of it would say the same thing twice.
        executor_log.setLevel(logging.CRITICAL)
    package.addHandler(handler)
    try:
        yield
    finally:
        package.removeHandler(handler)
        package.propagate = propagate
        executor_log.setLevel(level)


@click.group(cls=PiqGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="piq")
def cli() -> None:
    """Run protein and molecule tools as tracked, credit-metered jobs.

    The database, job folders and user come from PIQ_DATABASE_URL, PIQ_DATA_DIR,
    PIQ_USER and PIQ_EMAIL. Set PIQ_DEBUG=1 to see tracebacks.
    """


def main() -> None:
    """The ``piq`` console script."""
    cli.main(prog_name="piq")
