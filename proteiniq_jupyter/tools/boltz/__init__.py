"""Boltz-2: structures of protein complexes with small molecules, and binding affinity.

The adapter writes Boltz's YAML input, runs the installed ``boltz predict`` in the
job's folder and reads its output layout::

    <out_dir>/boltz_results_<input stem>/predictions/<input stem>/
        <input stem>_model_<k>.cif            k = 0 is the best-ranked sample
        confidence_<input stem>_model_<k>.json   confidence_score, ptm, iptm, ... on 0-1
        plddt_/pae_/pde_<input stem>_model_<k>.npz
        affinity_<input stem>.json           when the affinity was asked for

pLDDT is reported on 0-100 like AlphaFold's; the files are moved to the top of the job
folder as ``<name>_rank_<k>...``.

MSAs: by default every protein runs in single-sequence mode (``msa: empty``), because
many GPU workers have no internet; ``use_msa_server`` asks a ColabFold MMseqs2 server
instead (``PIQ_MSA_SERVER_URL`` for a self-hosted one), which is more accurate.
"""

from __future__ import annotations

from .inputs import (
    BoltzComplex,
    boltz_yaml,
    parse_ligand_lines,
)
from .outputs import (
    BoltzProgress,
    read_boltz_affinity,
    read_boltz_models,
)
from .settings import (
    AFFINITY_CREDITS,
    AFFINITY_WEIGHTS,
    BOLTZ,
    CACHE_ENV_VARS,
    DEFAULT_CACHE,
    INPUT_STEM,
    LIGAND_CREDITS,
    LIGANDS,
    MAX_AFFINITY_HEAVY_ATOMS,
    MAX_LIGANDS,
    MOLECULES_DIR,
    OUT_DIR,
    PROTEINS,
    RESIDUE_BLOCK_CREDITS,
    RUN_CREDITS,
    STRUCTURE_WEIGHTS,
    Boltz2Settings,
    boltz_cache,
)
from .tool import Boltz2

__all__ = [
    "AFFINITY_CREDITS",
    "AFFINITY_WEIGHTS",
    "BOLTZ",
    "CACHE_ENV_VARS",
    "DEFAULT_CACHE",
    "INPUT_STEM",
    "LIGANDS",
    "LIGAND_CREDITS",
    "MAX_AFFINITY_HEAVY_ATOMS",
    "MAX_LIGANDS",
    "MOLECULES_DIR",
    "OUT_DIR",
    "PROTEINS",
    "RESIDUE_BLOCK_CREDITS",
    "RUN_CREDITS",
    "STRUCTURE_WEIGHTS",
    "Boltz2",
    "Boltz2Settings",
    "BoltzComplex",
    "BoltzProgress",
    "boltz_cache",
    "boltz_yaml",
    "parse_ligand_lines",
    "read_boltz_affinity",
    "read_boltz_models",
]
