"""No route of the extension may be served without saying who may call it.

Statically: every HTTP method of every PiqHandler subclass (routed by the
extension, or defined anywhere in ``proteiniq_jupyter.server``) carries
``__piq_access__``, set by the ``authenticated`` or ``public`` decorator. Live:
every routed method refuses a request without a signed-in user with 401 and the
error envelope, except the methods marked public."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from typing import Any

import pytest

import proteiniq_jupyter.server
from proteiniq_jupyter.server.app import ProteinIQApp
from proteiniq_jupyter.server.base import PiqHandler, authenticated, public

from .conftest import Api, PiqServer

HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
ACCESS = ("authenticated", "public")


def extension_handlers() -> list[tuple[str, type]]:
    """What the extension registers with Jupyter (patterns under the base URL)."""
    app = ProteinIQApp()
    app.initialize_handlers()
    return [(spec[0], spec[1]) for spec in app.handlers]


def server_handler_classes() -> set[type[PiqHandler]]:
    """Every PiqHandler subclass defined in the server package, routed or not."""
    for module in pkgutil.iter_modules(proteiniq_jupyter.server.__path__):
        importlib.import_module(f"proteiniq_jupyter.server.{module.name}")
    found: set[type[PiqHandler]] = set()
    pending = list(PiqHandler.__subclasses__())
    while pending:
        cls = pending.pop()
        if cls.__module__.startswith("proteiniq_jupyter.") and cls not in found:
            found.add(cls)
            pending.extend(cls.__subclasses__())
    return found


def own_methods(cls: type) -> Iterator[tuple[str, type, Any]]:
    """(name, defining class, function) of each HTTP method a PiqHandler subclass
    defines itself or inherits from another PiqHandler subclass."""
    for name in HTTP_METHODS:
        for klass in cls.__mro__:
            if klass is PiqHandler or not issubclass(klass, PiqHandler):
                break
            if name in vars(klass):
                yield name, klass, vars(klass)[name]
                break


def unmarked(classes: set[type]) -> list[str]:
    return sorted(
        {
            f"{owner.__module__}.{owner.__qualname__}.{name}"
            for cls in classes
            for name, owner, function in own_methods(cls)
            if getattr(function, "__piq_access__", None) not in ACCESS
        }
    )


def test_every_handler_method_says_who_may_call_it() -> None:
    routed = {cls for _, cls in extension_handlers()}
    assert routed, "the extension registers no handlers"
    escaping = sorted(c.__qualname__ for c in routed if not issubclass(c, PiqHandler))
    assert escaping == [], f"routed handlers outside PiqHandler (no envelope, no check): {escaping}"
    classes = routed | server_handler_classes()
    assert unmarked(classes) == [], (
        "handler methods without @authenticated or @public: " + ", ".join(unmarked(classes))
    )


def test_the_check_catches_an_unmarked_method() -> None:
    class Careless(PiqHandler):
        async def get(self) -> None:
            self.send({})

        @authenticated
        async def post(self) -> None:
            self.send({})

    class Inherits(Careless):
        @public
        async def put(self) -> None:
            self.send({})

    assert unmarked({Careless, Inherits}) == [f"{__name__}.{Careless.__qualname__}.get"]


# -- live: each route, with nobody signed in --------------------------------------

_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>")
_LITERALS = re.compile(r"[\w\-]+(\|[\w\-]+)*")


def sample_path(pattern: str) -> str:
    """A path the pattern matches: each named group filled with a value it accepts
    (the first of a list of words, else ``missing1``)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        group = _GROUP.match(pattern, i)
        if group:
            depth, j = 1, group.end()
            while depth:
                if pattern[j] == "\\":
                    j += 2
                    continue
                depth += {"(": 1, ")": -1}.get(pattern[j], 0)
                j += 1
            body = pattern[group.end() : j - 1]
            out.append(body.split("|")[0] if _LITERALS.fullmatch(body) else "missing1")
            i = j
        elif pattern[i] == "\\":
            out.append(pattern[i + 1])
            i += 2
        else:
            out.append(pattern[i])
            i += 1
    path = "".join(out)
    assert re.fullmatch(pattern, path), f"cannot make a path for {pattern}: {path}"
    return path


def test_sample_paths() -> None:
    job = r"/proteiniq/api/v1/jobs/(?P<job_id>[A-Za-z0-9_\-]+)"
    assert (
        sample_path(job + "/(?P<action>cancel|retry)") == "/proteiniq/api/v1/jobs/missing1/cancel"
    )
    assert sample_path(r"/proteiniq/api/v1/openapi\.json") == "/proteiniq/api/v1/openapi.json"


def routed_calls() -> list[tuple[str, str, str]]:
    """(method, path, access) for each method of each route, the path one that
    Tornado gives to that route (the first pattern that matches it)."""
    handlers = extension_handlers()
    calls = []
    for pattern, cls in handlers:
        path = sample_path(pattern)
        first = next(c for p, c in handlers if re.fullmatch(p, path))
        assert first is cls, f"{path} reaches {first.__name__}, not {cls.__name__}"
        for name, _, function in own_methods(cls):
            calls.append((name.upper(), path, function.__piq_access__))
    return calls


async def refuses_nobody(piq: PiqServer) -> None:
    calls = routed_calls()
    assert {access for _, _, access in calls} == {"authenticated", "public"}
    nobody, stranger = Api(piq, None), Api(piq, None, token="not-a-token-anyone-issued")
    seen = []
    for method, path, access in calls:
        for api in (nobody, stranger):
            relative = path.removeprefix("/proteiniq/api/v1/")
            if relative == path:  # outside the API prefix: the public pages
                reply = await api.fetch_path(piq.app.base_url + path.lstrip("/"))
            else:
                body = {} if method in ("POST", "PUT", "PATCH") else None
                reply = await api.request(method, relative, body)
            seen.append((method, path, reply.status))
            if access == "public":
                assert reply.status not in (401, 403) and reply.status < 500, (method, path)
                continue
            assert reply.status == 401, (method, path, reply.status, reply.body)
            assert reply.error == {
                "code": "unauthorized",
                "message": "sign in to Jupyter first (a token or a login)",
                "details": {},
            }
            assert "X-RateLimit-Limit" not in reply.headers  # refused before counting
    assert len(seen) == 2 * len(calls)


async def test_every_route_refuses_nobody(piq: PiqServer) -> None:
    await refuses_nobody(piq)


@pytest.mark.jupyter(allow_unauthenticated_access=False)
async def test_every_route_refuses_nobody_on_a_locked_down_server(piq: PiqServer) -> None:
    """With Jupyter refusing unauthenticated requests itself, the API still says
    401 in its envelope, and public pages stay public."""
    assert piq.app.allow_unauthenticated_access is False
    await refuses_nobody(piq)
