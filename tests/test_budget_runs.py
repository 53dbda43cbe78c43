"""Caps and budgets on a real engine (the embedded Dask cluster, each job in a
process of its own): a run billed by use is stopped at its cap, its process killed,
charged only what it used; a budget is found as it was by the engine opened next."""

from __future__ import annotations

from pathlib import Path

import pytest

from proteiniq_jupyter.config import EngineConfig
from proteiniq_jupyter.engine import Engine, open_engine
from proteiniq_jupyter.jobs.errors import BudgetExceeded
from proteiniq_jupyter.jobs.status import JobStatus

from .conftest import text_input
from .engines import dask_config, wait_until
from .engines import engine_fixture as engine_fixture
from .helpers import process_alive


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> EngineConfig:
    return dask_config(database_url, tmp_path)


def test_a_run_billed_by_use_is_stopped_at_its_cap(engine: Engine, tmp_path: Path) -> None:
    actor = engine.actor()
    markers = tmp_path / "markers"
    markers.mkdir()
    # 100 units of half a second: left alone it would run for 50 s and cost 1000.
    settings = {"units": 100, "seconds_per_unit": 0.5, "marker_dir": str(markers)}
    job = engine.service.submit(actor, "meter", [text_input("x")], settings, max_credits=30)
    assert engine.service.account(actor).available_credits == 470  # it holds its cap
    ended = wait_until(
        lambda: (j := engine.service.get(actor, job.id).job).status.is_terminal and j, timeout=60
    )
    assert ended.status is JobStatus.BUDGET_EXCEEDED, ended.error
    assert ended.credits_charged == 30
    [pid] = [int(p.name) for p in markers.iterdir()]
    wait_until(lambda: not process_alive(pid), timeout=20)
    ledger = engine.service.ledger(actor, job_id=job.id)
    assert [e.delta for e in ledger if e.kind == "charge"] == [-10, -10, -10]
    assert sum(e.delta for e in ledger) == -30
    assert engine.service.account(actor).available_credits == 470
    events = [e.data.get("credits_charged") for e in engine.service.events(actor, job.id)]
    assert events[-1] == 30 and 20 in events  # the charge grew as the run went


def test_a_budget_survives_an_engine_restart(config: EngineConfig) -> None:
    first = open_engine(config)
    try:
        actor = first.actor()
        first.service.open_budget(actor, "weekly", 40)
        job = first.service.submit(actor, "echo", [text_input("hello credit")], budget="weekly")
        wait_until(lambda: first.service.get(actor, job.id).job.status is JobStatus.COMPLETED)
    finally:
        first.close()
    second = open_engine(config)
    try:
        actor = second.actor()
        use = second.service.budget(actor, "weekly")
        assert use.budget.credits == 40
        assert (use.used, use.charged, use.jobs, use.job_ids) == (20, 20, 1, (job.id,))
        second.service.submit(actor, "echo", [text_input("hello credit")], budget="weekly")
        with pytest.raises(BudgetExceeded):
            second.service.submit(actor, "echo", [text_input("hello credit")], budget="weekly")
    finally:
        second.close()
