"""What a worker knows of the run it is about to start, for the job's provenance: the
versions of the libraries and programs the tool declares, as installed here, and
the machine. Each is found once per worker process (a program's ``--version`` costs
a process start; a library's version, a metadata read) and kept."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import socket
import subprocess
from pathlib import Path

from ..jobs.provenance import RunEnvironment, Software, Worker
from ..tools.base import Tool
from ..tools.programs import Program
from .cpu import machine_cpus

#: This package, listed first in every job's provenance.
ENGINE_DISTRIBUTION = "proteiniq-jupyter"
#: How long a program may take to say its version.
VERSION_TIMEOUT_S = 20.0


@functools.cache
def library_version(distribution: str) -> str | None:
    """The installed version of a Python distribution; None when it is not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _first_line(text: str) -> str | None:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:200]
    return None


def _python_of(path: str) -> str | None:
    """The interpreter a Python program's first line names, if it is one."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!") or b"python" not in first:
        return None
    words = first[2:].decode(errors="replace").split()
    return words[0] if words and os.path.isabs(words[0]) else None


def _run(command: list[str]) -> str | None:
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return _first_line(done.stdout or done.stderr) if done.returncode == 0 else None


@functools.cache
def program_version(path: str, distribution: str | None) -> str | None:
    """What ``path --version`` says; for a Python program without the option, the
    version of its ``distribution`` as its own interpreter has it installed."""
    said = _run([path, "--version"])
    if said is not None:
        return said
    python = _python_of(path) if distribution else None
    if python is None:
        return None
    script = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    return _run([python, "-c", script])


def program(spec: Program) -> Software:
    path, _ = spec.locate()
    version = program_version(path, spec.distribution) if path else None
    return Software(name=spec.name, kind="program", version=version, path=path)


@functools.cache
def cpu_model() -> str | None:
    """The processor's model name, as the system describes it."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Hardware", "cpu model") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or None


@functools.cache
def gpu_models() -> str | None:
    """The GPUs this process may use, by name (``nvidia-smi``'s list, narrowed to
    ``CUDA_VISIBLE_DEVICES``); None when there are none to see."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and not visible.strip():
        return None
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=index,uuid,name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    wanted = {v.strip() for v in visible.split(",")} if visible else None
    names = []
    for line in done.stdout.splitlines():
        parts = [p.strip() for p in line.split(",", 2)]
        if len(parts) == 3 and (wanted is None or parts[0] in wanted or parts[1] in wanted):
            names.append(parts[2])
    return ", ".join(names) or None


def worker(threads: int | None) -> Worker:
    return Worker(
        host=socket.gethostname(),
        platform=platform.platform(),
        python=platform.python_version(),
        cpu=cpu_model(),
        cpus=machine_cpus(),
        gpu=gpu_models(),
        threads=threads,
    )


def run_environment(tool: Tool, threads: int | None) -> RunEnvironment:
    """What the job's provenance records of this worker before its tool runs."""
    names = dict.fromkeys((ENGINE_DISTRIBUTION, *type(tool).libraries))
    software = [
        Software(name=name, kind="library", version=library_version(name)) for name in names
    ]
    software += [program(spec) for spec in type(tool).programs]
    return RunEnvironment(
        tool_version=str(type(tool).version), software=tuple(software), worker=worker(threads)
    )


__all__ = ["library_version", "program_version", "run_environment"]
