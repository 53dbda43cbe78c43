"""Bad input never makes the server fail: a run of requests generated from the
OpenAPI document the server serves, sent to a real Jupyter server on each
database, must meet no 5xx, and every refusal under the API prefix must be the
error envelope.

For every operation the run sends

- schemathesis's negative cases: values of the wrong type, missing required
  fields, out-of-range numbers and strings that break their schema;
- odd values in each of its parameters and in each leaf of a body that would
  otherwise be accepted: the NUL character, a lone surrogate, 10,000 characters,
  a name over 255 bytes of UTF-8, cursors that are not this server's, nesting
  100 levels deep;
- bodies no JSON route may take: nested 100,000 levels, bytes that are not UTF-8.

Path parameters name real resources (a finished job, its file, a batch, an
upload), so the odd values reach the service and the store rather than stopping
at a 404. Everything is drawn with a fixed seed, so each run sends the same
requests."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis.core.result import Err
from schemathesis.core.transport import Response

from ..generated import draw
from .conftest import Api, PiqServer, job_body

API = "/proteiniq/api/v1"
#: Generated invalid requests per operation (schemathesis's negative mode).
NEGATIVE_EXAMPLES = 15
#: The leaves of one body that get odd values (a body has fewer in practice).
MAX_LEAVES = 16
REQUEST_TIMEOUT_S = 30.0
#: What carries the credentials: never made odd, or every request would be a 401.
CREDENTIALS = {"token", "Authorization"}


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


#: Text no field may hold, or that no route expects.
ODD_STRINGS = (
    "\x00",
    "seed\x00name",
    "\ud800",
    "a\udfffb",
    "x" * 10_000,
    "é" * 200,  # under 255 characters, over 255 bytes
    "\u202e\ufeff\U0001f9ec",
    "",
)
#: Odd values of query and path parameters (sent percent-encoded; a lone
#: surrogate cannot be, so its UTF-8 lookalike is sent as raw bytes instead).
ODD_PARAMETERS = (
    "\x00",
    "seed\x00name",
    "x" * 10_000,
    "é" * 200,
    "-1",
    "9" * 30,
    "1e309",
    "../../../etc/passwd",
    "%",
    cursor("2024-01-01T00:00:00|job_x"),
    cursor("9999-12-31T23:59:59-05:00|job_x"),
    cursor("0001-01-01T00:00:00+05:00|job_x"),
    cursor("2024-01-01T00:00:00+00:00|job_\x00"),
)
#: Header values (a header cannot carry NUL or anything past Latin-1).
ODD_HEADERS = ("x" * 10_000, "-1", "9" * 30, "\xe9\xff", "a,b;c=d")
#: A value nested deeper than any request needs.
DEEP = json.loads("[" * 100 + "]" * 100)
#: Bodies no JSON route may take, sent as they are.
RAW_BODIES = (
    b"[" * 100_000 + b"]" * 100_000,
    b'{"settings": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001,
    b'{"name": "\\ud800", "tool": "echo\\u0000"}',
    b'{"name": "\xff\xfe"}',
    b'{"\\u0000": 1}',
    b"",
)


@dataclass
class Run:
    """What the requests met: how many per operation, the statuses seen, and each
    answer that is a server fault or not the error envelope."""

    #: The path every route of the API starts with, base URL and all.
    api_path: str
    requests: int = 0
    per_operation: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, set[int]] = field(default_factory=dict)
    #: Each kind of failure once per operation: what was sent and what came back.
    failures: dict[tuple[str, str], str] = field(default_factory=dict)

    def record(self, label: str, sent: str, response: Response) -> None:
        self.requests += 1
        self.per_operation[label] = self.per_operation.get(label, 0) + 1
        self.statuses.setdefault(label, set()).add(response.status_code)
        problem = _problem(response, self.api_path)
        if problem is not None:
            self.failures.setdefault(
                (label, problem),
                f"{label} [{problem}] answered {response.status_code}: "
                f"{response.content[:300]!r}\nsent: {sent[:600]}",
            )

    def report(self) -> str:
        return "\n\n".join(self.failures.values())


def _problem(response: Response, api_path: str) -> str | None:
    """What is wrong with an answer to bad input, or None. (A path that leaves the
    API prefix is Jupyter's to answer: ``..`` segments, or a stray ``%`` that makes
    the client escape every ``%`` of the URL, the base URL's among them.)"""
    if response.status_code >= 500:
        return f"{response.status_code}"
    if response.headers.get("access-control-allow-origin") == [""]:
        return "empty Access-Control-Allow-Origin"
    if response.status_code >= 400 and urlsplit(response.request.url).path.startswith(api_path):
        try:
            body = json.loads(response.content)
        except ValueError:
            return "refusal is not JSON"
        error = body.get("error") if isinstance(body, dict) else None
        if set(body) != {"error"} or not isinstance(error, dict):
            return "refusal is not the error envelope"
        if set(error) != {"code", "message", "details"} or not error["message"]:
            return "refusal is not the error envelope"
    return None


@dataclass(frozen=True)
class Seeded:
    """Real resources the requests name: a finished, public job and its file, a
    batch, an upload, a tool, a budget, the workspace and its owner."""

    job_id: str
    file_name: str
    batch_id: str
    file_id: str
    budget_id: str
    workspace_id: str

    def path_parameters(self, operation: Any) -> dict[str, str]:
        known = {
            "job_id": self.job_id,
            "name": self.file_name,
            "batch_id": self.batch_id,
            "file_id": self.file_id,
            "tool_id": "echo",
            "ref": self.budget_id,
            "workspace_id": self.workspace_id,
            "username": "alice",
        }
        return {p.name: known[p.name] for p in operation.path_parameters}


async def seed(alice: Api) -> Seeded:
    job = await alice.run("seed words", name="seed")
    result = (await alice.get(f"results/{job['id']}")).json
    shared = await alice.put(f"jobs/{job['id']}/share", {"visibility": "public"})
    assert shared.status == 200, shared.body
    batch = await alice.post(
        "batches",
        {"tool": "echo", "items": [{"input": job_body(w)["input"]} for w in ("a", "b")]},
    )
    assert batch.status == 201, batch.body
    upload = await alice.post(
        "files",
        raw=b">seed\nMKTAYIAKQR\n",
        params={"name": "seed.fasta"},
        headers={"Content-Type": "application/octet-stream"},
    )
    assert upload.status == 201, upload.body
    budget = await alice.post("budgets", {"name": "seed budget", "credits": 1_000_000})
    assert budget.status == 201, budget.body
    return Seeded(
        job_id=job["id"],
        file_name=result["files"][0]["name"],
        batch_id=batch.json["id"],
        file_id=upload.json["id"],
        budget_id=budget.json["id"],
        workspace_id=(await alice.get("account")).json["workspace"]["id"],
    )


def valid_bodies(seeded: Seeded) -> dict[str, Any]:
    """A body each JSON operation would accept: its leaves get the odd values."""
    echo = job_body("seed words", name="seed", settings={})
    from_file = job_body("", name="from a file")
    from_file["input"]["inputs"][0]["source"] = {"type": "file", "file_id": seeded.file_id}
    capped = {**echo, "max_credits": 1000, "budget": "seed budget", "notebook": "a/b.ipynb"}
    return {
        f"POST {API}/jobs": capped,
        f"POST {API}/jobs/quote": from_file,
        f"POST {API}/batches": {
            "tool": "echo",
            "name": "seed batch",
            "items": [{"input": echo["input"]}],
        },
        f"PATCH {API}/jobs/{{job_id}}": {"name": "renamed"},
        f"POST {API}/jobs/{{job_id}}/duplicate": {"name": "copy", "settings": {}},
        f"PUT {API}/jobs/{{job_id}}/share": {
            "visibility": "public",
            "invite": ["someone@lab.example"],
            "uninvite": ["nobody@lab.example"],
        },
        f"POST {API}/budgets": {"name": "fuzzed", "credits": 10, "notebook": True, "update": True},
        f"PUT {API}/budgets/notebook-default": {"credits": 5},
    }


def leaves(value: Any, place: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The place of every leaf of a JSON value (an empty list or object is one)."""
    children: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        children = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
    if not children:
        yield place
    for key, item in children:
        yield from leaves(item, (*place, key))


def replaced(body: Any, place: tuple[Any, ...], new: Any) -> Any:
    if not place:
        return new
    body = copy.deepcopy(body)
    parent = body
    for key in place[:-1]:
        parent = parent[key]
    parent[place[-1]] = new
    return body


class Client:
    def __init__(self, document: dict[str, Any], token: str) -> None:
        self.schema = schemathesis.openapi.from_dict(document)
        self.base_url = document["servers"][0]["url"]
        self.auth = {"Authorization": f"token {token}"}
        self.session = requests.Session()
        self.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self.run = Run(api_path=urlsplit(self.base_url).path + API + "/")

    def operations(self) -> list[Any]:
        found = []
        for result in self.schema.get_all_operations():
            if isinstance(result, Err):
                raise result.err()
            found.append(result.ok())
        # Deleting comes last, so the seeded resources serve every other operation.
        return sorted(found, key=lambda op: op.method.lower() == "delete")

    def call(self, case: Any) -> None:
        response = case.call(
            base_url=self.base_url,
            session=self.session,
            headers=self.auth,
            timeout=REQUEST_TIMEOUT_S if "events" not in case.operation.path else 0.5,
        )
        self.run.record(case.operation.label, case.as_curl_command(self.auth), response)

    def send_raw(self, operation: Any, path: dict[str, str], **kwargs: Any) -> None:
        url = self.base_url + operation.path.format(**path)
        headers = {**self.auth, **kwargs.pop("headers", {})}
        response = self.session.request(
            operation.method.upper(), url, headers=headers, timeout=REQUEST_TIMEOUT_S, **kwargs
        )
        sent = f"{operation.method} {url} {kwargs}"[:600]
        self.run.record(operation.label, sent, Response.from_any(response))


def variant(base: Any, **changes: Any) -> Any:
    """``base`` with some of its parts changed."""
    parts = {
        "path_parameters": base.path_parameters,
        "query": base.query,
        "headers": base.headers,
        "body": base.body,
        "media_type": base.media_type,
        **changes,
    }
    return base.operation.Case(**parts)


def first_case(operation: Any, path: dict[str, str]) -> Any:
    """One valid request to ``operation`` at ``path``: the base the odd values change."""
    cases: list[Any] = []
    strategy = operation.as_strategy(
        generation_mode=schemathesis.GenerationMode.POSITIVE, path_parameters=path
    )
    draw(strategy, 1, cases.append)
    return cases[0]


def attack(client: Client, seeded: Seeded) -> None:
    bodies = valid_bodies(seeded)
    for operation in client.operations():
        path = seeded.path_parameters(operation)
        # 1. schemathesis's invalid requests, at the seeded resources and anywhere.
        strategies = [
            operation.as_strategy(
                generation_mode=schemathesis.GenerationMode.NEGATIVE, path_parameters=path
            )
        ]
        if path:
            strategies.append(
                operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE)
            )
        draw(st.one_of(strategies), NEGATIVE_EXAMPLES, client.call)
        # 2. odd values in each parameter of an otherwise valid request.
        base = first_case(operation, path)
        if operation.label in bodies:
            base = variant(base, body=bodies[operation.label], media_type="application/json")
        for name in path:
            for value in ODD_PARAMETERS:
                client.call(variant(base, path_parameters={**path, name: value}))
        for parameter in operation.query:
            if parameter.name in CREDENTIALS:
                continue
            for value in ODD_PARAMETERS:
                client.call(variant(base, query={**(base.query or {}), parameter.name: value}))
            # Bytes that are not UTF-8 (a lone surrogate's encoding among them).
            client.send_raw(operation, path, params=f"{parameter.name}=%ED%A0%80%FF")
        for parameter in operation.headers:
            if parameter.name in CREDENTIALS:
                continue
            for value in ODD_HEADERS:
                client.call(variant(base, headers={**(base.headers or {}), parameter.name: value}))
        # 3. odd values in each leaf of a body that would be accepted, and bodies
        # no JSON route takes.
        body_types = {b.media_type for b in operation.body}
        if "application/json" in body_types:
            body = bodies.get(operation.label, base.body if isinstance(base.body, dict) else {})
            for place in list(leaves(body))[:MAX_LEAVES]:
                for value in (*ODD_STRINGS, DEEP):
                    new = replaced(body, place, value)
                    client.call(variant(base, body=new, media_type="application/json"))
            for raw in RAW_BODIES:
                client.send_raw(
                    operation, path, data=raw, headers={"Content-Type": "application/json"}
                )
        if "application/octet-stream" in body_types:
            for value in ODD_PARAMETERS:
                client.send_raw(
                    operation,
                    path,
                    data=b"seed",
                    params={"name": value},
                    headers={"Content-Type": "application/octet-stream"},
                )


@pytest.mark.slow
@pytest.mark.timeout(280)
@pytest.mark.piq(rate_limit=0)  # every request reaches its route
async def test_bad_input_never_gets_a_server_error(piq: PiqServer, alice: Api) -> None:
    # Enough credits that every accepted request is accepted for what it is, however
    # many jobs the run's earlier requests made.
    service = piq.state.service
    service.grant_credits(service.sign_in("alice"), 1_000_000)
    seeded = await seed(alice)
    document = (await alice.get("openapi.json")).json
    client = Client(document, "alice-token")
    started = time.monotonic()
    try:
        await asyncio.get_running_loop().run_in_executor(None, attack, client, seeded)
    finally:
        client.session.close()
    run = client.run
    print(f"\n{run.requests} requests in {time.monotonic() - started:.1f} s")
    for label, statuses in sorted(run.statuses.items()):
        print(f"  {label}: {run.per_operation[label]}, answered {sorted(statuses)}")
    assert not run.failures, f"answers to bad input that are server faults:\n\n{run.report()}"
    operations = {op.label for op in client.operations()}
    assert set(run.per_operation) == operations, operations - set(run.per_operation)
    assert run.requests >= 1_500  # the run did not shrink unnoticed (it sends about 1,700)
    # The changed requests started from ones that are accepted, so the odd values
    # reached the service and the store rather than an early refusal.
    for label in valid_bodies(seeded):
        assert any(200 <= status < 300 for status in run.statuses[label]), label
