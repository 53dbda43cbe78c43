"""Progress through a phase that a library runs without saying how far it is
(Vina's docking, a model's forward pass): the engine's estimate, from how long the
phase is expected to take, reported from a thread while the phase runs and marked
as an estimate, with the time it expects is left."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

#: How often an estimated phase reports.
TICK_S = 0.5
#: The share of its phase an estimate claims at most before the phase really ends.
CAP = 0.95

#: Where an estimate goes: (fraction, message, seconds left or None when unknown).
EstimateSink = Callable[[float, str | None, float | None], None]


@dataclass(frozen=True)
class PhaseEstimate:
    """A phase that moves the job from ``low`` to ``high`` and is expected to take
    ``expected_s`` seconds (None: no idea), followed by ``tail_s`` seconds of the
    rest of the job."""

    low: float
    high: float
    expected_s: float | None
    tail_s: float = 0.0

    def at(self, elapsed: float) -> tuple[float, float | None]:
        """The job's fraction and the seconds left, ``elapsed`` seconds into the
        phase. Past its expected length the phase holds below its end and the time
        left is unknown."""
        if not self.expected_s or self.expected_s <= 0:
            return self.low, None
        share = elapsed / self.expected_s
        fraction = self.low + (self.high - self.low) * min(share, CAP)
        if share >= 1.0:
            return fraction, None
        return fraction, self.expected_s - elapsed + self.tail_s


class EstimatedPhase:
    """A context manager: while its block runs, a thread reports the estimate every
    ``tick_s`` seconds. The block must let other threads run (a library that holds
    the interpreter's lock throughout runs in a process of its own)."""

    def __init__(
        self,
        estimate: PhaseEstimate,
        message: str,
        sink: EstimateSink,
        *,
        tick_s: float | None = None,
    ) -> None:
        self.estimate = estimate
        self.message = message
        self.sink = sink
        self.tick_s = TICK_S if tick_s is None else tick_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="piq-estimate", daemon=True)
        self._started = 0.0

    def _report(self) -> None:
        elapsed = time.monotonic() - self._started
        fraction, eta = self.estimate.at(elapsed)
        if self.estimate.expected_s is None:
            note = f"{elapsed:.0f} s so far"
        elif eta is None:
            note = f"{elapsed:.0f} s so far, longer than expected"
        else:
            note = "estimated"
        self.sink(fraction, f"{self.message} ({note})", eta)

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            self._report()

    def __enter__(self) -> EstimatedPhase:
        self._started = time.monotonic()
        self._report()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
