"""A job's results as a table (CSV, pandas) or as a JSON envelope. The columns come
from the tool's result fields; a job with a per-item table gives one line per item."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from .model import Job, JsonDict

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
        "inputs": [i.to_api() for i in job.inputs],
        "credits_used": job.credits_charged,
        "results": {
            "fields": dict(job.result.fields) if job.result else {},
            "rows": list(job.result.rows) if job.result else [],
        },
        "files": [f.to_api() for f in job.result.files] if job.result else [],
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
