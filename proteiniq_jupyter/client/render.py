"""Plain HTML summaries of jobs and job tables for notebooks (the widgets replace
them where they are installed). Every value shown is escaped."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from html import escape

from .. import api

_STATUS_COLOURS = {
    "COMPLETED": "#2e7d32",
    "FAILED": "#c62828",
    "TIMEOUT": "#c62828",
    "BUDGET_EXCEEDED": "#c62828",
    "CANCELLED": "#757575",
}


def ago(moment: datetime, now: datetime | None = None) -> str:
    """``3 min ago``, ``2 h ago``, ``just now``."""
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def progress_bar(progress: float, status: str) -> str:
    colour = _STATUS_COLOURS.get(status, "#1976d2")
    width = round(max(0.0, min(progress, 1.0)) * 100)
    return (
        '<div style="display:inline-block;width:120px;height:8px;background:#e0e0e0;'
        'border-radius:4px;vertical-align:middle">'
        f'<div style="width:{width}%;height:8px;background:{colour};border-radius:4px"></div>'
        "</div>"
    )


_CELL = "text-align:left"


def _estimate_note(job: api.Job) -> str:
    """ " (estimated, about 12 s left)" while the engine estimates the progress."""
    if not job.progress_estimated or job.status.is_terminal:
        return ""
    eta = job.eta_seconds
    return " (estimated" + (f", about {eta:.0f} s left)" if eta is not None else ")")


def job_html(job: api.Job, *, how: str | None = None, link: str | None = None) -> str:
    status = str(job.status)
    colour = _STATUS_COLOURS.get(status, "#1976d2")
    rows = [
        ("Job", f"<code>{escape(job.id)}</code>"),
        ("Tool", escape(job.tool)),
        (
            "Status",
            f'<b style="color:{colour}">{escape(status)}</b> '
            f"{progress_bar(job.progress, status)} {job.progress:.0%}"
            + (f" <i>{escape(job.progress_message)}</i>" if job.progress_message else "")
            + _estimate_note(job),
        ),
        ("Credits", f"{job.credits.charged} charged, {job.credits.estimated} estimated"),
        (
            "Created",
            f"{escape(job.created_at.isoformat(timespec='seconds'))} ({ago(job.created_at)})",
        ),
    ]
    error = job.error if isinstance(job.error, str) else None
    if error:
        rows.append(("Error", f'<span style="color:#c62828">{escape(error)}</span>'))
    if how:
        rows.append(("", f"<i>{escape(how)}</i>"))
    if link:
        rows.append(
            ("Open", f'<a href="{escape(link, quote=True)}" target="_blank">in JupyterLab</a>')
        )
    body = "".join(
        f'<tr><th style="{_CELL};padding-right:1em">{k}</th><td style="{_CELL}">{v}</td></tr>'
        for k, v in rows
    )
    return f'<div class="piq-job"><b>{escape(job.name)}</b><table>{body}</table></div>'


def jobs_html(jobs: Iterable[api.Job], *, more: bool) -> str:
    head = "".join(
        f'<th style="text-align:left">{h}</th>'
        for h in ("id", "name", "tool", "status", "progress", "credits", "created", "by")
    )
    rows = []
    for job in jobs:
        status = str(job.status)
        rows.append(
            "<tr>"
            f"<td><code>{escape(job.id)}</code></td><td>{escape(job.name)}</td>"
            f"<td>{escape(job.tool)}</td>"
            f'<td style="color:{_STATUS_COLOURS.get(status, "#1976d2")}">{escape(status)}</td>'
            f"<td>{progress_bar(job.progress, status)}</td><td>{job.credits.charged}</td>"
            f"<td>{escape(ago(job.created_at))}</td>"
            f"<td>{escape(job.submitter.username or job.submitter.id)}</td>"
            "</tr>"
        )
    tail = "<p><i>more: iterate, or ask for a page with limit=</i></p>" if more else ""
    return f'<table class="piq-jobs"><tr>{head}</tr>{"".join(rows)}</table>{tail}'


def batch_html(batch: api.Batch) -> str:
    counts = ", ".join(f"{n} {escape(str(s))}" for s, n in batch.counts.items() if n)
    rows = [
        ("Batch", f"<code>{escape(batch.id)}</code>"),
        ("Tool", escape(batch.tool)),
        (
            "Status",
            f"<b>{escape(batch.status)}</b> {progress_bar(batch.progress, batch.status)} "
            f"{batch.progress:.0%} ({counts})",
        ),
        ("Credits", f"{batch.reserved_credits} reserved, {batch.credits_charged} charged"),
    ]
    body = "".join(
        f'<tr><th style="{_CELL};padding-right:1em">{k}</th><td style="{_CELL}">{v}</td></tr>'
        for k, v in rows
    )
    return f'<div class="piq-batch"><b>{escape(batch.name)}</b><table>{body}</table></div>'
