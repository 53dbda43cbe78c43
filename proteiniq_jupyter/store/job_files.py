"""Job files on disk: each job's folder, the folders its runs write into, and
moving the files of the run that ended the job into place."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

#: Where the runs of a job write, inside its folder (hidden: no output file name
#: starts with a dot).
ATTEMPTS_DIR = ".attempts"
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9_.-]")


class DirectoryJobFiles:
    """Each job's files in ``<root>/<job id>/``; deleting the job deletes the folder.
    A run writes into ``<job id>/.attempts/<its lease holder>/`` until the run that
    ends the job moves its files up into the job's folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def upload_dir(self, file_id: str) -> Path:
        if not file_id or "/" in file_id or file_id.startswith("."):
            raise ValueError(f"not a file id: {file_id!r}")
        return self.root.parent / "uploads" / file_id

    def job_dir(self, job_id: str) -> Path:
        if not job_id or "/" in job_id or job_id.startswith("."):
            raise ValueError(f"not a job id: {job_id!r}")
        return self.root / job_id

    def attempt_dir(self, job_id: str, holder: str) -> Path:
        name = _UNSAFE_IN_NAME.sub("_", holder).lstrip(".")
        if not name:
            raise ValueError(f"not a lease holder: {holder!r}")
        return self.job_dir(job_id) / ATTEMPTS_DIR / name

    def publish(self, job_id: str, holder: str | None) -> None:
        target = self.job_dir(job_id)
        if holder is not None:
            source = self.attempt_dir(job_id, holder)
            for entry in sorted(source.iterdir()) if source.is_dir() else []:
                _replace(entry, target / entry.name)
        shutil.rmtree(target / ATTEMPTS_DIR, ignore_errors=True)

    def discard(self, job_id: str, holder: str) -> None:
        shutil.rmtree(self.attempt_dir(job_id, holder), ignore_errors=True)

    def cache_dir(self) -> Path:
        """Where tools keep what outlives a job (prepared receptors, by content)."""
        return self.root.parent / "cache"

    def delete(self, job_id: str) -> None:
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)


def _replace(source: Path, target: Path) -> None:
    """Move ``source`` to ``target``, whatever is there already (a file or a folder)."""
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif source.is_dir() and os.path.lexists(target):
        target.unlink()
    os.replace(source, target)
