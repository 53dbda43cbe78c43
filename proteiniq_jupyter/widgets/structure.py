"""StructureView: a job's structures in 3D (3Dmol.js), what ``job.view()`` shows.

A prediction is drawn as a cartoon coloured by pLDDT with its legend and a model
selector; a docking as its receptor with the chosen pose inside it and each pose's
affinity; surface and stick toggles and a download of what is shown. A job still
running shows its status until it completes, then draws itself (from the kernel's
one event subscription). The scene and its files are in the widget's state; 3Dmol.js
is not (see ``structures``).
"""

from __future__ import annotations

from html import escape
from typing import Any

import traitlets

from .. import api
from ..api.scene import StructureScene
from ..client.events import apply_event
from ..client.transport import Transport
from .base import PiqWidget, action, dump
from .structures import read_drawn, served_viewer_url, viewer_script


def job_state(job: api.Job) -> dict[str, Any]:
    """The job as the view's trait carries it: the API's JSON, without its inputs
    (a receptor's text is no part of what the view draws)."""
    state = dump(job)
    state.pop("input", None)
    return state


class StructureView(PiqWidget):
    bundle = "structure_view"

    #: The job (``api.Job`` JSON, its inputs left out).
    job = traitlets.Dict().tag(sync=True)
    #: What is drawn (``api.StructureScene`` JSON); None until the job has a structure.
    scene = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)
    #: The scene's files by name, gzip-compressed (binary buffers).
    structures = traitlets.Dict().tag(sync=True)
    #: Which structure is shown (an index into ``scene.structures``).
    model_index = traitlets.Int(0).tag(sync=True)
    #: Which docked pose is shown (its rank; 0 with no poses).
    pose = traitlets.Int(0).tag(sync=True)
    surface = traitlets.Bool(False).tag(sync=True)
    sticks = traitlets.Bool(False).tag(sync=True)
    #: Where the page may load 3Dmol.js from (a path from the site's root), when
    #: the kernel has a server; the view also finds it from the page itself.
    viewer_url = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    #: Why nothing can be drawn (a failed job, a result without a structure).
    error = traitlets.Unicode(None, allow_none=True).tag(sync=True)

    def __init__(self, transport: Transport, job: api.Job, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._transport = transport
        self._resource = job
        self.viewer_url = served_viewer_url(transport)
        if not job.status.is_terminal and transport.events.carries(job):
            self.follow(transport.events, job.id)
            job = transport.job(job.id)  # what happened before the feed followed it
        self.show(job)

    @property
    def job_id(self) -> str:
        return str(self.job["id"])

    def show(self, job: api.Job) -> None:
        """Draw ``job``: its structures once it has completed."""
        drawn = read_drawn(self._transport, job) if job.status.is_terminal else None
        error = None
        if job.status.is_terminal and (drawn is None or drawn.scene is None):
            reason = job.error if isinstance(job.error, str) else job.status_reason
            error = (
                f"job {job.id} ended {job.status}" + (f": {reason}" if reason else "")
                if str(job.status) != "COMPLETED"
                else f"job {job.id} ({job.tool}) has no structure among its files"
            )
        self._resource = job
        with self.hold_sync():
            self.job = job_state(job)
            if drawn is not None:
                for name, value in drawn.traits().items():
                    setattr(self, name, value)
                if drawn.scene is not None and drawn.scene.poses:
                    self.pose = drawn.scene.poses[0].rank
            self.error = error

    # -- live -----------------------------------------------------------------

    def on_event(self, event: api.JobEvent) -> None:
        if event.status.is_terminal and self.scene is None:
            self.show(self._transport.job(self.job_id))
        elif not event.status.is_terminal:
            self._resource = apply_event(self._resource, event)
            self.job = job_state(self._resource)

    def on_resync(self) -> None:
        self.show(self._transport.job(self.job_id))

    # -- actions --------------------------------------------------------------

    # -- where widgets cannot render -------------------------------------------

    def summary_html(self) -> str:
        """What the view shows, in words: the page of a notebook shared as static
        HTML shows this in its place (a 3D view needs the running notebook)."""
        head = f"<b>{escape(str(self.job.get('name', self.job_id)))}</b> ({escape(self.job_id)})"
        if self.error:
            return f'<div class="piq-structure-summary">{head}: {escape(self.error)}</div>'
        if self.scene is None:
            status = escape(str(self.job.get("status", "")))
            return f'<div class="piq-structure-summary">{head}: {status}, no structure yet</div>'
        scene = StructureScene.model_validate(self.scene)
        items = [
            f"<li><code>{escape(s.name)}</code>: {escape(s.label)}</li>" for s in scene.structures
        ]
        if scene.poses_file and scene.poses:
            best = min(scene.poses, key=lambda pose: pose.rank)
            items.append(
                f"<li><code>{escape(scene.poses_file)}</code>: {len(scene.poses)} poses, the "
                f"best {best.affinity:.2f} kcal/mol ({escape(best.ligand)})</li>"
            )
        colour = "coloured by pLDDT" if scene.colour == "plddt" else "coloured by chain"
        return (
            f'<div class="piq-structure-summary">{head}, in 3D {colour}:<ul>{"".join(items)}</ul>'
            "<i>The 3D view shows in the running notebook.</i></div>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget, with its summary beside it for pages that cannot render it."""
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if isinstance(data, dict):
            data["text/html"] = self.summary_html()
        return bundle

    @action("viewer_script")
    def send_viewer_script(self) -> dict[str, Any]:
        """3Dmol.js, for a page that cannot load it from a server (once a page)."""
        return {"script": viewer_script().decode("utf-8")}

    @action("refresh")
    def refresh(self) -> dict[str, Any]:
        self.show(self._transport.job(self.job_id))
        return {}
