"""Caps and budgets from the client, on both transports: ``max_credits=`` on
``piq.run`` and ``piq.run_batch``, a metered run stopped at its cap, and
``piq.budget(N)`` for the current notebook (named by its path)."""

from __future__ import annotations

import secrets

import pytest

from proteiniq_jupyter.client import Client, JobFailed
from proteiniq_jupyter.jobs.errors import BudgetExceeded, CreditCapExceeded, ValidationError

#: 11 characters: 20 credits.
TEXT = "hello world"


def test_a_cap_below_the_quote_is_refused_before_the_job_exists(client: Client) -> None:
    before = client.credits()
    with pytest.raises(CreditCapExceeded) as refused:
        client.run("echo", TEXT, max_credits=19, new=True)
    assert "quoted at 20 credits, more than its cap of 19" in refused.value.message
    with pytest.raises(CreditCapExceeded):
        client.run_batch("echo", [TEXT, "x"], max_credits=15, new=True)
    assert client.credits() == before
    quote = client.quote("echo", TEXT, max_credits=19)
    assert (quote.estimated_credits, quote.max_credits) == (20, 19)
    job = client.run("echo", TEXT, max_credits=20, new=True, wait=True)
    assert job.status == "COMPLETED" and job.resource.credits.max_credits == 20


def test_a_metered_run_stops_at_its_cap(client: Client) -> None:
    before = client.credits()
    job = client.run("meter", "x", units=9, max_credits=30, new=True)
    job.wait(120)
    assert job.status == "BUDGET_EXCEEDED"
    assert "credit cap of 30" in (job.error or "")
    with pytest.raises(JobFailed):
        job.result()
    assert job.resource.credits.charged == 30
    assert client.credits() == before - 30


def test_a_named_budget_from_the_client(client: Client) -> None:
    with pytest.raises(ValidationError) as refused:
        client.budget(40)  # no notebook here to name it
    assert "give the budget a name" in refused.value.message
    name = f"screen {secrets.token_hex(4)}"
    budget = client.budget(40, name=name)
    assert (budget.name, budget.credits, budget.notebook) == (name, 40, False)
    client.run("echo", TEXT, budget=name, new=True, wait=True)
    client.run("echo", TEXT, budget=name, new=True, wait=True)
    with pytest.raises(BudgetExceeded):
        client.run("echo", TEXT, budget=name, new=True)
    [shown] = [b for b in client.budgets() if b.name == name]
    assert (shown.used, shown.jobs) == (40, 2)
    assert name in {b.name for b in client.account().budgets}


def test_the_notebook_budget(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = f"lab/spend-{secrets.token_hex(4)}.ipynb"
    monkeypatch.setenv("JPY_SESSION_NAME", notebook)
    budget = client.budget(20)
    assert (budget.name, budget.notebook, budget.credits) == (notebook, True, 20)
    client.run("echo", TEXT, new=True, wait=True)
    with pytest.raises(BudgetExceeded) as refused:
        client.run("echo", TEXT, new=True)
    assert f"budget {notebook!r} has 0 of its 20 credits left" in refused.value.message
    assert client.budget(60).credits == 60  # set again: the same budget, larger
    client.run("echo", TEXT, new=True, wait=True)
    [shown] = [b for b in client.budgets() if b.name == notebook]
    assert (shown.used, shown.jobs, shown.id) == (40, 2, budget.id)
