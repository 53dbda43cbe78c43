"""pdb-to-mmcif, mmcif-to-pdb and structure-to-sequence on real files, checked
against Biopython's independent PDB and mmCIF parsers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from Bio.PDB import MMCIFParser, PDBParser, PPBuilder
from Bio.PDB.Structure import Structure

from proteiniq_jupyter.jobs.errors import ValidationError
from proteiniq_jupyter.tools.base import RunContext, Tool
from proteiniq_jupyter.tools.structure import MmcifToPdb, PdbToMmcif, StructureToSequence

COLABFOLD_MODEL = "colabfold/ERR550519_2213899_unrelaxed_model_1.pdb"
BACE_RECEPTOR = "docking/BACE_1_receptorH.pdb"


def biopython(path: Path) -> Structure:
    parser = MMCIFParser(QUIET=True) if path.suffix == ".cif" else PDBParser(QUIET=True)
    return parser.get_structure(path.stem, str(path))


def atoms_of(structure: Structure) -> list[tuple[str, str, int, str, np.ndarray]]:
    """(chain, residue name, residue number, atom name, coordinates) of every atom."""
    return [
        (
            atom.get_parent().get_parent().id,
            atom.get_parent().get_resname(),
            atom.get_parent().id[1],
            atom.get_name(),
            atom.coord,
        )
        for atom in structure.get_atoms()
    ]


def run(
    tool: Tool,
    make_input: Any,
    path: Path,
    tmp_path: Path,
    fmt: str,
    content: str | None = None,
    **raw: Any,
) -> tuple[Any, Path]:
    settings = tool.parse_settings(raw)
    text = path.read_text() if content is None else content
    inputs = [make_input("structure", "structure", fmt, text, path.name)]
    tool.validate(inputs, settings)
    result = tool.run(inputs, settings, RunContext(tmp_path))
    assert len(result.files) == 1
    return result, tmp_path / result.files[0].name


def refused(tool: Tool, make_input: Any, text: str, fmt: str) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        tool.validate([make_input("structure", "structure", fmt, text)], tool.parse_settings({}))
    return caught.value


@pytest.mark.parametrize(
    ("fixture", "atoms", "residues"),
    [(COLABFOLD_MODEL, 1069, 130), (BACE_RECEPTOR, 5861, 379)],
)
def test_pdb_to_mmcif_keeps_every_atom_and_coordinate(
    make_input: Any, tmp_path: Path, shared_fixtures: Path, fixture: str, atoms: int, residues: int
) -> None:
    source = shared_fixtures / fixture
    result, cif = run(PdbToMmcif(), make_input, source, tmp_path, "pdb")

    assert cif.name == source.stem + ".cif"
    assert result.files[0].format == "mmcif"
    assert result.fields == {"models": 1, "chains": 1, "residues": residues, "atoms": atoms}
    assert result.rows == [
        {
            "index": 1,
            "chain": "A",
            "chain_residues": residues,
            "chain_atoms": atoms,
            "polymer_type": "protein",
        }
    ]
    original = atoms_of(biopython(source))
    converted = atoms_of(biopython(cif))
    assert len(original) == len(converted) == atoms
    assert [a[:4] for a in converted] == [a[:4] for a in original]
    np.testing.assert_allclose(
        np.array([a[4] for a in converted]), np.array([a[4] for a in original]), atol=1e-3
    )
    assert cif.read_text().startswith(f"data_{source.stem}\n")


def test_pdb_mmcif_pdb_round_trip(make_input: Any, tmp_path: Path, shared_fixtures: Path) -> None:
    source = shared_fixtures / BACE_RECEPTOR
    _, cif = run(PdbToMmcif(), make_input, source, tmp_path / "a", "pdb")
    result, pdb = run(MmcifToPdb(), make_input, cif, tmp_path / "b", "mmcif")

    assert pdb.name == "BACE_1_receptorH.pdb"
    assert result.fields["atoms"] == 5861
    original = atoms_of(biopython(source))
    again = atoms_of(biopython(pdb))
    assert [a[:4] for a in again] == [a[:4] for a in original]
    np.testing.assert_array_equal(np.array([a[4] for a in again]), [a[4] for a in original])
    # Hydrogens from the input survive the round trip.
    elements = {atom.element for atom in biopython(pdb).get_atoms()}
    assert elements == {"C", "H", "N", "O", "S"}


def test_sequence_of_the_colabfold_model(
    make_input: Any, tmp_path: Path, shared_fixtures: Path
) -> None:
    source = shared_fixtures / COLABFOLD_MODEL
    result, fasta = run(StructureToSequence(), make_input, source, tmp_path, "pdb")

    peptides = PPBuilder().build_peptides(biopython(source))
    expected = "".join(str(p.get_sequence()) for p in peptides)
    assert result.fields["sequence"] == expected
    assert result.fields["chains"] == 1
    assert result.rows[0]["length"] == 130
    assert result.rows[0]["gaps"] == 0
    assert (result.rows[0]["first_residue"], result.rows[0]["last_residue"]) == ("1", "130")
    lines = fasta.read_text().splitlines()
    assert lines[0] == ">ERR550519_2213899_unrelaxed_model_1_A protein, residues 1 to 130"
    assert "".join(lines[1:]) == expected
    # The model and P54025.fasta come from the same test data but are different
    # proteins: the model is a 130-residue C-type-lectin-like chain, P54025 a
    # 38-residue ribosomal protein.
    p54025 = "".join((shared_fixtures / "colabfold/P54025.fasta").read_text().splitlines()[1:])
    assert expected.startswith("CPSGWVGFSDNCYQW")
    assert len(p54025) == 38 and expected != p54025 and p54025 not in expected


def test_sequence_of_bace_across_its_unmodelled_loop(
    make_input: Any, tmp_path: Path, shared_fixtures: Path
) -> None:
    source = shared_fixtures / BACE_RECEPTOR
    result, fasta = run(StructureToSequence(), make_input, source, tmp_path, "pdb", line_width=0)

    peptides = PPBuilder().build_peptides(biopython(source))
    # Residues 159-167 are missing, so Biopython finds two peptides; gemmi one gap.
    assert [(p[0].id[1], p[-1].id[1]) for p in peptides] == [(-2, 158), (168, 385)]
    row = result.rows[0]
    assert row["gaps"] == 1
    assert row["sequence"] == "".join(str(p.get_sequence()) for p in peptides)
    assert (row["first_residue"], row["last_residue"]) == ("-2", "385")
    assert fasta.read_text() == (
        f">BACE_1_receptorH_A protein, residues -2 to 385\n{row['sequence']}\n"
    )


def test_sequence_from_mmcif_equals_sequence_from_pdb(
    make_input: Any, tmp_path: Path, shared_fixtures: Path
) -> None:
    source = shared_fixtures / COLABFOLD_MODEL
    from_pdb, _ = run(StructureToSequence(), make_input, source, tmp_path / "a", "pdb")
    _, cif = run(PdbToMmcif(), make_input, source, tmp_path / "b", "pdb")
    from_cif, _ = run(StructureToSequence(), make_input, cif, tmp_path / "c", "mmcif")
    assert from_cif.rows == from_pdb.rows


def test_a_nucleic_acid_chain_and_ligands(make_input: Any, tmp_path: Path) -> None:
    lines = []
    serial = 0
    for number, base in enumerate(("DG", "DC", "DA"), start=1):
        for name, element in (("P", "P"), ("C1'", "C"), ("N9", "N")):
            serial += 1
            lines.append(
                f"ATOM  {serial:5d} {name:<4} {base:>3} B{number:4d}    "
                f"{serial:8.3f}{0.0:8.3f}{0.0:8.3f}  1.00 20.00          {element:>2}"
            )
    lines.append(
        f"HETATM{99:5d}  O   HOH W   1    {5.0:8.3f}{5.0:8.3f}{5.0:8.3f}  1.00 20.00           O"
    )
    text = "\n".join([*lines, "END", ""])
    tool = StructureToSequence()
    settings = tool.parse_settings({})
    inputs = [make_input("structure", "structure", "pdb", text)]
    tool.validate(inputs, settings)
    result = tool.run(inputs, settings, RunContext(tmp_path))
    assert [(r["chain"], r["polymer_type"], r["sequence"]) for r in result.rows] == [
        ("B", "DNA", "GCA")
    ]


# -- refusals ---------------------------------------------------------------


def cut(lines: list[str], index: int, new: str) -> str:
    return "\n".join([*lines[:index], new, *lines[index + 1 :]]) + "\n"


def test_a_truncated_last_atom_line(shared_fixtures: Path, make_input: Any) -> None:
    lines = (shared_fixtures / COLABFOLD_MODEL).read_text().splitlines()
    assert len(lines) == 1069  # ends on its last ATOM record, no END
    error = refused(PdbToMmcif(), make_input, cut(lines, 1068, lines[1068][:44]), "pdb")
    assert error.message.startswith("line 1069: ATOM record is cut short (44 characters;")
    assert error.errors[0]["line"] == 1069


def test_missing_and_unreadable_coordinates(shared_fixtures: Path, make_input: Any) -> None:
    lines = (shared_fixtures / BACE_RECEPTOR).read_text().splitlines()
    first_atom = next(i for i, line in enumerate(lines) if line.startswith("ATOM"))
    text = cut(lines, first_atom, lines[first_atom][:38] + "  1.2x3 " + lines[first_atom][46:])
    blank_z = lines[first_atom + 5][:46] + " " * 8 + lines[first_atom + 5][54:]
    text = cut(text.splitlines(), first_atom + 5, blank_z)
    error = refused(PdbToMmcif(), make_input, text, "pdb")
    assert [e["message"] for e in error.errors] == [
        f"line {first_atom + 1}, characters 39-46: ATOM record has y coordinate '1.2x3', "
        "which is not a number",
        f"line {first_atom + 6}, characters 47-54: ATOM record has z coordinate '', "
        "which is not a number",
    ]


def test_a_bad_residue_number_and_occupancy(make_input: Any) -> None:
    line = "ATOM      1  CA  GLY A   1       1.000   2.000   3.000  1.00 10.00           C"
    bad = line[:22] + "  x1" + line[26:54] + "  one " + line[60:]
    error = refused(StructureToSequence(), make_input, f"{line}\n{bad}\n", "pdb")
    assert "line 2, characters 23-26: ATOM record has residue number 'x1'" in error.message
    assert "line 2, characters 55-60: ATOM record has occupancy 'one'" in error.message


@pytest.mark.parametrize(
    "text", ["HEADER    EMPTY\nREMARK nothing here\nEND\n", "just some words\n"]
)
def test_a_pdb_without_atoms(make_input: Any, text: str) -> None:
    error = refused(PdbToMmcif(), make_input, text, "pdb")
    assert error.message == "the file has no atoms: there is no ATOM or HETATM record"


def test_an_empty_structure_file(make_input: Any) -> None:
    error = refused(MmcifToPdb(), make_input, "\n \n", "mmcif")
    assert "the content is empty" in error.message


def mmcif_text(shared_fixtures: Path, make_input: Any, tmp_path: Path) -> str:
    _, cif = run(PdbToMmcif(), make_input, shared_fixtures / COLABFOLD_MODEL, tmp_path, "pdb")
    return cif.read_text()


def test_mmcif_syntax_error_names_its_line(
    shared_fixtures: Path, make_input: Any, tmp_path: Path
) -> None:
    lines = mmcif_text(shared_fixtures, make_input, tmp_path).splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("ATOM 500 "))
    broken = cut(lines, row, lines[row].replace(" ? ", ' "oops ', 1))
    error = refused(MmcifToPdb(), make_input, broken, "mmcif")
    assert error.message.startswith(f"line {row + 1}, character ")
    assert "mmCIF syntax error: unterminated" in error.message
    assert error.errors[0]["line"] == row + 1


def test_a_truncated_mmcif(shared_fixtures: Path, make_input: Any, tmp_path: Path) -> None:
    text = mmcif_text(shared_fixtures, make_input, tmp_path).rstrip("\n")
    lines = text.splitlines()
    loop_line = lines.index("_atom_site.group_PDB")  # the 'loop_' is the line before
    error = refused(MmcifToPdb(), make_input, text[:-25], "mmcif")
    assert error.message.startswith(
        f"line {loop_line}, character 1: mmCIF syntax error: Wrong number of values in loop"
    )
    assert "the file may be cut short" in error.message


def test_an_unreadable_mmcif_coordinate(
    shared_fixtures: Path, make_input: Any, tmp_path: Path
) -> None:
    lines = mmcif_text(shared_fixtures, make_input, tmp_path).splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("ATOM 1069 "))
    assert "-1.08 2.689 8.926" in lines[row]
    text = cut(lines, row, lines[row].replace("-1.08 2.689 8.926", "-1.08 abc 8.926"))
    error = refused(MmcifToPdb(), make_input, text, "mmcif")
    assert error.message == (
        f"line {row + 1}: atom_site row 1069 (atom 1069): Cartn_y is 'abc', which is not a number"
    )


def test_mmcif_without_atoms(make_input: Any) -> None:
    error = refused(MmcifToPdb(), make_input, "data_empty\n_cell.length_a 10\n", "mmcif")
    assert "the file has no atoms: no data block has an _atom_site table" in error.message
    assert "data_empty" in error.message


def test_mmcif_without_the_columns_atoms_need(
    shared_fixtures: Path, make_input: Any, tmp_path: Path
) -> None:
    text = mmcif_text(shared_fixtures, make_input, tmp_path)
    text = text.replace("_atom_site.label_comp_id\n", "_atom_site.residue_name\n")
    text = text.replace("_atom_site.Cartn_z\n", "_atom_site.z\n")
    error = refused(MmcifToPdb(), make_input, text, "mmcif")
    assert error.message == (
        "data_ERR550519_2213899_unrelaxed_model_1: the _atom_site table has no "
        "_atom_site.label_comp_id or _atom_site.auth_comp_id, _atom_site.Cartn_z column; "
        "atoms cannot be read without it"
    )


def test_the_wrong_format_is_named(shared_fixtures: Path, make_input: Any, tmp_path: Path) -> None:
    pdb_text = (shared_fixtures / COLABFOLD_MODEL).read_text()
    error = refused(MmcifToPdb(), make_input, pdb_text, "mmcif")
    assert error.message == "the file looks like PDB, but this tool reads mmCIF"
    cif_text = mmcif_text(shared_fixtures, make_input, tmp_path)
    error = refused(PdbToMmcif(), make_input, cif_text, "pdb")
    assert error.message == (
        "the file looks like mmCIF (it starts with a data_ block), but this tool reads PDB"
    )
    # structure-to-sequence takes either and follows the content.
    tool = StructureToSequence()
    tool.validate([make_input("structure", "structure", "pdb", cif_text)], tool.parse_settings({}))


def test_a_structure_without_polymer_chains(make_input: Any) -> None:
    water = "HETATM    1  O   HOH A   1       1.000   2.000   3.000  1.00 10.00           O\n"
    error = refused(StructureToSequence(), make_input, water, "pdb")
    assert error.message == "the structure has atoms but no protein or nucleic-acid chain"


def test_a_file_over_the_size_limit(make_input: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PdbToMmcif.limits, "max_file_bytes", 100)
    error = refused(PdbToMmcif(), make_input, "ATOM" + " " * 200 + "\n", "pdb")
    assert error.message == "input 1 (structure) is 205 bytes; the limit is 100 bytes"
