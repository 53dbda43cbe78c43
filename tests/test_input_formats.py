"""The one rule, shared by the command line and the notebook client, for the format
of an input file given to a slot, and for ``pdb:ID``."""

from __future__ import annotations

import pytest

from proteiniq_jupyter.tools.formats import looks_like_file_name, pdb_entry, slot_format


@pytest.mark.parametrize(
    ("formats", "given", "named"),
    [
        (("pdb", "mmcif"), "pdb", "pdb"),
        (("pdb", "mmcif"), "ent", "pdb"),
        (("pdb", "mmcif"), "cif", "mmcif"),
        (("pdb", "cif"), "mmcif", "cif"),
        (("fasta", "text"), "fa", "fasta"),
        (("smiles", "smi", "text"), "smi", "smi"),
        (("text",), "faa", "text"),
        (("text",), "smiles", "text"),
        (("sdf",), "mol", "sdf"),
        ((), "xyz", "xyz"),
        (("pdb",), "sdf", None),
    ],
)
def test_a_file_format_as_the_slot_names_it(
    formats: tuple[str, ...], given: str, named: str | None
) -> None:
    assert slot_format(formats, given) == named


def test_pdb_entries_are_named_only_for_structure_slots() -> None:
    assert pdb_entry("structure", " PDB:1fkn ") == "1fkn"
    assert pdb_entry("protein", "pdb:1fkn") is None
    assert pdb_entry("structure", "ATOM  1") is None


def test_a_file_name_is_told_from_sequence_or_smiles_text() -> None:
    assert looks_like_file_name("receptor.pdb")
    assert looks_like_file_name("seqs.faa")
    assert looks_like_file_name("ligands.smi", {"smiles"})
    assert not looks_like_file_name("MKTAYIAKQR")
    assert not looks_like_file_name("CCO")
    assert not looks_like_file_name("c1ccccc1 benzene.pdb")
    assert not looks_like_file_name("notes.docx")
