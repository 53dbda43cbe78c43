"""Boltz-2's settings, limits, prices and where its program and cache are."""

from __future__ import annotations

from pathlib import Path

import pydantic

from ..prediction import (
    Program,
    configured_dir,
)

PROTEINS = "proteins"
LIGANDS = "ligands"
BOLTZ = Program(
    name="boltz",
    env_var="PIQ_BOLTZ_BIN",
    distribution="boltz",
    install_hint="install Boltz-2 on the GPU worker with `pip install boltz` (it puts `boltz` "
    "on PATH)",
)
CACHE_ENV_VARS = ("PIQ_BOLTZ_CACHE", "BOLTZ_CACHE")
DEFAULT_CACHE = Path("~/.boltz").expanduser()
#: What ``boltz predict`` would otherwise download into its cache on first use.
STRUCTURE_WEIGHTS = "boltz2_conf.ckpt"
AFFINITY_WEIGHTS = "boltz2_aff.ckpt"
MOLECULES_DIR = "mols"
#: Boltz names its results after the input file's stem; a fixed one keeps them found.
INPUT_STEM = "input"
OUT_DIR = "boltz_out"
MAX_LIGANDS = 5
#: Boltz's own limit for the affinity ligand (heavy atoms, as RDKit's RemoveHs keeps).
MAX_AFFINITY_HEAVY_ATOMS = 128

RUN_CREDITS = 5
RESIDUE_BLOCK_CREDITS = 2
LIGAND_CREDITS = 1
AFFINITY_CREDITS = 10


def boltz_cache() -> tuple[Path, str]:
    """Where the Boltz-2 weights and molecule data are, and where that was set."""
    return configured_dir(CACHE_ENV_VARS, DEFAULT_CACHE)


class Boltz2Settings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    diffusion_samples: int = pydantic.Field(
        1, ge=1, le=5, description="structures sampled and ranked by confidence; each is charged"
    )
    recycling_steps: int = pydantic.Field(
        3, ge=1, le=10, description="trunk recycling steps (AlphaFold 3 uses 10)"
    )
    sampling_steps: int = pydantic.Field(
        200, ge=10, le=500, description="diffusion steps per sample"
    )
    use_msa_server: bool = pydantic.Field(
        False,
        description=(
            "build MSAs on a ColabFold MMseqs2 server (the GPU worker needs to reach it; "
            "PIQ_MSA_SERVER_URL names a self-hosted one). Off: single-sequence mode, which "
            "works offline but is less accurate"
        ),
    )
    use_potentials: bool = pydantic.Field(
        False, description="inference-time potentials for more physical poses (slower)"
    )
    affinity: bool = pydantic.Field(
        False, description="also predict the binding affinity of one ligand to the proteins"
    )
    affinity_ligand: int = pydantic.Field(
        1,
        ge=1,
        le=MAX_LIGANDS,
        description="which ligand the affinity is for: 1 is the first of the ligands input",
    )
    seed: int = pydantic.Field(
        0, ge=0, le=2**31 - 1, description="random seed; the same seed repeats a run"
    )
