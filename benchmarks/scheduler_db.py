"""Fills a jupyter-scheduler job database for ``benchmarks/api.py``.

It runs under the separate jupyter-scheduler environment, not the project's, and
writes through jupyter-scheduler's own models: ``jupyter_scheduler.orm.create_tables``
makes the schema exactly as its server would, and the rows go into the ``Job``
table with SQLAlchemy Core ``executemany`` in chunks inside one transaction, so
its column types (``JsonType``) encode the JSON columns.

Usage (rows are JSON objects, one a line, on standard input)::

    benchmarks/.data/scheduler-venv/bin/python benchmarks/scheduler_db.py sqlite:///path < rows

It prints one JSON line: the rows inserted, the time taken and the version of
jupyter-scheduler.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import jupyter_scheduler
from jupyter_scheduler.orm import Job, create_tables
from sqlalchemy import create_engine, func, insert, select, text

CHUNK = 20_000


def chunks(lines: Iterator[str]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for line in lines:
        if line.strip():
            chunk.append(json.loads(line))
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    url = argv[1]
    started = time.perf_counter()
    create_tables(url)
    engine = create_engine(url)
    table = Job.__table__
    with engine.begin() as conn:
        for chunk in chunks(sys.stdin):
            conn.execute(insert(table), chunk)
    inserted = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
        count = conn.execute(select(func.count()).select_from(table)).scalar_one()
    engine.dispose()
    print(
        json.dumps(
            {
                "rows": count,
                "insert_s": inserted - started,
                "analyze_s": time.perf_counter() - inserted,
                "version": jupyter_scheduler.__version__,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
