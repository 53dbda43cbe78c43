"""How soon the job system reacts, where the tests check only that it does.

In one run, each measurement repeated (``--rounds``):

* ``progress``   - a job on the embedded Dask cluster reports ``--steps`` progress
  steps 100 ms apart, writing the time of each report to a file; each report's time
  against the ``created_at`` of the job event the store holds for it;
* ``cancel``     - a job that has started a process of its own, cancelled: from the
  call to ``cancel`` until the job's process and its child are both gone, on the
  Dask executor and in a detached run (``run_claimed``, as ``piq run`` uses);
* ``time limit`` - a job that outlives its 1 s limit: how long after the limit it
  ended (``finished_at - started_at - limit``), on Dask and detached;
* ``sse``        - a client of the live event stream (``GET /events``) of a Jupyter
  server started for the run: from an event's own ``created_at`` (taken just before
  its commit) until the client has it, for commits by another process on the same
  database (this one: progress reports, found by the server's polling) and by the
  server's own service (renames over HTTP, which also wake its feed).

Usage::

    .venv/bin/python benchmarks/latency.py [--rounds 5] [--steps 20] [--events 40]

Results are printed as markdown and written to ``benchmarks/.data/latency.json``.
"""

from __future__ import annotations

# Job processes import this module to find its tools: what the measurement alone
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

    from proteiniq_jupyter.config import EngineConfig
    from proteiniq_jupyter.jobs.access import Actor
    from proteiniq_jupyter.jobs.service import JobService

TOOL_PATHS = ("benchmarks.latency:Ticker", "benchmarks.latency:LimitedTicker")
TIME_LIMIT_S = 1.0
#: What the tests asserted before these became measurements (milliseconds, max).
TARGETS_MS = {"progress": 100.0, "cancel": 1000.0, "time limit": 1000.0}


class TickerSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    steps: int = 1
    interval_s: float = 0.0
    log: str | None = None
    child: bool = False
    forever: bool = False


class Ticker(Tool):
    """Reports ``steps`` progress steps ``interval_s`` apart, noting the time of each
    in ``log``; with ``child`` it first starts a process of its own, with ``forever``
    it then waits until it is stopped."""

    id = "ticker"
    name = "Ticker"
    description = "Reports progress; for measuring how soon the engine reacts."
    category = "testing"
    slots: ClassVar[tuple[InputSlot, ...]] = (
        InputSlot(id="text", kind="text", formats=("text",), label="Text"),
    )
    settings_model = TickerSettings

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        import subprocess

        assert isinstance(settings, TickerSettings)
        if settings.child:
            child = subprocess.Popen(["sleep", "600"])
            (context.workdir / "child.tmp").write_text(str(child.pid))
            os.replace(context.workdir / "child.tmp", context.workdir / "child.pid")
        for step in range(settings.steps):
            time.sleep(settings.interval_s)
            if settings.log:
                with open(settings.log, "a") as log:
                    log.write(f"{time.time()}\n")
            context.progress((step + 1) / settings.steps, f"step {step + 1}")
        if settings.forever:
            time.sleep(600)
        return ToolResult(fields={"pid": os.getpid()})


class LimitedTicker(Ticker):
    """The ticker under a time limit of ``TIME_LIMIT_S`` (set in the engine's config)."""

    id = "ticker-limited"
    name = "Ticker with a time limit"


def text(label: str) -> JobInput:
    return JobInput(id="text_1", slot_id="text", kind="text", format="text", content=label)


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie, ended but not reaped, does not)."""
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (ProcessLookupError, OSError):
        return False


def wait_until(check: Callable[[], Any], timeout: float = 120.0, every: float = 0.002) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise RuntimeError(f"not true after {timeout} s: {check}")


# -- progress, cancel and time limits ------------------------------------------------


def progress_delays_ms(service: JobService, actor: Actor, log: Path, steps: int) -> list[float]:
    job = service.submit(
        actor, "ticker", [text("progress")], {"steps": steps, "interval_s": 0.1, "log": str(log)}
    )
    wait_until(lambda: service.get(actor, job.id).job.status.is_terminal, every=0.05)
    reported = [float(line) for line in log.read_text().split()]
    logged = [e for e in service.events(actor, job.id) if e.kind == "progress"]
    if len(logged) != len(reported):
        raise RuntimeError(f"{len(reported)} reports became {len(logged)} events")
    return [(e.created_at.timestamp() - t) * 1000 for e, t in zip(logged, reported, strict=True)]


def cancel_ms(service: JobService, actor: Actor, job_id: str) -> float:
    """Once the job's process and its child run: cancel until both are gone."""
    runner = wait_until(
        lambda: next((e for e in service.events(actor, job_id) if e.kind == "runner"), None),
        every=0.02,
    )
    child_file = service.files.attempt_dir(job_id, runner.data["holder"]) / "child.pid"
    wait_until(child_file.exists, every=0.02)
    pids = (int(runner.data["pid"]), int(child_file.read_text()))
    started = time.perf_counter()
    service.cancel(actor, job_id)
    while any(alive(pid) for pid in pids):
        time.sleep(0.001)
    return (time.perf_counter() - started) * 1000


def overrun_ms(service: JobService, actor: Actor, job_id: str) -> float:
    wait_until(lambda: service.get(actor, job_id).job.status.is_terminal, every=0.05)
    job = service.get(actor, job_id).job
    if str(job.status) != "TIMEOUT" or job.finished_at is None or job.started_at is None:
        raise RuntimeError(f"job {job_id} ended as {job.status}")
    return ((job.finished_at - job.started_at).total_seconds() - TIME_LIMIT_S) * 1000


def on_dask(config: EngineConfig, rounds: int, steps: int, tmp: Path) -> dict[str, list[float]]:
    from proteiniq_jupyter.engine import open_engine

    engine = open_engine(config)
    try:
        me = engine.actor()
        service = engine.service
        progress_delays_ms(service, me, tmp / "warm.log", 2)  # the cluster's first job
        out: dict[str, list[float]] = {"progress": [], "cancel": [], "time limit": []}
        for r in range(rounds):
            out["progress"] += progress_delays_ms(service, me, tmp / f"progress{r}.log", steps)
            job = service.submit(me, "ticker", [text("cancel")], {"child": True, "forever": True})
            out["cancel"].append(cancel_ms(service, me, job.id))
            job = service.submit(me, "ticker-limited", [text("limit")], {"forever": True})
            out["time limit"].append(overrun_ms(service, me, job.id))
        return out
    finally:
        engine.close()


def detached(config: EngineConfig, rounds: int) -> dict[str, list[float]]:
    import threading

    from proteiniq_jupyter.assembly import build_service
    from proteiniq_jupyter.execution.detached import run_claimed

    service, tools = build_service(config)
    me = service.sign_in(config.username)
    out: dict[str, list[float]] = {"cancel": [], "time limit": []}
    try:
        for _ in range(rounds):
            job = service.submit(me, "ticker", [text("cancel")], {"child": True, "forever": True})
            claim = (service.runs, tools, config, job.id)
            thread = threading.Thread(target=run_claimed, args=claim)
            thread.start()
            out["cancel"].append(cancel_ms(service, me, job.id))
            thread.join(60)
            job = service.submit(me, "ticker-limited", [text("limit")], {"forever": True})
            run_claimed(service.runs, tools, config, job.id)
            out["time limit"].append(overrun_ms(service, me, job.id))
    finally:
        service.store.close()
    return out


# -- live events ------------------------------------------------------------------------


def sse_ms(home: Path, events: int) -> dict[str, list[float]]:
    """Per path, each event's ``created_at`` until a stream client has it."""
    import http.client
    import json
    import sys
    import threading
    from datetime import datetime

    from api import Server

    from proteiniq_jupyter.assembly import build_service
    from proteiniq_jupyter.store.database import sqlite_url

    config = bench_config(home / "piq", "inprocess")
    service, _ = build_service(config)
    me = service.sign_in(config.username)
    server = Server(
        "latency",
        [
            str(Path(sys.executable).with_name("jupyter")),
            "server",
            '--ServerApp.jpserver_extensions={"proteiniq_jupyter": True}',
            f"--ProteinIQApp.database_url={sqlite_url(config.data_dir / 'piq.sqlite')}",
            f"--ProteinIQApp.data_dir={config.data_dir}",
            "--ProteinIQApp.executor=inprocess",
            "--ProteinIQApp.rate_limit=0",
            f"--ProteinIQApp.user={config.username}",
        ],
        home / "server",
    )
    arrived: list[tuple[float, dict[str, Any]]] = []

    def follow(response: http.client.HTTPResponse) -> None:
        for raw in response:
            if raw.startswith(b"data: "):
                arrived.append((time.time(), json.loads(raw[6:])))

    def send(method: str, path: str, body: Any = None) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        headers = {"Authorization": f"token {server.token}", "Content-Type": "application/json"}
        payload = None if body is None else json.dumps(body)
        conn.request(method, f"/proteiniq/api/v1/{path}", body=payload, headers=headers)
        return conn.getresponse()

    server.start()
    try:
        server.wait_ready()
        job = service.submit(me, "ticker", [text("events")], {"steps": 1})
        service.runs.start(job.id)
        stream = send("GET", "events")
        threading.Thread(target=follow, args=(stream,), daemon=True).start()
        time.sleep(1.0)  # the stream is open and following before the first commit
        for i in range(events):
            service.runs.progress(job.id, 0.5, f"other {i}")
            time.sleep(0.02)
        for i in range(events):
            send("PATCH", f"jobs/{job.id}", {"name": f"renamed {i}"}).read()
            time.sleep(0.02)
        paths = {"progress": "sse (other process)", "renamed": "sse (this server)"}
        wait_until(
            lambda: sum(e["kind"] in paths for _, e in arrived) >= 2 * events,
            timeout=60,
            every=0.05,
        )
    finally:
        server.stop()
        service.store.close()
    out: dict[str, list[float]] = {label: [] for label in paths.values()}
    for at, event in arrived:
        if event["kind"] in paths:
            created = datetime.fromisoformat(event["created_at"]).timestamp()
            out[paths[event["kind"]]].append((at - created) * 1000)
    return out


# -- the run -----------------------------------------------------------------------------


def bench_config(data_dir: Path, executor: str) -> EngineConfig:
    from proteiniq_jupyter.config import EngineConfig
    from proteiniq_jupyter.store.database import sqlite_url

    return EngineConfig(
        data_dir=data_dir,
        database_url=sqlite_url(data_dir / "piq.sqlite"),
        username="bench",
        executor=executor,
        dask_workers=2,
        starting_credits=1_000_000,
        time_limits=(("ticker-limited", TIME_LIMIT_S),),
        extra_tools=TOOL_PATHS,
    )


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import platform
    import tempfile
    from datetime import UTC, datetime

    load_at_start = os.getloadavg()
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="piq-latency-") as tmp:
        root = Path(tmp)
        for name, values in on_dask(
            bench_config(root / "dask", "dask"), args.rounds, args.steps, root
        ).items():
            samples[f"{name} (dask)"] = values
        for name, values in detached(bench_config(root / "detached", "dask"), args.rounds).items():
            samples[f"{name} (detached)"] = values
        samples.update(sse_ms(root / "sse", args.events))
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_at_start": load_at_start,
            "load_at_end": os.getloadavg(),
        },
        "setup": {"rounds": args.rounds, "steps": args.steps, "events": args.events},
        "samples_ms": samples,
    }


def report(results: dict[str, Any]) -> str:
    load = results["machine"]["load_at_start"], results["machine"]["load_at_end"]
    lines = [
        f"load average (1, 5, 15 min): {', '.join(f'{v:.1f}' for v in load[0])} at the start, "
        f"{', '.join(f'{v:.1f}' for v in load[1])} at the end, on {results['machine']['cpus']} "
        "cores",
        "",
        "| measure | samples | p50 (ms) | p95 (ms) | max (ms) | target (max) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, values in results["samples_ms"].items():
        target = TARGETS_MS.get(name.split(" (")[0])
        met = ""
        if target is not None:
            met = f"< {target:.0f} ms: {'met' if max(values) < target else '**not met**'}"
        lines.append(
            f"| {name} | {len(values)} | {percentile(values, 0.5):.1f} "
            f"| {percentile(values, 0.95):.1f} | {max(values):.1f} | {met} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    from checkout import use_checkout, write_results  # beside this script

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="cancels, time limits, progress jobs")
    parser.add_argument("--steps", type=int, default=20, help="progress reports per job")
    parser.add_argument("--events", type=int, default=40, help="stream events per path")
    args = parser.parse_args(argv)

    # Workers and job processes load the ticker from this checkout.
    use_checkout()

    from benchmarks import latency

    results = latency.measure(args)
    write_results("latency", results, report(results))


if __name__ == "__main__":
    main()
