"""The job-list API of the ``proteiniq`` server extension next to jupyter-scheduler's,
each on a Jupyter server of its own holding the same number of jobs in SQLite, and
how soon a job's status change reaches a client of our live event stream.

In one run:

1. Two Jupyter servers start on 127.0.0.1 (free ports, token auth): jupyter-scheduler's
   from its own virtual environment (``benchmarks/.data/scheduler-venv``, created
   with ``pip install jupyter-scheduler`` when missing) and ours from the project's.
   Each gets ``--jobs`` jobs in a SQLite file of its own, generated from the same
   workload as ``benchmarks/store_list.py`` (same names, times and status mix).
2. ``idle``: a 25-row list page from each server (``GET /scheduler/jobs?max_items=25``
   and ``GET /proteiniq/api/v1/jobs?limit=25``), requests alternating between the two,
   with Jupyter's own ``GET /api/status`` on both servers in the same rotation.
3. ``loaded``: 4 client processes per endpoint request each list page back to back
   (bounded in count and time; they stop by themselves) while one timing client per
   endpoint sends requests at random intervals over the same window (``--loaded-s``):
   a slow endpoint gets fewer samples rather than a longer window.
4. ``sse``: a client follows ``GET /proteiniq/api/v1/events``; this process moves jobs
   through the service on the same database (submit, start, progress, complete)
   and times each change from its commit until the stream delivers its event.

Usage::

    .venv/bin/python benchmarks/api.py [--jobs 100000] [--requests 300] [--warmup 30]
        [--hammers 4] [--loaded-s 180] [--transitions 300] [--keep | --reuse]
        [--scheduler-index] [--work DIR]

Quick run: ``--jobs 5000 --requests 50 --loaded-s 20 --transitions 60``. Results are
printed as markdown and written to ``benchmarks/.data/api.json``. Both servers are
shut down at the end, also when the run fails.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import multiprocessing
import os
import random
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from store_list import READER, Workload, _machine, fill_sqlite

from proteiniq_jupyter.jobs.access import Actor
from proteiniq_jupyter.jobs.model import JobInput, ToolResult
from proteiniq_jupyter.jobs.service import JobService
from proteiniq_jupyter.store.database import sqlite_url
from proteiniq_jupyter.store.sql_store import DirectoryJobFiles, SqlStore
from proteiniq_jupyter.tools.registry import ToolRegistry

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / ".data"
WORK = DATA / "api"
SCHEDULER_VENV = DATA / "scheduler-venv"
SCHEDULER_SPEC = "jupyter-scheduler==2.12.1"
SCHEDULER_INDEX = "bench_ix_jobs_create_time"
OUR_JUPYTER = ROOT / ".venv" / "bin" / "jupyter"
PAGE = 25
OURS_PATH = f"/proteiniq/api/v1/jobs?limit={PAGE}"
THEIRS_PATH = f"/scheduler/jobs?max_items={PAGE}"
EVENTS_PATH = "/proteiniq/api/v1/events"
STATUS_PATH = "/api/status"
RATIO_TARGET = 0.33
SSE_TARGET_P99_MS = 20.0
READER_NAME = f"bench-user-{READER:02d}"
READER_WORKSPACE = "ws_bench_lab"
SSE_TOOL = "protein-stats"
JsonDict = dict[str, Any]

# Our statuses as jupyter-scheduler names them.
SCHEDULER_STATUS = {
    "PENDING": "QUEUED",
    "QUEUED": "QUEUED",
    "RETRY": "QUEUED",
    "PROCESSING": "IN_PROGRESS",
    "COMPLETED": "COMPLETED",
    "FAILED": "FAILED",
    "TIMEOUT": "FAILED",
    "BUDGET_EXCEEDED": "FAILED",
    "CANCELLED": "STOPPED",
}


# -- statistics ---------------------------------------------------------------------


def summary_ms(samples_ns: Sequence[int]) -> JsonDict:
    """p50 (median), p90 and p99 (nearest rank) in milliseconds."""
    ms = sorted(s / 1e6 for s in samples_ns)

    def rank(q: float) -> float:
        return ms[max(0, math.ceil(q * len(ms)) - 1)]

    return {
        "n": len(ms),
        "p50": statistics.median(ms),
        "p90": rank(0.90),
        "p99": rank(0.99),
        "mean": statistics.fmean(ms),
        "min": ms[0],
        "max": ms[-1],
    }


# -- the two data sets --------------------------------------------------------------


def _millis(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def _uuid(prefixed_hex: str) -> str:
    """Our ``job_<32 hex>`` ids as the UUIDs jupyter-scheduler uses."""
    return str(uuid.UUID(hex=prefixed_hex.split("_", 1)[1]))


def scheduler_row(job: JsonDict) -> JsonDict:
    """One of our generated jobs as a row of jupyter-scheduler's ``jobs`` table: the
    same name, times and (mapped) status; a batch child comes from a job definition."""
    job_id = _uuid(job["id"])
    tool = job["tool"]
    return {
        "job_id": job_id,
        "job_definition_id": _uuid(job["batch_id"]) if job["batch_id"] else None,
        "name": job["name"],
        "status": SCHEDULER_STATUS[job["status"]],
        "status_message": job["error"] or job["status_reason"],
        "input_filename": f"{tool}.ipynb",
        "runtime_environment_name": "python3",
        "runtime_environment_parameters": {},
        "compute_type": None,
        "output_formats": ["ipynb", "html"],
        "tags": [tool],
        "parameters": {k: str(v) for k, v in job["settings"].items()},
        "email_notifications": None,
        "timeout_seconds": 600,
        "retry_on_timeout": False,
        "max_retries": 0,
        "min_retry_interval_millis": 0,
        "output_filename_template": "{{input_filename}}-{{create_time}}",
        "create_time": _millis(job["created_at"]),
        "update_time": _millis(job["updated_at"]),
        "start_time": _millis(job["started_at"]),
        "end_time": _millis(job["finished_at"]),
        "url": f"/jobs/{job_id}",
        "pid": None,
        "idempotency_token": job["idempotency_key"],
        "package_input_folder": False,
        "packaged_files": [],
    }


def fill_ours(path: Path, workload: Workload) -> JsonDict:
    url = sqlite_url(path)
    SqlStore.open(url).close()  # migrations make the schema
    return dict(fill_sqlite(url, workload))


def fill_theirs(python: Path, path: Path, workload: Workload) -> JsonDict:
    """Rows streamed as JSON lines to ``scheduler_db.py`` running in the scheduler's
    environment, which inserts them through jupyter-scheduler's own models."""
    started = time.perf_counter()
    with subprocess.Popen(
        [str(python), str(HERE / "scheduler_db.py"), f"sqlite:///{path}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        for chunk in workload.job_chunks(20_000):
            proc.stdin.write(
                "".join(json.dumps(scheduler_row(job), default=str) + "\n" for job in chunk)
            )
        proc.stdin.close()
        out = proc.stdout.read()
        if proc.wait() != 0:
            raise RuntimeError("filling the jupyter-scheduler database failed")
    report: JsonDict = json.loads(out.strip().splitlines()[-1])
    report["total_s"] = time.perf_counter() - started
    return report


def scheduler_version(python: Path) -> str:
    out = subprocess.run(
        [str(python), "-c", "import jupyter_scheduler; print(jupyter_scheduler.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def set_scheduler_index(path: Path, wanted: bool) -> None:
    """jupyter-scheduler's schema has no index its list page can use (it sorts by
    ``create_time``); ``--scheduler-index`` adds one, to see what is left without it."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        if wanted:
            conn.execute(f"CREATE INDEX IF NOT EXISTS {SCHEDULER_INDEX} ON jobs (create_time)")
            conn.execute("ANALYZE")
        else:
            conn.execute(f"DROP INDEX IF EXISTS {SCHEDULER_INDEX}")
    finally:
        conn.close()


def ensure_scheduler_venv(venv: Path, spec: str) -> Path:
    """The scheduler's own environment, created (and jupyter-scheduler installed into
    it) when missing; returns its Python."""
    python = venv / "bin" / "python"
    if python.exists():
        probe = subprocess.run(
            [str(python), "-c", "import jupyter_scheduler"], capture_output=True, check=False
        )
        if probe.returncode == 0:
            return python
    print(f"creating {venv} and installing {spec} ...", flush=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", spec], check=True)
    return python


# -- the servers --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """One Jupyter server in a process group of its own, with its log in a file."""

    name: str
    command: list[str]
    home: Path
    token: str = field(default_factory=lambda: secrets.token_hex(24))
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.home / "server.log"

    def start(self) -> None:
        for sub in ("config", "data", "runtime", "root"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PIQ_", "JUPYTER", "JPY_", "JUPYTERHUB_"))
        }
        env.update(
            JUPYTER_CONFIG_DIR=str(self.home / "config"),
            JUPYTER_DATA_DIR=str(self.home / "data"),
            JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
            JUPYTER_PLATFORM_DIRS="1",
        )
        args = [
            *self.command,
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.open_browser=False",
            # Containers and CI machines often run as root.
            "--ServerApp.allow_root=True",
            f"--ServerApp.root_dir={self.home / 'root'}",
            f"--IdentityProvider.token={self.token}",
        ]
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        log.close()

    def wait_ready(self, timeout_s: float = 180.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} server exited; see {self.log_path}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, _ = Client(self).get("/api/status")
                if status == 200:
                    return
            time.sleep(0.25)
        raise RuntimeError(f"{self.name} server not up after {timeout_s} s; see {self.log_path}")

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


class Client:
    """One keep-alive HTTP/1.1 connection to a server, authenticated by its token."""

    def __init__(self, server: Server | tuple[int, str], timeout_s: float = 60.0) -> None:
        port, token = (server.port, server.token) if isinstance(server, Server) else server
        self.port = port
        self.timeout_s = timeout_s
        self.headers = {"Authorization": f"token {token}", "Accept": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            self.conn.request("GET", path, headers=self.headers)
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout_s)
            raise

    def timed_get(self, path: str) -> int:
        """Nanoseconds from sending the request to the last byte of a 200 response."""
        started = time.perf_counter_ns()
        status, _ = self.get(path)
        elapsed = time.perf_counter_ns() - started
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
        return elapsed

    def close(self) -> None:
        self.conn.close()


# -- list pages -----------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    key: str
    port: int
    token: str
    path: str


def check_pages(ours: Endpoint, theirs: Endpoint) -> JsonDict:
    """Both pages hold 25 jobs; the first names of each, for the record."""
    pages = {}
    for endpoint, items_key in ((ours, "data"), (theirs, "jobs")):
        client = Client((endpoint.port, endpoint.token))
        status, body = client.get(endpoint.path)
        client.close()
        if status != 200:
            raise RuntimeError(f"{endpoint.key}: GET {endpoint.path} answered {status}: {body!r}")
        items = json.loads(body)[items_key]
        if len(items) != PAGE:
            raise RuntimeError(f"{endpoint.key}: the page has {len(items)} jobs, not {PAGE}")
        pages[endpoint.key] = {
            "bytes": len(body),
            "first": [item["name"] for item in items[:3]],
        }
    return pages


def alternate(endpoints: Sequence[Endpoint], *, requests: int, warmup: int) -> dict[str, list[int]]:
    """``requests`` timed GETs of each endpoint, one of each in turn (the first of a
    pair swapping every round), after ``warmup`` untimed ones."""
    clients = [Client((e.port, e.token)) for e in endpoints]
    try:
        for _ in range(warmup):
            for endpoint, client in zip(endpoints, clients, strict=True):
                client.timed_get(endpoint.path)
        samples: dict[str, list[int]] = {e.key: [] for e in endpoints}
        pairs = list(zip(endpoints, clients, strict=True))
        for index in range(requests):
            for endpoint, client in pairs if index % 2 == 0 else reversed(pairs):
                samples[endpoint.key].append(client.timed_get(endpoint.path))
        return samples
    finally:
        for client in clients:
            client.close()


def hammer(
    port: int,
    token: str,
    path: str,
    stop: Any,
    limit_s: float,
    max_requests: int,
    served: Any,
    slot: int,
) -> None:
    """A client process: GET ``path`` back to back until told to stop, for at most
    ``max_requests`` requests and ``limit_s`` seconds."""
    client = Client((port, token), timeout_s=limit_s)
    deadline = time.monotonic() + limit_s
    done = 0
    while done < max_requests and not stop.is_set() and time.monotonic() < deadline:
        try:
            client.get(path)
            done += 1
        except (OSError, http.client.HTTPException):
            time.sleep(0.05)
        served[slot] = done
    client.close()


@contextlib.contextmanager
def hammering(
    endpoints: Sequence[Endpoint], per_endpoint: int, limit_s: float, max_requests: int
) -> Iterator[Callable[[], dict[str, int]]]:
    """``per_endpoint`` client processes on each endpoint while the block runs;
    yields a function that says how many requests each endpoint has served them."""
    ctx = multiprocessing.get_context("fork")
    stop = ctx.Event()
    served = ctx.Array("l", per_endpoint * len(endpoints))
    procs: list[multiprocessing.process.BaseProcess] = []
    owners: list[str] = []
    for endpoint in endpoints:
        for _ in range(per_endpoint):
            slot = len(procs)
            proc = ctx.Process(
                target=hammer,
                args=(
                    endpoint.port,
                    endpoint.token,
                    endpoint.path,
                    stop,
                    limit_s,
                    max_requests,
                    served,
                    slot,
                ),
                daemon=True,
            )
            proc.start()
            procs.append(proc)
            owners.append(endpoint.key)

    def counts() -> dict[str, int]:
        totals = dict.fromkeys((e.key for e in endpoints), 0)
        for owner, value in zip(owners, served[:], strict=True):
            totals[owner] += value
        return totals

    try:
        yield counts
    finally:
        stop.set()
        for child in procs:
            child.join(10)
        for child in procs:
            if child.is_alive():
                child.terminate()
                child.join(5)


def measure_idle(ours: Endpoint, theirs: Endpoint, args: argparse.Namespace) -> JsonDict:
    """The two list pages, and Jupyter's own ``GET /api/status`` on both servers
    (what any authenticated request costs there before a handler does its work)."""
    floors = [Endpoint(f"{e.key}_status", e.port, e.token, STATUS_PATH) for e in (ours, theirs)]
    load = os.getloadavg()[0]
    samples = alternate([ours, theirs, *floors], requests=args.requests, warmup=args.warmup)
    condition = _condition(samples, load, None, None)
    condition["jupyter_status_ms"] = {
        e.key.removesuffix("_status"): summary_ms(samples[e.key]) for e in floors
    }
    return condition


def paced(
    endpoints: Sequence[Endpoint], *, requests: int, window_s: float, seed: int
) -> dict[str, list[int]]:
    """Timed GETs of every endpoint over the same window, one client thread per
    endpoint: each waits a random pause (``window_s / requests`` on average) before
    every request, and stops after ``requests`` requests or when the window closes.
    A slow endpoint gets fewer samples rather than a longer window."""
    samples: dict[str, list[int]] = {e.key: [] for e in endpoints}
    pace = window_s / requests
    end = time.monotonic() + window_s
    errors: list[BaseException] = []

    def run(endpoint: Endpoint, rng: random.Random) -> None:
        client = Client((endpoint.port, endpoint.token), timeout_s=window_s + 60)
        into = samples[endpoint.key]
        try:
            while len(into) < requests and time.monotonic() < end:
                time.sleep(rng.uniform(0.0, 2 * pace))
                into.append(client.timed_get(endpoint.path))
        except BaseException as exc:
            errors.append(exc)
        finally:
            client.close()

    threads = [
        threading.Thread(target=run, args=(e, random.Random(seed + i)), name=f"timed-{e.key}")
        for i, e in enumerate(endpoints)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return samples


def measure_loaded(ours: Endpoint, theirs: Endpoint, args: argparse.Namespace) -> JsonDict:
    """Both endpoints hammered at once while each is timed over the same window."""
    limit_s = args.hammer_ramp_s + args.loaded_s + 60
    with hammering([ours, theirs], args.hammers, limit_s, args.hammer_max) as counts:
        time.sleep(args.hammer_ramp_s)
        before = counts()
        load = os.getloadavg()[0]
        started = time.perf_counter()
        samples = paced(
            [ours, theirs], requests=args.requests, window_s=args.loaded_s, seed=args.seed
        )
        elapsed = time.perf_counter() - started
        after = counts()
    served = {k: (after[k] - before[k]) / elapsed for k in after}
    return _condition(samples, load, served, elapsed)


def _condition(
    samples: dict[str, list[int]],
    load: float,
    hammer_rps: dict[str, float] | None,
    elapsed_s: float | None,
) -> JsonDict:
    ours, theirs = summary_ms(samples["ours"]), summary_ms(samples["theirs"])
    ratio = ours["p50"] / theirs["p50"]
    return {
        "ours_ms": ours,
        "theirs_ms": theirs,
        "ratio_p50": ratio,
        "ratio_p99": ours["p99"] / theirs["p99"],
        "meets_target": ratio <= RATIO_TARGET,
        "load_average": round(load, 2),
        "hammer_requests_per_s": hammer_rps,
        "elapsed_s": elapsed_s,
    }


# -- live events ----------------------------------------------------------------------


class EventReader(threading.Thread):
    """Follows an SSE stream and notes when each event arrives, by (job, kind, status)."""

    def __init__(self, server: Server, path: str) -> None:
        super().__init__(name="sse-reader", daemon=True)
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        self.conn.request(
            "GET",
            path,
            headers={"Authorization": f"token {server.token}", "Accept": "text/event-stream"},
        )
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.arrived: dict[tuple[str, str, str], tuple[int, int]] = {}
        self.cond = threading.Condition()
        self.error: BaseException | None = None
        self.closing = False

    def run(self) -> None:
        event_id = ""
        data = ""
        try:
            while True:
                raw = self.response.readline()
                if not raw:
                    return
                now = time.perf_counter_ns()
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith("id:"):
                    event_id = line[3:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif not line and data:
                    event = json.loads(data)
                    key = (event["job_id"], event["kind"], event["status"])
                    with self.cond:
                        self.arrived.setdefault(key, (now, int(event_id or -1)))
                        self.cond.notify_all()
                    event_id, data = "", ""
        except Exception as exc:
            if not self.closing:
                self.error = exc
        finally:
            with self.cond:
                self.cond.notify_all()

    def wait_for(self, key: tuple[str, str, str], timeout_s: float) -> tuple[int, int] | None:
        with self.cond:
            self.cond.wait_for(
                lambda: key in self.arrived or self.error is not None or not self.is_alive(),
                timeout_s,
            )
            return self.arrived.get(key)

    def close(self) -> None:
        self.closing = True
        sock = self.conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self.is_alive():
            self.join(5)
        self.conn.close()


def measure_sse(
    server: Server, db: Path, files: Path, *, transitions: int, warmup_jobs: int, seed: int
) -> JsonDict:
    """Jobs moved through the service in this process, one change at a time: each
    is timed from the moment its commit returns until the stream delivers it. The
    changes of the first ``warmup_jobs`` jobs are reported apart."""
    reader = EventReader(server, EVENTS_PATH)
    if reader.status != 200:
        reader.close()
        return {"available": False, "reason": f"GET {EVENTS_PATH} answered {reader.status}"}
    reader.start()
    store = SqlStore.open(sqlite_url(db))
    tools = ToolRegistry.from_entry_points(only=SSE_TOOL)
    service = JobService(store, tools, DirectoryJobFiles(files))
    rng = random.Random(seed)
    actor: Actor = service.sign_in(READER_NAME, workspace_id=READER_WORKSPACE)
    latencies: list[int] = []
    by_change: dict[str, list[int]] = {}
    missed: list[str] = []
    warmup: list[tuple[str, float]] = []
    series: list[tuple[str, float]] = []
    warming = warmup_jobs > 0

    def timed(kind: str, status: str, change: Callable[..., str], *args: str) -> str:
        # A random pause first, so that changes land at every point of the
        # stream's polling cycle rather than right after one poll.
        time.sleep(rng.uniform(0.0, 0.012))
        job_id = change(*args)
        committed = time.perf_counter_ns()
        got = reader.wait_for((job_id, kind, status), 5.0)
        change_name = f"{kind} {status}"
        if got is None:
            missed.append(f"{job_id} {change_name}")
            return job_id
        latency = max(0, got[0] - committed)
        if warming:
            warmup.append((change_name, round(latency / 1e6, 3)))
            return job_id
        latencies.append(latency)
        by_change.setdefault(change_name, []).append(latency)
        series.append((change_name, round(latency / 1e6, 3)))
        return job_id

    def submit() -> str:
        return service.submit(actor, SSE_TOOL, [FASTA], {}, name="live events probe").id

    def start(job_id: str) -> str:
        service.runs.start(job_id)
        return job_id

    def progress(job_id: str) -> str:
        service.runs.progress(job_id, 0.5, "half way")
        return job_id

    def complete(job_id: str) -> str:
        service.runs.complete(job_id, ToolResult(fields={"length": 59}))
        return job_id

    def lifecycle() -> None:
        job_id = timed("created", "PENDING", submit)
        timed("status", "PROCESSING", start, job_id)
        timed("progress", "PROCESSING", progress, job_id)
        timed("status", "COMPLETED", complete, job_id)

    try:
        for _ in range(warmup_jobs):
            lifecycle()
        warming = False
        while len(latencies) + len(missed) < transitions and reader.error is None:
            lifecycle()
    finally:
        reader.close()
        store.close()
    stats = summary_ms(latencies) if latencies else None
    return {
        "available": True,
        "stream": EVENTS_PATH,
        "transitions": len(latencies) + len(missed),
        "missed": missed[:20],
        "missed_count": len(missed),
        "reader_error": repr(reader.error) if reader.error else None,
        "latency_ms": stats,
        "by_change_ms": {k: summary_ms(v) for k, v in by_change.items()},
        # Every timed change in order, and the untimed first jobs' changes.
        "series_ms": series,
        "warmup_ms": warmup,
        "meets_target": bool(stats and not missed and stats["p99"] < SSE_TARGET_P99_MS),
    }


FASTA = JobInput(
    id="sequences_1",
    slot_id="sequences",
    kind="text",
    format="fasta",
    content=">probe\nMTEYKLVVVGAGGVGKSALTIQLIQNHFVDEYDPTIEDSYRKQVVIDGETCLLD",
)


# -- the run --------------------------------------------------------------------------


def clear_work(work: Path) -> None:
    """Remove what a run leaves in ``work`` (and nothing else there)."""
    for name in ("ours", "theirs"):
        shutil.rmtree(work / name, ignore_errors=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            (work / f"{name}.sqlite{suffix}").unlink(missing_ok=True)
    (work / "filled.json").unlink(missing_ok=True)


def our_server(home: Path, db: Path, rate_limit: int) -> Server:
    return Server(
        "ours",
        [
            str(OUR_JUPYTER),
            "server",
            '--ServerApp.jpserver_extensions={"proteiniq_jupyter": True}',
            f"--ProteinIQApp.database_url={sqlite_url(db)}",
            f"--ProteinIQApp.data_dir={home / 'files'}",
            "--ProteinIQApp.executor=inprocess",
            f"--ProteinIQApp.rate_limit={rate_limit}",
            # The reader of the list page: a plain member of the big workspace.
            f"--ProteinIQApp.user={READER_NAME}",
            f"--ProteinIQApp.email={READER_NAME}@lab.example",
            f"--ProteinIQApp.workspace={READER_WORKSPACE}",
        ],
        home,
    )


def their_server(home: Path, venv: Path, db: Path) -> Server:
    return Server(
        "theirs",
        [
            str(venv / "bin" / "jupyter"),
            "server",
            '--ServerApp.jpserver_extensions={"jupyter_scheduler": True}',
            f"--SchedulerApp.db_url=sqlite:///{db}",
        ],
        home,
    )


def markdown(report: JsonDict) -> str:
    machine = report["machine"]
    lines = [
        f"{report['jobs']:,} jobs per server · {report['requests']} timed requests per "
        f"endpoint and condition · {report['date']} · {machine['cpus']} CPUs · "
        f"jupyter-scheduler {report['scheduler']['version']}",
        "",
        "| condition | ours p50 | ours p90 | ours p99 | jupyter-scheduler p50 | p90 | p99 "
        "| ours/theirs (p50) | ≤ 0.33 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    labels = {
        "idle": "idle",
        "loaded": f"{report['hammers']} hammering clients per endpoint",
    }
    for key, label in labels.items():
        c = report["list"].get(key)
        if c is None:
            continue
        o, t = c["ours_ms"], c["theirs_ms"]
        if key == "loaded":
            label += f" (n = {o['n']} / {t['n']})"
        lines.append(
            f"| {label} | {o['p50']:.2f} ms | {o['p90']:.2f} ms | {o['p99']:.2f} ms "
            f"| {t['p50']:.2f} ms | {t['p90']:.2f} ms | {t['p99']:.2f} ms "
            f"| {c['ratio_p50']:.3f} | {'yes' if c['meets_target'] else '**no**'} |"
        )
    idle = report["list"].get("idle")
    if idle and "jupyter_status_ms" in idle:
        floor = idle["jupyter_status_ms"]
        lines += [
            "",
            f"Jupyter's own `GET {STATUS_PATH}` while idle (p50): our server "
            f"{floor['ours']['p50']:.2f} ms, jupyter-scheduler's {floor['theirs']['p50']:.2f} ms.",
        ]
    loaded = report["list"].get("loaded")
    if loaded and loaded["hammer_requests_per_s"]:
        rps = loaded["hammer_requests_per_s"]
        lines += [
            "",
            f"Served to the hammering clients while loaded: ours {rps['ours']:.0f} requests/s, "
            f"jupyter-scheduler {rps['theirs']:.1f} requests/s.",
        ]
    sse = report.get("sse")
    lines.append("")
    if not sse or not sse.get("available"):
        reason = (sse or {}).get("reason", "not run")
        lines.append(f"Live events: not measurable ({reason}).")
    else:
        lat = sse["latency_ms"]
        lines += [
            "| live events: commit → SSE client | n | p50 | p90 | p99 | max | p99 < 20 ms |",
            "|---|---:|---:|---:|---:|---:|:---:|",
        ]
        if lat is not None:
            ok = "yes" if sse["meets_target"] else "**no**"
            lines.append(
                f"| every change | {lat['n']} | {lat['p50']:.2f} ms | {lat['p90']:.2f} ms "
                f"| {lat['p99']:.2f} ms | {lat['max']:.2f} ms | {ok} |"
            )
        for label, stats in sorted(sse["by_change_ms"].items()):
            lines.append(
                f"| {label} | {stats['n']} | {stats['p50']:.2f} ms | {stats['p90']:.2f} ms "
                f"| {stats['p99']:.2f} ms | {stats['max']:.2f} ms | |"
            )
        if sse["warmup_ms"]:
            first = ", ".join(f"{ms:.1f}" for _, ms in sse["warmup_ms"])
            lines.append(f"\nUntimed first changes after the stream opened (ms): {first}.")
        if sse["missed_count"]:
            lines.append(f"\n{sse['missed_count']} changes never reached the stream.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs in each server's database")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per endpoint")
    parser.add_argument("--warmup", type=int, default=30, help="untimed requests per endpoint")
    parser.add_argument("--hammers", type=int, default=4, help="loading clients per endpoint")
    parser.add_argument(
        "--loaded-s",
        type=float,
        default=180.0,
        help="window of the timed requests under load (a slow endpoint gets fewer)",
    )
    parser.add_argument(
        "--hammer-max", type=int, default=100_000, help="most requests a loading client sends"
    )
    parser.add_argument(
        "--hammer-ramp-s", type=float, default=2.0, help="load before the timed requests start"
    )
    parser.add_argument(
        "--transitions", type=int, default=300, help="job changes timed on the event stream"
    )
    parser.add_argument(
        "--sse-warmup-jobs", type=int, default=2, help="jobs moved untimed before those timed"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate-limit", type=int, default=100_000_000, help="ours, per minute")
    parser.add_argument("--scheduler-venv", type=Path, default=SCHEDULER_VENV)
    parser.add_argument(
        "--scheduler-spec", default=SCHEDULER_SPEC, help="what pip installs into that venv"
    )
    parser.add_argument("--keep", action="store_true", help="leave the filled databases in --work")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the databases a --keep run left (same --jobs and --seed) without refilling",
    )
    parser.add_argument(
        "--scheduler-index",
        action="store_true",
        help="add an index on jobs.create_time to jupyter-scheduler's table (not in its schema)",
    )
    parser.add_argument(
        "--work", type=Path, default=WORK, help="where the databases and server homes go"
    )
    parser.add_argument("--output", type=Path, default=DATA / "api.json")
    args = parser.parse_args(argv)
    if args.jobs < 4 * PAGE:
        parser.error(f"--jobs must be at least {4 * PAGE}")

    python = ensure_scheduler_venv(args.scheduler_venv, args.scheduler_spec)
    work: Path = args.work
    ours_db, theirs_db = work / "ours.sqlite", work / "theirs.sqlite"
    marker = work / "filled.json"
    filled = {"jobs": args.jobs, "seed": args.seed}
    reuse = args.reuse and marker.exists() and json.loads(marker.read_text()) == filled
    if not reuse:
        clear_work(work)
    work.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    report: JsonDict = {
        "date": now.date().isoformat(),
        "jobs": args.jobs,
        "requests": args.requests,
        "warmup": args.warmup,
        "hammers": args.hammers,
        "loaded_window_s": args.loaded_s,
        "page": PAGE,
        "paths": {"ours": OURS_PATH, "theirs": THEIRS_PATH},
        "ratio_target": RATIO_TARGET,
        "sse_target_p99_ms": SSE_TARGET_P99_MS,
        "scheduler_index": args.scheduler_index,
        "reused": reuse,
        "machine": _machine(),
        "list": {},
    }
    servers: list[Server] = []
    try:
        if reuse:
            print(f"measuring the databases kept in {work}", flush=True)
            report["scheduler"] = {"version": scheduler_version(python)}
        else:
            print(f"filling both databases with {args.jobs:,} jobs ...", flush=True)
            report["ours_fill"] = fill_ours(ours_db, Workload(args.jobs, args.seed, now))
            report["scheduler"] = fill_theirs(
                python, theirs_db, Workload(args.jobs, args.seed, now)
            )
            marker.write_text(json.dumps(filled))
        set_scheduler_index(theirs_db, args.scheduler_index)
        ours = our_server(work / "ours", ours_db, args.rate_limit)
        theirs = their_server(work / "theirs", args.scheduler_venv, theirs_db)
        servers = [ours, theirs]
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        print(f"servers up: ours :{ours.port}, jupyter-scheduler :{theirs.port}", flush=True)
        endpoints = (
            Endpoint("ours", ours.port, ours.token, OURS_PATH),
            Endpoint("theirs", theirs.port, theirs.token, THEIRS_PATH),
        )
        report["pages"] = check_pages(*endpoints)
        print("idle ...", flush=True)
        report["list"]["idle"] = measure_idle(*endpoints, args)
        print(f"loaded ({args.hammers} clients per endpoint) ...", flush=True)
        report["list"]["loaded"] = measure_loaded(*endpoints, args)
        print("live events ...", flush=True)
        try:
            report["sse"] = measure_sse(
                ours,
                ours_db,
                work / "ours" / "files",
                transitions=args.transitions,
                warmup_jobs=args.sse_warmup_jobs,
                seed=args.seed,
            )
        except Exception as exc:  # the list numbers still get reported
            traceback.print_exc()
            report["sse"] = {"available": False, "reason": f"the measurement failed: {exc!r}"}
    finally:
        for server in servers:
            server.stop()
        if not (args.keep or args.reuse):
            clear_work(work)
    report["total_s"] = time.perf_counter() - started
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print()
    print(markdown(report))
    print(f"\ntotal {report['total_s']:.0f} s; results in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
