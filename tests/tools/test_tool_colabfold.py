"""AlphaFold-2 (ColabFold): reading ColabFold's real output layout, and whole jobs
through the service with a stand-in ``colabfold_batch``.

The real ``colabfold_batch`` cannot run here (no GPU, no AlphaFold-2 weights), so
``tests/tools/standins/colabfold_batch`` takes its place on PATH: it checks its
arguments and the FASTA input as ColabFold reads them, and writes ColabFold's output
layout using a real ColabFold model (tests/data) as every model's structure.
Its weights check is satisfied by a data folder of empty files made by the test.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import gemmi
import pytest

from proteiniq_jupyter import api
from proteiniq_jupyter.execution.inprocess import run_job
from proteiniq_jupyter.jobs.errors import ValidationError
from proteiniq_jupyter.jobs.model import Job, JobInput
from proteiniq_jupyter.jobs.service import JobService
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.store.sql_store import DirectoryJobFiles
from proteiniq_jupyter.tools.colabfold import (
    MONOMER,
    MULTIMER,
    WEIGHTS,
    AlphaFold2,
    ColabFoldProgress,
    missing_weights,
    read_colabfold_models,
)
from proteiniq_jupyter.tools.registry import ToolRegistry

STANDINS = Path(__file__).parent / "standins"
MODEL_PDB = "colabfold/ERR550519_2213899_unrelaxed_model_1.pdb"
TOOLS = ToolRegistry([AlphaFold2()])


def residue_bfactors(path: Path) -> list[float]:
    """pLDDT per residue, computed here independently of the adapter: every atom of a
    residue carries the residue's pLDDT in a ColabFold model, so check that and take it."""
    per_residue: dict[tuple[str, str], set[float]] = defaultdict(set)
    structure = gemmi.read_structure(str(path))
    for chain in structure[0]:
        for residue in chain:
            for atom in residue:
                per_residue[(chain.name, str(residue.seqid))].add(round(atom.b_iso, 2))
    assert all(len(values) == 1 for values in per_residue.values())
    return [next(iter(values)) for values in per_residue.values()]


def model_sequence(fixtures: Path) -> str:
    structure = gemmi.read_structure(str(fixtures / MODEL_PDB))
    return gemmi.one_letter_code([r.name for r in structure[0]["A"]])


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ColabFold data folder with the layout colabfold_batch checks: the download
    marker and parameter files of both model types (empty stand-ins for the weights)."""
    data = tmp_path / "colabfold-data"
    params = data / "params"
    params.mkdir(parents=True)
    for marker, pattern in WEIGHTS.values():
        (params / marker).write_text("")
        for n in range(1, 6):
            (params / pattern.format(n=n)).write_bytes(b"stand-in weights")
    monkeypatch.setenv("PIQ_COLABFOLD_DATA", str(data))
    return data


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch, shared_fixtures: Path, data_dir: Path) -> Path:
    """The stand-in colabfold_batch first on PATH, its structure the real model."""
    program = STANDINS / "colabfold_batch"
    assert os.access(program, os.X_OK), f"{program} must be executable (chmod +x)"
    monkeypatch.setenv("PATH", f"{STANDINS}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv("PIQ_COLABFOLD_BIN", raising=False)
    monkeypatch.delenv("PIQ_MSA_SERVER_URL", raising=False)
    monkeypatch.delenv("STANDIN_MODE", raising=False)
    monkeypatch.setenv("STANDIN_STRUCTURE", str(shared_fixtures / MODEL_PDB))
    return data_dir


@pytest.fixture
def real(store: Any, tmp_path: Path) -> tuple[JobService, Any]:
    service = JobService(store, TOOLS, DirectoryJobFiles(tmp_path / "files"))
    return service, service.sign_in("alice", email="alice@lab.example")


def fasta_input(content: str, label: str | None = None) -> JobInput:
    return JobInput(
        id="sequences_1",
        slot_id="sequences",
        kind="protein",
        format="fasta",
        content=content,
        label=label,
    )


def submit_and_run(
    service: JobService, actor: Any, content: str, settings: dict[str, Any] | None = None
) -> Job:
    job = service.submit(actor, "alphafold-2", [fasta_input(content, "query.fasta")], settings)
    run_job(service.runs, TOOLS, job.id)
    return service.get(actor, job.id).job


# -- reading ColabFold's output ------------------------------------------------


def test_reads_plddt_from_the_real_model_and_scores_from_the_layout(
    shared_fixtures: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    first = "rank_001_alphafold2_ptm_model_3_seed_000"
    second = "rank_002_alphafold2_ptm_model_1_seed_000"
    shutil.copyfile(shared_fixtures / MODEL_PDB, out / f"ERR_unrelaxed_{first}.pdb")
    lowered = gemmi.read_structure(str(shared_fixtures / MODEL_PDB))
    for residue in lowered[0]["A"]:
        for atom in residue:
            atom.b_iso -= 5.0
    lowered.write_pdb(str(out / f"ERR_unrelaxed_{second}.pdb"))
    for tag, ptm in ((first, 0.82), (second, 0.77)):
        scores = {"plddt": [0.0], "max_pae": 28.5, "pae": [[0.0]], "ptm": ptm}
        (out / f"ERR_scores_{tag}.json").write_text(json.dumps(scores))

    models, prefix = read_colabfold_models(out)

    expected = sum(residue_bfactors(shared_fixtures / MODEL_PDB)) / 130
    assert prefix == "ERR"
    assert [(m.rank, m.model) for m in models] == [
        (1, "alphafold2_ptm_model_3_seed_000"),
        (2, "alphafold2_ptm_model_1_seed_000"),
    ]
    assert models[0].plddt == pytest.approx(expected, abs=1e-3)
    assert models[1].plddt == pytest.approx(expected - 5.0, abs=1e-3)
    assert 0 < expected <= 100
    assert [m.ptm for m in models] == [0.82, 0.77]
    assert [m.iptm for m in models] == [None, None]
    assert models[0].ranking_score == pytest.approx(expected / 100)
    assert models[0].extra == {"max_pae": 28.5}
    assert models[0].attachments == [(out / f"ERR_scores_{first}.json", "scores.json", "json")]


#: How far each model's pLDDT lies below the real model's, by model number: the
#: ranking by mean pLDDT is then model 2, 4, 1, 3, 5.
PLDDT_DROP = {1: 3.0, 2: 0.0, 3: 5.5, 4: 1.2, 5: 8.0}


def colabfold_1_5_folder(model: Path, out: Path, job: str) -> list[int]:
    """A result folder as colabfold_batch 1.5.5 leaves it for a monomer run with five
    models and ``--num-relax 1``, every file named as ColabFold names it (colabfold
    1.5.5 from PyPI, colabfold/batch.py: ``file_manager``, ``predict_structure``'s
    scores and reranking, ``run``'s config, MSA, PAE, plot and done files). The
    structures are the real ColabFold model with its pLDDT lowered per model, the
    scores JSON carries that pLDDT as ColabFold writes it (2 decimals); the PAE and
    the images are made up. The model numbers, best first."""
    out.mkdir()
    base = gemmi.read_structure(str(model))
    length = len(base[0]["A"])
    pae = [[round(0.25 + abs(i - j) * 0.1, 2) for j in range(length)] for i in range(length)]
    ranked = sorted(PLDDT_DROP, key=lambda n: PLDDT_DROP[n])
    for rank, n in enumerate(ranked, start=1):
        tag = f"rank_{rank:03d}_alphafold2_ptm_model_{n}_seed_000"
        structure = base.clone()
        for residue in structure[0]["A"]:
            for atom in residue:
                atom.b_iso -= PLDDT_DROP[n]
        structure.write_pdb(str(out / f"{job}_unrelaxed_{tag}.pdb"))
        if rank == 1:  # relaxed: moved a little by Amber, its B-factors kept
            for residue in structure[0]["A"]:
                for atom in residue:
                    atom.pos = gemmi.Position(atom.pos.x + 0.05, atom.pos.y, atom.pos.z)
            structure.write_pdb(str(out / f"{job}_relaxed_{tag}.pdb"))
        plddt = [round(r[0].b_iso, 2) for r in structure[0]["A"]]
        scores = {"plddt": plddt, "max_pae": 31.75, "pae": pae, "ptm": round(0.8 - n / 50, 2)}
        (out / f"{job}_scores_{tag}.json").write_text(json.dumps(scores))
    sequence = gemmi.one_letter_code([r.name for r in base[0]["A"]])
    (out / f"{job}.a3m").write_text(f">101\n{sequence}\n")
    (out / f"{job}_predicted_aligned_error_v1.json").write_text(
        json.dumps({"predicted_aligned_error": pae, "max_predicted_aligned_error": 31.75})
    )
    for image in ("coverage", "pae", "plddt"):
        (out / f"{job}_{image}.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (out / f"{job}.done.txt").write_text("")
    (out / "config.json").write_text(json.dumps({"num_models": 5, "num_relax": 1}))
    (out / "log.txt").write_text("2024-05-01 10:00:00,000 Running colabfold 1.5.5\n")
    (out / "cite.bibtex").write_text("@article{Mirdita2022}\n")
    return ranked


def test_reads_a_colabfold_1_5_output_folder(shared_fixtures: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    ranked = colabfold_1_5_folder(shared_fixtures / MODEL_PDB, out, "P54025")

    models, prefix = read_colabfold_models(out)

    assert prefix == "P54025"
    assert [(m.rank, m.model) for m in models] == [
        (rank, f"alphafold2_ptm_model_{n}_seed_000") for rank, n in enumerate(ranked, start=1)
    ]
    # The relaxed structure of the top model, the unrelaxed one of the others.
    assert models[0].structure.name.startswith("P54025_relaxed_rank_001_")
    assert all(m.structure.name.startswith("P54025_unrelaxed_") for m in models[1:])
    real = sum(residue_bfactors(shared_fixtures / MODEL_PDB)) / 130
    for model, n in zip(models, ranked, strict=True):
        assert model.plddt == pytest.approx(real - PLDDT_DROP[n], abs=1e-3)
        assert model.plddt == pytest.approx(sum(residue_bfactors(model.structure)) / 130, abs=1e-3)
        assert model.ptm == round(0.8 - n / 50, 2) and model.iptm is None
        [(scores, suffix, _)] = model.attachments
        assert scores.name == f"P54025_scores_rank_{model.rank:03d}_{model.model}.json"
        assert suffix == "scores.json"
    plddts = [m.plddt for m in models]
    assert plddts == sorted(plddts, reverse=True)


def test_a_complex_is_ranked_by_iptm_and_ptm(shared_fixtures: Path, tmp_path: Path) -> None:
    tag = "rank_001_alphafold2_multimer_v3_model_2_seed_000"
    shutil.copyfile(shared_fixtures / MODEL_PDB, tmp_path / f"job_unrelaxed_{tag}.pdb")
    scores = {"plddt": [], "max_pae": 30.0, "pae": [], "ptm": 0.7, "iptm": 0.6}
    (tmp_path / f"job_scores_{tag}.json").write_text(json.dumps(scores))
    [model], _ = read_colabfold_models(tmp_path)
    assert (model.ptm, model.iptm) == (0.7, 0.6)
    assert model.ranking_score == pytest.approx(0.8 * 0.6 + 0.2 * 0.7)


def test_scores_without_their_structure_fail_clearly(tmp_path: Path) -> None:
    (tmp_path / "job_scores_rank_001_alphafold2_ptm_model_1_seed_000.json").write_text("{}")
    with pytest.raises(RuntimeError, match="job_unrelaxed_rank_001_alphafold2_ptm_model_1"):
        read_colabfold_models(tmp_path)


def test_progress_counts_finished_models() -> None:
    progress = ColabFoldProgress(2)
    assert progress("2024-05-01 10:00:00,000 Query 1/1: job (length 38)") == (
        0.05,
        "preparing the query",
    )
    assert progress("alphafold2_ptm_model_1_seed_000 recycle=2 pLDDT=80 pTM=0.7") == (
        0.1,
        "model 1 of 2: recycle 2",
    )
    fraction, message = progress("alphafold2_ptm_model_1_seed_000 took 12.3s (3 recycles)") or (
        0.0,
        "",
    )
    assert fraction == pytest.approx(0.525) and message == "model 1 of 2 done"
    assert progress("something else") is None


# -- whole jobs ------------------------------------------------------------------


def test_prediction_job_runs_the_program_and_publishes_its_results(
    real: tuple[JobService, Any], standin: Path, shared_fixtures: Path
) -> None:
    service, alice = real
    sequence = model_sequence(shared_fixtures)
    content = f">ERR550519_2213899\n{sequence}\n"
    settings = {"num_models": 3, "num_recycle": 2, "seed": 7}
    quote = service.quote(alice, "alphafold-2", [fasta_input(content)], settings)
    assert quote.blocking_errors == ()
    assert quote.estimated_credits == 5 + 13 * 3

    job = submit_and_run(service, alice, content, settings)

    assert job.status is JobStatus.COMPLETED, job.error
    assert job.credits_charged == 44
    assert service.account(alice).available_credits == 500 - 44
    folder = service.files.job_dir(job.id)
    assert job.result is not None
    for file in job.result.files:
        assert "/" not in file.name and (folder / file.name).stat().st_size == file.size
    names = [f.name for f in job.result.files]
    assert names[:2] == ["query_rank_1.pdb", "query_rank_1_scores.json"]
    assert {"query_pae.json", "query_input.fasta", "query_colabfold_log.txt"} <= set(names)

    rows = job.result.rows
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert [r["model"] for r in rows] == [
        "alphafold2_ptm_model_1_seed_007",
        "alphafold2_ptm_model_3_seed_007",
        "alphafold2_ptm_model_2_seed_007",
    ]
    for row in rows:
        published = residue_bfactors(folder / row["structure"])
        assert row["mean_plddt"] == pytest.approx(sum(published) / len(published), abs=0.01)
        scores = json.loads((folder / f"query_rank_{row['rank']}_scores.json").read_text())
        assert row["ptm"] == scores["ptm"] and row["iptm"] is None
        assert len(scores["pae"]) == len(sequence)
    original = residue_bfactors(shared_fixtures / MODEL_PDB)
    assert job.result.fields["mean_plddt"] == pytest.approx(sum(original) / len(original), abs=0.01)
    assert job.result.fields["best_structure"] == "query_rank_1.pdb"
    assert (job.result.fields["model_type"], job.result.fields["chains"]) == (MONOMER, 1)

    assert (folder / "query_input.fasta").read_text() == f">input\n{sequence}\n"
    log = (folder / "query_colabfold_log.txt").read_text()
    assert "stand-in (not the real ColabFold)" in log
    for flag in (
        "--num-models 3",
        "--num-recycle 2",
        "--random-seed 7",
        "--msa-mode single_sequence",
        f"--model-type {MONOMER}",
        f"--data {standin}",
    ):
        assert flag in log
    messages = [e.data.get("progress_message") for e in service.events(alice, job.id)]
    assert "model 3 of 3 done" in messages


def test_missing_program_fails_at_once_and_costs_nothing(
    real: tuple[JobService, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, alice = real
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("PIQ_COLABFOLD_BIN", raising=False)
    job = submit_and_run(service, alice, ">p\nMIPIKRSSRRWKKKGRMRW\n")
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    for words in ("colabfold_batch", "not found on PATH", "pip install", "PIQ_COLABFOLD_BIN"):
        assert words in job.error
    assert job.started_at is None and job.credits_charged == 0
    assert service.account(alice).available_credits == 500


def test_missing_weights_fail_at_once_naming_the_folder(
    real: tuple[JobService, Any], standin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, alice = real
    monkeypatch.setenv("PIQ_COLABFOLD_DATA", str(tmp_path / "nothing-here"))
    job = submit_and_run(service, alice, ">p\nMIPIKRSSRRWKKKGRMRW\n")
    assert job.status is JobStatus.FAILED and job.error is not None
    assert "PIQ_COLABFOLD_DATA" in job.error and "params/download_finished.txt" in job.error
    assert job.credits_charged == 0 and service.account(alice).available_credits == 500


def test_missing_weights_names_the_files_of_the_model_type(tmp_path: Path) -> None:
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "download_finished.txt").write_text("")
    (tmp_path / "params" / "params_model_1_ptm.npz").write_text("")
    assert missing_weights(tmp_path, MONOMER, 1) == []
    assert missing_weights(tmp_path, MONOMER, 2) == ["params/params_model_2_ptm.npz"]
    assert missing_weights(tmp_path, MULTIMER, 1) == [
        "params/download_complexes_multimer_v3_finished.txt",
        "params/params_model_1_multimer_v3.npz",
    ]


def test_a_failing_program_fails_the_job_with_its_log(
    real: tuple[JobService, Any],
    standin: Path,
    shared_fixtures: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service, alice = real
    monkeypatch.setenv("STANDIN_MODE", "fail")
    fasta = (shared_fixtures / "colabfold" / "P54025.fasta").read_text()
    chain = "".join(fasta.splitlines()[1:])
    job = submit_and_run(service, alice, f">a\n{chain}\n>b\n{chain}\n")
    assert job.status is JobStatus.FAILED and job.error is not None
    assert "colabfold_batch exited with status 3" in job.error
    assert "RESOURCE_EXHAUSTED: Out of memory" in job.error
    assert job.credits_charged == 0 and service.account(alice).available_credits == 500
    folder = service.files.job_dir(job.id)
    assert (folder / "input.fasta").read_text() == f">input\n{chain}:{chain}\n"
    assert f"--model-type {MULTIMER}" in (folder / "query_colabfold_log.txt").read_text()


def test_no_output_after_a_normal_exit_fails_the_job(
    real: tuple[JobService, Any], standin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, alice = real
    monkeypatch.setenv("STANDIN_MODE", "no-output")
    job = submit_and_run(service, alice, ">p\nMIPIKRSSRRWKKKGRMRW\n")
    assert job.status is JobStatus.FAILED and job.error is not None
    assert "exited normally but wrote no scored models" in job.error
    assert "Query 1/1: input (length 19)" in job.error


# -- input, batches and the catalogue ------------------------------------------------


def test_bad_residue_is_named_by_line_and_character(real: tuple[JobService, Any]) -> None:
    service, alice = real
    with pytest.raises(ValidationError) as caught:
        service.submit(alice, "alphafold-2", [fasta_input(">p1\nMKTAJY\n")])
    assert "record 'p1', line 2, character 5" in caught.value.message
    assert service.list_jobs(alice).items == []


def test_settings_out_of_range_are_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        AlphaFold2().parse_settings({"num_models": 6})
    assert caught.value.errors[0]["field"] == "settings.num_models"
    with pytest.raises(ValidationError):
        AlphaFold2().parse_settings({"msa_mode": "jackhmmer"})


BATCH = """# one job per line
P54025 MIPIKRSSRRWKKKGRMRWKWYKKRLRRLKRERKRARS

MKTAYIAKQR:mkvlaagivg
"""


def test_batch_input_gives_one_job_per_line() -> None:
    tool = AlphaFold2()
    items = tool.batch_items([fasta_input(BATCH)], tool.parse_settings({}))
    assert [[i.label for i in item] for item in items] == [["P54025"], ["line 4"]]
    assert items[0][0].content == ">P54025_A\nMIPIKRSSRRWKKKGRMRWKWYKKRLRRLKRERKRARS\n"
    assert items[1][0].content == ">line_4_A\nMKTAYIAKQR\n>line_4_B\nMKVLAAGIVG\n"
    for item in items:
        tool.validate(item, tool.parse_settings({}))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("MKTAJYIAK", "line 3, character 5: 'J' (residue 5 of chain 1) is not allowed"),
        ("name MKT:MKV extra", "line 3: expected [NAME] CHAIN[:CHAIN...], found 3 fields"),
        ("MKT::MKV", "line 3, character 5: an empty chain"),
        ("MKT smiles=CCO", "line 3, character 5: AlphaFold-2 (ColabFold) predicts proteins only"),
    ],
)
def test_a_bad_batch_line_is_named(line: str, expected: str) -> None:
    tool = AlphaFold2()
    text = f"# header\nMKTAYIAKQR\n{line}\n"
    with pytest.raises(ValidationError) as caught:
        tool.batch_items([fasta_input(text)], tool.parse_settings({}))
    assert expected in caught.value.message
    assert caught.value.errors[0]["line"] == 3


def test_batch_is_submitted_with_each_line_priced(real: tuple[JobService, Any]) -> None:
    service, alice = real
    with pytest.raises(ValidationError, match="line 5, character 3: 'B'"):
        service.submit_batch_input(alice, "alphafold-2", [fasta_input(BATCH + "MKBT\n")])
    assert service.list_jobs(alice).items == []
    summary = service.submit_batch_input(
        alice, "alphafold-2", [fasta_input(BATCH)], {"num_models": 2}
    )
    assert summary.total == 2
    assert summary.batch.reserved_credits == (5 + 4 * 2) + (5 + 2 * 2)
    too_many = "\n".join(["MKTAYIAKQR"] * 51)
    with pytest.raises(ValidationError, match="51 lines to predict; the limit is 50"):
        AlphaFold2().batch_items([fasta_input(too_many)], AlphaFold2().parse_settings({}))


def test_catalogue_describes_a_priced_gpu_tool() -> None:
    assert isinstance(
        ToolRegistry.from_entry_points(only="alphafold-2").get("alphafold-2"), AlphaFold2
    )
    detail = json.loads(json.dumps(api.ToolDetail.of(AlphaFold2).model_dump()))
    assert detail["processing"]["gpu"] is True
    assert detail["processing"]["batch_input"] is True
    assert detail["credit_model"]["is_free"] is False
    assert detail["credit_model"]["rates"] == {"per_run": 5, "per_10_residues_per_model": 1}
    settings = detail["input"]["settings"]["properties"]
    assert (settings["num_models"]["minimum"], settings["num_models"]["maximum"]) == (1, 5)
    assert settings["num_recycle"]["default"] == 3
    assert settings["msa_mode"]["default"] == "single_sequence"
    assert set(settings["model_type"]["enum"]) == {"auto", "monomer", "multimer"}
    assert detail["limits"]["max_batch_items"] == 50
    tool = AlphaFold2()
    estimate = tool.estimate([fasta_input(">p\nMKT\n")], tool.parse_settings({"num_models": 1}))
    assert estimate.credits == 6
