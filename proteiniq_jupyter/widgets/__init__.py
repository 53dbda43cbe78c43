"""The notebook widgets: anywidgets over the views in ``js/`` (built into
``static/widgets/``), fed by the kernel's one event subscription.

``register()`` makes them the notebook display of the client's objects (a job
handle shows its live progress, ``job.wait()`` too); it is called when the client is
first used from ``import proteiniq_jupyter as piq`` and by ``%load_ext``.
"""

from __future__ import annotations

from typing import Any

from ..client import display
from ..client.handle import Job
from ..client.progress import in_kernel
from ..client.session import Batch
from ..client.tables import JobTable as Rows
from .base import BUNDLES, BundleMissing, PiqWidget, action, bundle
from .batch_view import BatchView
from .job_progress import JobProgress
from .job_table import JobTable
from .run_form import RunForm
from .share_dialog import ShareDialog

__all__ = [
    "BUNDLES",
    "BatchView",
    "BundleMissing",
    "JobProgress",
    "JobTable",
    "PiqWidget",
    "RunForm",
    "ShareDialog",
    "action",
    "available",
    "bundle",
    "register",
]


def available() -> bool:
    """Whether the widgets can show here: in a kernel, with their front end built."""
    if not in_kernel():
        return False
    try:
        bundle(JobProgress.bundle)
    except BundleMissing:
        return False
    return True


def _progress(handle: Any) -> JobProgress | None:
    return JobProgress(handle) if isinstance(handle, Job) and available() else None


def _table(rows: Any) -> JobTable | None:
    return JobTable.of(rows) if isinstance(rows, Rows) and available() else None


def _batch(batch: Any) -> BatchView | None:
    return BatchView(batch) if isinstance(batch, Batch) and available() else None


def open_widget(widget: str, *args: Any, **kwargs: Any) -> Any:
    """The widget a handle asked for (see ``client.display.open_widget``)."""
    if widget == "structure":
        from .view import view_job

        return view_job(*args, **kwargs)
    if widget == "detail":
        from .detail import JobDetail

        return JobDetail(*args, **kwargs)
    if widget == "share":
        from .share_dialog import ShareDialog

        return ShareDialog(*args, **kwargs)
    if widget == "form":
        from .run_form import RunForm

        return RunForm(*args, **kwargs)
    if widget == "batch":
        return BatchView(*args, **kwargs)
    raise ValueError(f"no widget {widget!r}")


display.provide(open_widget)


def register() -> None:
    display.register("job", _progress)
    display.register("wait", _progress)
    display.register("jobs", _table)
    display.register("batch", _batch)
