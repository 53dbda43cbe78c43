"""What the commands print: tables, key-value pairs, times, durations, sizes, JSON,
and the full description of a job."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from .. import api
from ..console import clip as _clip
from ..console import duration_text as _duration
from ..engine import Engine
from ..execution.base import EngineExecutor
from ..jobs.access import Actor
from ..jobs.model import Job, JsonDict
from ..jobs.status import JobStatus

#: Result rows shown by ``show`` and ``run --wait``; ``export`` gives them all.
MAX_SHOWN_ROWS = 20


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
        if job.progress_estimated:
            eta = job.eta_s
            text += " est." if eta is None else f" est., ~{_duration(eta)} left"
        return f"{text} ({job.progress_message})" if job.progress_message else text
    return str(job.status)


def _credits_text(job: Job) -> str:
    if job.started_at is None and job.status.is_live:
        return f"~{job.estimated_credits}"
    return str(job.credits_charged)


def _input_summary(item: api.JobInputItem) -> JsonDict:
    lines = item.content.splitlines()
    return {
        "slot": item.slotId,
        "kind": item.kind,
        "format": item.format,
        "label": item.label if isinstance(item.label, str) else None,
        "source": item.source.model_dump(),
        "characters": len(item.content),
        "lines": len(lines),
        "first_line": _clip(lines[0], 80) if lines else "",
    }


def _job_row(job: api.Job) -> JsonDict:
    """What a history page shows of a job."""
    submitter = job.submitter
    return {
        "id": job.id,
        "name": job.name,
        "tool": job.tool,
        "status": str(job.status),
        "progress": job.progress,
        "duration_s": job.duration_s,
        "submitter": submitter.id if submitter.username is None else submitter.username,
        "estimated_credits": job.credits.estimated,
        "credits_charged": job.credits.charged,
        "created_at": job.created_at.isoformat(),
    }


def _job_detail(job: api.Job, *, files_dir: Path, events: int) -> JsonDict:
    """Everything about a job the actor may see, with each file's path on disk."""
    inputs = job.input.inputs if isinstance(job.input, api.JobInput) else []
    result = job.result if isinstance(job.result, api.ToolResult) else None
    data = _job_row(job)
    data.update(
        {
            "visibility": str(job.visibility),
            "progress_message": job.progress_message,
            "progress_estimated": job.progress_estimated,
            "eta_seconds": job.eta_seconds,
            "status_reason": job.status_reason,
            "error": job.error if isinstance(job.error, str) else None,
            "attempts": job.attempts,
            "origin_job_id": job.origin_job_id,
            "batch_id": job.batch_id,
            "max_credits": job.credits.max_credits,
            "budget_id": job.credits.budget_id,
            "updated_at": job.updated_at.isoformat(),
            "started_at": _iso(job.started_at),
            "finished_at": _iso(job.completed_at),
            "events": events,
            "contents_visible": job.permissions.see_contents,
            "inputs": [_input_summary(item) for item in inputs],
            "settings": job.settings if isinstance(job.settings, dict) else {},
            "result": None,
            "provenance": job.provenance.model_dump()
            if isinstance(job.provenance, api.JobProvenance)
            else None,
        }
    )
    if result is not None:
        data["result"] = {
            "fields": result.fields,
            "rows": result.rows,
            "files": [{**f.model_dump(), "path": str(files_dir / f.name)} for f in result.files],
        }
    return data


def _render_detail(data: JsonDict) -> str:
    out = [f"{data['id']}  {data['name']}"]
    progress = f"{data['progress']:.0%}"
    if data["progress_estimated"]:
        progress += " (estimated from past runs"
        if data["eta_seconds"] is not None:
            progress += f", about {_duration(data['eta_seconds'])} left"
        progress += ")"
    pairs: list[tuple[str, Any]] = [
        ("tool", data["tool"]),
        ("status", data["status"]),
        ("progress", progress),
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
            f"{data['credits_charged']} charged ({data['estimated_credits']} estimated"
            + (f", at most {data['max_credits']})" if data["max_credits"] is not None else ")"),
        ),
        ("attempts", data["attempts"]),
        ("events", data["events"]),
    ]
    if data["budget_id"]:
        pairs.append(("budget", data["budget_id"]))
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
    out += _provenance_lines(data["provenance"])
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
        out.append(f"files ({len(result['files'])})")
        cells = [[f["name"], f["format"], _size(f["size"]), f["path"]] for f in result["files"]]
        table = _table(["name", "format", "size", "path"], cells)
        out.append("\n".join("  " + line for line in table.splitlines()))
    return "\n".join(out)


def _provenance_lines(provenance: JsonDict | None) -> list[str]:
    """What ran the job: its tool's version, libraries, programs, weights, worker."""
    if not provenance:
        return []
    pairs: list[tuple[str, Any]] = []
    derived = provenance["derived_from"]
    if derived:
        pairs.append((f"{derived['how']} of", derived["job_id"]))
    tool = provenance["tool"]
    if tool is None:
        out = ["provenance"]
        out.append(_pairs(pairs, "  ") if pairs else "  - (recorded when the job runs)")
        return out
    pairs += [
        ("recorded", _when(_parse_iso(provenance["recorded_at"]))),
        ("attempt", provenance["attempt"]),
        ("tool", f"{tool['id']} {tool['version']}"),
    ]
    for item in provenance["software"]:
        where = f"  ({item['path']})" if item["path"] else ""
        pairs.append((item["name"], f"{item['version'] or 'unknown'}{where}"))
    for model in provenance["models"]:
        pairs.append((f"weights {model['name']}", model["location"]))
        pairs.append(("  fingerprint", model["fingerprint"]))
    worker = provenance["worker"]
    if worker:
        threads = f", {worker['threads']} thread(s)" if worker["threads"] else ""
        pairs += [
            ("worker", f"{worker['host']} ({worker['platform']}, Python {worker['python']})"),
            ("cpu", f"{worker['cpu'] or 'unknown'}, {worker['cpus']} CPU(s){threads}"),
            ("gpu", worker["gpu"]),
        ]
    prints = provenance["fingerprints"]
    if prints:
        pairs += [("inputs print", prints["inputs"]), ("settings print", prints["settings"])]
    return ["provenance", _pairs(pairs, "  ")]


def _parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _submitters(engine: Engine[EngineExecutor], actor: Actor) -> dict[str, str]:
    return {m.user.id: m.user.username for m in engine.service.members(actor)}


def _describe_job(engine: Engine[EngineExecutor], actor: Actor, job_id: str) -> JsonDict:
    view = engine.service.get(actor, job_id)
    events = len(engine.service.events(actor, job_id))
    return _job_detail(
        api.Job.of(view, _submitters(engine, actor)),
        files_dir=engine.service.files.job_dir(job_id),
        events=events,
    )
