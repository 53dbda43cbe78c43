"""Budgets and credit caps over HTTP: 200 submissions racing under a budget that
covers 10 jobs (exactly 10 accepted, the rest refused with a budget error, the
ledger consistent, the budget the same in an engine opened afterwards), a cap
below the quote refused with credits unchanged, and the account listing budgets."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from proteiniq_jupyter.config import EngineConfig
from proteiniq_jupyter.engine import open_engine
from proteiniq_jupyter.jobs.errors import BudgetExceeded

from ..conftest import text_input
from ..helpers import TEST_TOOL_PATHS
from .conftest import API_PREFIX, BASE_URL, TOKENS, Api, PiqServer, job_body

#: "hello world": 11 characters, 2 blocks of 10: 20 credits a job.
JOB_CREDITS = 20
RACERS = 200
COVERED = 10


async def race(port: int, user: str, body: dict[str, Any], count: int) -> list[httpx.Response]:
    """POST ``body`` to jobs ``count`` times at once: each request on a connection
    of its own, all leaving a barrier together."""
    base = f"http://127.0.0.1:{port}{BASE_URL}{API_PREFIX}/"
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    headers = {"Authorization": f"token {TOKENS[user]}"}
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        barrier = asyncio.Barrier(count)

        async def send() -> httpx.Response:
            await barrier.wait()
            return await client.post("jobs", json=body, headers=headers)

        return list(await asyncio.gather(*(send() for _ in range(count))))


def ledger_adds_up(service: Any, actor: Any) -> int:
    entries = service.ledger(actor)
    assert sum(e.delta for e in entries) == service.account(actor).available_credits
    return sum(e.delta for e in entries)


async def test_concurrent_submissions_under_a_budget_accept_exactly_what_it_covers(
    piq: PiqServer,
    alice: Api,
    http_server_port: tuple[Any, int],
    database_url: str,
    piq_data_dir: Path,
) -> None:
    opened = await alice.post("budgets", {"name": "screen", "credits": COVERED * JOB_CREDITS})
    assert opened.status == 201, opened.body
    budget = opened.json
    assert (budget["object"], budget["used"], budget["remaining"]) == ("budget", 0, 200)
    before = (await alice.get("account")).json["workspace"]["credits"]["available"]

    body = {**job_body("hello world"), "budget": "screen"}
    replies = await race(http_server_port[1], "alice", body, RACERS)

    statuses = Counter(r.status_code for r in replies)
    assert statuses == {201: COVERED, 402: RACERS - COVERED}, statuses
    refusals = [r.json()["error"] for r in replies if r.status_code == 402]
    assert {e["code"] for e in refusals} == {"budget_exceeded"}
    assert all("budget 'screen' has 0 of its 200 credits left" in e["message"] for e in refusals)
    accepted = {r.json()["id"] for r in replies if r.status_code == 201}
    assert len(accepted) == COVERED
    for job_id in accepted:
        await alice.wait(job_id)

    shown = (await alice.get(f"budgets/{budget['id']}")).json
    assert (shown["used"], shown["charged"], shown["reserved"], shown["jobs"]) == (200, 200, 0, 10)
    assert set(shown["job_ids"]) == accepted
    by_name = (await alice.get("budgets/screen")).json
    assert by_name["id"] == budget["id"]
    jobs = [(await alice.get(f"jobs/{job_id}")).json for job_id in accepted]
    assert {j["credits"]["budget_id"] for j in jobs} == {budget["id"]}
    account = (await alice.get("account")).json
    assert account["workspace"]["credits"]["available"] == before - 200
    assert [(b["name"], b["used"], b["jobs"]) for b in account["budgets"]] == [("screen", 200, 10)]

    # The ledger: one hold, one charge and one release per accepted job, no more.
    state = piq.state
    actor = state.service.sign_in("alice")
    entries = state.service.ledger(actor)
    in_budget = Counter(e.kind for e in entries if e.budget_id == budget["id"])
    assert in_budget == {"reserve": 10, "charge": 10, "release": 10}
    assert {e.job_id for e in entries if e.budget_id} == accepted
    ledger_adds_up(state.service, actor)

    # Another engine on the same database, opened and then opened again, finds the
    # budget as it was, and refuses what it has no room for.
    config = EngineConfig(
        data_dir=piq_data_dir,
        database_url=database_url,
        username="alice",
        executor="inprocess",
        extra_tools=TEST_TOOL_PATHS,
    )
    for _ in range(2):
        engine = open_engine(config)
        try:
            use = engine.service.budget(engine.actor(), "screen")
            assert (use.used, use.charged, use.jobs) == (200, 200, 10)
            with pytest.raises(BudgetExceeded):
                engine.service.submit(
                    engine.actor(), "echo", [text_input("hello world")], budget="screen"
                )
        finally:
            engine.close()
    again = await alice.post("jobs", body)
    assert (again.status, again.error["code"]) == (402, "budget_exceeded")


async def test_a_cap_below_the_quote_is_refused_and_the_quote_shows_it(alice: Api) -> None:
    before = (await alice.get("account")).json["workspace"]["credits"]["available"]
    refused = await alice.post("jobs", {**job_body("hello world"), "max_credits": 19})
    assert refused.status == 402, refused.body
    assert refused.error["code"] == "credit_cap_exceeded"
    assert "quoted at 20 credits, more than its cap of 19" in refused.error["message"]
    assert refused.error["details"] == {"estimated_credits": 20, "max_credits": 19}
    assert (await alice.get("jobs")).json["data"] == []
    after = (await alice.get("account")).json["workspace"]["credits"]["available"]
    assert after == before

    quote = (await alice.post("jobs/quote", {**job_body("hello world"), "max_credits": 19})).json
    assert (quote["estimated_credits"], quote["max_credits"]) == (20, 19)
    assert quote["billing"] == {"mode": "fixed", "max_credits": 19}
    assert [e["code"] for e in quote["blocking_errors"]] == ["credit_cap_exceeded"]
    metered = (
        await alice.post("jobs/quote", {**job_body("x", tool="meter"), "max_credits": 50})
    ).json
    assert metered["billing"] == {"mode": "usage", "max_credits": 50}

    bad = await alice.post("jobs", {**job_body("hello world"), "max_credits": "lots"})
    assert bad.status == 400 and bad.error["details"]["errors"][0]["field"] == "max_credits"

    job = await alice.run("hello world", tool="echo")
    assert job["credits"]["max_credits"] is None
    capped = await alice.post("jobs", {**job_body("hello world"), "max_credits": 20})
    assert capped.status == 201 and capped.json["credits"]["max_credits"] == 20


async def test_a_run_billed_by_use_stops_at_its_cap(alice: Api, piq: PiqServer) -> None:
    body = {**job_body("x", tool="meter", settings={"units": 8}), "max_credits": 30}
    submitted = await alice.post("jobs", body)
    assert submitted.status == 201, submitted.body
    assert submitted.json["credits"]["held"] == 30
    await alice.wait(submitted.json["id"])
    job = (await alice.get(f"jobs/{submitted.json['id']}")).json
    assert job["status"] == "BUDGET_EXCEEDED"
    assert job["credits"]["charged"] == 30
    assert "credit cap of 30" in job["error"]
    actor = piq.state.service.sign_in("alice")
    ledger = piq.state.service.ledger(actor, job_id=job["id"])
    assert sum(e.delta for e in ledger) == -30
    assert [e.delta for e in ledger if e.kind == "charge"] == [-10, -10, -10]


async def test_notebook_budgets_and_the_workspace_default(alice: Api, tim: Api) -> None:
    notebook = "projects/screen.ipynb"
    refused = await tim.put("budgets/notebook-default", {"credits": 40})
    assert refused.status == 403
    assert (await alice.put("budgets/notebook-default", {"credits": 40})).json["credits"] == 40
    bad = await alice.put("budgets/notebook-default", {"credits": -1})
    assert bad.status == 400
    body = {**job_body("hello world"), "notebook": notebook}
    assert (await tim.post("jobs", body)).status == 201
    assert (await tim.post("jobs", body)).status == 201
    third = await tim.post("jobs", body)
    assert (third.status, third.error["code"]) == (402, "budget_exceeded")
    # a notebook's path, its slashes escaped, names its budget
    shown = (
        await tim.fetch_path(f"{BASE_URL}{API_PREFIX}/budgets/{quote(notebook, safe='')}")
    ).json
    assert (shown["notebook"], shown["credits"], shown["used"]) == (True, 40, 40)
    # the notebook sets its own budget, as piq.budget(N) does
    own = {"name": notebook, "credits": 100, "notebook": True, "update": True}
    assert (await tim.post("budgets", own)).json["credits"] == 100
    assert (await tim.post("jobs", body)).status == 201
    listed = (await tim.get("budgets")).json["data"]
    assert [(b["name"], b["used"]) for b in listed] == [(notebook, 60)]
    closed = (await tim.post(f"budgets/{shown['id']}/close")).json
    assert closed["status"] == "closed"
    gone = await tim.post("jobs", {**job_body("hello world"), "budget": shown["id"]})
    assert (gone.status, gone.error["code"]) == (400, "validation_error")
    assert (await tim.get("budgets")).json["data"] == []
    assert len((await tim.get("budgets", params={"all": "1"})).json["data"]) == 1
    assert (await tim.get("budgets/nothing-here")).status == 404
