"""What a job's process says, relayed to the store: its progress, merged so that
the store is written at most every ``PROGRESS_INTERVAL_S`` (the latest always
landing), the model weights its tool loaded, the credits a run billed by use has
used (each report charged as it comes), and its last word (its result or its
error). The rule on how often progress is written is the same for a tool run in
the engine's own process (``inprocess``)."""

from __future__ import annotations

import logging
import time
from multiprocessing.connection import Connection
from typing import Any

from ..jobs.provenance import model_from_record
from ..jobs.runs import RunService

log = logging.getLogger(__name__)

#: Progress closer together than this is merged (the latest always wins).
PROGRESS_INTERVAL_S = 0.05


def progress_due(last_sent: float, now: float, fraction: float) -> bool:
    """Whether progress reported at ``now`` is written, the last written at
    ``last_sent`` (``time.monotonic``): a finished fraction always is."""
    return now - last_sent >= PROGRESS_INTERVAL_S or fraction >= 1.0


class Reports:
    """Reads what the job's process says, in the supervising loop itself (no thread
    per job): progress goes to the store at most every ``PROGRESS_INTERVAL_S``, the
    latest always landing, and the last message is kept."""

    def __init__(self, conn: Connection, service: RunService, job_id: str, holder: str) -> None:
        self.conn = conn
        self.service = service
        self.job_id = job_id
        self.holder = holder
        self.final: dict[str, Any] | None = None
        self.open = True
        self._pending: dict[str, Any] | None = None
        self._last_sent = 0.0

    def read(self, most: int = 1000) -> None:
        """Take the messages waiting on the pipe (at most ``most``, so that a tool
        flooding it with progress cannot keep cancel and time limits waiting)."""
        try:
            for _ in range(most):
                if not (self.open and self.conn.poll()):
                    break
                message = self.conn.recv()
                if message.get("type") == "models":
                    self._record_models(message["models"])
                    continue
                if message.get("type") == "usage":
                    self._record_use(int(message["credits"]))
                    continue
                if message.get("type") != "progress":
                    self.final = message
                    self.close()
                    break
                self._pending = message
        except (EOFError, OSError):
            self.close()
        self.flush(time.monotonic())

    def _record_models(self, models: list[dict[str, Any]]) -> None:
        """The weights the tool loaded go into the job's provenance at once, so that a
        run that fails or times out later still says what it had loaded."""
        try:
            self.service.record_models(
                self.job_id, [model_from_record(m) for m in models], holder=self.holder
            )
        except Exception:
            log.exception("recording the models of job %s failed", self.job_id)

    def _record_use(self, credits: int) -> None:
        try:
            self.service.record_use(self.job_id, credits, holder=self.holder)
        except Exception:
            log.exception("recording the credits job %s used failed", self.job_id)

    def due(self) -> float | None:
        """When held-back progress must be written, if any is held back."""
        return None if self._pending is None else self._last_sent + PROGRESS_INTERVAL_S

    def flush(self, now: float, *, force: bool = False) -> None:
        message = self._pending
        if message is None:
            return
        if force or progress_due(self._last_sent, now, message["fraction"]):
            self._pending, self._last_sent = None, now
            try:
                self.service.progress(
                    self.job_id,
                    message["fraction"],
                    message.get("message"),
                    holder=self.holder,
                    estimated=bool(message.get("estimated")),
                    eta_s=message.get("eta_s"),
                )
            except Exception:
                log.exception("recording the progress of job %s failed", self.job_id)

    def close(self) -> None:
        if self.open:
            self.open = False
            self.conn.close()
