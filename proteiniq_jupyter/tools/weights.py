"""Fingerprints of model weights for a job's provenance. Weights run to gigabytes, so
what is hashed is what names them: their configuration and index files, or for
checkpoints with neither, each file's name and size."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

#: The files that say what a saved transformers model is: its configuration, and the
#: index of its weight shards when it has them.
INDEX_FILES = (
    "config.json",
    "model.safetensors.index.json",
    "pytorch_model.bin.index.json",
)


def _hex(digest: hashlib._Hash) -> str:
    return "sha256:" + digest.hexdigest()


def index_fingerprint(folder: Path, names: Sequence[str] = INDEX_FILES) -> str | None:
    """The SHA-256 of the index and configuration files in ``folder`` (each named and
    read in order); None when it has none of them."""
    digest = hashlib.sha256()
    found = False
    for name in names:
        path = folder / name
        if path.is_file():
            found = True
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return _hex(digest) if found else None


def listing_fingerprint(paths: Sequence[Path]) -> str | None:
    """The SHA-256 of each file's name and size, for checkpoints with no index
    (reading gigabytes would cost a job more than its run); None when none exist."""
    digest = hashlib.sha256()
    found = False
    for path in paths:
        if path.is_file():
            found = True
            digest.update(f"{path.name}\0{path.stat().st_size}\0".encode())
    return _hex(digest) if found else None
