"""Tool warm-ups, which a worker's fork server runs once before it forks every job
of a preloaded tool: they must do their set-up without starting a thread (a forked
job would inherit a lock held by a thread that is not there), and a warm-up that
fails must not stop the fork server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from proteiniq_jupyter.execution import fork_server
from proteiniq_jupyter.tools.base import Tool
from proteiniq_jupyter.tools.registry import ToolRegistry

REPO = Path(__file__).resolve().parents[2]
#: Run in a fresh interpreter, as a fork server is: import the tool and its
#: libraries, count the process's threads (the kernel's count, which includes those a
#: library starts outside Python), warm the tool up, count them again.
WARM_UP_SCRIPT = """
import importlib, json, os, sys
from proteiniq_jupyter.execution.fork_server import warm_up
module, _, name = sys.argv[1].partition(":")
for preloaded in getattr(importlib.import_module(module), name).preload_modules()[1:]:
    importlib.import_module(preloaded)
threads = lambda: len(os.listdir("/proc/self/task"))
before = threads()
failed = warm_up(sys.argv[1])
print(json.dumps({
    "failed": failed,
    "threads_before": before,
    "threads_after": threads(),
    "conversion_mapping_built": getattr(
        sys.modules.get("transformers.conversion_mapping"),
        "_checkpoint_conversion_mapping_cache", None) is not None,
    "models_loaded": [list(key) for key in getattr(
        sys.modules.get("proteiniq_jupyter.tools.esmfold.model"), "_LOADED", {})],
}))
"""


def warmed_tools() -> list[type[Tool]]:
    """The installed tools that have a warm-up of their own."""
    classes = [type(tool) for tool in ToolRegistry.from_entry_points()]
    return [tool for tool in classes if tool.__dict__.get("warm_up") is not None]


def warm_up_in_fresh_process(
    tool: type[Tool], env: dict[str, str] | None = None
) -> dict[str, object]:
    spec = f"{tool.__module__}:{tool.__qualname__}"
    done = subprocess.run(
        [sys.executable, "-c", WARM_UP_SCRIPT, spec],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_docking_and_folding_tools_warm_up():
    assert {tool.id for tool in warmed_tools()} >= {"autodock-vina", "esmfold"}


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
@pytest.mark.parametrize("tool", warmed_tools(), ids=lambda tool: tool.id)
def test_a_warm_up_starts_no_thread(tool: type[Tool]):
    report = warm_up_in_fresh_process(tool, {"PIQ_ESMFOLD_MODEL": "/nonexistent/esmfold"})
    assert report["failed"] == []
    assert report["threads_after"] == report["threads_before"]
    if tool.id == "esmfold":
        # Without the weights, what the warm-up can do: the first from_pretrained of
        # a job finds transformers' renaming table built.
        assert report["conversion_mapping_built"] is True
        assert report["models_loaded"] == []


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_esmfold_warms_up_with_its_model_loaded_on_one_thread(tmp_path: Path):
    """With the weights there, the warm-up loads the model on the CPU; torch, which
    would otherwise start a thread per core, must start none before jobs fork."""
    from proteiniq_jupyter.tools.esmfold import EsmFold
    from tests.tools.tiny_esmfold import build_tiny_esmfold

    model = build_tiny_esmfold(tmp_path / "tiny")
    report = warm_up_in_fresh_process(
        EsmFold, {"PIQ_ESMFOLD_MODEL": str(model), "OMP_NUM_THREADS": "2"}
    )
    assert report["failed"] == []
    assert report["models_loaded"] == [[str(model), "cpu"]]
    assert report["threads_after"] == report["threads_before"]


def test_a_failing_warm_up_is_reported_and_skipped(capsys: pytest.CaptureFixture[str]):
    failed = fork_server.warm_up(
        "tests.tools.test_warm_up:NoSuchTool, proteiniq_jupyter.tools.base:Tool"
    )
    assert failed == ["tests.tools.test_warm_up:NoSuchTool"]
    assert "warming up tests.tools.test_warm_up:NoSuchTool in the fork server failed" in (
        capsys.readouterr().err
    )


def test_each_receptor_preparation_gets_templates_of_its_own():
    """meeko may add templates to the set it is given; the set is built once per
    process, so every preparation must get a copy."""
    from proteiniq_jupyter.tools.vina import residue_templates

    first = residue_templates()
    first.residue_templates["ZZZ"] = first.residue_templates["ALA"]
    second = residue_templates()
    assert "ZZZ" not in second.residue_templates
    assert "ALA" in second.residue_templates and "HID" in second.residue_templates
