"""On a plain server the embedded Dask cluster starts with the first job, not
with the server: an idle server holds no worker processes."""

from __future__ import annotations

import asyncio

import psutil
import pytest

from .conftest import Api, PiqServer

pytestmark = pytest.mark.timeout(180)


def dask_processes() -> list[str]:
    """This process's children that are Dask's: the embedded cluster's nannies and
    workers, which multiprocessing spawns (its resource tracker, which outlives
    whatever first started it, is not one)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            command = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "spawn_main" in command or "forkserver" in command or "distributed" in command:
            found.append(command)
    return found


@pytest.mark.piq(executor="dask", dask_workers=1)
async def test_the_embedded_cluster_starts_with_the_first_job(piq: PiqServer, tim: Api):
    await asyncio.sleep(3)  # the engine's monitor has made its first passes
    assert dask_processes() == []
    assert piq.state.engine.executor._cluster is None
    job = await tim.run("first job")
    assert job["status"] == "COMPLETED", job
    assert dask_processes(), "no Dask worker ran the job"
