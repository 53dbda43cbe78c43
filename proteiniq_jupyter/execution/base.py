"""What the engine asks of the executor it owns: besides taking jobs and stopping
them (``jobs.ports.Executor``, all the service asks), starting, waiting for what it
took, and shutting down."""

from __future__ import annotations

from typing import Protocol

from ..jobs.ports import Executor


class EngineExecutor(Executor, Protocol):
    def start(self) -> None:
        """Begin taking the jobs that wait in the store, those accepted while no
        engine ran included (nothing to do for an executor that takes jobs only as
        they are submitted)."""

    def wait(self, timeout: float | None = None) -> None:
        """Block until the jobs it took have finished, or ``timeout`` seconds pass."""

    def shutdown(self) -> None:
        """Stop taking jobs and let go of what it holds."""
