"""The docking box, with no docking run: around a reference ligand given as mol2,
SDF or PDB, and around receptor residues, with the default padding and others.

The expected box is worked out here from coordinates read with RDKit and gemmi:
centred on the middle of the atoms' extent, each side the extent plus the padding
on both ends. It is compared with the box a job would dock in, both as checked at
submit and as read again by the job."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gemmi
import numpy as np
import pytest
from rdkit import Chem

from proteiniq_jupyter.jobs.model import JobInput
from proteiniq_jupyter.tools.vina import AutodockVina, Box

RECEPTOR = "docking/BACE_1_receptorH.pdb"
CRYSTAL_LIGAND = "docking/BACE_1_ligand.mol2"
#: Paddings other than the default (4 Å): none, some, and the most allowed.
PADDINGS = (0.0, 2.5, 7.25, 20.0)
TOOL = AutodockVina()


def item(slot: str, fmt: str, content: str) -> JobInput:
    return JobInput(id=f"in_{slot}", slot_id=slot, kind="x", format=fmt, content=content)


def docking_box(inputs: list[JobInput], raw: dict[str, Any]) -> tuple[Box, str]:
    """The box and its source as the submit check reads them, after checking that a
    job reading its checked inputs again gets the same."""
    settings = TOOL.parse_settings(raw)
    TOOL.validate(inputs, settings)
    at_submit = TOOL._read(inputs, settings)
    in_the_job = TOOL._read(inputs, settings, checked=True)
    assert (in_the_job.box, in_the_job.box_source) == (at_submit.box, at_submit.box_source)
    return at_submit.box, at_submit.box_source


def expected_box(points: Sequence[Sequence[float]], padding: float) -> tuple[Any, Any]:
    array = np.asarray(points, dtype=float)
    low, high = array.min(axis=0), array.max(axis=0)
    return (low + high) / 2, high - low + 2 * padding


def assert_box(box: Box, points: Sequence[Sequence[float]], padding: float) -> None:
    center, size = expected_box(points, padding)
    assert np.allclose(box.center, center, atol=1e-3), (box.center, center)
    assert np.allclose(box.size, size, atol=1e-3), (box.size, size)


@pytest.fixture(scope="module")
def receptor(shared_fixtures: Path) -> JobInput:
    return item("receptor", "pdb", (shared_fixtures / RECEPTOR).read_text())


@pytest.fixture(scope="module")
def crystal(shared_fixtures: Path) -> Chem.Mol:
    """BACE-1's co-crystallised ligand, every atom (hydrogens too) as the file has it."""
    mol = Chem.MolFromMol2File(
        str(shared_fixtures / CRYSTAL_LIGAND), sanitize=False, removeHs=False
    )
    assert mol is not None and mol.GetNumAtoms() == 87
    return mol


def reference_in(fmt: str, crystal: Chem.Mol, shared_fixtures: Path) -> str:
    """The crystal ligand as a reference-ligand file of ``fmt``: the mol2 file itself,
    or the same atoms written by RDKit as a mol block or PDB records."""
    if fmt == "mol2":
        return (shared_fixtures / CRYSTAL_LIGAND).read_text()
    if fmt == "sdf":
        return Chem.MolToMolBlock(crystal, kekulize=False) + "$$$$\n"
    return str(Chem.MolToPDBBlock(crystal, flavor=4))


def points_of(fmt: str, text: str) -> list[list[float]]:
    """The file's atom positions, read by RDKit (mol2, SDF) or gemmi (PDB)."""
    if fmt == "mol2":
        mol = Chem.MolFromMol2Block(text, sanitize=False, removeHs=False)
    elif fmt == "sdf":
        mol = Chem.MolFromMolBlock(text, sanitize=False, removeHs=False)
    else:
        structure = gemmi.read_pdb_string(text)
        return [atom.pos.tolist() for cra in structure[0].all() for atom in [cra.atom]]
    return mol.GetConformer().GetPositions().tolist()


@pytest.mark.parametrize("fmt", ["mol2", "sdf", "pdb"])
@pytest.mark.parametrize("padding", [None, *PADDINGS])
def test_box_around_a_reference_ligand(
    receptor: JobInput,
    crystal: Chem.Mol,
    shared_fixtures: Path,
    fmt: str,
    padding: float | None,
) -> None:
    text = reference_in(fmt, crystal, shared_fixtures)
    points = points_of(fmt, text)
    assert len(points) == 87
    inputs = [
        receptor,
        item("ligands", "smiles", "CCO ethanol"),
        item("reference_ligand", fmt, text),
    ]
    box, source = docking_box(inputs, {} if padding is None else {"padding": padding})
    assert source == "reference_ligand"
    assert_box(box, points, 4.0 if padding is None else padding)


def test_a_reference_ligand_is_read_by_its_content_when_its_format_is_not_named(
    receptor: JobInput, crystal: Chem.Mol, shared_fixtures: Path
) -> None:
    for fmt in ("mol2", "sdf", "pdb"):
        text = reference_in(fmt, crystal, shared_fixtures)
        inputs = [receptor, item("ligands", "smiles", "CCO"), item("reference_ligand", "", text)]
        box, _ = docking_box(inputs, {"padding": 3.0})
        assert_box(box, points_of(fmt, text), 3.0)


def test_only_the_first_molecule_of_a_reference_counts(
    receptor: JobInput, crystal: Chem.Mol, shared_fixtures: Path
) -> None:
    moved = Chem.Mol(crystal)
    conformer = moved.GetConformer()
    for index in range(moved.GetNumAtoms()):
        position = conformer.GetAtomPosition(index)
        conformer.SetAtomPosition(index, (position.x + 30.0, position.y, position.z))
    first = reference_in("sdf", crystal, shared_fixtures)
    sdf = first + Chem.MolToMolBlock(moved, kekulize=False) + "$$$$\n"
    inputs = [receptor, item("ligands", "smiles", "CCO"), item("reference_ligand", "sdf", sdf)]
    box, _ = docking_box(inputs, {"padding": 2.5})
    assert_box(box, points_of("sdf", first), 2.5)


@pytest.mark.parametrize("padding", [None, *PADDINGS])
def test_box_around_receptor_residues(receptor: JobInput, padding: float | None) -> None:
    """BACE-1's catalytic aspartates, 32 and 228 of chain A, hydrogens included."""
    structure = gemmi.read_pdb_string(receptor.content)
    points = [
        atom.pos.tolist()
        for residue in structure[0]["A"]
        if residue.seqid.num in (32, 228)
        for atom in residue
    ]
    assert len(points) == 24
    raw: dict[str, Any] = {"box_residues": ["A:32", "A:228"]}
    if padding is not None:
        raw["padding"] = padding
    box, source = docking_box([receptor, item("ligands", "smiles", "CCO ethanol")], raw)
    assert source == "box_residues"
    assert_box(box, points, 4.0 if padding is None else padding)
