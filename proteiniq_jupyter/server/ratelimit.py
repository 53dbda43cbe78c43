"""Per-user request limits: a fixed window per user, counted in memory."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_epoch: int
    retry_after: int


class RateLimiter:
    """``limit`` requests per ``window_s`` seconds for each user; 0 turns it off."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> Decision:
        now = time.time()
        if self.limit <= 0:
            return Decision(True, 0, 0, int(now), 0)
        with self._lock:
            start, used = self._windows.get(key, (now, 0))
            if now - start >= self.window_s:
                start, used = now, 0
            allowed = used < self.limit
            if allowed:
                used += 1
            self._windows[key] = (start, used)
        reset = start + self.window_s
        return Decision(
            allowed=allowed,
            limit=self.limit,
            remaining=max(0, self.limit - used),
            reset_epoch=math.ceil(reset),
            retry_after=0 if allowed else max(1, math.ceil(reset - now)),
        )
