"""Structure tools built on gemmi: PDB ⇄ mmCIF conversion and chain sequences.

The package's modules: ``reading`` (the format sniffed, the text checked, a model's
counts; the docking receptor is read the same way) and ``conversions`` (the three
tools).
"""

from .conversions import ChainSequence, MmcifToPdb, PdbToMmcif, StructureToSequence, chain_sequences
from .reading import (
    MMCIF_FORMATS,
    PDB_FORMATS,
    check_pdb_text,
    read_structure,
    sniff_format,
    structure_counts,
)

__all__ = [
    "MMCIF_FORMATS",
    "PDB_FORMATS",
    "ChainSequence",
    "MmcifToPdb",
    "PdbToMmcif",
    "StructureToSequence",
    "chain_sequences",
    "check_pdb_text",
    "read_structure",
    "sniff_format",
    "structure_counts",
]
