"""The feed's place in the event log, and the order it releases events in.

An event's ``seq`` is its SSE id, so a stream must carry seqs in increasing order
with none left out, or a client resuming from ``Last-Event-ID`` would skip what it
never got. PostgreSQL hands out seqs in one order and commits them in another (a
transaction holding 10 can commit after the one holding 11), so the feed holds
events back above a missing seq until the seq shows up or cannot any more: every
transaction that could hold it has ended (``write_marks``: a write takes its
transaction number before its seq), or, as a last resort, ``gap_grace_s`` has
passed. On SQLite a writer holds the write lock until it commits, so a seq missing
below a visible one never comes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

from ..jobs.model import JobEvent

log = logging.getLogger(__name__)

#: A jump in seq longer than this (a sequence moved by hand) is not waited on.
MAX_TRACKED_GAP = 100_000


@dataclass
class _Gap:
    """A seq not seen while a higher one was. ``mark``: transactions numbered below
    it may still hold the seq (None: none can)."""

    mark: int | None
    seen_at: float


class EventCursor:
    """The feed's place in the event log. Only the poll, one at a time on a pool
    thread, touches it."""

    def __init__(self, gap_grace_s: float) -> None:
        self.gap_grace_s = gap_grace_s
        self.started = False
        self.ready = False
        #: The highest seq read so far.
        self.high = 0
        #: Every seq up to here is released, or known never to come.
        self.through = 0
        self.held: dict[int, JobEvent] = {}
        self.gaps: dict[int, _Gap] = {}
        self.start_mark: int | None = None
        self.started_at = 0.0
        #: The oldest write in flight when the previous poll ended (None on SQLite).
        self.settled_below: int | None = None

    def start(self, last_seq: int, marks: tuple[int, int] | None, now: float) -> None:
        """Begin after ``last_seq``. Seqs up to it were taken before ``marks`` was
        read, so they are final once every transaction numbered below its second
        value has ended."""
        self.high = self.through = last_seq
        self.start_mark = None if marks is None or marks[0] >= marks[1] else marks[1]
        self.settled_below = None if marks is None else marks[0]
        self.ready = self.start_mark is None
        self.started_at = now
        self.started = True

    def advance(
        self,
        fresh: Sequence[JobEvent],
        refilled: Sequence[JobEvent],
        queried: set[int],
        marks: tuple[int, int] | None,
        now: float,
    ) -> list[JobEvent]:
        """Take one poll's reads (``refilled``: the missing seqs in ``queried``
        that showed up; ``fresh``: seqs above the highest so far; ``marks`` read
        after both) and release what no missing seq holds back any more."""
        settled = self.settled_below
        for event in refilled:
            if self.gaps.pop(event.seq, None) is not None:
                self.held[event.seq] = event
        mark = None if marks is None else marks[1]
        for event in fresh:
            if event.seq <= self.high:
                continue
            missing = event.seq - self.high - 1
            if missing > MAX_TRACKED_GAP:
                log.warning("event seq jumped from %s to %s; not waiting", self.high, event.seq)
            else:
                for seq in range(self.high + 1, event.seq):
                    self.gaps[seq] = _Gap(mark, now)
            self.held[event.seq] = event
            self.high = event.seq
        released: list[JobEvent] = []
        while self.through < self.high:
            seq = self.through + 1
            if seq in self.held:
                released.append(self.held.pop(seq))
                self.through = seq
                continue
            gap = self.gaps.get(seq)
            if gap is None:  # inside an untracked jump
                self.through = min(chain(self.held, self.gaps), default=self.high + 1) - 1
                continue
            if gap.mark is None or (settled is not None and settled >= gap.mark and seq in queried):
                del self.gaps[seq]
                self.through = seq
                continue
            if now - gap.seen_at > self.gap_grace_s:
                log.warning(
                    "event seq %s still missing after %ss; not waiting", seq, self.gap_grace_s
                )
                del self.gaps[seq]
                self.through = seq
                continue
            break
        if not self.ready and (
            self.start_mark is None
            or (settled is not None and settled >= self.start_mark)
            or now - self.started_at > self.gap_grace_s
        ):
            self.ready = True
        self.settled_below = None if marks is None else marks[0]
        return released

    def take_back(self, events: Sequence[JobEvent], through: int) -> None:
        """Undo a release that could not be handed out. Seqs between the events
        that were found never to come are simply not tracked any more."""
        for event in events:
            self.held[event.seq] = event
        self.through = through
