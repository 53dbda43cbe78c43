"""Job-list latency at scale: how long one 25-row history page takes through
``JobService.list_jobs`` on a store holding a million jobs, next to the same page
fetched with hand-written SQL over the raw DB-API connection.

Pages timed on each backend (the reader is a member of the workspace):

* ``team``   - the team history of the biggest workspace (no filter);
* ``tool``   - that workspace's history of one tool;
* ``status`` - its FAILED jobs;
* ``deep``   - the team-history page after a cursor about 500,000 rows deep;
* ``batch``  - the children of its largest batch;
* ``small``  - the team history of the smallest workspace;
* ``name``, ``name deep`` - the team history by name (A to z), first page and a
  page about 500,000 rows deep;
* ``duration``, ``duration deep`` - the same, longest first (jobs with no
  duration last).

Each page is fetched three ways, interleaved: through the service (what users hit),
through the store alone (a read transaction and ``SqlTransaction.list_jobs``) and
as raw SQL (sqlite3 / psycopg, no transaction, rows left as the driver returns them).

Usage::

    .venv/bin/python benchmarks/store_list.py [--jobs 1000000]
        [--backend sqlite|postgresql|both] [--repeat 300]
        [--database-url postgresql://postgres@127.0.0.1:5432/test]

Results are printed as markdown and written to ``benchmarks/.data/store_list.json``.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import math
import os
import platform
import secrets
import sqlite3
import statistics
import sys
import time
from bisect import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any
from urllib.parse import quote

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event, insert, text
from sqlalchemy.engine import make_url

from proteiniq_jupyter.jobs.access import Actor
from proteiniq_jupyter.jobs.paging import encode_cursor
from proteiniq_jupyter.jobs.ports import JobFilter
from proteiniq_jupyter.jobs.service import JobService
from proteiniq_jupyter.jobs.sorting import DEFAULT_SORT, JobSort, sort_after, sort_cursor
from proteiniq_jupyter.jobs.status import TERMINAL, JobStatus
from proteiniq_jupyter.store import tables as t
from proteiniq_jupyter.store.database import create_db_engine, normalise_url, sqlite_url
from proteiniq_jupyter.store.sql_store import DirectoryJobFiles, SqlStore
from proteiniq_jupyter.tools.registry import ToolRegistry

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
DEFAULT_PG_URL = os.environ.get(
    "PIQ_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
PAGE = 25
TARGET_P50_MS = 5.0
JsonDict = dict[str, Any]


# -- the shape of the data --------------------------------------------------------


@dataclass(frozen=True)
class ToolShape:
    id: str
    name: str
    weight: float
    credits: int
    runtime_s: float
    slot: str
    input_format: str
    input_content: str
    settings: tuple[JsonDict, ...]
    fields: tuple[str, ...]
    output: str

    @property
    def inputs(self) -> list[JsonDict]:
        return [
            {
                "id": f"{self.slot}_1",
                "slotId": self.slot,
                "kind": "text",
                "format": self.input_format,
                "content": self.input_content,
                "source": {"type": "text"},
            }
        ]


TOOLS: tuple[ToolShape, ...] = (
    ToolShape(
        id="protein-stats",
        name="Protein statistics",
        weight=0.31,
        credits=0,
        runtime_s=0.4,
        slot="sequence",
        input_format="fasta",
        input_content=">sp|P01116|RASK_HUMAN\nMTEYKLVVVGAGGVGKSALTIQLIQNHFVDEYDPTIEDSYRKQVVIDGETCLLD",
        settings=({"ph": 7.0}, {"ph": 7.4}, {"ph": 5.5, "reduced_cysteines": True}),
        fields=("length", "molecular_weight", "isoelectric_point", "instability_index", "gravy"),
        output="json",
    ),
    ToolShape(
        id="smiles-to-sdf",
        name="SMILES to SDF",
        weight=0.22,
        credits=0,
        runtime_s=1.5,
        slot="molecule",
        input_format="smiles",
        input_content="CC(=O)Oc1ccccc1C(=O)O",
        settings=(
            {"add_hydrogens": True, "conformers": 1},
            {"add_hydrogens": True, "conformers": 10, "force_field": "MMFF94"},
            {"add_hydrogens": False, "conformers": 1},
        ),
        fields=("n_atoms", "n_conformers", "mmff_energy"),
        output="sdf",
    ),
    ToolShape(
        id="pdb-to-mmcif",
        name="PDB to mmCIF",
        weight=0.14,
        credits=0,
        runtime_s=0.8,
        slot="structure",
        input_format="pdb",
        input_content="HEADER    HYDROLASE\nATOM      1  N   MET A   1      27.340  24.430   2.614",
        settings=({}, {"keep_hetero": False}),
        fields=("n_chains", "n_residues", "n_atoms"),
        output="cif",
    ),
    ToolShape(
        id="structure-to-sequence",
        name="Structure to sequence",
        weight=0.11,
        credits=0,
        runtime_s=0.6,
        slot="structure",
        input_format="pdb",
        input_content="ATOM      1  N   GLY A   1      11.104   6.134  -6.504  1.00  0.00  N",
        settings=({"chains": "all"}, {"chains": "A"}),
        fields=("n_chains", "length"),
        output="fasta",
    ),
    ToolShape(
        id="esmfold",
        name="ESMFold structure prediction",
        weight=0.09,
        credits=20,
        runtime_s=95.0,
        slot="sequence",
        input_format="fasta",
        input_content=">design_17\nMSKGEELFTGVVPILVELDGDVNGHKFSVSGEGEGDATYGKLTLKFICTTGKLPVPWPTLVTTL",
        settings=({"num_recycles": 4}, {"num_recycles": 8, "chunk_size": 64}),
        fields=("plddt_mean", "ptm", "length"),
        output="pdb",
    ),
    ToolShape(
        id="residue-codes",
        name="Residue codes",
        weight=0.06,
        credits=0,
        runtime_s=0.2,
        slot="sequence",
        input_format="text",
        input_content="MetLysThrAlaTyrIleAlaLysGlnArg",
        settings=({"direction": "three_to_one"}, {"direction": "one_to_three"}),
        fields=("length",),
        output="txt",
    ),
    ToolShape(
        id="mmcif-to-pdb",
        name="mmCIF to PDB",
        weight=0.04,
        credits=0,
        runtime_s=0.9,
        slot="structure",
        input_format="cif",
        input_content="data_1ABC\n_entry.id 1ABC\n_atom_site.group_PDB ATOM",
        settings=({},),
        fields=("n_chains", "n_atoms"),
        output="pdb",
    ),
    ToolShape(
        id="sdf-to-smiles",
        name="SDF to SMILES",
        weight=0.03,
        credits=0,
        runtime_s=0.3,
        slot="molecule",
        input_format="sdf",
        input_content="aspirin\n  RDKit          3D\n\n 13 13  0  0  0  0  0  0  0  0999 V2000",
        settings=({"canonical": True}, {"canonical": True, "isomeric": False}),
        fields=("n_molecules",),
        output="smi",
    ),
)
TOOL_FOR_HISTORY = "esmfold"

# (id, name, plan, share of all jobs, members as (user index, role))
WORKSPACES: tuple[tuple[str, str, str, float, tuple[tuple[int, str], ...]], ...] = (
    (
        "ws_bench_lab",
        "Structural biology lab",
        "team",
        0.86,
        (
            (0, "owner"),
            (1, "admin"),
            (2, "member"),
            (3, "member"),
            (4, "member"),
            (5, "member"),
            (6, "member"),
            (7, "member"),
            (8, "viewer"),
        ),
    ),
    (
        "ws_bench_chem",
        "Medicinal chemistry",
        "team",
        0.11,
        ((9, "owner"), (10, "member"), (1, "member")),
    ),
    ("ws_bench_solo", "Postdoc sandbox", "personal", 0.03, ((11, "owner"),)),
)
BIG_WORKSPACE = WORKSPACES[0][0]
USERS = 12
# The person paging through history: a plain member of the big workspace, not one of
# its heaviest submitters, with an email (so invite-only rows get looked up).
READER = 5

TERMINAL_MIX = (
    (JobStatus.COMPLETED, 0.915),
    (JobStatus.FAILED, 0.045),
    (JobStatus.CANCELLED, 0.025),
    (JobStatus.TIMEOUT, 0.01),
    (JobStatus.BUDGET_EXCEEDED, 0.005),
)
LIVE = (JobStatus.PENDING, JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.RETRY)
# Jobs younger than this may still be waiting or running.
LIVE_WINDOW = timedelta(hours=3)
VISIBILITY_MIX = (("private", 0.93), ("public", 0.03), ("logged_in", 0.02), ("invited", 0.02))
ERRORS = (
    "input has no ATOM records",
    "SMILES could not be parsed: unclosed ring",
    "sequence contains characters outside the amino-acid alphabet",
    "worker lost: out of memory",
)
CUSTOM_NAMES = ("KRAS G12C", "GFP variants", "nanobody screen", "ligand prep", "PDB cleanup")
BATCH_SHARE = 0.05


class Weighted:
    """Draws items with the given relative frequencies."""

    def __init__(self, pairs: Sequence[tuple[Any, float]]) -> None:
        self.items = [item for item, _ in pairs]
        self.cumulative: list[float] = []
        total = 0.0
        for _, weight in pairs:
            total += weight
            self.cumulative.append(total)

    def draw(self, rng: Random) -> Any:
        return self.items[bisect(self.cumulative, rng.random() * self.cumulative[-1])]


WORKSPACE_DRAW = Weighted([(ws, ws[3]) for ws in WORKSPACES])
TOOL_DRAW = Weighted([(tool, tool.weight) for tool in TOOLS])
STATUS_DRAW = Weighted(TERMINAL_MIX)
VISIBILITY_DRAW = Weighted(VISIBILITY_MIX)
# A few people submit most of a workspace's jobs.
SUBMITTER_DRAW = {
    ws[0]: Weighted(
        [
            (index, 1.0 / (rank + 1) ** 1.2)
            for rank, index in enumerate(i for i, role in ws[4] if role != "viewer")
        ]
    )
    for ws in WORKSPACES
}


def _hex_id(rng: Random, prefix: str) -> str:
    return f"{prefix}_{rng.getrandbits(128):032x}"


def _user_id(index: int) -> str:
    return f"usr_bench_{index:02d}"


def _username(user_id: str) -> str:
    return f"bench-user-{user_id.removeprefix('usr_bench_')}"


class Workload:
    """A year of one lab's use, reproducible from ``seed``: three workspaces (one holds
    most jobs), eight tools of very different popularity, a few percent of jobs run
    as batch children, and the newest jobs still live."""

    def __init__(self, n_jobs: int, seed: int, now: datetime) -> None:
        self.n_jobs = n_jobs
        self.seed = seed
        self.now = now
        self.invites: list[JsonDict] = []
        rng = Random(seed)
        span = timedelta(days=365).total_seconds()
        n_children = round(n_jobs * BATCH_SHARE)
        sizes: list[int] = []
        while sum(sizes) < n_children:
            sizes.append(rng.randint(8, 72))
        if sizes:
            sizes[-1] -= sum(sizes) - n_children
            if sizes[-1] <= 0:
                sizes.pop()
        batches = []
        for i, size in enumerate(sizes):
            ws = WORKSPACE_DRAW.draw(rng)
            tool: ToolShape = TOOL_DRAW.draw(rng)
            row = {
                "id": _hex_id(rng, "bat"),
                "workspace_id": ws[0],
                "submitter_id": _user_id(SUBMITTER_DRAW[ws[0]].draw(rng)),
                "tool": tool.id,
                "name": f"{rng.choice(CUSTOM_NAMES)} batch {i + 1}",
                "reserved_credits": 0,
                "created_at": now - timedelta(seconds=rng.random() * span),
            }
            batches.append((row, size))
        batches.sort(key=lambda pair: pair[0]["created_at"])
        self.batches = [row for row, _ in batches]
        self._batch_sizes = [size for _, size in batches]
        self._top_times = sorted(rng.random() * span for _ in range(n_jobs - n_children))

    def workspaces(self) -> list[JsonDict]:
        created = self.now - timedelta(days=400)
        return [
            {"id": ws[0], "name": ws[1], "plan": ws[2], "created_at": created} for ws in WORKSPACES
        ]

    def users(self) -> list[JsonDict]:
        created = self.now - timedelta(days=400)
        return [
            {
                "id": _user_id(i),
                "username": _username(_user_id(i)),
                "email": f"bench-user-{i:02d}@lab.example",
                "created_at": created,
            }
            for i in range(USERS)
        ]

    def members(self) -> list[JsonDict]:
        created = self.now - timedelta(days=400)
        return [
            {"workspace_id": ws[0], "user_id": _user_id(i), "role": role, "created_at": created}
            for ws in WORKSPACES
            for i, role in ws[4]
        ]

    def job_chunks(self, size: int) -> Iterator[list[JsonDict]]:
        """Every job, oldest first (as they would have been inserted), in chunks."""
        rng = Random(self.seed + 1)
        self.invites = []
        tools = {tool.id: tool for tool in TOOLS}
        start = self.now - timedelta(days=365)
        recent: list[str] = []
        chunk: list[JsonDict] = []

        def batch_children(index: int) -> None:
            batch = self.batches[index]
            for _ in range(self._batch_sizes[index]):
                chunk.append(
                    self._job(
                        rng,
                        workspace_id=batch["workspace_id"],
                        submitter_id=batch["submitter_id"],
                        tool=tools[batch["tool"]],
                        created=batch["created_at"],
                        batch_id=batch["id"],
                        recent=recent,
                    )
                )

        next_batch = 0
        for offset in self._top_times:
            created = start + timedelta(seconds=offset)
            while next_batch < len(self.batches) and (
                self.batches[next_batch]["created_at"] <= created
            ):
                batch_children(next_batch)
                next_batch += 1
            ws = WORKSPACE_DRAW.draw(rng)
            chunk.append(
                self._job(
                    rng,
                    workspace_id=ws[0],
                    submitter_id=_user_id(SUBMITTER_DRAW[ws[0]].draw(rng)),
                    tool=TOOL_DRAW.draw(rng),
                    created=created,
                    batch_id=None,
                    recent=recent,
                )
            )
            if len(chunk) >= size:
                yield chunk
                chunk = []
        for index in range(next_batch, len(self.batches)):
            batch_children(index)
        if chunk:
            yield chunk

    def _job(
        self,
        rng: Random,
        *,
        workspace_id: str,
        submitter_id: str,
        tool: ToolShape,
        created: datetime,
        batch_id: str | None,
        recent: list[str],
    ) -> JsonDict:
        job_id = _hex_id(rng, "job")
        if self.now - created < LIVE_WINDOW and rng.random() < 0.4:
            status: JobStatus = rng.choice(LIVE)
        else:
            status = STATUS_DRAW.draw(rng)
        terminal = status in TERMINAL
        queued = status is JobStatus.PENDING or status is JobStatus.QUEUED
        if status is JobStatus.CANCELLED and rng.random() < 0.5:
            queued = True
        started = None if queued else created + timedelta(seconds=rng.uniform(0.2, 20.0))
        finished = None
        if terminal:
            ran = tool.runtime_s * rng.lognormvariate(0.0, 0.6)
            finished = (started or created) + timedelta(seconds=ran)
        result = None
        error = None
        if status is JobStatus.COMPLETED:
            result = {
                "fields": {name: round(rng.uniform(1.0, 500.0), 3) for name in tool.fields},
                "rows": [],
                "files": [
                    {
                        "name": f"result.{tool.output}",
                        "format": tool.output,
                        "size": rng.randint(200, 400_000),
                        "content_type": "",
                    }
                ],
            }
        elif status is JobStatus.FAILED:
            error = rng.choice(ERRORS)
        elif status is JobStatus.TIMEOUT:
            error = "ran past 3600 s"
        charged = tool.credits if status is JobStatus.COMPLETED else 0
        visibility = VISIBILITY_DRAW.draw(rng)
        if visibility == "invited":
            self.invites.append(
                {
                    "job_id": job_id,
                    "email": f"collaborator{rng.randint(1, 40)}@partner.example",
                    "created_at": created,
                }
            )
        keyed = batch_id is None and rng.random() < 0.2
        origin = rng.choice(recent) if recent and rng.random() < 0.02 else None
        recent.append(job_id)
        if len(recent) > 64:
            del recent[:32]
        if batch_id is None and rng.random() < 0.25:
            name = f"{rng.choice(CUSTOM_NAMES)} {rng.randint(1, 400)}"
        else:
            name = f"{tool.name} {created.isoformat(' ', 'seconds')[:19]}"
        return {
            "id": job_id,
            "workspace_id": workspace_id,
            "submitter_id": submitter_id,
            "batch_id": batch_id,
            "origin_job_id": origin,
            "tool": tool.id,
            "name": name,
            "status": status.value,
            "visibility": visibility,
            "inputs": tool.inputs,
            "settings": rng.choice(tool.settings),
            "result": result,
            "progress": 1.0 if status is JobStatus.COMPLETED else 0.0,
            "progress_message": None,
            "status_reason": "waiting for a worker" if status is JobStatus.QUEUED else None,
            "error": error,
            "estimated_credits": tool.credits,
            "credits_charged": charged,
            "attempts": 0 if started is None else (2 if rng.random() < 0.03 else 1),
            "idempotency_key": f"idem-{rng.getrandbits(64):016x}" if keyed else None,
            "request_hash": f"{rng.getrandbits(256):064x}" if keyed else None,
            "created_at": created,
            "updated_at": finished or started or created,
            "started_at": started,
            "finished_at": finished,
            # What the history sorts by (the store writes these from the job).
            "submitter_name": _username(submitter_id),
            "credits_shown": (tool.credits if status is JobStatus.COMPLETED else 0) or tool.credits,
            "duration_s": (finished - started).total_seconds() if started and finished else None,
        }


# -- filling a store --------------------------------------------------------------

CHUNK = 50_000
JSON_COLUMNS = frozenset({"inputs", "settings", "result"})


def _insert_small(conn: Connection, workload: Workload) -> None:
    conn.execute(insert(t.workspaces), workload.workspaces())
    conn.execute(insert(t.users), workload.users())
    conn.execute(insert(t.members), workload.members())
    if workload.batches:
        conn.execute(insert(t.batches), workload.batches)


def fill_sqlite(url: str, workload: Workload) -> dict[str, float]:
    """Bulk insert through SQLAlchemy Core in one transaction, then ANALYZE."""
    engine = create_db_engine(url)
    started = time.perf_counter()
    with engine.connect().execution_options(piq_write=True) as conn:
        with conn.begin():
            # A page cache big enough for the indexes while they are being built.
            conn.exec_driver_sql("PRAGMA cache_size=-1048576")
            _insert_small(conn, workload)
            for chunk in workload.job_chunks(CHUNK):
                conn.execute(insert(t.jobs), chunk)
            if workload.invites:
                conn.execute(insert(t.job_invites), workload.invites)
        filled = time.perf_counter()
        with conn.begin():
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    analysed = time.perf_counter()
    raw = sqlite3.connect(make_url(url).database or "", isolation_level=None)
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    return {"insert_s": filled - started, "analyze_s": analysed - filled}


def _copy_value(name: str, value: Any) -> Any:
    if name in JSON_COLUMNS and value is not None:
        return json.dumps(value)
    return value


def fill_postgresql(url: str, raw_url: str, workload: Workload) -> dict[str, float]:
    """Small tables through SQLAlchemy Core, jobs with COPY, then VACUUM ANALYZE."""
    engine = create_db_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        _insert_small(conn, workload)
    chunks = workload.job_chunks(CHUNK)
    first = next(chunks)
    columns = list(first[0])  # columns the workload leaves out stay NULL
    with psycopg.connect(raw_url) as raw:
        with raw.cursor() as cur:
            statement = f"COPY jobs ({', '.join(columns)}) FROM STDIN"
            with cur.copy(statement) as copy:
                for chunk in itertools.chain([first], chunks):
                    for row in chunk:
                        copy.write_row([_copy_value(c, row[c]) for c in columns])
        raw.commit()
    if workload.invites:
        with engine.begin() as conn:
            conn.execute(insert(t.job_invites), workload.invites)
    engine.dispose()
    filled = time.perf_counter()
    with psycopg.connect(raw_url, autocommit=True) as raw:
        for table in ("workspaces", "users", "members", "batches", "jobs", "job_invites"):
            raw.execute(f"VACUUM (ANALYZE) {table}")
    analysed = time.perf_counter()
    return {"insert_s": filled - started, "analyze_s": analysed - filled}


# -- the pages --------------------------------------------------------------------

LIST_COLUMNS = ", ".join(
    c.name for c in t.jobs.c if c.name not in ("inputs", "idempotency_key", "request_hash")
)
SMALL_WORKSPACE = WORKSPACES[-1][0]
SMALL_READER = WORKSPACES[-1][4][0][0]


def raw_page_sql(extra_where: str) -> str:
    """The hand-written equivalent of ``SqlTransaction.list_jobs`` for a history page."""
    return (
        f"SELECT {LIST_COLUMNS} FROM jobs "
        f"WHERE workspace_id = ? AND batch_id IS NULL{extra_where} "
        "ORDER BY created_at DESC, id DESC LIMIT ?"
    )


# The keyset condition of a page after a cursor, as list_jobs writes it.
AFTER_SQL = " AND (created_at, id) < (?, ?)"


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    reader: int
    workspace_id: str
    job_filter: JobFilter
    cursor: str | None
    raw_sql: str
    raw_params: tuple[Any, ...]
    sort: JobSort = DEFAULT_SORT


class RawConnection:
    """One DB-API connection in autocommit, with ``?`` parameter markers on both backends."""

    def __init__(self, backend: str, target: str) -> None:
        self.backend = backend
        if backend == "sqlite":
            self._sqlite = sqlite3.connect(target, isolation_level=None)
        else:
            self._pg = psycopg.connect(target, autocommit=True)

    def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        if self.backend == "sqlite":
            return self._sqlite.execute(sql, tuple(params)).fetchall()
        return self._pg.execute(sql.replace("?", "%s"), tuple(params)).fetchall()

    def explain(self, statement: str, params: Any) -> list[str]:
        """The plan of a statement as SQLAlchemy sent it (its own parameter style)."""
        if self.backend == "sqlite":
            rows = self._sqlite.execute(f"EXPLAIN QUERY PLAN {statement}", params).fetchall()
            depth: dict[int, int] = {0: -1}
            lines = []
            for node, parent, _, detail in rows:
                depth[node] = depth.get(parent, -1) + 1
                lines.append("  " * depth[node] + detail)
            return lines
        cur = self._pg.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", params)
        return [row[0] for row in cur.fetchall()]

    def close(self) -> None:
        if self.backend == "sqlite":
            self._sqlite.close()
        else:
            self._pg.close()


def build_cases(raw: RawConnection, store: SqlStore, deep: int) -> list[Case]:
    rows = raw.fetch(
        "SELECT count(*) FROM jobs WHERE workspace_id = ? AND batch_id IS NULL", [BIG_WORKSPACE]
    )
    depth = max(1, min(deep, int(rows[0][0]) - 2 * PAGE))
    created, job_id = raw.fetch(
        "SELECT created_at, id FROM jobs WHERE workspace_id = ? AND batch_id IS NULL "
        "ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET ?",
        [BIG_WORKSPACE, depth - 1],
    )[0]
    with store.read() as tx:
        job = tx.get_job(job_id)
    assert job is not None
    ((batch_id, children),) = raw.fetch(
        "SELECT batch_id, count(*) FROM jobs WHERE workspace_id = ? AND batch_id IS NOT NULL "
        "GROUP BY batch_id ORDER BY count(*) DESC, batch_id LIMIT 1",
        [BIG_WORKSPACE],
    )
    limit = PAGE + 1
    big = (READER, BIG_WORKSPACE)
    return [
        Case("team", "team history", *big, JobFilter(), None, raw_page_sql(""), (*big[1:], limit)),
        Case(
            "tool",
            f"tool history ({TOOL_FOR_HISTORY})",
            *big,
            JobFilter(tool=TOOL_FOR_HISTORY),
            None,
            raw_page_sql(" AND tool = ?"),
            (BIG_WORKSPACE, TOOL_FOR_HISTORY, limit),
        ),
        Case(
            "status",
            "status FAILED",
            *big,
            JobFilter(statuses=(JobStatus.FAILED,)),
            None,
            raw_page_sql(" AND status = ?"),
            (BIG_WORKSPACE, "FAILED", limit),
        ),
        Case(
            "deep",
            f"team history, {depth:,} rows deep",
            *big,
            JobFilter(),
            encode_cursor(job),
            raw_page_sql(AFTER_SQL),
            (BIG_WORKSPACE, created, job_id, limit),
        ),
        Case(
            "batch",
            f"batch children ({children} in the batch)",
            *big,
            JobFilter(batch_id=batch_id),
            None,
            f"SELECT {LIST_COLUMNS} FROM jobs WHERE batch_id = ? "
            "ORDER BY created_at DESC, id DESC LIMIT ?",
            (batch_id, limit),
        ),
        Case(
            "small",
            "team history, small workspace",
            SMALL_READER,
            SMALL_WORKSPACE,
            JobFilter(),
            None,
            raw_page_sql(""),
            (SMALL_WORKSPACE, limit),
        ),
        *sorted_cases(raw, deep),
    ]


#: The non-default orders timed: key, sort, column, and what a row of the timed part holds.
SORTED = (
    ("name", JobSort.parse("name", "asc"), "name", ""),
    ("duration", JobSort.parse("duration_s", "desc"), "duration_s", " AND duration_s IS NOT NULL"),
)


def sorted_cases(raw: RawConnection, deep: int) -> list[Case]:
    """A first page and a deep page of the team history in each order of ``SORTED``,
    with raw SQL that walks the same index the same way."""
    cases = []
    limit = PAGE + 1
    big = (READER, BIG_WORKSPACE)
    for key, sort, column, has_value in SORTED:
        ordered = (
            f'{column} COLLATE "C"' if raw.backend == "postgresql" and key == "name" else column
        )
        way = "DESC" if sort.descending else "ASC"
        base = (
            f"SELECT {LIST_COLUMNS} FROM jobs "
            f"WHERE workspace_id = ? AND batch_id IS NULL{has_value}"
        )
        order = f" ORDER BY {ordered} {way}, id {way} LIMIT ?"
        rows = raw.fetch(
            f"SELECT count(*) FROM jobs WHERE workspace_id = ? AND batch_id IS NULL{has_value}",
            [BIG_WORKSPACE],
        )
        depth = max(1, min(deep, int(rows[0][0]) - 2 * PAGE))
        value, job_id = raw.fetch(
            f"SELECT {column}, id FROM jobs WHERE workspace_id = ? AND batch_id IS NULL"
            f"{has_value} ORDER BY {ordered} {way}, id {way} LIMIT 1 OFFSET ?",
            [BIG_WORKSPACE, depth - 1],
        )[0]
        past = "<" if sort.descending else ">"
        cases += [
            Case(
                key,
                f"by {sort.column} {sort.order}",
                *big,
                JobFilter(),
                None,
                base + order,
                (BIG_WORKSPACE, limit),
                sort,
            ),
            Case(
                f"{key} deep",
                f"by {sort.column} {sort.order}, {depth:,} rows deep",
                *big,
                JobFilter(),
                sort_cursor(sort, value, job_id),
                base + f" AND ({ordered}, id) {past} (?, ?)" + order,
                (BIG_WORKSPACE, value, job_id, limit),
                sort,
            ),
        ]
    return cases


class StatementLog:
    """What SQLAlchemy sends while it is switched on."""

    def __init__(self, engine: Engine) -> None:
        self.on = False
        self.statements: list[tuple[str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if self.on:
            self.statements.append((statement, params))

    def capture(self, action: Callable[[], Any]) -> list[tuple[str, Any]]:
        self.statements, self.on = [], True
        try:
            action()
        finally:
            self.on = False
        return self.statements


def _ms(samples_ns: list[int]) -> JsonDict:
    ms = sorted(s / 1e6 for s in samples_ns)
    rank99 = max(0, math.ceil(0.99 * len(ms)) - 1)
    return {
        "p50": statistics.median(ms),
        "p99": ms[rank99],
        "mean": statistics.fmean(ms),
        "min": ms[0],
        "max": ms[-1],
    }


def measure(
    backend: str,
    store: SqlStore,
    raw: RawConnection,
    *,
    deep: int,
    repeat: int,
    warmup: int,
) -> dict[str, JsonDict]:
    """Times each page three ways, interleaved so that all see the same conditions:
    through the service (what users hit), through the store alone (a read
    transaction and ``SqlTransaction.list_jobs``), and as raw SQL."""
    service = JobService(store, ToolRegistry(), DirectoryJobFiles(DATA / "files"))
    log = StatementLog(store.engine)
    results: dict[str, JsonDict] = {}
    for case in build_cases(raw, store, deep):
        reader = service.sign_in(f"bench-user-{case.reader:02d}", workspace_id=case.workspace_id)
        after = sort_after(case.sort, case.cursor)

        def through_service(case: Case = case, reader: Actor = reader) -> Any:
            return service.list_jobs(
                reader, case.job_filter, starting_after=case.cursor, limit=PAGE, sort=case.sort
            )

        def through_store(case: Case = case, after: Any = after) -> Any:
            with store.read() as tx:
                return tx.list_jobs(case.workspace_id, case.job_filter, after, PAGE + 1, case.sort)

        def through_raw(case: Case = case) -> Any:
            return raw.fetch(case.raw_sql, case.raw_params)

        # All three must return the same rows.
        got = [view.job.id for view in through_service().items]
        stored = [job.id for job, _ in through_store()][:PAGE]
        want = [row[0] for row in through_raw()][:PAGE]
        if not (got == stored == want) or len(got) != PAGE:
            raise SystemExit(f"{backend} {case.key}: the service, store and raw SQL disagree")
        statements = log.capture(through_service)
        listing = [s for s in statements if "sort_value_" in s[0]]
        plan = raw.explain(*listing[0])
        print(f"\n{backend} · {case.label} · plan of the service query:")
        print("\n".join(f"    {line}" for line in plan))

        timed = (through_service, through_store, through_raw)
        for _ in range(warmup):
            for action in timed:
                action()
        gc.collect()
        load_before = os.getloadavg()[0]
        samples: list[list[int]] = [[], [], []]
        for _ in range(repeat):
            for action, into in zip(timed, samples, strict=True):
                started = time.perf_counter_ns()
                action()
                into.append(time.perf_counter_ns() - started)
        svc, sto, base = (_ms(s) for s in samples)
        results[case.key] = {
            "label": case.label,
            "service_ms": svc,
            "store_ms": sto,
            "raw_ms": base,
            "ratio_p50": svc["p50"] / base["p50"],
            "statements_per_call": len(statements),
            # Other work on the machine while this page was timed (1-minute load).
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "meets_target": svc["p50"] < TARGET_P50_MS,
            "plan": plan,
        }
        print(
            f"    service p50 {svc['p50']:.3f} ms p99 {svc['p99']:.3f} ms | "
            f"store p50 {sto['p50']:.3f} ms | "
            f"raw p50 {base['p50']:.3f} ms p99 {base['p99']:.3f} ms | "
            f"load {load_before:.1f}",
            flush=True,
        )
    return results


def _row_counts(raw: RawConnection) -> JsonDict:
    (jobs, children, big, failed), *_ = raw.fetch(
        "SELECT count(*), count(batch_id), "
        "sum(CASE WHEN workspace_id = ? AND batch_id IS NULL THEN 1 ELSE 0 END), "
        "sum(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END) FROM jobs",
        [BIG_WORKSPACE],
    )
    batches = raw.fetch("SELECT count(*) FROM batches", [])[0][0]
    return {
        "jobs": jobs,
        "batch_children": children,
        "batches": batches,
        "big_workspace_history": big,
        "failed": failed,
    }


def _sizes(raw: RawConnection) -> dict[str, int]:
    """Bytes on disk of the jobs table and of each of its indexes."""
    if raw.backend == "sqlite":
        rows = raw.fetch(
            "SELECT name, sum(pgsize) FROM dbstat WHERE name IN "
            "(SELECT name FROM sqlite_master WHERE tbl_name = 'jobs') GROUP BY name",
            [],
        )
    else:
        rows = raw.fetch(
            "SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c "
            "WHERE c.oid = 'jobs'::regclass OR c.oid IN "
            "(SELECT indexrelid FROM pg_index WHERE indrelid = 'jobs'::regclass)",
            [],
        )
    return {str(name): int(size) for name, size in sorted(rows)}


# -- the two backends -------------------------------------------------------------


def run_sqlite(args: argparse.Namespace, workload: Workload) -> JsonDict:
    path = DATA / f"store_list_{args.jobs}.sqlite"
    files = [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")]
    reuse = args.reuse and path.exists()
    if not reuse:
        for file in files:
            file.unlink(missing_ok=True)
    url = sqlite_url(path)
    timings: dict[str, float] | None = None
    try:
        SqlStore.open(url).close()  # migrations make the schema
        if reuse:
            print(f"sqlite: measuring the kept {path}", flush=True)
        else:
            print(f"sqlite: filling {path} with {args.jobs:,} jobs ...", flush=True)
            timings = fill_sqlite(url, workload)
            print(f"sqlite: filled in {timings['insert_s']:.1f} s", flush=True)
        store = SqlStore.open(url)
        raw = RawConnection("sqlite", str(path))
        try:
            counts = _row_counts(raw)
            sizes = _sizes(raw)
            queries = measure(
                "sqlite", store, raw, deep=args.deep, repeat=args.repeat, warmup=args.warmup
            )
        finally:
            raw.close()
            store.close()
    finally:
        if not (args.keep or args.reuse):
            for file in files:
                file.unlink(missing_ok=True)
    return {
        "fill": timings,
        "rows": counts,
        "jobs_bytes": sizes,
        "server": f"SQLite {sqlite3.sqlite_version}",
        "queries": queries,
    }


def run_postgresql(args: argparse.Namespace, workload: Workload) -> JsonDict:
    base = make_url(args.database_url).set(drivername="postgresql")
    base_url = base.render_as_string(hide_password=False)
    keep = args.keep or args.reuse
    # A kept store has a name a later --reuse run can find; a throwaway one a fresh name.
    schema = f"piq_bench_{args.jobs}" if keep else f"piq_bench_{secrets.token_hex(4)}"
    separator = "&" if "?" in base_url else "?"
    url = f"{base_url}{separator}options={quote(f'-csearch_path={schema}')}"
    admin = create_engine(normalise_url(base_url))
    with admin.begin() as conn:
        exists = conn.execute(
            text(
                "SELECT 1 FROM information_schema.tables "
                "WHERE table_schema = :s AND table_name = 'jobs'"
            ),
            {"s": schema},
        ).first()
        reuse = args.reuse and exists is not None
        if not reuse:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        server = conn.execute(text("SHOW server_version")).scalar_one()
    timings: dict[str, float] | None = None
    try:
        SqlStore.open(url).close()
        if reuse:
            print(f"postgresql: measuring the kept schema {schema}", flush=True)
        else:
            print(f"postgresql: filling schema {schema} with {args.jobs:,} jobs ...", flush=True)
            timings = fill_postgresql(url, url, workload)
            print(f"postgresql: filled in {timings['insert_s']:.1f} s", flush=True)
        store = SqlStore.open(url)
        raw = RawConnection("postgresql", url)
        try:
            counts = _row_counts(raw)
            sizes = _sizes(raw)
            queries = measure(
                "postgresql", store, raw, deep=args.deep, repeat=args.repeat, warmup=args.warmup
            )
        finally:
            raw.close()
            store.close()
    finally:
        if keep:
            print(f"postgresql: kept schema {schema}")
        else:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return {
        "fill": timings,
        "rows": counts,
        "jobs_bytes": sizes,
        "server": f"PostgreSQL {server}",
        "queries": queries,
    }


# -- reporting --------------------------------------------------------------------


def _machine() -> JsonDict:
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "memory": memory,
        "system": platform.platform(),
        "python": platform.python_version(),
    }


def markdown(report: JsonDict) -> str:
    lines = [
        f"{report['jobs']:,} jobs · {report['repeat']} timed samples per query · "
        f"{report['date']} · {report['machine']['cpus']} CPUs",
        "",
        "| backend | page | service p50 | service p99 | store p50 | raw p50 | raw p99 "
        "| service/raw (p50) | p50 < 5 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for backend, result in report["backends"].items():
        for q in result["queries"].values():
            s, st, r = q["service_ms"], q["store_ms"], q["raw_ms"]
            lines.append(
                f"| {backend} | {q['label']} | {s['p50']:.2f} ms | {s['p99']:.2f} ms "
                f"| {st['p50']:.2f} ms | {r['p50']:.2f} ms | {r['p99']:.2f} ms "
                f"| {q['ratio_p50']:.1f}× | {'yes' if q['meets_target'] else '**no**'} |"
            )
    lines += [
        "",
        "| backend | server | fill (generate + insert) | analyze | jobs + indexes on disk |",
        "|---|---|---:|---:|---:|",
    ]
    for backend, result in report["backends"].items():
        fill = result["fill"]
        insert_s, analyze_s = (
            (f"{fill['insert_s']:.0f} s", f"{fill['analyze_s']:.1f} s")
            if fill
            else ("reused", "reused")
        )
        size = sum(result["jobs_bytes"].values()) / 2**20
        lines.append(
            f"| {backend} | {result['server']} | {insert_s} | {analyze_s} | {size:,.0f} MiB |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000, help="jobs in the store")
    parser.add_argument(
        "--backend", choices=("sqlite", "postgresql", "both"), default="both", help="which store"
    )
    parser.add_argument("--repeat", type=int, default=300, help="timed samples per page")
    parser.add_argument("--warmup", type=int, default=30, help="untimed calls per page first")
    parser.add_argument(
        "--deep", type=int, default=500_000, help="rows before the deep page's cursor"
    )
    parser.add_argument(
        "--database-url", default=DEFAULT_PG_URL, help="PostgreSQL server (a fresh schema is used)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--keep", action="store_true", help="keep the filled stores for a later --reuse run"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the stores a --keep run left (same --jobs) instead of filling new ones",
    )
    parser.add_argument("--output", type=Path, default=DATA / "store_list.json")
    args = parser.parse_args(argv)
    if args.jobs < 4 * PAGE:
        parser.error(f"--jobs must be at least {4 * PAGE}")

    DATA.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    workload = Workload(args.jobs, args.seed, now)
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    report: JsonDict = {
        "date": now.date().isoformat(),
        "jobs": args.jobs,
        "repeat": args.repeat,
        "warmup": args.warmup,
        "page": PAGE,
        "target_p50_ms": TARGET_P50_MS,
        "machine": _machine(),
        "backends": {},
    }
    for backend in backends:
        run = run_sqlite if backend == "sqlite" else run_postgresql
        report["backends"][backend] = run(args, workload)
    report["total_s"] = time.perf_counter() - started
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print()
    print(markdown(report))
    print(f"\ntotal {report['total_s']:.0f} s; results in {args.output}")
    missed = [
        f"{backend}/{key}"
        for backend, result in report["backends"].items()
        for key, q in result["queries"].items()
        if not q["meets_target"]
    ]
    if missed:
        print(f"p50 target of {TARGET_P50_MS} ms missed by: {', '.join(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
