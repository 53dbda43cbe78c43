"""autodock-vina on the real BACE-1 receptor: poses read back with RDKit and gemmi,
the receptor cache observed on disk, validation that names the ligand at fault, and
batches run through the job service on both stores.

Docking here uses small boxes, exhaustiveness 1 and few poses so each run takes a
second or two; one slow test docks at exhaustiveness 8 in the box of the crystal
ligand. The receptor is prepared once per module (the first job) and later jobs copy
that cache entry, as jobs sharing an installation do.
"""

from __future__ import annotations

import ctypes
import faulthandler
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import gemmi
import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import rdDistGeom

from proteiniq_jupyter import api
from proteiniq_jupyter.execution.inprocess import run_job
from proteiniq_jupyter.jobs.errors import ValidationError
from proteiniq_jupyter.jobs.model import JobInput, ToolResult
from proteiniq_jupyter.jobs.service import JobService
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.pdb_archive import PdbArchive
from proteiniq_jupyter.store.sql_store import DirectoryJobFiles, SqlStore
from proteiniq_jupyter.tools.base import RunContext
from proteiniq_jupyter.tools.registry import ToolRegistry
from proteiniq_jupyter.tools.vina import (
    INSTALL_HINT,
    RECEPTOR_CACHE,
    AutodockVina,
    Box,
    PreparationError,
    ReceptorOptions,
    VinaSettings,
    dock,
    prepare_ligand,
    prepare_receptor,
    receptor_cache_key,
)
from proteiniq_jupyter.tools.vina import preparation as vina_preparation
from proteiniq_jupyter.tools.vina import receptor as vina_receptor
from proteiniq_jupyter.tools.vina import tool as vina_tool
from proteiniq_jupyter.tools.vina.box import docking_box
from tests.helpers import PdbEntryServer
from tests.tools.vina_poses import assert_poses_are_vinas

RECEPTOR = "docking/BACE_1_receptorH.pdb"
CRYSTAL_LIGAND = "docking/BACE_1_ligand.mol2"
#: The middle of the crystal ligand's extent: the BACE-1 active site.
SITE = {"center_x": 28.5, "center_y": 6.0, "center_z": 14.4}
SMALL_BOX = {**SITE, "size_x": 16.0, "size_y": 16.0, "size_z": 16.0}
FAST = {**SMALL_BOX, "exhaustiveness": 1, "num_poses": 3, "energy_range": 5.0}
PARACETAMOL = "CC(=O)Nc1ccc(O)cc1"
TOOL = AutodockVina()
REGISTRY = ToolRegistry([TOOL])


def item(slot: str, fmt: str, content: str, label: str | None = None) -> JobInput:
    return JobInput(
        id=f"in_{slot}", slot_id=slot, kind="x", format=fmt, content=content, label=label
    )


def receptor_input(fixtures: Path) -> JobInput:
    return item("receptor", "pdb", (fixtures / RECEPTOR).read_text(), "BACE_1_receptorH.pdb")


def run_tool(
    inputs: list[JobInput], raw: dict[str, Any], workdir: Path, cache_root: Path
) -> ToolResult:
    settings = TOOL.parse_settings(raw)
    TOOL.validate(inputs, settings)
    return TOOL.run(inputs, settings, RunContext(workdir, cache_root=cache_root))


def error_of(inputs: list[JobInput], raw: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        TOOL.validate(inputs, TOOL.parse_settings(raw))
    return info.value.message


@dataclass(frozen=True)
class FirstJob:
    result: ToolResult
    workdir: Path
    cache: Path  # the cache root the job used
    seconds: float


@pytest.fixture(scope="module")
def first_job(shared_fixtures: Path, tmp_path_factory: pytest.TempPathFactory) -> FirstJob:
    """The first job on the receptor, with an empty cache: it prepares the receptor."""
    root = tmp_path_factory.mktemp("vina-first")
    inputs = [
        receptor_input(shared_fixtures),
        item("ligands", "smiles", f"{PARACETAMOL} paracetamol"),
    ]
    started = time.perf_counter()
    result = run_tool(inputs, FAST, root / "job", root / "cache")
    return FirstJob(result, root / "job", root / "cache", time.perf_counter() - started)


def seeded_cache(first: FirstJob, cache_root: Path) -> Path:
    """A new installation's cache holding the receptor the first job prepared."""
    shutil.copytree(first.cache / RECEPTOR_CACHE, cache_root / RECEPTOR_CACHE, dirs_exist_ok=True)
    return cache_root


def read_sdf(path: Path) -> list[Chem.Mol]:
    mols = list(Chem.SDMolSupplier(str(path), removeHs=False))
    assert all(m is not None for m in mols), "an SD record does not read back"
    return mols


def check_poses(result: ToolResult, workdir: Path, ligands: int = 1) -> list[Chem.Mol]:
    """Rows, fields and poses.sdf agree; affinities are negative and best first; each
    pose is the matching model of Vina's own output, with the RMSDs Vina gave it."""
    affinities = [row["affinity"] for row in result.rows]
    assert affinities == sorted(affinities) and all(a < 0 for a in affinities)
    assert result.fields["poses"] == len(result.rows) >= 1
    assert result.fields["best_affinity"] == affinities[0]
    assert result.rows[0]["rmsd_lb"] == result.rows[0]["rmsd_ub"] == 0.0
    mols = read_sdf(workdir / "poses.sdf")
    assert len(mols) == len(result.rows) * ligands
    for mol in mols:
        row = result.rows[int(mol.GetProp("pose")) - 1]
        assert float(mol.GetProp("affinity")) == pytest.approx(row["affinity"])
        assert float(mol.GetProp("rmsd_ub")) == pytest.approx(row["rmsd_ub"])
        assert mol.GetConformer().Is3D()
        assert any(atom.GetAtomicNum() == 1 for atom in mol.GetAtoms())
    assert_poses_are_vinas(workdir, result.rows)
    return mols


# -- docking --------------------------------------------------------------------


def test_first_job_prepares_the_receptor_and_docks(
    first_job: FirstJob, shared_fixtures: Path
) -> None:
    result, workdir = first_job.result, first_job.workdir
    print(f"\nfirst job (receptor preparation and docking): {first_job.seconds:.1f} s")
    assert result.fields["receptor_cached"] is False
    assert result.fields["box_source"] == "settings"
    assert {f.name for f in result.files} == {
        "receptor.pdbqt",
        "poses.sdf",
        "poses.pdbqt",
        "complex.pdb",
    }
    for f in result.files:
        assert (workdir / f.name).stat().st_size == f.size
    mols = check_poses(result, workdir)
    assert len(mols) <= 3
    expected = Chem.MolFromSmiles(PARACETAMOL)
    for mol in mols:
        assert mol.GetProp("_Name") == "paracetamol"
        assert Chem.MolToSmiles(Chem.RemoveHs(mol)) == Chem.MolToSmiles(expected)
        box = Box((SITE["center_x"], SITE["center_y"], SITE["center_z"]), (16.0, 16.0, 16.0))
        heavy = [
            p
            for a, p in zip(mol.GetAtoms(), mol.GetConformer().GetPositions(), strict=True)
            if a.GetAtomicNum() > 1
        ]
        assert all(box.contains(tuple(p)) for p in heavy)

    # The prepared receptor: every atom of the input (it already has hydrogens) typed
    # for AutoDock, non-polar hydrogens merged into their carbons; nothing was
    # missing, so nothing was repaired.
    receptor_lines = [
        line
        for line in (workdir / "receptor.pdbqt").read_text().splitlines()
        if line.startswith("ATOM")
    ]
    types = {line[77:].strip() for line in receptor_lines}
    assert {"A", "C", "N", "NA", "OA", "HD"} <= types and "H" not in types
    original = gemmi.read_pdb_string((shared_fixtures / RECEPTOR).read_text())
    heavy_atoms = sum(1 for r in original[0].all() if r.atom.element.name != "H")
    assert sum(1 for line in receptor_lines if line[77:].strip() != "HD") == heavy_atoms
    assert result.fields["receptor_repairs"] == ""
    assert (result.fields["residues_repaired"], result.fields["residues_left_out"]) == (0, 0)

    # The complex: the receptor as PDB plus the best pose as residue LIG.
    complex_ = gemmi.read_structure(str(workdir / "complex.pdb"))
    ligand_chain = [c for c in complex_[0] if c[0].name == "LIG"]
    assert len(ligand_chain) == 1 and len(ligand_chain[0]) == 1
    best = mols[0]
    assert complex_[0].count_atom_sites() == len(receptor_lines) + best.GetNumAtoms()
    placed = np.array([a.pos.tolist() for a in ligand_chain[0][0]])
    assert np.allclose(placed, best.GetConformer().GetPositions(), atol=1e-3)


def test_second_job_on_the_same_receptor_uses_the_cache(
    first_job: FirstJob, shared_fixtures: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = first_job.cache / RECEPTOR_CACHE
    # One receptor and its report, no temporary file left behind.
    entry, notes = sorted(folder.iterdir(), key=lambda path: path.suffix != ".pdbqt")
    key = receptor_cache_key((shared_fixtures / RECEPTOR).read_text(), ReceptorOptions())
    assert (entry.name, notes.name) == (f"{key}.pdbqt", f"{key}.json")
    assert entry.read_text() == (first_job.workdir / "receptor.pdbqt").read_text()
    stamp = entry.stat().st_mtime_ns

    def no_preparation(*_: Any, **__: Any) -> str:
        raise AssertionError("the receptor was prepared again")

    monkeypatch.setattr(vina_preparation, "prepare_receptor_reported", no_preparation)
    inputs = [receptor_input(shared_fixtures), item("ligands", "smiles", "c1ccccc1O phenol")]
    result = run_tool(inputs, FAST, tmp_path / "job", first_job.cache)
    assert result.fields["receptor_cached"] is True
    # The report of the first preparation comes back with the cached receptor.
    assert (result.fields["residues_repaired"], result.fields["receptor_repairs"]) == (0, "")
    assert sorted(folder.iterdir()) == sorted([entry, notes])
    assert entry.stat().st_mtime_ns == stamp
    assert (tmp_path / "job" / "receptor.pdbqt").read_text() == entry.read_text()
    check_poses(result, tmp_path / "job")
    # Other preparation options make another receptor, so they key another entry.
    text = (shared_fixtures / RECEPTOR).read_text()
    assert receptor_cache_key(text, ReceptorOptions(delete_bad_residues=True)) != key
    assert receptor_cache_key(text, ReceptorOptions(ph=6.0)) != key


def test_simultaneous_mode_docks_two_sdf_ligands_together(
    first_job: FirstJob, shared_fixtures: Path, tmp_path: Path
) -> None:
    sdf = ""
    for name, smiles in (("phenol", "c1ccccc1O"), ("ethanol", "CCO")):
        mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
        rdDistGeom.EmbedMolecule(mol, randomSeed=7)
        mol.SetProp("_Name", name)
        sdf += Chem.MolToMolBlock(mol) + "$$$$\n"
    inputs = [receptor_input(shared_fixtures), item("ligands", "sdf", sdf)]
    raw = {**FAST, "mode": "simultaneous"}
    assert TOOL.estimate(inputs, TOOL.parse_settings(raw)).credits == 2
    result = run_tool(inputs, raw, tmp_path / "job", seeded_cache(first_job, tmp_path / "cache"))
    assert result.fields["receptor_cached"] is True
    assert (result.fields["mode"], result.fields["ligands"]) == ("simultaneous", 2)
    assert {row["ligand"] for row in result.rows} == {"phenol + ethanol"}
    mols = check_poses(result, tmp_path / "job", ligands=2)
    for rank in range(1, len(result.rows) + 1):
        pose = [m for m in mols if m.GetProp("pose") == str(rank)]
        assert [m.GetProp("_Name") for m in pose] == ["phenol", "ethanol"]
        # Docked together: the two molecules do not overlap.
        a, b = (m.GetConformer().GetPositions() for m in pose)
        assert np.linalg.norm(a[:, None] - b[None], axis=-1).min() > 1.5
    # Vina writes both ligands into every MODEL of its output.
    models = (tmp_path / "job" / "poses.pdbqt").read_text().split("ENDMDL")[:-1]
    assert len(models) == len(result.rows) and all(
        m.splitlines().count("ROOT") == 2 for m in models
    )
    complex_ = gemmi.read_structure(str(tmp_path / "job" / "complex.pdb"))
    assert [r.name for c in complex_[0] for r in c if r.name == "LIG"] == ["LIG", "LIG"]


def test_dock_function_is_repeatable_with_a_seed(first_job: FirstJob) -> None:
    """The plain functions a benchmark calls: the same seed gives the same poses."""
    [receptor] = list((first_job.cache / RECEPTOR_CACHE).glob("*.pdbqt"))
    ligand = prepare_ligand("CCc1ccccc1O", name="2-ethylphenol")
    assert "REMARK SMILES" in ligand and "TORSDOF" in ligand
    box = Box((28.5, 6.0, 14.4), (14.0, 14.0, 14.0))
    settings = VinaSettings(exhaustiveness=1, num_poses=3, seed=1234)
    first = dock(receptor, [ligand], box, settings, cpu=1)
    again = dock(receptor.read_text(), [ligand], box, settings, cpu=2)
    assert first.seed == again.seed == 1234
    assert first.poses == again.poses and first.pdbqt == again.pdbqt
    assert first.pdbqt.count("REMARK VINA RESULT") == len(first.poses)


@pytest.mark.slow
def test_real_docking_in_the_crystal_ligand_box(
    first_job: FirstJob, shared_fixtures: Path, tmp_path: Path
) -> None:
    """Exhaustiveness 8 in the box of BACE-1's crystal ligand (padding 4 Å)."""
    ligand = "CC(C)Cc1ccc(cc1)[C@@H](C)C(=O)O ibuprofen\n"
    inputs = [
        receptor_input(shared_fixtures),
        item("ligands", "smiles", ligand),
        item("reference_ligand", "mol2", (shared_fixtures / CRYSTAL_LIGAND).read_text()),
    ]
    raw = {"exhaustiveness": 8, "num_poses": 9, "energy_range": 10.0}
    started = time.perf_counter()
    result = run_tool(inputs, raw, tmp_path / "job", seeded_cache(first_job, tmp_path / "cache"))
    seconds = time.perf_counter() - started
    print(f"\nexhaustiveness 8, {result.fields['poses']} poses: {seconds:.1f} s")
    assert result.fields["box_source"] == "reference_ligand"
    crystal = Chem.MolFromMol2File(
        str(shared_fixtures / CRYSTAL_LIGAND), removeHs=False, sanitize=False
    )
    positions = crystal.GetConformer().GetPositions()
    middle = (positions.min(0) + positions.max(0)) / 2
    size = positions.max(0) - positions.min(0) + 8.0
    fields = result.fields
    assert np.allclose([fields[f"box_center_{a}"] for a in "xyz"], middle, atol=1e-3)
    assert np.allclose([fields[f"box_size_{a}"] for a in "xyz"], size, atol=1e-3)
    mols = check_poses(result, tmp_path / "job")
    assert len(mols) == len(result.rows) == 9
    assert result.fields["best_affinity"] < -5.0
    # Vina moves torsions only: every pose keeps the input's stereocentre.
    expected = Chem.MolToSmiles(Chem.MolFromSmiles(ligand.split()[0]))
    assert all(Chem.MolToSmiles(Chem.RemoveHs(m)) == expected for m in mols)


# -- validation -----------------------------------------------------------------


@pytest.fixture
def receptor(shared_fixtures: Path) -> JobInput:
    return receptor_input(shared_fixtures)


def test_bad_smiles_names_the_ligand(receptor: JobInput) -> None:
    ligands = item("ligands", "smiles", f"{PARACETAMOL} paracetamol\nC1CC(C broken\n")
    message = error_of([receptor, ligands], {**SMALL_BOX, "mode": "simultaneous"})
    assert "molecule 2 ('broken'), line 2" in message and "C1CC(C" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "CC(=O)[O-].[Na+] sodium-acetate",
            "molecule 1 ('sodium-acetate'), line 1: the molecule has 2 separate fragments",
        ),
        (
            "OB(O)c1ccccc1 phenylboronic",
            "molecule 1 ('phenylboronic'), line 1: Vina has no atom type for B",
        ),
        ("C" * 151 + " long", "151 heavy atoms; the limit is 150"),
    ],
)
def test_ligands_vina_cannot_dock_are_refused(
    receptor: JobInput, content: str, expected: str
) -> None:
    assert expected in error_of([receptor, item("ligands", "smiles", content)], SMALL_BOX)


def test_bad_sdf_record_is_named(receptor: JobInput) -> None:
    mol = Chem.MolFromSmiles("CCO")
    good = Chem.MolToMolBlock(mol).replace("\n", "ethanol\n", 1)
    broken = good.replace("ethanol", "broken").replace("0.0000 C ", "0.0000 Xx", 1)
    message = error_of(
        [receptor, item("ligands", "sdf", f"{good}$$$$\n{broken}$$$$\n")],
        {**SMALL_BOX, "mode": "simultaneous"},
    )
    assert "record 2 ('broken')" in message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({}, "no docking box"),
        ({**SITE, "size_x": 10.0, "size_y": 10.0}, "missing size_z"),
        ({**SMALL_BOX, "box_residues": ["A:32"]}, "give exactly one box source"),
        ({"box_residues": ["A:32", "B:228"]}, "the receptor has no residue B:228"),
        ({"box_residues": ["A:32"], "center_x": 1.0}, "give exactly one box source"),
        (
            {
                "center_x": 200.0,
                "center_y": 0.0,
                "center_z": 0.0,
                "size_x": 10.0,
                "size_y": 10.0,
                "size_z": 10.0,
            },
            "holds no receptor atom",
        ),
    ],
)
def test_box_source_problems_are_explained(
    receptor: JobInput, raw: dict[str, Any], expected: str
) -> None:
    ligands = item("ligands", "smiles", "CCO ethanol")
    assert expected in error_of([receptor, ligands], raw)


def test_box_with_a_reference_ligand_and_settings_is_refused(
    receptor: JobInput, shared_fixtures: Path
) -> None:
    reference = item("reference_ligand", "mol2", (shared_fixtures / CRYSTAL_LIGAND).read_text())
    message = error_of([receptor, item("ligands", "smiles", "CCO"), reference], SMALL_BOX)
    assert "the box centre and size in the settings and a reference ligand" in message


def test_box_sizes_are_bounded_in_the_settings() -> None:
    for bad in ({"size_x": 0}, {"size_x": 127}, {"exhaustiveness": 65}, {"num_poses": 0}):
        with pytest.raises(ValidationError) as info:
            TOOL.parse_settings(bad)
        assert f"settings.{next(iter(bad))}" in info.value.message
    with pytest.raises(ValidationError, match="box_residues"):
        TOOL.parse_settings({"box_residues": ["A32"]})


def test_box_around_residues_spans_their_atoms(receptor: JobInput) -> None:
    """The catalytic aspartates: the box is their atoms' extent plus padding."""
    structure = gemmi.read_pdb_string(receptor.content)
    chain = structure[0]["A"]
    points = np.array(
        [a.pos.tolist() for n in (32, 228) for r in chain if r.seqid.num == n for a in r]
    )
    assert len(points) == 2 * 12  # Asp with hydrogens
    box, source = docking_box(
        [],
        VinaSettings(box_residues=["A:32", "A:228"], padding=5),
        vina_receptor.pdb_atoms(receptor.content),
    )
    assert source == "box_residues"
    assert np.allclose(box.center, (points.min(0) + points.max(0)) / 2, atol=1e-3)
    assert np.allclose(box.size, points.max(0) - points.min(0) + 10, atol=1e-3)


def test_ligand_count_must_fit_the_mode(receptor: JobInput) -> None:
    two = item("ligands", "smiles", "CCO a\nCCN b")
    assert "mode 'single' docks one ligand, but the input has 2" in error_of(
        [receptor, two], SMALL_BOX
    )
    one = item("ligands", "smiles", "CCO a")
    assert "docks 2 to 10 ligands together; the input has 1" in error_of(
        [receptor, one], {**SMALL_BOX, "mode": "simultaneous"}
    )
    eleven = item("ligands", "smiles", "".join(f"{'C' * n}O l{n}\n" for n in range(1, 12)))
    assert "the input has 11" in error_of([receptor, eleven], {**SMALL_BOX, "mode": "simultaneous"})
    with pytest.raises(ValidationError, match="a batch docks at most 10 ligands"):
        TOOL.batch_items([receptor, eleven], TOOL.parse_settings(SMALL_BOX))
    with pytest.raises(ValidationError, match="mode must be 'single'"):
        TOOL.batch_items(
            [receptor, two], TOOL.parse_settings({**SMALL_BOX, "mode": "simultaneous"})
        )


def test_receptor_problems_are_located(receptor: JobInput) -> None:
    lines = receptor.content.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("ATOM"))
    lines[at] = lines[at][:30] + "   abc  " + lines[at][38:]
    broken = item("receptor", "pdb", "\n".join(lines))
    message = error_of([broken, item("ligands", "smiles", "CCO")], SMALL_BOX)
    assert f"line {at + 1}, characters 31-38" in message and "'abc'" in message


def test_a_receptor_is_read_once_for_the_jobs_that_share_it(
    receptor: JobInput, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A docking campaign submits one receptor with every ligand: its records are
    checked and read at the first submit only; a job, whose inputs passed those
    checks, reads the atoms only for a box around residues. A broken receptor is
    refused every time."""
    reads: list[int] = []
    real_pdb_atoms = vina_receptor.pdb_atoms

    def counted(text: str) -> list[vina_receptor.PdbAtom]:
        reads.append(len(text))
        return real_pdb_atoms(text)

    # Read where the submit checks it and where a job reads it.
    monkeypatch.setattr(vina_receptor, "pdb_atoms", counted)
    monkeypatch.setattr(vina_tool, "pdb_atoms", counted)
    fresh = item("receptor", "pdb", f"REMARK   1 read once\n{receptor.content}")
    inputs = [fresh, item("ligands", "smiles", "CCO ethanol")]
    for _ in range(3):
        TOOL.validate(inputs, TOOL.parse_settings(SMALL_BOX))
    assert len(reads) == 1
    TOOL._read(inputs, TOOL.parse_settings(SMALL_BOX), checked=True)
    assert len(reads) == 1
    around = {"box_residues": ["A:32", "A:228"]}
    request = TOOL._read(inputs, TOOL.parse_settings(around), checked=True)
    assert len(reads) == 2 and request.box_source == "box_residues"

    broken = item("receptor", "pdb", fresh.content.replace("ATOM  ", "ATOM  x", 1))
    for _ in range(2):
        assert "ATOM record has residue number" in error_of([broken, inputs[1]], SMALL_BOX)


def test_residue_without_template_is_refused_before_meeko_downloads_one(receptor: JobInput) -> None:
    """A kept residue neither meeko nor PDBFixer knows is refused at submit, naming
    it and its line (meeko would otherwise try to download a template)."""
    lines = [line for line in receptor.content.splitlines() if not line.startswith("END")]
    lines.append("HETATM99999  C1  XYZ B 900      28.000   6.000  14.000  1.00  0.00           C")
    odd = item("receptor", "pdb", "\n".join(lines) + "\nEND\n")
    ligands = item("ligands", "smiles", "CCO")
    message = error_of([odd, ligands], {**SMALL_BOX, "remove_heteroatoms": False})
    assert f"residue B:900 (XYZ), line {len(lines)}: meeko has no template for it" in message
    # By default, heteroatoms are left out, and so is this one.
    TOOL.validate([odd, ligands], TOOL.parse_settings(SMALL_BOX))
    with pytest.raises(PreparationError, match=r"B:900 \(XYZ\)"):
        prepare_receptor(odd.content, ReceptorOptions(remove_heteroatoms=False))


# -- the job system ----------------------------------------------------------------


@pytest.fixture
def real(store: SqlStore, tmp_path: Path) -> tuple[JobService, Any]:
    service = JobService(store, REGISTRY, DirectoryJobFiles(tmp_path / "files"))
    return service, service.sign_in("alice", email="alice@lab.example")


def test_bad_smiles_costs_nothing_and_creates_no_job(
    real: tuple[JobService, Any], receptor: JobInput
) -> None:
    service, alice = real
    ligands = item("ligands", "smiles", "CCO ethanol\nc1ccccc1(O bad-phenol\n")
    settings = {**SMALL_BOX, "mode": "simultaneous"}
    quote = service.quote(alice, "autodock-vina", [receptor, ligands], settings)
    assert (
        quote.blocking_errors and "molecule 2 ('bad-phenol')" in quote.blocking_errors[0]["message"]
    )
    with pytest.raises(ValidationError) as info:
        service.submit(alice, "autodock-vina", [receptor, ligands], settings)
    assert "molecule 2 ('bad-phenol'), line 2" in info.value.message
    assert info.value.errors[0]["name"] == "bad-phenol"
    assert service.list_jobs(alice).items == []
    assert service.account(alice).available_credits == 500


def test_batch_input_makes_one_charged_job_per_ligand(
    real: tuple[JobService, Any], receptor: JobInput, first_job: FirstJob
) -> None:
    service, alice = real
    seeded_cache(first_job, service.files.cache_dir())
    ligands = item("ligands", "smiles", "CCO ethanol\nc1ccccc1O phenol\nCC(=O)O acetic-acid\n")
    settings = {**FAST, "num_poses": 2}
    quote = service.quote(
        alice, "autodock-vina", [receptor, item("ligands", "smiles", "CCO")], settings
    )
    summary = service.submit_batch_input(alice, "autodock-vina", [receptor, ligands], settings)
    children = [service.get(alice, job_id).job for job_id in summary.batch.child_ids]
    assert summary.total == len(children) == 3
    assert [c.estimated_credits for c in children] == [quote.estimated_credits] * 3 == [1, 1, 1]
    assert summary.batch.reserved_credits == sum(c.estimated_credits for c in children) == 3
    assert service.account(alice).available_credits == 500 - 3
    names = set()
    for child in children:
        [ligand] = [i for i in child.inputs if i.slot_id == "ligands"]
        assert ligand.content.split()[1] == ligand.label
        assert [i.slot_id for i in child.inputs] == ["receptor", "ligands"]
        names.add(ligand.label)
        run_job(service.runs, REGISTRY, child.id)
    assert names == {"ethanol", "phenol", "acetic-acid"}
    for child in children:
        job = service.get(alice, child.id).job
        assert job.status is JobStatus.COMPLETED, job.error
        assert job.result is not None
        assert job.result.fields["ligand"] == job.inputs[1].label
        assert job.result.fields["receptor_cached"] is True
        assert job.credits_charged == 1
        check_poses(job.result, service.files.job_dir(job.id))
    batch = service.get_batch(alice, summary.batch.id)
    assert batch.status == "COMPLETED" and batch.credits_charged == 3
    assert service.account(alice).available_credits == 500 - 3


def test_batch_without_a_box_or_with_too_many_ligands_is_refused(
    real: tuple[JobService, Any], receptor: JobInput
) -> None:
    service, alice = real
    ligands = item("ligands", "smiles", "CCO a\nCCN b\n")
    with pytest.raises(ValidationError, match="no docking box"):
        service.submit_batch_input(alice, "autodock-vina", [receptor, ligands], {})
    eleven = item("ligands", "smiles", "".join(f"{'C' * n}O l{n}\n" for n in range(1, 12)))
    with pytest.raises(ValidationError, match="at most 10 ligands"):
        service.submit_batch_input(alice, "autodock-vina", [receptor, eleven], SMALL_BOX)
    assert service.list_jobs(alice).items == []
    assert service.account(alice).available_credits == 500


def _crash(*_args: object) -> NoReturn:
    """A crash in native code, as a library's bug would make it: a read of address 0.
    The crash is the expected outcome, so its process prints no traceback dump."""
    faulthandler.disable()
    ctypes.string_at(0)
    raise AssertionError("reading address 0 did not crash the process")


def test_a_crash_while_preparing_the_receptor_fails_its_job_not_the_process(
    real: tuple[JobService, Any], receptor: JobInput, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A native crash of the receptor's preparation ends the process that prepares
    it, not the one that runs the job: here this test's own, as a notebook without a
    server and ``piq run --wait`` run jobs. The job fails with a message saying
    what crashed, its credits come back, and no half-prepared receptor is cached."""
    service, alice = real
    monkeypatch.setattr(vina_preparation, "prepare_receptor_reported", _crash)
    ligands = item("ligands", "smiles", f"{PARACETAMOL} paracetamol")
    job = service.submit(alice, "autodock-vina", [receptor, ligands], FAST)
    run_job(service.runs, REGISTRY, job.id)
    done = service.get(alice, job.id).job
    assert done.status is JobStatus.FAILED
    assert done.error is not None
    assert done.error.startswith("the receptor could not be prepared: preparing the receptor "), (
        done.error
    )
    assert "killed by SIGSEGV" in done.error
    assert service.account(alice).available_credits == 500
    cache = service.files.cache_dir() / RECEPTOR_CACHE
    assert not cache.exists() or not list(cache.iterdir())


def test_a_receptor_named_by_pdb_id_is_fetched_at_submit_and_docked(
    store: SqlStore, tmp_path: Path, shared_fixtures: Path, first_job: FirstJob
) -> None:
    """The receptor as a PDB id: fetched at submit (from a real HTTP server on the
    loopback that answers as the PDB's download service, serving the BACE-1 file as
    entry 1ABC), stored with the job, prepared and docked like an uploaded one."""
    receptor_text = (shared_fixtures / RECEPTOR).read_text()
    archive = PdbEntryServer({"1ABC": receptor_text})
    try:
        service = JobService(
            store,
            REGISTRY,
            DirectoryJobFiles(tmp_path / "files"),
            structures=PdbArchive(archive.url_template),
        )
        alice = service.sign_in("alice", email="alice@lab.example")
        seeded_cache(first_job, service.files.cache_dir())
        receptor = JobInput(
            id="receptor_1",
            slot_id="receptor",
            kind="structure",
            format="",
            content="",
            pdb_id="1abc",
        )
        job = service.submit(
            alice, "autodock-vina", [receptor, item("ligands", "smiles", "CCO ethanol")], FAST
        )
        run_job(service.runs, REGISTRY, job.id)
    finally:
        archive.close()
    done = service.get(alice, job.id).job
    assert done.status is JobStatus.COMPLETED, done.error
    assert api.input_source(done.inputs[0]).model_dump() == {"type": "pdb", "id": "1ABC"}
    assert done.inputs[0].content == receptor_text
    assert done.result is not None
    # The same text as the uploaded receptor: the same cache entry.
    assert done.result.fields["receptor_cached"] is True
    check_poses(done.result, service.files.job_dir(job.id))


# -- catalogue, credits, requirements ---------------------------------------------


def test_catalogue_shows_settings_ranges_and_a_price() -> None:
    detail = json.loads(json.dumps(api.ToolDetail.of(AutodockVina).model_dump()))
    assert detail["id"] == "autodock-vina"
    assert detail["credit_model"]["is_free"] is False
    assert detail["credit_model"]["rates"]["credits_per_ligand"] == 2
    assert detail["processing"] == {
        "gpu": False,
        "prefers_gpu": False,
        "time_limit_s": 3600.0,
        "batch_input": True,
    }
    assert detail["limits"]["max_batch_items"] == detail["limits"]["max_ligands"] == 10
    props = detail["input"]["settings"]["properties"]
    assert (
        props["exhaustiveness"]["default"],
        props["exhaustiveness"]["minimum"],
        props["exhaustiveness"]["maximum"],
    ) == (8, 1, 64)
    assert (
        props["num_poses"]["default"],
        props["num_poses"]["minimum"],
        props["num_poses"]["maximum"],
    ) == (9, 1, 20)
    assert props["energy_range"]["default"] == 3.0 and props["padding"]["default"] == 4.0
    assert props["mode"]["enum"] == ["single", "simultaneous"]
    assert props["scoring"]["enum"] == ["vina", "vinardo"]
    size = next(s for s in props["size_x"]["anyOf"] if s.get("type") == "number")
    assert (size["exclusiveMinimum"], size["maximum"]) == (0, 126.0)
    assert {s["id"]: s["required"] for s in detail["input"]["slots"]} == {
        "receptor": True,
        "ligands": True,
        "reference_ligand": False,
    }
    assert "autodock-vina" in ToolRegistry.from_entry_points(only="autodock-vina")


@pytest.mark.parametrize(
    ("exhaustiveness", "ligands", "credits"), [(8, 1, 2), (1, 1, 1), (12, 3, 9), (64, 2, 32)]
)
def test_price_scales_with_ligands_and_exhaustiveness(
    receptor: JobInput, exhaustiveness: int, ligands: int, credits: int
) -> None:
    content = "".join(f"{'C' * (n + 1)}O l{n}\n" for n in range(ligands))
    mode = "simultaneous" if ligands > 1 else "single"
    settings = TOOL.parse_settings({**SMALL_BOX, "exhaustiveness": exhaustiveness, "mode": mode})
    inputs = [receptor, item("ligands", "smiles", content)]
    TOOL.validate(inputs, settings)
    [line] = TOOL.estimate(inputs, settings).lines
    assert (line.quantity, line.credits) == (ligands, credits)


def test_missing_vina_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    assert TOOL.missing_requirements() is None
    monkeypatch.setitem(sys.modules, "vina", None)
    reason = TOOL.missing_requirements()
    assert reason is not None and INSTALL_HINT in reason and "vina" in reason


def test_module_imports_and_lists_without_vina_or_meeko() -> None:
    code = (
        "import sys, json\n"
        "sys.modules['vina'] = sys.modules['meeko'] = None\n"
        "from proteiniq_jupyter.tools.vina import AutodockVina\n"
        "tool = AutodockVina()\n"
        "from proteiniq_jupyter.api import ToolDetail\n"
        "print(json.dumps([ToolDetail.of(tool).id, tool.missing_requirements()]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    tool_id, reason = json.loads(out.stdout.strip().splitlines()[-1])
    assert tool_id == "autodock-vina" and INSTALL_HINT in reason
