"""Finding a prediction program and its weights, running it in the job's folder with
its output logged and read as progress, and failing with the end of its log."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from ..base import RunContext

#: Shared by both tools: a self-hosted ColabFold MMseqs2 server for MSA building.
MSA_SERVER_ENV = "PIQ_MSA_SERVER_URL"
#: How many lines of the program's log a failed job's message shows.
LOG_TAIL_LINES = 15
LOG_TAIL_CHARS = 2500

# -- the program and its weights ---------------------------------------------


def configured_dir(env_vars: Sequence[str], default: Path) -> tuple[Path, str]:
    """The folder named by the first of ``env_vars`` that is set, else ``default``;
    with a phrase saying where it came from, for messages."""
    for name in env_vars:
        value = os.environ.get(name, "").strip()
        if value:
            return Path(value).expanduser(), f"{name}={value}"
    return default, f"the default {default}, as none of {', '.join(env_vars)} is set"


def msa_server_url() -> str | None:
    """The MSA server the operator chose, if any (otherwise each program's default)."""
    return os.environ.get(MSA_SERVER_ENV, "").strip() or None


# -- running the program -----------------------------------------------------


class PredictionFailed(RuntimeError):
    """The program could not run, failed, or left no usable output. The message
    says which and shows the end of its log."""


#: Reads one output line of the program; returns (fraction of the program's run
#: done, message) when the line says something about progress.
ProgressParser = Callable[[str], tuple[float, str] | None]

_LINE_BREAK = re.compile(rb"[\r\n]")
_PROGRESS_BAR = re.compile(r"\d+%\|")


def run_program(
    command: Sequence[str],
    context: RunContext,
    *,
    log_name: str,
    parse_progress: ProgressParser | None = None,
    span: tuple[float, float] = (0.05, 0.95),
) -> Path:
    """Run ``command`` in the job's folder, its stdout and stderr streamed into
    ``log_name`` there, and report progress from its lines into ``span`` of the
    job's progress. Returns the log's path.

    The program stays in the job's process group, so cancelling the job or its time
    limit stops it too. Raises PredictionFailed when it cannot start or exits with a
    non-zero status, with the last lines of its log in the message.
    """
    workdir = context.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / log_name
    low, high = span
    reached = low
    program = Path(command[0]).name
    with log_path.open("wb") as log:
        log.write(f"$ {shlex.join(command)}\n".encode())
        log.flush()
        try:
            process = subprocess.Popen(
                list(command),
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        except OSError as exc:
            raise PredictionFailed(f"{program} could not be started: {exc}") from exc
        assert process.stdout is not None
        pending = b""
        try:
            while chunk := os.read(process.stdout.fileno(), 65536):
                log.write(chunk)
                log.flush()
                *lines, pending = _LINE_BREAK.split(pending + chunk)
                for raw in lines:
                    reached = _feed(raw, parse_progress, context, low, high, reached)
            _feed(pending, parse_progress, context, low, high, reached)
            status = process.wait()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
    if status != 0:
        how = f"was stopped by signal {-status}" if status < 0 else f"exited with status {status}"
        raise PredictionFailed(f"{program} {how}; {tail_message(log_path)}")
    return log_path


def _feed(
    raw: bytes,
    parse: ProgressParser | None,
    context: RunContext,
    low: float,
    high: float,
    reached: float,
) -> float:
    """Report one output line's progress; progress never goes backwards."""
    text = raw.decode("utf-8", "replace").strip()
    if parse is None or not text:
        return reached
    found = parse(text)
    if found is None:
        return reached
    fraction, message = found
    reached = max(reached, low + (high - low) * min(1.0, max(0.0, fraction)))
    context.progress(reached, message)
    return reached


def log_tail(path: Path, lines: int = LOG_TAIL_LINES, max_chars: int = LOG_TAIL_CHARS) -> str:
    """The last non-blank lines of a log, a redrawn progress bar counted once."""
    try:
        data = path.read_bytes()[-65536:]
    except OSError:
        return ""
    kept: list[str] = []
    for line in re.split(r"[\r\n]", data.decode("utf-8", "replace")):
        line = line.rstrip()
        if not line.strip():
            continue
        if kept and _PROGRESS_BAR.search(line) and _PROGRESS_BAR.search(kept[-1]):
            kept[-1] = line
        else:
            kept.append(line)
    return "\n".join(kept[-lines:])[-max_chars:]


def tail_message(log_path: Path) -> str:
    tail = log_tail(log_path)
    if not tail:
        return f"{log_path.name} is empty"
    return f"the last lines of {log_path.name}:\n{tail}"
