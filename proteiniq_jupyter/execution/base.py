"""What the engine asks of the executor it owns: besides taking jobs and stopping
them (``jobs.ports.Executor``, all the service asks), starting, waiting for what it
took, and shutting down."""

from __future__ import annotations

import time
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Deadline:
    """When a wait given ``timeout`` seconds (None: as long as it takes) ends, as
    ``wait`` takes it; ``at`` is ``time.monotonic`` time."""

    at: float | None

    @classmethod
    def after(cls, timeout: float | None) -> Deadline:
        return cls(None if timeout is None else time.monotonic() + timeout)

    def left(self) -> float | None:
        """The seconds left (never below zero), or None when there is no end."""
        return None if self.at is None else max(0.0, self.at - time.monotonic())

    def passed(self) -> bool:
        return self.at is not None and time.monotonic() >= self.at
