"""Public job pages: a read-only page (and its JSON) for a job shared as public,
reachable without a Jupyter login. Anything not public answers 404, exactly as a
job that does not exist."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import quote

from jupyter_server.utils import url_path_join

from .. import api
from ..api.scene import VIEWER_FORMATS, docking
from ..jobs.access import Actor
from ..jobs.errors import NotFound
from ..jobs.model import Job
from ..jobs.reading import JobView
from ..links import SERVER_PUBLIC_PATH
from .base import ApiError, PiqHandler, public
from .ratelimit import Decision

STATIC = Path(__file__).resolve().parents[1] / "static"
VIEWER_SCRIPT = STATIC / "vendor" / "3Dmol-min.js"
STRUCTURE_FORMATS = VIEWER_FORMATS
MAX_SHOWN_INPUT = 4000


class PublicHandler(PiqHandler):
    """Shared by the public routes: the anonymous actor, and a rate limit per
    address rather than per user."""

    def check_xsrf_cookie(self) -> None:  # read-only routes
        return

    async def public_job(self, job_id: str) -> JobView:
        decision = self.state.limiter.take(f"ip:{self.request.remote_ip}")
        if not decision.allowed:
            self.apply_rate_limit_for(decision)
        view = await self.call(self.state.service.get, Actor.anonymous(), job_id)
        if not view.permissions.see_contents:
            raise NotFound(f"no job {job_id}")
        return view

    def apply_rate_limit_for(self, decision: Decision) -> None:
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests; try again in {decision.retry_after} s",
            headers={"Retry-After": str(decision.retry_after)},
        )

    def page_url(self, job_id: str, *parts: str) -> str:
        return url_path_join(self.base_url, self.state.public_path, job_id, *parts)


class PublicJobHandler(PublicHandler):
    @public
    async def get(self, job_id: str) -> None:
        view = await self.public_job(job_id)
        files_url = self.page_url(job_id, "files", "{name}")
        wants_json = self.get_query_argument("format", "") == "json" or "application/json" in (
            self.request.headers.get("Accept", "")
        )
        resource = api.PublicJob.of(view, files_url)
        if wants_json:
            self.send(resource)
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        static_url = url_path_join(self.base_url, "static", "proteiniq")
        self.finish(render_page(view.job, resource.model_dump(), static_url, files_url))

    @property
    def content_security_policy(self) -> str:
        # Only this server's own scripts (the page's and the bundled viewer) run.
        return (
            "default-src 'self'; style-src 'self'; script-src 'self' 'unsafe-eval'; "
            "img-src 'self' data: blob:; frame-ancestors 'self'"
        )


class PublicFileHandler(PublicHandler):
    @public
    async def get(self, job_id: str, name: str) -> None:
        await self.public_job(job_id)
        path, entry = await self.call(self.state.service.job_file, Actor.anonymous(), job_id, name)
        self.set_header("Content-Type", entry.content_type)
        self.set_header("Content-Disposition", f"inline; filename*=UTF-8''{quote(entry.name)}")
        await self.stream(path)


def _table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_text(v))}</td></tr>" for k, v in rows
    )
    return f"<table class='kv'>{body}</table>"


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value)
    return "" if value is None else str(value)


def _grid(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_text(row.get(c)))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table class='grid'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclass(frozen=True)
class DockingScene:
    """A docking result as the page draws it: the receptor, and every docked pose
    over it, one at a time, chosen by rank with its affinity."""

    receptor: dict[str, Any]
    poses: dict[str, Any]
    #: (pose rank, affinity in kcal/mol, ligand), best first.
    ranked: list[tuple[int, float, str]]

    def picker(self) -> str:
        options = "".join(
            f"<option value='{rank}'>Pose {rank}: {affinity:.3f} kcal/mol"
            f"{html.escape(f' ({ligand})') if ligand else ''}</option>"
            for rank, affinity, ligand in self.ranked
        )
        return (
            "<p class='pose-picker'><label for='pose'>Docked pose</label> "
            f"<select id='pose'>{options}</select></p>"
        )

    def caption(self) -> str:
        return (
            f"<p class='muted'>The receptor ({html.escape(self.receptor['name'])}) with the "
            f"docked poses ({html.escape(self.poses['name'])}); ligand carbons in green.</p>"
        )


def docking_scene(files: list[dict[str, Any]], rows: list[dict[str, Any]]) -> DockingScene | None:
    """The scene of a result that holds docked poses (see ``api.scene.docking``)."""
    docked = docking(files, rows)
    if docked is None:
        return None
    receptor, poses, ranked = docked
    return DockingScene(
        dict(receptor), dict(poses), [(p.rank, p.affinity, p.ligand) for p in ranked]
    )


TEMPLATE = Template((Path(__file__).with_name("templates") / "public_job.html").read_text())


def render_page(job: Job, data: dict[str, Any], static_url: str, files_url: str) -> str:
    """The page, all server-side: every value escaped before it is placed."""
    result = data.get("result") or {}
    files = result.get("files", [])
    structure = next((f for f in files if f["format"].lower() in STRUCTURE_FORMATS), None)
    inputs = "".join(
        f"<details><summary>{html.escape(i.get('label') or i['slotId'])} "
        f"({html.escape(i.get('format') or '')}, {len(i['content'])} characters)</summary>"
        f"<pre>{html.escape(i['content'][:MAX_SHOWN_INPUT])}"
        f"{'…' if len(i['content']) > MAX_SHOWN_INPUT else ''}</pre></details>"
        for i in data.get("input", {}).get("inputs", [])
    )
    file_links = "".join(
        f"<li><a href='{html.escape(f['url'])}' download>{html.escape(f['name'])}</a> "
        f"<span class='muted'>{html.escape(f['format'])}, {f['size']} bytes</span></li>"
        for f in files
    )
    viewer = ""
    docking = docking_scene(files, result.get("results", {}).get("rows", []))
    if docking is not None:
        structure = docking.receptor
    if structure is not None and VIEWER_SCRIPT.is_file():
        poses = f" data-poses-url='{html.escape(docking.poses['url'])}'" if docking else ""
        viewer = (
            f"<h2>Structure</h2>{docking.picker() if docking else ''}"
            f"<div id='viewer' class='viewer' data-url='{html.escape(structure['url'])}' "
            f"data-format='{STRUCTURE_FORMATS[structure['format'].lower()]}'{poses}></div>"
            f"{docking.caption() if docking else ''}"
            f"<script src='{html.escape(static_url)}/vendor/3Dmol-min.js'></script>"
            f"<script src='{html.escape(static_url)}/public-job.js'></script>"
        )
    elif structure is not None:
        viewer = (
            "<h2>Structure</h2><p class='muted'>The 3D viewer is not installed on this "
            f"server; download <a href='{html.escape(structure['url'])}'>"
            f"{html.escape(structure['name'])}</a>.</p>"
        )
    summary = _table(
        [
            ("Tool", job.tool),
            ("Status", job.status),
            ("Created", data["created_at"]),
            ("Completed", data["completed_at"]),
            ("Duration (s)", f"{job.duration_s:.1f}" if job.duration_s is not None else ""),
        ]
    )
    return TEMPLATE.substitute(
        title=html.escape(job.name),
        static=html.escape(static_url),
        status=html.escape(str(job.status)),
        summary=summary,
        viewer=viewer,
        fields=_table(list(result.get("results", {}).get("fields", {}).items())),
        rows=_grid(result.get("results", {}).get("rows", [])),
        files=file_links or "<li class='muted'>none</li>",
        settings=_table(sorted(data.get("settings", {}).items()))
        if data.get("settings")
        else "<p class='muted'>none</p>",
        inputs=inputs or "<p class='muted'>none</p>",
    )


def route_table(path: str = SERVER_PUBLIC_PATH) -> list[tuple[str, type[PiqHandler]]]:
    """The public routes, at ``path`` under the base URL (the engine service of a
    JupyterHub serves them at ``public/jobs`` under its own prefix)."""
    job = r"(?P<job_id>[A-Za-z0-9_\-]+)"
    prefix = "/" + path.strip("/")
    return [
        (rf"{prefix}/{job}", PublicJobHandler),
        (rf"{prefix}/{job}/files/(?P<name>[^/]+)", PublicFileHandler),
    ]
