"""What running a compute tool as a job costs over calling its library directly:
ESMFold and AutoDock Vina on the embedded Dask executor, and Vina's receptor cache.

In one run, on one embedded cluster (a fresh SQLite store and data directory, a
LocalCluster with one single-threaded worker per core), engine start excluded:

* ``esmfold``  - one ESMFold job on a tiny random-weight model (built into a temporary
  directory by ``tests.tools.tiny_esmfold``, found through ``PIQ_ESMFOLD_MODEL``),
  submit to COMPLETED, against the library in this process on the same model and
  sequence: ``EsmForProteinFolding.from_pretrained`` + ``infer_pdb`` (what a job's
  fresh process has to do), and ``infer_pdb`` alone on a loaded model. Both sides use
  the torch thread count a job process gets (read off a probe job first).
* ``vina``     - one Vina job (paracetamol into BACE-1, box from the crystal ligand,
  exhaustiveness 8, fixed seed) whose receptor is already in the cache, against
  ligand preparation + Vina's Python API in this process on the same prepared
  receptor file, box, settings and CPU count.
* ``cache``    - a first job on a receptor (a REMARK line makes its text, and so its
  cache key, new each round: a real preparation) and a second job on the same
  receptor, which must report ``receptor_cached``.

Every path is warmed first, then measured in alternating rounds; medians are
reported. Each job's time is split by the store's own timestamps and its progress
events (dispatch, imports and model load, the tool's work, writing files, the result),
and each round a probe job (``JobProcessProbe``) times the tool's imports and the
direct path's library calls inside a job process, so that the job's extra time can be
split into imports, the job process's environment and the job machinery.

Usage::

    .venv/bin/python benchmarks/tools.py [--rounds 9] [--residues 300] [--esmfold-rounds N]

Results are printed as markdown and written to ``benchmarks/.data/tools.json``.
"""

from __future__ import annotations

# Job processes import this module to find the probe tool: what the benchmark alone
# needs is imported where it is used.
import importlib
import itertools
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import pydantic

from proteiniq_jupyter.jobs.model import JobInput, ToolResult
from proteiniq_jupyter.tools.base import InputSlot, RunContext, Tool

if TYPE_CHECKING:
    import argparse
    from datetime import datetime

    from proteiniq_jupyter.engine import Engine
    from proteiniq_jupyter.execution.dask_executor import DaskExecutor
    from proteiniq_jupyter.jobs.access import Actor
    from proteiniq_jupyter.jobs.model import Job
    from proteiniq_jupyter.tools.vina import Box

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "data"
RECEPTOR_FILE = FIXTURES / "docking" / "BACE_1_receptorH.pdb"
REFERENCE_FILE = FIXTURES / "docking" / "BACE_1_ligand.mol2"
PROBE_PATH = "benchmarks.tools:JobProcessProbe"
RATIO_TARGET = 1.05
#: How often the store is asked whether a job has ended; the time itself is the
#: store's ``finished_at``, so polling adds no error, only a little CPU.
POLL_S = 0.25
LIGAND_SMILES = "CC(=O)Nc1ccc(O)cc1"
LIGAND_NAME = "paracetamol"
VINA_SETTINGS: dict[str, Any] = {"exhaustiveness": 8, "num_poses": 9, "energy_range": 3.0}
VINA_SEED = 42
AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
CREDITS = 1_000_000

Work = Literal["none", "esmfold", "vina"]
#: What each tool's job process imports on its way to the work, in the tool's order.
IMPORTS: dict[str, tuple[str, ...]] = {
    "none": ("torch",),
    "esmfold": ("proteiniq_jupyter.tools.esmfold", "torch", "transformers", "esmfold_model"),
    "vina": ("proteiniq_jupyter.tools.vina", "meeko", "vina"),
}
#: What the Dask nanny sets for its workers (``distributed.nanny.pre-spawn-environ``),
#: which their fork servers and job processes inherit.
NANNY_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "MALLOC_TRIM_THRESHOLD_")
#: What a job process's environment is reported for: those, the C library's
#: tunables (the fork server asks for huge pages) and OpenMP's wait policy.
JOB_VARIABLES = (*NANNY_VARIABLES, "GLIBC_TUNABLES", "OMP_WAIT_POLICY")


class ProbeSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    work: Work = "none"
    #: The prepared receptor for ``work="vina"``; the input's text is the sequence
    #: for ``work="esmfold"``.
    receptor_pdbqt: str | None = None
    #: torch's threads for ``work="esmfold"``, in place of the job's thread budget.
    threads: int | None = None


class JobProcessProbe(Tool):
    """Runs in a job process what the benchmark runs directly: a tool's imports, then
    its library path (``work``), each timed there; and reports what the process gets:
    its thread budget, torch threads, the variables Dask's nanny sets, the CPUs Vina
    would use.

    It separates a job's extra time into imports, the job process's own environment
    (the same library calls, slower or not there) and the job machinery."""

    id = "bench-job-process-probe"
    name = "Job process probe"
    description = "Times imports and library calls inside a job process; for benchmarks."
    category = "testing"
    slots: ClassVar[tuple[InputSlot, ...]] = (
        InputSlot(id="text", kind="text", formats=("text",), label="Text"),
    )
    settings_model = ProbeSettings

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        assert isinstance(settings, ProbeSettings)
        fields: dict[str, Any] = {"pid": os.getpid()}
        for name in IMPORTS[settings.work]:
            started = time.perf_counter()
            if name == "esmfold_model":  # transformers imports its models lazily
                from transformers import EsmForProteinFolding, EsmTokenizer  # noqa: F401
            else:
                importlib.import_module(name)
            fields[f"import_{name}_s"] = time.perf_counter() - started
        fields["imports_s"] = sum(v for k, v in fields.items() if k.startswith("import_"))
        if settings.work == "esmfold":
            import torch

            from proteiniq_jupyter.tools.esmfold import model_location

            if settings.threads is not None:
                torch.set_num_threads(settings.threads)
            fields["torch_threads"] = torch.get_num_threads()
            load, fold = direct_load_and_fold(Path(model_location()), inputs[0].content.strip())
            fields.update(library_load_s=load, library_fold_s=fold, library_s=load + fold)
        elif settings.work == "vina":
            import resource

            from proteiniq_jupyter.execution.cpu import without_huge_pages
            from proteiniq_jupyter.tools.vina import VinaSettings, vina_cpus

            assert settings.receptor_pdbqt is not None
            without_huge_pages()  # as the Vina tool's jobs run
            cpu = vina_cpus(context.threads, VinaSettings(**VINA_SETTINGS))
            before = resource.getrusage(resource.RUSAGE_SELF)
            ligand, docking, best = direct_vina(Path(settings.receptor_pdbqt), reference_box(), cpu)
            after = resource.getrusage(resource.RUSAGE_SELF)
            fields.update(
                library_ligand_s=ligand,
                library_docking_s=docking,
                library_s=ligand + docking,
                library_best_affinity=best,
                library_cpu=cpu,
                # Kernel time in a fresh process: page faults and the clearing of pages.
                library_user_cpu_s=after.ru_utime - before.ru_utime,
                library_system_cpu_s=after.ru_stime - before.ru_stime,
            )
        else:
            import gc

            import torch

            from proteiniq_jupyter.tools.vina import available_cpus

            fields.update(
                thread_budget=context.threads,
                torch_threads=torch.get_num_threads(),
                torch_interop_threads=torch.get_num_interop_threads(),
                available_cpus=available_cpus(),
                frozen_objects=gc.get_freeze_count(),
                **{f"env_{name}": os.environ.get(name) for name in JOB_VARIABLES},
            )
        return ToolResult(fields=fields)


def text_input(label: str) -> JobInput:
    return JobInput(id="text_1", slot_id="text", kind="text", format="text", content=label)


# -- jobs --------------------------------------------------------------------------

#: Each tool's phases, from the store's timestamps and its progress messages: a phase
#: runs from a mark whose message matches the pattern (``re.match``) to the next one
#: that matches another; a message matching none continues the phase before it.
ESMFOLD_PHASES = (
    ("submitted$", "submit -> PROCESSING (dispatch, process start)"),
    ("PROCESSING$", "PROCESSING -> run starts"),
    ("(loading|using) the ESMFold model", "imports (torch, transformers) + model load"),
    ("folding", "fold"),
    ("writing the structure", "write PDB + PAE JSON, rows"),
    ("done$", "result -> COMPLETED"),
)
VINA_PHASES = (
    ("submitted$", "submit -> PROCESSING (dispatch, process start)"),
    ("PROCESSING$", "PROCESSING -> inputs checked"),
    ("inputs checked|ligand", "ligand preparation"),
    ("preparing the receptor", "receptor: cache lookup or preparation"),
    # "receptor from the cache" may fall within 50 ms of the ligand's mark and never
    # reach the store; the docking's own estimate marks its start then.
    ("receptor |docking", "docking"),
    (r"\d+ poses;", "poses to RDKit, SDF, complex PDB"),
    ("done$", "result -> COMPLETED"),
)


@dataclass
class JobRun:
    """One job: submit to COMPLETED, and how that time splits."""

    seconds: float
    submit_call_s: float
    job: Job
    phases: dict[str, float] = field(default_factory=dict)


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def split_phases(
    engine: Engine, actor: Actor, job: Job, phases: Sequence[tuple[str, str]]
) -> dict[str, float]:
    """Seconds per phase: the store's created/started/finished times and the
    progress events between them (written as the job's process reports them)."""
    assert job.started_at is not None and job.finished_at is not None
    marks: list[tuple[str, datetime]] = [
        ("submitted", _aware(job.created_at)),
        ("PROCESSING", _aware(job.started_at)),
    ]
    for event in engine.service.events(actor, job.id):
        message = event.data.get("progress_message")
        if event.kind == "progress" and message:
            marks.append((str(message), _aware(event.created_at)))
    marks.append(("COMPLETED", _aware(job.finished_at)))
    split = {label: 0.0 for _, label in phases}
    label = phases[0][1]
    for (message, start), (_, end) in itertools.pairwise(marks):
        label = next((lab for pattern, lab in phases if re.match(pattern, message)), label)
        split[label] += (end - start).total_seconds()
    return split


def run_job(
    engine: Engine,
    actor: Actor,
    tool_id: str,
    inputs: list[JobInput],
    settings: dict[str, Any],
    phases: Sequence[tuple[str, str]] = (),
) -> JobRun:
    """Submit one job and wait for it; its time runs from the call to ``submit``
    to the store's ``finished_at`` (written when the job became COMPLETED)."""
    from datetime import UTC, datetime

    from proteiniq_jupyter.jobs.status import JobStatus

    wall_start = datetime.now(UTC)
    started = time.perf_counter()
    job = engine.service.submit(actor, tool_id, inputs, settings)
    submit_call_s = time.perf_counter() - started
    while True:
        state = engine.service.runs.job_state(job.id)
        if state is not None and state[0].is_terminal:
            break
        time.sleep(POLL_S)
    done = engine.service.runs.job_for_run(job.id)
    if done.status is not JobStatus.COMPLETED or done.finished_at is None:
        raise RuntimeError(f"{tool_id} job {job.id} ended as {done.status}: {done.error}")
    seconds = (_aware(done.finished_at) - wall_start).total_seconds()
    split = split_phases(engine, actor, done, phases) if phases else {}
    return JobRun(seconds, submit_call_s, done, split)


def result_fields(run: JobRun) -> dict[str, Any]:
    assert run.job.result is not None
    return dict(run.job.result.fields)


def run_together(
    engine: Engine, actor: Actor, tool_id: str, inputs: list[JobInput], settings: dict[str, Any]
) -> None:
    """One job per worker at once, so that every worker (its fork server, its first
    requirements check, its imports) has run the tool before anything is timed."""
    jobs = [
        engine.service.submit(actor, tool_id, inputs, settings) for _ in range(worker_count(engine))
    ]
    for job in jobs:
        while not (state := engine.service.runs.job_state(job.id)) or not state[0].is_terminal:
            time.sleep(POLL_S)
        if str(state[0]) != "COMPLETED":
            raise RuntimeError(f"warm-up {tool_id} job {job.id} ended as {state}")


def worker_count(engine: Engine[DaskExecutor]) -> int:
    from benchmarks.dispatch import dask_client

    return len(dask_client(engine).scheduler_info(n_workers=-1)["workers"])


T = TypeVar("T")


def with_cpu(engine: Engine, into: list[float], step: Callable[[], T]) -> T:
    """Run ``step``, adding to ``into`` the CPU seconds every process of the
    cluster used meanwhile (this one, the workers and the job processes they reaped):
    with other work on the machine, CPU varies less than wall time."""
    from benchmarks.dispatch import cluster_cpu_s

    before = cluster_cpu_s(engine)
    result = step()
    into.append(cluster_cpu_s(engine) - before)
    return result


def probe(
    engine: Engine,
    actor: Actor,
    work: Work,
    text: str = "probe",
    receptor: Path | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """The probe's report from a job process of its own."""
    settings: dict[str, Any] = {"work": work}
    if receptor is not None:
        settings["receptor_pdbqt"] = str(receptor)
    if threads is not None:
        settings["threads"] = threads
    return result_fields(run_job(engine, actor, JobProcessProbe.id, [text_input(text)], settings))


# -- ESMFold -------------------------------------------------------------------------


def test_sequence(residues: int) -> str:
    """A fixed pseudo-random sequence: the same in every run."""
    import random

    chooser = random.Random(0)
    return "".join(chooser.choice(AMINO_ACIDS) for _ in range(residues))


def esmfold_input(sequence: str) -> JobInput:
    return JobInput(
        id="sequence_1",
        slot_id="sequence",
        kind="protein",
        format="fasta",
        content=f">bench{len(sequence)}\n{sequence}\n",
    )


def direct_load_and_fold(model_dir: Path, sequence: str) -> tuple[float, float]:
    """(load, fold) seconds: the model read from disk as a job's fresh process
    must, then ``infer_pdb``."""
    from transformers import EsmForProteinFolding

    started = time.perf_counter()
    model = EsmForProteinFolding.from_pretrained(str(model_dir))
    loaded = time.perf_counter()
    pdb = model.infer_pdb(sequence)
    finished = time.perf_counter()
    if pdb.count(" CA ") != len(sequence):
        raise RuntimeError("infer_pdb did not give one CA per residue")
    return loaded - started, finished - loaded


def direct_fold(model: Any, sequence: str) -> float:
    started = time.perf_counter()
    model.infer_pdb(sequence)
    return time.perf_counter() - started


# -- Vina ----------------------------------------------------------------------------


def vina_inputs(receptor: str) -> list[JobInput]:
    return [
        JobInput(
            id="receptor_1",
            slot_id="receptor",
            kind="structure",
            format="pdb",
            content=receptor,
            label=RECEPTOR_FILE.name,
        ),
        JobInput(
            id="ligands_1",
            slot_id="ligands",
            kind="ligand",
            format="smiles",
            content=f"{LIGAND_SMILES} {LIGAND_NAME}\n",
        ),
        JobInput(
            id="reference_ligand_1",
            slot_id="reference_ligand",
            kind="ligand",
            format="mol2",
            content=REFERENCE_FILE.read_text(encoding="utf-8"),
            label=REFERENCE_FILE.name,
        ),
    ]


def vina_job_settings() -> dict[str, Any]:
    return {**VINA_SETTINGS, "seed": VINA_SEED}


def reference_box() -> Box:
    """The box the tool makes around the crystal ligand, with its default padding."""
    from proteiniq_jupyter.tools.vina import Box, VinaSettings, reference_points

    reference = vina_inputs("")[2]
    return Box.around(reference_points(reference, 2), VinaSettings().padding)


def direct_vina(receptor_pdbqt: Path, box: Box, cpu: int) -> tuple[float, float, float]:
    """(ligand preparation, docking) seconds and the best affinity: meeko for the
    ligand, then Vina's Python API on the prepared receptor file."""
    from vina import Vina  # type: ignore[import-untyped, unused-ignore]

    from proteiniq_jupyter.tools.vina import prepare_ligand

    started = time.perf_counter()
    ligand = prepare_ligand(LIGAND_SMILES, name=LIGAND_NAME)
    prepared = time.perf_counter()
    vina = Vina(sf_name="vina", cpu=cpu, seed=VINA_SEED, verbosity=0)
    vina.set_receptor(str(receptor_pdbqt))
    vina.set_ligand_from_string(ligand)
    vina.compute_vina_maps(center=list(box.center), box_size=list(box.size))
    vina.dock(exhaustiveness=VINA_SETTINGS["exhaustiveness"], n_poses=VINA_SETTINGS["num_poses"])
    vina.poses(n_poses=VINA_SETTINGS["num_poses"], energy_range=VINA_SETTINGS["energy_range"])
    finished = time.perf_counter()
    best = float(
        vina.energies(
            n_poses=VINA_SETTINGS["num_poses"], energy_range=VINA_SETTINGS["energy_range"]
        )[0][0]
    )
    return prepared - started, finished - prepared, best


# -- the run -------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    import statistics

    return statistics.median(values) if values else float("nan")


def median_phases(runs: Sequence[JobRun]) -> dict[str, float]:
    labels = dict.fromkeys(label for run in runs for label in run.phases)
    return {label: median([run.phases.get(label, 0.0) for run in runs]) for label in labels}


def alternate(rounds: int, steps: Sequence[Callable[[], None]], what: str) -> None:
    """Run ``steps`` ``rounds`` times, in reverse order every other round."""
    import sys

    for r in range(rounds):
        order = list(steps) if r % 2 == 0 else list(reversed(steps))
        started = time.perf_counter()
        for step in order:
            step()
        print(f"{what} round {r + 1}: {time.perf_counter() - started:.1f} s", file=sys.stderr)


def require_fixtures() -> None:
    missing = [str(p) for p in (RECEPTOR_FILE, REFERENCE_FILE) if not p.is_file()]
    if missing:
        raise SystemExit(
            f"the Vina benchmark needs the BACE-1 pair, missing: {', '.join(missing)}; "
            f"the repository keeps it in {FIXTURES / 'docking'}"
        )


def versions() -> dict[str, str]:
    from importlib.metadata import version

    found = {}
    for name in ("torch", "transformers", "vina", "meeko", "rdkit", "distributed"):
        try:
            found[name] = version(name)
        except Exception:
            found[name] = "?"
    return found


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import platform
    import sys
    import tempfile
    from datetime import UTC, datetime

    import dask
    import torch
    from transformers import EsmForProteinFolding
    from transformers.utils import logging as transformers_logging

    from proteiniq_jupyter.config import EngineConfig
    from proteiniq_jupyter.engine import open_dask_engine
    from proteiniq_jupyter.store.database import sqlite_url
    from proteiniq_jupyter.tools.esmfold import MODEL_ENV
    from proteiniq_jupyter.tools.vina import VinaSettings, prepare_receptor, vina_cpus
    from tests.tools.tiny_esmfold import build_tiny_esmfold

    require_fixtures()
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    sequence = test_sequence(args.residues)
    receptor = RECEPTOR_FILE.read_text(encoding="utf-8")
    box = reference_box()
    default_threads = torch.get_num_threads()
    started_at = datetime.now(UTC)

    with tempfile.TemporaryDirectory(prefix="piq-tools-") as tmp:
        model_dir = build_tiny_esmfold(Path(tmp) / "tiny-esmfold")
        # Before the cluster starts: its workers, and the job processes they fork,
        # find the model through the environment they inherit.
        os.environ[MODEL_ENV] = str(model_dir)
        data_dir = Path(tmp) / "piq"
        config = EngineConfig(
            data_dir=data_dir,
            database_url=sqlite_url(data_dir / "piq.sqlite"),
            username="bench",
            executor="dask",
            extra_tools=(PROBE_PATH,),
            # What a deployment that runs these tools sets: each worker imports their
            # libraries once, rather than every job importing them again.
            preload_tools=() if args.no_preload else ("esmfold", "autodock-vina"),
        )
        engine = open_dask_engine(config)
        try:
            actor = engine.actor()
            engine.service.grant_credits(actor, CREDITS, note="tools benchmark")

            # -- warm-up: cluster, both fork servers, imports here, page cache --------
            run_together(engine, actor, JobProcessProbe.id, [text_input("warm")], {})
            job_process = probe(engine, actor, "none")
            # A job alone gets every CPU the worker may use as its thread budget (in
            # place of the OMP_NUM_THREADS=1 Dask's nanny gives its workers); the
            # direct paths here use the same torch threads and Vina CPUs.
            job_threads = int(job_process["torch_threads"])
            if job_threads != job_process["thread_budget"]:
                raise RuntimeError(
                    f"a job process's torch threads are not its budget: {job_process}"
                )
            vina_cpu = vina_cpus(job_threads, VinaSettings(**VINA_SETTINGS))
            torch.set_num_threads(job_threads)

            esm_inputs = [esmfold_input(sequence)]
            run_together(engine, actor, "esmfold", esm_inputs, {})
            direct_load_and_fold(model_dir, sequence)
            loaded_model = EsmForProteinFolding.from_pretrained(str(model_dir))
            direct_fold(loaded_model, sequence)

            receptor_pdbqt = Path(tmp) / "receptor.pdbqt"
            receptor_pdbqt.write_text(prepare_receptor(receptor), encoding="utf-8")
            run_together(
                engine, actor, "autodock-vina", vina_inputs(receptor), {"exhaustiveness": 1}
            )
            base = run_job(
                engine, actor, "autodock-vina", vina_inputs(receptor), vina_job_settings()
            )
            job_receptor = engine.service.files.job_dir(base.job.id) / "receptor.pdbqt"
            if job_receptor.read_text(encoding="utf-8") != receptor_pdbqt.read_text("utf-8"):
                raise RuntimeError("the job's prepared receptor differs from this process's")
            direct_vina(receptor_pdbqt, box, vina_cpu)
            job_box = result_fields(base)
            if (job_box["box_center_x"], job_box["box_size_x"]) != (box.center[0], box.size[0]):
                raise RuntimeError(f"the job's box differs from {box}: {job_box}")

            load_at_start = os.getloadavg()
            timed_from = time.perf_counter()

            # -- ESMFold --------------------------------------------------------------
            esm_jobs: list[JobRun] = []
            esm_direct: list[tuple[float, float]] = []
            esm_fold_only: list[float] = []
            esm_fold_default: list[float] = []
            esm_probes: list[dict[str, Any]] = []
            esm_probes_one_thread: list[dict[str, Any]] = []
            vina_probes: list[dict[str, Any]] = []
            cpu: dict[str, list[float]] = {
                name: []
                for name in (
                    "esmfold_job",
                    "esmfold_direct",
                    "esmfold_fold_only",
                    "vina_job",
                    "vina_direct",
                    "vina_first_job",
                    "vina_second_job",
                )
            }

            def fold_at_default_threads() -> None:
                torch.set_num_threads(default_threads)
                try:
                    esm_fold_default.append(direct_fold(loaded_model, sequence))
                finally:
                    torch.set_num_threads(job_threads)

            alternate(
                args.rounds if args.esmfold_rounds is None else args.esmfold_rounds,
                [
                    lambda: esm_jobs.append(
                        with_cpu(
                            engine,
                            cpu["esmfold_job"],
                            lambda: run_job(
                                engine, actor, "esmfold", esm_inputs, {}, ESMFOLD_PHASES
                            ),
                        )
                    ),
                    lambda: esm_direct.append(
                        with_cpu(
                            engine,
                            cpu["esmfold_direct"],
                            lambda: direct_load_and_fold(model_dir, sequence),
                        )
                    ),
                    lambda: esm_fold_only.append(
                        with_cpu(
                            engine,
                            cpu["esmfold_fold_only"],
                            lambda: direct_fold(loaded_model, sequence),
                        )
                    ),
                    fold_at_default_threads,
                    lambda: esm_probes.append(probe(engine, actor, "esmfold", sequence)),
                    # What a job got before it had a thread budget: one torch thread.
                    lambda: esm_probes_one_thread.append(
                        probe(engine, actor, "esmfold", sequence, threads=1)
                    ),
                ],
                "esmfold",
            )

            # -- Vina and its receptor cache -----------------------------------------
            vina_jobs: list[JobRun] = []
            vina_direct: list[tuple[float, float, float]] = []
            first_jobs: list[JobRun] = []
            second_jobs: list[JobRun] = []
            run_tag = started_at.strftime("%Y%m%dT%H%M%S")

            def cache_pair() -> None:
                # A new first line: the same receptor to meeko, a new cache key.
                variant = f"REMARK 999 benchmark {run_tag} round {len(first_jobs)}\n{receptor}"
                inputs = vina_inputs(variant)
                for into, cpu_into in (
                    (first_jobs, cpu["vina_first_job"]),
                    (second_jobs, cpu["vina_second_job"]),
                ):
                    into.append(
                        with_cpu(
                            engine,
                            cpu_into,
                            lambda: run_job(
                                engine,
                                actor,
                                "autodock-vina",
                                inputs,
                                vina_job_settings(),
                                VINA_PHASES,
                            ),
                        )
                    )
                if result_fields(first_jobs[-1])["receptor_cached"] is not False:
                    raise RuntimeError("the first job on a new receptor found it in the cache")
                if result_fields(second_jobs[-1])["receptor_cached"] is not True:
                    raise RuntimeError("the second job on the same receptor missed the cache")

            alternate(
                args.rounds,
                [
                    lambda: vina_jobs.append(
                        with_cpu(
                            engine,
                            cpu["vina_job"],
                            lambda: run_job(
                                engine,
                                actor,
                                "autodock-vina",
                                vina_inputs(receptor),
                                vina_job_settings(),
                                VINA_PHASES,
                            ),
                        )
                    ),
                    lambda: vina_direct.append(
                        with_cpu(
                            engine,
                            cpu["vina_direct"],
                            lambda: direct_vina(receptor_pdbqt, box, vina_cpu),
                        )
                    ),
                    cache_pair,
                    lambda: vina_probes.append(
                        probe(engine, actor, "vina", receptor=receptor_pdbqt)
                    ),
                ],
                "vina",
            )
            timed_s = time.perf_counter() - timed_from
            load_at_end = os.getloadavg()
        finally:
            engine.close()

    for run in vina_jobs:
        if result_fields(run)["receptor_cached"] is not True:
            raise RuntimeError(f"Vina job {run.job.id} did not use the cached receptor")

    esm_job_s = [run.seconds for run in esm_jobs]
    esm_direct_s = [load + fold for load, fold in esm_direct]
    vina_job_s = [run.seconds for run in vina_jobs]
    vina_direct_s = [ligand + docking for ligand, docking, _ in vina_direct]
    first_s = [run.seconds for run in first_jobs]
    second_s = [run.seconds for run in second_jobs]
    job_affinities = [result_fields(run)["best_affinity"] for run in vina_jobs]
    direct_affinities = [best for _, _, best in vina_direct]
    return {
        "date": started_at.isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "versions": versions(),
            # Other work on the machine skews every number: the load averages
            # (1, 5, 15 minutes) when the timed part began and ended.
            "load_at_start": load_at_start,
            "load_at_end": load_at_end,
            "timed_s": timed_s,
        },
        "setup": {
            "store": "sqlite (fresh, temporary directory)",
            "executor": "dask (embedded LocalCluster, 1 thread per worker)",
            "rounds": args.rounds,
            "esmfold_rounds": args.rounds if args.esmfold_rounds is None else args.esmfold_rounds,
            "residues": args.residues,
            "torch_threads_here_default": default_threads,
            "torch_threads_used": job_threads,
            "vina_cpu": vina_cpu,
            "vina_settings": vina_job_settings(),
            "box": {"center": box.center, "size": box.size},
            "job_process": job_process,
            "nanny_pre_spawn_environ": dask.config.get("distributed.nanny.pre-spawn-environ"),
            "python_executable": sys.executable,
        },
        # CPU seconds of every process of the cluster per measurement (rounds).
        "cpu_s": cpu,
        "cpu_median_s": {name: median(values) for name, values in cpu.items()},
        "esmfold": {
            "job_s": esm_job_s,
            "job_submit_call_s": [run.submit_call_s for run in esm_jobs],
            "job_phases": [run.phases for run in esm_jobs],
            "job_phases_median_s": median_phases(esm_jobs),
            "direct_load_s": [load for load, _ in esm_direct],
            "direct_fold_s": [fold for _, fold in esm_direct],
            "direct_s": esm_direct_s,
            "fold_only_s": esm_fold_only,
            "fold_only_default_threads_s": esm_fold_default,
            "job_median_s": median(esm_job_s),
            "direct_median_s": median(esm_direct_s),
            "fold_only_median_s": median(esm_fold_only),
            "fold_only_default_threads_median_s": median(esm_fold_default),
            "ratio": median(esm_job_s) / median(esm_direct_s),
            "ratio_interval_95": ratio_interval(esm_job_s, esm_direct_s),
            "paired_ratios": paired_ratios(esm_job_s, esm_direct_s),
            "ratio_fold_only": median(esm_job_s) / median(esm_fold_only),
            "ratio_target": RATIO_TARGET,
            "mean_plddt": [result_fields(run)["mean_plddt"] for run in esm_jobs],
            # The same imports and library calls, timed inside a job process: at
            # the job's thread budget, and at one thread.
            "in_job_process": in_job_process(esm_probes),
            "in_job_process_one_thread": in_job_process(esm_probes_one_thread),
            "thread_budget_gain": thread_budget_gain(esm_probes_one_thread, esm_probes),
        },
        "vina": {
            "job_s": vina_job_s,
            "job_submit_call_s": [run.submit_call_s for run in vina_jobs],
            "job_phases": [run.phases for run in vina_jobs],
            "job_phases_median_s": median_phases(vina_jobs),
            "direct_ligand_s": [ligand for ligand, _, _ in vina_direct],
            "direct_docking_s": [docking for _, docking, _ in vina_direct],
            "direct_s": vina_direct_s,
            "job_median_s": median(vina_job_s),
            "direct_median_s": median(vina_direct_s),
            "ratio": median(vina_job_s) / median(vina_direct_s),
            "ratio_interval_95": ratio_interval(vina_job_s, vina_direct_s),
            "paired_ratios": paired_ratios(vina_job_s, vina_direct_s),
            "ratio_target": RATIO_TARGET,
            "job_best_affinity": job_affinities,
            "direct_best_affinity": direct_affinities,
            "in_job_process": in_job_process(vina_probes),
        },
        "cache": {
            "first_s": first_s,
            "second_s": second_s,
            "first_phases_median_s": median_phases(first_jobs),
            "second_phases_median_s": median_phases(second_jobs),
            "first_median_s": median(first_s),
            "second_median_s": median(second_s),
            "ratio_first_to_second": median(first_s) / median(second_s),
            "second_cached": [result_fields(run)["receptor_cached"] for run in second_jobs],
        },
    }


def thread_budget_gain(
    one_thread: Sequence[dict[str, Any]], budgeted: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The fold in a job process at one torch thread against the same fold at the
    job's thread budget (median seconds, and one-thread / budgeted)."""
    slow = median([float(p["library_fold_s"]) for p in one_thread])
    fast = median([float(p["library_fold_s"]) for p in budgeted])
    return {
        "threads": [p.get("torch_threads") for p in budgeted],
        "one_thread_fold_median_s": slow,
        "budgeted_fold_median_s": fast,
        "gain": slow / fast,
        "gain_interval_95": ratio_interval(
            [float(p["library_fold_s"]) for p in one_thread],
            [float(p["library_fold_s"]) for p in budgeted],
        ),
    }


def ratio_interval(
    job_s: Sequence[float], direct_s: Sequence[float], resamples: int = 2000
) -> tuple[float, float]:
    """A 95% interval for median(job) / median(direct): the rounds resampled with
    replacement, each round's job and direct run together (a fixed seed, so a run's
    report can be reproduced from its JSON). On a machine whose speed drifts, it
    says how far a ratio can be trusted."""
    import random

    chooser = random.Random(0)
    rounds = range(len(job_s))
    ratios = []
    for _ in range(resamples):
        picked = [chooser.choice(rounds) for _ in rounds]
        ratios.append(median([job_s[i] for i in picked]) / median([direct_s[i] for i in picked]))
    ratios.sort()
    return ratios[int(0.025 * resamples)], ratios[int(0.975 * resamples) - 1]


def paired_ratios(job_s: Sequence[float], direct_s: Sequence[float]) -> list[float]:
    """Job / direct within each round: the two ran next to each other, so a slow
    spell of the machine weighs on both."""
    return [job / direct for job, direct in zip(job_s, direct_s, strict=True)]


def in_job_process(probes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-round and median values of the probe's timings (keys ending in ``_s``)."""
    keys = [k for k in probes[0] if k.endswith("_s")] if probes else []
    rounds = {k: [float(p[k]) for p in probes] for k in keys}
    return {"rounds": rounds, "median_s": {k: median(v) for k, v in rounds.items()}}


def seconds_list(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def verdict(ratio: float) -> str:
    return "met" if ratio <= RATIO_TARGET else "**missed**"


def phase_table(title: str, columns: dict[str, dict[str, float]]) -> list[str]:
    names = list(columns)
    labels = list(dict.fromkeys(label for phases in columns.values() for label in phases))
    lines = [
        f"| {title} | {' | '.join(names)} |",
        f"|---|{'---:|' * len(names)}",
    ]
    for label in labels:
        cells = " | ".join(f"{columns[n].get(label, 0.0):.3f}" for n in names)
        lines.append(f"| {label} | {cells} |")
    return lines


def row(
    name: str,
    wall: Sequence[float],
    cpu: Sequence[float],
    over: tuple[Sequence[float], Sequence[float]] | None = None,
    *,
    target: bool = False,
) -> str:
    """A table row; with ``over``, the ratios of those (wall, CPU) medians to these."""
    cells = [name, f"{median(wall):.2f}", seconds_list(wall), f"{median(cpu):.2f}" if cpu else ""]
    if over is None:
        cells += ["", "", ""]
    else:
        ratio = median(over[0]) / median(wall)
        cells += [f"{ratio:.2f}", f"{median(over[1]) / median(cpu):.2f}"]
        cells.append(f"<= {RATIO_TARGET}: {verdict(ratio)}" if target else "")
    return "| " + " | ".join(cells) + " |"


def gap_table(esm: dict[str, Any], vina: dict[str, Any]) -> list[str]:
    """Job minus direct (medians), split by the probe: the tool's imports in a job
    process, the same library calls there against here, and what is left (the job
    machinery: dispatch, input checks, tool code around the library, files, result;
    for Vina, less what its warm host saves over the probe's new process)."""
    lines = [
        "| job - direct (median s) | ESMFold | Vina |",
        "|---|---:|---:|",
    ]
    parts: dict[str, list[float]] = {}
    for tool in (esm, vina):
        probe_s = tool["in_job_process"]["median_s"]
        gap = tool["job_median_s"] - tool["direct_median_s"]
        environment = probe_s["library_s"] - tool["direct_median_s"]
        values = {
            "job - direct": gap,
            "imports in the job process (probe)": probe_s["imports_s"],
            "same library calls, job process - here (probe)": environment,
            "rest: job machinery and tool code (Vina: less its warm host's gain)": gap
            - probe_s["imports_s"]
            - environment,
        }
        for name, value in values.items():
            parts.setdefault(name, []).append(value)
    for name, (esm_value, vina_value) in parts.items():
        lines.append(f"| {name} | {esm_value:.2f} | {vina_value:.2f} |")
    return lines


def budget_lines(esm: dict[str, Any], vina: dict[str, Any]) -> list[str]:
    """The thread budget's gain for a CPU fold, and Vina's CPU time in a job process."""
    gain = esm["thread_budget_gain"]
    low, high = gain["gain_interval_95"]
    vina_probe = vina["in_job_process"]["median_s"]
    return [
        f"Thread budget: the fold (`infer_pdb`, probe in a job process) took "
        f"{gain['one_thread_fold_median_s']:.2f} s at 1 torch thread and "
        f"{gain['budgeted_fold_median_s']:.2f} s at the job's budget "
        f"({', '.join(map(str, sorted(set(gain['threads']))))} threads): "
        f"**{gain['gain']:.2f}x** (95% interval {low:.2f}-{high:.2f}).",
        f"Vina's docking in a job process (probe, no huge pages as the tool's jobs): user "
        f"CPU {vina_probe['library_user_cpu_s']:.2f} s, system CPU "
        f"{vina_probe['library_system_cpu_s']:.2f} s.",
    ]


def report(results: dict[str, Any]) -> str:
    esm, vina, cache, setup = (
        results["esmfold"],
        results["vina"],
        results["cache"],
        results["setup"],
    )
    machine = results["machine"]
    cpu = results["cpu_s"]
    process = setup["job_process"]
    esm_probe, vina_probe = esm["in_job_process"]["median_s"], vina["in_job_process"]["median_s"]
    lines = [
        f"{results['date']}; {machine['cpus']} CPUs ({machine['cpu_model']}), Python "
        f"{machine['python']}, "
        + ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
        + f"; load average {machine['load_at_start'][0]:.2f} -> {machine['load_at_end'][0]:.2f}; "
        f"timed part {machine['timed_s']:.0f} s",
        "",
        f"Job process (alone on the cluster): thread budget {process['thread_budget']}, torch "
        f"threads {process['torch_threads']} (interop {process['torch_interop_threads']}), "
        f"OMP_NUM_THREADS={process['env_OMP_NUM_THREADS']}, "
        f"CPUs {process['available_cpus']}; here torch defaults to "
        f"{setup['torch_threads_here_default']} threads: both sides use "
        f"{setup['torch_threads_used']}. Vina cpu={setup['vina_cpu']} on both sides.",
        f"In the job process: MALLOC_TRIM_THRESHOLD_={process['env_MALLOC_TRIM_THRESHOLD_']}, "
        f"GLIBC_TUNABLES={process['env_GLIBC_TUNABLES']}, "
        f"OMP_WAIT_POLICY={process['env_OMP_WAIT_POLICY']}, "
        f"{process['frozen_objects']:,} objects frozen by the fork server.",
        "",
        "In a job process (probe, medians): ESMFold's imports "
        f"{esm_probe['imports_s']:.2f} s (torch {esm_probe['import_torch_s']:.2f}, "
        f"transformers {esm_probe['import_transformers_s']:.2f}, its ESM model classes "
        f"{esm_probe['import_esmfold_model_s']:.2f}), then load "
        f"{esm_probe['library_load_s']:.2f} + infer_pdb {esm_probe['library_fold_s']:.2f} s; "
        f"Vina's imports {vina_probe['imports_s']:.2f} s (tool module with RDKit "
        f"{vina_probe['import_proteiniq_jupyter.tools.vina_s']:.2f}, meeko "
        f"{vina_probe['import_meeko_s']:.2f}), then ligand "
        f"{vina_probe['library_ligand_s']:.2f} + docking {vina_probe['library_docking_s']:.2f} s.",
        "",
        *gap_table(esm, vina),
        "",
        *budget_lines(esm, vina),
        "",
        f"Median of {setup['rounds']} alternating rounds; wall seconds, and CPU seconds "
        "of every process of the cluster:",
        "",
        "| measurement | wall (s) | rounds (s) | CPU (s) | wall ratio | CPU ratio | target |",
        "|---|---:|---|---:|---:|---:|---|",
        row(
            f"ESMFold job, {setup['residues']} residues, submit -> COMPLETED",
            esm["job_s"],
            cpu["esmfold_job"],
        ),
        row(
            "direct: from_pretrained + infer_pdb",
            esm["direct_s"],
            cpu["esmfold_direct"],
            (esm["job_s"], cpu["esmfold_job"]),
            target=True,
        ),
        row(
            "direct: infer_pdb alone",
            esm["fold_only_s"],
            cpu["esmfold_fold_only"],
            (esm["job_s"], cpu["esmfold_job"]),
        ),
        row(
            f"(infer_pdb alone, {setup['torch_threads_here_default']} torch threads)",
            esm["fold_only_default_threads_s"],
            [],
        ),
        row("Vina job, cached receptor", vina["job_s"], cpu["vina_job"]),
        row(
            "direct: ligand prep + Vina API",
            vina["direct_s"],
            cpu["vina_direct"],
            (vina["job_s"], cpu["vina_job"]),
            target=True,
        ),
        row("Vina first job on a receptor (prepares it)", cache["first_s"], cpu["vina_first_job"]),
        row(
            f"Vina second job (cached: {all(cache['second_cached'])}); ratio first / second",
            cache["second_s"],
            cpu["vina_second_job"],
            (cache["first_s"], cpu["vina_first_job"]),
        ),
        "",
        "95% intervals of the job / direct ratios (rounds resampled): ESMFold "
        f"{esm['ratio_interval_95'][0]:.2f}-{esm['ratio_interval_95'][1]:.2f}, Vina "
        f"{vina['ratio_interval_95'][0]:.2f}-{vina['ratio_interval_95'][1]:.2f}.",
        "",
        "Job / direct within each round (the two run next to each other): ESMFold "
        f"{seconds_list(esm['paired_ratios'])} (median {median(esm['paired_ratios']):.2f}); "
        f"Vina {seconds_list(vina['paired_ratios'])} (median {median(vina['paired_ratios']):.2f}).",
        "",
        f"Direct ESMFold load {median(esm['direct_load_s']):.3f} s + fold "
        f"{median(esm['direct_fold_s']):.3f} s; direct Vina ligand "
        f"{median(vina['direct_ligand_s']):.3f} s + docking "
        f"{median(vina['direct_docking_s']):.3f} s. "
        f"Best affinity job {vina['job_best_affinity']}, direct {vina['direct_best_affinity']}.",
        "",
        *phase_table("ESMFold job phase (median s)", {"job": esm["job_phases_median_s"]}),
        "",
        *phase_table(
            "Vina job phase (median s)",
            {
                "cached job": vina["job_phases_median_s"],
                "first job": cache["first_phases_median_s"],
                "second job": cache["second_phases_median_s"],
            },
        ),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    from checkout import use_checkout, write_results  # beside this script

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=9, help="alternating rounds per path")
    parser.add_argument("--residues", type=int, default=300, help="ESMFold sequence length")
    parser.add_argument(
        "--esmfold-rounds",
        type=int,
        help="rounds of the ESMFold steps (default: --rounds); fewer leave more of a "
        "busy machine's time to Vina's rounds",
    )
    parser.add_argument(
        "--no-preload",
        action="store_true",
        help="let every job import its tool's libraries (PIQ_PRELOAD_TOOLS unset)",
    )
    args = parser.parse_args(argv)

    # Workers and job processes load the probe tool (and this process the tiny
    # model's builder) from this checkout.
    use_checkout()

    from benchmarks import tools

    results = tools.measure(args)
    write_results("tools", results, report(results))


if __name__ == "__main__":
    main()
