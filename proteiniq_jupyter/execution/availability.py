"""Which tools a machine can run: each tool's requirements (its program, packages
and model weights) checked where its jobs would run, so that a tool that cannot
run says so before anyone waits for it.

Executors whose workers are this installation's own (a thread pool, detached
processes, the embedded Dask cluster) ask this machine; a remote cluster's
workers check themselves when they start (``worker_setup``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from ..jobs.ports import ToolAvailability
from ..tools.base import Tool
from ..tools.registry import ToolRegistry

#: How long a check stands before it is made again (so that installing what a tool
#: lacks is noticed without a restart, and a catalogue is not a check per tool).
RECHECK_S = 30.0


def requirement_gap(tool: Tool) -> str | None:
    """Why ``tool`` cannot run in this process's environment, or None when it can.
    A check that itself fails counts as a reason, named."""
    try:
        return tool.missing_requirements()
    except Exception as exc:
        return f"checking its requirements failed: {type(exc).__name__}: {exc}"


def requirement_gaps(tools: Iterable[Tool]) -> dict[str, str | None]:
    """Each tool's ``requirement_gap``, by tool id."""
    return {tool.id: requirement_gap(tool) for tool in tools}


def cannot_run_here(tool: Tool, reason: str) -> str:
    """The message for a tool that no worker of this installation can run."""
    return f"{tool.name} ({tool.id}) cannot run on this installation: {reason}"


class LocalAvailability:
    """The tools this machine can run, each checked at most once per
    ``RECHECK_S``. Every worker of the executors that use it is this machine, so a
    tool that cannot run here cannot run anywhere: its submissions are refused."""

    def __init__(self, tools: ToolRegistry, recheck_s: float = RECHECK_S) -> None:
        self.tools = tools
        self.recheck_s = recheck_s
        self._checked: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def gap(self, tool_id: str) -> str | None:
        """Why the tool cannot run here (None when it can, or is not installed:
        an unknown tool is refused as such elsewhere)."""
        if tool_id not in self.tools:
            return None
        now = time.monotonic()
        with self._lock:
            checked = self._checked.get(tool_id)
        if checked is not None and now - checked[0] < self.recheck_s:
            return checked[1]
        reason = requirement_gap(self.tools.get(tool_id))
        with self._lock:
            self._checked[tool_id] = (now, reason)
        return reason

    def availability(self, tool_id: str) -> ToolAvailability:
        reason = self.gap(tool_id)
        if reason is None:
            return ToolAvailability()
        return ToolAvailability(cannot_run_here(self.tools.get(tool_id), reason), blocking=True)
