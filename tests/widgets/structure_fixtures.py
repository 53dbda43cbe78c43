"""What the structure view's and job detail's tests share: the client tests' server
and clients (a real Jupyter server with the extension, on SQLite or PostgreSQL, and
a client on each transport), here with the tiny ESMFold model the tool tests build,
and the real jobs the views show: a Vina docking of paracetamol into BACE-1
(exhaustiveness 1) and a fold with the tiny model, each run once per transport."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from proteiniq_jupyter.client import Client, Job
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.tools.esmfold import MODEL_ENV

from ..client.conftest import (
    Stack,
    _count_postgres,
    backend,
    client,
    clients,
    module_database_url,
    start_stack,
    stop_stack,
)
from ..tools.tiny_esmfold import build_tiny_esmfold

__all__ = [
    "_count_postgres",
    "backend",
    "client",
    "clients",
    "eventually",
    "jobs",
    "module_database_url",
    "stack",
]

DATA = Path(__file__).resolve().parents[1] / "data"
RECEPTOR = DATA / "docking" / "BACE_1_receptorH.pdb"
LIGAND = "CC(=O)Nc1ccc(O)cc1 paracetamol"
#: A small box in the BACE-1 active site, exhaustiveness 1: a docking of seconds.
DOCKING = {
    "center_x": 28.5,
    "center_y": 6.0,
    "center_z": 14.4,
    "size_x": 16.0,
    "size_y": 16.0,
    "size_z": 16.0,
    "exhaustiveness": 1,
    "num_poses": 3,
    "energy_range": 5.0,
}
SEQUENCE = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAKL"
#: How long a widget may take to show what the store holds, on a busy machine.
LIVE_TIMEOUT_S = 60.0
JOB_TIMEOUT_S = 300.0


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str | None
) -> Iterator[Stack]:
    """The client tests' server, with ESMFold pointed at the tiny model."""
    model = build_tiny_esmfold(tmp_path_factory.mktemp("tiny-esmfold"))
    stack = start_stack(
        tmp_path_factory.mktemp("stack"),
        database_url=module_database_url,
        extra_env={MODEL_ENV: str(model)},
    )
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith(("PIQ_", "JPY_", "JUPYTERHUB_"))]:
            patch.delenv(key)
        for key in [k for k in stack.env if k.startswith("PIQ_")]:
            patch.setenv(key, stack.env[key])
        try:
            yield stack
        finally:
            stop_stack(stack)


class Jobs:
    """The views' real jobs, run once per transport and kept for the module."""

    def __init__(self) -> None:
        self._made: dict[tuple[str, str], str] = {}

    def _get(self, client: Client, kind: str, run: Callable[[], Job]) -> Job:
        key = (client.connection.transport, kind)
        if key not in self._made:
            job = run().wait(JOB_TIMEOUT_S, show=False)
            assert job.status is JobStatus.COMPLETED, (job.status, job.error)
            self._made[key] = job.id
        return client.job(self._made[key])

    def docked(self, client: Client) -> Job:
        return self._get(
            client,
            "docking",
            lambda: client.run(
                "autodock-vina",
                receptor=RECEPTOR.read_text(),
                ligands=LIGAND,
                name="Paracetamol into BACE-1",
                new=True,
                **DOCKING,
            ),
        )

    def folded(self, client: Client) -> Job:
        return self._get(
            client, "fold", lambda: client.run("esmfold", SEQUENCE, name="tiny fold", new=True)
        )


@pytest.fixture(scope="module")
def jobs(stack: Stack) -> Jobs:
    return Jobs()


def eventually(check: Callable[[], bool], what: str, timeout: float = LIVE_TIMEOUT_S) -> None:
    """Until ``check`` holds (the widget's traits follow the feed on its own thread)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)
