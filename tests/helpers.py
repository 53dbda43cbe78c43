"""Small tools with known behaviour, for testing the engine's rules. They are real
tools under the same contract (validated, priced, run), whose outcome the test
chooses: the engine cannot tell them from any other tool."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Literal

import pydantic

from proteiniq_jupyter.execution.cpu import THREAD_VARIABLES
from proteiniq_jupyter.jobs.errors import ValidationError
from proteiniq_jupyter.jobs.model import Estimate, EstimateLine, JobInput, JsonDict, ToolResult
from proteiniq_jupyter.tools.base import InputSlot, OutputField, RunContext, Tool, input_error
from proteiniq_jupyter.tools.warm_host import run_warm


class EchoSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    repeat: int = pydantic.Field(1, ge=1, le=10)
    outcome: Literal["ok", "error"] = "ok"


class Echo(Tool):
    """Priced per character: 10 credits per started 10 characters, times ``repeat``."""

    id = "echo"
    name = "Echo"
    description = "Repeats its text; costs credits by length."
    category = "testing"
    slots: ClassVar[tuple[InputSlot, ...]] = (
        InputSlot(id="text", kind="text", formats=("text",), label="Text"),
    )
    outputs = (
        OutputField("length", "characters in the text"),
        OutputField("echo", "the text, repeated"),
    )
    settings_model = EchoSettings
    credit_description = "10 credits per started 10 characters, per repeat"
    credit_rates: ClassVar[JsonDict] = {"credits_per_10_characters": 10}

    def check_inputs(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> None:
        for index, item in self.slot_items(inputs, "text"):
            position = item.content.find("!")
            if position >= 0:
                raise ValidationError(
                    f"text: '!' is not allowed (character {position + 1})",
                    errors=[input_error("'!' is not allowed", index=index, column=position + 1)],
                )

    def estimate(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> Estimate:
        assert isinstance(settings, EchoSettings)
        length = sum(len(i.content) for i in inputs)
        blocks = -(-length // 10)
        return Estimate(
            (
                EstimateLine(
                    "characters (per 10)",
                    blocks * settings.repeat,
                    10,
                    blocks * 10 * settings.repeat,
                ),
            )
        )

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        assert isinstance(settings, EchoSettings)
        if settings.outcome == "error":
            raise RuntimeError("the echo chamber collapsed")
        text = inputs[0].content
        context.progress(0.5, "echoing")
        echoed = " ".join([text] * settings.repeat)
        out = context.write_file("echo.txt", echoed, "text")
        rows = [{"index": i + 1, "word": w} for i, w in enumerate(text.split())]
        return ToolResult(fields={"length": len(text), "echo": echoed}, rows=rows, files=[out])


def process_alive(pid: int) -> bool:
    """Whether a process runs (a zombie, ended but not yet reaped, does not)."""
    import os
    from pathlib import Path

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # the process may end between the two looks
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:  # FileNotFoundError, or ProcessLookupError while reading
        return False


class SleepSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    seconds: float = pydantic.Field(0.0, ge=0, le=600)
    steps: int = pydantic.Field(1, ge=1, le=1000)
    spawn_grandchild: bool = False
    marker_dir: str | None = None
    crash: bool = False
    hold: str | None = None
    write_pid: bool = False
    #: Sleep in one piece the tool says nothing about, the engine estimating it.
    estimated: bool = False


class Sleep(Tool):
    """Sleeps in steps, reporting progress after each; optionally starts a process
    of its own (to show cancel kills the whole group), leaves a marker file per run
    (to count runs), crashes its process outright, waits at a ``Gate`` between
    steps (to run until the test ends it), or writes its pid to its output file
    ``run.txt`` after each step (to tell which run wrote a job's files)."""

    id = "sleep"
    name = "Sleep"
    description = "Waits, reporting progress."
    category = "testing"
    slots: ClassVar[tuple[InputSlot, ...]] = (
        InputSlot(id="text", kind="text", formats=("text",), label="Text"),
    )
    settings_model = SleepSettings
    time_limit_s = 120.0

    def estimate(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> Estimate:
        return Estimate((EstimateLine("run", 1, 10, 10),))

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        import os
        import subprocess
        import time
        from pathlib import Path

        assert isinstance(settings, SleepSettings)
        if settings.marker_dir:
            # named by the job: a run works in a folder of its own inside the job's
            run_folder = context.workdir
            in_job = run_folder.parent.name == ".attempts"
            job_folder = run_folder.parent.parent if in_job else run_folder
            marker = Path(settings.marker_dir) / f"{job_folder.name}.{os.getpid()}"
            marker.write_text(str(time.time()))
        if settings.spawn_grandchild:
            grandchild = subprocess.Popen(["sleep", "300"])
            # whole or not at all: the test reads it as soon as it exists
            (context.workdir / "grandchild.tmp").write_text(str(grandchild.pid))
            os.replace(context.workdir / "grandchild.tmp", context.workdir / "grandchild.pid")
        if settings.crash or inputs[0].content.strip() == "crash":
            os._exit(9)
        if settings.estimated:
            with context.estimated_phase(0.0, 1.0, "sleeping", typical_s=settings.seconds):
                time.sleep(settings.seconds)
            return ToolResult(fields={"slept": settings.seconds, "pid": os.getpid()})
        files = []
        for step in range(settings.steps):
            if step and settings.hold:
                wait_at_gate(Path(settings.hold), step + 1)
            time.sleep(settings.seconds / settings.steps)
            if settings.write_pid:
                files = [context.write_file("run.txt", str(os.getpid()), "text")]
            context.progress((step + 1) / settings.steps, f"step {step + 1}")
        return ToolResult(fields={"slept": settings.seconds, "pid": os.getpid()}, files=files)


class Gate:
    """Holds jobs of the sleep tool run with its ``settings``: each stops after its
    first step until the test lets it take a given step (``allow``) or run to its
    end (``open``). Such a job runs until the test ends it, however slow the
    machine. A ``hold`` that names no existing folder holds nothing."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True)

    def settings(self, steps: int = 2, **more: object) -> dict[str, object]:
        return {"steps": steps, "hold": str(self.folder), **more}

    def allow(self, step: int) -> None:
        (self.folder / f"step-{step}").touch()

    def open(self) -> None:
        (self.folder / "open").touch()


def wait_at_gate(folder: Path, step: int) -> None:
    import time

    while folder.is_dir() and not any(
        (folder / name).exists() for name in ("open", f"step-{step}")
    ):
        time.sleep(0.01)


class GpuEcho(Echo):
    id = "gpu-echo"
    name = "GPU Echo"
    gpu = True


#: Where ``WeightsEcho`` finds its model weights.
WEIGHTS_ENV = "PIQ_TEST_WEIGHTS"


class WeightsEcho(Echo):
    """An echo that needs model weights, as the folding tools do: a machine whose
    ``PIQ_TEST_WEIGHTS`` names no file cannot run it."""

    id = "weights-echo"
    name = "Weights Echo"

    def missing_requirements(self) -> str | None:
        location = os.environ.get(WEIGHTS_ENV, "")
        if location and Path(location).is_file():
            return None
        return (
            f"the echo weights are not there ({WEIGHTS_ENV}={location!r}): download them "
            f"and set {WEIGHTS_ENV} to the file"
        )

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        result = super().run(inputs, settings, context)
        return ToolResult(
            fields={**result.fields, "pid": os.getpid()}, rows=result.rows, files=result.files
        )


class Scribe(Echo):
    """Writes its notes straight into its working directory, as a program run
    there would, rather than through the run context."""

    id = "scribe"
    name = "Scribe"

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        (context.workdir / "notes.txt").write_text(inputs[0].content, encoding="utf-8")
        return ToolResult(fields={"length": len(inputs[0].content), "echo": inputs[0].content})


class MeterSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    #: Units of work the run does, each billed as it is done.
    units: int = pydantic.Field(3, ge=1, le=1000)
    seconds_per_unit: float = pydantic.Field(0.0, ge=0, le=10)
    #: A folder where the run leaves a file named by its process id.
    marker_dir: str | None = None


class Meter(Tool):
    """Billed by what it uses, as a metered compute tool is: 10 credits per unit of
    work, reported after each unit. Its quote is one unit, the least a run uses;
    it writes how many units it finished to ``units.txt`` after each, and its
    process id into ``marker_dir`` when given."""

    id = "meter"
    name = "Meter"
    description = "Works in units, billed per unit done."
    category = "testing"
    slots: ClassVar[tuple[InputSlot, ...]] = (
        InputSlot(id="text", kind="text", formats=("text",), label="Text"),
    )
    outputs = (OutputField("units", "units of work done"),)
    settings_model = MeterSettings
    credit_description = "10 credits per unit of work done, billed as it runs"
    credit_rates: ClassVar[JsonDict] = {"credits_per_unit": 10}
    billed_by_use = True
    time_limit_s = 120.0

    def estimate(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> Estimate:
        return Estimate((EstimateLine("units (at least one)", 1, 10, 10),))

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        import time

        assert isinstance(settings, MeterSettings)
        if settings.marker_dir:
            (Path(settings.marker_dir) / str(os.getpid())).touch()
        for unit in range(1, settings.units + 1):
            time.sleep(settings.seconds_per_unit)
            context.write_file("units.txt", str(unit), "text")
            context.used(10 * unit)
            context.progress(unit / settings.units, f"unit {unit}")
        return ToolResult(fields={"units": settings.units})


TEST_TOOLS = (Echo, Sleep, GpuEcho, WeightsEcho, Scribe, Meter)
#: The same tools, by import path, for processes the tests start (workers, jobs).
TEST_TOOL_PATHS = tuple(f"tests.helpers:{tool.__name__}" for tool in TEST_TOOLS)


#: A variable tests set on the engines they start, which the probe reports.
ENGINE_LABEL_ENV = "PIQ_TEST_ENGINE_LABEL"


class ProcessProbe(Tool):
    """Reports on its own job process what it got from the fork server: a module the
    tool never imports (preloaded or not), the warm-up (done there or not), frozen
    objects, the environment (the allocator settings, huge pages), and the process
    its warm host work ran in."""

    id = "process-probe"
    name = "Process probe"
    description = "Says what its job process inherited."
    category = "testing"
    preload = ("tests.preload_marker",)
    slots: ClassVar[tuple[InputSlot, ...]] = (
        InputSlot(id="text", kind="text", formats=("text",), label="Text"),
    )

    @classmethod
    def warm_up(cls) -> None:
        from tests import preload_marker

        preload_marker.warmed_up_in = os.getpid()

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        import gc

        marker = sys.modules.get("tests.preload_marker")
        return ToolResult(
            fields={
                "preloaded": marker is not None,
                "warmed_up_in_fork_server": getattr(marker, "warmed_up_in", None) == os.getppid(),
                "frozen_objects": gc.get_freeze_count(),
                "malloc_trim_threshold": os.environ.get("MALLOC_TRIM_THRESHOLD_"),
                "glibc_tunables": os.environ.get("GLIBC_TUNABLES"),
                "warm_up_variable": os.environ.get("PIQ_FORK_SERVER_WARM_UP"),
                "huge_pages_kb": anonymous_huge_pages_kb(64 << 20),
                # which engine's workers ran it, where a test labels its engines
                "engine_label": os.environ.get(ENGINE_LABEL_ENV),
                "job_process": os.getpid(),
                "warm_host": run_warm(context.host_scope, "probing", os.getpid),
            }
        )


def anonymous_huge_pages_kb(size: int) -> int | None:
    """Touch a fresh ``size``-byte buffer, then say how much more of this process's
    memory lies in transparent huge pages than before (None where Linux does not
    say): what the process inherited from the fork server does not count."""
    before = _anonymous_huge_pages_kb()
    buffer = bytearray(size)
    buffer[::4096] = b"\1" * len(range(0, size, 4096))
    after = _anonymous_huge_pages_kb()
    return None if before is None or after is None else after - before


def _anonymous_huge_pages_kb() -> int | None:
    try:
        with open("/proc/self/smaps_rollup", encoding="ascii") as smaps:
            for line in smaps:
                if line.startswith("AnonHugePages:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def huge_pages_on_request() -> bool:
    """Whether this kernel gives transparent huge pages to memory that asks."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled", encoding="ascii") as mode:
            return "[never]" not in mode.read()
    except OSError:
        return False


PROBE_TOOL_PATH = "tests.helpers:ProcessProbe"


class WithoutHugePagesProbe(ProcessProbe):
    """The process probe, as a tool that turns its huge pages off (as Vina does)."""

    id = "process-probe-small-pages"
    huge_pages = False


class ThreadProbeSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    hold: str | None = None


class ThreadProbe(Tool):
    """Reports the threads its job process was given, as a tool sees them: torch's
    (imported by the job, or preloaded into the fork server), the variables
    numerical libraries read, and the run context's. With ``hold`` it reports, then
    waits at a ``Gate`` before its second step, so that jobs can be made to overlap."""

    id = "thread-probe"
    name = "Thread probe"
    description = "Says how many threads its job process may use."
    category = "testing"
    preload = ("torch",)
    slots: ClassVar[tuple[InputSlot, ...]] = (
        InputSlot(id="text", kind="text", formats=("text",), label="Text"),
    )
    settings_model = ThreadProbeSettings

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        assert isinstance(settings, ThreadProbeSettings)
        preloaded = "torch" in sys.modules
        import torch

        fields: JsonDict = {
            "torch_threads": torch.get_num_threads(),
            "torch_preloaded": preloaded,
            "context_threads": context.threads,
            "wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            **{name: os.environ.get(name) for name in THREAD_VARIABLES},
        }
        if settings.hold:
            context.progress(0.5, "measured")
            wait_at_gate(Path(settings.hold), 2)
        return ToolResult(fields=fields)


THREAD_TOOL_PATHS = ("tests.helpers:ThreadProbe", "tests.helpers:WithoutHugePagesProbe")


class PdbEntryServer:
    """A real HTTP server on 127.0.0.1 that answers as the PDB's download service
    does: ``/download/<ID>.pdb`` with the entry's text (gzip-encoded for the ids in
    ``gzipped``), 404 for an id it does not have, and an HTML page under ``/html/``.
    It counts the requests for each path."""

    def __init__(self, entries: dict[str, str], gzipped: frozenset[str] = frozenset()) -> None:
        import gzip
        import http.server
        import threading
        from collections import Counter

        self.hits: Counter[str] = Counter()
        served = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.hits[self.path] += 1
                name = self.path.rsplit("/", 1)[-1].removesuffix(".pdb")
                if self.path.startswith("/html/"):
                    self._answer(200, b"<html><body>Not here</body></html>", "text/html")
                elif self.path.startswith("/download/") and name in entries:
                    body = entries[name].encode()
                    if name in gzipped:
                        self._answer(200, gzip.compress(body), "chemical/x-pdb", "gzip")
                    else:
                        self._answer(200, body, "chemical/x-pdb")
                else:
                    self._answer(404, b"Not Found", "text/plain")

            def _answer(self, code: int, body: bytes, kind: str, encoding: str = "") -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                if encoding:
                    self.send_header("Content-Encoding", encoding)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url_template(self) -> str:
        return f"{self.base}/download/{{id}}.pdb"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
