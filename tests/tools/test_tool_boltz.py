"""Boltz-2: the YAML it is given, reading Boltz's real output layout, and whole jobs
through the service with a stand-in ``boltz``.

The real ``boltz`` cannot run here (no GPU, no Boltz-2 weights), so
``tests/tools/standins/boltz`` takes its place on PATH: it checks its arguments and the
YAML input as ``boltz predict`` reads them, and writes Boltz's output layout using a
real ColabFold model, converted to mmCIF here, as every model's structure. Its
weights check is satisfied by a cache folder of empty files made by the test.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import gemmi
import numpy as np
import pytest
import yaml

from proteiniq_jupyter import api
from proteiniq_jupyter.execution.inprocess import run_job
from proteiniq_jupyter.jobs.errors import ValidationError
from proteiniq_jupyter.jobs.model import Job, JobInput
from proteiniq_jupyter.jobs.service import JobService
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.store.sql_store import DirectoryJobFiles
from proteiniq_jupyter.tools.boltz import (
    Boltz2,
    BoltzComplex,
    BoltzProgress,
    boltz_yaml,
    read_boltz_affinity,
    read_boltz_models,
)
from proteiniq_jupyter.tools.prediction import Ligand
from proteiniq_jupyter.tools.registry import ToolRegistry

STANDINS = Path(__file__).parent / "standins"
MODEL_PDB = "colabfold/ERR550519_2213899_unrelaxed_model_1.pdb"
TOOLS = ToolRegistry([Boltz2()])
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


def as_mmcif(pdb: Path, target: Path) -> Path:
    structure = gemmi.read_structure(str(pdb))
    structure.setup_entities()
    structure.make_mmcif_document().write_file(str(target))
    return target


def model_sequence(fixtures: Path) -> str:
    structure = gemmi.read_structure(str(fixtures / MODEL_PDB))
    return gemmi.one_letter_code([r.name for r in structure[0]["A"]])


def confidence(plddt: float, ptm: float, iptm: float) -> dict[str, Any]:
    """A confidence file as Boltz writes it: every score on 0-1, PDE in Å."""
    return {
        "confidence_score": 0.8 * plddt + 0.2 * iptm,
        "ptm": ptm,
        "iptm": iptm,
        "ligand_iptm": iptm,
        "protein_iptm": 0.0,
        "complex_plddt": plddt,
        "complex_iplddt": plddt - 0.01,
        "complex_pde": 0.95,
        "complex_ipde": 2.4,
        "chains_ptm": {"0": ptm, "1": ptm},
        "pair_chains_iptm": {"0": {"0": ptm, "1": iptm}, "1": {"0": iptm, "1": ptm}},
    }


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Boltz cache with what ``boltz predict`` checks for (empty stand-in weights)."""
    folder = tmp_path / "boltz-cache"
    (folder / "mols").mkdir(parents=True)
    for name in ("boltz2_conf.ckpt", "boltz2_aff.ckpt"):
        (folder / name).write_bytes(b"stand-in weights")
    monkeypatch.setenv("PIQ_BOLTZ_CACHE", str(folder))
    monkeypatch.delenv("BOLTZ_CACHE", raising=False)
    return folder


@pytest.fixture
def standin(
    monkeypatch: pytest.MonkeyPatch, shared_fixtures: Path, cache: Path, tmp_path: Path
) -> Path:
    """The stand-in boltz first on PATH, its structure the real model as mmCIF."""
    program = STANDINS / "boltz"
    assert os.access(program, os.X_OK), f"{program} must be executable (chmod +x)"
    monkeypatch.setenv("PATH", f"{STANDINS}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv("PIQ_BOLTZ_BIN", raising=False)
    monkeypatch.delenv("PIQ_MSA_SERVER_URL", raising=False)
    monkeypatch.delenv("STANDIN_MODE", raising=False)
    structure = as_mmcif(shared_fixtures / MODEL_PDB, tmp_path / "standin_model.cif")
    monkeypatch.setenv("STANDIN_STRUCTURE", str(structure))
    return cache


@pytest.fixture
def real(store: Any, tmp_path: Path) -> tuple[JobService, Any]:
    service = JobService(store, TOOLS, DirectoryJobFiles(tmp_path / "files"))
    return service, service.sign_in("alice", email="alice@lab.example")


def proteins(content: str, label: str | None = "complex.fasta") -> JobInput:
    return JobInput("proteins_1", "proteins", "protein", "fasta", content, label)


def ligands(content: str) -> JobInput:
    return JobInput("ligands_1", "ligands", "ligand", "text", content)


def submit_and_run(
    service: JobService,
    actor: Any,
    inputs: list[JobInput],
    settings: dict[str, Any] | None = None,
) -> Job:
    job = service.submit(actor, "boltz-2", inputs, settings)
    run_job(service.runs, TOOLS, job.id)
    return service.get(actor, job.id).job


# -- the input and the output layout ------------------------------------------------


def test_yaml_input_follows_the_boltz_schema() -> None:
    job = BoltzComplex(
        "x",
        (("a", "MKTAYIAK"), ("b", "MKVLAAG")),
        (Ligand("smiles", "F/C=C\\F", "difluoroethene"), Ligand("ccd", "SAH", "sah")),
    )
    text = boltz_yaml(job, msa_empty=True, affinity_binder="C")
    assert yaml.safe_load(text) == {
        "version": 1,
        "sequences": [
            {"protein": {"id": "A", "sequence": "MKTAYIAK", "msa": "empty"}},
            {"protein": {"id": "B", "sequence": "MKVLAAG", "msa": "empty"}},
            {"ligand": {"id": "C", "smiles": "F/C=C\\F"}},
            {"ligand": {"id": "D", "ccd": "SAH"}},
        ],
        "properties": [{"affinity": {"binder": "C"}}],
    }
    with_server = yaml.safe_load(boltz_yaml(job, msa_empty=False, affinity_binder=None))
    assert "msa" not in with_server["sequences"][0]["protein"]
    assert "properties" not in with_server


def test_reads_the_output_layout_and_normalises_plddt(
    shared_fixtures: Path, tmp_path: Path
) -> None:
    predictions = tmp_path / "boltz_results_input" / "predictions" / "input"
    predictions.mkdir(parents=True)
    for k, (plddt, ptm, iptm) in enumerate(((0.912, 0.85, 0.77), (0.874, 0.80, 0.7))):
        as_mmcif(shared_fixtures / MODEL_PDB, predictions / f"input_model_{k}.cif")
        (predictions / f"confidence_input_model_{k}.json").write_text(
            json.dumps(confidence(plddt, ptm, iptm))
        )
        np.savez(predictions / f"pae_input_model_{k}.npz", pae=np.zeros((131, 131)))
    as_mmcif(shared_fixtures / MODEL_PDB, predictions / "input_model_2.cif")
    (predictions / "affinity_input.json").write_text(
        json.dumps({"affinity_pred_value": -1.2, "affinity_probability_binary": 0.81})
    )

    models = read_boltz_models(predictions, "input", proteins=1, ligands=1)

    assert [(m.rank, m.model) for m in models] == [(1, "model_0"), (2, "model_1"), (3, "model_2")]
    assert [m.plddt for m in models[:2]] == [pytest.approx(91.2), pytest.approx(87.4)]
    assert (models[0].ptm, models[0].iptm) == (0.85, 0.77)
    assert models[0].ranking_score == pytest.approx(0.8 * 0.912 + 0.2 * 0.77)
    assert models[0].extra["complex_iplddt"] == pytest.approx(90.2)
    assert models[0].extra["ligand_iptm"] == 0.77
    assert models[0].extra["protein_iptm"] is None  # one protein: no such interface
    assert [suffix for _, suffix, _ in models[0].attachments] == ["confidence.json", "pae.npz"]
    # No confidence file: the pLDDT comes from the structure's B-factors (0-100 here).
    structure = gemmi.read_structure(str(shared_fixtures / MODEL_PDB))
    ca = [residue["CA"][0].b_iso for residue in structure[0]["A"]]
    assert models[2].plddt == pytest.approx(sum(ca) / len(ca))
    assert (models[2].ptm, models[2].attachments) == (None, [])

    assert read_boltz_affinity(predictions, "input") == {
        "affinity_pred_value": -1.2,
        "affinity_ic50_um": pytest.approx(10**-1.2, rel=1e-3),
        "affinity_probability_binary": 0.81,
    }
    single = read_boltz_models(predictions, "input", proteins=1, ligands=0)
    assert single[0].iptm is None and single[0].extra["ligand_iptm"] is None


#: Three diffusion samples' pLDDT (0-1), in sample order; Boltz ranks them 2, 0, 1.
SAMPLE_PLDDT = (0.81, 0.74, 0.88)


def boltz_2_folder(model: Path, root: Path, stem: str) -> Path:
    """A results folder as ``boltz predict --diffusion_samples 3 --write_full_pae
    --write_full_pde`` leaves it for a protein and a ligand with the affinity asked
    for, every file named and keyed as boltz 2.2.1 (PyPI) writes it
    (src/boltz/data/write/writer.py, ``BoltzWriter`` and ``BoltzAffinityWriter``): the
    samples numbered by rank of confidence_score, the confidence summary with its keys
    in Boltz's order (indent 4), compressed npz files keyed plddt, pae and pde, and the
    pLDDT x 100 in the structure's B-factors. Each sample's structure is the real
    ColabFold model (as mmCIF) moved by its own distance; the numbers are made up. The
    predictions folder."""
    out = root / f"boltz_results_{stem}"
    (out / "processed" / "records").mkdir(parents=True)
    (out / "processed" / "manifest.json").write_text(json.dumps({"records": [{"id": stem}]}))
    (out / "processed" / "records" / f"{stem}.json").write_text(json.dumps({"id": stem}))
    predictions = out / "predictions" / stem
    predictions.mkdir(parents=True)
    base = gemmi.read_structure(str(model))
    tokens = len(base[0]["A"]) + 1  # the residues and the ligand's one token here
    samples = []
    for sample, plddt in enumerate(SAMPLE_PLDDT):
        ptm, iptm = plddt - 0.06, plddt - 0.15
        confidence = {
            "confidence_score": 0.8 * plddt + 0.2 * iptm,
            "ptm": ptm,
            "iptm": iptm,
            "ligand_iptm": iptm,
            "protein_iptm": 0.0,
            "complex_plddt": plddt,
            "complex_iplddt": plddt - 0.03,
            "complex_pde": 0.8 + sample / 10,
            "complex_ipde": 2.1 + sample / 10,
            "chains_ptm": {"0": ptm, "1": ptm - 0.1},
            "pair_chains_iptm": {"0": {"0": ptm, "1": iptm}, "1": {"0": iptm, "1": ptm - 0.1}},
        }
        samples.append((sample, plddt, confidence))
    ranked = sorted(samples, key=lambda s: s[2]["confidence_score"], reverse=True)
    for rank, (sample, plddt, confidence) in enumerate(ranked):
        structure = base.clone()
        for residue in structure[0]["A"]:
            for atom in residue:
                atom.pos = gemmi.Position(atom.pos.x + 3.0 * sample, atom.pos.y, atom.pos.z)
                atom.b_iso = plddt * 100
        structure.setup_entities()
        structure.make_mmcif_document().write_file(str(predictions / f"{stem}_model_{rank}.cif"))
        (predictions / f"confidence_{stem}_model_{rank}.json").write_text(
            json.dumps(confidence, indent=4)
        )
        name = f"{stem}_model_{rank}.npz"
        np.savez_compressed(predictions / f"plddt_{name}", plddt=np.full(tokens, plddt))
        np.savez_compressed(predictions / f"pae_{name}", pae=np.full((tokens, tokens), 1.5))
        np.savez_compressed(predictions / f"pde_{name}", pde=np.full((tokens, tokens), 0.9))
    np.savez_compressed(predictions / f"pre_affinity_{stem}.npz", coords=np.zeros((1, 3)))
    affinity = {
        "affinity_pred_value": 0.42,
        "affinity_probability_binary": 0.37,
        "affinity_pred_value1": 0.51,
        "affinity_probability_binary1": 0.33,
        "affinity_pred_value2": 0.33,
        "affinity_probability_binary2": 0.41,
    }
    (predictions / f"affinity_{stem}.json").write_text(json.dumps(affinity, indent=4))
    return predictions


def test_reads_a_boltz_2_output_folder(shared_fixtures: Path, tmp_path: Path) -> None:
    predictions = boltz_2_folder(shared_fixtures / MODEL_PDB, tmp_path, "input")

    models = read_boltz_models(predictions, "input", proteins=1, ligands=1)

    assert [(m.rank, m.model) for m in models] == [(1, "model_0"), (2, "model_1"), (3, "model_2")]
    # Best first: samples 2, 0 and 1, each with its own structure and confidences.
    for model, sample in zip(models, (2, 0, 1), strict=True):
        plddt = SAMPLE_PLDDT[sample] * 100
        assert model.plddt == pytest.approx(plddt)
        structure = gemmi.read_structure(str(model.structure))
        atoms = [a for r in structure[0][0] for a in r]
        assert {round(a.b_iso, 2) for a in atoms} == {round(plddt, 2)}
        first = gemmi.read_structure(str(shared_fixtures / MODEL_PDB))[0]["A"][0][0]
        assert atoms[0].pos.x == pytest.approx(first.pos.x + 3.0 * sample, abs=1e-3)
        assert model.ptm == pytest.approx(SAMPLE_PLDDT[sample] - 0.06)
        assert model.iptm == pytest.approx(SAMPLE_PLDDT[sample] - 0.15)
        assert model.extra["protein_iptm"] is None and model.extra["ligand_iptm"] == model.iptm
        assert [suffix for _, suffix, _ in model.attachments] == [
            "confidence.json",
            "plddt.npz",
            "pae.npz",
            "pde.npz",
        ]
    scores = [m.ranking_score for m in models]
    assert scores == sorted(scores, reverse=True)
    assert read_boltz_affinity(predictions, "input") == {
        "affinity_pred_value": 0.42,
        "affinity_ic50_um": pytest.approx(10**0.42, rel=1e-3),
        "affinity_probability_binary": 0.37,
    }


def test_progress_follows_the_phases() -> None:
    progress = BoltzProgress(affinity=True)
    assert progress("Checking input data.") == (0.02, "preparing the input")
    assert progress("Running structure prediction for 1 input.") == (
        0.1,
        "predicting the structure",
    )
    fraction, message = progress("Predicting DataLoader 0:  50%|#####     | 1/2") or (0, "")
    assert fraction == pytest.approx(0.45) and message == "predicting the structure: 50%"
    assert progress("Running affinity prediction for 1 input.") == (
        0.8,
        "predicting the binding affinity",
    )
    assert progress("Predicting DataLoader 0: 100%|##########| 1/1") == (
        1.0,
        "predicting the binding affinity: 100%",
    )
    assert progress("a warning from Lightning") is None


# -- whole jobs ------------------------------------------------------------------


def test_prediction_job_with_ligands_and_affinity(
    real: tuple[JobService, Any], standin: Path, shared_fixtures: Path
) -> None:
    service, alice = real
    sequence = model_sequence(shared_fixtures)
    inputs = [proteins(f">ERR550519\n{sequence}\n"), ligands(f"{ASPIRIN} aspirin\nccd=SAH\n")]
    settings = {"diffusion_samples": 2, "affinity": True, "seed": 11}
    quote = service.quote(alice, "boltz-2", inputs, settings)
    assert quote.blocking_errors == ()
    expected_cost = 5 + 13 * 2 * 2 + 2 * 2 + 10
    assert quote.estimated_credits == expected_cost

    job = submit_and_run(service, alice, inputs, settings)

    assert job.status is JobStatus.COMPLETED, job.error
    assert job.credits_charged == expected_cost
    assert service.account(alice).available_credits == 500 - expected_cost
    assert job.result is not None
    folder = service.files.job_dir(job.id)
    for file in job.result.files:
        assert "/" not in file.name and (folder / file.name).stat().st_size == file.size
    names = [f.name for f in job.result.files]
    assert names[:4] == [
        "complex_rank_1.cif",
        "complex_rank_1_confidence.json",
        "complex_rank_1_plddt.npz",
        "complex_rank_1_pae.npz",
    ]
    assert {"complex_affinity.json", "complex_input.yaml", "complex_boltz_log.txt"} <= set(names)

    rows = job.result.rows
    assert [(r["rank"], r["model"]) for r in rows] == [(1, "model_0"), (2, "model_1")]
    for row in rows:
        raw = json.loads((folder / f"complex_rank_{row['rank']}_confidence.json").read_text())
        assert row["mean_plddt"] == round(raw["complex_plddt"] * 100, 2)
        assert (row["ptm"], row["iptm"]) == (round(raw["ptm"], 4), round(raw["iptm"], 4))
        assert row["ranking_score"] == round(raw["confidence_score"], 4)
        assert 0 < row["mean_plddt"] <= 100
    cif = gemmi.read_structure(str(folder / "complex_rank_1.cif"))
    assert cif[0].count_atom_sites() == 1069
    pae = np.load(folder / "complex_rank_1_pae.npz")["pae"]
    assert pae.shape == (len(sequence) + 2, len(sequence) + 2)

    fields = job.result.fields
    assert (fields["chains"], fields["residues"], fields["ligands"]) == (1, len(sequence), 2)
    assert fields["mean_plddt"] == rows[0]["mean_plddt"]
    assert fields["best_structure"] == "complex_rank_1.cif"
    assert fields["affinity_ligand"] == "aspirin"
    assert fields["affinity_pred_value"] == -0.73
    assert fields["affinity_probability_binary"] == 0.64

    log = (folder / "complex_boltz_log.txt").read_text()
    assert "boltz stand-in (not the real Boltz-2)" in log
    for flag in (
        "predict input.yaml",
        "--diffusion_samples 2",
        "--recycling_steps 3",
        "--seed 11",
        f"--cache {standin}",
        "--model boltz2",
        "--write_full_pae",
    ):
        assert flag in log
    assert "--use_msa_server" not in log
    document = yaml.safe_load((folder / "complex_input.yaml").read_text())
    assert document["sequences"][0]["protein"] == {"id": "A", "sequence": sequence, "msa": "empty"}
    assert document["sequences"][1] == {"ligand": {"id": "B", "smiles": ASPIRIN}}
    assert document["properties"] == [{"affinity": {"binder": "B"}}]
    messages = [e.data.get("progress_message") for e in service.events(alice, job.id)]
    assert "predicting the structure: 100%" in messages


def residue_bfactors(path: Path) -> list[float]:
    """Each residue's B-factor, read here with gemmi: in a Boltz-2 model every atom of
    a residue carries the residue's pLDDT x 100, so check that and take it."""
    values = []
    for chain in gemmi.read_structure(str(path))[0]:
        for residue in chain:
            atoms = {round(atom.b_iso, 2) for atom in residue}
            assert len(atoms) == 1, (residue, atoms)
            values.append(atoms.pop())
    return values


def test_each_rank_holds_one_sample_structure_and_confidences_together(
    real: tuple[JobService, Any], standin: Path, shared_fixtures: Path
) -> None:
    """Five samples, each its own structure: every published rank's structure, pLDDT
    and confidence file belong to one and the same sample, best first."""
    service, alice = real
    sequence = model_sequence(shared_fixtures)
    job = submit_and_run(
        service, alice, [proteins(f">ERR550519\n{sequence}\n")], {"diffusion_samples": 5}
    )
    assert job.status is JobStatus.COMPLETED, job.error
    assert job.result is not None
    folder = service.files.job_dir(job.id)
    rows = job.result.rows
    assert [(row["rank"], row["model"]) for row in rows] == [
        (rank, f"model_{rank - 1}") for rank in range(1, 6)
    ]
    scores = [row["ranking_score"] for row in rows]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 5
    first_atoms = set()
    for row in rows:
        stem = f"complex_rank_{row['rank']}"
        bfactors = residue_bfactors(folder / f"{stem}.cif")
        plddt = np.load(folder / f"{stem}_plddt.npz")["plddt"]
        confidence = json.loads((folder / f"{stem}_confidence.json").read_text())
        assert len(bfactors) == len(plddt) == len(sequence)
        assert np.allclose(np.array(bfactors) / 100, plddt, atol=1e-4)
        assert confidence["complex_plddt"] == pytest.approx(float(np.mean(plddt)), abs=1e-6)
        assert row["mean_plddt"] == pytest.approx(float(np.mean(bfactors)), abs=0.01)
        assert row["ranking_score"] == round(confidence["confidence_score"], 4)
        structure = gemmi.read_structure(str(folder / f"{stem}.cif"))
        first_atoms.add(tuple(round(v, 3) for v in structure[0][0][0][0].pos.tolist()))
    assert len(first_atoms) == 5  # five different structures
    fields = job.result.fields
    assert fields["best_structure"] == "complex_rank_1.cif"
    assert fields["mean_plddt"] == max(row["mean_plddt"] for row in rows)


def test_missing_program_fails_at_once_and_costs_nothing(
    real: tuple[JobService, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, alice = real
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("PIQ_BOLTZ_BIN", raising=False)
    job = submit_and_run(service, alice, [proteins(">p\nMIPIKRSSRRWKKKGRMRW\n")])
    assert job.status is JobStatus.FAILED and job.error is not None
    for words in ("boltz program was not found on PATH", "pip install boltz", "PIQ_BOLTZ_BIN"):
        assert words in job.error
    assert job.started_at is None and job.credits_charged == 0
    assert service.account(alice).available_credits == 500


def test_a_wrong_program_setting_is_named(
    real: tuple[JobService, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, alice = real
    monkeypatch.setenv("PIQ_BOLTZ_BIN", str(tmp_path / "no-such-boltz"))
    job = submit_and_run(service, alice, [proteins(">p\nMIPIKRSSRRWKKKGRMRW\n")])
    assert job.status is JobStatus.FAILED and job.error is not None
    assert "PIQ_BOLTZ_BIN is set to" in job.error and "not an executable program" in job.error


def test_missing_weights_fail_at_once_naming_the_cache(
    real: tuple[JobService, Any], standin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, alice = real
    monkeypatch.setenv("PIQ_BOLTZ_CACHE", str(tmp_path / "empty-cache"))
    job = submit_and_run(service, alice, [proteins(">p\nMIPIKRSSRRWKKKGRMRW\n")])
    assert job.status is JobStatus.FAILED and job.error is not None
    for words in ("boltz2_conf.ckpt", "mols/", "PIQ_BOLTZ_CACHE", "BOLTZ_CACHE", "~/.boltz"):
        assert words in job.error
    assert job.credits_charged == 0 and service.account(alice).available_credits == 500


def test_missing_affinity_weights_fail_before_the_program_runs(
    real: tuple[JobService, Any], standin: Path
) -> None:
    service, alice = real
    (standin / "boltz2_aff.ckpt").unlink()
    inputs = [proteins(">p\nMIPIKRSSRRWKKKGRMRW\n"), ligands("CCO ethanol\n")]
    job = submit_and_run(service, alice, inputs, {"affinity": True})
    assert job.status is JobStatus.FAILED and job.error is not None
    assert "boltz2_aff.ckpt" in job.error
    assert not (service.files.job_dir(job.id) / "input.yaml").exists()
    assert job.credits_charged == 0 and service.account(alice).available_credits == 500


def test_a_failing_program_fails_the_job_with_its_log(
    real: tuple[JobService, Any], standin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, alice = real
    monkeypatch.setenv("STANDIN_MODE", "fail")
    inputs = [proteins(">a\nMIPIKRSSRRW\n>b\nMKTAYIAKQR\n"), ligands("ccd=ATP\n")]
    job = submit_and_run(service, alice, inputs, {"use_msa_server": True})
    assert job.status is JobStatus.FAILED and job.error is not None
    assert "boltz exited with status 1" in job.error
    assert "CUDA out of memory (stand-in)" in job.error
    assert job.credits_charged == 0 and service.account(alice).available_credits == 500
    folder = service.files.job_dir(job.id)
    text = (folder / "input.yaml").read_text()
    assert '"empty"' not in text and 'ccd: "ATP"' in text
    assert "--use_msa_server" in (folder / "complex_boltz_log.txt").read_text()


def test_no_output_after_a_normal_exit_fails_the_job(
    real: tuple[JobService, Any], standin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, alice = real
    monkeypatch.setenv("STANDIN_MODE", "no-output")
    job = submit_and_run(service, alice, [proteins(">p\nMIPIKRSSRRWKKKGRMRW\n")])
    assert job.status is JobStatus.FAILED and job.error is not None
    assert "boltz exited normally but wrote no structures" in job.error
    assert "boltz_out/boltz_results_input/predictions/input" in job.error
    assert "Predicting DataLoader 0: 100%" in job.error


# -- input, batches and the catalogue ------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "settings", "expected"),
    [
        ([proteins(">p1\nMKTAJY\n")], {}, "record 'p1', line 2, character 5"),
        (
            [proteins(">p\nMKT\n"), ligands("CCO ethanol\nC1CC( broken\n")],
            {},
            "ligand 2 ('broken'), line 2, character 1: RDKit cannot parse the SMILES 'C1CC('",
        ),
        (
            [proteins(">p\nMKT\n"), ligands("ccd=TOOLONG\n")],
            {},
            "'TOOLONG' is not a CCD code",
        ),
        ([proteins(">p\nMKT\n")], {"affinity": True}, "the affinity needs a ligand"),
        (
            [proteins(">p\nMKT\n"), ligands("CCO\n")],
            {"affinity": True, "affinity_ligand": 2},
            "settings.affinity_ligand is 2 but the input has 1 ligand(s)",
        ),
    ],
)
def test_bad_input_is_refused_naming_its_place(
    inputs: list[JobInput], settings: dict[str, Any], expected: str
) -> None:
    tool = Boltz2()
    with pytest.raises(ValidationError) as caught:
        tool.validate(inputs, tool.parse_settings(settings))
    assert expected in caught.value.message


def test_settings_out_of_range_are_refused() -> None:
    for field, value in (("diffusion_samples", 6), ("recycling_steps", 0), ("seed", -1)):
        with pytest.raises(ValidationError) as caught:
            Boltz2().parse_settings({field: value})
        assert caught.value.errors[0]["field"] == f"settings.{field}"


BATCH = f"""# name, chains, ligands
lysozyme-sah MKTAYIAKQR:mkvlaagivg ccd=SAH
MIPIKRSSRRWKKKGRMRW smiles={ASPIRIN}

MKTAYIAK
"""


def test_batch_input_gives_one_job_per_line() -> None:
    tool = Boltz2()
    settings = tool.parse_settings({})
    items = tool.batch_items([proteins(BATCH), ligands("CCO ethanol\n")], settings)
    assert len(items) == 3
    first = {i.slot_id: i for i in items[0]}
    assert first["proteins"].label == "lysozyme-sah"
    assert first["proteins"].content == ">lysozyme-sah_A\nMKTAYIAKQR\n>lysozyme-sah_B\nMKVLAAGIVG\n"
    assert first["ligands"].content == "ccd=SAH ligand 1\nsmiles=CCO ethanol\n"
    assert items[1][0].label == "line 3"
    assert items[1][1].content == f"smiles={ASPIRIN} ligand 1\nsmiles=CCO ethanol\n"
    for item in items:
        tool.validate(item, settings)
    assert tool.estimate(items[0], settings).credits == 5 + 2 * 2 + 2


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("MKT smiles=C1CC(", "line 3, character 12: RDKit cannot parse the SMILES 'C1CC('"),
        ("MKTXZ", "line 3, character 5: 'Z' (residue 5 of chain 1) is not allowed"),
        ("MKT weight=3", "line 3, character 5: unknown field 'weight=3'"),
        ("MKT ccd=", "line 3, character 9: ccd= has no value"),
        ("a b c", "found 3 fields"),
    ],
)
def test_a_bad_batch_line_is_named(line: str, expected: str) -> None:
    tool = Boltz2()
    with pytest.raises(ValidationError) as caught:
        tool.batch_items([proteins(f"# header\nMKTAYIAKQR\n{line}\n")], tool.parse_settings({}))
    assert expected in caught.value.message


def test_batch_with_a_bad_line_creates_nothing(real: tuple[JobService, Any]) -> None:
    service, alice = real
    with pytest.raises(ValidationError, match="line 6, character 1: 'B'"):
        service.submit_batch_input(alice, "boltz-2", [proteins(BATCH + "BAD\n")])
    assert service.list_jobs(alice).items == []
    summary = service.submit_batch_input(alice, "boltz-2", [proteins(BATCH)], {"seed": 3})
    assert summary.total == 3
    assert summary.batch.reserved_credits == (5 + 2 * 2 + 1) + (5 + 2 * 2 + 1) + (5 + 1 * 2)


def test_catalogue_describes_a_priced_gpu_tool() -> None:
    assert isinstance(ToolRegistry.from_entry_points(only="boltz-2").get("boltz-2"), Boltz2)
    detail = json.loads(json.dumps(api.ToolDetail.of(Boltz2).model_dump()))
    assert detail["processing"]["gpu"] is True
    assert detail["processing"]["batch_input"] is True
    assert detail["credit_model"]["is_free"] is False
    assert detail["credit_model"]["rates"]["per_10_residues_per_sample"] == 2
    settings = detail["input"]["settings"]["properties"]
    limits = {name: (s.get("minimum"), s.get("maximum")) for name, s in settings.items()}
    assert limits["diffusion_samples"] == (1, 5)
    assert limits["recycling_steps"] == (1, 10)
    assert settings["recycling_steps"]["default"] == 3
    assert settings["use_msa_server"]["default"] is False
    assert [slot["id"] for slot in detail["input"]["slots"]] == ["proteins", "ligands"]
    assert detail["limits"]["max_batch_items"] == 50
