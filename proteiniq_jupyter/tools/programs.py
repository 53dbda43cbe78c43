"""The external programs a tool runs, and how an operator provides each."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Program:
    """An external program a tool runs, and how an operator provides it: on PATH
    under ``name``, or at the path in the ``env_var`` environment variable."""

    name: str
    env_var: str
    install_hint: str
    #: The Python distribution that installs it, whose version a job's provenance
    #: records when the program has no ``--version`` of its own.
    distribution: str | None = None

    def locate(self) -> tuple[str | None, str | None]:
        """(the program's path, None), or (None, why it cannot be used)."""
        configured = os.environ.get(self.env_var, "").strip()
        if configured:
            path = Path(configured).expanduser()
            if path.is_file() and os.access(path, os.X_OK):
                return str(path), None
            found = shutil.which(configured)
            if found:
                return found, None
            return None, (
                f"{self.env_var} is set to {configured!r}, which is not an executable "
                f"program; point it at the {self.name} program, or unset it to use "
                f"{self.name} from PATH"
            )
        found = shutil.which(self.name)
        if found:
            return found, None
        return None, (
            f"the {self.name} program was not found on PATH; {self.install_hint}, "
            f"or set {self.env_var} to the program's path"
        )
