"""The notebook widgets' costs, measured in a real JupyterLab in Debian's chromium
(the harness of tests/browser: nothing leaves 127.0.0.1).

* **status change → DOM.** Jobs of the sleep tool, each held at a gate after its
  first step (PROCESSING), are shown by one cell as live handles (a JobProgress
  each). One at a time, the gate of a job is opened; the job completes in the
  store, its event reaches the kernel's one subscription, the widget's trait
  changes and its badge reads COMPLETED. The time is the page's clock at the
  moment a MutationObserver saw the badge change (``performance.timeOrigin +
  performance.now()``) minus the job's ``finished_at`` in the store (the same
  machine's clock): p50 and p99 (target p99 ≤ 150 ms).
* **JobTable over --jobs jobs** (the store filled as ``store_list.py`` fills it; the
  reader a member of the big workspace): first render, from the cell's run command
  to the table's first page of rows in the DOM, a cell per sample; and a page turn,
  from the click on "next page" to the next page's rows in the DOM (p50, p99;
  target ≤ 200 ms).
* **Saved notebook size.** Five foldings with the tiny ESMFold (60 residues each),
  then two notebooks of five cells, one per job, saved from JupyterLab with the
  widgets' state: one whose cells end in the job's structure view, one whose cells
  print the job's id: the difference (target < 200 kB).

    .venv/bin/python benchmarks/widgets.py [--jobs 100000] [--rounds 100] [--pages 50]
    .venv/bin/python benchmarks/widgets.py --jobs 1000 --rounds 5 --pages 5  # runs?
"""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from checkout import DATA, use_checkout, write_results

use_checkout()

from store_list import BIG_WORKSPACE, READER, Workload, fill_sqlite  # noqa: E402

from proteiniq_jupyter.jobs import credits  # noqa: E402
from proteiniq_jupyter.store.database import sqlite_url  # noqa: E402
from proteiniq_jupyter.store.sql_store import SqlStore  # noqa: E402
from tests.browser.chromium import POLL_MS, launch  # noqa: E402
from tests.browser.lab import LabNotebook, start_lab  # noqa: E402
from tests.helpers import TEST_TOOL_PATHS  # noqa: E402
from tests.stack import Stack, stop_stack  # noqa: E402
from tests.tools.tiny_esmfold import build_tiny_esmfold  # noqa: E402

USERNAME = f"bench-user-{READER:02d}"
#: The widgets as the page draws them.
BADGE = ".piq-progress .piq-badge[data-status]"
TABLE = ".piq-table-view"
ROW = "tr[data-job]"
#: The cell that shows the job table.
TABLE_CELL = "piq.jobs()"
#: How long one table step may take before the run stops saying what the cell shows.
LIMIT_MS = 60_000
VIEW = ".piq-structure"
RENDERED = "[data-testid='structure-canvas'][data-rendered='true']"
#: Sequences folded for the saved-notebook comparison (60 residues each).
SEQUENCES = (
    "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKA",
    "MSDNGPQNQRNAPRITFGGPSDSTGSNQNGERSGARSKQRRPQGLPNNTASWFTALTQHGK",
    "MADQLTEEQIAEFKEAFSLFDKDGDGTITTKELGTVMRSLGQNPTEAELQDMINEVDADGN",
    "MVLSPADKTNVKAAWGKVGAHAGEYGAEALERMFLSFPTTKTYFPHFDLSHGSAQVKGHGK",
    "MGSSHHHHHHSSGLVPRGSHMASMTGGQQMGRGSEFKVVKLYSQDGKELGQVELAPGLEHR",
)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def spread(values: Sequence[float]) -> dict[str, float]:
    return {"p50": percentile(values, 0.5), "p99": percentile(values, 0.99), "n": len(values)}


# -- status change -> DOM ---------------------------------------------------------

#: Watches the badge of the ``index``-th progress widget of a cell and keeps the
#: page's time at which it first reads COMPLETED.
WATCH = """([cell, index]) => {
  const badge = document.querySelectorAll(
    `[data-test-cell='${cell}'] .piq-progress .piq-badge[data-status]`)[index];
  window.__seen = null;
  const observer = new MutationObserver(() => {
    const now = performance.timeOrigin + performance.now();
    const shown = document.querySelectorAll(
      `[data-test-cell='${cell}'] .piq-progress .piq-badge[data-status]`)[index];
    if (shown && shown.dataset.status === 'COMPLETED' && window.__seen === null) {
      window.__seen = now;
      observer.disconnect();
    }
  });
  observer.observe(badge.closest('.piq-progress').parentElement,
                   {subtree: true, childList: true, attributes: true, characterData: true});
}"""


def status_latency(book: LabNotebook, store: SqlStore, home: Path, rounds: int) -> list[float]:
    """Milliseconds from each job's completion in the store to its badge saying so."""
    samples: list[float] = []
    per_cell = 10
    for first in range(0, rounds, per_cell):
        count = min(per_cell, rounds - first)
        gates = [home / "gates" / f"g{first + i}" for i in range(count)]
        for gate in gates:
            gate.mkdir(parents=True)
        cell = f"live-{first}"
        book.run(
            cell,
            "jobs = [piq.run('sleep', 'x', steps=2, hold=g, new=True) for g in "
            f"{[str(g) for g in gates]!r}]\n"
            "for j in jobs:\n    display(j)\n"
            "ids = [j.id for j in jobs]\nprint(' '.join(ids))",
        )
        ids = book.output(cell).inner_text().split()[-count:]
        badges = book.page.locator(f"[data-test-cell='{cell}'] {BADGE}")
        book.page.wait_for_function(
            "([cell, n]) => document.querySelectorAll("
            "`[data-test-cell='${cell}'] .piq-progress .piq-badge[data-status]`).length === n",
            arg=[cell, count],
            timeout=120_000,
            polling=POLL_MS,
        )
        assert badges.count() == count
        for index, (gate, job_id) in enumerate(zip(gates, ids, strict=True)):
            book.page.evaluate(WATCH, [cell, index])
            (gate / "open").touch()
            book.page.wait_for_function(
                "() => window.__seen !== null", timeout=60_000, polling=POLL_MS
            )
            seen_ms = float(book.page.evaluate("() => window.__seen"))
            with store.read() as tx:
                job = tx.get_job(job_id)
            assert job is not None and job.finished_at is not None, job_id
            samples.append(seen_ms - job.finished_at.timestamp() * 1000)
    return samples


# -- JobTable over a big history --------------------------------------------------

#: Adds a cell holding ``code`` and runs it; the milliseconds from the run command
#: to the first of the table's rows in the DOM.
RUN_TIMED = """async ({cell, code, table, row, limit}) => {
  const app = window.jupyterapp;
  const notebook = app.shell.currentWidget.content;
  notebook.activeCellIndex = notebook.widgets.length - 1;
  await app.commands.execute('notebook:insert-cell-below');
  const active = notebook.activeCell;
  active.model.sharedModel.setSource(code);
  active.node.dataset.testCell = cell;
  const rows = () => active.node.querySelectorAll(`${table} ${row}`).length > 0;
  const started = performance.now();
  const shown = new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      if (rows()) { observer.disconnect(); resolve(performance.now() - started); }
    });
    observer.observe(active.node, {subtree: true, childList: true});
  });
  const ran = app.commands.execute('notebook:run-cell');
  const late = new Promise((_, reject) => setTimeout(() => reject(new Error(
    `no table row after ${limit} ms; the cell shows: ${active.node.innerText.slice(0, 800)}`
  )), limit));
  const elapsed = await Promise.race([shown, late]);
  await Promise.race([ran, late]);
  return elapsed;
}"""

#: Clicks the table's next-page button; the milliseconds until its first row is
#: another job. The button is disabled from a click until the kernel answers it,
#: which comes a moment after the new rows: a click then would be ignored, so the
#: turn waits for the button first.
TURN = """async ({cell, table, row, limit}) => {
  const found = document.querySelector(`[data-test-cell='${cell}'] ${table}`);
  const first = () => found.querySelector(row)?.dataset.job;
  const before = first();
  const next = [...found.querySelectorAll('button')].find(
    (b) => /next/i.test(b.getAttribute('aria-label') || b.textContent));
  const waited = performance.now();
  while (next.disabled) {
    if (performance.now() - waited > limit) {
      throw new Error(`the next button stayed disabled for ${limit} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const started = performance.now();
  return await new Promise((resolve, reject) => {
    const observer = new MutationObserver(() => {
      if (first() !== before) { observer.disconnect(); resolve(performance.now() - started); }
    });
    observer.observe(found, {subtree: true, childList: true, attributes: true});
    setTimeout(() => reject(new Error(
      `the first row is still ${before} after ${limit} ms (next: ${next?.outerHTML}); ` +
      `the table shows: ${found.innerText.slice(-1500)}`)), limit);
    next.click();
  });
}"""


def job_table(book: LabNotebook, renders: int, pages: int) -> dict[str, list[float]]:
    first: list[float] = []
    turns: list[float] = []
    for index in range(renders):
        cell = f"table-{index}"
        shown = {"cell": cell, "code": TABLE_CELL, "table": TABLE, "row": ROW, "limit": LIMIT_MS}
        first.append(float(book.page.evaluate(RUN_TIMED, shown)))
    last = {"cell": f"table-{renders - 1}", "table": TABLE, "row": ROW, "limit": LIMIT_MS}
    for turn in range(pages):
        try:
            turns.append(float(book.page.evaluate(TURN, last)))
        except Exception as exc:
            raise RuntimeError(f"page turn {turn + 1} of {pages} failed") from exc
    return {"first_render_ms": first, "page_turn_ms": turns}


# -- saved notebook size -----------------------------------------------------------


def fold_all(book: LabNotebook) -> list[str]:
    """The five foldings, run together by one cell; their job ids."""
    output = book.run(
        "folds",
        f"folds = [piq.run('esmfold', s) for s in {list(SEQUENCES)!r}]\n"
        "for f in folds:\n    f.wait(show=False)\n"
        "print(' '.join(f.id for f in folds))",
    )
    ids: list[str] = output.inner_text().split()[-len(SEQUENCES) :]
    return ids


def saved_size(lab: Stack, seen: Any, name: str, ids: Sequence[str], views: bool) -> int:
    """Bytes of a notebook of five cells, one per folding, saved from JupyterLab with
    the widgets' state; each cell ends in the job's structure view (``views``) or
    in its id."""
    book = LabNotebook(seen, lab, f"{name}.ipynb")
    book.open()
    book.run("load", "import proteiniq_jupyter as piq")
    for index, job_id in enumerate(ids):
        shown = "job.view()" if views else "print(job.id)"
        book.run(f"fold-{index}", f"job = piq.job({job_id!r})\n{shown}")
        if views:
            book.output(f"fold-{index}").locator(RENDERED).wait_for(timeout=120_000)
    book.save()
    book.page.wait_for_timeout(1000)
    return (lab.root / "notebooks" / f"{name}.ipynb").stat().st_size


def measure(args: argparse.Namespace) -> dict[str, Any]:
    home = DATA / "widgets"
    shutil.rmtree(home, ignore_errors=True)
    (home / "piq").mkdir(parents=True)
    url = sqlite_url(home / "piq" / "piq.sqlite")
    SqlStore.open(url).close()
    fill = fill_sqlite(url, Workload(args.jobs, 7, datetime.now(UTC)))
    store = SqlStore.open(url)
    with store.write() as tx:  # the jobs this benchmark runs cost credits
        credits.grant(tx, BIG_WORKSPACE, 1_000_000, grant_key="grant_widgets", at=datetime.now(UTC))
    model = build_tiny_esmfold(home / "tiny-esmfold")
    env = {
        "PIQ_USER": USERNAME,
        "PIQ_EMAIL": f"{USERNAME}@lab.example",
        "PIQ_WORKSPACE": BIG_WORKSPACE,
        # the filled history holds live jobs of its own, which count against the limit
        "PIQ_MAX_CONCURRENT_JOBS": "100000",
        "PIQ_ESMFOLD_MODEL": str(model),
    }
    os.environ["PIQ_EXTRA_TOOLS"] = ",".join(TEST_TOOL_PATHS)
    lab = start_lab(home, env)
    results: dict[str, Any] = {"jobs": args.jobs, "fill": fill, "parts": args.parts}
    parts = set(args.parts.split(","))
    try:
        with launch() as seen:
            book = LabNotebook(seen, lab, "bench.ipynb")
            book.open()
            book.run("load", "import proteiniq_jupyter as piq")
            if "status" in parts:
                latency = status_latency(book, store, home, args.rounds)
                results["status_to_dom_ms"] = spread(latency)
                results.setdefault("samples", {})["status_to_dom_ms"] = latency
            if "table" in parts:
                table = job_table(book, args.renders, args.pages)
                results["first_render_ms"] = spread(table["first_render_ms"])
                results["page_turn_ms"] = spread(table["page_turn_ms"])
                results.setdefault("samples", {}).update(table)
            if "size" in parts:
                ids = fold_all(book)
                book.save()  # a notebook left unsaved would hold the page (beforeunload)
                results["notebook_bytes"] = {
                    "none": saved_size(lab, seen, "no-views", ids, views=False),
                    "five": saved_size(lab, seen, "five-views", ids, views=True),
                }
            assert seen.outside == [], seen.outside
    finally:
        store.close()
        stop_stack(lab)
        (home / "lab.log").write_text("".join(lab.log))  # for a look at any outlier
    return results


def timings_table(
    title: str, results: dict[str, Any], rows: Sequence[tuple[str, str, str]]
) -> list[str]:
    """A results section's heading and its table of timings: one row per
    ``(key, label, target)`` that ``results`` holds (a ``spread``)."""
    lines = [
        f"## {title} ({results['jobs']:,} jobs in the store)",
        "",
        "| measure | p50 | p99 | n | target |",
        "|---|---|---|---|---|",
    ]
    for key, label, target in rows:
        if key in results:
            r = results[key]
            lines.append(
                f"| {label} | {r['p50']:.0f} ms | {r['p99']:.0f} ms | {r['n']} | {target} |"
            )
    return lines


def report(results: dict[str, Any]) -> str:
    lines = timings_table(
        "widgets",
        results,
        (
            ("status_to_dom_ms", "status change in the store → badge in the DOM", "p99 ≤ 150 ms"),
            ("first_render_ms", "JobTable first render", "≤ 200 ms"),
            ("page_turn_ms", "JobTable page turn", "≤ 200 ms"),
        ),
    )
    if "notebook_bytes" in results:
        sizes = results["notebook_bytes"]
        more = (sizes["five"] - sizes["none"]) / 1000
        lines += [
            "",
            "| saved notebook | bytes |",
            "|---|---|",
            f"| five foldings, no view | {sizes['none']:,} |",
            f"| the same with five structure views | {sizes['five']:,} |",
            f"| difference (target < 200 kB) | {more:.0f} kB |",
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--renders", type=int, default=20)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument(
        "--parts", default="status,table,size", help="which measures: status,table,size"
    )
    results = measure(parser.parse_args(argv))
    write_results("widgets", results, report(results))


if __name__ == "__main__":
    main()
