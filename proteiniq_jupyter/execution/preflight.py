"""Before a job's run starts: its tool is found and checked where it would run. A
job whose tool this process lacks, or cannot run, fails before it starts, so
nothing is charged; the error says what to install or set. Every executor that
runs a job's tool itself (in a thread, or in a process of the job's own) asks
here first."""

from __future__ import annotations

from ..jobs.errors import NotFound
from ..jobs.runs import RunService
from ..tools.base import Tool
from ..tools.registry import ToolRegistry
from .availability import requirement_gap


def runnable_tool(
    service: RunService, tools: ToolRegistry, tool_id: str, job_id: str, holder: str | None = None
) -> Tool | None:
    """The job's tool, ready to run here; None once the job has failed before it
    started (as ``holder`` when given) because this process lacks the tool or
    cannot run it."""
    try:
        tool = tools.get(tool_id)
    except NotFound as exc:
        fail_before_start(service, job_id, exc.message, holder)
        return None
    if fail_if_unrunnable(service, tool, job_id, holder):
        return None
    return tool


def fail_if_unrunnable(
    service: RunService, tool: Tool, job_id: str, holder: str | None = None
) -> bool:
    """Fail the job before it starts, uncharged, when this machine lacks the tool's
    program or model weights (or cannot even check); the error says what to install
    or set."""
    reason = requirement_gap(tool)
    if reason is None:
        return False
    fail_before_start(service, job_id, f"{tool.name} cannot run here: {reason}", holder)
    return True


def fail_before_start(service: RunService, job_id: str, error: str, holder: str | None) -> None:
    """Fail a job that never started (nothing is charged), as ``holder`` when given."""
    if holder is not None and service.claim(job_id, holder) is None:
        return  # cancelled, or another runner has it: not this runner's to fail
    service.fail(job_id, error, holder=holder)


def fail_held(service: RunService, job_id: str, error: str, holder: str) -> None:
    """Fail the job as ``holder``, whether its run had started or not; a job that
    another runner holds, or that has ended, stays as it is."""
    if service.fail(job_id, error, holder=holder) is None:
        fail_before_start(service, job_id, error, holder)
