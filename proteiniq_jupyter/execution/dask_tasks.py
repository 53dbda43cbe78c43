"""What the engine and its Dask workers agree on: the resources a job's task asks
for (its tool, which only workers that can run it advertise, and a GPU if it
needs one), the keys of job tasks, the lease holder of a run on a worker, and how
a worker refuses a job. The engine side (``dask_executor``, ``cluster_view``) and
the worker side (``worker_setup``, ``dask_worker``) both read these names here.
"""

from __future__ import annotations

import os

from ..tools.base import Tool

#: What GPU workers declare (``dask worker --resources GPU=1``).
GPU_RESOURCE = "GPU"
#: The resource a worker advertises for each tool it can run.
TOOL_RESOURCE_PREFIX = "piq-tool-"
#: The topic of the cluster's event log on which workers report what they can run.
WORKER_TOPIC = "proteiniq-worker"
#: The keys of job tasks: ``piq-<job id>-<attempt>-<run>``.
TASK_PREFIX = "piq-"
#: How the lease holder of a run on a Dask worker begins.
WORKER_HOLDER_PREFIX = "worker:"


class WorkerRefused(RuntimeError):
    """What a job's task raises on a worker that cannot run the job's tool: the job
    is handed back, waiting (Dask tells the engine of it with the task's end,
    without a trip to the worker for a result)."""


def tool_resource(tool_id: str) -> str:
    return f"{TOOL_RESOURCE_PREFIX}{tool_id}"


def task_resources(tool: Tool) -> dict[str, float]:
    """What a job's task asks of its worker: the tool, and a GPU if it needs one."""
    resources = {tool_resource(tool.id): 1.0}
    if tool.gpu:
        resources[GPU_RESOURCE] = 1.0
    return resources


def task_key(job_id: str, attempt: int, run: str) -> str:
    """A job task's key; the run (which holds no ``-``) comes last."""
    return f"{TASK_PREFIX}{job_id}-{attempt}-{run}"


def job_of_task(key: object) -> str | None:
    """The job id in a job task's key (job ids hold no ``-``), or None."""
    if not isinstance(key, str) or not key.startswith(TASK_PREFIX):
        return None
    return key[len(TASK_PREFIX) :].split("-", 1)[0] or None


def run_of_task(key: object) -> str:
    """The run a task was dispatched as (the last part of its key)."""
    return str(key).rsplit("-", 1)[-1]


def worker_holder(address: str, run: str) -> str:
    """The lease holder of ``run`` on the worker at ``address``, in this process:
    it ends with the run, which the engine chose, so that the engine can tell this
    run from any other run of the job."""
    return f"{WORKER_HOLDER_PREFIX}{address}:{os.getpid()}:{run}"


def is_run_on_worker(holder: str | None, run: str) -> bool:
    """Whether ``holder`` is ``run``'s, on a worker."""
    return (
        holder is not None
        and holder.startswith(WORKER_HOLDER_PREFIX)
        and holder.endswith(f":{run}")
    )


def is_on_worker_at(holder: str | None, address: str) -> bool:
    """Whether ``holder`` is a run on the worker at ``address``."""
    return (holder or "").startswith(f"{WORKER_HOLDER_PREFIX}{address}:")
