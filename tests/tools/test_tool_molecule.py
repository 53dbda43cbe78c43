"""smiles-to-sdf and sdf-to-smiles: the SDF is re-read with RDKit and checked for
identity (InChIKey), real 3D geometry and repeatability; formula and weight are
recomputed here from the atoms in the file."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rdkit import Chem, rdBase
from rdkit.Chem import rdDistGeom, rdMolTransforms

from proteiniq_jupyter.jobs.errors import ValidationError
from proteiniq_jupyter.tools.base import RunContext
from proteiniq_jupyter.tools.molecule import SdfToSmiles, SmilesToSdf

MOLECULES = {
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    "L-alanine": "C[C@@H](C(=O)O)N",
    "caffeine": "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
    "cyclohexane": "C1CCCCC1",
    "(E)-but-2-ene": "C/C=C/C",
    "phenylboronic acid": "OB(O)c1ccccc1",
}
# IUPAC standard atomic weights (abridged, conventional values).
ATOMIC_WEIGHT = {"C": 12.011, "H": 1.008, "N": 14.007, "O": 15.999, "B": 10.81}


def smiles_text() -> str:
    return "# name follows the SMILES\n\n" + "".join(
        f"{smiles} {name}\n" for name, smiles in MOLECULES.items()
    )


def run_smiles(make_input: Any, tmp_path: Path, text: str, **raw: Any) -> tuple[Any, Path]:
    tool = SmilesToSdf()
    settings = tool.parse_settings(raw)
    inputs = [make_input("molecules", "molecule", "smiles", text, "ligands.smi")]
    tool.validate(inputs, settings)
    result = tool.run(inputs, settings, RunContext(tmp_path))
    return result, tmp_path / result.files[0].name


def hill_formula(counts: Counter[str]) -> str:
    order = ["C", "H", *sorted(e for e in counts if e not in ("C", "H"))]
    return "".join(f"{e}{counts[e] if counts[e] > 1 else ''}" for e in order if counts[e])


def test_smiles_to_sdf_builds_3d_molecules_with_hydrogens(make_input: Any, tmp_path: Path) -> None:
    result, sdf = run_smiles(make_input, tmp_path, smiles_text())
    assert sdf.name == "ligands.sdf"
    assert result.fields == {"molecules": len(MOLECULES)}
    mols = list(Chem.SDMolSupplier(str(sdf), removeHs=False))
    assert len(mols) == len(MOLECULES)

    for mol, row, (name, smiles) in zip(mols, result.rows, MOLECULES.items(), strict=True):
        reference = Chem.MolFromSmiles(smiles)
        assert mol.GetProp("_Name") == row["name"] == name
        assert Chem.MolToInchiKey(mol) == Chem.MolToInchiKey(reference), name
        # Every hydrogen is an explicit atom with coordinates.
        assert all(atom.GetNumImplicitHs() == 0 for atom in mol.GetAtoms())
        assert mol.GetNumAtoms() == Chem.AddHs(reference).GetNumAtoms() == row["atoms"]
        assert row["heavy_atoms"] == reference.GetNumHeavyAtoms()

        conformer = mol.GetConformer()
        assert conformer.Is3D()
        xyz = np.array(conformer.GetPositions())
        # Not flat: the smallest principal extent of the atom cloud is well above zero.
        spread = np.linalg.svd(xyz - xyz.mean(axis=0), compute_uv=False)
        assert spread[-1] > 0.3, name

        # Formula and weight recomputed from the atoms written to the file.
        elements = Counter(atom.GetSymbol() for atom in mol.GetAtoms())
        assert row["formula"] == hill_formula(elements)
        weight = sum(ATOMIC_WEIGHT[e] * n for e, n in elements.items())
        assert row["molecular_weight"] == pytest.approx(weight, abs=0.01)
        assert mol.GetProp("SMILES") == row["smiles"]


def test_bond_lengths_are_chemically_sensible(make_input: Any, tmp_path: Path) -> None:
    _, sdf = run_smiles(make_input, tmp_path, smiles_text())
    for mol in Chem.SDMolSupplier(str(sdf), removeHs=False):
        conformer = mol.GetConformer()
        for bond in mol.GetBonds():
            a, b = bond.GetBeginAtom(), bond.GetEndAtom()
            length = rdMolTransforms.GetBondLength(conformer, a.GetIdx(), b.GetIdx())
            pair = {a.GetSymbol(), b.GetSymbol()}
            sp3 = a.GetHybridization() == b.GetHybridization() == Chem.HybridizationType.SP3
            if pair == {"C"} and sp3:
                assert 1.4 <= length <= 1.6, (mol.GetProp("_Name"), length)
            if pair == {"C", "H"}:
                assert 1.05 <= length <= 1.12


def test_force_fields_and_the_boron_fallback(make_input: Any, tmp_path: Path) -> None:
    result, _ = run_smiles(make_input, tmp_path, smiles_text())
    by_name = {row["name"]: row for row in result.rows}
    assert by_name["aspirin"]["force_field"] == "MMFF94"
    assert by_name["aspirin"]["converged"] is True
    # MMFF94 has no boron parameters; UFF takes over.
    assert by_name["phenylboronic acid"]["force_field"] == "UFF"
    assert isinstance(by_name["cyclohexane"]["energy"], float)


def test_the_same_seed_gives_the_same_file(make_input: Any, tmp_path: Path) -> None:
    _, first = run_smiles(make_input, tmp_path / "a", smiles_text(), random_seed=7)
    _, second = run_smiles(make_input, tmp_path / "b", smiles_text(), random_seed=7)
    _, other = run_smiles(make_input, tmp_path / "c", smiles_text(), random_seed=8)
    assert first.read_text() == second.read_text()
    assert first.read_text() != other.read_text()


def test_without_optimisation(make_input: Any, tmp_path: Path) -> None:
    result, _ = run_smiles(make_input, tmp_path, "CCO ethanol\n", force_field="none")
    assert result.fields["force_field"] == "none"
    assert result.fields["energy"] is None
    assert result.fields["converged"] is None
    # One molecule: its values are also the job's fields.
    assert result.fields["name"] == "ethanol"
    assert result.fields["formula"] == "C2H6O"


def test_embedding_retries_then_names_the_molecule_that_fails(
    make_input: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bool] = []
    real_embed = rdDistGeom.EmbedMolecule

    def first_attempt_fails(mol: Chem.Mol, params: Any) -> int:
        calls.append(bool(params.useRandomCoords))
        return -1 if not params.useRandomCoords else int(real_embed(mol, params))

    monkeypatch.setattr(rdDistGeom, "EmbedMolecule", first_attempt_fails)
    result, _ = run_smiles(make_input, tmp_path / "a", "CCO ethanol\n")
    assert calls == [False, True]
    assert result.fields["atoms"] == 9

    monkeypatch.setattr(rdDistGeom, "EmbedMolecule", lambda mol, params: -1)
    with pytest.raises(RuntimeError) as caught:
        run_smiles(make_input, tmp_path / "b", "CCO ethanol\n\nC1CC1 cyclopropane\n")
    assert str(caught.value) == (
        "molecule 1 ('ethanol'), line 1: RDKit could not generate 3D coordinates "
        "(ETKDG embedding failed)"
    )


def refused_smiles(make_input: Any, text: str) -> ValidationError:
    tool = SmilesToSdf()
    with pytest.raises(ValidationError) as caught:
        tool.validate(
            [make_input("molecules", "molecule", "smiles", text)], tool.parse_settings({})
        )
    return caught.value


def test_bad_smiles_name_molecule_line_and_rdkit_reason(make_input: Any) -> None:
    text = "CCO ethanol\n  C1CC(C broken branch\nCN(C)(C)(C)C\nc1cccc1 five-ring\nC1CC open ring\n"
    error = refused_smiles(make_input, text)
    messages = [e["message"] for e in error.errors]
    assert messages[0].startswith(
        "molecule 2 ('broken branch'), line 2, character 7: RDKit cannot parse the SMILES "
        "'C1CC(C': extra open parentheses"
    )
    assert messages[1] == (
        "molecule 3 ('molecule 3'), line 3, character 1: the SMILES 'CN(C)(C)(C)C' is not a "
        "valid molecule: Explicit valence for atom # 1 N, 5, is greater than permitted"
    )
    assert messages[2].startswith(
        "molecule 4 ('five-ring'), line 4, character 1: the SMILES 'c1cccc1' is not a valid "
        "molecule: Can't kekulize mol"
    )
    assert messages[3] == (
        "molecule 5 ('open ring'), line 5: RDKit cannot parse the SMILES 'C1CC': "
        "unclosed ring for input: 'C1CC'"
    )
    assert [(e["molecule"], e["line"]) for e in error.errors] == [(2, 2), (3, 3), (4, 4), (5, 5)]


def test_reasons_without_rdkit_log_capture(
    make_input: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Older RDKit has no CaptureErrorLog: the place is still named, the log kept quiet."""
    monkeypatch.delattr(rdBase, "CaptureErrorLog")
    error = refused_smiles(make_input, "CC\nC1CC(C bad\nCN(C)(C)(C)C\n")
    assert [e["message"] for e in error.errors] == [
        "molecule 2 ('bad'), line 2: RDKit cannot parse the SMILES 'C1CC(C': a syntax error",
        "molecule 3 ('molecule 3'), line 3, character 1: the SMILES 'CN(C)(C)(C)C' is not a "
        "valid molecule: Explicit valence for atom # 1 N, 5, is greater than permitted",
    ]


def test_molecule_limits(make_input: Any) -> None:
    error = refused_smiles(make_input, "C\n" * 51)
    assert error.message == "the input has 51 molecules; the limit is 50"
    error = refused_smiles(make_input, "C" * 151 + " long\n")
    assert error.message == (
        "molecule 1 ('long'), line 1: the molecule has 151 heavy atoms; the limit is 150"
    )
    error = refused_smiles(make_input, "# only a comment\n")
    assert error.message == "the input has no SMILES (it is empty or only comments)"


def test_smiles_settings_are_checked() -> None:
    tool = SmilesToSdf()
    with pytest.raises(ValidationError, match=r"settings\.random_seed"):
        tool.parse_settings({"random_seed": -1})
    with pytest.raises(ValidationError, match=r"settings\.force_field"):
        tool.parse_settings({"force_field": "AMBER"})
    with pytest.raises(ValidationError, match=r"settings\.seed"):
        tool.parse_settings({"seed": 1})


# -- sdf-to-smiles -------------------------------------------------------------


def run_sdf(make_input: Any, tmp_path: Path, text: str, **raw: Any) -> tuple[Any, str]:
    tool = SdfToSmiles()
    settings = tool.parse_settings(raw)
    inputs = [make_input("molecules", "molecule", "sdf", text, "set.sdf")]
    tool.validate(inputs, settings)
    result = tool.run(inputs, settings, RunContext(tmp_path))
    return result, (tmp_path / result.files[0].name).read_text()


def test_sdf_round_trip_gives_canonical_smiles(make_input: Any, tmp_path: Path) -> None:
    _, sdf = run_smiles(make_input, tmp_path / "a", smiles_text())
    result, smi = run_sdf(make_input, tmp_path / "b", sdf.read_text())

    expected = [Chem.CanonSmiles(s) for s in MOLECULES.values()]
    assert [row["smiles"] for row in result.rows] == expected
    assert smi.splitlines() == [f"{s} {n}" for s, n in zip(expected, MOLECULES, strict=True)]
    for row, smiles in zip(result.rows, MOLECULES.values(), strict=True):
        assert row["inchikey"] == Chem.MolToInchiKey(Chem.MolFromSmiles(smiles))
    # Stereo comes back from the 3D coordinates.
    assert result.rows[1]["smiles"] == "C[C@H](N)C(=O)O"
    assert result.rows[4]["smiles"] == "C/C=C/C"


def test_sdf_options(make_input: Any, tmp_path: Path) -> None:
    block = Chem.MolToMolBlock(Chem.AddHs(Chem.MolFromSmiles("c1ccccc1O")))
    text = "phenol" + block[block.index("\n") :] + "$$$$\n"
    kekule, _ = run_sdf(make_input, tmp_path / "a", text, kekule=True)
    assert kekule.fields["smiles"] == "OC1=CC=CC=C1"
    with_h, _ = run_sdf(make_input, tmp_path / "b", text, keep_hydrogens=True)
    assert with_h.fields["smiles"].count("[H]") == 6
    assert with_h.fields["heavy_atoms"] == 7


def test_v3000_records_are_read(make_input: Any, tmp_path: Path) -> None:
    mol = Chem.MolFromSmiles("CC(=O)N")
    mol.SetProp("_Name", "acetamide")
    text = Chem.MolToV3KMolBlock(mol) + "$$$$\n"
    result, _ = run_sdf(make_input, tmp_path, text)
    assert result.fields["smiles"] == "CC(N)=O"
    assert result.fields["name"] == "acetamide"


def sdf_with(second: str) -> str:
    first = Chem.MolToMolBlock(Chem.MolFromSmiles("CCO"))
    return "ethanol" + first[first.index("\n") :] + "$$$$\n" + second + "$$$$\n"


def propanol_lines() -> list[str]:
    block = Chem.MolToMolBlock(Chem.MolFromSmiles("CCCO"))
    return ["propanol", *block.splitlines()[1:]]


def refused_sdf(make_input: Any, text: str) -> ValidationError:
    tool = SdfToSmiles()
    with pytest.raises(ValidationError) as caught:
        tool.validate([make_input("molecules", "molecule", "sdf", text)], tool.parse_settings({}))
    return caught.value


def test_bad_sdf_records_name_record_title_and_line(make_input: Any) -> None:
    # The ethanol record takes lines 1-11 (3 atoms, 2 bonds); propanol starts on 12.
    lines = propanol_lines()
    bad_coordinate = lines.copy()
    bad_coordinate[5] = bad_coordinate[5][:10] + "    1.x000" + bad_coordinate[5][20:]
    error = refused_sdf(make_input, sdf_with("\n".join(bad_coordinate) + "\n"))
    assert error.message == (
        "record 2 ('propanol'), line 17, character 11: atom 2 has y coordinate '1.x000', "
        "which is not a number"
    )
    assert (error.errors[0]["record"], error.errors[0]["line"]) == (2, 17)


def test_bad_bond_short_atom_block_and_missing_end(make_input: Any) -> None:
    lines = propanol_lines()
    bad_bond = [*lines[:8], "  1  9  1  0", *lines[9:]]
    error = refused_sdf(make_input, sdf_with("\n".join(bad_bond) + "\n"))
    assert error.message == (
        "record 2 ('propanol'), line 20, character 4: bond 1 refers to atom 9, but the "
        "molecule has 4 atoms"
    )
    short = lines[:6]
    error = refused_sdf(make_input, sdf_with("\n".join(short) + "\n"))
    assert error.message == (
        "record 2 ('propanol'), line 17: the atom block is cut short: the counts line "
        "promises 4 atoms, found 2"
    )
    no_end = [line for line in lines if not line.startswith("M  END")]
    error = refused_sdf(make_input, sdf_with("\n".join(no_end) + "\n"))
    assert error.message == "record 2 ('propanol'), line 22: the record has no 'M  END' line"


def test_sdf_valence_error_points_at_the_atom_line(make_input: Any) -> None:
    lines = propanol_lines()
    assert lines[5][31:34] == "C  "
    lines[5] = lines[5][:31] + "F" + lines[5][32:]  # the second C becomes a two-bonded F
    error = refused_sdf(make_input, sdf_with("\n".join(lines) + "\n"))
    assert error.message.startswith(
        "record 2 ('propanol'), line 17: the molecule is not valid: Explicit valence for atom # 1 F"
    )


def test_sdf_counts_line_and_empty_input(make_input: Any) -> None:
    lines = propanol_lines()
    lines[3] = "abc" + lines[3][3:]
    error = refused_sdf(make_input, sdf_with("\n".join(lines) + "\n"))
    assert re.match(
        r"record 2 \('propanol'\), line 15, character 1: the counts line '.*' does not start "
        "with atom and bond counts",
        error.message,
    )
    error = refused_sdf(make_input, "$$$$\n\n$$$$\n")
    assert error.message == "the input has no SDF records (it is empty)"
    error = refused_sdf(make_input, "title only\n\n")
    assert "record 1 ('title only'), line 1: the record ends before its counts line" in (
        error.message
    )
