"""Re-attaching a rerun cell to the job it started.

A run from a notebook is submitted under an idempotency key made of the notebook's
path and the request's fingerprint (tool, inputs, settings, name), so the server
answers a rerun, also after a kernel restart, with the job the first run made,
charged once. Keys are tried in a fixed sequence: a job that FAILED or was
CANCELLED, or one that the caller may not see (another person's copy of the same
notebook, in the same workspace), moves on to the next key, which makes a new job
the first time and is found again by the next rerun. Batches re-attach the same
way (the server keeps their keys as it keeps jobs').
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from .. import api
from ..jobs.errors import Conflict, NotFound
from ..jobs.status import JobStatus
from .render import ago
from .transport import JsonBody, Transport

#: Statuses a rerun does not attach to: it runs the request again.
NOT_REATTACHED = frozenset({JobStatus.FAILED, JobStatus.CANCELLED})
#: Batch statuses a rerun does not attach to.
BATCH_NOT_REATTACHED = frozenset({"FAILED", "CANCELLED"})
#: Keys tried before a rerun gives up finding its own job and makes one afresh.
MAX_KEYS = 25
#: A job made this long before its submit was sent is an earlier run's (the slack
#: allows for a little skew between the clocks of kernel and server; it only words
#: the message).
CLOCK_SLACK = timedelta(seconds=0.25)
#: Jobs this process submitted under a cell key (a rerun moments later attaches too).
_SUBMITTED: set[str] = set()


def notebook_path() -> str | None:
    """The notebook this kernel runs: ``JPY_SESSION_NAME`` (set by Jupyter for the
    kernels of notebook sessions) or IPython's ``__session__``."""
    path = os.environ.get("JPY_SESSION_NAME")
    if path:
        return path
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    session = shell.user_ns.get("__session__") if shell is not None else None
    return session if isinstance(session, str) and session else None


def fingerprint(body: JsonBody) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def cell_key(session: str, body: JsonBody, number: int) -> str:
    digest = hashlib.sha256(f"{session}\0{fingerprint(body)}\0{number}".encode()).hexdigest()
    return f"piq-cell-{digest[:48]}"


class Made(Protocol):
    """What a keyed submit answers: a job or a batch."""

    @property
    def id(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...


MadeT = TypeVar("MadeT", bound=Made)


def submit(
    transport: Transport, body: JsonBody, *, new: bool, session: str | None
) -> tuple[api.Job, str]:
    """The job for the request, and what happened: submitted, or attached to an
    earlier run's job. ``new`` (or no notebook) always submits."""

    def reusable(job: api.Job) -> bool:
        return job.status not in NOT_REATTACHED and job.permissions.see_contents

    return _keyed(transport.submit, body, reusable, "job", new=new, session=session)


def submit_batch(
    transport: Transport, body: JsonBody, *, new: bool, session: str | None
) -> tuple[api.Batch, str]:
    """``submit`` for a batch: a rerun cell attaches to the batch it made, unless
    that batch failed or was cancelled as a whole."""

    def reusable(batch: api.Batch) -> bool:
        return batch.status not in BATCH_NOT_REATTACHED

    return _keyed(transport.submit_batch, body, reusable, "batch", new=new, session=session)


def _keyed(
    send: Callable[[JsonBody, str], MadeT],
    body: JsonBody,
    reusable: Callable[[MadeT], bool],
    noun: str,
    *,
    new: bool,
    session: str | None,
) -> tuple[MadeT, str]:
    if new or session is None:
        made = send(body, uuid.uuid4().hex)
        return made, f"submitted {noun} {made.id}"
    sent = datetime.now(UTC)
    for number in range(MAX_KEYS):
        try:
            made = send(body, cell_key(session, body, number))
        except (NotFound, Conflict):  # another person's, or a different request
            continue
        if not reusable(made):
            continue
        if made.id in _SUBMITTED or made.created_at < sent - CLOCK_SLACK:
            status = getattr(made, "status", "")
            return made, f"attached to {noun} {made.id} from {ago(made.created_at)} ({status})"
        _SUBMITTED.add(made.id)
        return made, f"submitted {noun} {made.id}"
    made = send(body, uuid.uuid4().hex)
    return made, f"submitted {noun} {made.id}"
