"""The JupyterLab extension's Jobs panel, measured in a real JupyterLab in Debian's
chromium (the harness of tests/browser: nothing leaves 127.0.0.1), over a history
of --jobs jobs filled as ``store_list.py`` fills it (the reader a member of the big
workspace).

* **first render**: from the panel's request for its first page (the resource
  timing of ``jobs?limit=50``) to that page's rows in the DOM: the server's answer
  and React's render, a fresh page load per sample;
* **page turn**: from the click on Next to the next page's rows in the DOM
  (p50, p99; target ≤ 200 ms for both);
* **status change → row**: jobs of the sleep tool, each held at a gate after its
  first step, are submitted through the API; one at a time a gate is opened, the
  job completes in the store, its event reaches the page's one event stream and
  its row's badge reads COMPLETED. The time is the page's clock when a
  MutationObserver saw the badge change, minus the job's ``finished_at`` in the
  store (the same machine's clock): p50 and p99 (target p99 ≤ 150 ms).
* **jupyter-scheduler's own list page** ("Notebook Jobs", in its JupyterLab from its
  own environment, which ``api.py`` builds) over the same jobs, filled from the same
  workload into its database: its first render (its request for the first page to
  its rows in the DOM) and a page turn (its "next page" button to the next rows),
  timed the same way. Its list does not follow status changes (it has a Reload
  button), so it has no third measure.

    .venv/bin/python benchmarks/lab.py [--jobs 100000] [--renders 10] [--pages 50] [--rounds 50]
        [--no-scheduler]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from checkout import DATA, use_checkout, write_results

use_checkout()

from api import (  # noqa: E402
    SCHEDULER_SPEC,
    SCHEDULER_VENV,
    Server,
    ensure_scheduler_venv,
    fill_theirs,
    scheduler_version,
)
from store_list import BIG_WORKSPACE, READER, Workload, fill_sqlite  # noqa: E402
from widgets import spread, timings_table  # noqa: E402

from proteiniq_jupyter.jobs import credits  # noqa: E402
from proteiniq_jupyter.store.database import sqlite_url  # noqa: E402
from proteiniq_jupyter.store.sql_store import SqlStore  # noqa: E402
from tests.browser.chromium import POLL_MS, Visit, launch  # noqa: E402
from tests.browser.lab import start_lab  # noqa: E402
from tests.helpers import TEST_TOOL_PATHS  # noqa: E402
from tests.stack import Stack, stop_stack  # noqa: E402

USERNAME = f"bench-user-{READER:02d}"
PANEL = "#proteiniq-jobs"
TABLE = f"{PANEL} .piq-table-view"
ROW = "tr[data-job]"

#: Set before the page's own scripts run: the page's time when the panel's first
#: row joins the page.
FIRST_ROWS = """(() => {
  window.__rows = null;
  performance.setResourceTimingBufferSize(100000);  // JupyterLab loads hundreds of files
  const observer = new MutationObserver(() => {
    if (document.querySelector('#proteiniq-jobs tr[data-job]')) {
      window.__rows = performance.now();
      observer.disconnect();
    }
  });
  observer.observe(document, {subtree: true, childList: true});
})();"""


def first_request(pattern: str) -> str:
    """The page's times when it first asked for an address matching ``pattern`` (a
    JavaScript regular expression) and when the answer had come."""
    return (
        "() => performance.getEntriesByType('resource')"
        f".filter((e) => {pattern}.test(e.name))"
        ".map((e) => [e.startTime, e.responseEnd])[0] ?? null"
    )


#: The panel's first page: no filter, no cursor (JupyterLab's ServerConnection adds
#: a number against caches).
FIRST_REQUEST = first_request(r"/\/proteiniq\/api\/v1\/jobs\?limit=50&\d+$/")

#: Clicks the panel's Next; the milliseconds until its first row is another job.
TURN = """() => {
  const table = document.querySelector('#proteiniq-jobs .piq-table-view');
  const first = () => table.querySelector('tr[data-job]')?.dataset.job;
  const before = first();
  const next = [...table.querySelectorAll('button')].find((b) => b.textContent === 'Next');
  const started = performance.now();
  return new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      if (first() !== before) { observer.disconnect(); resolve(performance.now() - started); }
    });
    observer.observe(table, {subtree: true, childList: true, attributes: true});
    next.click();
  });
}"""

#: Watches the badge of a job's row and keeps the page's time (on the machine's
#: clock) at which it first reads COMPLETED.
WATCH = """(job) => {
  window.__seen = null;
  const panel = document.querySelector('#proteiniq-jobs');
  const observer = new MutationObserver(() => {
    const now = performance.timeOrigin + performance.now();
    const badge = panel.querySelector(`tr[data-job='${job}'] .piq-badge[data-status]`);
    if (badge && badge.dataset.status === 'COMPLETED' && window.__seen === null) {
      window.__seen = now;
      observer.disconnect();
    }
  });
  observer.observe(panel, {subtree: true, childList: true, attributes: true, characterData: true});
}"""


#: jupyter-scheduler's list page: its rows, its first-page request, its next page.
#: What its page runs in, added to the environment api.py builds for its server.
LAB_SPEC = "jupyterlab>=4.4,<5"
THEIR_ROWS = "#notebook-jobs-panel .MuiTableBody-root tr"
THEIR_FIRST_ROWS = FIRST_ROWS.replace("#proteiniq-jobs tr[data-job]", THEIR_ROWS)
#: Its list's first page (its table asks for 25 rows; the running-jobs indicator
#: asks for jobs too, for fewer).
THEIR_FIRST_REQUEST = first_request(r"/\/scheduler\/jobs\?.*max_items=25/")
THEIR_TURN = """() => {
  const panel = document.querySelector('#notebook-jobs-panel');
  const first = () => panel.querySelector('.MuiTableBody-root tr')?.textContent;
  const before = first();
  const next = panel.querySelector("button[aria-label='Go to next page']");
  const started = performance.now();
  return new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      if (first() !== before) { observer.disconnect(); resolve(performance.now() - started); }
    });
    observer.observe(panel, {subtree: true, childList: true, characterData: true});
    next.click();
  });
}"""


def open_lab(seen: Visit, lab: Stack) -> None:
    seen.page.goto(f"{lab.url}lab?token={lab.token}")
    seen.page.wait_for_function("() => !!window.jupyterapp", timeout=120_000)
    seen.page.evaluate(
        "async () => { await window.jupyterapp.restored;"
        " await window.jupyterapp.commands.execute('proteiniq:open-jobs'); }"
    )
    seen.page.locator(f"{TABLE} {ROW}").first.wait_for(timeout=120_000)


def first_renders(seen: Visit, lab: Stack, renders: int) -> dict[str, list[float]]:
    """Per fresh page: request → rows, and its two parts: request → answer (the
    server and the network), answer → rows (the page: JSON, React, the DOM)."""
    seen.page.add_init_script(FIRST_ROWS)
    samples: dict[str, list[float]] = {"first_render_ms": [], "answer_ms": [], "render_ms": []}
    for _ in range(renders):
        open_lab(seen, lab)
        seen.page.wait_for_function(
            "() => window.__rows !== null", timeout=120_000, polling=POLL_MS
        )
        asked = seen.page.evaluate(FIRST_REQUEST)
        assert asked is not None, "the panel's first request was not seen"
        started, answered = float(asked[0]), float(asked[1])
        rows = float(seen.page.evaluate("() => window.__rows"))
        samples["first_render_ms"].append(rows - started)
        samples["answer_ms"].append(answered - started)
        samples["render_ms"].append(rows - answered)
    return samples


def page_turns(seen: Visit, pages: int) -> list[float]:
    return [float(seen.page.evaluate(TURN)) for _ in range(pages)]


def status_latency(seen: Visit, lab: Stack, store: SqlStore, rounds: int) -> list[float]:
    """Milliseconds from each job's completion in the store to its row saying so."""
    home = lab.root / "gates"
    samples: list[float] = []
    page = seen.page
    page.locator(f"{PANEL} button", has_text="First").click()
    for index in range(rounds):
        gate = home / f"g{index}"
        gate.mkdir(parents=True)
        body = {
            "tool": "sleep",
            "name": f"held {index}",
            "settings": {"steps": 2, "hold": str(gate)},
            "input": {"inputs": [{"slotId": "text", "format": "text", "content": "x"}]},
        }
        with lab.http() as http:
            reply = http.post("proteiniq/api/v1/jobs", json=body)
        assert reply.status_code == 201, reply.text
        job_id = reply.json()["id"]
        row = page.locator(f"{PANEL} tr[data-job='{job_id}']")
        # The filled history's own live jobs may run first: a generous wait.
        row.locator(".piq-badge[data-status='PROCESSING']").wait_for(timeout=300_000)
        page.evaluate(WATCH, job_id)
        (gate / "open").touch()
        page.wait_for_function("() => window.__seen !== null", timeout=60_000, polling=POLL_MS)
        seen_ms = float(page.evaluate("() => window.__seen"))
        with store.read() as tx:
            job = tx.get_job(job_id)
        assert job is not None and job.finished_at is not None, job_id
        samples.append(seen_ms - job.finished_at.timestamp() * 1000)
    return samples


def their_page(args: argparse.Namespace, seen: Visit) -> dict[str, Any]:
    """jupyter-scheduler's Notebook Jobs page over the same workload."""
    home = DATA / "lab-scheduler"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    python = ensure_scheduler_venv(SCHEDULER_VENV, SCHEDULER_SPEC)
    has_lab = subprocess.run([str(python), "-c", "import jupyterlab"], check=False)
    if has_lab.returncode != 0:  # api.py's environment needs only the server
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", LAB_SPEC], check=True)
    db = home / "scheduler.sqlite"
    fill = fill_theirs(python, db, Workload(args.jobs, 7, datetime.now(UTC)))
    server = Server(
        "theirs",
        [
            str(SCHEDULER_VENV / "bin" / "jupyter"),
            "lab",
            "--LabApp.news_url=None",
            "--LabApp.expose_app_in_browser=True",
            '--ServerApp.jpserver_extensions={"jupyter_scheduler": True}',
            f"--SchedulerApp.db_url=sqlite:///{db}",
        ],
        home,
    )
    server.start()
    page = seen.page
    renders: list[float] = []
    try:
        server.wait_ready()
        page.add_init_script(THEIR_FIRST_ROWS)
        for _ in range(args.renders):
            page.goto(f"http://127.0.0.1:{server.port}/lab?token={server.token}")
            page.wait_for_function("() => !!window.jupyterapp", timeout=120_000)
            page.evaluate(
                "async () => { await window.jupyterapp.restored; await window.jupyterapp"
                ".commands.execute('scheduling:list-jobs-from-launcher'); }"
            )
            try:
                page.wait_for_function(
                    "() => window.__rows !== null", timeout=120_000, polling=POLL_MS
                )
            except Exception:
                page.screenshot(path=str(home / "failed.png"))
                raise
            asked = page.evaluate(THEIR_FIRST_REQUEST)
            assert asked is not None, "jupyter-scheduler's first request was not seen"
            renders.append(float(page.evaluate("() => window.__rows")) - float(asked[0]))
        turns = [float(page.evaluate(THEIR_TURN)) for _ in range(args.pages)]
    finally:
        server.stop()
    return {
        "version": scheduler_version(python),
        "fill": fill,
        "first_render_ms": spread(renders),
        "page_turn_ms": spread(turns),
        "samples": {"first_render_ms": renders, "page_turn_ms": turns},
        # Whatever its JupyterLab asked of other hosts (refused by the page's guard).
        "outside": list(seen.outside),
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    home = DATA / "lab"
    shutil.rmtree(home, ignore_errors=True)
    (home / "piq").mkdir(parents=True)
    url = sqlite_url(home / "piq" / "piq.sqlite")
    SqlStore.open(url).close()
    fill = fill_sqlite(url, Workload(args.jobs, 7, datetime.now(UTC)))
    store = SqlStore.open(url)
    with store.write() as tx:  # the jobs this benchmark runs cost credits
        credits.grant(tx, BIG_WORKSPACE, 1_000_000, grant_key="grant_lab", at=datetime.now(UTC))
    env = {
        "PIQ_USER": USERNAME,
        "PIQ_EMAIL": f"{USERNAME}@lab.example",
        "PIQ_WORKSPACE": BIG_WORKSPACE,
        # the filled history holds live jobs of its own, which count against the limit
        "PIQ_MAX_CONCURRENT_JOBS": "100000",
    }
    os.environ["PIQ_EXTRA_TOOLS"] = ",".join(TEST_TOOL_PATHS)
    lab = start_lab(home, env)
    results: dict[str, Any] = {"jobs": args.jobs, "fill": fill}
    try:
        with launch() as seen:
            renders = first_renders(seen, lab, args.renders)
            turns = page_turns(seen, args.pages)
            latency = status_latency(seen, lab, store, args.rounds)
            results.update({key: spread(values) for key, values in renders.items()})
            results["page_turn_ms"] = spread(turns)
            results["status_to_row_ms"] = spread(latency)
            results["samples"] = {**renders, "page_turn_ms": turns, "status_to_row_ms": latency}
            assert seen.outside == [], seen.outside
    finally:
        store.close()
        stop_stack(lab)
    if args.scheduler:
        with launch() as seen:
            results["scheduler"] = their_page(args, seen)
    return results


def report(results: dict[str, Any]) -> str:
    lines = timings_table(
        "the lab's Jobs panel",
        results,
        (
            ("first_render_ms", "panel first render", "≤ 200 ms"),
            ("answer_ms", "… of which the server's answer", ""),
            ("render_ms", "… of which the page's render", ""),
            ("page_turn_ms", "panel page turn", "≤ 200 ms"),
            ("status_to_row_ms", "status change in the store → row in the DOM", "p99 ≤ 150 ms"),
        ),
    )
    theirs = results.get("scheduler")
    if theirs is not None:
        lines += [
            "",
            f"jupyter-scheduler {theirs['version']}'s Notebook Jobs page, the same jobs:",
            "",
            "| measure | ours p50 | ours p99 | jupyter-scheduler p50 | p99 |",
            "|---|---|---|---|---|",
        ]
        for key, label in (("first_render_ms", "first render"), ("page_turn_ms", "page turn")):
            o, t = results[key], theirs[key]
            lines.append(
                f"| {label} | {o['p50']:.0f} ms | {o['p99']:.0f} ms "
                f"| {t['p50']:.0f} ms | {t['p99']:.0f} ms |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--renders", type=int, default=10)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument(
        "--no-scheduler",
        dest="scheduler",
        action="store_false",
        help="leave out jupyter-scheduler's page",
    )
    results = measure(parser.parse_args(argv))
    write_results("lab", results, report(results))


if __name__ == "__main__":
    main()
