"""``GET jobs?sort=...&order=...`` over HTTP on both databases: the whole history
in the asked order page by page, filters kept, and a 400 error envelope for an
unknown sort or order and for a cursor of another order."""

from __future__ import annotations

from typing import Any

from .conftest import Api

NAMES = ["kinase", "Beta", "alpha", "kinase", "zinc", "alpha", "kinase"]


async def _walk(api: Api, params: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        asked = {**params, "limit": 2}
        if cursor:
            asked["starting_after"] = cursor
        reply = await api.get("jobs", params=asked)
        assert reply.status == 200, reply.body
        rows += reply.json["data"]
        if not reply.json["has_more"]:
            return rows
        cursor = reply.json["next_cursor"]


async def test_the_whole_history_comes_in_the_asked_order(alice: Api) -> None:
    made = [await alice.submit(f"job {i}", name=name) for i, name in enumerate(NAMES)]
    by_name = await _walk(alice, {"sort": "name", "order": "asc"})
    assert [(r["name"], r["id"]) for r in by_name] == sorted((j["name"], j["id"]) for j in made)
    assert [r["name"] for r in by_name][:3] == ["Beta", "alpha", "alpha"]
    backwards = await _walk(alice, {"sort": "name", "order": "desc"})
    assert [r["id"] for r in backwards] == [r["id"] for r in reversed(by_name)]
    # without an order a column sorts its natural way: names from a, time newest first
    assert [r["id"] for r in await _walk(alice, {"sort": "name"})] == [r["id"] for r in by_name]
    newest = await _walk(alice, {})
    assert [r["id"] for r in newest] == [j["id"] for j in reversed(made)]
    assert [r["id"] for r in await _walk(alice, {"sort": "created_at", "order": "asc"})] == [
        j["id"] for j in made
    ]
    # filters combine with the order
    kinases = await _walk(alice, {"sort": "name", "order": "desc", "q": "kin"})
    assert [r["id"] for r in kinases] == sorted(
        (j["id"] for j in made if j["name"] == "kinase"), reverse=True
    )


async def test_an_unknown_sort_or_order_is_a_400_naming_the_valid_values(alice: Api) -> None:
    reply = await alice.get("jobs", params={"sort": "size"})
    assert reply.status == 400
    error = reply.error
    assert error["code"] == "validation_error"
    assert error["message"] == (
        "unknown sort 'size'; sort by created_at, name, status, tool, submitter, "
        "credits, duration_s"
    )
    assert error["details"]["errors"][0]["field"] == "sort"
    reply = await alice.get("jobs", params={"sort": "name", "order": "sideways"})
    assert reply.status == 400
    assert reply.error["message"] == "unknown order 'sideways'; use asc or desc"


async def test_a_cursor_of_another_order_is_a_400(alice: Api) -> None:
    for i, name in enumerate(NAMES):
        await alice.submit(f"job {i}", name=name)
    first = (await alice.get("jobs", params={"sort": "name", "limit": 2})).json
    for other in ({"sort": "tool"}, {"sort": "name", "order": "desc"}, {}):
        reply = await alice.get(
            "jobs", params={**other, "limit": 2, "starting_after": first["next_cursor"]}
        )
        assert reply.status == 400, (other, reply.body)
        assert "not a cursor from this server" in reply.error["message"]
        assert reply.error["details"]["errors"][0]["field"] == "starting_after"
    newest = (await alice.get("jobs", params={"limit": 2})).json
    reply = await alice.get(
        "jobs", params={"sort": "name", "limit": 2, "starting_after": newest["next_cursor"]}
    )
    assert reply.status == 400
    assert reply.error["message"] == (
        "starting_after is not a cursor from this server for sort=name&order=asc"
    )
