"""Structures as they come: a PDB or mmCIF text read with gemmi, the way the
structural-biology libraries read it, with the line where each residue starts so a
message can point at it.

gemmi already takes what real files hold: a residue whose records are split across
the file (hydrogens written after the heavy atoms) is one residue, alternate
locations and insertion codes are kept, a blank element column is inferred from the
atom name, CRLF line ends read like LF, and several models stay apart. What this
module adds: one reading of the first model, cleaned for a tool (the first
conformer of each atom, residues in chain order), and the place of each residue in
the text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import gemmi

from ..jobs.model import JobInput
from .parsing import split_lines
from .structure import MMCIF_FORMATS, read_structure, sniff_format

#: A residue as tools name it: chain, sequence number, insertion code.
ResidueKey = tuple[str, int, str]


def residue_id(chain: str, residue: gemmi.Residue) -> str:
    """'A:57' or 'A:52B' (':57' when the chain has no name), as box_residues and
    meeko spell a residue."""
    return f"{chain}:{residue.seqid.num}{residue.seqid.icode.strip()}"


def residue_key(chain: str, residue: gemmi.Residue) -> ResidueKey:
    return (chain, residue.seqid.num or 0, residue.seqid.icode.strip())


@dataclass
class StructureInput:
    """A structure input read by gemmi: the whole structure, its format, and the
    1-based line of the first atom of each residue (of the first model)."""

    structure: gemmi.Structure
    kind: str  # "pdb" or "mmcif"
    lines: dict[ResidueKey, int]

    def line_of(self, chain: str, residue: gemmi.Residue) -> int | None:
        return self.lines.get(residue_key(chain, residue))

    def place(self, chain: str, residue: gemmi.Residue) -> str:
        """'residue A:57 (CYS), line 1203': how messages name a residue."""
        line = self.line_of(chain, residue)
        where = f", line {line}" if line is not None else ""
        return f"residue {residue_id(chain, residue)} ({residue.name}){where}"

    def first_model(self) -> gemmi.Model:
        return self.structure[0]

    def residues(self) -> Iterator[tuple[str, gemmi.Residue]]:
        for chain in self.first_model():
            for residue in chain:
                yield chain.name, residue


def structure_kind(item: JobInput) -> str:
    """'mmcif' for an mmCIF input (by its content, else its declared format), else 'pdb'."""
    detected = sniff_format(item.content)
    if detected is not None:
        return detected
    return "mmcif" if item.format.lower() in MMCIF_FORMATS else "pdb"


def read_structure_input(item: JobInput, index: int, max_atoms: int) -> StructureInput:
    """Read a PDB or mmCIF input after checking its records (problems name their
    line), keep its first model only, the first conformer of each atom, and each
    chain's residues in sequence order."""
    structure = read_structure(item, index, ("pdb", "mmcif"), max_atoms)
    kind = structure_kind(item)
    while len(structure) > 1:
        del structure[len(structure) - 1]
    structure.remove_alternative_conformations()
    structure.merge_chain_parts()
    for chain in structure[0]:
        _sort_residues(chain)
    return StructureInput(structure, kind, first_lines(item.content, kind))


def _sort_residues(chain: gemmi.Chain) -> None:
    """Put a chain's residues in sequence order when the file listed them out of it
    (lines moved about); a chain already in order keeps its order, so unusual
    insertion-code orders survive."""
    numbers = [residue.seqid.num or 0 for residue in chain]
    if numbers == sorted(numbers):
        return
    ordered = sorted(
        (residue.clone() for residue in chain),
        key=lambda r: (r.seqid.num or 0, r.seqid.icode),
    )
    for position in range(len(chain) - 1, -1, -1):
        del chain[position]
    for residue in ordered:
        chain.add_residue(residue)


def first_lines(text: str, kind: str) -> dict[ResidueKey, int]:
    """The line of the first atom record of each residue of the first model."""
    if kind == "mmcif":
        return _mmcif_first_lines(text)
    found: dict[ResidueKey, int] = {}
    for number, line in enumerate(split_lines(text), start=1):
        record = line[:6]
        if record.startswith("ENDMDL"):
            break
        if record not in ("ATOM  ", "HETATM"):
            continue
        seq = line[22:26].strip()
        try:
            seqnum = int(seq)
        except ValueError:
            continue  # hybrid-36 numbers: such residues go without a line
        found.setdefault((line[21:22].strip(), seqnum, line[26:27].strip()), number)
    return found


def _mmcif_first_lines(text: str) -> dict[ResidueKey, int]:
    """For mmCIF written one atom per line (as the wwPDB and common tools write it):
    the line of each residue's first row, named as gemmi names it (author chain
    and number when present)."""
    lines = split_lines(text)
    try:
        block = gemmi.cif.read_string(text).sole_block()
    except (RuntimeError, ValueError):
        return {}
    table = block.find(
        "_atom_site.",
        [
            "id",
            "?auth_asym_id",
            "?label_asym_id",
            "?auth_seq_id",
            "?label_seq_id",
            "?pdbx_PDB_ins_code",
        ],
    )
    if not table:
        return {}
    row_lines = [
        number
        for number, line in enumerate(lines, start=1)
        if line.startswith(("ATOM ", "HETATM ", "ATOM\t", "HETATM\t"))
    ]
    if len(row_lines) != len(table):
        return {}
    model_column = block.find_value("_atom_site.pdbx_PDB_model_num")
    models = list(block.find_loop("_atom_site.pdbx_PDB_model_num")) if model_column else []
    found: dict[ResidueKey, int] = {}
    for position, row in enumerate(table):
        if models and models[position] != models[0]:
            break
        chain = _value(row, 1) or _value(row, 2)
        seq = _value(row, 3) or _value(row, 4)
        try:
            seqnum = int(seq)
        except ValueError:
            continue
        found.setdefault((chain, seqnum, _value(row, 5)), row_lines[position])
    return found


def _value(row: gemmi.cif.Table.Row, column: int) -> str:
    if not row.has(column):
        return ""
    value = gemmi.cif.as_string(row[column])
    return "" if value in ("?", ".") else value
