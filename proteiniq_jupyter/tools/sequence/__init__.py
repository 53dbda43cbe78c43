"""Sequence tools: ProtParam-style statistics and one/three-letter residue codes.

The package's modules: ``fasta`` (FASTA as people write it, the amino-acid
alphabets), ``stats`` (the ExPASy ProtParam definitions, computed in plain Python so
the package needs no sequence library at run time, and ``ProteinStats``) and
``codes`` (residue codes both ways, and ``ResidueCodes``).
"""

from .codes import ONE_TO_THREE, THREE_TO_ONE, ResidueCodes, ResidueCodesSettings
from .fasta import EXTENDED_AMINO_ACIDS, STANDARD_AMINO_ACIDS, FastaRecord, parse_fasta
from .stats import DIWV, KYTE_DOOLITTLE, ProteinStats, protein_statistics

__all__ = [
    "DIWV",
    "EXTENDED_AMINO_ACIDS",
    "KYTE_DOOLITTLE",
    "ONE_TO_THREE",
    "STANDARD_AMINO_ACIDS",
    "THREE_TO_ONE",
    "FastaRecord",
    "ProteinStats",
    "ResidueCodes",
    "ResidueCodesSettings",
    "parse_fasta",
    "protein_statistics",
]
