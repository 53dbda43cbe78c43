"""How a waiting job shows itself: a display updated in place in a notebook, a
redrawn bar on a terminal, nothing when output is neither."""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol

from ..console import Bars, job_row
from .display import LiveView, view, with_summary
from .render import job_html

#: Notebook updates closer together than this are merged (the last always shows).
UPDATE_INTERVAL_S = 0.1


class Shown(Protocol):
    @property
    def resource(self) -> Any: ...

    @property
    def how(self) -> str | None: ...

    def link(self) -> str | None: ...


def in_kernel() -> bool:
    """Whether this runs in a Jupyter kernel (whose front end shows HTML)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class Live:
    def __init__(self, job: Shown) -> None:
        self.job = job
        self.last = 0.0
        self.handle: Any = None
        self.bars: Bars | None = None
        #: The live widget, which follows the job's events itself.
        self.widget: LiveView | None = None
        if in_kernel():
            from IPython.display import display

            self.widget = view("wait", job)  # type: ignore[assignment]
            self.handle = display(self._data(), raw=True, display_id=True)
        elif sys.stderr.isatty():
            self.bars = Bars()

    def _data(self) -> dict[str, Any]:
        """The widget (where there is one) with the HTML summary beside it, which a
        page that cannot render widgets (a notebook shared as HTML) shows."""
        html = job_html(self.job.resource, how=self.job.how, link=self.job.link())
        return with_summary(self.widget, html, repr(self.job))

    def update(self) -> None:
        now = time.monotonic()
        resource = self.job.resource
        if now - self.last < UPDATE_INTERVAL_S and not resource.status.is_terminal:
            return
        self.last = now
        if self.widget is not None:
            return  # it follows the job's events itself
        if self.handle is not None:
            self.handle.update(self._data(), raw=True)
        elif self.bars is not None:
            self.bars.show([job_row(resource, resource.eta_seconds)])

    def close(self) -> None:
        self.last = 0.0
        if self.widget is not None:
            self.widget.show(self.job.resource)
        if self.handle is not None:  # the summary of how it ended
            self.handle.update(self._data(), raw=True)
        elif self.bars is not None:
            self.bars.show([job_row(self.job.resource, self.job.resource.eta_seconds)])
            self.bars.close()
