"""Small-molecule tools built on RDKit: SMILES to 3D SDF and SDF to SMILES.

The package's modules: ``chemistry`` (RDKit's log, the checks of a parsed molecule,
a molecule's result row), ``smiles`` (SMILES lines, the 3D embedding, and
``SmilesToSdf``) and ``sdf`` (SD records and their checks, and ``SdfToSmiles``).
"""

from .chemistry import MOLECULE_OUTPUTS, chemistry_problems, molecule_row, rdkit_log, summarise_log
from .sdf import SdfMolecule, SdfRecord, SdfToSmiles, check_v2000, parse_sdf, split_sdf
from .smiles import (
    SmilesEntry,
    SmilesToSdf,
    SmilesToSdfSettings,
    embed_molecule,
    parse_smiles_lines,
)

__all__ = [
    "MOLECULE_OUTPUTS",
    "SdfMolecule",
    "SdfRecord",
    "SdfToSmiles",
    "SmilesEntry",
    "SmilesToSdf",
    "SmilesToSdfSettings",
    "check_v2000",
    "chemistry_problems",
    "embed_molecule",
    "molecule_row",
    "parse_sdf",
    "parse_smiles_lines",
    "rdkit_log",
    "split_sdf",
    "summarise_log",
]
