"""The ESMFold model: where it is (``PIQ_ESMFOLD_MODEL``), whether it is there, and
its loading, once per process, offline."""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ...jobs.provenance import ModelWeights
from ..weights import index_fingerprint

if TYPE_CHECKING:
    from transformers import EsmForProteinFolding


MODEL_ENV = "PIQ_ESMFOLD_MODEL"
DEFAULT_MODEL = "facebook/esmfold_v1"
INSTALL_HINT = "pip install 'proteiniq-jupyter[esmfold]'"

#: What a saved model must hold: its configuration, its weights (one of these) and the
#: tokenizer's vocabulary.
CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.txt"
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def model_location() -> str:
    """Where the weights are: ``PIQ_ESMFOLD_MODEL``, else the default hub id."""
    return os.environ.get(MODEL_ENV, "").strip() or DEFAULT_MODEL


def model_name(location: str) -> str:
    """What results show of the location: a hub id, or a directory's own name (a job
    can be made public, and the full path says nothing to its readers)."""
    if _looks_like_path(location):
        return Path(location).expanduser().resolve().name or location
    return location


def default_device() -> str:
    """``cuda`` when this process sees a GPU, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def missing_packages() -> str | None:
    """Why torch/transformers cannot be used, naming the install command; checked
    without importing them (importing torch takes seconds)."""
    absent = [name for name in ("torch", "transformers") if importlib.util.find_spec(name) is None]
    if not absent:
        return None
    verb = "is" if len(absent) == 1 else "are"
    return f"{' and '.join(absent)} {verb} not installed: {INSTALL_HINT}"


def _looks_like_path(location: str) -> bool:
    """A hub id is ``owner/name``; anything else with a separator is a path."""
    return (
        location.startswith((".", "~", os.sep))
        or location.count("/") > 1
        or (os.altsep is not None and os.altsep in location)
        or Path(location).expanduser().exists()
    )


def _expected() -> str:
    return (
        f"set {MODEL_ENV} to a directory holding an ESMFold model saved by transformers "
        f"({CONFIG_FILE}, {' or '.join(WEIGHT_FILES[::2])}, {VOCAB_FILE}), or to a Hugging "
        "Face hub id whose files are in the local cache"
    )


def missing_model(location: str) -> str | None:
    """Why ``location`` holds no usable ESMFold model; cheap (looks at files only)."""
    source = (
        f"{MODEL_ENV}={location!r}"
        if os.environ.get(MODEL_ENV, "").strip()
        else (f"{MODEL_ENV} is not set, so the default {location!r} is used")
    )
    if _looks_like_path(location):
        folder = Path(location).expanduser()
        if not folder.is_dir():
            return f"{source}: no such directory; {_expected()}"
        absent = [name for name in (CONFIG_FILE, VOCAB_FILE) if not (folder / name).is_file()]
        if not any((folder / name).is_file() for name in WEIGHT_FILES):
            absent.append(f"weights ({' or '.join(WEIGHT_FILES)})")
        if absent:
            return f"{source}: the directory has no {', '.join(absent)}; {_expected()}"
        return None
    from huggingface_hub import constants, try_to_load_from_cache

    def cached(name: str) -> bool:
        try:
            return isinstance(try_to_load_from_cache(location, name), str)
        except ValueError:  # not a valid repository id
            return False

    if cached(CONFIG_FILE) and cached(VOCAB_FILE) and any(cached(n) for n in WEIGHT_FILES):
        return None
    return (
        f"{source}, but its files are not in the local Hugging Face cache "
        f"({constants.HF_HUB_CACHE}); download them once where there is internet "
        f"(hf download {location}) or {_expected()}"
    )


_LOAD_LOCK = threading.Lock()
#: Runs share one model; a fold changes its chunk size while it runs, and two folds
#: at once would only compete for the same cores or GPU memory.
INFERENCE_LOCK = threading.Lock()
#: The one model this process keeps: (location, device) -> model. A job process
#: loads it once; the in-process executor and benchmarks reuse it.
_LOADED: dict[tuple[str, str], EsmForProteinFolding] = {}


def load_model(location: str | None = None, device: str | None = None) -> EsmForProteinFolding:
    """The model at ``location`` (default: ``model_location()``) on ``device``
    (default: the GPU when there is one), loaded offline once per process. Loading
    another location drops the previous model, since each takes gigabytes. The
    tokenizer is not loaded: ``fold`` encodes residues in the order the folding
    trunk expects, which is not the tokenizer's."""
    location = location or model_location()
    with _LOAD_LOCK:
        device = device or default_device()
        key = (location, device)
        if key in _LOADED:
            return _LOADED[key]
        import torch
        from transformers import EsmForProteinFolding

        # A copy the worker loaded on the CPU before forking this job moves to the
        # GPU rather than being read from disk again.
        model = _LOADED.pop((location, "cpu"), None)
        _LOADED.clear()
        if model is None:
            path = str(Path(location).expanduser()) if _looks_like_path(location) else location
            model = EsmForProteinFolding.from_pretrained(path, local_files_only=True)
        module: torch.nn.Module = model  # nn.Module's typed methods; they act in place
        if device == "cpu":
            module.float()  # the language model may be half precision, slow on a CPU
        module.to(device).eval()
        _LOADED[key] = model
        return model


def loaded_weights(location: str) -> ModelWeights:
    """The model at ``location`` as a job's provenance records it: a fingerprint of
    its configuration and shard index (from the local cache, for a hub id)."""
    folder: Path | None = None
    if _looks_like_path(location):
        folder = Path(location).expanduser()
    else:
        from huggingface_hub import try_to_load_from_cache

        try:
            config = try_to_load_from_cache(location, CONFIG_FILE)
        except ValueError:  # not a valid repository id
            config = None
        folder = Path(config).parent if isinstance(config, str) else None
    fingerprint = index_fingerprint(folder) if folder is not None else None
    return ModelWeights(name=model_name(location), location=location, fingerprint=fingerprint)


def is_loaded(location: str) -> bool:
    """Whether this process holds the model at ``location``, on any device: loaded
    by an earlier job here, or by the worker before forking."""
    with _LOAD_LOCK:
        return any(loc == location for loc, _ in _LOADED)
