"""Every route of ``route_table()`` called over HTTP on a real Jupyter server, as a
user of the API would: status codes, headers, the JSON resources and the error
envelope."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from proteiniq_jupyter.jobs.model import Role
from proteiniq_jupyter.server.identity import FRESH_S
from proteiniq_jupyter.server.routes import route_table

from ..helpers import Gate
from .conftest import BASE_URL, FINAL, Api, PiqServer, Reply, job_body

API_PATH = f"{BASE_URL}proteiniq/api/v1"
JSON = {"Content-Type": "application/json"}


def fields(reply: Reply) -> list[str]:
    """The fields a 400 names, in order."""
    error = reply.error
    assert reply.status == 400 and error["code"] == "validation_error", reply.body
    return [e.get("field") for e in error["details"]["errors"]]


def expect_error(reply: Reply, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, reply.body
    error = reply.error
    assert error["code"] == code, error
    return error


async def wait_until(check: Any, timeout: float = 20.0) -> Any:
    """Poll an async ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_every_route_is_covered_here() -> None:
    """The tests below call each of these (the budgets' in test_http_budgets.py, the
    scene's in test_scene_route.py, the workspaces' in test_http_teams.py); a new
    route needs a test of its own."""
    assert [pattern.removeprefix("/proteiniq/api/v1/") for pattern, _ in route_table()] == [
        "account",
        "tools",
        r"tools/(?P<tool_id>[A-Za-z0-9_.\-]+)",
        "jobs/quote",
        "jobs",
        r"jobs/(?P<job_id>[A-Za-z0-9_\-]+)",
        r"jobs/(?P<job_id>[A-Za-z0-9_\-]+)/(?P<action>cancel|retry|duplicate)",
        r"jobs/(?P<job_id>[A-Za-z0-9_\-]+)/status",
        r"jobs/(?P<job_id>[A-Za-z0-9_\-]+)/export",
        r"jobs/(?P<job_id>[A-Za-z0-9_\-]+)/share",
        r"jobs/(?P<job_id>[A-Za-z0-9_\-]+)/scene",
        r"jobs/(?P<job_id>[A-Za-z0-9_\-]+)/files/(?P<name>[^/]+)",
        r"results/(?P<job_id>[A-Za-z0-9_\-]+)",
        "budgets",
        "budgets/notebook-default",
        r"budgets/(?P<ref>[^/]+)",
        r"budgets/(?P<ref>[^/]+)/close",
        "workspaces",
        r"workspaces/(?P<workspace_id>[A-Za-z0-9_\-]+)/members",
        r"workspaces/(?P<workspace_id>[A-Za-z0-9_\-]+)/members/(?P<username>[^/]+)",
        "batches",
        r"batches/(?P<batch_id>[A-Za-z0-9_\-]+)",
        r"batches/(?P<batch_id>[A-Za-z0-9_\-]+)/(?P<action>cancel|retry-failed)",
    ]


# -- account and tools ----------------------------------------------------------


async def test_account_of_each_person(piq: PiqServer, alice: Api, tim: Api, bob: Api) -> None:
    owner = (await alice.get("account")).json
    assert owner == {
        "object": "account",
        "workspace": {
            "id": piq.team.workspace_id,
            "name": "alice's workspace",
            "plan": "personal",
            "credits": {"available": 500},
        },
        "role": "owner",
        "limits": {"active_jobs": 0, "concurrent_jobs": {"max": None, "remaining": None}},
        "budgets": [],
        "notebook_budget_credits": None,
    }
    member = (await tim.get("account")).json
    assert member["workspace"]["id"] == piq.team.workspace_id
    assert member["role"] == "member"
    other = (await bob.get("account")).json
    assert other["workspace"]["id"] != piq.team.workspace_id
    assert other["workspace"]["name"] == "bob's workspace"
    assert (other["role"], other["workspace"]["credits"]["available"]) == ("owner", 500)


async def test_tool_catalogue_and_detail(alice: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIQ_TEST_WEIGHTS", raising=False)
    reply = await alice.get("tools")
    assert reply.status == 200
    catalogue = reply.json
    assert (catalogue["object"], catalogue["has_more"], catalogue["next_cursor"]) == (
        "list",
        False,
        None,
    )
    tools = {tool["id"]: tool for tool in catalogue["data"]}
    assert {"echo", "sleep", "gpu-echo", "protein-stats", "smiles-to-sdf"} <= set(tools)
    assert tools["echo"] == {
        "id": "echo",
        "object": "tool",
        "name": "Echo",
        "description": "Repeats its text; costs credits by length.",
        "category": "testing",
        "tags": [],
        "credit_model": {
            "is_free": False,
            "description": "10 credits per started 10 characters, per repeat",
            "rates": {"credits_per_10_characters": 10},
        },
        "availability": {"available": True, "reason": None},
    }
    assert tools["protein-stats"]["credit_model"]["is_free"] is True
    # A tool whose weights are not here says why, in the list and in its detail.
    lacking = tools["weights-echo"]["availability"]
    assert lacking["available"] is False and "PIQ_TEST_WEIGHTS" in lacking["reason"]
    assert (await alice.get("tools/weights-echo")).json["availability"] == lacking

    echo = (await alice.get("tools/echo")).json
    assert echo["input"]["slots"] == [
        {
            "id": "text",
            "kind": "text",
            "formats": ["text"],
            "label": "Text",
            "description": "",
            "required": True,
            "max_items": 1,
        }
    ]
    settings = echo["input"]["settings"]["properties"]
    assert settings["repeat"]["default"] == 1
    assert (settings["repeat"]["minimum"], settings["repeat"]["maximum"]) == (1, 10)
    assert settings["outcome"]["enum"] == ["ok", "error"]
    assert [f["name"] for f in echo["output"]["fields"]] == ["length", "echo"]
    assert echo["credit_model"] == tools["echo"]["credit_model"]
    assert echo["processing"] == {
        "gpu": False,
        "prefers_gpu": False,
        "time_limit_s": 600.0,
        "batch_input": False,
    }
    assert echo["limits"] == {}

    gpu = (await alice.get("tools/gpu-echo")).json
    assert gpu["processing"]["gpu"] is True
    smiles = (await alice.get("tools/smiles-to-sdf")).json
    assert smiles["limits"] == {
        "max_file_bytes": 200_000,
        "max_molecules": 50,
        "max_heavy_atoms": 150,
    }
    assert smiles["credit_model"] == {"is_free": True, "description": "free", "rates": {}}

    missing = expect_error(await alice.get("tools/no-such-tool"), 404, "not_found")
    assert missing["details"] == {"tool": "no-such-tool"}


# -- quotes and submissions --------------------------------------------------------


async def test_quote_prices_without_creating_anything(alice: Api) -> None:
    reply = await alice.post("jobs/quote", job_body("hello world", settings={"repeat": 2}))
    assert reply.status == 200, reply.body
    assert reply.json == {
        "object": "job_quote",
        "tool": "echo",
        "estimated_credits": 40,
        "available_credits": 500,
        "billable_credits": 40,
        "breakdown": [
            {"label": "characters (per 10)", "quantity": 4, "unit_credits": 10, "credits": 40}
        ],
        "blocking_errors": [],
        "limits": {"active_concurrent_jobs": 0, "max_concurrent_jobs": None},
        "billing": {"mode": "fixed", "max_credits": None},
        "max_credits": None,
        "budget": None,
    }
    # problems are listed, not raised, so that a form can show them all
    bad = await alice.post("jobs/quote", job_body("wow!", settings={"repeat": 0}))
    assert bad.status == 200, bad.body
    assert [(e["code"], e["field"]) for e in bad.json["blocking_errors"]] == [
        ("validation_error", "settings.repeat")
    ]
    bad = await alice.post("jobs/quote", job_body("wow!"))
    assert [(e["code"], e["field"]) for e in bad.json["blocking_errors"]] == [
        ("validation_error", "input.inputs[0].content")
    ]
    costly = (await alice.post("jobs/quote", job_body("x" * 60, settings={"repeat": 10}))).json
    assert costly["estimated_credits"] == 600
    assert [e["code"] for e in costly["blocking_errors"]] == ["insufficient_credits"]
    # the request shape is still checked
    assert fields(await alice.post("jobs/quote", {"input": {"inputs": []}})) == ["tool"]
    # quoting made no job and held no credits
    assert (await alice.get("jobs")).json["data"] == []
    assert (await alice.get("account")).json["workspace"]["credits"]["available"] == 500


async def test_submit_answers_201_with_location(alice: Api) -> None:
    reply = await alice.post("jobs", job_body("hello there", name="first run"))
    assert reply.status == 201, reply.body
    job = reply.json
    assert job["object"] == "job" and job["id"].startswith("job_")
    assert (job["name"], job["tool"]) == ("first run", "echo")
    assert job["status"] in ("PENDING", "PROCESSING", "COMPLETED")  # it runs at once
    assert job["submitter"]["username"] == "alice"
    assert job["credits"]["estimated"] == 20
    assert job["input"]["inputs"][0]["content"] == "hello there"
    assert job["settings"] == {"repeat": 1, "outcome": "ok"}
    assert reply.headers["Location"] == f"{API_PATH}/jobs/{job['id']}"
    located = await alice.fetch_path(reply.headers["Location"])
    assert located.status == 200 and located.json["id"] == job["id"]


async def test_a_submit_answers_with_the_job_as_a_read_shows_it(alice: Api, gate: Gate) -> None:
    """The answer to a submit is rendered from the job the submit made (no second
    read); it must be the job a read shows, but for what running it has changed."""
    answer = await alice.post("jobs", job_body("zz", tool="sleep", settings=gate.settings()))
    assert answer.status == 201, answer.body
    job_id = answer.json["id"]
    read = await wait_until(
        lambda: _job_if(alice, job_id, lambda job: job["status"] == "PROCESSING")
    )
    changed = {key for key in {*answer.json, *read} if answer.json.get(key) != read.get(key)}
    # a running job's status, progress, times, attempts, charge and provenance (kept
    # when it starts) move; nothing it was made with does
    running = {"status", "progress", "progress_message", "updated_at", "started_at"}
    running |= {"attempts", "duration_s", "credits", "provenance"}
    assert changed <= running, [(key, answer.json.get(key), read.get(key)) for key in changed]
    assert answer.json["credits"] | {"charged": 0} == read["credits"] | {"charged": 0}
    gate.open()
    assert (await alice.wait(job_id))["status"] == "COMPLETED"


async def _job_if(api: Api, job_id: str, wanted: Any) -> dict[str, Any] | None:
    job: dict[str, Any] = (await api.get(f"jobs/{job_id}")).json
    return job if wanted(job) else None


async def test_idempotency_keys(alice: Api) -> None:
    first = await alice.post("jobs", job_body("same request"), headers={"Idempotency-Key": "k-1"})
    assert first.status == 201, first.body
    again = await alice.post("jobs", job_body("same request"), headers={"Idempotency-Key": "k-1"})
    assert again.status == 201 and again.json["id"] == first.json["id"]
    legacy = await alice.post(
        "jobs", job_body("same request"), headers={"X-Idempotency-Key": "k-1"}
    )
    assert legacy.json["id"] == first.json["id"]
    other = await alice.post("jobs", job_body("another body"), headers={"Idempotency-Key": "k-1"})
    conflict = expect_error(other, 409, "conflict")
    assert conflict["details"] == {"job_id": first.json["id"]}
    # one job, and one hold of its credits
    assert [j["id"] for j in (await alice.get("jobs")).json["data"]] == [first.json["id"]]
    await alice.wait(first.json["id"])
    assert (await alice.get("account")).json["workspace"]["credits"]["available"] == 480


# -- the history: filters and pages -----------------------------------------------


async def test_history_filters(alice: Api, tim: Api) -> None:
    alpha = await alice.run("a b c", name="alpha one")
    beta = await alice.run("d e", name="beta")
    failed = await alice.run("f", name="alpha failing", settings={"outcome": "error"})
    slept = await alice.run("zz", tool="sleep", name="nap")
    teammates = await tim.run("tim's", name="tim alpha")
    assert failed["status"] == "FAILED" and failed["error"] == (
        "RuntimeError: the echo chamber collapsed"
    )

    async def ids(api: Api, **params: Any) -> list[str]:
        reply = await api.get("jobs", params=params)
        assert reply.status == 200, reply.body
        return [job["id"] for job in reply.json["data"]]

    everything = [teammates["id"], slept["id"], failed["id"], beta["id"], alpha["id"]]
    assert await ids(alice) == everything  # newest first
    assert await ids(alice, tool="sleep") == [slept["id"]]
    assert await ids(alice, status="FAILED") == [failed["id"]]
    assert await ids(alice, status="failed,completed", tool="echo") == [
        teammates["id"],
        failed["id"],
        beta["id"],
        alpha["id"],
    ]
    assert await ids(alice, q="alpha") == [teammates["id"], failed["id"], alpha["id"]]
    assert await ids(alice, mine="1") == everything[1:]
    assert await ids(tim, mine="true") == [teammates["id"]]
    assert await ids(alice, submitter=teammates["submitter"]["id"]) == [teammates["id"]]
    # a teammate's history shows every row, and the contents of none but their own
    rows = {job["id"]: job for job in (await tim.get("jobs")).json["data"]}
    assert list(rows) == everything
    assert rows[alpha["id"]]["submitter"]["username"] == "alice"
    assert rows[alpha["id"]]["permissions"] == {"see_contents": False, "change": False}
    assert "input" not in rows[alpha["id"]] and "result" not in rows[alpha["id"]]
    assert rows[teammates["id"]]["result"]["fields"]["echo"] == "tim's"

    assert fields(await alice.get("jobs", params={"status": "SLEEPING"})) == ["status"]
    assert fields(await alice.get("jobs", params={"limit": "0"})) == ["limit"]
    assert fields(await alice.get("jobs", params={"limit": "many"})) == ["limit"]
    assert fields(await alice.get("jobs", params={"starting_after": "nonsense"})) == [
        "starting_after"
    ]


async def test_history_pages(alice: Api) -> None:
    made = [(await alice.submit(f"page {n}", name=f"job {n}"))["id"] for n in range(5)]
    seen: list[str] = []
    pages = []
    cursor = None
    while True:
        params = {"limit": 2, **({"starting_after": cursor} if cursor else {})}
        page = (await alice.get("jobs", params=params)).json
        assert page["object"] == "list"
        pages.append((len(page["data"]), page["has_more"]))
        seen += [job["id"] for job in page["data"]]
        cursor = page["next_cursor"]
        assert (cursor is not None) == page["has_more"]
        if not page["has_more"]:
            break
    assert pages == [(2, True), (2, True), (1, False)]
    assert seen == made[::-1]


async def test_batch_filter(alice: Api) -> None:
    await alice.run("not in the batch")
    batch = (
        await alice.post(
            "batches",
            {
                "tool": "echo",
                "items": [job_body("one"), job_body("two")],
                "name": "pair",
            },
        )
    ).json
    reply = await alice.get("jobs", params={"batch": batch["id"]})
    assert sorted(job["id"] for job in reply.json["data"]) == sorted(batch["job_ids"])
    assert {job["batch_id"] for job in reply.json["data"]} == {batch["id"]}
    expect_error(await alice.get("jobs", params={"batch": "batch_nope"}), 404, "not_found")


# -- one job: read, rename, delete, actions --------------------------------------


async def test_get_rename_and_delete(alice: Api, tim: Api) -> None:
    job = await alice.run("rename me", name="before")
    reply = await alice.get(f"jobs/{job['id']}")
    assert reply.status == 200
    assert reply.json["name"] == "before"
    assert reply.json["permissions"] == {"see_contents": True, "change": True}

    renamed = await alice.patch(f"jobs/{job['id']}", {"name": "  after  "})
    assert renamed.status == 200, renamed.body
    assert renamed.json["name"] == "after"
    assert renamed.json["submitter"]["username"] == "alice"
    assert (await alice.get(f"jobs/{job['id']}")).json["name"] == "after"

    assert fields(await alice.patch(f"jobs/{job['id']}", {"name": "x", "tool": "sleep"})) == [
        "tool"
    ]
    assert fields(await alice.patch(f"jobs/{job['id']}", {})) == ["name"]
    assert fields(await alice.patch(f"jobs/{job['id']}", {"name": 7})) == ["name"]
    assert fields(await alice.patch(f"jobs/{job['id']}", {"name": "   "})) == ["name"]
    expect_error(await tim.patch(f"jobs/{job['id']}", {"name": "mine now"}), 403, "forbidden")
    expect_error(await tim.delete(f"jobs/{job['id']}"), 403, "forbidden")

    deleted = await alice.delete(f"jobs/{job['id']}")
    assert deleted.status == 200
    assert deleted.json == {"id": job["id"], "object": "job", "deleted": True}
    expect_error(await alice.get(f"jobs/{job['id']}"), 404, "not_found")
    expect_error(await alice.delete(f"jobs/{job['id']}"), 404, "not_found")
    expect_error(await alice.get("jobs/job_nope"), 404, "not_found")


async def test_cancel_retry_duplicate(alice: Api, gate: Gate) -> None:
    napping = await alice.submit("zz", tool="sleep", settings=gate.settings())
    still_running = await alice.delete(f"jobs/{napping['id']}")
    assert expect_error(still_running, 409, "conflict")["details"]["current_status"] in (
        "PENDING",
        "PROCESSING",
    )
    cancelled = await alice.post(f"jobs/{napping['id']}/cancel")
    assert cancelled.status == 200, cancelled.body
    assert (cancelled.json["id"], cancelled.json["status"]) == (napping["id"], "CANCELLED")
    assert cancelled.json["status_reason"] == "cancelled"
    again = expect_error(await alice.post(f"jobs/{napping['id']}/cancel"), 409, "conflict")
    assert again["details"] == {"current_status": "CANCELLED"}

    retried = await alice.post(f"jobs/{napping['id']}/retry")
    assert retried.status == 201, retried.body
    assert retried.json["id"] != napping["id"]
    assert retried.json["origin_job_id"] == napping["id"]
    assert retried.json["name"] == f"{napping['name']} (retry)"
    assert retried.json["settings"] == napping["settings"]
    gate.open()
    assert (await alice.wait(retried.json["id"]))["status"] == "COMPLETED"

    done = await alice.run("copy me", name="original")
    expect_error(await alice.post(f"jobs/{done['id']}/retry"), 409, "conflict")
    copy = await alice.post(f"jobs/{done['id']}/duplicate")
    assert copy.status == 201, copy.body
    assert (copy.json["name"], copy.json["origin_job_id"]) == ("original (copy)", done["id"])
    assert copy.json["submitter"]["username"] == "alice"
    tweaked = await alice.post(
        f"jobs/{done['id']}/duplicate", {"settings": {"repeat": 3}, "name": "louder"}
    )
    assert tweaked.status == 201, tweaked.body
    assert tweaked.json["name"] == "louder"
    assert tweaked.json["settings"] == {"repeat": 3, "outcome": "ok"}
    assert tweaked.json["credits"]["estimated"] == 3 * done["credits"]["estimated"]
    assert fields(await alice.post(f"jobs/{done['id']}/duplicate", {"settings": [1]})) == [
        "settings"
    ]
    failed = await alice.run("x", settings={"outcome": "error"})
    expect_error(await alice.post(f"jobs/{failed['id']}/duplicate"), 409, "conflict")
    expect_error(await alice.post("jobs/job_nope/cancel"), 404, "not_found")


async def test_status_then_results_then_files(alice: Api, tim: Api, gate: Gate) -> None:
    napping = await alice.submit("zz", tool="sleep", settings=gate.settings(steps=10))
    status = await alice.get(f"jobs/{napping['id']}/status")
    assert status.status == 200
    assert set(status.json) == {
        "id",
        "object",
        "status",
        "progress",
        "progress_message",
        "progress_estimated",
        "eta_seconds",
        "status_reason",
        "updated_at",
    }
    assert status.json["object"] == "job_status"
    early = await alice.get(f"results/{napping['id']}")
    error = expect_error(early, 409, "job_not_completed")
    assert early.headers["Retry-After"] == "5"
    assert error["details"]["current_status"] in ("PENDING", "PROCESSING")
    progress = await wait_until(
        lambda: _progress_seen(alice, napping["id"]),
    )
    assert 0 < progress < 1
    gate.open()
    assert (await alice.wait(napping["id"]))["status"] == "COMPLETED"
    assert (await alice.get(f"results/{napping['id']}")).status == 200

    job = await alice.run("to be or not", name="files")
    reply = await alice.get(f"results/{job['id']}")
    assert reply.status == 200, reply.body
    result = reply.json
    assert (result["object"], result["job_id"], result["tool"], result["status"]) == (
        "job_result",
        job["id"],
        "echo",
        "COMPLETED",
    )
    assert result["completed_at"] == job["completed_at"]
    assert result["results"] == {
        "fields": {"length": 12, "echo": "to be or not"},
        "rows": [
            {"index": 1, "word": "to"},
            {"index": 2, "word": "be"},
            {"index": 3, "word": "or"},
            {"index": 4, "word": "not"},
        ],
    }
    (entry,) = result["files"]
    assert entry == {
        "name": "echo.txt",
        "key": f"{job['id']}/echo.txt",
        "format": "text",
        "size": 12,
        "content_type": "text/plain",
        "url": f"{API_PATH}/jobs/{job['id']}/files/echo.txt",
    }
    download = await alice.fetch_path(entry["url"])
    assert download.status == 200
    assert download.text == "to be or not"
    assert download.headers["Content-Type"] == "text/plain"
    assert download.headers["Content-Disposition"] == 'attachment; filename="echo.txt"'
    inline = await alice.get(f"jobs/{job['id']}/files/echo.txt", params={"download": "0"})
    assert inline.text == "to be or not" and "Content-Disposition" not in inline.headers
    expect_error(await alice.get(f"jobs/{job['id']}/files/other.txt"), 404, "not_found")
    # a teammate sees the row, not the contents: no result, no file
    expect_error(await tim.get(f"results/{job['id']}"), 404, "not_found")
    expect_error(await tim.fetch_path(entry["url"]), 404, "not_found")
    expect_error(await alice.get("results/job_nope"), 404, "not_found")


async def _progress_seen(api: Api, job_id: str) -> float | None:
    status = (await api.get(f"jobs/{job_id}/status")).json
    if status["status"] == "PROCESSING" and 0 < status["progress"] < 1:
        assert status["progress_message"].startswith("step ")
        return float(status["progress"])
    assert status["status"] not in FINAL, "the job ended before any progress was seen"
    return None


async def test_export_csv_and_json(alice: Api) -> None:
    job = await alice.run("alpha beta", name='a "quoted", name', settings={"repeat": 2})
    reply = await alice.get(f"jobs/{job['id']}/export", params={"format": "csv"})
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert reply.headers["Content-Disposition"] == f'attachment; filename="{job["id"]}.csv"'
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert list(rows[0]) == [
        "job_id",
        "job_name",
        "tool",
        "status",
        "created_at",
        "completed_at",
        "length",
        "echo",
        "index",
        "word",
    ]
    common = {
        "job_id": job["id"],
        "job_name": 'a "quoted", name',
        "tool": "echo",
        "status": "COMPLETED",
        "created_at": job["created_at"],
        "completed_at": job["completed_at"],
        "length": "10",
        "echo": "alpha beta alpha beta",
    }
    assert rows == [
        {**common, "index": "1", "word": "alpha"},
        {**common, "index": "2", "word": "beta"},
    ]

    reply = await alice.get(f"jobs/{job['id']}/export", params={"format": "json"})
    assert reply.status == 200
    assert reply.headers["Content-Disposition"] == f'attachment; filename="{job["id"]}.json"'
    exported = reply.json
    assert {k: exported[k] for k in ("object", "job_id", "name", "tool", "status")} == {
        "object": "job_export",
        "job_id": job["id"],
        "name": 'a "quoted", name',
        "tool": "echo",
        "status": "COMPLETED",
    }
    assert exported["settings"] == {"repeat": 2, "outcome": "ok"}
    assert exported["inputs"] == job["input"]["inputs"]
    assert exported["credits_used"] == job["credits"]["charged"] == 20
    assert exported["results"] == {
        "fields": job["result"]["fields"],
        "rows": job["result"]["rows"],
    }
    assert exported["files"] == job["result"]["files"]
    # JSON is the default
    default = await alice.get(f"jobs/{job['id']}/export")
    assert json.loads(default.body)["job_id"] == job["id"]
    assert fields(await alice.get(f"jobs/{job['id']}/export", params={"format": "xlsx"})) == [
        "format"
    ]


async def test_share_settings(piq: PiqServer, alice: Api, tim: Api, bob: Api) -> None:
    job = await alice.run("shared", name="to share")
    share = await alice.get(f"jobs/{job['id']}/share")
    assert share.status == 200
    assert share.json == {
        "object": "share",
        "job_id": job["id"],
        "visibility": "private",
        "invites": [],
        "public_url": None,
    }
    # olga has not used this deployment yet: her invite waits for her
    invited = await alice.put(
        f"jobs/{job['id']}/share",
        {"visibility": "invited", "invite": ["Olga@Elsewhere.example", "tim@lab.example"]},
    )
    assert invited.status == 200, invited.body
    assert invited.json["visibility"] == "invited"
    assert invited.json["public_url"] is None
    assert invited.json["invites"] == [
        {"email": "olga@elsewhere.example", "status": "pending"},
        {"email": "tim@lab.example", "status": "active"},
    ]
    assert (await piq.api("olga").get("account")).status == 200  # she signs in
    invites = (await alice.get(f"jobs/{job['id']}/share")).json["invites"]
    assert invites[0] == {"email": "olga@elsewhere.example", "status": "active"}
    olga_sees = await piq.api("olga").get(f"jobs/{job['id']}")
    assert olga_sees.status == 200 and olga_sees.json["result"] is not None

    fewer = await alice.put(
        f"jobs/{job['id']}/share", {"visibility": "invited", "uninvite": ["tim@lab.example"]}
    )
    assert [i["email"] for i in fewer.json["invites"]] == ["olga@elsewhere.example"]

    public = await alice.put(f"jobs/{job['id']}/share", {"visibility": "public"})
    assert public.json["visibility"] == "public"
    assert public.json["public_url"] == f"{BASE_URL}proteiniq/public/jobs/{job['id']}"
    assert (await alice.get(f"jobs/{job['id']}")).json["visibility"] == "public"

    assert fields(await alice.put(f"jobs/{job['id']}/share", {"visibility": "everyone"})) == [
        "visibility"
    ]
    assert fields(
        await alice.put(
            f"jobs/{job['id']}/share", {"visibility": "invited", "invite": ["not-an-email"]}
        )
    ) == ["invite"]
    assert fields(
        await alice.put(f"jobs/{job['id']}/share", {"visibility": "invited", "invite": "a@b.c"})
    ) == ["invite"]
    # only the submitter (or an admin) shares; others are told it is forbidden, or
    # that it does not exist when they may not see it
    expect_error(await tim.get(f"jobs/{job['id']}/share"), 403, "forbidden")
    expect_error(
        await tim.put(f"jobs/{job['id']}/share", {"visibility": "private"}), 403, "forbidden"
    )
    private = await alice.run("secret")
    expect_error(await bob.get(f"jobs/{private['id']}/share"), 404, "not_found")
    expect_error(
        await bob.put(f"jobs/{private['id']}/share", {"visibility": "public"}), 404, "not_found"
    )


# -- batches ----------------------------------------------------------------------


async def test_batches(alice: Api, bob: Api, gate: Gate) -> None:
    items = [job_body(text) for text in ("one", "two two", "three three three")]
    reply = await alice.post("batches", {"tool": "echo", "items": items, "name": "three"})
    assert reply.status == 201, reply.body
    batch = reply.json
    assert (batch["object"], batch["name"], batch["tool"], batch["total"]) == (
        "batch",
        "three",
        "echo",
        3,
    )
    assert batch["reserved_credits"] == 10 + 10 + 20
    assert len(batch["job_ids"]) == 3

    async def finished() -> dict[str, Any] | None:
        data: dict[str, Any] = (await alice.get(f"batches/{batch['id']}")).json
        return data if data["status"] != "PROCESSING" else None

    done = await wait_until(finished)
    assert (done["status"], done["counts"], done["progress"]) == (
        "COMPLETED",
        {"COMPLETED": 3},
        1.0,
    )
    assert done["credits_charged"] == 40
    listed = (await alice.get("batches")).json
    assert listed["object"] == "list"
    assert [b["id"] for b in listed["data"]] == [batch["id"]]
    expect_error(await bob.get(f"batches/{batch['id']}"), 404, "not_found")
    assert (await bob.get("batches")).json["data"] == []

    # a batch that fails: only its failed children run again
    failing = (
        await alice.post(
            "batches", {"tool": "echo", "items": items[:2], "settings": {"outcome": "error"}}
        )
    ).json

    async def failed() -> dict[str, Any] | None:
        data: dict[str, Any] = (await alice.get(f"batches/{failing['id']}")).json
        return data if data["status"] == "FAILED" else None

    assert (await wait_until(failed))["counts"] == {"FAILED": 2}
    retried = await alice.post(f"batches/{failing['id']}/retry-failed")
    assert retried.status == 201, retried.body
    assert len(retried.json["retried_job_ids"]) == 2
    assert retried.json["total"] == 4
    assert not set(retried.json["retried_job_ids"]) & set(failing["job_ids"])
    await wait_until(failed)
    expect_error(await bob.post(f"batches/{failing['id']}/retry-failed"), 404, "not_found")

    # cancelling stops every child still waiting or running
    sleepy = [job_body("zz", tool="sleep") for _ in range(4)]
    slow = (
        await alice.post(
            "batches",
            {"tool": "sleep", "items": sleepy, "settings": gate.settings()},
        )
    ).json
    # three children at a time: the fourth waits its turn
    assert slow["counts"].get("QUEUED") == 1
    assert slow["counts"].get("PENDING", 0) + slow["counts"].get("PROCESSING", 0) == 3
    cancelled = await alice.post(f"batches/{slow['id']}/cancel")
    assert cancelled.status == 200, cancelled.body
    assert cancelled.json["counts"] == {"CANCELLED": 4}

    assert fields(await alice.post("batches", {"tool": "echo", "items": []})) == ["items"]
    assert fields(await alice.post("batches", {"tool": "echo", "items": ["x"]})) == ["items[0]"]
    assert fields(
        await alice.post(
            "batches", {"tool": "echo", "items": [job_body("ok"), {"input": {"inputs": [{}]}}]}
        )
    ) == ["items[1].input.inputs[0].slotId", "items[1].input.inputs[0].content"]
    bad_item = await alice.post(
        "batches", {"tool": "echo", "items": [job_body("ok"), job_body("no!")]}
    )
    (problem,) = bad_item.error["details"]["errors"]
    assert (problem["field"], problem["item"]) == ("input.inputs[0].content", 2)
    expect_error(await alice.get("batches/batch_nope"), 404, "not_found")


async def test_a_tool_that_cannot_run_here_is_refused_before_anyone_waits(
    alice: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its weights are not here: the quote carries the reason as a blocking error
    and a submission is refused with it (409), creating and charging nothing."""
    monkeypatch.delenv("PIQ_TEST_WEIGHTS", raising=False)
    body = job_body("hello", tool="weights-echo")
    quote = (await alice.post("jobs/quote", body)).json
    [blocking] = quote["blocking_errors"]
    assert blocking["code"] == "tool_unavailable" and "PIQ_TEST_WEIGHTS" in blocking["message"]
    error = expect_error(await alice.post("jobs", body), 409, "tool_unavailable")
    assert error["message"] == blocking["message"]
    assert error["details"] == {"tool": "weights-echo"}
    assert (await alice.get("jobs")).json["data"] == []
    assert (await alice.get("account")).json["workspace"]["credits"]["available"] == 500


async def test_a_batch_from_one_input_is_refused_when_its_tool_cannot_run(alice: Api) -> None:
    """``input`` instead of ``items``: AlphaFold-2 would make one job per line (the
    command line's tests run them). Its program is not installed here, so the batch
    is refused at once, naming what to install, and nothing is made."""
    lines = "ubiquitin MQIFVKTLTGKTITLEV\ndimer MKTAYIAKQR:GIVEQCCTSIC\n"
    body = {
        "tool": "alphafold-2",
        "input": {"inputs": [{"slotId": "sequences", "content": lines}]},
    }
    error = expect_error(await alice.post("batches", body), 409, "tool_unavailable")
    assert "colabfold_batch" in error["message"] and "PIQ_COLABFOLD_BIN" in error["message"]
    assert (await alice.get("batches")).json["data"] == []
    assert (await alice.get("account")).json["workspace"]["credits"]["available"] == 500

    # a tool that takes no batch input says so; a bad line is named
    refused = await alice.post("batches", {"tool": "echo", "input": {"inputs": []}})
    assert (
        "does not take a batch input" in expect_error(refused, 400, "validation_error")["message"]
    )
    bad = {
        "tool": "alphafold-2",
        "input": {"inputs": [{"slotId": "sequences", "content": "MQ1F"}]},
    }
    assert (
        "line 1"
        in expect_error(await alice.post("batches", bad), 400, "validation_error")["message"]
    )


# -- errors -----------------------------------------------------------------------


async def test_validation_names_each_bad_field(alice: Api) -> None:
    assert fields(await alice.post("jobs", {"input": {"inputs": []}})) == ["tool"]
    assert fields(await alice.post("jobs", {"tool": "echo"})) == ["input.inputs"]
    assert fields(
        await alice.post(
            "jobs", {"tool": "echo", "input": {"inputs": [{"slotId": 3, "content": None}, 5]}}
        )
    ) == ["input.inputs[0].slotId", "input.inputs[0].content", "input.inputs[1]"]
    assert fields(await alice.post("jobs", {**job_body("x"), "settings": "loud"})) == ["settings"]
    assert fields(await alice.post("jobs", {**job_body("x"), "name": ["a"]})) == ["name"]
    assert fields(await alice.post("jobs", job_body("x", name=" "))) == ["name"]
    assert fields(await alice.post("jobs", job_body("x", tool="no-such-tool"))) == ["tool"]
    assert fields(
        await alice.post("jobs", job_body("x", settings={"repeat": 11, "volume": 3}))
    ) == ["settings.repeat", "settings.volume"]
    located = await alice.post("jobs", job_body("hello!"))
    (problem,) = located.error["details"]["errors"]
    assert problem["field"] == "input.inputs[0].content"
    assert problem["column"] == 6
    assert fields(await alice.post("jobs", raw="[1, 2]", headers=JSON)) == ["body"]
    # nothing was created by any of them
    assert (await alice.get("jobs")).json["data"] == []


async def test_body_errors(piq: PiqServer, alice: Api) -> None:
    broken = await alice.post("jobs", raw='{"tool": "echo",', headers=JSON)
    assert expect_error(broken, 400, "invalid_json")["message"].startswith(
        "the body is not valid JSON"
    )
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        reply = await alice.post(
            "jobs", raw=json.dumps(job_body("x")), headers={"Content-Type": content_type}
        )
        expect_error(reply, 415, "unsupported_media_type")
    expect_error(
        await alice.post("jobs", raw=json.dumps(job_body("x"))), 415, "unsupported_media_type"
    )
    # charset and case do not matter
    ok = await alice.post(
        "jobs",
        raw=json.dumps(job_body("x")),
        headers={"Content-Type": "Application/JSON; charset=utf-8"},
    )
    assert ok.status == 201, ok.body

    piq.state.max_json_bytes = 300
    big = await alice.post("jobs", job_body("x" * 400))
    assert expect_error(big, 413, "payload_too_large")["message"] == (
        "the body is over the limit of 300 bytes"
    )
    assert (await alice.post("jobs", job_body("small"))).status == 201


async def test_insufficient_credits(alice: Api) -> None:
    reply = await alice.post("jobs", job_body("x" * 60, settings={"repeat": 10}))
    error = expect_error(reply, 402, "insufficient_credits")
    assert error["details"] == {"required_credits": 600, "available_credits": 500}
    batch = await alice.post(
        "batches", {"tool": "echo", "items": [job_body("x" * 100)] * 6, "settings": {"repeat": 1}}
    )
    assert expect_error(batch, 402, "insufficient_credits")["details"] == {
        "required_credits": 600,
        "available_credits": 500,
    }
    assert (await alice.get("jobs")).json["data"] == []
    assert (await alice.get("account")).json["workspace"]["credits"]["available"] == 500


async def test_unknown_route_under_the_api_prefix(alice: Api) -> None:
    """No route answers these; Jupyter's own 404 page does (not the envelope)."""
    for path in ("nope", "jobs/job_1/nope", "results"):
        reply = await alice.get(path)
        assert reply.status == 404, (path, reply.body)


@pytest.mark.piq(rate_limit=3, rate_limit_window=60.0)
async def test_rate_limit(alice: Api, bob: Api, anonymous: Api) -> None:
    started = time.time()
    for remaining in (2, 1, 0):
        reply = await alice.get("account")
        assert reply.status == 200
        assert reply.headers["X-RateLimit-Limit"] == "3"
        assert reply.headers["X-RateLimit-Remaining"] == str(remaining)
        assert started + 59 <= int(reply.headers["X-RateLimit-Reset"]) <= time.time() + 61
    refused = await alice.get("jobs")
    error = expect_error(refused, 429, "rate_limited")
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert error["details"] == {"retry_after": retry_after}
    assert refused.headers["X-RateLimit-Limit"] == "3"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["X-RateLimit-Reset"] == reply.headers["X-RateLimit-Reset"]
    expect_error(await alice.post("jobs", job_body("x")), 429, "rate_limited")
    # each user has a budget of their own; nobody's requests are refused before counting
    assert (await bob.get("account")).headers["X-RateLimit-Remaining"] == "2"
    expect_error(await anonymous.get("account"), 401, "unauthorized")


# -- the executor and the kernels' environment ----------------------------------


@pytest.mark.slow
@pytest.mark.piq(executor="dask", dask_workers=1)
async def test_jobs_run_on_dask(piq: PiqServer, alice: Api) -> None:
    """The default executor: the job runs in a process of a Dask worker of the
    server's embedded cluster, not in the server."""
    job = await alice.submit("zz", tool="sleep")
    status = await alice.wait(job["id"], timeout=90)
    assert status["status"] == "COMPLETED"
    result = (await alice.get(f"results/{job['id']}")).json
    assert result["results"]["fields"]["pid"] != os.getpid()

    executor = piq.state.engine.executor
    assert type(executor).__name__ == "DaskExecutor"
    workers = set(executor.client().scheduler_info()["workers"])
    actor = piq.state.service.sign_in("alice")
    runners = [e.data for e in piq.state.service.events(actor, job["id"]) if e.kind == "runner"]
    (runner,) = runners
    assert runner["pid"] == result["results"]["fields"]["pid"]
    assert any(runner["holder"].startswith(f"worker:{address}:") for address in workers)


async def test_kernels_learn_the_server_url_and_token(piq: PiqServer) -> None:
    """Kernels started by the server inherit PIQ_SERVER_URL and PIQ_SERVER_TOKEN,
    and with them can call the API as the server's user."""
    url = await wait_until(lambda: _env("PIQ_SERVER_URL"), timeout=5)
    token = os.environ["PIQ_SERVER_TOKEN"]
    assert url == piq.app.connection_url
    assert token == piq.app.identity_provider.token
    parts = urlsplit(url)
    assert parts.path == BASE_URL
    assert parts.port == piq.app.port
    kernel = Api(piq, None, token=token)
    reply = await kernel.fetch_path(parts.path + "proteiniq/api/v1/account")
    assert reply.status == 200, reply.body
    assert reply.json["workspace"]["id"] == piq.team.workspace_id
    assert reply.json["role"] == "member"  # the server's user, tim


async def _env(name: str) -> str | None:
    return os.environ.get(name)


async def test_members_of_the_configured_workspace_act_in_it(piq, alice, bob):
    """On a deployment configured with a team workspace (as under JupyterHub), each
    member works in it; someone who is not a member keeps their own."""
    before = await bob.get("account")
    assert before.json["workspace"]["id"] != piq.team.workspace_id
    service = piq.state.service
    owner = service.sign_in("alice", workspace_id=piq.team.workspace_id)
    service.add_member(owner, "bob", Role.MEMBER)
    await asyncio.sleep(FRESH_S)  # his memberships, read for his last request, are read again
    after = await bob.get("account")
    assert after.json["workspace"]["id"] == piq.team.workspace_id
    job = await bob.submit("team work")
    listed = await alice.get("jobs")
    assert job["id"] in [j["id"] for j in listed.json["data"]]
