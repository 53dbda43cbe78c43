"""Credit rules: held on acceptance, charged once at processing, refunded once on a
platform failure, nothing for bad input, and never spent below zero."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pydantic
import pytest

from proteiniq_jupyter import api
from proteiniq_jupyter.execution.inprocess import run_job
from proteiniq_jupyter.jobs import credits
from proteiniq_jupyter.jobs.errors import Forbidden, InsufficientCredits, ValidationError
from proteiniq_jupyter.jobs.model import Estimate, EstimateLine, JobInput, Role, ToolResult
from proteiniq_jupyter.jobs.service import JobService, ServiceConfig
from proteiniq_jupyter.jobs.status import JobStatus
from proteiniq_jupyter.store.sql_store import DirectoryJobFiles, SqlStore
from proteiniq_jupyter.tools.registry import ToolRegistry

from .conftest import text_input
from .helpers import TEST_TOOLS, Echo

COST_20 = "hello credit"  # 12 characters: 2 blocks of 10 -> 20 credits


def kinds(service, actor, job_id):
    return Counter(e.kind for e in service.ledger(actor, job_id=job_id))


def check_ledger_adds_up(service, actor):
    """Available = grants - charges + refunds - open reservations, computed from the
    entries by kind, must equal what the account reports."""
    entries = service.ledger(actor)
    total = Counter()
    for e in entries:
        total[e.kind] += abs(e.delta)
    open_reservations = total["reserve"] - total["release"]
    available = total["grant"] - total["charge"] + total["refund"] - open_reservations
    assert available == sum(e.delta for e in entries)
    assert available == service.account(actor).available_credits
    assert available >= 0
    return available


def test_new_workspace_gets_the_starting_grant(service, alice):
    assert service.account(alice).available_credits == 500
    assert [e.kind for e in service.ledger(alice)] == ["grant"]
    # signing in again grants nothing more
    service.sign_in("alice")
    assert service.account(alice).available_credits == 500


def test_held_on_submit_charged_once_at_processing(service, alice):
    job = service.submit(alice, "echo", [text_input(COST_20)])
    assert job.estimated_credits == 20
    assert service.account(alice).available_credits == 480  # held
    assert kinds(service, alice, job.id) == {"reserve": 1}

    started = service.runs.start(job.id)
    assert started.credits_charged == 20
    assert service.account(alice).available_credits == 480
    assert kinds(service, alice, job.id) == {"reserve": 1, "release": 1, "charge": 1}

    service.runs.complete(job.id, ToolResult(fields={"ok": True}))
    assert service.get(alice, job.id).job.credits_charged == 20
    assert check_ledger_adds_up(service, alice) == 480


def test_second_attempt_after_a_platform_fault_is_not_charged(service, alice):
    job = service.submit(alice, "echo", [text_input(COST_20)])
    service.runs.start(job.id)
    retrying = service.runs.fail(job.id, "worker died", transient=True)
    assert retrying.status is JobStatus.RETRY
    assert retrying.status_reason == "worker died"
    again = service.runs.start(job.id)
    assert again.status is JobStatus.PROCESSING and again.attempts == 2
    assert again.credits_charged == 20
    service.runs.complete(job.id, ToolResult())
    assert kinds(service, alice, job.id)["charge"] == 1
    assert check_ledger_adds_up(service, alice) == 480


def test_platform_failure_is_refunded_exactly_once(service, alice):
    job = service.submit(alice, "echo", [text_input(COST_20)])
    service.runs.start(job.id)
    failed = service.runs.fail(job.id, "GPU fell off the bus")
    assert failed.status is JobStatus.FAILED
    assert failed.credits_charged == 0
    assert service.account(alice).available_credits == 500
    # reporting the failure again (a second engine, a crash and replay) changes nothing
    assert service.runs.fail(job.id, "again") is None
    # even the refund rule itself, handed the job as it was before the refund,
    # finds the refund already keyed and adds nothing
    with service.store.write() as tx:
        assert credits.refund(tx, replace(failed, credits_charged=20), service.clock()) == 0
    assert kinds(service, alice, job.id) == {"reserve": 1, "release": 1, "charge": 1, "refund": 1}
    assert check_ledger_adds_up(service, alice) == 500


def test_last_attempt_fails_and_refunds(service, alice):
    job = service.submit(alice, "echo", [text_input(COST_20)])
    for attempt in range(1, 4):
        started = service.runs.start(job.id)
        assert started.attempts == attempt
        after = service.runs.fail(job.id, "worker died", transient=True)
    assert after.status is JobStatus.FAILED
    assert after.error == "worker died"
    assert kinds(service, alice, job.id) == {"reserve": 1, "release": 1, "charge": 1, "refund": 1}
    assert check_ledger_adds_up(service, alice) == 500


def test_tool_error_while_running_is_refunded(service, tools, alice):
    job = service.submit(alice, "echo", [text_input(COST_20)], {"outcome": "error"})
    run_job(service.runs, tools, job.id)
    failed = service.get(alice, job.id).job
    assert failed.status is JobStatus.FAILED
    assert "the echo chamber collapsed" in failed.error
    assert check_ledger_adds_up(service, alice) == 500


def test_input_error_costs_nothing_and_creates_nothing(service, alice):
    with pytest.raises(ValidationError) as info:
        service.submit(alice, "echo", [text_input("no shouting!")])
    assert "character 12" in info.value.message
    with pytest.raises(ValidationError) as info:
        service.submit(alice, "echo", [text_input("fine")], {"repeat": 99})
    assert info.value.errors[0]["field"] == "settings.repeat"
    assert service.list_jobs(alice).items == []
    assert service.ledger(alice)[-1].kind == "grant"
    assert check_ledger_adds_up(service, alice) == 500


def test_cancel_before_processing_releases_the_hold(service, alice):
    job = service.submit(alice, "echo", [text_input(COST_20)])
    assert service.account(alice).available_credits == 480
    cancelled = service.cancel(alice, job.id)
    assert cancelled.status is JobStatus.CANCELLED
    assert cancelled.credits_charged == 0
    assert check_ledger_adds_up(service, alice) == 500


def test_not_enough_credits_refuses_and_creates_nothing(service, alice):
    big = "x" * 4000  # 400 blocks -> 4000 credits
    quote = service.quote(alice, "echo", [text_input(big)], {})
    assert quote.estimated_credits == 4000
    assert quote.available_credits == 500
    assert [e["code"] for e in quote.blocking_errors] == ["insufficient_credits"]
    with pytest.raises(InsufficientCredits) as info:
        service.submit(alice, "echo", [text_input(big)])
    assert info.value.details == {"required_credits": 4000, "available_credits": 500}
    assert info.value.message == "echo needs 4000 credits and the workspace has 500 available"
    assert info.value.code == "insufficient_credits" and info.value.http_status == 402
    assert service.list_jobs(alice).items == []
    assert check_ledger_adds_up(service, alice) == 500


def test_quote_uses_the_charge_calculator(service, alice):
    quote = service.quote(alice, "echo", [text_input("x" * 25)], {"repeat": 2})
    job = service.submit(alice, "echo", [text_input("x" * 25)], {"repeat": 2})
    assert quote.estimated_credits == job.estimated_credits == 60
    resource = api.JobQuote.of(quote).model_dump()
    assert resource["breakdown"] == [
        {"label": "characters (per 10)", "quantity": 6, "unit_credits": 10, "credits": 60}
    ]
    assert resource["object"] == "job_quote"
    assert quote.blocking_errors == ()


def test_only_owners_and_admins_grant(service, alice):
    bob = service.add_member(alice, "bob", Role.MEMBER)
    bob_actor = service.sign_in("bob", workspace_id=alice.workspace_id)
    assert bob.role is Role.MEMBER
    with pytest.raises(Forbidden):
        service.grant_credits(bob_actor, 100)
    with pytest.raises(ValidationError):
        service.grant_credits(alice, -5)
    assert service.grant_credits(alice, 1500, note="lab budget") == 2000
    granted = service.ledger(alice)[-1]
    assert (granted.note, granted.actor_id, granted.delta) == ("lab budget", alice.user_id, 1500)


def test_concurrent_submissions_never_overspend(service, alice):
    """200 submissions at once against a balance that covers 100 of them."""
    assert service.grant_credits(alice, 500) == 1000  # 100 jobs of 10 credits
    lowest = [1000]
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            lowest[0] = min(lowest[0], service.account(alice).available_credits)

    watcher = threading.Thread(target=watch)
    watcher.start()

    def submit(i: int) -> str:
        try:
            service.submit(alice, "echo", [text_input(f"job {i:03d}")])
        except InsufficientCredits:
            return "refused"
        return "accepted"

    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            outcomes = Counter(pool.map(submit, range(200)))
    finally:
        stop.set()
        watcher.join()
    # each costs 10 credits ("job 000" is 7 characters, one block of 10)
    assert outcomes == {"accepted": 100, "refused": 100}
    assert lowest[0] >= 0
    assert check_ledger_adds_up(service, alice) == 0
    assert len(service.list_jobs(alice, limit=100).items) == 100

    # and charging them all at once, from many workers, spends exactly the holds
    jobs = [view.job for view in service.list_jobs(alice, limit=100).items]
    with ThreadPoolExecutor(max_workers=16) as pool:
        started = list(pool.map(lambda job: service.runs.start(job.id), jobs))
    assert all(s is not None and s.credits_charged == 10 for s in started)
    assert Counter(e.kind for e in service.ledger(alice))["charge"] == 100
    assert check_ledger_adds_up(service, alice) == 0


# -- each rule at its edges: one credit, none, a batch's hold --------------------------


class PricedSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    credits: int = pydantic.Field(1, ge=0)


class Priced(Echo):
    """Costs exactly ``credits`` a job, zero included."""

    id = "priced"
    settings_model = PricedSettings

    def estimate(self, inputs: Sequence[JobInput], settings: pydantic.BaseModel) -> Estimate:
        assert isinstance(settings, PricedSettings)
        return Estimate((EstimateLine("run", 1, settings.credits, settings.credits),))


@pytest.fixture
def priced(store: SqlStore, tmp_path: Path) -> JobService:
    tools = ToolRegistry([*(tool() for tool in TEST_TOOLS), Priced()])
    return JobService(store, tools, DirectoryJobFiles(tmp_path / "files"), config=ServiceConfig())


def test_a_one_credit_job_is_held_charged_and_refunded(priced: JobService):
    alice = priced.sign_in("alice")
    job = priced.submit(alice, "priced", [text_input("x")])
    assert priced.account(alice).available_credits == 499
    assert priced.runs.start(job.id).credits_charged == 1
    assert priced.runs.fail(job.id, "the node went away").credits_charged == 0
    assert priced.account(alice).available_credits == 500
    assert kinds(priced, alice, job.id) == {"reserve": 1, "release": 1, "charge": 1, "refund": 1}

    unstarted = priced.submit(alice, "priced", [text_input("y")])
    assert priced.account(alice).available_credits == 499
    priced.cancel(alice, unstarted.id)
    assert kinds(priced, alice, unstarted.id) == {"reserve": 1, "release": 1}
    assert check_ledger_adds_up(priced, alice) == 500


def test_a_free_job_writes_nothing_to_the_ledger(priced: JobService):
    alice = priced.sign_in("alice")
    done = priced.submit(alice, "priced", [text_input("x")], {"credits": 0})
    assert priced.runs.start(done.id).credits_charged == 0
    priced.runs.complete(done.id, ToolResult())
    failed = priced.submit(alice, "priced", [text_input("y")], {"credits": 0})
    priced.runs.start(failed.id)
    assert priced.runs.fail(failed.id, "the node went away").credits_charged == 0
    cancelled = priced.submit(alice, "priced", [text_input("z")], {"credits": 0})
    priced.cancel(alice, cancelled.id)
    assert [e.kind for e in priced.ledger(alice)] == ["grant"]


def test_the_rules_called_twice_or_out_of_turn_add_nothing(priced: JobService):
    """Each rule, handed a job in a state it must leave alone."""
    alice = priced.sign_in("alice")
    job = priced.submit(alice, "priced", [text_input("x")], {"credits": 3})
    with priced.store.write() as tx:
        now = priced.clock()
        assert credits.refund(tx, job, now) == 0  # never charged: nothing to give back
        credits.release(tx, replace(job, credits_charged=3), now)  # its charge released it
        assert credits.charge(tx, replace(job, estimated_credits=0), now) == 0  # free
    assert kinds(priced, alice, job.id) == {"reserve": 1}


def test_entries_are_keyed_by_owner_and_kind_and_name_their_batch(priced: JobService):
    alice = priced.sign_in("alice")
    first = priced.submit_batch(alice, "priced", [[text_input("a")]])
    second = priced.submit_batch(alice, "priced", [[text_input("b")]], {"credits": 2})
    assert (first.batch.reserved_credits, second.batch.reserved_credits) == (1, 2)
    assert priced.account(alice).available_credits == 497
    [child] = first.batch.child_ids
    priced.runs.start(child)
    entries = [e for e in priced.ledger(alice) if e.kind != "grant"]
    assert [(e.key, e.kind, e.delta, e.job_id, e.batch_id) for e in entries] == [
        (f"{first.batch.id}:reserve", "reserve", -1, None, first.batch.id),
        (f"{second.batch.id}:reserve", "reserve", -2, None, second.batch.id),
        (f"{child}:charge", "charge", -1, child, first.batch.id),
        (f"{child}:release", "release", 1, child, first.batch.id),
    ]
    assert check_ledger_adds_up(priced, alice) == 497


def test_a_grant_is_a_positive_number_of_credits(store: SqlStore, service: JobService, alice):
    with store.write() as tx:
        at = service.clock()
        for amount in (0, -1):
            with pytest.raises(ValueError) as refused:
                credits.grant(tx, alice.workspace_id, amount, grant_key=f"g{amount}", at=at)
            assert str(refused.value) == "a grant must be a positive number of credits"
        assert credits.grant(tx, alice.workspace_id, 1, grant_key="g1", at=at)
    assert service.account(alice).available_credits == 501
