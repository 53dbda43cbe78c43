"""The notebook client's costs: what the HTTP transport adds to a job, how soon
``wait()`` sees a completion, and the first page of ``piq.jobs()`` over a big
history.

* **submit → COMPLETED.** A zero-work job, seen finished by ``piq.run(...).wait()``
  over HTTP against a real Jupyter server with the extension, against the same
  through ``JobService`` in-process (submit, then the event bus). Alternated round
  by round; the ratio of the medians (target ≤ 1.3).
* **completion → wait() returns.** For each HTTP round, the wall time at which
  ``wait()`` returned minus the job's ``completed_at`` in the store (both clocks of
  this machine): p50 and p99 (target p99 ≤ 50 ms, which no polling loop reaches).
* **first page of piq.jobs()** in a workspace of ``--jobs`` jobs (filled as
  ``store_list.py`` fills its store), over HTTP and in-process: p50 (target ≤ 50 ms).

Both sides run the same engine path: the server's engine and this process's
(shared by the service rounds and the in-process client) both use the in-process
executor on the same store. The HTTP client follows the workspace's one event
stream, opened before the first submit, so a round is one POST and the job's
events; the ended job's times and credits are read once the round's time is taken
(on first use, as ``wait()`` leaves them).

    .venv/bin/python benchmarks/client.py [--jobs 100000] [--rounds 200] [--pages 200]
    .venv/bin/python benchmarks/client.py --jobs 1000 --rounds 5 --pages 5 --warmup 1  # runs?
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from checkout import DATA, ROOT, use_checkout, write_results

use_checkout()

from dispatch import TOOL_PATH, ZeroWork, zero_input  # noqa: E402
from store_list import BIG_WORKSPACE, READER, Workload, fill_sqlite  # noqa: E402

from proteiniq_jupyter.client import Client  # noqa: E402
from proteiniq_jupyter.client.http import HttpTransport  # noqa: E402
from proteiniq_jupyter.client.local import LocalTransport  # noqa: E402
from proteiniq_jupyter.client.transport import Connection  # noqa: E402
from proteiniq_jupyter.engine import open_engine  # noqa: E402
from proteiniq_jupyter.jobs.model import JobEvent  # noqa: E402
from proteiniq_jupyter.store.database import sqlite_url  # noqa: E402
from proteiniq_jupyter.store.sql_store import SqlStore  # noqa: E402

USERNAME = f"bench-user-{READER:02d}"


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIQ_", "JPY_", "JUPYTER"))}
    env.update(
        PIQ_DATA_DIR=str(home / "piq"),
        PIQ_EXTRA_TOOLS=TOOL_PATH,
        PIQ_EXECUTOR="inprocess",
        PIQ_USER=USERNAME,
        PIQ_EMAIL=f"{USERNAME}@lab.example",
        PIQ_WORKSPACE=BIG_WORKSPACE,
        PIQ_PDB_URL="",
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
        PYTHONPATH=os.pathsep.join([str(ROOT / "benchmarks"), env.get("PYTHONPATH", "")]),
    )
    return env


def start_server(home: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str, str]:
    """A Jupyter server with the extension; ready when it says where it listens."""
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "jupyter_server_config.json").write_text(
        '{"ServerApp": {"jpserver_extensions": {"proteiniq_jupyter": true, "jupyterlab": false,'
        ' "notebook_shim": false, "jupyter_lsp": false, "jupyter_server_terminals": false}}}'
    )
    (home / "root").mkdir(exist_ok=True)
    token = secrets.token_hex(16)
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={home / 'root'}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    log: list[str] = []
    for line in proc.stderr:
        log.append(line)
        if f"127.0.0.1:{port}/" in line:
            break
    else:
        raise RuntimeError("the server did not start:\n" + "".join(log[-30:]))
    stderr = proc.stderr
    threading.Thread(target=lambda: [None for _ in stderr], daemon=True).start()
    return proc, f"http://127.0.0.1:{port}/", token


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def measure(args: argparse.Namespace) -> dict[str, Any]:
    home = DATA / "client"
    shutil.rmtree(home, ignore_errors=True)
    (home / "piq").mkdir(parents=True)
    url = sqlite_url(home / "piq" / "piq.sqlite")
    SqlStore.open(url).close()
    fill = fill_sqlite(url, Workload(args.jobs, 7, datetime.now(UTC)))
    env = environment(home)
    os.environ.update({k: v for k, v in env.items() if k.startswith("PIQ_")})
    proc, server_url, token = start_server(home, env)
    http = Client(HttpTransport(server_url, token, Connection("http", server_url, "benchmark")))
    # One engine in this process: the in-process client's is the one the service
    # rounds use, so the two sides run the same executor path.
    engine = open_engine(executor="inprocess")
    actor = engine.actor()
    local = Client(LocalTransport(Connection("inprocess", None, "benchmark"), engine))
    samples: dict[str, list[float]] = {
        "http_s": [],
        "service_s": [],
        "seen_ms": [],
        "request_ms": [],
    }
    try:
        for _ in range(args.warmup):
            http.run(ZeroWork.id, "x", new=True).wait(show=False)
        for _ in range(args.rounds):
            started = time.perf_counter()
            job = http.run(ZeroWork.id, "x", new=True).wait(show=False)
            samples["http_s"].append(time.perf_counter() - started)
            returned = time.time()
            assert job.resource.completed_at is not None
            samples["seen_ms"].append((returned - job.resource.completed_at.timestamp()) * 1000)
            samples["service_s"].append(service_round(engine, actor))
            started = time.perf_counter()
            http.transport.tool(ZeroWork.id)
            samples["request_ms"].append((time.perf_counter() - started) * 1000)
        pages: dict[str, list[float]] = {"http_ms": [], "inprocess_ms": []}
        for _ in range(args.pages):
            for name, client in (("http_ms", http), ("inprocess_ms", local)):
                started = time.perf_counter()
                rows = client.jobs(limit=20).first_page()
                pages[name].append((time.perf_counter() - started) * 1000)
                assert len(rows) == 20
    finally:
        http.close()
        local.close()  # and its engine
        proc.terminate()
        proc.wait(30)
    median = {k: percentile(v, 0.5) for k, v in samples.items()}
    return {
        "jobs": args.jobs,
        "rounds": args.rounds,
        "fill": fill,
        "submit_to_completed": {
            "http_p50_ms": median["http_s"] * 1000,
            "service_p50_ms": median["service_s"] * 1000,
            "ratio": median["http_s"] / median["service_s"],
        },
        "request_floor_ms": percentile(samples["request_ms"], 0.5),
        "completion_to_wait_ms": {
            "p50": percentile(samples["seen_ms"], 0.5),
            "p99": percentile(samples["seen_ms"], 0.99),
        },
        "first_page_ms": {name: percentile(v, 0.5) for name, v in pages.items()},
        "samples": {**samples, **pages},
    }


def service_round(engine: Any, actor: Any) -> float:
    """Submit through the service and wait on its event bus for the end."""
    done = threading.Event()
    wanted: list[str] = []

    def take(event: JobEvent) -> None:
        if wanted and event.job_id == wanted[0] and event.status.is_terminal:
            done.set()

    unsubscribe = engine.service.bus.subscribe(take)
    try:
        started = time.perf_counter()
        job = engine.service.submit(actor, ZeroWork.id, [zero_input("x")])
        wanted.append(job.id)
        if not engine.service.get(actor, job.id).job.status.is_terminal:
            done.wait(60)
        return time.perf_counter() - started
    finally:
        unsubscribe()


def report(results: dict[str, Any]) -> str:
    s, w, p = (
        results["submit_to_completed"],
        results["completion_to_wait_ms"],
        results["first_page_ms"],
    )
    return "\n".join(
        [
            f"## client ({results['rounds']} rounds, {results['jobs']:,} jobs in the store)",
            "",
            "| measure | value | target |",
            "|---|---|---|",
            f"| submit → COMPLETED, HTTP p50 | {s['http_p50_ms']:.1f} ms | |",
            f"| submit → COMPLETED, JobService p50 | {s['service_p50_ms']:.1f} ms | |",
            f"| HTTP / in-process | {s['ratio']:.2f} | ≤ 1.3 |",
            f"| one API request that reads no store (GET tools/ID), p50 "
            f"| {results['request_floor_ms']:.1f} ms | |",
            f"| completion → wait() returns, p50 | {w['p50']:.1f} ms | |",
            f"| completion → wait() returns, p99 | {w['p99']:.1f} ms | ≤ 50 ms |",
            f"| first page of piq.jobs(), HTTP p50 | {p['http_ms']:.1f} ms | ≤ 50 ms |",
            f"| first page of piq.jobs(), in-process p50 | {p['inprocess_ms']:.1f} ms | |",
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--pages", type=int, default=200)
    results = measure(parser.parse_args(argv))
    write_results("client", results, report(results))


if __name__ == "__main__":
    main()
