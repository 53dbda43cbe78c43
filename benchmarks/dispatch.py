"""Dispatch overhead of the Dask executor: what the engine adds on top of Dask and
the job process itself, measured with a tool that does no work.

In one run, on one embedded cluster (the default: a fresh SQLite store, a
LocalCluster with one single-threaded worker per core):

* ``engine``   - N zero-work jobs submitted through ``JobService.submit``, timed from
  the first submit until all N are COMPLETED in the store;
* ``baseline`` - N plain Dask tasks on the same cluster, each starting the same job
  process the engine starts (``supervisor.start_job_process``) for the same tool,
  reading its result off the pipe and joining it; submitted at once and gathered;
* ``latency``  - one zero-work job at a time, submit to COMPLETED (the store polled
  every 2 ms), with the store's own timestamps splitting it into waiting for
  dispatch (created -> started) and running (started -> finished).

Both batch paths are warmed first, then measured in alternating rounds; medians
are reported.

Usage::

    .venv/bin/python benchmarks/dispatch.py [--jobs 200] [--rounds 3]
        [--latency-jobs 50] [--workers N]

Results are printed as markdown and written to ``benchmarks/.data/dispatch.json``.
"""

from __future__ import annotations

# Job processes import this module to find the tool: what the benchmark alone
# needs is imported where it is used.
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pydantic

from proteiniq_jupyter.jobs.model import JobInput, ToolResult
from proteiniq_jupyter.tools.base import InputSlot, RunContext, Tool

if TYPE_CHECKING:
    import argparse

    from distributed import Client

    from proteiniq_jupyter.engine import Engine
    from proteiniq_jupyter.execution.dask_executor import DaskExecutor
    from proteiniq_jupyter.jobs.access import Actor

TOOL_PATH = "benchmarks.dispatch:ZeroWork"
RATIO_TARGET = 1.3
P50_TARGET_S = 0.150
LATENCY_POLL_S = 0.002
BATCH_POLL_S = 0.05


class ZeroWork(Tool):
    """Returns at once: no progress, no files, free."""

    id = "zero-work"
    name = "Zero work"
    description = "Does nothing; for measuring dispatch."
    category = "testing"
    slots: ClassVar[tuple[InputSlot, ...]] = (
        InputSlot(id="text", kind="text", formats=("text",), label="Text"),
    )

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        return ToolResult(fields={"pid": os.getpid()})


def zero_input(label: str) -> JobInput:
    return JobInput(id="text_1", slot_id="text", kind="text", format="text", content=label)


# -- the baseline task (runs on a Dask worker) ---------------------------------


def baseline_task(task_id: str, root: str) -> dict[str, Any]:
    """Start the zero-work tool's job process exactly as a worker's supervisor
    does, let it run, read its reports until the result, and join it."""
    from proteiniq_jupyter.execution.child import GO
    from proteiniq_jupyter.execution.supervisor import LOG_NAME, start_job_process
    from proteiniq_jupyter.store.codec import encode_input

    workdir = Path(root) / task_id
    workdir.mkdir(parents=True, exist_ok=True)
    process, conn = start_job_process(
        {
            "job_id": task_id,
            "tool": ZeroWork.id,
            "inputs": [encode_input(zero_input(task_id))],
            "settings": {},
            "workdir": str(workdir),
            "log": str(workdir / LOG_NAME),
            "cache": str(workdir / "cache"),
            "extra_tools": [TOOL_PATH],
        }
    )
    final: dict[str, Any] = {}
    try:
        conn.send(GO)
        while True:
            message = conn.recv()
            if message.get("type") != "progress":
                final = message
                break
    except EOFError:
        pass
    finally:
        conn.close()
    process.join()
    if final.get("type") != "result":
        raise RuntimeError(f"the job process of {task_id} ended without a result: {final}")
    result: dict[str, Any] = final["result"]
    return result


# -- measurements (engine process) ---------------------------------------------


def dask_client(engine: Engine[DaskExecutor]) -> Client:
    """The client of the engine's own cluster."""
    return engine.executor.client()


_LIVE = ("PENDING", "QUEUED", "PROCESSING", "RETRY")


def _live_count(engine: Engine, actor: Actor) -> int:
    from proteiniq_jupyter.jobs.status import JobStatus

    assert actor.workspace_id is not None
    with engine.store.read() as tx:
        return tx.count_jobs(actor.workspace_id, [JobStatus(s) for s in _LIVE])


def _ended(engine: Engine, job_id: str) -> bool:
    state = engine.service.runs.job_state(job_id)
    return state is None or state[0].is_terminal


def run_engine_batch(engine: Engine, actor: Actor, jobs: int, tag: str) -> float:
    """Seconds from the first submit until all ``jobs`` are COMPLETED."""
    from proteiniq_jupyter.jobs.status import JobStatus

    started = time.perf_counter()
    ids = [
        engine.service.submit(actor, ZeroWork.id, [zero_input(f"{tag} {i}")]).id
        for i in range(jobs)
    ]
    # Jobs are dispatched oldest first, so the last one is among the last to end:
    # watch it alone (one cheap read per poll), then count what is still live.
    while not _ended(engine, ids[-1]):
        time.sleep(BATCH_POLL_S)
    while _live_count(engine, actor):
        time.sleep(BATCH_POLL_S)
    elapsed = time.perf_counter() - started
    for job_id in ids:
        state = engine.service.runs.job_state(job_id)
        if state is None or state[0] is not JobStatus.COMPLETED:
            raise RuntimeError(f"job {job_id} ended as {state}")
    return elapsed


def run_baseline_batch(engine: Engine, tasks: int, root: Path, tag: str) -> float:
    """Seconds from submitting ``tasks`` plain Dask tasks at once until all are gathered."""
    client = dask_client(engine)
    started = time.perf_counter()
    futures = [
        client.submit(baseline_task, f"{tag}-{i}", str(root), key=f"base-{tag}-{i}", pure=False)
        for i in range(tasks)
    ]
    results = client.gather(futures)  # type: ignore[no-untyped-call]
    elapsed = time.perf_counter() - started
    if len(results) != tasks:
        raise RuntimeError(f"{len(results)} of {tasks} baseline tasks came back")
    return elapsed


def run_latency(engine: Engine, actor: Actor, jobs: int) -> dict[str, list[float]]:
    """Submit-to-COMPLETED of one job at a time, with the store's split of each."""
    from proteiniq_jupyter.jobs.status import JobStatus

    totals: list[float] = []
    dispatch: list[float] = []
    running: list[float] = []
    for i in range(jobs):
        started = time.perf_counter()
        job = engine.service.submit(actor, ZeroWork.id, [zero_input(f"latency {i}")])
        while True:
            state = engine.service.runs.job_state(job.id)
            if state is not None and state[0].is_terminal:
                break
            time.sleep(LATENCY_POLL_S)
        totals.append(time.perf_counter() - started)
        if state[0] is not JobStatus.COMPLETED:
            raise RuntimeError(f"job {job.id} ended as {state[0]}")
        done = engine.service.runs.job_for_run(job.id)
        assert done.started_at is not None and done.finished_at is not None
        dispatch.append((done.started_at - done.created_at).total_seconds())
        running.append((done.finished_at - done.started_at).total_seconds())
        time.sleep(0.05)  # let the pass woken by the finished task settle
    return {"total": totals, "dispatch": dispatch, "running": running}


def worker_cpu_s() -> float:
    """CPU seconds used so far by this worker and what it started: its fork server
    and, through it, the job processes that have ended."""
    import psutil  # type: ignore[import-untyped]

    me = psutil.Process()
    times = me.cpu_times()
    total = times.user + times.system
    for child in me.children(recursive=True):
        try:
            c = child.cpu_times()
        except psutil.Error:
            continue
        total += c.user + c.system + c.children_user + c.children_system
    return float(total)


def warm_hosts_cpu_s() -> float:
    """CPU seconds used so far by the warm hosts on this machine (they live in
    sessions of their own, outside their worker's process tree)."""
    import psutil

    from proteiniq_jupyter.tools.warm_host import HOST_PROCESS_NAME

    total = 0.0
    for process in psutil.process_iter(["name"]):
        if process.info["name"] == HOST_PROCESS_NAME:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
    return total


def cluster_cpu_s(engine: Engine) -> float:
    """CPU seconds used so far by this process (engine and scheduler), every
    worker with its job processes, and the warm hosts of this machine."""
    import psutil

    times = psutil.Process().cpu_times()
    workers: dict[str, float] = dask_client(engine).run(worker_cpu_s)
    return float(times.user + times.system) + sum(workers.values()) + warm_hosts_cpu_s()


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


# -- the run ---------------------------------------------------------------------


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import platform
    import statistics
    import sys
    import tempfile
    from datetime import UTC, datetime

    from proteiniq_jupyter.config import EngineConfig
    from proteiniq_jupyter.engine import open_dask_engine
    from proteiniq_jupyter.store.database import sqlite_url

    with tempfile.TemporaryDirectory(prefix="piq-dispatch-") as tmp:
        data_dir = Path(tmp) / "piq"
        config = EngineConfig(
            data_dir=data_dir,
            database_url=sqlite_url(data_dir / "piq.sqlite"),
            username="bench",
            executor="dask",
            dask_workers=args.workers,
            extra_tools=(TOOL_PATH,),
        )
        engine = open_dask_engine(config)
        try:
            actor = engine.actor()
            baseline_root = Path(tmp) / "baseline"
            workers = len(dask_client(engine).scheduler_info(n_workers=-1)["workers"])

            # Cluster start, fork servers, imports and first connections stay out.
            warm = max(4, 2 * workers)
            run_engine_batch(engine, actor, warm, "warm")
            run_baseline_batch(engine, warm, baseline_root, "warm")

            def engine_round(tag: str) -> float:
                return run_engine_batch(engine, actor, args.jobs, tag)

            def baseline_round(tag: str) -> float:
                return run_baseline_batch(engine, args.jobs, baseline_root, tag)

            load_at_start = os.getloadavg()
            engine_s: list[float] = []
            baseline_s: list[float] = []
            engine_cpu_s: list[float] = []
            baseline_cpu_s: list[float] = []
            for r in range(args.rounds):
                steps: list[tuple[list[float], list[float], Callable[[str], float]]] = [
                    (engine_s, engine_cpu_s, engine_round),
                    (baseline_s, baseline_cpu_s, baseline_round),
                ]
                if r % 2:
                    steps.reverse()
                for into, cpu_into, step in steps:
                    cpu_before = cluster_cpu_s(engine)
                    into.append(step(f"r{r}"))
                    cpu_into.append(cluster_cpu_s(engine) - cpu_before)
                print(
                    f"round {r + 1}: engine {engine_s[-1]:.3f} s, baseline {baseline_s[-1]:.3f} s",
                    file=sys.stderr,
                )

            latency = run_latency(engine, actor, args.latency_jobs)
            load_at_end = os.getloadavg()
        finally:
            engine.close()

    engine_median = statistics.median(engine_s)
    baseline_median = statistics.median(baseline_s)
    totals = latency["total"]
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            # Other work on the machine skews every number: the load averages
            # (1, 5, 15 minutes) when the timed part began and ended.
            "load_at_start": load_at_start,
            "load_at_end": load_at_end,
        },
        "setup": {
            "store": "sqlite (fresh, temporary directory)",
            "workers": workers,
            "threads_per_worker": 1,
            "tool": TOOL_PATH,
            "jobs": args.jobs,
            "rounds": args.rounds,
            "latency_jobs": args.latency_jobs,
        },
        "batch": {
            "engine_s": engine_s,
            "baseline_s": baseline_s,
            "engine_median_s": engine_median,
            "baseline_median_s": baseline_median,
            "engine_jobs_per_s": args.jobs / engine_median,
            "baseline_tasks_per_s": args.jobs / baseline_median,
            "ratio": engine_median / baseline_median,
            "ratio_target": RATIO_TARGET,
            # CPU seconds of the engine process (with the scheduler), the workers
            # and the job processes per round: less sensitive to other load.
            "engine_cpu_s": engine_cpu_s,
            "baseline_cpu_s": baseline_cpu_s,
            "engine_cpu_ms_per_job": statistics.median(engine_cpu_s) * 1000 / args.jobs,
            "baseline_cpu_ms_per_task": statistics.median(baseline_cpu_s) * 1000 / args.jobs,
        },
        "latency": {
            "samples_s": totals,
            "p50_s": percentile(totals, 0.5),
            "p90_s": percentile(totals, 0.9),
            "max_s": max(totals),
            "dispatch_p50_s": percentile(latency["dispatch"], 0.5),
            "running_p50_s": percentile(latency["running"], 0.5),
            "p50_target_s": P50_TARGET_S,
        },
    }


def report(results: dict[str, Any]) -> str:
    batch, latency, setup = results["batch"], results["latency"], results["setup"]
    n = setup["jobs"]
    ratio_ok = "yes" if batch["ratio"] <= RATIO_TARGET else "**no**"
    p50_ok = "yes" if latency["p50_s"] < P50_TARGET_S else "**no**"
    load = results["machine"]["load_at_start"][0], results["machine"]["load_at_end"][0]
    lines = [
        f"{n} zero-work jobs, {setup['workers']} workers x 1 thread, "
        f"median of {setup['rounds']} rounds; load average {load[0]:.1f} -> {load[1]:.1f} "
        f"on {results['machine']['cpus']} cores",
        "",
        "| path | median (s) | per second | rounds (s) |",
        "|---|---:|---:|---|",
        f"| engine (submit -> all COMPLETED) | {batch['engine_median_s']:.3f} "
        f"| {batch['engine_jobs_per_s']:.0f} "
        f"| {', '.join(f'{s:.3f}' for s in batch['engine_s'])} |",
        f"| baseline (Dask task + job process) | {batch['baseline_median_s']:.3f} "
        f"| {batch['baseline_tasks_per_s']:.0f} "
        f"| {', '.join(f'{s:.3f}' for s in batch['baseline_s'])} |",
        "",
        f"engine / baseline: **{batch['ratio']:.2f}** (target <= {RATIO_TARGET}: {ratio_ok})",
        "",
        f"CPU per job (median, all processes of the cluster): engine "
        f"{batch['engine_cpu_ms_per_job']:.1f} ms, baseline "
        f"{batch['baseline_cpu_ms_per_task']:.1f} ms",
        "",
        f"One job at a time ({setup['latency_jobs']} jobs), submit -> COMPLETED:",
        "",
        "| p50 (ms) | p90 (ms) | max (ms) | of p50: created -> started | started -> finished |",
        "|---:|---:|---:|---:|---:|",
        f"| {ms(latency['p50_s'])} | {ms(latency['p90_s'])} | {ms(latency['max_s'])} "
        f"| {ms(latency['dispatch_p50_s'])} | {ms(latency['running_p50_s'])} |",
        "",
        f"p50 target < {P50_TARGET_S * 1000:.0f} ms: {p50_ok}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    from checkout import use_checkout, write_results  # beside this script

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=200, help="jobs (and tasks) per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per path")
    parser.add_argument("--latency-jobs", type=int, default=50, help="sequential single jobs")
    parser.add_argument("--workers", type=int, default=None, help="workers (default: cores)")
    args = parser.parse_args(argv)

    # Workers and job processes load the zero-work tool from this checkout.
    use_checkout()

    # Measured through the importable module, so that Dask ships the baseline task
    # to its workers by reference, as it ships ``execute_job``.
    from benchmarks import dispatch

    results = dispatch.measure(args)
    write_results("dispatch", results, report(results))


if __name__ == "__main__":
    main()
