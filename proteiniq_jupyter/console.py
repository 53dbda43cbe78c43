"""Progress on a terminal, one way for ``piq`` and for the client outside a notebook:
rich's bars redrawn in place on a terminal; elsewhere (a log, a pipe, CI) a line
whenever a job's status or tenth of progress changes, so a log stays short."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

#: How much of a tool's message a bar shows.
MESSAGE_WIDTH = 50


def duration_text(seconds: float | None) -> str:
    """``4.2 s``, ``3 min 5 s``, ``2 h 10 min``; ``-`` for none."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass(frozen=True)
class Row:
    """One job as a progress line shows it."""

    label: str
    status: str
    progress: float
    message: str | None = None
    eta_s: float | None = None
    estimated: bool = False
    processing: bool = False
    ended: bool = False

    def detail(self) -> str:
        """``PROCESSING  docking ...  ~6.0 s left (estimated)``"""
        text = self.status
        if self.message and not self.ended:
            text += f"  {clip(self.message, MESSAGE_WIDTH)}"
        if self.eta_s is not None and not self.ended:
            text += f"  ~{duration_text(self.eta_s)} left"
        if self.estimated and self.processing:
            text += " (estimated)"
        return text

    def coarse(self) -> str:
        """``job_…  PROCESSING 40%``: the status and tenths of progress only."""
        text = f"{self.label}  {self.status}"
        if self.processing:
            text += f" {math.floor(self.progress * 10) * 10}%"
        return text


class Status(Protocol):
    @property
    def is_terminal(self) -> bool: ...


class Shown(Protocol):
    """What a bar reads of a job: the domain's ``Job`` and the API's both have it."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> Status: ...
    @property
    def progress(self) -> float: ...
    @property
    def progress_message(self) -> str | None: ...
    @property
    def status_reason(self) -> str | None: ...
    @property
    def progress_estimated(self) -> bool: ...


def job_row(job: Shown, eta_s: float | None, label: str | None = None) -> Row:
    """How a progress line shows a job."""
    ended = job.status.is_terminal
    return Row(
        label=label or job.id,
        status=str(job.status),
        progress=job.progress,
        message=None if ended else (job.progress_message or job.status_reason),
        eta_s=eta_s,
        estimated=job.progress_estimated,
        processing=str(job.status) == "PROCESSING",
        ended=ended,
    )


class Bars:
    """Bars for one or more jobs (a batch's children), under an optional heading."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._head: TaskID | None = None
        self._printed: dict[str, str] = {}

    def show(self, rows: Sequence[Row], head: str | None = None) -> None:
        if not self.tty:
            self._print_changes(rows, head)
            return
        progress = self._progress
        if progress is None:
            progress = self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(bar_width=30),
                TaskProgressColumn(),
                TextColumn("{task.fields[detail]}"),
                console=Console(file=self.stream),
                transient=False,
            )
            progress.start()
        if head is not None:
            if self._head is None:
                self._head = progress.add_task(head, total=None, detail="")
            progress.update(self._head, description=head)
        width = max((len(row.label) for row in rows), default=0)
        for row in rows:
            task = self._tasks.get(row.label)
            if task is None:
                task = self._tasks[row.label] = progress.add_task("", total=1.0, detail="")
            progress.update(
                task,
                description=row.label.ljust(width),
                completed=1.0 if row.ended else row.progress,
                detail=row.detail(),
            )

    def _print_changes(self, rows: Sequence[Row], head: str | None) -> None:
        indent = "  " if head is not None else ""
        lines = [("", head)] if head is not None else []
        lines += [(row.label, indent + row.coarse()) for row in rows]
        for key, line in lines:
            if self._printed.get(key) != line:
                print(line, file=self.stream, flush=True)
                self._printed[key] = line

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> Bars:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
