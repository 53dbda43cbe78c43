"""The last step of a worker's fork server start, after its preload imports: warm
up the preloaded tools, then freeze what is there for the garbage collector.

Every job process forks from the fork server, so what is done here is done once
per worker rather than once per job:

* **Warm-ups.** A tool's first use in a process fills caches that its imports
  leave empty (RDKit's and meeko's templates, for one). Done here, every job forks
  with them filled.
* **The installed tools.** Their entry points are looked up once here, not in
  every job's process before its tool can start.
* **A token for warm hosts.** Job processes inherit it; the hosts they start
  (``tools.warm_host``) are named by it, so they serve this worker's jobs alone.
* **``gc.freeze()``.** The modules preloaded here (the engine, and a tool's
  libraries: torch alone is hundreds of thousands of objects) are shared with every
  job process copy-on-write. A full collection in a job would walk them all, and
  write to each object's collector header, copying every page they lie on. Frozen,
  the job's collections leave them alone, as Python's documentation of
  ``gc.freeze`` recommends before forking.

The fork server imports this module as its last preload and it acts only there:
``job_process`` starts the fork server with ``WARM_UP_ENV`` set (to the tools to warm
up, or empty), since a fork server takes only module names.
"""

from __future__ import annotations

import gc
import importlib
import os
import secrets
import sys
import traceback

from ..tools.registry import remember_entry_points
from ..tools.warm_host import HOST_TOKEN_ENV

#: Tool classes to warm up, as ``module:Class`` separated by commas.
WARM_UP_ENV = "PIQ_FORK_SERVER_WARM_UP"


def warm_up(specs: str) -> list[str]:
    """Call ``warm_up()`` on each tool class named; returns the ones that failed.
    A failure is printed and skipped: the tool's jobs then pay the first use
    themselves, and report any real problem when they run."""
    failed = []
    for spec in filter(None, (part.strip() for part in specs.split(","))):
        module_name, _, class_name = spec.partition(":")
        try:
            tool = getattr(importlib.import_module(module_name), class_name)
            tool.warm_up()
        except Exception:
            print(f"warming up {spec} in the fork server failed:", file=sys.stderr)
            traceback.print_exc()
            failed.append(spec)
    return failed


def finish_start() -> None:
    # The warm hosts its job processes start are this fork server's own.
    os.environ[HOST_TOKEN_ENV] = secrets.token_hex(8)
    remember_entry_points()
    warm_up(os.environ.pop(WARM_UP_ENV, ""))
    gc.collect()
    gc.freeze()


if WARM_UP_ENV in os.environ:
    finish_start()
