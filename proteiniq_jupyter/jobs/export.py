"""A job's results as a table (CSV, pandas) or as a JSON envelope. The columns come
from the tool's result fields; a job with a per-item table gives one line per item.

The envelope is a document people keep, so its shape is written out here; its
inputs and files have the API's shapes, which a test holds it to."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from . import provenance
from .model import Job, JobInput, JsonDict, ResultFile

METADATA_COLUMNS = ("job_id", "job_name", "tool", "status", "created_at", "completed_at")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return value


def job_rows(job: Job) -> list[JsonDict]:
    """The job's results as rows: metadata, then its fields, then the item columns."""
    meta: JsonDict = {
        "job_id": job.id,
        "job_name": job.name,
        "tool": job.tool,
        "status": str(job.status),
        "created_at": _iso(job.created_at),
        "completed_at": _iso(job.finished_at),
    }
    fields = dict(job.result.fields) if job.result else {}
    items = list(job.result.rows) if job.result else []
    if not items:
        return [{**meta, **fields}]
    return [{**meta, **fields, **item} for item in items]


def columns(rows: Iterable[JsonDict]) -> list[str]:
    """Column order: metadata first, then every other key in first-seen order."""
    seen: dict[str, None] = dict.fromkeys(METADATA_COLUMNS)
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def to_csv(jobs: Iterable[Job]) -> str:
    rows = [row for job in jobs for row in job_rows(job)]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns(rows), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def to_json(job: Job, *, exported_at: datetime) -> JsonDict:
    """The JSON envelope: enough to understand and reproduce the run."""
    return {
        "object": "job_export",
        "job_id": job.id,
        "name": job.name,
        "tool": job.tool,
        "status": str(job.status),
        "created_at": _iso(job.created_at),
        "completed_at": _iso(job.finished_at),
        "exported_at": _iso(exported_at),
        "settings": job.settings,
        "inputs": [input_record(i) for i in job.inputs],
        "credits_used": job.credits_charged,
        "results": {
            "fields": dict(job.result.fields) if job.result else {},
            "rows": list(job.result.rows) if job.result else [],
        },
        "files": [_file(f) for f in job.result.files] if job.result else [],
        "provenance": provenance.record(job.provenance),
    }


def input_record(item: JobInput) -> JsonDict:
    """An input as the envelope lists it (and a request's fingerprint hashes it)."""
    source: JsonDict = {"type": "text"}
    if item.file_id:
        source = {"type": "file", "file_id": item.file_id}
    elif item.pdb_id is not None:
        source = {"type": "pdb", "id": item.pdb_id}
    data: JsonDict = {
        "id": item.id,
        "slotId": item.slot_id,
        "kind": item.kind,
        "format": item.format,
        "content": item.content,
        "source": source,
    }
    if item.label is not None:
        data["label"] = item.label
    return data


def _file(file: ResultFile) -> JsonDict:
    return {
        "name": file.name,
        "format": file.format,
        "size": file.size,
        "content_type": file.content_type,
    }


def to_dataframe(jobs: Iterable[Job]) -> Any:
    """The same table as the CSV, as a pandas DataFrame (pandas is optional)."""
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "to_dataframe needs pandas: pip install 'proteiniq-jupyter[pandas]'"
        ) from exc
    rows = [row for job in jobs for row in job_rows(job)]
    frame = pd.DataFrame(rows, columns=columns(rows))
    for name in ("created_at", "completed_at"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame
