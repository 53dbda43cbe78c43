"""Each kind of bad input that once made the server fail, sent over HTTP to a real
Jupyter server on both databases: it gets a 4xx error envelope naming the
problem, creates nothing and leaves nothing behind."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import API_PREFIX, BASE_URL, Api, Reply, job_body

OCTETS = {"Content-Type": "application/octet-stream"}
JSON = {"Content-Type": "application/json"}


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def refused(reply: Reply, field: str | None = None, *, status: int = 400) -> dict[str, Any]:
    """The error of a 4xx reply, checked to be the envelope (naming ``field``)."""
    assert reply.status == status, (reply.status, reply.body[:300])
    error = reply.error
    if field is not None:
        assert field in [e.get("field") for e in error["details"]["errors"]], error
    return error


async def job_count(api: Api) -> int:
    reply = await api.get("jobs", params={"limit": 100})
    assert reply.status == 200, reply.body
    return len(reply.json["data"])


@pytest.mark.parametrize("path", ["jobs", "files", "batches"])
@pytest.mark.parametrize(
    "moment",
    [
        "2024-01-01T00:00:00",  # no timezone
        "9999-12-31T23:59:59-05:00",  # past year 9999 in UTC
        "0001-01-01T00:00:00+05:00",  # before year 1 in UTC
        "2024-01-01T00:00:00+00:00",  # a fine time, with an id no row has
    ],
)
async def test_a_cursor_that_is_not_this_servers_is_refused(
    alice: Api, path: str, moment: str
) -> None:
    row = "job_\x00" if moment.endswith("+00:00") else "job_0123"
    reply = await alice.get(path, params={"starting_after": cursor(f"{moment}|{row}")})
    error = refused(reply, "starting_after")
    assert error["code"] == "validation_error"
    assert "not a cursor from this server" in error["message"]


async def test_a_cursor_from_this_server_still_pages(alice: Api) -> None:
    for word in ("one", "two", "three"):
        await alice.submit(word)
    first = (await alice.get("jobs", params={"limit": 2})).json
    assert first["has_more"] and first["next_cursor"]
    rest = await alice.get("jobs", params={"limit": 2, "starting_after": first["next_cursor"]})
    assert rest.status == 200 and len(rest.json["data"]) == 1


async def test_json_nested_100000_deep_is_refused(alice: Api) -> None:
    before = await job_count(alice)
    deep = "[" * 100_000 + "]" * 100_000
    error = refused(await alice.post("jobs", raw=deep, headers=JSON), "body")
    assert "nested deeper than" in error["message"]
    # Deep inside a body that is otherwise a submission: the place is named.
    body = job_body("hello")
    body["settings"] = {"extra": json.loads("[" * 40 + "]" * 40)}
    error = refused(await alice.post("jobs", body))
    assert error["details"]["errors"][0]["field"].startswith("settings.extra[0]")
    assert await job_count(alice) == before


async def test_a_settings_object_of_ordinary_depth_is_judged_by_the_tool(alice: Api) -> None:
    body = job_body("hello")
    body["settings"] = {"outcome": {"nested": [1, [2, [3]]]}}
    error = refused(await alice.post("jobs", body), "settings.outcome")
    assert "nested deeper" not in error["message"]


async def test_an_upload_name_over_255_bytes_is_refused_and_leaves_no_folder(
    alice: Api, piq_data_dir: Path
) -> None:
    name = "é" * 200 + ".fasta"  # 206 characters, 406 bytes of UTF-8
    reply = await alice.post("files", raw=b">x\nMK\n", params={"name": name}, headers=OCTETS)
    error = refused(reply, "name")
    assert "406 bytes" in error["message"]
    uploads = piq_data_dir / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())
    # At the limit, in bytes, it is saved and comes back by its name.
    fits = "é" * 124 + ".fasta"  # 254 bytes
    saved = await alice.post("files", raw=b">x\nMK\n", params={"name": fits}, headers=OCTETS)
    assert saved.status == 201, saved.body
    assert saved.json["name"] == fits and saved.json["format"] == "fasta"
    assert [p.name for p in uploads.iterdir()] == [saved.json["id"]]


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("a\x00b.txt", "name"),
        ("tab\there.txt", "name"),
        ("../up.txt", "name"),
        (".hidden", "name"),
    ],
)
async def test_an_upload_name_that_is_not_a_plain_file_name_is_refused(
    alice: Api, piq_data_dir: Path, name: str, field: str
) -> None:
    reply = await alice.post("files", raw=b"x", params={"name": name}, headers=OCTETS)
    refused(reply, field)
    uploads = piq_data_dir / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


async def test_an_upload_format_is_a_short_word(alice: Api) -> None:
    params = {"name": "x.txt", "format": "p" * 41}
    refused(await alice.post("files", raw=b"x", params=params, headers=OCTETS), "format")
    odd = await alice.post("files", raw=b"x", params={"name": "notes.v2 final"}, headers=OCTETS)
    assert odd.status == 201 and odd.json["format"] == "", odd.body


NUL = "a\x00b"


async def test_nul_in_any_text_of_a_body_is_refused_by_place(alice: Api) -> None:
    """Names, input content, settings, emails, keys: PostgreSQL's text holds no NUL,
    and SQLite answers the same, so a request means the same on both."""
    before = await job_count(alice)
    named = job_body("hello", name=NUL)
    refused(await alice.post("jobs", named), "name")
    content = job_body(NUL)
    refused(await alice.post("jobs", content), "input.inputs[0].content")
    setting = job_body("hello", settings={"outcome": NUL})
    refused(await alice.post("jobs", setting), "settings.outcome")
    key = job_body("hello", settings={NUL: 1})
    refused(await alice.post("jobs", key), "settings")
    surrogate = job_body("hello", name="a\ud800b")
    error = refused(await alice.post("jobs", surrogate), "name")
    assert "lone surrogate" in error["message"]
    refused(await alice.post("jobs/quote", named), "name")
    batch = {"tool": "echo", "name": NUL, "items": [{"input": job_body("x")["input"]}]}
    refused(await alice.post("batches", batch), "name")
    assert await job_count(alice) == before

    job = await alice.run("hello")
    refused(await alice.patch(f"jobs/{job['id']}", {"name": NUL}), "name")
    refused(await alice.post(f"jobs/{job['id']}/duplicate", {"name": NUL}), "name")
    share = {"visibility": "invited", "invite": [f"{NUL}@lab.example"]}
    refused(await alice.put(f"jobs/{job['id']}/share", share), "invite[0]")
    assert (await alice.get(f"jobs/{job['id']}")).json["name"] != NUL


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("jobs", "q"),
        ("jobs", "tool"),
        ("jobs", "submitter"),
        ("jobs", "batch"),
        ("files", "q"),
        ("files", "format"),
        ("files", "origin"),
        ("jobs", "starting_after"),
    ],
)
async def test_nul_in_a_search_or_filter_is_refused(alice: Api, path: str, parameter: str) -> None:
    refused(await alice.get(path, params={parameter: NUL}), parameter)


async def test_nul_in_a_path_is_refused(alice: Api) -> None:
    job = await alice.run("hello")
    path = f"{BASE_URL}{API_PREFIX}/jobs/{job['id']}/files/echo%00.txt"
    refused(await alice.fetch_path(path), "name")


async def test_unknown_paths_under_the_api_get_the_error_envelope(
    alice: Api, anonymous: Api
) -> None:
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        reply = await alice.request(method, "no/such/route", body={} if method != "GET" else None)
        error = refused(reply, status=404)
        assert error["code"] == "not_found"
        assert "no/such/route" in error["message"]
    refused(await alice.get("jobs/job_x/nothing-here"), status=404)
    # Nobody signed in learns nothing about which routes exist.
    assert refused(await anonymous.get("no/such/route"), status=401)["code"] == "unauthorized"


async def test_no_empty_access_control_allow_origin(alice: Api) -> None:
    plain = await alice.get("account")
    assert plain.status == 200
    assert "Access-Control-Allow-Origin" not in plain.headers
    # A token-authenticated request from a page elsewhere may read the answer.
    cross = await alice.get("account", headers={"Origin": "https://notebook.example"})
    assert cross.headers["Access-Control-Allow-Origin"] == "https://notebook.example"
    missing = await alice.get("jobs/job_nope")
    assert missing.status == 404 and "Access-Control-Allow-Origin" not in missing.headers
    # The same page may read a refusal too.
    refusal = await alice.get("jobs/job_nope", headers={"Origin": "https://notebook.example"})
    assert refusal.status == 404
    assert refusal.headers["Access-Control-Allow-Origin"] == "https://notebook.example"


async def test_an_input_without_its_kind_takes_its_slots(alice: Api) -> None:
    body = job_body("hello")
    del body["input"]["inputs"][0]["kind"]
    created = await alice.post("jobs", body)
    assert created.status == 201, created.body
    stored = (await alice.get(f"jobs/{created.json['id']}")).json
    assert stored["input"]["inputs"][0]["kind"] == "text"
    batch = await alice.post("batches", {"tool": "echo", "items": [{"input": body["input"]}]})
    assert batch.status == 201, batch.body
    (child,) = (await alice.get("jobs", params={"batch": batch.json["id"]})).json["data"]
    stored = (await alice.get(f"jobs/{child['id']}")).json
    assert stored["input"]["inputs"][0]["kind"] == "text"
