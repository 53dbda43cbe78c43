"""``piq``: the job system from a shell.

Each command parses its arguments, opens the engine, calls one ``JobService`` method
and renders what comes back; every rule (prices, permissions, legal status changes,
validation) lives in the service, so the shell, the notebook and the server give the
same answers. Errors are one line on standard error and a non-zero exit status:
1 for a refusal of the job system, 2 for a command line that could not be parsed.

The group and its error handling are in ``app``; each module beside it adds one
family of commands to the group when it is imported, which this package does.
"""

from __future__ import annotations

from . import account, batches, budgets, compare, engine, jobs, teams, tools
from .app import cli, main

__all__ = [
    "account",
    "batches",
    "budgets",
    "cli",
    "compare",
    "engine",
    "jobs",
    "main",
    "teams",
    "tools",
]
