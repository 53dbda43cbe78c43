"""The API against its OpenAPI document: the document names exactly the routes the
server has, and what the real server answers to well over a thousand generated
requests (valid and invalid) is what the document says it answers: no 5xx, a
documented status, and the documented content type, headers and body.

Every request these tests send goes through one client that holds the response
to the document, the hand-made ones (seeding, the error cases) as much as the
generated ones."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from jupyter_server.serverapp import ServerApp
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tornado.httpclient import HTTPClientError, HTTPResponse
from tornado.routing import Router
from tornado.web import RequestHandler

from proteiniq_jupyter.server.openapi import build_document
from proteiniq_jupyter.server.routes import NotFoundHandler

from ..generated import draw
from ..helpers import Gate

API = "/proteiniq/api/v1"
#: What every response is held to.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
#: Generated cases per operation: valid requests, then invalid ones (for
#: operations that take something to break: a query, a header or a body).
POSITIVE_EXAMPLES = 15
NEGATIVE_EXAMPLES = 10
#: What the run sends at least (about 770), so that it cannot shrink unnoticed.
MIN_REQUESTS = 700
#: The stream of all the reader's events never ends by itself: each request
#: reads it for this long, and fewer are sent.
ENDLESS = {f"GET {API}/events": 0.3}
ENDLESS_EXAMPLES = 10
REQUEST_TIMEOUT_S = 30.0
#: The parameters that carry the credentials; the run never makes them invalid.
CREDENTIALS = {"token", "Authorization"}
FASTA = ">sp|P69905|HBA_HUMAN\nMVLSPADKTNVKAAWGKVGAHAGEYGAEALERMFLSFPTTKTYFPHF\n"


def operations_of(schema: Any) -> list[Any]:
    """Every operation of a loaded schema; one the loader could not read fails."""
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operations.append(result.ok())
    return operations


def server_url(jp_http_port: int, jp_base_url: str) -> str:
    return f"http://127.0.0.1:{jp_http_port}{jp_base_url.rstrip('/')}"


# -- a client that holds every response to the document ------------------------------


@dataclass
class Run:
    """What the requests met: how many were generated, per operation, the
    statuses seen, and every response the document does not allow (the first
    of each kind per operation)."""

    requests: int = 0
    explicit: int = 0
    per_operation: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, set[int]] = field(default_factory=dict)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)

    def report(self) -> str:
        return "\n\n".join(
            f"{label} [{kind}]\n{text}" for (label, kind), text in self.failures.items()
        )


class Client:
    """Requests to the real server through schemathesis, so each response is
    checked against the operation it was sent to."""

    def __init__(self, document: dict[str, Any], base_url: str, token: str) -> None:
        self.document = document
        self.schema = schemathesis.openapi.from_dict(document)
        self.operations = {op.label: op for op in operations_of(self.schema)}
        self.base_url = base_url
        self.token = token
        self.auth = {"Authorization": f"token {token}"}
        self.session = requests.Session()
        # Every request authenticates with the token alone: a login cookie kept
        # from an earlier response would turn on Jupyter's XSRF check.
        self.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self.run = Run()

    def close(self) -> None:
        self.session.close()

    def operation(self, label: str) -> Any:
        return self.operations[label]

    def check(self, case: Any, response: Any, *, generated: bool) -> None:
        """Hold ``response`` to the document; a mismatch is recorded, not raised,
        so one run reports every kind."""
        label = case.operation.label
        if generated:
            self.run.requests += 1
            self.run.per_operation[label] = self.run.per_operation.get(label, 0) + 1
        else:
            self.run.explicit += 1
        self.run.statuses.setdefault(label, set()).add(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS, headers=self.auth)
        except FailureGroup as group:
            for failure in group.exceptions:
                self.run.failures.setdefault(
                    (label, type(failure).__name__),
                    f"{failure.title}: {failure.message}\n"
                    f"answered {response.status_code}: {response.content[:500]!r}\n"
                    f"{case.as_curl_command(self.auth)}",
                )

    def send(
        self,
        label: str,
        *,
        expect: int | None = None,
        authenticated: bool = True,
        timeout: float = REQUEST_TIMEOUT_S,
        **parts: Any,
    ) -> Any:
        """One hand-made request (``parts``: path_parameters, query, headers,
        body, media_type), checked like a generated one."""
        case = self.operation(label).Case(**parts)
        response = case.call(
            base_url=self.base_url,
            session=self.session,
            headers=self.auth if authenticated else None,
            timeout=timeout,
        )
        self.check(case, response, generated=False)
        if expect is not None:
            assert response.status_code == expect, (label, response.status_code, response.text)
        return response

    def send_raw(
        self, label: str, path_parameters: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        """A request schemathesis would not build (a body that is not JSON, a
        wrong content type), sent as is and checked against ``label``."""
        case = self.operation(label).Case(path_parameters=path_parameters or {})
        method, path = label.split(" ", 1)
        url = self.base_url + path.format(**(path_parameters or {}))
        response = self.session.request(method, url, timeout=REQUEST_TIMEOUT_S, **kwargs)
        self.check(case, response, generated=False)
        return response


async def in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """Run blocking client code off the event loop, which serves the requests."""
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


async def open_client(
    jp_fetch: Callable[..., Any], jp_serverapp: ServerApp, jp_http_port: int, jp_base_url: str
) -> Client:
    """A client built from the document as the running server serves it."""
    response: HTTPResponse = await jp_fetch("proteiniq", "api", "v1", "openapi.json")
    document = json.loads(response.body)
    token = jp_serverapp.identity_provider.token
    return Client(document, server_url(jp_http_port, jp_base_url), token)


# -- seeding ----------------------------------------------------------------------------


def submission(tool: str, content: str, *, slot: str, fmt: str, **extra: Any) -> dict[str, Any]:
    item = {"id": f"{slot}_1", "slotId": slot, "kind": "text", "format": fmt, "content": content}
    return {"tool": tool, "input": {"inputs": [item]}, **extra}


def echo(content: str, **settings: Any) -> dict[str, Any]:
    return submission("echo", content, slot="text", fmt="text", settings=settings)


def submit(client: Client, body: dict[str, Any], **extra: Any) -> str:
    response = client.send(f"POST {API}/jobs", body=body, expect=201, **extra)
    return str(response.json()["id"])


def wait_for(client: Client, job_id: str, statuses: set[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        response = client.send(
            f"GET {API}/jobs/{{job_id}}/status", path_parameters={"job_id": job_id}, expect=200
        )
        if response.json()["status"] in statuses:
            return
        assert time.monotonic() < deadline, f"{job_id} stayed {response.json()['status']}"
        time.sleep(0.05)


@dataclass
class Seeded:
    """Real resources for the generated requests to find, so that GET routes
    return real bodies rather than only 404s."""

    completed: list[str]
    failed: str
    running: str
    cancelled: str
    files: list[tuple[str, str]]
    batches: list[str]
    tools: list[str]
    #: A job shared as public, with its files: what the public pages show. No
    #: other operation gets it, so nothing makes it private during the run.
    public: list[tuple[str, str]]
    #: Workspace files: uploads (text and binary) and job outputs.
    file_ids: list[str]

    @property
    def jobs(self) -> list[str]:
        return [*self.completed, self.failed, self.running, self.cancelled]


def seed(client: Client, gate: Gate) -> Seeded:
    """A job in each status the routes treat differently, their files, batches,
    uploads, and a public job: every response checked on the way."""
    protein = submit(
        client,
        submission("protein-stats", FASTA, slot="sequences", fmt="fasta"),
        headers={"Idempotency-Key": "seed-protein"},
    )
    again = submit(
        client,
        submission("protein-stats", FASTA, slot="sequences", fmt="fasta"),
        headers={"Idempotency-Key": "seed-protein"},
    )
    assert again == protein, "a repeated Idempotency-Key made a second job"
    text = submit(client, echo("hello protein world"))
    uploads = [
        client.send(
            f"POST {API}/files",
            query={"name": name},
            body=content,
            media_type="application/octet-stream",
            expect=201,
        ).json()["id"]
        for name, content in (("query.fasta", FASTA.encode()), ("weights.npz", bytes(range(256))))
    ]
    from_file = submission("protein-stats", "", slot="sequences", fmt="fasta")
    from_file["input"]["inputs"][0]["source"] = {"type": "file", "file_id": uploads[0]}
    saved = submit(client, from_file)
    shown = submit(client, echo("for all to see"))
    failed = submit(client, echo("doomed", outcome="error"))
    # Running until the test ends (results answers 409, cancel and delete act on
    # a live job) unless a generated request cancels it.
    running = submit(
        client, submission("sleep", "zz", slot="text", fmt="text", settings=gate.settings())
    )
    brief = Gate(gate.folder.with_name(f"{gate.folder.name}-cancelled"))
    try:
        cancelled = submit(
            client, submission("sleep", "zz", slot="text", fmt="text", settings=brief.settings())
        )
        client.send(
            f"POST {API}/jobs/{{job_id}}/cancel", path_parameters={"job_id": cancelled}, expect=200
        )
    finally:
        brief.open()
    batches = []
    for outcome in ("ok", "error"):
        response = client.send(
            f"POST {API}/batches",
            body={
                "tool": "echo",
                "settings": {"outcome": outcome},
                "items": [{"input": echo(word)["input"]} for word in ("alpha", "beta")],
            },
            expect=201,
        )
        batches.append(str(response.json()["id"]))
    files = []
    for job_id in (protein, text, saved, shown):
        wait_for(client, job_id, {"COMPLETED"})
        result = client.send(
            f"GET {API}/results/{{job_id}}", path_parameters={"job_id": job_id}, expect=200
        )
        files += [(job_id, str(f["name"])) for f in result.json()["files"]]
    wait_for(client, failed, {"FAILED"})
    wait_for(client, running, {"PROCESSING"})
    client.send(
        f"PUT {API}/jobs/{{job_id}}/share",
        path_parameters={"job_id": shown},
        body={"visibility": "public"},
        expect=200,
    )
    listed = client.send(f"GET {API}/files", expect=200).json()
    tools = client.send(f"GET {API}/tools", expect=200).json()
    assert files, "the seeded jobs wrote no files"
    return Seeded(
        completed=[protein, text, saved],
        failed=failed,
        running=running,
        cancelled=cancelled,
        files=[(job, name) for job, name in files if job != shown],
        batches=batches,
        tools=[str(t["id"]) for t in tools["data"]],
        public=[(job, name) for job, name in files if job == shown],
        file_ids=[str(f["id"]) for f in listed["data"]],
    )


# -- the document against the routes ----------------------------------------------


def routed_handlers(router: Router) -> Iterator[tuple[str, type[RequestHandler]]]:
    """Every (pattern, handler class) of a router, nested routers included."""
    for rule in getattr(router, "rules", []):
        target = rule.target
        if isinstance(target, Router):
            yield from routed_handlers(target)
        elif isinstance(target, type) and issubclass(target, RequestHandler):
            regex = getattr(rule.matcher, "regex", None)
            if regex is not None:
                yield regex.pattern, target


_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>(?:[^()\\]|\\.)*)\)")
_LITERALS = re.compile(r"^[\w\-]+(?:\|[\w\-]+)*$")


def openapi_paths(pattern: str) -> list[str]:
    """The OpenAPI path templates a route pattern stands for: a group that is a
    choice of words (``cancel|retry``) gives one path per word, any other named
    group a ``{name}`` parameter. A pattern with anything else cannot be
    documented as a path, which fails the test that calls this."""
    pattern = pattern.removesuffix("$")
    expansions = [""]
    position = 0
    for match in _GROUP.finditer(pattern):
        literal = pattern[position : match.start()]
        position = match.end()
        body = match["body"]
        choices = body.split("|") if _LITERALS.match(body) else ["{" + match["name"] + "}"]
        expansions = [prefix + literal + choice for prefix in expansions for choice in choices]
    expansions = [prefix + pattern[position:] for prefix in expansions]
    paths = [re.sub(r"\\(.)", r"\1", path) for path in expansions]
    for path in paths:
        assert not re.search(r"[()\[\]*+?|^$]", path), f"{pattern!r} is not a plain path"
    return paths


def implemented_methods(handler: type[RequestHandler]) -> set[str]:
    """HTTP methods the extension's own code implements (not tornado's 405 default,
    nor Jupyter's CORS preflight)."""
    methods = set()
    for name in HTTP_METHODS:
        owner = next((c for c in handler.__mro__ if name in vars(c)), None)
        if owner is not None and owner.__module__.startswith("proteiniq_jupyter"):
            methods.add(name)
    return methods


def test_openapi_paths_expand_route_patterns() -> None:
    assert openapi_paths(r"/x/jobs/(?P<job_id>[A-Za-z0-9_\-]+)/(?P<action>cancel|retry)$") == [
        "/x/jobs/{job_id}/cancel",
        "/x/jobs/{job_id}/retry",
    ]
    assert openapi_paths(r"/x/openapi\.json") == ["/x/openapi.json"]
    with pytest.raises(AssertionError):
        openapi_paths(r"/x/(?:a|b)/.*")


def test_document_is_valid_openapi() -> None:
    document = build_document("http://127.0.0.1:8888/base")
    schema = schemathesis.openapi.from_dict(document)
    schema.validate()
    operations = operations_of(schema)
    assert len(operations) >= 30
    for operation in operations:
        raw = document["paths"][operation.path][operation.method.lower()]
        assert raw["operationId"] and raw["summary"], operation.label
        assert any(code.startswith("2") for code in raw["responses"]), operation.label
        public = raw.get("security") == []
        assert public or {"401", "429"} <= set(raw["responses"]), operation.label
        if operation.method.lower() != "get":
            assert "403" in raw["responses"], f"{operation.label}: XSRF refusal"
        if "requestBody" in raw and "application/json" in raw["requestBody"]["content"]:
            assert {"400", "413", "415"} <= set(raw["responses"]), operation.label


def test_routes_and_document_agree(jp_serverapp: ServerApp, jp_base_url: str) -> None:
    """Every routed pattern under {base}proteiniq/ is documented with exactly the
    methods its handler implements, and every documented path is routed."""
    prefix = jp_base_url.rstrip("/")
    routed: dict[str, set[str]] = {}
    app = jp_serverapp.web_app
    handlers = [*routed_handlers(app.default_router), *routed_handlers(app.wildcard_router)]
    ours = [(p, h) for p, h in handlers if p.startswith(f"{prefix}/proteiniq/")]
    # The answer to any other path under the API prefix (not an operation) is
    # routed after every route it must not shadow.
    assert ours[-1][1] is NotFoundHandler, ours[-1]
    assert [h for _, h in ours].count(NotFoundHandler) == 1
    for pattern, handler in ours[:-1]:
        for path in openapi_paths(pattern.removeprefix(prefix)):
            assert path not in routed, f"{path} is routed twice"
            routed[path] = implemented_methods(handler)
    documented = {
        path: {method for method in item if method in HTTP_METHODS}
        for path, item in build_document("http://x").get("paths", {}).items()
    }
    assert sorted(set(routed) - set(documented)) == [], "routed but not documented"
    assert sorted(set(documented) - set(routed)) == [], "documented but not routed"
    assert {p: sorted(m) for p, m in routed.items()} == {
        p: sorted(m) for p, m in documented.items()
    }


async def test_document_is_served_to_signed_in_users(
    jp_fetch: Callable[..., Any], jp_http_port: int, jp_base_url: str
) -> None:
    response: HTTPResponse = await jp_fetch("proteiniq", "api", "v1", "openapi.json")
    document = json.loads(response.body)
    assert document["openapi"] == "3.1.0"
    url = server_url(jp_http_port, jp_base_url)
    assert document["servers"] == [{"url": url, "description": "this Jupyter server"}]
    assert document == build_document(url)
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("proteiniq", "api", "v1", "openapi.json", headers={"Authorization": ""})
    assert refused.value.code == 401


# -- the server against the document ------------------------------------------------


def seeded_parameters(seeded: Seeded, operation: Any) -> list[dict[str, str]]:
    """Path parameters naming real resources, chosen per operation so that the
    run stays bounded: only finished jobs are retried or duplicated (a retried
    sleep job would tie up the job threads) or have their event stream read (a
    live job's ends only with the job)."""
    names = {p.name for p in operation.path_parameters}
    action = operation.path.rsplit("/", 1)[-1]
    if operation.path.startswith("/proteiniq/public/"):
        if names == {"job_id"}:
            return [{"job_id": job} for job in sorted({job for job, _ in seeded.public})]
        return [{"job_id": job, "name": name} for job, name in seeded.public]
    if names == {"job_id", "name"}:
        return [{"job_id": job, "name": name} for job, name in seeded.files]
    if names == {"file_id"}:
        return [{"file_id": file_id} for file_id in seeded.file_ids]
    if names == {"job_id"}:
        jobs = seeded.jobs
        if action in ("retry", "duplicate", "events"):
            jobs = [*seeded.completed, seeded.failed]
        return [{"job_id": job} for job in jobs]
    if names == {"batch_id"}:
        return [{"batch_id": batch} for batch in seeded.batches]
    if names == {"tool_id"}:
        return [{"tool_id": tool} for tool in seeded.tools]
    return []


def takes_input(operation: Any) -> bool:
    """Whether the operation has something besides its path and the credentials
    to make invalid."""
    named = [p.name for p in (*operation.query, *operation.headers)]
    return bool(list(operation.body)) or any(name not in CREDENTIALS for name in named)


def exercise(
    client: Client, operation: Any, strategy: st.SearchStrategy[Any], examples: int
) -> None:
    """Send ``examples`` generated requests to ``operation``, checking each."""
    timeout = ENDLESS.get(operation.label, REQUEST_TIMEOUT_S)

    def send(case: Any) -> None:
        response = case.call(
            base_url=client.base_url, session=client.session, headers=client.auth, timeout=timeout
        )
        client.check(case, response, generated=True)

    draw(strategy, examples, send)


def fuzz(client: Client, seeded: Seeded) -> None:
    """Every operation, in the document's order with deletions last: valid
    requests, then invalid ones. Path parameters are either generated (and so
    mostly name nothing: 404) or one of the seeded resources; invalid requests
    keep a seeded path, since a path outside the routes' patterns is not this
    API's (Jupyter answers it)."""
    operations = sorted(client.operations.values(), key=lambda op: op.method.lower() == "delete")
    for operation in operations:
        started = time.monotonic()
        fixed = seeded_parameters(seeded, operation)
        # The token query parameter (a documented way to authenticate) carries
        # the real token: Jupyter reads it before the Authorization header.
        takes_token = any(p.name == "token" for p in operation.query)
        query = {"token": client.token} if takes_token else None
        modes = [(schemathesis.GenerationMode.POSITIVE, POSITIVE_EXAMPLES)]
        if takes_input(operation):
            modes.append((schemathesis.GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES))
        for mode, examples in modes:
            strategies = [
                operation.as_strategy(generation_mode=mode, path_parameters=path, query=query)
                for path in fixed
            ]
            if mode is schemathesis.GenerationMode.POSITIVE or not fixed:
                strategies.append(operation.as_strategy(generation_mode=mode, query=query))
            if operation.label in ENDLESS:
                examples = ENDLESS_EXAMPLES
            exercise(client, operation, st.one_of(strategies), examples)
        client.run.seconds[operation.label] = time.monotonic() - started


@pytest.mark.slow
@pytest.mark.timeout(280)
async def test_generated_requests_conform_to_the_document(
    jp_fetch: Callable[..., Any],
    jp_serverapp: ServerApp,
    jp_http_port: int,
    jp_base_url: str,
    gate: Gate,
) -> None:
    client = await open_client(jp_fetch, jp_serverapp, jp_http_port, jp_base_url)
    try:
        seeded = await in_thread(seed, client, gate)
        started = time.monotonic()
        await in_thread(fuzz, client, seeded)
        elapsed = time.monotonic() - started
    finally:
        client.close()
    run = client.run
    print(f"\n{run.requests} generated requests in {elapsed:.1f} s, {run.explicit} seeding")
    for label, statuses in sorted(run.statuses.items()):
        count, seconds = run.per_operation.get(label, 0), run.seconds.get(label, 0.0)
        print(f"  {label}: {count} in {seconds:.1f} s, answered {sorted(statuses)}")
    assert not run.failures, f"responses the document does not allow:\n\n{run.report()}"
    assert run.requests >= MIN_REQUESTS
    assert set(run.per_operation) == set(client.operations)
    # The seeded resources were found: the run saw real bodies, not only 404s.
    for label in (f"GET {API}/jobs/{{job_id}}", f"GET {API}/results/{{job_id}}"):
        assert 200 in run.statuses[label], label


# -- error responses, made on purpose -----------------------------------------------


def refusals(client: Client, state: Any, gate: Gate) -> None:
    """The refusals a random request rarely meets: each answered with the
    documented status, envelope and headers."""
    running = submit(
        client, submission("sleep", "zz", slot="text", fmt="text", settings=gate.settings())
    )
    job = {"job_id": running}
    # An unfinished job's result: 409 with Retry-After.
    response = client.send(f"GET {API}/results/{{job_id}}", path_parameters=job, expect=409)
    assert response.json()["error"]["code"] == "job_not_completed"
    assert response.headers["retry-after"] == ["5"]
    # A live job is not deleted; a finished one is not cancelled.
    client.send(f"DELETE {API}/jobs/{{job_id}}", path_parameters=job, expect=409)
    gate.open()
    wait_for(client, running, {"COMPLETED"})
    client.send(f"POST {API}/jobs/{{job_id}}/cancel", path_parameters=job, expect=409)
    # The same Idempotency-Key for another request.
    body = echo("first")
    submit(client, body, headers={"Idempotency-Key": "refusals-1"})
    client.send(
        f"POST {API}/jobs",
        body=echo("second"),
        headers={"Idempotency-Key": "refusals-1"},
        expect=409,
    )
    # Not signed in: 401. Signed in by the login cookie alone, a state-changing
    # request without Jupyter's XSRF token: 403, before the route runs.
    client.send(f"GET {API}/account", authenticated=False, query={"token": ""}, expect=401)
    client.send(f"POST {API}/jobs", body=echo("anonymous"), authenticated=False, expect=401)
    login = requests.get(client.base_url + f"{API}/account", headers=client.auth, timeout=30)
    cookie = "; ".join(f"{name}={value}" for name, value in login.cookies.items())
    assert cookie, "Jupyter set no login cookie"
    forged = client.send_raw(f"POST {API}/jobs", json=echo("forged"), headers={"Cookie": cookie})
    assert forged.status_code == 403
    # Bodies that are not what a JSON route takes.
    label = f"POST {API}/jobs"
    bad_json = client.send_raw(
        label, data=b"{not json", headers={**client.auth, "Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400 and bad_json.json()["error"]["code"] == "invalid_json"
    not_json = client.send_raw(
        label, data=b"tool=echo", headers={**client.auth, "Content-Type": "text/plain"}
    )
    assert not_json.status_code == 415
    not_object = client.send_raw(
        label, data=b"[]", headers={**client.auth, "Content-Type": "application/json"}
    )
    assert not_object.status_code == 400
    limit, state.max_json_bytes = state.max_json_bytes, 64
    try:
        client.send(label, body=echo("x" * 100), expect=413)
    finally:
        state.max_json_bytes = limit
    # An input item's optional fields are text or absent: a label that is a
    # number would otherwise be stored and come back as one.
    labelled = echo("labelled")
    labelled["input"]["inputs"][0]["label"] = 5
    client.send(label, body=labelled, expect=400)
    # A deleted job is not found.
    gone = submit(client, echo("short lived"))
    wait_for(client, gone, {"COMPLETED"})
    client.send(f"DELETE {API}/jobs/{{job_id}}", path_parameters={"job_id": gone}, expect=200)
    client.send(f"GET {API}/jobs/{{job_id}}", path_parameters={"job_id": gone}, expect=404)


async def test_refusals_conform_to_the_document(
    jp_fetch: Callable[..., Any],
    jp_serverapp: ServerApp,
    jp_http_port: int,
    jp_base_url: str,
    gate: Gate,
) -> None:
    client = await open_client(jp_fetch, jp_serverapp, jp_http_port, jp_base_url)
    try:
        await in_thread(refusals, client, jp_serverapp.web_app.settings["proteiniq"], gate)
    finally:
        client.close()
    assert not client.run.failures, client.run.report()


@pytest.mark.parametrize("piq_traits", [{"rate_limit": 4}], indirect=True)
async def test_rate_limit_refusal_conforms(
    jp_fetch: Callable[..., Any],
    jp_serverapp: ServerApp,
    jp_http_port: int,
    jp_base_url: str,
) -> None:
    client = await open_client(jp_fetch, jp_serverapp, jp_http_port, jp_base_url)

    def exhaust() -> Any:
        for _ in range(3):  # the document's own request took the first
            client.send(f"GET {API}/account", expect=200)
        return client.send(f"GET {API}/account", expect=429)

    try:
        response = await in_thread(exhaust)
    finally:
        client.close()
    assert not client.run.failures, client.run.report()
    assert int(response.headers["retry-after"][0]) >= 1
    assert response.headers["x-ratelimit-remaining"] == ["0"]
    assert response.json()["error"]["code"] == "rate_limited"


@pytest.mark.parametrize("piq_traits", [{"starting_credits": 15}], indirect=True)
async def test_insufficient_credits_refusal_conforms(
    jp_fetch: Callable[..., Any],
    jp_serverapp: ServerApp,
    jp_http_port: int,
    jp_base_url: str,
) -> None:
    client = await open_client(jp_fetch, jp_serverapp, jp_http_port, jp_base_url)

    def overspend() -> tuple[Any, Any]:
        # Echo costs 10 credits per started 10 characters: 20 here, 15 held.
        quote = client.send(f"POST {API}/jobs/quote", body=echo("x" * 20), expect=200)
        refused = client.send(f"POST {API}/jobs", body=echo("x" * 20), expect=402)
        return quote, refused

    try:
        quote, refused = await in_thread(overspend)
    finally:
        client.close()
    assert not client.run.failures, client.run.report()
    assert [e["code"] for e in quote.json()["blocking_errors"]] == ["insufficient_credits"]
    assert refused.json()["error"]["code"] == "insufficient_credits"
