"""``job.view()``: the job's structures as a StructureView or a py3Dmol view."""

from __future__ import annotations

from typing import Any

from .. import api
from ..client.transport import Transport

BACKENDS = ("widget", "py3dmol")


def view_job(transport: Transport, job: api.Job, backend: str, **options: Any) -> Any:
    if backend == "widget":
        from .structure import StructureView

        if options:
            raise TypeError(f"the widget view takes no options, got {', '.join(options)}")
        return StructureView(transport, job)
    if backend == "py3dmol":
        from .py3dmol import py3dmol_view
        from .structures import read_drawn, served_viewer_url

        if not job.status.is_terminal:
            raise ValueError(f"job {job.id} is {job.status}: py3Dmol shows it once it completes")
        return py3dmol_view(read_drawn(transport, job), served_viewer_url(transport), **options)
    raise ValueError(f"no view backend {backend!r}; the backends are {', '.join(BACKENDS)}")
