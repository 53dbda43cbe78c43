"""The ``piq`` command end to end, on SQLite and PostgreSQL, with the real free tools
and real FASTA data: what a user types, what comes back, and what the exit status
says. Errors must be one line on standard error, never a traceback."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from proteiniq_jupyter.cli import cli
from proteiniq_jupyter.config import EngineConfig
from proteiniq_jupyter.engine import open_engine
from proteiniq_jupyter.execution.detached import LOG_NAME
from proteiniq_jupyter.jobs.model import JobInput
from proteiniq_jupyter.store.database import sqlite_url
from proteiniq_jupyter.tools.colabfold import WEIGHTS as COLABFOLD_WEIGHTS
from proteiniq_jupyter.tools.sequence import ProteinStats

from .helpers import Gate, PdbEntryServer

SLOT = ProteinStats.slots[0].id
STANDINS = Path(__file__).resolve().parent / "tools" / "standins"
Piq = Callable[..., Result]


def environment(database_url: str, tmp_path: Path) -> dict[str, str | None]:
    return {
        "PIQ_DATABASE_URL": database_url,
        "PIQ_DATA_DIR": str(tmp_path / "data"),
        "PIQ_USER": "alice",
        "PIQ_EMAIL": "alice@lab.example",
        "PIQ_STARTING_CREDITS": None,
        "PIQ_WORKSPACE": None,
        "PIQ_MAX_CONCURRENT_JOBS": None,
        "PIQ_DEBUG": None,
    }


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str | None]:
    return environment(database_url, tmp_path)


@pytest.fixture
def piq(env: dict[str, str | None]) -> Piq:
    return invoker(env)


def invoker(env: dict[str, str | None]) -> Piq:
    """Run one ``piq`` command; check its exit status (0 unless ``code`` says)."""
    runner = CliRunner()

    def invoke(*args: str, code: int = 0, input: str | None = None) -> Result:
        result = runner.invoke(cli, list(args), env=env, input=input, catch_exceptions=False)
        assert result.exit_code == code, (args, result.exit_code, result.output)
        assert "Traceback" not in result.output
        return result

    return invoke


def process_invoker(env: dict[str, str | None]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Like ``invoker``, but each command is a ``piq`` process of its own, as a user
    runs it: what the command loads natively (RDKit, meeko, OpenMM) lives and dies
    with it instead of piling up in the test process."""
    full = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    full["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])

    def invoke(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "proteiniq_jupyter.cli", *args],
            env=full,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == code, (args, result.returncode, result.stdout, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr
        return result

    return invoke


@pytest.fixture
def fasta(fixtures_dir: Path) -> Path:
    return fixtures_dir / "colabfold" / "P54025.fasta"


def one_error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("piq: error: ")
    return lines[0]


def run_wait(piq: Piq, *args: str) -> str:
    result = piq("run", "protein-stats", *args, "--wait")
    return result.stdout.splitlines()[0]


def show(piq: Piq, job_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(piq("show", job_id, "--json").stdout)
    return data


def pending_job(env: dict[str, str | None], sequence: str = "MKVLA") -> str:
    """A job accepted but never run (no executor), to test what needs a live job."""
    config = EngineConfig.from_env({k: v for k, v in env.items() if v is not None})
    engine = open_engine(config)
    try:
        engine.service.executor = None
        job = engine.service.submit(
            engine.actor(),
            "protein-stats",
            [JobInput(id="s", slot_id=SLOT, kind="protein", format="text", content=sequence)],
        )
        return job.id
    finally:
        engine.close()


def test_tools_lists_the_free_tools(piq: Piq) -> None:
    table = piq("tools").stdout
    assert table.splitlines()[0].split() == ["ID", "NAME", "CATEGORY", "CREDITS", "AVAILABLE"]
    row = next(line for line in table.splitlines() if line.startswith("protein-stats "))
    assert row.split()[-2:] == ["free", "yes"]
    listed = {tool["id"]: tool for tool in json.loads(piq("tools", "--json").stdout)}
    assert listed["protein-stats"]["credit_model"]["is_free"] is True
    detail = piq("tools", "show", "protein-stats").stdout
    assert SLOT in detail and "molecular_weight" in detail
    assert "no tool 'nope'" in one_error_line(piq("tools", "show", "nope", code=1))


def test_quote_of_a_real_fasta_is_free(piq: Piq, fasta: Path) -> None:
    quote = json.loads(
        piq("quote", "protein-stats", "--input", f"{SLOT}=@{fasta}", "--json").stdout
    )
    assert quote["estimated_credits"] == 0
    assert quote["billable_credits"] == 0
    assert quote["available_credits"] == 500
    assert quote["blocking_errors"] == []
    text = piq("quote", "protein-stats", str(fasta)).stdout
    assert "estimated credits  0" in text and "available credits  500" in text


def _same(cell: str, value: Any) -> bool:
    if isinstance(value, bool):
        return cell == str(value)
    if isinstance(value, int | float):
        return math.isclose(float(cell), value, rel_tol=1e-12)
    return cell == str(value)


def files_table(piq: Piq, job_id: str) -> list[list[str]]:
    """The files ``piq show`` lists, a row each (name, format, size, path), checked
    to be a table: a header, then every column starting where its heading does."""
    listed = piq("show", job_id).stdout.split("\nfiles (")[1].splitlines()[1:]
    header = listed[0]
    assert header.split() == ["NAME", "FORMAT", "SIZE", "PATH"], listed
    starts = [header.index(name) for name in ("FORMAT", "SIZE", "PATH")]
    rows = []
    for line in listed[1:]:
        if not line.startswith("  "):  # the table ends
            break
        assert all(line[at - 1] == " " and line[at] != " " for at in starts), listed
        bounds = [0, *starts, len(line)]
        rows.append([line[a:b].strip() for a, b in itertools.pairwise(bounds)])
    return rows


def test_run_wait_then_export_agrees_with_show(piq: Piq, fasta: Path, tmp_path: Path) -> None:
    result = piq(
        "run", "protein-stats", "--input", f"{SLOT}=@{fasta}", "--name", "P54025", "--wait"
    )
    job_id = result.stdout.splitlines()[0]
    assert job_id.startswith("job_")
    assert "COMPLETED" in result.stdout and "molecular_weight" in result.stdout

    data = show(piq, job_id)
    assert data["status"] == "COMPLETED" and data["name"] == "P54025"
    assert data["inputs"][0]["label"] == "P54025.fasta"
    assert data["inputs"][0]["format"] == "fasta"
    fields = data["result"]["fields"]
    assert fields["length"] == 38 and fields["sequences"] == 1
    assert fields["molecular_weight"] == pytest.approx(5098.3, abs=0.1)
    for file in data["result"]["files"]:
        assert Path(file["path"]).is_file()
    assert [row[0] for row in files_table(piq, job_id)] == [
        f["name"] for f in data["result"]["files"]
    ]

    out = tmp_path / "stats.csv"
    piq("export", job_id, "--format", "csv", "-o", str(out))
    (row,) = list(csv.DictReader(io.StringIO(out.read_text())))
    assert row["job_id"] == job_id and row["status"] == "COMPLETED"
    for key, value in {**fields, **data["result"]["rows"][0]}.items():
        assert _same(row[key], value), (key, row[key], value)

    exported = json.loads(piq("export", job_id, "--format", "json").stdout)
    assert exported["results"]["fields"] == fields
    assert exported["results"]["rows"] == data["result"]["rows"]


def test_run_takes_a_structure_by_pdb_id(
    piq: Piq, env: dict[str, str | None], fixtures_dir: Path
) -> None:
    """``SLOT=pdb:ID`` on a structure slot: the entry is fetched when the job is
    submitted (here from a real HTTP server on the loopback, set by PIQ_PDB_URL)."""
    [structure] = sorted((fixtures_dir / "colabfold").glob("*.pdb"))
    archive = PdbEntryServer({"1ABC": structure.read_text()})
    try:
        env["PIQ_PDB_URL"] = archive.url_template
        result = piq("run", "pdb-to-mmcif", "--input", "structure=pdb:1abc", "--wait")
        missing = piq("run", "pdb-to-mmcif", "--input", "structure=pdb:9zzz", code=1)
    finally:
        archive.close()
    data = show(piq, result.stdout.splitlines()[0])
    assert data["status"] == "COMPLETED"
    assert data["inputs"][0]["source"] == {"type": "pdb", "id": "1ABC"}
    assert data["inputs"][0]["label"] == "1ABC"
    assert "the PDB has no entry 9ZZZ" in one_error_line(missing)
    assert archive.hits == {"/download/1ABC.pdb": 1, "/download/9ZZZ.pdb": 1}


def test_jobs_filters_and_cursor_paging(piq: Piq, env: dict[str, str | None]) -> None:
    done = [run_wait(piq, "MKVLAAGIVALLLAA", "--name", f"batch {i}") for i in range(4)]
    other = pending_job(env)
    piq("cancel", other)
    piq("rename", other, "the odd one")

    table = piq("jobs").stdout.splitlines()
    assert table[0].split() == [
        "ID", "NAME", "TOOL", "STATUS", "DURATION", "SUBMITTER", "CREDITS",
    ]  # fmt: skip
    assert len(table) == 1 + 5 and all(" alice " in line for line in table[1:])

    def ids(*args: str) -> list[str]:
        page = json.loads(piq("jobs", "--json", *args).stdout)
        return [item["id"] for item in page["items"]]

    assert ids("--status", "COMPLETED") == done[::-1]
    assert ids("--status", "cancelled") == [other]
    assert set(ids("--status", "COMPLETED", "--status", "CANCELLED")) == {*done, other}
    assert ids("--search", "odd") == [other]
    assert ids("--tool", "residue-codes") == []
    assert len(ids("--mine", "--tool", "protein-stats")) == 5

    seen: list[str] = []
    cursor: list[str] = []
    while True:
        page = json.loads(piq("jobs", "--json", "--limit", "2", *cursor).stdout)
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = ["--after", page["next_cursor"]]
    assert seen == [other, *done[::-1]]

    text = piq("jobs", "--limit", "2").stdout.splitlines()
    assert text[-1].startswith("next page: --after ")
    second = piq("jobs", "--limit", "2", "--after", text[-1].split()[-1]).stdout
    assert done[2] in second and done[1] in second
    assert "cursor" in one_error_line(piq("jobs", "--after", "rubbish!", code=1))

    # The whole history sorted by a column, paged in that order by the hint it prints.
    assert ids("--sort", "name") == [*done, other]
    assert ids("--sort", "NAME", "--order", "desc") == [other, *done[::-1]]
    assert ids("--sort", "duration_s")[-1] == other  # never ran: after every duration
    by_name: list[str] = []
    args = ["--sort", "name", "--limit", "2"]
    while True:
        lines = piq("jobs", *args).stdout.splitlines()
        by_name += [line.split()[0] for line in lines[1:] if line.startswith("job_")]
        if not lines[-1].startswith("next page: "):
            break
        hint = lines[-1].removeprefix("next page: ").split()
        assert hint[:4] == ["--sort", "name", "--order", "asc"], hint
        args = [*hint, "--limit", "2"]
    assert by_name == [*done, other]
    default_cursor = text[-1].split()[-1]
    refused = one_error_line(piq("jobs", "--sort", "name", "--after", default_cursor, code=1))
    assert "cursor" in refused, refused
    assert "created_at" in one_error_line(piq("jobs", "--sort", "size", code=2))


def test_rename_share_and_delete(piq: Piq, tmp_path: Path) -> None:
    job_id = run_wait(piq, "MKVLA")
    assert piq("rename", job_id, "kinase fragment").stdout.strip() == f"{job_id}: kinase fragment"
    assert show(piq, job_id)["name"] == "kinase fragment"
    assert "1 to 300 characters" in one_error_line(piq("rename", job_id, " ", code=1))

    shared = piq(
        "share", job_id, "--visibility", "invited", "--invite", "Bob@Lab.example"
    ).stdout.splitlines()
    assert shared == [f"{job_id}: invited", "  bob@lab.example  pending"]
    piq("members", "add", "bob", "--role", "member", "--email", "bob@lab.example")
    assert "bob@lab.example  active" in piq("share", job_id).stdout
    assert "not an email" in one_error_line(piq("share", job_id, "--invite", "bob", code=1))

    files = Path(show(piq, job_id)["result"]["files"][0]["path"])
    piq("delete", job_id, input="n\n", code=1)
    assert files.is_file()
    assert piq("delete", job_id, "--yes").stdout.strip() == f"deleted {job_id}"
    assert not files.exists()
    assert one_error_line(piq("show", job_id, code=1)) == f"piq: error: no job {job_id}"
    assert piq("jobs").stdout.strip() == "no jobs"


def test_retry_and_duplicate_preconditions(piq: Piq, env: dict[str, str | None]) -> None:
    completed = run_wait(piq, "MKVLA")
    waiting = pending_job(env)
    assert "cancel it before deleting" in one_error_line(piq("delete", waiting, "-y", code=1))
    assert "only FAILED, TIMEOUT or CANCELLED" in one_error_line(piq("retry", completed, code=1))
    assert "only COMPLETED jobs" in one_error_line(piq("duplicate", waiting, code=1))
    assert piq("cancel", waiting).stdout.strip() == f"{waiting}: CANCELLED"
    assert "can no longer be cancelled" in one_error_line(piq("cancel", waiting, code=1))

    retried = piq("retry", waiting, "--wait").stdout.splitlines()[0]
    assert show(piq, retried)["status"] == "COMPLETED"
    assert show(piq, retried)["origin_job_id"] == waiting
    copy = piq("duplicate", retried, "--name", "copy", "--wait").stdout.splitlines()[0]
    assert show(piq, copy)["name"] == "copy"
    assert "settings.bogus" in one_error_line(piq("duplicate", retried, "--set", "bogus=1", code=1))
    kinds = piq("events", retried).stdout
    assert "created" in kinds and "COMPLETED" in kinds


def test_duplicate_unset_takes_a_setting_back_to_its_default(piq: Piq) -> None:
    spaced = piq(
        "run", "residue-codes", "--input", "sequences=MKV", "--set", "separator=space", "--wait"
    ).stdout.splitlines()[0]
    assert show(piq, spaced)["settings"]["separator"] == "space"
    dashed = piq("duplicate", spaced, "--unset", "separator", "--wait").stdout.splitlines()[0]
    assert show(piq, dashed)["settings"]["separator"] == "dash"
    assert "Met-Lys-Val" in piq("export", dashed).stdout
    refused = one_error_line(piq("duplicate", spaced, "--unset", "seperator", code=1))
    assert "did you mean 'separator'" in refused, refused


def test_credits_grant_and_ledger(piq: Piq) -> None:
    assert ["available", "500", "credits"] in [
        line.split() for line in piq("credits").stdout.splitlines()
    ]
    assert piq("credits", "grant", "250", "--note", "grant 42").stdout.strip() == (
        "available: 750 credits"
    )
    account = json.loads(piq("credits", "--json").stdout)
    assert account["workspace"]["credits"]["available"] == 750
    assert "750 credits" in piq("credits").stdout
    ledger = piq("credits", "ledger").stdout
    assert "+250" in ledger and "grant 42" in ledger and "starting grant" in ledger
    assert "positive whole number" in one_error_line(piq("credits", "grant", "--", "-5", code=1))


def test_bad_fasta_is_one_located_line_and_creates_no_job(piq: Piq, tmp_path: Path) -> None:
    bad = tmp_path / "bad.fasta"
    bad.write_text(">kinase fragment\nMKVLAAG\nMKVLJAG\n")
    line = one_error_line(piq("run", "protein-stats", str(bad), "--wait", code=1))
    assert "record 'kinase'" in line and "line 3" in line and "character 5" in line
    assert "'J'" in line
    one_error_line(piq("run", "protein-stats", "--input", f"{SLOT}=@{bad}", code=1))
    assert json.loads(piq("jobs", "--json").stdout) == {"items": [], "next_cursor": None}

    quote = piq("quote", "protein-stats", str(bad), code=1).stdout
    assert "cannot run" in quote and "character 5" in quote

    worse = tmp_path / "worse.fasta"
    worse.write_text(">a\nMKJ\n>b\nMK1\n")
    result = piq("run", "protein-stats", str(worse), code=1)
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "piq: error: 2 problems:"
    assert "record 'a'" in lines[1] and "record 'b'" in lines[2]


def test_usage_errors_exit_2_with_one_line(piq: Piq, tmp_path: Path) -> None:
    missing = tmp_path / "missing.fasta"
    line = one_error_line(piq("run", "protein-stats", "--input", f"{SLOT}=@{missing}", code=2))
    assert "no such input file" in line
    assert "KEY=VALUE" in one_error_line(piq("quote", "protein-stats", "MKV", "--set", "x", code=2))
    assert "--bogus" in one_error_line(piq("jobs", "--bogus", code=2))
    assert "no tool 'nope'" in one_error_line(piq("run", "nope", "MKV", code=1))


def test_run_without_wait_returns_at_once_and_the_worker_finishes(
    piq: Piq, env: dict[str, str | None], fasta: Path, gate: Gate
) -> None:
    # A job held until the test lets it go: the command returns before it ends.
    env["PIQ_EXTRA_TOOLS"] = "tests.helpers:Sleep"
    held = piq("run", "sleep", "zz", "--set", f"hold={gate.folder}").stdout.strip()
    assert show(piq, held)["status"] in ("PENDING", "PROCESSING")
    gate.open()

    result = piq("run", "protein-stats", str(fasta), "--name", "in the background")
    job_id = result.stdout.strip()
    assert job_id.startswith("job_") and "\n" not in job_id

    deadline = time.monotonic() + 60
    data = show(piq, job_id)
    while data["status"] != "COMPLETED" and time.monotonic() < deadline:
        assert data["status"] in ("PENDING", "PROCESSING"), data
        time.sleep(0.2)
        data = show(piq, job_id)
    assert data["status"] == "COMPLETED", data
    while show(piq, held)["status"] != "COMPLETED":
        assert time.monotonic() < deadline, show(piq, held)
        time.sleep(0.2)
    assert data["result"]["fields"]["length"] == 38
    log = Path(data["result"]["files"][0]["path"]).with_name(LOG_NAME)
    assert "done with job" in log.read_text()


def test_installed_piq_reports_errors_without_traceback(env: dict[str, str | None]) -> None:
    piq_script = Path(sys.executable).with_name("piq")
    if not piq_script.is_file():
        pytest.skip(f"the piq console script is not installed next to {sys.executable}")
    environment = {k: v for k, v in env.items() if v is not None}
    environment["PATH"] = str(piq_script.parent)
    missing = subprocess.run(
        [str(piq_script), "show", "job_0000"], capture_output=True, text=True, env=environment
    )
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == ["piq: error: no job job_0000"]
    assert "Traceback" not in missing.stderr + missing.stdout
    usage = subprocess.run(
        [str(piq_script), "run"], capture_output=True, text=True, env=environment
    )
    assert usage.returncode == 2
    assert len(usage.stderr.strip().splitlines()) == 1 and "Traceback" not in usage.stderr


def test_batch_run_show_list_and_retry(piq: Piq, tmp_path: Path) -> None:
    items = tmp_path / "sequences.txt"
    items.write_text("MKTAYIAKQR\nGIVEQCCTSICSLYQLENYCN\n\nMQIFVKTLTGK\n")
    result = piq("batch", "run", "protein-stats", "--items-file", str(items), "--wait")
    batch_id = result.stdout.splitlines()[0]
    assert batch_id.startswith("batch_")
    assert "COMPLETED" in result.stdout and "3 COMPLETED" in result.stdout
    shown = json.loads(piq("batch", "show", batch_id, "--json").stdout)
    assert shown["status"] == "COMPLETED" and shown["total"] == 3
    assert [c["status"] for c in shown["children"]] == ["COMPLETED"] * 3
    listed = json.loads(piq("batch", "list", "--json").stdout)
    assert [b["id"] for b in listed] == [batch_id]
    # batch children stay out of the job history
    assert json.loads(piq("jobs", "--json").stdout)["items"] == []
    retried = piq("batch", "retry", batch_id)
    assert retried.stdout == "" and "no failed, timed-out or cancelled children" in retried.stderr
    # a bad item refuses the whole batch, naming it
    bad = piq("batch", "run", "protein-stats", "MKT", "MKJT", code=1)
    assert "item 2" in bad.stderr
    assert len(json.loads(piq("batch", "list", "--json").stdout)) == 1


def test_config_shows_what_is_in_force(tmp_path: Path) -> None:
    """``piq config`` opens no database: one backend is enough."""
    env = environment(sqlite_url(tmp_path / "piq.sqlite"), tmp_path)
    piq = invoker(env)
    env.update({"PIQ_TIME_LIMITS": "esmfold=900", "PIQ_BATCH_CONCURRENCY": "5"})
    data = json.loads(piq("config", "--json").stdout)
    assert data["time_limits"] == {"esmfold": 900.0}
    assert data["batch_concurrency"] == 5
    assert data["executor"] == "dask"
    assert data["dask_scheduler_address"] == "embedded LocalCluster"
    assert data["dask_dashboard"] == "none"
    env["PIQ_TIME_LIMITS"] = "esmfold"
    assert "PIQ_TIME_LIMITS" in one_error_line(piq("config", code=1))


def test_batch_run_splits_one_input_into_its_jobs(
    piq: Piq, env: dict[str, str | None], tmp_path: Path
) -> None:
    """``--input`` hands the tool one input to split: one AlphaFold-2 job per line.
    Where ColabFold is not installed the batch is refused at once, naming what to
    install, and nothing is created; where it is (a stand-in that fails as the
    real program can), each line becomes a child job."""
    env["PIQ_COLABFOLD_BIN"] = None
    env["PATH"] = "/usr/bin:/bin"
    listing = tmp_path / "queries.txt"
    listing.write_text(
        "# name  chains\nubiquitin MQIFVKTLTGKTITLEV\ndimer MKTAYIAKQR:GIVEQCCTSIC\n"
    )
    batch = ("batch", "run", "alphafold-2", "--input", f"sequences=@{listing}")
    line = one_error_line(piq(*batch, "--wait", code=1))
    assert "colabfold_batch" in line and "PIQ_COLABFOLD_BIN" in line
    assert json.loads(piq("batch", "list", "--json").stdout) == []

    params = tmp_path / "colabfold-data" / "params"
    params.mkdir(parents=True)
    for marker, pattern in COLABFOLD_WEIGHTS.values():
        (params / marker).write_text("")
        for n in range(1, 6):
            (params / pattern.format(n=n)).write_bytes(b"stand-in weights")
    env["PIQ_COLABFOLD_DATA"] = str(params.parent)
    env["PATH"] = f"{STANDINS}:/usr/bin:/bin"
    env["STANDIN_MODE"] = "fail"
    result = piq(*batch, "--wait", code=1)
    batch_id = result.stdout.splitlines()[0]
    shown = json.loads(piq("batch", "show", batch_id, "--json").stdout)
    assert shown["total"] == 2 and shown["status"] == "FAILED"
    children = [show(piq, c["id"]) for c in shown["children"]]
    assert sorted(c["inputs"][0]["label"] for c in children) == ["dimer", "ubiquitin"]
    assert all(child["status"] == "FAILED" for child in children)
    # A bad line refuses the whole batch, naming the line; nothing is created.
    listing.write_text("good MQIFVKTLTGK\nbad MQIF1VKT\n")
    bad = piq("batch", "run", "alphafold-2", "--input", f"sequences=@{listing}", code=1)
    assert "line 2" in one_error_line(bad)
    assert len(json.loads(piq("batch", "list", "--json").stdout)) == 1
    # Items and --input together are refused.
    both = piq("batch", "run", "alphafold-2", "MQIF", "--input", "sequences=MKT", code=2)
    assert "--input" in both.output


def test_run_wait_gives_the_tool_its_folder_before_it_runs(
    piq: Piq, env: dict[str, str | None]
) -> None:
    """A tool that writes straight into its working directory, as a program run
    there does, finds it made."""
    env["PIQ_EXTRA_TOOLS"] = "tests.helpers:Scribe"
    job_id = piq("run", "scribe", "notes in place", "--wait").stdout.splitlines()[0]
    assert show(piq, job_id)["status"] == "COMPLETED"
    notes = Path(str(env["PIQ_DATA_DIR"])) / "jobs" / job_id / "notes.txt"
    assert notes.read_text() == "notes in place"


def test_a_tool_that_cannot_run_here_says_so_before_anyone_waits(
    piq: Piq, env: dict[str, str | None]
) -> None:
    """Its weights are not here: the catalogue says why, the quote blocks, and a
    run is refused in one line naming what to set, creating no job."""
    env["PIQ_EXTRA_TOOLS"] = "tests.helpers:WeightsEcho"
    env["PIQ_TEST_WEIGHTS"] = None
    listing = piq("tools")
    [row] = [line for line in listing.stdout.splitlines() if line.startswith("weights-echo")]
    assert row.split()[-1] == "no"
    [protein_row] = [line for line in listing.stdout.splitlines() if line.startswith("protein-")]
    assert protein_row.split()[-1] == "yes"
    assert "weights-echo cannot run: Weights Echo (weights-echo) cannot run" in listing.stderr
    listed = json.loads(piq("tools", "--json").stdout)
    [summary] = [t for t in listed if t["id"] == "weights-echo"]
    assert summary["availability"]["available"] is False
    assert "PIQ_TEST_WEIGHTS" in summary["availability"]["reason"]
    assert "cannot run: " in piq("tools", "show", "weights-echo").stdout
    quote = piq("quote", "weights-echo", "hello", code=1).stdout
    assert "cannot run" in quote and "PIQ_TEST_WEIGHTS" in quote
    line = one_error_line(piq("run", "weights-echo", "hello", "--wait", code=1))
    assert "cannot run on this installation" in line and "PIQ_TEST_WEIGHTS" in line
    assert json.loads(piq("jobs", "--json").stdout)["items"] == []
