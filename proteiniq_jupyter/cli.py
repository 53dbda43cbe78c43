"""``piq``: the job system from a shell.

Each command parses its arguments, opens the engine, calls one ``JobService`` method
and renders what comes back; every rule (prices, permissions, legal status changes,
validation) lives in the service, so the shell, the notebook and the server give the
same answers. Errors are one line on standard error and a non-zero exit status:
1 for a refusal of the job system, 2 for a command line that could not be parsed.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from . import __version__
from .config import EngineConfig
from .engine import Engine, open_engine
from .jobs.access import Actor
from .jobs.errors import PiqError
from .jobs.model import (
    BatchSummary,
    Job,
    JobEvent,
    JobInput,
    JsonDict,
    Quote,
    Role,
    Share,
    Visibility,
)
from .jobs.ports import JobFilter, LedgerEntry
from .jobs.status import JobStatus
from .tools.base import InputSlot, Tool

#: How often a waiting command looks at its job.
POLL_INTERVAL_S = 0.1
#: Result rows shown by ``show`` and ``run --wait``; ``export`` gives them all.
MAX_SHOWN_ROWS = 20
#: File extensions that name a format other than themselves.
FORMAT_ALIASES = {
    "fa": "fasta",
    "faa": "fasta",
    "fas": "fasta",
    "fna": "fasta",
    "fsa": "fasta",
    "cif": "mmcif",
    "ent": "pdb",
    "smi": "smiles",
    "mol": "sdf",
    "txt": "text",
}
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


# -- the engine ---------------------------------------------------------------


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the configured database"


@contextmanager
def _engine(*, detached: bool = False, executor: str = "inprocess") -> Iterator[Engine]:
    """The engine from the environment, closed when the command is done. A command
    that waits for its job runs it here; one that does not hands it to a detached
    process; ``piq engine`` runs the configured executor (Dask by default)."""
    try:
        config = EngineConfig.from_env()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        engine = open_engine(config, executor="detached" if detached else executor)
    except OperationalError as exc:
        raise click.ClickException(
            f"cannot open the job database {_safe_url(config.database_url)}: "
            f"{_first_line(str(exc.orig or exc))}"
        ) from None
    try:
        yield engine
    finally:
        engine.close()


# -- rendering ----------------------------------------------------------------


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))
    lines = ["  ".join(h.upper().ljust(widths[i]) for i, h in enumerate(headers)).rstrip()]
    for row in cells:
        lines.append("  ".join(v.ljust(widths[i]) for i, v in enumerate(row)).rstrip())
    return "\n".join(lines)


def _pairs(pairs: Sequence[tuple[str, Any]], indent: str = "") -> str:
    width = max((len(k) for k, _ in pairs), default=0)
    return "\n".join(f"{indent}{k.ljust(width)}  {_cell(v)}".rstrip() for k, v in pairs)


def _status_text(job: Job) -> str:
    if job.status is JobStatus.PROCESSING:
        text = f"{job.status} {job.progress:.0%}"
        return f"{text} ({job.progress_message})" if job.progress_message else text
    return str(job.status)


def _credits_text(job: Job) -> str:
    if job.started_at is None and job.status.is_live:
        return f"~{job.estimated_credits}"
    return str(job.credits_charged)


def _input_summary(item: JobInput) -> JsonDict:
    lines = item.content.splitlines()
    return {
        "slot": item.slot_id,
        "kind": item.kind,
        "format": item.format,
        "label": item.label,
        "source": item.to_api()["source"],
        "characters": len(item.content),
        "lines": len(lines),
        "first_line": _clip(lines[0], 80) if lines else "",
    }


def _job_row(job: Job, submitters: Mapping[str, str]) -> JsonDict:
    """What a history page shows of a job."""
    return {
        "id": job.id,
        "name": job.name,
        "tool": job.tool,
        "status": str(job.status),
        "progress": job.progress,
        "duration_s": job.duration_s,
        "submitter": submitters.get(job.submitter_id, job.submitter_id),
        "estimated_credits": job.estimated_credits,
        "credits_charged": job.credits_charged,
        "created_at": _iso(job.created_at),
    }


def _job_detail(
    job: Job,
    *,
    files_dir: Path,
    submitters: Mapping[str, str],
    events: int,
    contents: bool,
) -> JsonDict:
    """Everything about a job the actor may see, with each file's path on disk."""
    data = _job_row(job, submitters)
    data.update(
        {
            "visibility": str(job.visibility),
            "progress_message": job.progress_message,
            "status_reason": job.status_reason,
            "error": job.error,
            "attempts": job.attempts,
            "origin_job_id": job.origin_job_id,
            "batch_id": job.batch_id,
            "updated_at": _iso(job.updated_at),
            "started_at": _iso(job.started_at),
            "finished_at": _iso(job.finished_at),
            "events": events,
            "contents_visible": contents,
            "inputs": [_input_summary(item) for item in job.inputs],
            "settings": job.settings,
            "result": None,
        }
    )
    if job.result is not None:
        data["result"] = {
            "fields": job.result.fields,
            "rows": job.result.rows,
            "files": [{**f.to_api(), "path": str(files_dir / f.name)} for f in job.result.files],
        }
    return data


def _render_detail(data: JsonDict) -> str:
    out = [f"{data['id']}  {data['name']}"]
    pairs: list[tuple[str, Any]] = [
        ("tool", data["tool"]),
        ("status", data["status"]),
        ("progress", f"{data['progress']:.0%}"),
    ]
    if data["progress_message"]:
        pairs.append(("progress message", data["progress_message"]))
    if data["status_reason"]:
        pairs.append(("reason", data["status_reason"]))
    if data["error"]:
        pairs.append(("error", data["error"]))
    pairs += [
        ("submitter", data["submitter"]),
        ("visibility", data["visibility"]),
        ("created", _when(_parse_iso(data["created_at"]))),
        ("started", _when(_parse_iso(data["started_at"]))),
        ("finished", _when(_parse_iso(data["finished_at"]))),
        ("duration", _duration(data["duration_s"])),
        (
            "credits",
            f"{data['credits_charged']} charged ({data['estimated_credits']} estimated)",
        ),
        ("attempts", data["attempts"]),
        ("events", data["events"]),
    ]
    if data["origin_job_id"]:
        pairs.append(("from job", data["origin_job_id"]))
    out.append(_pairs(pairs, "  "))
    if not data["contents_visible"]:
        out.append("(inputs, settings and results are visible to the submitter only)")
        return "\n".join(out)
    out.append("inputs")
    for item in data["inputs"]:
        label = f"  {item['label']}" if item["label"] else ""
        source = item["source"]
        origin = f"  (PDB entry {source['id']})" if source["type"] == "pdb" else ""
        out.append(
            f"  {item['slot']}  {item['format']}{label}{origin}  "
            f"{item['characters']} characters, {item['lines']} line(s)"
        )
    out.append("settings")
    out.append(_pairs(sorted(data["settings"].items()), "  ") if data["settings"] else "  -")
    result = data["result"]
    if result is None:
        return "\n".join(out)
    out.append("result")
    fields = list(result["fields"].items())
    out.append(_pairs(fields, "  ") if fields else "  -")
    rows: list[JsonDict] = result["rows"]
    if rows:
        headers = list(dict.fromkeys(key for row in rows for key in row))
        shown = rows[:MAX_SHOWN_ROWS]
        out.append(f"rows ({len(rows)})")
        table = _table(headers, [[row.get(h) for h in headers] for row in shown])
        out.append("\n".join("  " + line for line in table.splitlines()))
        if len(rows) > len(shown):
            out.append(f"  ... {len(rows) - len(shown)} more (piq export {data['id']})")
    if result["files"]:
        out.append("files")
        for f in result["files"]:
            out.append(f"  {f['name']}  {f['format']}  {_size(f['size'])}  {f['path']}")
    return "\n".join(out)


def _parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _submitters(engine: Engine, actor: Actor) -> dict[str, str]:
    return {m.user.id: m.user.username for m in engine.service.members(actor)}


def _describe_job(engine: Engine, actor: Actor, job_id: str) -> JsonDict:
    view = engine.service.get(actor, job_id)
    events = len(engine.service.events(actor, job_id))
    return _job_detail(
        view.job,
        files_dir=engine.service.files.job_dir(job_id),
        submitters=_submitters(engine, actor),
        events=events,
        contents=view.permissions.see_contents,
    )


# -- parsing ------------------------------------------------------------------


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _parse_settings(pairs: Sequence[str], settings_json: str | None) -> JsonDict | None:
    """``--settings-json`` first, then each ``--set key=value`` over it."""
    settings: JsonDict = {}
    if settings_json:
        try:
            loaded = json.loads(settings_json)
        except ValueError as exc:
            raise click.UsageError(f"--settings-json is not JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise click.UsageError("--settings-json must be a JSON object")
        settings.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"--set takes KEY=VALUE, got {pair!r}")
        settings[key.strip()] = _parse_value(value)
    return settings or None


def _format_for(slot: InputSlot | None, path: Path | None) -> str:
    """The file's extension when the slot takes it (or a synonym of it), otherwise
    the slot's first format."""
    if slot is None:
        return path.suffix.lstrip(".").lower() if path is not None else ""
    if path is not None:
        ext = path.suffix.lstrip(".").lower()
        for candidate in (ext, FORMAT_ALIASES.get(ext)):
            if candidate and candidate in slot.formats:
                return candidate
    return slot.formats[0] if slot.formats else ""


def _read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise click.UsageError(f"no such input file: {path}") from None
    except IsADirectoryError:
        raise click.UsageError(f"input {path} is a folder, not a file") from None
    except UnicodeDecodeError:
        raise click.UsageError(f"input file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise click.UsageError(f"cannot read input file {path}: {exc.strerror}") from None


def _parse_inputs(tool: Tool, pairs: Sequence[str], bare: Sequence[str]) -> list[JobInput]:
    """``--input SLOT=@path``, ``--input SLOT=pdb:ID`` (a structure slot: the entry
    is fetched at submit) and ``--input SLOT=text``; a bare argument goes to the
    tool's first slot (read as a file when such a file exists). Slot names and
    formats are not checked here: the tool reports them with the other problems."""
    slots = {slot.id: slot for slot in tool.slots}
    items: list[tuple[str, str, Path | None, str | None]] = []
    for pair in pairs:
        slot_id, sep, value = pair.partition("=")
        slot_id = slot_id.strip()
        if not sep or not slot_id:
            raise click.UsageError(
                f"--input takes SLOT=@FILE, SLOT=pdb:ID or SLOT=TEXT, got {pair!r}"
            )
        slot = slots.get(slot_id)
        if value.startswith("@"):
            path = Path(value[1:]).expanduser()
            items.append((slot_id, _read_file(path), path, None))
        elif value.lower().startswith("pdb:") and slot is not None and slot.kind == "structure":
            items.append((slot_id, "", None, value[4:].strip()))
        else:
            items.append((slot_id, value, None, None))
    for value in bare:
        if not tool.slots:
            raise click.UsageError(f"{tool.id} takes no inputs")
        candidate = Path(value).expanduser()
        if candidate.is_file():
            items.append((tool.slots[0].id, _read_file(candidate), candidate, None))
        else:
            items.append((tool.slots[0].id, value, None, None))
    inputs: list[JobInput] = []
    counts: dict[str, int] = {}
    for slot_id, content, source, pdb_id in items:
        counts[slot_id] = counts.get(slot_id, 0) + 1
        slot = slots.get(slot_id)
        inputs.append(
            JobInput(
                id=f"{slot_id}_{counts[slot_id]}",
                slot_id=slot_id,
                kind=slot.kind if slot is not None else "",
                format="pdb" if pdb_id is not None else _format_for(slot, source),
                content=content,
                label=source.name if source is not None else None,
                pdb_id=pdb_id,
            )
        )
    return inputs


# -- waiting ------------------------------------------------------------------


class _Progress:
    """Progress of a waiting command on standard error: a redrawn bar on a terminal,
    one line per status change otherwise (logs, pipes, CI)."""

    WIDTH = 30

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.tty = sys.stderr.isatty()
        self.last: str | None = None

    def update(self, job: Job) -> None:
        if self.tty:
            filled = round(job.progress * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            line = f"[{bar}] {job.progress:4.0%}  {job.status}"
            if job.progress_message:
                line += f"  {_clip(job.progress_message, 40)}"
            if line != self.last:
                click.echo(f"\r\x1b[2K{line}", err=True, nl=False)
        else:
            line = str(job.status)
            if line != self.last:
                click.echo(f"{self.job_id}: {line}", err=True)
        self.last = line

    def close(self) -> None:
        if self.tty and self.last is not None:
            click.echo("", err=True)


def _follow(engine: Engine, actor: Actor, job_id: str) -> Job:
    """Wait for the job to end, showing its progress. Interrupting cancels the job,
    which would otherwise be left running with nobody to finish it."""
    progress = _Progress(job_id)
    try:
        while True:
            job = engine.service.get(actor, job_id).job
            progress.update(job)
            if job.status.is_terminal:
                return job
            time.sleep(POLL_INTERVAL_S)
    except KeyboardInterrupt:
        engine.service.cancel(actor, job_id)
        _error(f"interrupted; job {job_id} cancelled")
        sys.exit(130)
    finally:
        progress.close()


def _finish(engine: Engine, actor: Actor, job: Job, wait: bool) -> None:
    """Print the new job's id; when waiting, its outcome, exiting 1 unless it completed."""
    click.echo(job.id)
    if not wait:
        return
    done = _follow(engine, actor, job.id)
    click.echo(_render_detail(_describe_job(engine, actor, done.id)))
    if done.status is not JobStatus.COMPLETED:
        reason = done.error or done.status_reason
        _error(f"job {done.id} ended {done.status}" + (f": {reason}" if reason else ""))
        sys.exit(1)


# -- commands -----------------------------------------------------------------

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
wait_option = click.option(
    "--wait",
    is_flag=True,
    help="Run here and wait, showing progress; exit 1 unless the job completes.",
)
set_option = click.option(
    "--set",
    "set_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A setting; VALUE is read as JSON when it parses, else as text.",
)
settings_json_option = click.option(
    "--settings-json", metavar="JSON", help="Settings as a JSON object (--set overrides)."
)
input_option = click.option(
    "--input",
    "-i",
    "input_pairs",
    multiple=True,
    metavar="SLOT=@FILE|SLOT=pdb:ID|SLOT=TEXT",
    help="An input item: a file (format from its extension), a PDB entry for a "
    "structure slot (fetched when the job is submitted), or literal text.",
)
inputs_argument = click.argument("inputs", nargs=-1, metavar="[INPUT]...")


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


@cli.group("tools", invoke_without_command=True)
@json_option
@click.pass_context
def tools_group(ctx: click.Context, as_json: bool) -> None:
    """List the tools this installation can run."""
    if ctx.invoked_subcommand is not None:
        return
    with _engine() as engine:
        tools = list(engine.tools)
    if as_json:
        _echo_json([tool.summary() for tool in tools])
        return
    rows = [
        [t.id, t.name, t.category, "free" if t.is_free() else t.credit_description] for t in tools
    ]
    click.echo(_table(["id", "name", "category", "credits"], rows))


@tools_group.command("show")
@click.argument("tool_id", metavar="ID")
@json_option
def tools_show(tool_id: str, as_json: bool) -> None:
    """A tool's inputs, settings (with defaults) and outputs."""
    with _engine() as engine:
        tool = engine.tools.get(tool_id)
    detail = tool.detail()
    if as_json:
        _echo_json(detail)
        return
    credit = detail["credit_model"]
    out = [
        f"{detail['id']}  {detail['name']}",
        f"  {detail['description']}",
        _pairs(
            [
                ("category", detail["category"]),
                ("credits", "free" if credit["is_free"] else credit["description"]),
                ("gpu", detail["processing"]["gpu"]),
                ("time limit", _duration(detail["processing"]["time_limit_s"])),
            ],
            "  ",
        ),
        "inputs",
    ]
    for slot in tool.slots:
        need = "required" if slot.required else "optional"
        out.append(
            f"  {slot.id}  {slot.kind}  {', '.join(slot.formats)}  {need}, "
            f"at most {slot.max_items}  {slot.label}"
        )
        if slot.description:
            out.append(f"      {slot.description}")
    out.append("settings")
    settings = _settings_rows(detail["input"]["settings"])
    out.append(
        "\n".join(
            "  " + line
            for line in _table(["name", "type", "default", "about"], settings).splitlines()
        )
        if settings
        else "  -"
    )
    out.append("outputs")
    outputs = [[f.name, f.unit or "", f.description] for f in tool.outputs]
    out.append(
        "\n".join("  " + line for line in _table(["name", "unit", "about"], outputs).splitlines())
        if outputs
        else "  -"
    )
    if detail["limits"]:
        out.append("limits")
        out.append(_pairs(list(detail["limits"].items()), "  "))
    click.echo("\n".join(out))


def _settings_rows(schema: JsonDict) -> list[list[Any]]:
    """One row per setting from the tool's JSON schema: name, type, default, and the
    description with its allowed values or bounds."""
    definitions = schema.get("$defs", {})
    rows: list[list[Any]] = []
    for name, prop in schema.get("properties", {}).items():
        if "$ref" in prop:
            prop = {**definitions.get(prop["$ref"].rsplit("/", 1)[-1], {}), **prop}
        variants = prop.get("anyOf") or [prop]
        types = [v.get("type", "") for v in variants if v.get("type")]
        about: list[str] = [prop.get("description", "")]
        choices = prop.get("enum")
        if choices:
            about.append(f"one of {', '.join(map(str, choices))}")
        bounds = [
            f"{symbol} {prop[key]}"
            for key, symbol in (
                ("minimum", ">="),
                ("exclusiveMinimum", ">"),
                ("maximum", "<="),
                ("exclusiveMaximum", "<"),
            )
            if key in prop
        ]
        if bounds:
            about.append(" and ".join(bounds))
        rows.append(
            [
                name,
                " | ".join(types) or "any",
                json.dumps(prop["default"]) if "default" in prop else "(required)",
                "; ".join(a for a in about if a),
            ]
        )
    return rows


def _render_quote(quote: Quote) -> str:
    out = [
        _pairs(
            [
                ("tool", quote.tool),
                ("estimated credits", quote.estimated_credits),
                ("available credits", quote.available_credits),
                ("billable credits", quote.billable_credits),
            ]
        )
    ]
    if quote.estimate.lines:
        out.append("breakdown")
        for line in quote.estimate.lines:
            out.append(f"  {line.label}: {line.quantity:g} x {line.unit_credits} = {line.credits}")
    if quote.blocking_errors:
        out.append("cannot run")
        for error in quote.blocking_errors:
            out.append(f"  {error.get('message', error)}")
    return "\n".join(out)


@cli.command()
@click.argument("tool_id", metavar="TOOL")
@inputs_argument
@input_option
@set_option
@settings_json_option
@json_option
def quote(
    tool_id: str,
    inputs: tuple[str, ...],
    input_pairs: tuple[str, ...],
    set_pairs: tuple[str, ...],
    settings_json: str | None,
    as_json: bool,
) -> None:
    """What a run would cost, and what stops it from running now (exit 1 if anything)."""
    settings = _parse_settings(set_pairs, settings_json)
    with _engine() as engine:
        tool = engine.tools.get(tool_id)
        items = _parse_inputs(tool, input_pairs, inputs)
        result = engine.service.quote(engine.actor(), tool_id, items, settings)
    if as_json:
        _echo_json(result.to_api())
    else:
        click.echo(_render_quote(result))
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
@wait_option
def run(
    tool_id: str,
    inputs: tuple[str, ...],
    input_pairs: tuple[str, ...],
    set_pairs: tuple[str, ...],
    settings_json: str | None,
    name: str | None,
    idempotency_key: str | None,
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
            actor, tool_id, items, settings, name=name, idempotency_key=idempotency_key
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
@click.option("--limit", type=int, default=20, show_default=True, help="Jobs per page.")
@click.option("--after", "cursor", metavar="CURSOR", help="The page after this cursor.")
@json_option
def jobs_command(
    tool: str | None,
    statuses: tuple[str, ...],
    mine: bool,
    search: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """The workspace's job history, newest first."""
    with _engine() as engine:
        actor = engine.actor()
        job_filter = JobFilter(
            tool=tool,
            statuses=tuple(JobStatus(s.upper()) for s in statuses),
            submitter_id=actor.user_id if mine else None,
            name_contains=search,
        )
        page = engine.service.list_jobs(actor, job_filter, starting_after=cursor, limit=limit)
        submitters = _submitters(engine, actor)
    jobs = [view.job for view in page.items]
    if as_json:
        _echo_json(
            {"items": [_job_row(j, submitters) for j in jobs], "next_cursor": page.next_cursor}
        )
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
        click.echo(f"next page: --after {page.next_cursor}")


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
@click.option("--name", help="A name for the new job (default: the old name, copied).")
@wait_option
def duplicate(
    job_id: str,
    set_pairs: tuple[str, ...],
    settings_json: str | None,
    name: str | None,
    wait: bool,
) -> None:
    """Run a completed job again as a new job, optionally with other settings."""
    settings = _parse_settings(set_pairs, settings_json)
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
        _echo_json(account.to_api())
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
            ]
        )
    )


@credits_group.command("grant")
@click.argument("amount", type=int)
@click.option("--note", help="Why the credits were added (kept in the ledger).")
def credits_grant(amount: int, note: str | None) -> None:
    """Add credits to the workspace (owners and admins)."""
    with _engine() as engine:
        balance = engine.service.grant_credits(engine.actor(), amount, note=note)
    click.echo(f"available: {balance} credits")


def _ledger_row(entry: LedgerEntry) -> list[Any]:
    delta = f"+{entry.delta}" if entry.delta > 0 else str(entry.delta)
    return [_when(entry.created_at), entry.kind, delta, entry.job_id or "", entry.note or ""]


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


@cli.group("batch")
def batch_group() -> None:
    """Run one tool over many items, each item its own job, as one batch."""


def _render_batch(summary: BatchSummary) -> str:
    data = summary.to_api()
    counts = ", ".join(f"{n} {status}" for status, n in sorted(data["counts"].items()))
    return _pairs(
        [
            ("batch", data["id"]),
            ("name", data["name"]),
            ("tool", data["tool"]),
            ("status", data["status"]),
            ("progress", f"{data['progress']:.0%}"),
            ("children", f"{data['total']} ({counts})"),
            ("credits", f"{data['credits_charged']} charged of {data['reserved_credits']} held"),
        ]
    )


def _follow_batch(engine: Engine, actor: Actor, batch_id: str) -> BatchSummary:
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
    if as_json:
        _echo_json(
            {**summary.to_api(), "children": [_job_row(v.job, submitters) for v in children]}
        )
        return
    click.echo(_render_batch(summary))
    rows = [list(_job_row(v.job, submitters).values()) for v in reversed(children)]
    if rows:
        click.echo()
        click.echo(_table(list(_job_row(children[0].job, submitters)), rows))


@batch_group.command("list")
@json_option
def batch_list(as_json: bool) -> None:
    """The workspace's batches, newest first."""
    with _engine() as engine:
        summaries, _ = engine.service.list_batches(engine.actor(), limit=100)
    if as_json:
        _echo_json([s.to_api() for s in summaries])
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


@cli.command("config")
@json_option
def config_command(as_json: bool) -> None:
    """The configuration in force (from PIQ_* variables), as an operator sees it."""
    try:
        config = EngineConfig.from_env()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    data = {
        "database": _safe_url(config.database_url),
        "data_dir": str(config.data_dir),
        "user": config.username,
        "email": config.email,
        "executor": config.executor,
        "dask_scheduler_address": config.dask_scheduler_address or "embedded LocalCluster",
        "dask_workers": config.dask_workers or f"{os.cpu_count()} (one per core)",
        "max_attempts": config.max_attempts,
        "batch_concurrency": config.batch_concurrency,
        "time_limits": dict(config.time_limits) or "each tool's own",
        "lease_ttl_s": config.lease_ttl_s,
        "recovery_interval_s": config.recovery_interval_s,
        "starting_credits": config.starting_credits,
        "extra_tools": list(config.extra_tools),
        "preload_tools": list(config.preload_tools),
    }
    if as_json:
        _echo_json(data)
        return
    click.echo(_pairs([(k, v) for k, v in data.items()]))


@cli.command("engine")
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="A remote Dask scheduler (default: PIQ_DASK_SCHEDULER_ADDRESS, else an "
    "embedded cluster on 127.0.0.1).",
)
@click.option("--workers", type=click.IntRange(min=1), help="Workers of the embedded cluster.")
@click.option(
    "--attempts", type=click.IntRange(min=1), help="Attempts before a job fails (default 3)."
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
    help="Batch children of one workspace running at once (default 3).",
)
def engine_command(
    scheduler: str | None,
    workers: int | None,
    attempts: int | None,
    time_limits: tuple[str, ...],
    batch_concurrency: int | None,
) -> None:
    """Run jobs: dispatch every waiting job to Dask and recover lost ones, until
    interrupted. Several engines may share one PostgreSQL database."""
    import dataclasses
    import signal
    import threading

    from .execution.dask_executor import DaskExecutor

    try:
        config = EngineConfig.from_env()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    limits = dict(config.time_limits)
    for pair in time_limits:
        tool, sep, seconds = pair.partition("=")
        try:
            limits[tool.strip()] = float(seconds)
        except ValueError:
            raise click.UsageError(f"--time-limit takes TOOL=SECONDS, got {pair!r}") from None
        if not sep or not tool.strip():
            raise click.UsageError(f"--time-limit takes TOOL=SECONDS, got {pair!r}")
    config = dataclasses.replace(
        config,
        executor="dask",
        dask_scheduler_address=scheduler or config.dask_scheduler_address,
        dask_workers=workers or config.dask_workers,
        max_attempts=attempts or config.max_attempts,
        batch_concurrency=batch_concurrency or config.batch_concurrency,
        time_limits=tuple(limits.items()),
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    engine = open_engine(config)
    try:
        executor = engine.executor
        assert isinstance(executor, DaskExecutor)
        executor.start()
        click.echo(
            f"piq engine {executor.engine_id}: Dask scheduler {executor.scheduler_address}, "
            f"database {_safe_url(config.database_url)}",
            err=True,
        )
        stop.wait()
    finally:
        engine.close()


if __name__ == "__main__":
    main()
