"""ESMFold: structure prediction from one sequence with transformers' EsmForProteinFolding.

The model is read from ``PIQ_ESMFOLD_MODEL``: a directory saved by transformers, or a
Hugging Face hub id (default ``facebook/esmfold_v1``) whose files are already in the
local cache. It is always loaded with ``local_files_only=True``, so a run never reaches
the internet. torch and transformers are imported only when a job runs, so the
catalogue works without them and ``missing_requirements`` names what to install.

The tool declares ``gpu = False``: the executor makes a ``gpu`` tool wait for a worker
with a GPU, and ESMFold also runs on a CPU. It uses the worker's GPU when there is one
(``prefers_gpu``).

This version of transformers gives pLDDT as a fraction (0-1) per atom, and
``infer_pdb`` writes that fraction into the B-factor column. The tool reports pLDDT
per residue (its CA atom) on the 0-100 scale of AlphaFold and the original ESMFold,
both in its results and on every atom of the residue in the PDB.

The package's modules: ``model`` (where the weights are, their checks, loading),
``inputs`` (the sequence read and checked), ``folding`` (the fold itself) and
``tool`` (``EsmFold``: slot, settings, price and run).
"""

from .folding import CHAIN_LINKER, CHAIN_SEPARATOR, RESIDUE_INDEX_OFFSET, Prediction, fold
from .inputs import ALPHABET, FoldInput
from .model import (
    DEFAULT_MODEL,
    INSTALL_HINT,
    MODEL_ENV,
    default_device,
    is_loaded,
    load_model,
    loaded_weights,
    missing_model,
    missing_packages,
    model_location,
    model_name,
)
from .tool import EsmFold, EsmFoldSettings, estimate_credits

__all__ = [
    "ALPHABET",
    "CHAIN_LINKER",
    "CHAIN_SEPARATOR",
    "DEFAULT_MODEL",
    "INSTALL_HINT",
    "MODEL_ENV",
    "RESIDUE_INDEX_OFFSET",
    "EsmFold",
    "EsmFoldSettings",
    "FoldInput",
    "Prediction",
    "default_device",
    "estimate_credits",
    "fold",
    "is_loaded",
    "load_model",
    "loaded_weights",
    "missing_model",
    "missing_packages",
    "model_location",
    "model_name",
]
