"""ESMFold on a tiny random-weight model saved as transformers saves the real one and
loaded through the tool's own path (PIQ_ESMFOLD_MODEL), run as a user runs it: quoted,
submitted, run, charged, its PDB read back by gemmi."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import gemmi
import pytest
from huggingface_hub import constants as hub_constants

from proteiniq_jupyter import api
from proteiniq_jupyter.config import EngineConfig
from proteiniq_jupyter.engine import open_engine
from proteiniq_jupyter.execution.inprocess import run_job
from proteiniq_jupyter.jobs.access import Actor
from proteiniq_jupyter.jobs.errors import ValidationError
from proteiniq_jupyter.jobs.model import JobInput
from proteiniq_jupyter.jobs.service import JobService
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.store.database import sqlite_url
from proteiniq_jupyter.store.sql_store import DirectoryJobFiles, SqlStore
from proteiniq_jupyter.tools import esmfold
from proteiniq_jupyter.tools.base import RunContext
from proteiniq_jupyter.tools.esmfold import EsmFold, estimate_credits, fold, load_model
from proteiniq_jupyter.tools.registry import ToolRegistry
from tests.tools.tiny_esmfold import TINY_MAX_RECYCLES, build_tiny_esmfold

REPO = Path(__file__).resolve().parents[2]
REGISTRY = ToolRegistry.from_entry_points(only="esmfold")
#: T4 lysozyme, 164 residues; its first 120 are quoted at 50 + one block of 10 credits.
T4L = (
    "MNIFEMLRIDEGLRLKIYKDTEGYYTIGIGHLLTKSPSLNAAKSELDKAIGRNTNGVITKDEAEKLFNQDVDAAVRGI"
    "LRNAKLKPVYDSLDAVRRAAINMVFQMGETGVAGFTNSLRMLQQKRWDEAAVNLAKSRWYNQTPNRAKRVITTFRTGTWDAYKNL"
)
#: Short, so the folds that only compare settings or code paths take little time.
PEPTIDE = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQ"
UBIQUITIN = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_esmfold(tmp_path_factory.mktemp("tiny-esmfold"))


@pytest.fixture
def tiny(tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny model is where the tool looks for ESMFold."""
    monkeypatch.setenv(esmfold.MODEL_ENV, str(tiny_model))
    return tiny_model


@pytest.fixture
def real(store: SqlStore, tmp_path: Path) -> tuple[JobService, Actor]:
    service = JobService(store, REGISTRY, DirectoryJobFiles(tmp_path / "files"))
    return service, service.sign_in("alice", email="alice@lab.example")


def sequence_input(content: str, label: str | None = None) -> JobInput:
    return JobInput(
        id="seq_1", slot_id="sequence", kind="protein", format="fasta", content=content, label=label
    )


def run_tool(content: str, tmp_path: Path, settings: dict[str, Any] | None = None) -> Any:
    tool = EsmFold()
    parsed = tool.parse_settings(settings)
    inputs = [sequence_input(content)]
    tool.validate(inputs, parsed)
    return tool.run(inputs, parsed, RunContext(tmp_path))


def ca_atoms(structure: gemmi.Structure) -> list[tuple[str, gemmi.Residue, gemmi.Atom]]:
    return [(chain.name, res, res["CA"][0]) for chain in structure[0] for res in chain]


def test_a_fold_runs_as_a_job_and_costs_its_quote(
    real: tuple[JobService, Actor], tiny: Path
) -> None:
    service, alice = real
    sequence = T4L[:120]
    item = sequence_input(f">t4l T4 lysozyme\n{sequence}\n", label="t4l.fasta")
    quote = service.quote(alice, "esmfold", [item], None)
    assert quote.blocking_errors == ()
    assert quote.estimated_credits == 60 == estimate_credits(len(sequence)).credits
    job = service.submit(alice, "esmfold", [item])
    run_job(service.runs, REGISTRY, job.id)

    done = service.get(alice, job.id).job
    assert done.status is JobStatus.COMPLETED, done.error
    assert done.credits_charged == quote.estimated_credits == 60
    assert service.account(alice).available_credits == 500 - 60
    assert Counter(e.kind for e in service.ledger(alice, job_id=job.id))["charge"] == 1

    result = done.result
    assert result is not None
    fields = result.fields
    assert fields["residues"] == len(sequence) and fields["chains"] == 1
    assert fields["model"] == tiny.name and fields["device"] in ("cpu", "cuda")
    folder = service.files.job_dir(job.id)
    files = {f.format: f for f in result.files}
    assert set(files) == {"pdb", "json"}
    assert files["pdb"].name == "t4l.pdb" and files["json"].name == "t4l_pae.json"
    for f in result.files:
        assert (folder / f.name).stat().st_size == f.size

    structure = gemmi.read_structure(str(folder / files["pdb"].name))
    residues = ca_atoms(structure)
    assert len(residues) == len(sequence)
    assert gemmi.one_letter_code([r.name for _, r, _ in residues]) == sequence
    assert [r.seqid.num for _, r, _ in residues] == list(range(1, len(sequence) + 1))
    # pLDDT 0-100, one value per residue: every atom of a residue carries its CA's.
    for _, residue, ca in residues:
        assert 0.0 <= ca.b_iso <= 100.0
        assert {atom.b_iso for atom in residue} == {ca.b_iso}
    b_factors = [ca.b_iso for *_, ca in residues]
    assert max(b_factors) - min(b_factors) > 1.0  # not a constant: the head's values
    assert 0.0 <= fields["mean_plddt"] <= 100.0
    assert fields["mean_plddt"] == pytest.approx(sum(b_factors) / len(b_factors), abs=0.01)
    assert [row["plddt"] for row in result.rows] == pytest.approx(b_factors, abs=0.006)
    assert 0.0 <= fields["ptm"] <= 1.0

    [pae] = json.loads((folder / files["json"].name).read_text())
    matrix = pae["predicted_aligned_error"]
    assert len(matrix) == len(sequence) and all(len(row) == len(sequence) for row in matrix)
    assert all(0.0 <= v <= pae["max_predicted_aligned_error"] for row in matrix for v in row)
    assert fields["max_pae"] == pae["max_predicted_aligned_error"]

    declared = {f.name for f in EsmFold.outputs}
    assert set(fields) <= declared
    assert {k for row in result.rows for k in row} - {"index"} <= declared


def test_the_structure_is_the_one_infer_pdb_gives_with_plddt_scaled_to_100(
    tiny: Path, tmp_path: Path
) -> None:
    """Same model, same sequence: the tool's coordinates are transformers' own; only
    the B-factors differ, since this transformers version writes pLDDT as 0-1."""
    result = run_tool(PEPTIDE, tmp_path)
    ours = gemmi.read_structure(str(tmp_path / result.files[0].name))
    model = load_model(str(tiny))
    theirs = gemmi.read_pdb_string(model.infer_pdb(PEPTIDE))
    our_atoms = [(a.name, a.pos) for r in ours[0]["A"] for a in r]
    their_atoms = [(a.name, a.pos) for r in theirs[0]["A"] for a in r]
    assert [n for n, _ in our_atoms] == [n for n, _ in their_atoms]
    assert max(p.dist(q) for (_, p), (_, q) in zip(our_atoms, their_atoms, strict=True)) < 2e-3
    their_ca = [r["CA"][0].b_iso for r in theirs[0]["A"]]
    assert max(their_ca) <= 1.0
    assert [r["CA"][0].b_iso for r in ours[0]["A"]] == pytest.approx(
        [100 * b for b in their_ca], abs=0.51
    )


def test_chains_joined_by_a_colon_fold_together(tiny: Path, tmp_path: Path) -> None:
    first, second = PEPTIDE, T4L[:30]
    result = run_tool(f">complex\n{first}:\n{second}\n", tmp_path)
    structure = gemmi.read_structure(str(tmp_path / "complex.pdb"))
    chains = {chain.name: gemmi.one_letter_code([r.name for r in chain]) for chain in structure[0]}
    assert chains == {"A": first, "B": second}  # the glycine linker is gone
    assert [r.seqid.num for r in structure[0]["B"]][:2] == [1, 2]
    assert result.fields["residues"] == 70 and result.fields["chains"] == 2
    [pae] = json.loads((tmp_path / "complex_pae.json").read_text())
    assert len(pae["predicted_aligned_error"]) == 70
    assert [(r["chain"], r["residue_number"]) for r in result.rows[39:41]] == [("A", 40), ("B", 1)]


def test_settings_reach_the_model(tiny: Path, tmp_path: Path) -> None:
    model = load_model(str(tiny))
    default = fold(model, PEPTIDE)
    chunked = fold(model, PEPTIDE, chunk_size=8)  # the same sums, in pieces
    no_recycling = fold(model, PEPTIDE, num_recycles=0)
    # transformers counts a default run as max_recycles passes, and num_recycles=N as
    # N + 1 (the first pass is not a recycle): the default is max_recycles - 1.
    assert fold(model, PEPTIDE, num_recycles=TINY_MAX_RECYCLES - 1).pdb == default.pdb
    assert chunked.plddt == pytest.approx(default.plddt, abs=0.02)
    assert no_recycling.pdb != default.pdb
    assert model.trunk.chunk_size is None  # restored after the run
    with pytest.raises(ValidationError, match=r"settings\.num_recycles"):
        EsmFold().parse_settings({"num_recycles": 13})


def test_the_result_says_whether_the_model_was_in_memory(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(esmfold.model, "_LOADED", {})  # as in a fresh process
    first = run_tool(f">p\n{PEPTIDE}\n", tmp_path / "first")
    second = run_tool(f">p\n{PEPTIDE}\n", tmp_path / "second")
    assert (first.fields["model_in_memory"], second.fields["model_in_memory"]) == (False, True)
    assert second.fields["mean_plddt"] == first.fields["mean_plddt"]


def test_a_worker_preloading_esmfold_folds_with_the_model_it_loaded(
    tiny: Path, tmp_path: Path
) -> None:
    """With ``esmfold`` preloaded, the worker's fork server loads the model once and
    each job forks with it: the job says so, and folds as a job loading it would."""
    config = EngineConfig(
        data_dir=tmp_path / "piq",
        database_url=sqlite_url(tmp_path / "piq.sqlite"),
        username="alice",
        executor="dask",
        dask_workers=1,
        preload_tools=("esmfold",),
    )
    engine = open_engine(config)  # its worker inherits PIQ_ESMFOLD_MODEL
    try:
        me = engine.actor()
        job = engine.service.submit(me, "esmfold", [sequence_input(f">p\n{PEPTIDE}\n")])
        engine.wait(timeout=300)
        done = engine.service.get(me, job.id).job
    finally:
        engine.close()
    assert done.status is JobStatus.COMPLETED, done.error
    assert done.result is not None
    assert done.result.fields["model_in_memory"] is True
    here = run_tool(f">p\n{PEPTIDE}\n", tmp_path / "here")
    for name in ("mean_plddt", "ptm", "max_pae"):
        assert done.result.fields[name] == pytest.approx(here.fields[name], abs=1e-3)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("M" * 1001, "the sequence is 1,001 residues long; ESMFold's limit here is 1,000"),
        (f"{'M' * 600}:{'K' * 401}", "1,001 residues long"),
        (">p1\nMKTAJYIAK\n", "line 2, character 5 (residue 5): 'J' (ambiguous Leu/Ile)"),
        (">p1\nMKTAY\nIAKB\n", "line 3, character 4 (residue 9): 'B'"),
        (">p1\nMKTAY:GL1V\n", "line 2, character 9 (chain 2, residue 3): digit '1'"),
        (">p1\nMKT::GGA\n", "chain 2 of 3 is empty"),
        (">p1\nMKT\n>p2\nGGA\n", "the input has 2 sequences; the limit is 1"),
        (":".join(["MK"] * 11), "11 chains; the limit is 10"),
    ],
)
def test_bad_input_is_refused_naming_the_problem_and_costs_nothing(
    real: tuple[JobService, Actor], content: str, expected: str
) -> None:
    service, alice = real
    quote = service.quote(alice, "esmfold", [sequence_input(content)], None)
    assert quote.estimated_credits == 0
    assert any(expected in error["message"] for error in quote.blocking_errors), quote
    with pytest.raises(ValidationError) as info:
        service.submit(alice, "esmfold", [sequence_input(content)])
    assert expected in info.value.message
    assert service.list_jobs(alice).items == []
    assert service.account(alice).available_credits == 500


def test_without_the_model_a_job_fails_at_once_uncharged(
    real: tuple[JobService, Actor], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, alice = real
    nowhere = tmp_path / "no-esmfold-here"
    monkeypatch.setenv(esmfold.MODEL_ENV, str(nowhere))
    job = service.submit(alice, "esmfold", [sequence_input(UBIQUITIN)])
    assert job.estimated_credits == 50
    run_job(service.runs, REGISTRY, job.id)

    done = service.get(alice, job.id).job
    assert done.status is JobStatus.FAILED
    error = done.error or ""
    assert done.started_at is None  # never started
    assert error.startswith("ESMFold cannot run here: ")
    assert f"PIQ_ESMFOLD_MODEL={str(nowhere)!r}: no such directory" in error
    assert "config.json" in error and "hub id" in error
    assert done.credits_charged == 0
    assert service.account(alice).available_credits == 500
    assert "charge" not in Counter(e.kind for e in service.ledger(alice, job_id=job.id))


def test_missing_model_messages_name_what_to_set(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = EsmFold()
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(tiny_model / "config.json", partial / "config.json")
    monkeypatch.setenv(esmfold.MODEL_ENV, str(partial))
    reason = tool.missing_requirements()
    assert reason is not None and "PIQ_ESMFOLD_MODEL" in reason
    assert "no vocab.txt, weights (model.safetensors or" in reason

    # Unset: the default hub id, which this (empty) cache lacks.
    monkeypatch.delenv(esmfold.MODEL_ENV)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    reason = tool.missing_requirements()
    assert reason is not None
    assert "PIQ_ESMFOLD_MODEL is not set, so the default 'facebook/esmfold_v1' is used" in reason
    assert "not in the local Hugging Face cache" in reason and str(tmp_path / "hub") in reason


def test_a_hub_id_loads_offline_from_the_cache(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The layout the hub client leaves: refs/main names a snapshot holding the files."""
    cache = tmp_path / "hub"
    repo = cache / "models--lab--tiny-esmfold"
    snapshot = repo / "snapshots" / "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(tiny_model, snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(snapshot.name)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv(esmfold.MODEL_ENV, "lab/tiny-esmfold")
    assert EsmFold().missing_requirements() is None
    result = run_tool(UBIQUITIN[:20], tmp_path / "job")
    assert result.fields["model"] == "lab/tiny-esmfold" and result.fields["residues"] == 20


def test_the_module_imports_and_quotes_without_torch() -> None:
    """The catalogue, validation and quotes need neither torch nor transformers; a run
    without them is refused naming the install command."""
    script = (
        "import sys, json\n"
        "sys.modules['torch'] = None\n"
        "sys.modules['transformers'] = None\n"
        "from proteiniq_jupyter.jobs.model import JobInput\n"
        "from proteiniq_jupyter.tools.esmfold import EsmFold\n"
        "tool = EsmFold()\n"
        "item = JobInput(id='s', slot_id='sequence', kind='protein', format='text',"
        " content='MKT' * 50)\n"
        "settings = tool.parse_settings({})\n"
        "tool.validate([item], settings)\n"
        "from proteiniq_jupyter.api import ToolDetail\n"
        "json.dumps(ToolDetail.of(tool).model_dump())\n"
        "print(tool.estimate([item], settings).credits)\n"
        "print(tool.missing_requirements())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    credits, reason = done.stdout.splitlines()
    assert credits == "60"
    assert reason == (
        "torch and transformers are not installed: pip install 'proteiniq-jupyter[esmfold]'"
    )


def test_credits_follow_the_residue_count() -> None:
    assert [estimate_credits(n).credits for n in (1, 100, 101, 150, 151, 400, 1000)] == [
        50,
        50,
        60,
        60,
        70,
        110,
        230,
    ]
    tool = EsmFold()
    settings = tool.parse_settings({})
    # The linker joining chains is not charged: 60 + 60 residues is 120.
    assert tool.estimate([sequence_input(f"{'M' * 60}:{'K' * 60}")], settings).credits == 60


def test_the_catalogue_shows_a_priced_tool_with_its_settings() -> None:
    detail = json.loads(json.dumps(api.ToolDetail.of(REGISTRY.get("esmfold")).model_dump()))
    assert detail["id"] == "esmfold" and detail["category"] == "folding"
    assert detail["credit_model"]["is_free"] is False
    assert detail["credit_model"]["rates"] == {
        "base_credits": 50,
        "base_residues": 100,
        "block_credits": 10,
        "block_residues": 50,
    }
    assert "50 credits up to 100 residues" in detail["credit_model"]["description"]
    assert detail["processing"]["gpu"] is False
    assert detail["processing"]["prefers_gpu"] is True
    assert detail["limits"]["max_residues"] == 1000
    settings = detail["input"]["settings"]
    assert settings["additionalProperties"] is False
    recycles = settings["properties"]["num_recycles"]
    assert recycles["default"] is None
    assert {"type": "integer", "minimum": 0, "maximum": 12} in recycles["anyOf"]
    chunk = settings["properties"]["chunk_size"]
    assert {"type": "integer", "minimum": 1, "maximum": 1024} in chunk["anyOf"]
    assert {f["name"] for f in detail["output"]["fields"]} >= {"mean_plddt", "ptm", "model"}


def test_the_fold_is_estimated_from_the_last_fold_of_the_workspace(
    real: tuple[JobService, Actor], tiny: Path
) -> None:
    """The model's forward pass reports nothing: the engine says the progress is
    its estimate, and once a fold has completed, how long this one has left."""
    service, alice = real
    item = sequence_input(f">t4l\n{T4L[:60]}\n")
    estimates = []
    for _ in range(2):
        job = service.submit(alice, "esmfold", [item])
        run_job(service.runs, REGISTRY, job.id)
        assert service.get(alice, job.id).job.status is JobStatus.COMPLETED
        events = service.events(alice, job.id)
        estimates.append([e.data for e in events if e.data.get("progress_estimated")])
    first, second = estimates
    assert first and all(d["eta_s"] is None and "so far" in d["progress_message"] for d in first)
    assert second and second[0]["eta_s"] is not None and second[0]["eta_s"] > 0
    assert "folding 60 residues" in second[0]["progress_message"]
