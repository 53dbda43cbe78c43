"""What ``piq`` says at the terminal when a user misspells, misnames, interrupts or
cancels: through the real command (and, for Ctrl-C, a real process sent SIGINT),
on SQLite and PostgreSQL."""

# ruff: noqa: F811  (the env and piq fixtures come from test_cli)
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import REPO
from .helpers import Gate
from .test_cli import (  # noqa: F401  (env and piq are fixtures)
    Piq,
    env,
    environment,
    invoker,
    one_error_line,
    piq,
    show,
)

REPO_ROOT = REPO

FAST_BOX = [
    *("--set", "center_x=28.5", "--set", "center_y=6.0", "--set", "center_z=14.4"),
    *("--set", "size_x=16", "--set", "size_y=16", "--set", "size_z=16"),
    *("--set", "exhaustiveness=1", "--set", "num_poses=2"),
]
LIGANDS = "c1ccccc1O phenol\nCC(=O)Nc1ccc(O)cc1 paracetamol\n"


def test_a_misspelt_setting_or_slot_names_the_nearest(piq: Piq, tmp_path: Path) -> None:
    result = piq("quote", "autodock-vina", "--set", "exhaustivnes=3", code=1)
    out = result.stdout
    assert "has no setting 'exhaustivnes'" in out, out
    assert "did you mean 'exhaustiveness'?" in out and "num_poses" in out, out
    assert "Extra inputs are not permitted" not in out
    result = piq("quote", "protein-stats", "--input", "sequnces=MKVLA", code=1)
    assert "has no slot 'sequnces'; did you mean 'sequences'?" in result.stdout, result.stdout


def test_a_bare_name_of_a_missing_file_says_so(piq: Piq, tmp_path: Path) -> None:
    line = one_error_line(piq("run", "protein-stats", "kinases.fasta", "--wait", code=2))
    assert "no such input file: kinases.fasta" in line
    assert json.loads(piq("jobs", "--json").stdout)["items"] == []


def test_credits_grant_of_a_negative_amount_is_refused_plainly(piq: Piq) -> None:
    line = one_error_line(piq("credits", "grant", "-5", code=1))
    assert "positive whole number" in line and "-5" in line
    assert "No such option" not in line


def test_cancel_of_a_processing_job_says_its_credits_stay_and_the_ledger_says_hold(
    piq: Piq, env: dict[str, str | None], gate: Gate
) -> None:
    env["PIQ_EXTRA_TOOLS"] = "tests.helpers:Sleep"
    job_id = piq("run", "sleep", "zz", "--set", f"hold={gate.folder}", "--set", "steps=2")
    job_id_text = job_id.stdout.strip()
    deadline = time.monotonic() + 60
    while show(piq, job_id_text)["status"] != "PROCESSING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    result = piq("cancel", job_id_text)
    assert result.stdout.strip() == f"{job_id_text}: CANCELLED"
    assert "its 10 credits stay charged" in result.stderr, result.stderr
    ledger = piq("credits", "ledger").stdout
    rows = [line for line in ledger.splitlines() if job_id_text in line]
    kinds = [row.split("  ")[1].strip() for row in rows]
    assert "hold released" in " ".join(rows) and "refund" not in " ".join(kinds), ledger


def test_config_refuses_invalid_values_and_shows_each_commands_executor(
    tmp_path: Path,
) -> None:
    env = environment(f"sqlite:///{tmp_path / 'piq.sqlite'}", tmp_path)
    piq = invoker(env)
    data = json.loads(piq("config", "--json").stdout)
    assert data["executors"]["piq engine"].startswith("Dask, an embedded cluster")
    assert "own process" in data["executors"]["piq run/retry/duplicate/batch run --wait"]
    handed = data["executors"]["piq run/retry/duplicate/batch run"]
    assert "a running engine" in handed and "detached" in handed
    remote = invoker({**env, "PIQ_DASK_SCHEDULER_ADDRESS": "tcp://10.0.0.5:8786"})
    handed = json.loads(remote("config", "--json").stdout)["executors"]
    assert handed["piq run/retry/duplicate/batch run"].endswith(
        "the scheduler at tcp://10.0.0.5:8786"
    )
    for variable, value, says in [
        ("PIQ_EXECUTOR", "dusk", "did you mean 'dask'?"),
        ("PIQ_STARTING_CREDITS", "-10", "PIQ_STARTING_CREDITS must be 0 or more"),
        ("PIQ_TIME_LIMITS", "esmfoldd=60", "did you mean 'esmfold'?"),
        ("PIQ_TIME_LIMITS", "esmfold=-1", "PIQ_TIME_LIMITS"),
    ]:
        line = one_error_line(invoker({**env, variable: value})("config", code=1))
        assert says in line, (variable, line)


def test_vina_batch_with_items_file_and_receptor_and_its_quote(
    piq: Piq, fixtures_dir: Path, tmp_path: Path
) -> None:
    receptor = fixtures_dir / "docking" / "BACE_1_receptorH.pdb"
    ligands = tmp_path / "ligands.smi"
    ligands.write_text(LIGANDS)
    given = ["--input", f"receptor=@{receptor}", *FAST_BOX, "--json"]
    quote = json.loads(
        piq("quote", "autodock-vina", *given, "--input", f"ligands=@{ligands}").stdout
    )
    one = json.loads(piq("quote", "autodock-vina", *given, "--input", "ligands=c1ccccc1O").stdout)
    assert quote["jobs"] == 2 and quote["blocking_errors"] == []
    assert one["jobs"] == 1 and one["estimated_credits"] > 0
    assert quote["estimated_credits"] == 2 * one["estimated_credits"]

    result = piq(
        "batch", "run", "autodock-vina", "--input", f"receptor=@{receptor}",
        "--items-file", str(ligands), *FAST_BOX, "--wait",
    )  # fmt: skip
    batch_id = result.stdout.splitlines()[0]
    # Each child's progress reached the terminal while waiting, one line per child.
    assert "#1  COMPLETED" in result.stderr and "#2  COMPLETED" in result.stderr, result.stderr
    shown = piq("batch", "show", batch_id).stdout
    assert "duration" in shown and "started" in shown
    rows = [line for line in shown.splitlines() if line.startswith("job_")]
    assert len(rows) == 2
    assert "phenol" in rows[0] and "paracetamol" in rows[1], shown
    assert all("COMPLETED" in row and " s " in row + " " for row in rows), shown
    data = json.loads(piq("batch", "show", batch_id, "--json").stdout)
    assert data["status"] == "COMPLETED" and data["credits_charged"] == quote["estimated_credits"]
    # The history leaves the children to their batch, and says where they are.
    history = piq("jobs")
    assert history.stdout.strip() == "no jobs"
    assert "listed by batch: piq batch list" in history.stderr


def _piq_process(
    env: dict[str, str | None], *args: str, stderr: int = subprocess.PIPE, **more_env: str
) -> subprocess.Popen[str]:
    """``piq`` as a process of its own, with ``env`` over this one's environment
    (``None`` unsets), then ``more_env``."""
    full = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    full |= {"PYTHONPATH": str(REPO_ROOT), **more_env}
    return subprocess.Popen(
        [sys.executable, "-m", "proteiniq_jupyter.cli", *args],
        cwd=REPO_ROOT,
        env=full,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def _wait_for_line(stream: object, needle: str, timeout: float = 120) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()  # type: ignore[attr-defined]
        if not line:
            break
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} never came: {seen}")


def _ctrl_c(process: subprocess.Popen[str], after: str, code: int, gate: Gate | None = None) -> str:
    """Press Ctrl-C once ``after`` is on the process's standard error: what it
    printed there since, having ended with ``code`` and no traceback."""
    assert process.stderr is not None
    _wait_for_line(process.stderr, after)
    process.send_signal(signal.SIGINT)
    try:
        # The command itself must end (the prompt comes back), whatever else still
        # holds its standard error: a job's process held at the gate is let go
        # only then, so that reading to the end cannot wait on the gate.
        assert process.wait(timeout=60) == code
        if gate is not None:
            gate.open()
        rest = process.stderr.read()
    finally:
        if gate is not None:
            gate.open()
        process.kill()
    assert "Traceback" not in rest, rest
    return rest


def test_ctrl_c_on_run_wait_cancels_and_says_what_happened(
    piq: Piq, env: dict[str, str | None], gate: Gate
) -> None:
    env["PIQ_EXTRA_TOOLS"] = "tests.helpers:Sleep"
    process = _piq_process(
        env, "run", "sleep", "zz", "--set", f"hold={gate.folder}", "--set", "steps=2", "--wait"
    )
    assert process.stdout is not None
    job_id = process.stdout.readline().strip()
    rest = _ctrl_c(process, "PROCESSING", 130, gate)
    assert f"interrupted; job {job_id} cancelled while processing" in rest, rest
    assert "credits stay charged" in rest
    assert show(piq, job_id)["status"] == "CANCELLED"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_ctrl_c_on_engine_stops_cleanly_and_says_so(env: dict[str, str | None]) -> None:
    process = _piq_process(env, "engine", "--workers", "1")
    rest = _ctrl_c(process, "piq engine engine:", 0)
    assert "piq engine: interrupted; stopping" in rest
    assert "piq engine: stopped" in rest


def test_a_detached_job_shows_its_estimated_progress_and_time_left(
    piq: Piq, env: dict[str, str | None]
) -> None:
    """Through a job's own process and its supervisor: a phase the tool says nothing
    about is estimated, and ``show`` and ``jobs`` say so with the time left."""
    env["PIQ_EXTRA_TOOLS"] = "tests.helpers:Sleep"
    job_id = piq("run", "sleep", "zz", "--set", "seconds=30", "--set", "estimated=true")
    job_id_text = job_id.stdout.strip()
    deadline = time.monotonic() + 60
    data = show(piq, job_id_text)
    while not (data["progress_estimated"] and data["eta_seconds"] and data["progress"] > 0):
        assert time.monotonic() < deadline, data
        time.sleep(0.2)
        data = show(piq, job_id_text)
    assert data["status"] == "PROCESSING" and 0 < data["eta_seconds"] <= 30
    shown = piq("show", job_id_text).stdout
    assert "(estimated from past runs, about" in shown and "left)" in shown, shown
    assert "est., ~" in piq("jobs").stdout
    piq("cancel", job_id_text)


def test_batch_show_follow_shows_each_child_until_the_batch_ends(
    piq: Piq, env: dict[str, str | None]
) -> None:
    env["PIQ_EXTRA_TOOLS"] = "tests.helpers:Sleep"
    batch_id = piq("batch", "run", "sleep", "a", "b", "--set", "seconds=1").stdout.strip()
    result = piq("batch", "show", batch_id, "--follow")
    assert "#1  COMPLETED" in result.stderr and "#2  COMPLETED" in result.stderr, result.stderr
    assert "COMPLETED  2 of 2 done" in result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("job_")]
    assert [row.split()[1] for row in rows] == ["#1", "#2"], result.stdout


def test_ctrl_c_on_batch_run_wait_cancels_the_batch_and_says_so(
    piq: Piq, env: dict[str, str | None], gate: Gate
) -> None:
    env["PIQ_EXTRA_TOOLS"] = "tests.helpers:Sleep"
    process = _piq_process(
        env,
        "batch",
        "run",
        "sleep",
        "a",
        "b",
        "--set",
        f"hold={gate.folder}",
        "--set",
        "steps=2",
        "--wait",
    )
    assert process.stdout is not None
    batch_id = process.stdout.readline().strip()
    # Once a child runs (the embedded cluster starts with the first job, so the
    # batch is PROCESSING a while before its children are).
    rest = _ctrl_c(process, "#1  PROCESSING", 130, gate)
    assert f"interrupted; batch {batch_id} cancelled: 2 CANCELLED" in rest, rest
    assert "credits stay charged for children that had started" in rest
    data = json.loads(piq("batch", "show", batch_id, "--json").stdout)
    assert data["status"] == "CANCELLED"


def _on_a_terminal(env: dict[str, str | None], *args: str) -> tuple[str, str, int]:
    """Run ``piq`` with its standard error on a pseudo-terminal, as in a shell:
    what it printed to standard output, to the terminal, and its exit status."""
    import pty

    leader, follower = pty.openpty()
    process = _piq_process(env, *args, stderr=follower, COLUMNS="120", TERM="xterm-256color")
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal's other end closed: the process is done
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    stdout, _ = process.communicate(timeout=120)
    return stdout, shown.decode("utf-8", "replace"), process.returncode


def test_run_wait_on_a_terminal_draws_a_bar_and_ends_with_the_result(
    env: dict[str, str | None],
) -> None:
    stdout, terminal, code = _on_a_terminal(
        env, "run", "protein-stats", "MKTAYIAKQRQISFVK", "--wait"
    )
    assert code == 0, (stdout, terminal)
    assert "━" in terminal and "100%" in terminal and "COMPLETED" in terminal, terminal
    assert "Traceback" not in terminal
    # The result's main fields end the output.
    assert "status" in stdout and "COMPLETED" in stdout and "length" in stdout, stdout


def test_batch_run_wait_on_a_terminal_draws_a_bar_per_child(env: dict[str, str | None]) -> None:
    stdout, terminal, code = _on_a_terminal(
        env, "batch", "run", "protein-stats", "MKTAYIAKQR", "MVLSPADKTN", "--wait"
    )
    assert code == 0, (stdout, terminal)
    assert "2 of 2 done" in terminal, terminal
    assert terminal.count("100%") >= 2 and "#1" in terminal and "#2" in terminal, terminal
