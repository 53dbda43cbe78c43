"""Spending bounds: a job's own credit cap (refused above its quote, stopped at it
when billed by use) and named budgets (a submission refused when its hold would
take the budget past its credits), on both databases."""

from __future__ import annotations

from collections import Counter

import pytest

from proteiniq_jupyter.execution.inprocess import run_job
from proteiniq_jupyter.jobs.errors import (
    BudgetExceeded,
    Conflict,
    CreditCapExceeded,
    Forbidden,
    ValidationError,
)
from proteiniq_jupyter.jobs.model import Role
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.jobs.submission import Limits

from .conftest import text_input
from .test_credits import COST_20, check_ledger_adds_up


def job_ledger(service, actor, job_id):
    return [(e.kind, e.delta) for e in service.ledger(actor, job_id=job_id)]


def test_a_cap_below_the_quote_refuses_the_job_and_costs_nothing(service, alice):
    with pytest.raises(CreditCapExceeded) as refused:
        service.submit(alice, "echo", [text_input(COST_20)], max_credits=19)
    assert "quoted at 20 credits, more than its cap of 19" in refused.value.message
    assert refused.value.code == "credit_cap_exceeded"
    assert service.account(alice).available_credits == 500
    assert service.list_jobs(alice).items == []
    assert [e.kind for e in service.ledger(alice)] == ["grant"]
    # at the quote itself it is accepted, and holds its quote (the cap does not add)
    job = service.submit(alice, "echo", [text_input(COST_20)], max_credits=20)
    assert job.max_credits == 20 and job.held_credits == 20
    assert service.account(alice).available_credits == 480


@pytest.mark.parametrize("bad", [-1, 2.5, "ten", True])
def test_a_cap_that_is_not_a_whole_number_of_credits_is_named(service, alice, bad):
    with pytest.raises(ValidationError) as refused:
        service.submit(alice, "echo", [text_input(COST_20)], max_credits=bad)
    assert refused.value.errors[0]["field"] == "max_credits"
    assert service.account(alice).available_credits == 500


def test_the_quote_shows_the_cap_beside_the_cost(service, alice):
    quote = service.quote(alice, "echo", [text_input(COST_20)], None, max_credits=15)
    assert (quote.estimated_credits, quote.max_credits) == (20, 15)
    assert [e["code"] for e in quote.blocking_errors] == ["credit_cap_exceeded"]
    metered = service.quote(alice, "meter", [text_input("x")], None, max_credits=40)
    assert (metered.estimated_credits, metered.max_credits, metered.billed_by_use) == (10, 40, True)
    assert metered.blocking_errors == ()


def test_a_run_billed_by_use_stops_at_its_cap_and_keeps_only_what_it_used(service, alice):
    job = service.submit(alice, "meter", [text_input("x")], {"units": 10}, max_credits=30)
    assert job.held_credits == 30  # billed by use: it holds its cap
    assert service.account(alice).available_credits == 470
    run_job(service.runs, service.tools, job.id)
    ended = service.get(alice, job.id).job
    assert ended.status is JobStatus.BUDGET_EXCEEDED
    assert "credit cap of 30" in (ended.error or "")
    assert ended.credits_charged == 30
    entries = job_ledger(service, alice, job.id)
    charges = [delta for kind, delta in entries if kind == "charge"]
    assert charges == [-10, -10, -10]
    assert sum(delta for _, delta in entries) == -30  # its hold is all given back
    assert check_ledger_adds_up(service, alice) == 470


def test_a_run_billed_by_use_under_its_cap_is_charged_what_it_used(service, alice):
    job = service.submit(alice, "meter", [text_input("x")], {"units": 2}, max_credits=100)
    run_job(service.runs, service.tools, job.id)
    ended = service.get(alice, job.id).job
    assert (ended.status, ended.credits_charged) == (JobStatus.COMPLETED, 20)
    assert check_ledger_adds_up(service, alice) == 480
    # a report read twice (a retried message) charges nothing more
    assert service.runs.record_use(job.id, 20) is None
    assert check_ledger_adds_up(service, alice) == 480


def test_a_budget_refuses_what_would_take_it_past_its_credits(service, alice):
    opened = service.open_budget(alice, "screen", 50)
    assert (opened.budget.credits, opened.used, opened.remaining) == (50, 0, 50)
    first = service.submit(alice, "echo", [text_input(COST_20)], budget="screen")
    second = service.submit(alice, "echo", [text_input(COST_20)], budget=opened.budget.id)
    assert first.budget_id == second.budget_id == opened.budget.id
    with pytest.raises(BudgetExceeded) as refused:
        service.submit(alice, "echo", [text_input(COST_20)], budget="screen")
    assert refused.value.code == "budget_exceeded"
    assert "has 10 of its 50 credits left" in refused.value.message
    assert service.account(alice).available_credits == 460
    run_job(service.runs, service.tools, first.id)
    use = service.budget(alice, "screen")
    assert (use.used, use.charged, use.reserved, use.jobs) == (40, 20, 20, 2)
    assert set(use.job_ids) == {first.id, second.id}
    # a cancelled job gives its hold back to the budget
    service.cancel(alice, second.id)
    assert service.budget(alice, "screen").used == 20
    service.submit(alice, "echo", [text_input(COST_20)], budget="screen")
    account = service.account(alice)
    assert [(b.budget.name, b.used, b.jobs) for b in account.budgets] == [("screen", 40, 3)]
    check_ledger_adds_up(service, alice)


def test_a_failed_job_is_refunded_to_its_budget(service, alice):
    service.open_budget(alice, "flaky", 20)
    job = service.submit(alice, "echo", [text_input(COST_20)], {"outcome": "error"}, budget="flaky")
    run_job(service.runs, service.tools, job.id)
    assert service.get(alice, job.id).job.status is JobStatus.FAILED
    use = service.budget(alice, "flaky")
    assert (use.used, use.charged) == (0, 0)
    service.submit(alice, "echo", [text_input(COST_20)], budget="flaky")


def test_a_billed_run_holds_its_cap_in_its_budget(service, alice):
    service.open_budget(alice, "metered", 50)
    service.submit(alice, "meter", [text_input("x")], max_credits=40, budget="metered")
    with pytest.raises(BudgetExceeded):
        service.submit(alice, "meter", [text_input("x")], max_credits=20, budget="metered")
    service.submit(alice, "meter", [text_input("x")], max_credits=10, budget="metered")


def test_budget_names_closing_and_who_may_change_them(service, alice):
    service.open_budget(alice, "docking", 100)
    with pytest.raises(Conflict):
        service.open_budget(alice, "docking", 10)
    assert service.open_budget(alice, "docking", 10, update=True).budget.credits == 10
    with pytest.raises(ValidationError):
        service.open_budget(alice, "", 10)
    with pytest.raises(ValidationError):
        service.open_budget(alice, "x", -5)
    bob = service.sign_in("bob")
    service.add_member(alice, "bob", Role.MEMBER)
    bob = service.sign_in("bob", workspace_id=alice.workspace_id)
    with pytest.raises(Forbidden):
        service.close_budget(bob, "docking")
    # a member may submit under a teammate's budget
    service.submit(bob, "echo", [text_input("short")], budget="docking")
    closed = service.close_budget(alice, "docking")
    assert not closed.budget.is_open
    with pytest.raises(ValidationError) as refused:
        service.submit(alice, "echo", [text_input("short")], budget="docking")
    assert "no open budget 'docking'" in refused.value.message
    assert [b.budget.name for b in service.budgets(alice)] == []
    assert [b.budget.name for b in service.budgets(alice, include_closed=True)] == ["docking"]
    # a closed name may be opened again, as a new budget
    again = service.open_budget(alice, "docking", 30)
    assert again.budget.id != closed.budget.id and again.used == 0


def test_notebooks_get_the_workspace_default_budget(service, alice):
    notebook = "analysis/screen.ipynb"
    # without a default, a notebook's jobs count against no budget
    free = service.submit(alice, "echo", [text_input(COST_20)], notebook=notebook)
    assert free.budget_id is None
    bob = service.sign_in("bob")
    service.add_member(alice, "bob", Role.MEMBER)
    bob = service.sign_in("bob", workspace_id=alice.workspace_id)
    with pytest.raises(Forbidden):
        service.set_notebook_budget_default(bob, 30)
    assert service.set_notebook_budget_default(alice, 30) == 30
    first = service.submit(alice, "echo", [text_input(COST_20)], notebook=notebook)
    use = service.budget(alice, notebook)
    assert use.budget.notebook and use.budget.credits == 30 and first.budget_id == use.budget.id
    with pytest.raises(BudgetExceeded):
        service.submit(bob, "echo", [text_input(COST_20)], notebook=notebook)
    # a notebook's own budget (piq.budget(N)) takes the place of the default
    service.open_budget(alice, notebook, 60, notebook=True, update=True)
    service.submit(alice, "echo", [text_input(COST_20)], notebook=notebook)
    assert service.account(alice).notebook_budget_credits == 30
    assert service.set_notebook_budget_default(alice, None) is None


def test_retry_and_duplicate_keep_the_cap_and_the_budget(service, alice):
    service.open_budget(alice, "b", 100)
    job = service.submit(
        alice, "echo", [text_input(COST_20)], {"outcome": "error"}, max_credits=25, budget="b"
    )
    run_job(service.runs, service.tools, job.id)
    retried = service.retry(alice, job.id)
    assert (retried.max_credits, retried.budget_id) == (25, job.budget_id)


def test_a_batch_holds_its_total_in_its_budget_and_caps_each_child(service, alice):
    items = [[text_input(COST_20)], [text_input(COST_20)], [text_input(COST_20)]]
    with pytest.raises(CreditCapExceeded) as refused:
        service.submit_batch(alice, "echo", items, limits=Limits(max_credits=10))
    assert refused.value.details["item"] == 1
    service.open_budget(alice, "batches", 50)
    with pytest.raises(BudgetExceeded):
        service.submit_batch(alice, "echo", items, limits=Limits(budget="batches"))
    assert service.account(alice).available_credits == 500
    summary = service.submit_batch(alice, "echo", items[:2], limits=Limits(budget="batches"))
    assert summary.batch.budget_id is not None
    assert service.budget(alice, "batches").used == 40
    for job_id in summary.batch.child_ids:
        run_job(service.runs, service.tools, job_id)
    use = service.budget(alice, "batches")
    assert (use.used, use.charged, use.jobs) == (40, 40, 2)
    assert Counter(e.kind for e in service.ledger(alice)) == Counter(
        {"grant": 1, "reserve": 1, "charge": 2, "release": 2}
    )
    check_ledger_adds_up(service, alice)


def test_a_run_billed_by_use_without_a_cap_stops_where_its_budget_ends(service, alice):
    service.open_budget(alice, "metered", 30)
    job = service.submit(alice, "meter", [text_input("x")], {"units": 10}, budget="metered")
    assert job.held_credits == 10  # no cap: it holds its quote
    run_job(service.runs, service.tools, job.id)
    ended = service.get(alice, job.id).job
    assert (ended.status, ended.credits_charged) == (JobStatus.BUDGET_EXCEEDED, 30)
    assert "all its budget 'metered' had room for" in (ended.error or "")
    use = service.budget(alice, "metered")
    assert (use.used, use.charged, use.reserved) == (30, 30, 0)
    assert check_ledger_adds_up(service, alice) == 470
