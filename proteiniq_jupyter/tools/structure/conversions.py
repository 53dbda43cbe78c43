"""The structure tools: PDB to mmCIF, mmCIF to PDB, and the sequence of each chain."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import gemmi
import pydantic

from ...jobs.model import JobInput, JsonDict, ToolResult
from ..base import InputSlot, OutputField, RunContext, Tool
from ..parsing import (
    check_size,
    fail,
    file_stem,
    format_fasta,
    only_item,
    settings_as,
    summary_fields,
)
from .reading import (
    MMCIF_FORMATS,
    PDB_FORMATS,
    polymer_type,
    read_structure,
    structure_counts,
)

_SLOT = "structure"

_STRUCTURE_LIMITS: JsonDict = {"max_file_bytes": 50_000_000, "max_atoms": 1_000_000}

_STRUCTURE_OUTPUTS = (
    OutputField("models", "models in the file"),
    OutputField("chains", "chains in the first model"),
    OutputField("residues", "residues in the first model, ligands and waters included"),
    OutputField("atoms", "atom sites in the first model"),
    OutputField("chain", "chain name (per-chain rows)"),
    OutputField("chain_residues", "residues in the chain (per-chain rows)"),
    OutputField("chain_atoms", "atom sites in the chain (per-chain rows)"),
    OutputField("polymer_type", "protein, DNA, RNA or none (per-chain rows)"),
)


class _Conversion(Tool):
    """Shared body of the two format converters."""

    category = "structure"
    subcategory = "conversion"
    libraries = ("gemmi",)
    time_limit_s = 120.0
    outputs = _STRUCTURE_OUTPUTS
    limits: ClassVar[JsonDict] = _STRUCTURE_LIMITS
    source: ClassVar[tuple[str, ...]]

    def _read(self, inputs: Sequence[JobInput]) -> tuple[JobInput, gemmi.Structure]:
        index, item = only_item(inputs, _SLOT)
        check_size(item, index, self.limits["max_file_bytes"])
        return item, read_structure(item, index, self.source, self.limits["max_atoms"])

    def check_inputs(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> None:
        self._read(inputs)

    @abstractmethod
    def _write(self, structure: gemmi.Structure) -> tuple[str, str, str]:
        """(text, file extension, format name) of the converted structure."""

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        item, structure = self._read(inputs)
        context.progress(0.4, "structure read")
        fields, rows = structure_counts(structure)
        stem = file_stem(item, "structure")
        structure.name = stem
        text, extension, format_name = self._write(structure)
        context.progress(0.9, "written")
        out = context.write_file(f"{stem}.{extension}", text, format_name)
        context.progress(1.0, "done")
        return ToolResult(fields=fields, rows=rows, files=[out])


class PdbToMmcif(_Conversion):
    """Convert a PDB file to mmCIF, the wwPDB's archive format."""

    id = "pdb-to-mmcif"
    name = "PDB to mmCIF"
    description = (
        "Convert a PDB-format structure to PDBx/mmCIF with gemmi, keeping every model, "
        "chain, atom and coordinate; entities are assigned from the chains."
    )
    tags = ("structure", "conversion", "pdb", "mmcif")
    slots = (
        InputSlot(
            id=_SLOT,
            kind="structure",
            formats=PDB_FORMATS,
            label="PDB file",
            description="A structure in PDB format (ATOM/HETATM records).",
        ),
    )
    source = PDB_FORMATS[:1]

    def _write(self, structure: gemmi.Structure) -> tuple[str, str, str]:
        structure.assign_label_seq_id(False)
        return structure.make_mmcif_document().as_string(), "cif", "mmcif"


class MmcifToPdb(_Conversion):
    """Convert an mmCIF file to the fixed-column PDB format older programs read."""

    id = "mmcif-to-pdb"
    name = "mmCIF to PDB"
    description = (
        "Convert a PDBx/mmCIF structure to PDB format with gemmi. Chain names longer "
        "than the PDB's two columns are shortened, as are five-character residue codes."
    )
    tags = ("structure", "conversion", "pdb", "mmcif")
    slots = (
        InputSlot(
            id=_SLOT,
            kind="structure",
            formats=MMCIF_FORMATS,
            label="mmCIF file",
            description="A structure in PDBx/mmCIF format with an _atom_site table.",
        ),
    )
    source = ("mmcif",)

    def _write(self, structure: gemmi.Structure) -> tuple[str, str, str]:
        if any(len(chain.name) > 2 for model in structure for chain in model):
            structure.shorten_chain_names()
        structure.shorten_ccd_codes()
        return structure.make_pdb_string(), "pdb", "pdb"


class StructureSequenceSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    line_width: int = pydantic.Field(
        60, ge=0, le=10_000, description="FASTA line width; 0 writes each sequence on one line"
    )


@dataclass(frozen=True)
class ChainSequence:
    chain: str
    polymer_type: str
    sequence: str
    gaps: int
    first_residue: str
    last_residue: str


def chain_sequences(structure: gemmi.Structure) -> list[ChainSequence]:
    """The residue sequence of each polymer chain in the first model, as modelled
    (missing residues are absent; ``gaps`` counts the breaks gemmi detects)."""
    result: list[ChainSequence] = []
    for chain in structure[0]:
        polymer = chain.get_polymer()
        if not len(polymer):
            continue
        letters = []
        for residue in polymer:
            info = gemmi.find_tabulated_residue(residue.name)
            code = info.one_letter_code.strip().upper() if info is not None else ""
            letters.append(code or "X")
        result.append(
            ChainSequence(
                chain=chain.name,
                polymer_type=polymer_type(polymer),
                sequence="".join(letters),
                gaps=polymer.make_one_letter_sequence().count("-"),
                first_residue=str(polymer[0].seqid),
                last_residue=str(polymer[len(polymer) - 1].seqid),
            )
        )
    return result


class StructureToSequence(Tool):
    """Extract the sequence of every polymer chain of a structure as FASTA."""

    id = "structure-to-sequence"
    name = "Structure to sequence"
    description = (
        "Read a PDB or mmCIF structure and write the modelled sequence of each protein "
        "or nucleic-acid chain (first model) as FASTA, one record per chain."
    )
    category = "structure"
    subcategory = "analysis"
    libraries = ("gemmi",)
    tags = ("structure", "sequence", "fasta", "pdb", "mmcif")
    time_limit_s = 120.0
    slots = (
        InputSlot(
            id=_SLOT,
            kind="structure",
            formats=PDB_FORMATS + MMCIF_FORMATS,
            label="Structure",
            description="A structure in PDB or PDBx/mmCIF format.",
        ),
    )
    outputs = (
        OutputField("chains", "polymer chains written"),
        OutputField("residues", "residues over all polymer chains", "residues"),
        OutputField("chain", "chain name (per-chain rows)"),
        OutputField("polymer_type", "protein, DNA or RNA (per-chain rows)"),
        OutputField("length", "modelled residues in the chain", "residues"),
        OutputField("gaps", "breaks in the chain where residues are not modelled"),
        OutputField("first_residue", "number of the first residue"),
        OutputField("last_residue", "number of the last residue"),
        OutputField("sequence", "one-letter sequence; X for an unknown residue"),
    )
    settings_model = StructureSequenceSettings
    limits: ClassVar[JsonDict] = _STRUCTURE_LIMITS

    def _read(self, inputs: Sequence[JobInput]) -> tuple[JobInput, list[ChainSequence]]:
        index, item = only_item(inputs, _SLOT)
        check_size(item, index, self.limits["max_file_bytes"])
        structure = read_structure(item, index, ("pdb", "mmcif"), self.limits["max_atoms"])
        chains = chain_sequences(structure)
        if not chains:
            fail(
                "the structure has atoms but no protein or nucleic-acid chain",
                index=index,
                slot=_SLOT,
            )
        return item, chains

    def check_inputs(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> None:
        self._read(inputs)

    def run(
        self, inputs: Sequence[JobInput], settings: pydantic.BaseModel, context: RunContext
    ) -> ToolResult:
        options = settings_as(settings, StructureSequenceSettings)
        item, chains = self._read(inputs)
        context.progress(0.5, "structure read")
        stem = file_stem(item, "structure")
        rows: list[JsonDict] = [
            {
                "index": number,
                "chain": c.chain,
                "polymer_type": c.polymer_type,
                "length": len(c.sequence),
                "gaps": c.gaps,
                "first_residue": c.first_residue,
                "last_residue": c.last_residue,
                "sequence": c.sequence,
            }
            for number, c in enumerate(chains, start=1)
        ]
        headers = [
            f"{stem}_{c.chain} {c.polymer_type}, residues {c.first_residue} to {c.last_residue}"
            for c in chains
        ]
        fasta = format_fasta(
            zip(headers, (c.sequence for c in chains), strict=True), options.line_width
        )
        out = context.write_file(f"{stem}.fasta", fasta, "fasta")
        context.progress(1.0, "done")
        summary: dict[str, Any] = {
            "chains": len(rows),
            "residues": sum(r["length"] for r in rows),
        }
        return ToolResult(fields=summary_fields(summary, rows), rows=rows, files=[out])
