"""What every route shares: who is asking, the error envelope, JSON bodies, rate
limits, and running service calls off the event loop. Handlers stay thin: parse,
call the service, render."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from http.client import responses
from pathlib import Path
from typing import Any, TypeVar

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from .. import api
from ..jobs.access import Actor
from ..jobs.errors import JobNotCompleted, PiqError, ValidationError
from ..jobs.model import Job
from ..jobs.text import check_text
from .state import STOPPING_RETRY_AFTER_S, ServerState, ServerStopping

T = TypeVar("T")
#: How long a client asking for an unfinished result is told to wait.
RESULT_RETRY_AFTER_S = 5
#: The size of each piece a download is written in.
CHUNK_BYTES = 64 * 1024
Method = Callable[..., Awaitable[None]]

_HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


class ApiError(web.HTTPError):
    """An HTTP-level problem (bad JSON, wrong media type, rate limit) in the same
    envelope as domain errors."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, log_message=message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


def authenticated(method: Method) -> Method:
    """Refuse a request without a signed-in Jupyter user (401), then apply the
    user's rate limit. Every route but the public pages carries this."""

    @functools.wraps(method)
    async def wrapper(self: PiqHandler, *args: Any, **kwargs: Any) -> None:
        if not self.current_user:
            if self._xsrf_refusal is not None:  # a login cookie without its token
                raise self._xsrf_refusal
            raise ApiError(401, "unauthorized", "sign in to Jupyter first (a token or a login)")
        self.apply_rate_limit()
        await method(self, *args, **kwargs)

    wrapper.__piq_access__ = "authenticated"  # type: ignore[attr-defined]
    # Jupyter's own check (ServerApp.allow_unauthenticated_access = False) would
    # answer 403 before the wrapper runs; the wrapper is the check, and says 401.
    setattr(wrapper, "__allow_unauthenticated", True)
    return wrapper


def xsrf_refusal(refused: web.HTTPError) -> ApiError:
    """The answer to a request signed in by Jupyter's login cookie whose XSRF token
    is missing or wrong (Jupyter's and JupyterHub's check said ``refused``)."""
    reason = refused.log_message or ""
    problem = "carries no XSRF token" if "missing" in reason else "carries a wrong XSRF token"
    return ApiError(
        403,
        "forbidden",
        f"this request is signed in by a login cookie but {problem}: send the value of "
        "the _xsrf cookie in an X-XSRFToken header (or sign requests with a token instead)",
        details={"reason": reason} if reason else None,
    )


def public(method: Method) -> Method:
    """Mark a route that anyone may call without signing in (public job pages)."""
    method.__piq_access__ = "public"  # type: ignore[attr-defined]
    # What jupyter_server.auth.allow_unauthenticated sets: public pages stay public
    # on servers with ServerApp.allow_unauthenticated_access = False.
    setattr(method, "__allow_unauthenticated", True)
    return method


class PiqHandler(ExtensionHandlerMixin, APIHandler):
    """Base of every route of the extension."""

    #: What apply_rate_limit told the client, kept for an error response.
    _rate_limit_headers: dict[str, str] | None = None
    #: Why the request's XSRF token was refused, when it was.
    _xsrf_refusal: ApiError | None = None

    @property
    def state(self) -> ServerState:
        state: ServerState = self.settings["proteiniq"]
        return state

    # -- errors -------------------------------------------------------------

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        # A refused request is an answer, not a server fault: one line, no traceback.
        if isinstance(value, PiqError | ApiError | ServerStopping):
            self.log.info("%s %s: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        headers: dict[str, str] = {}
        if isinstance(exc, PiqError):
            status, body = exc.http_status, api.Error.of(exc.code, exc.message, exc.details)
            if isinstance(exc, JobNotCompleted):
                headers["Retry-After"] = str(RESULT_RETRY_AFTER_S)
        elif isinstance(exc, ApiError):
            status = exc.status_code
            body = api.Error.of(exc.code, exc.message, exc.details)
            headers = exc.headers
        elif isinstance(exc, ServerStopping):
            status, body = 503, api.Error.of("unavailable", str(exc))
            headers["Retry-After"] = str(STOPPING_RETRY_AFTER_S)
        elif isinstance(exc, web.HTTPError):
            status = exc.status_code
            code = _HTTP_CODES.get(status, "internal_error" if status >= 500 else "invalid_request")
            message = exc.log_message or exc.reason or responses.get(status, "error")
            body = api.Error.of(code, message)
        else:
            status = 500
            body = api.Error.of("internal_error", "the server failed to handle this request")
        self.clear()
        self.set_status(status)
        # send_error cleared every header. Jupyter's CORS ones are set again, so a
        # page that may read the answers may read this one, and the rate limiter's,
        # so a refused request (which was counted) tells the client its budget too.
        if hasattr(self, "_jupyter_current_user"):  # set once prepare knows who asks
            self.set_cors_headers()
        for name, value in {**(self._rate_limit_headers or {}), **headers}.items():
            self.set_header(name, value)
        self.set_header("Content-Type", "application/json")
        self.finish(api.render(body))

    # -- requests -----------------------------------------------------------

    def set_cors_headers(self) -> None:
        """Jupyter's CORS headers, less the empty ``Access-Control-Allow-Origin`` it
        sends a token-authenticated request that came with no ``Origin``."""
        super().set_cors_headers()
        if not self._headers.get("Access-Control-Allow-Origin"):
            self.clear_header("Access-Control-Allow-Origin")

    def check_xsrf_cookie(self) -> None:
        """A request with no signed-in user has no session to forge: it goes on to
        ``authenticated`` (401) or to a public route, not to an XSRF 403. A request
        signed in by a cookie without its XSRF token is refused saying so, both
        where Jupyter checks the token after finding the user and where the
        identity provider (JupyterHub's) checks it first, and then finds nobody."""
        if hasattr(self, "_jupyter_current_user") and not self._jupyter_current_user:
            return
        try:
            super().check_xsrf_cookie()
        except web.HTTPError as exc:
            if "xsrf" not in (exc.log_message or "").lower():
                raise  # another check (the origin, the referer) said no
            self._xsrf_refusal = xsrf_refusal(exc)
            raise self._xsrf_refusal from None

    def json_body(self) -> dict[str, Any]:
        """The request's JSON object, or 415 / 400 naming what is wrong."""
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise ApiError(
                415,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            )
        limit = self.state.max_json_bytes
        if len(self.request.body) > limit:
            raise ApiError(413, "payload_too_large", f"the body is over the limit of {limit} bytes")
        try:
            body = json.loads(self.request.body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
        except RecursionError:  # nested past what the parser follows
            raise api.too_deep() from None
        api.check_body(body)
        if not isinstance(body, dict):
            raise ValidationError(
                "the body must be a JSON object",
                errors=[{"field": "body", "message": "must be a JSON object"}],
            )
        return body

    def decode_argument(self, value: bytes, name: str | None = None) -> str:
        """Every path and query argument, as text that can be stored and searched
        for (tornado itself refuses bytes that are not UTF-8)."""
        text = super().decode_argument(value, name)
        return check_text(text, name or "path")

    def query_int(self, name: str, default: int) -> int:
        value = self.get_query_argument(name, None)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise ValidationError(
                f"{name} must be a whole number, got {value!r}",
                errors=[{"field": name, "message": "must be a whole number"}],
            ) from None

    def apply_rate_limit(self) -> None:
        # Counted per person as the job system knows them: a token-only server
        # names every token request a new random anonymous user, which would
        # give each request a fresh budget.
        key = self.state.identity.username_for(self.current_user)
        decision = self.state.limiter.take(key)
        self._rate_limit_headers = {
            "X-RateLimit-Limit": str(decision.limit),
            "X-RateLimit-Remaining": str(decision.remaining),
            "X-RateLimit-Reset": str(decision.reset_epoch),
        }
        for name, value in self._rate_limit_headers.items():
            self.set_header(name, value)
        if not decision.allowed:
            raise ApiError(
                429,
                "rate_limited",
                f"too many requests; try again in {decision.retry_after} s",
                details={"retry_after": decision.retry_after},
                headers={
                    "Retry-After": str(decision.retry_after),
                    "X-RateLimit-Limit": str(decision.limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(decision.reset_epoch),
                },
            )

    # -- identity and the service -------------------------------------------

    async def actor(self) -> Actor:
        """The job system's view of the Jupyter user making this request."""
        return await self.state.identity.actor_for(self.current_user)

    async def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking service call on the extension's thread pool."""
        return await self.state.run(function, *args, **kwargs)

    def finish(self, *args: Any, **kwargs: Any) -> Any:
        # Jupyter's API handlers label every response JSON; ours may be CSV, HTML
        # or a file, labelled before finishing.
        kwargs.setdefault("set_content_type", self._headers.get("Content-Type", "application/json"))
        return super().finish(*args, **kwargs)

    # -- responses ----------------------------------------------------------

    def send(self, resource: api.Resource, status: int = 200) -> None:
        self.send_json(api.render(resource), status)

    def send_json(self, text: str, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(text)

    async def read_job(self, actor: Actor, job: str | Callable[[], str | Job]) -> tuple[str, str]:
        """The job's id, and the job as ``actor`` may see it (named submitter and
        all) as JSON. ``job`` is its id, or a change that gives it (a submit, a
        retry), by id or as the job it made: the change, the read and the rendering
        take one trip to the pool, and a job the actor made is rendered as made."""
        service = self.state.service

        def job_json() -> tuple[str, str]:
            changed = job() if callable(job) else job
            if isinstance(changed, Job):
                view, names = service.named_view(actor, changed)
            else:
                view, names = service.get_named(actor, changed)
            return view.job.id, api.render(api.Job.of(view, names))

        return await self.call(job_json)

    async def send_job(
        self, actor: Actor, job: str | Callable[[], str | Job], *, status: int = 200
    ) -> None:
        """Answer with the job (see ``read_job``)."""
        _, text = await self.read_job(actor, job)
        self.send_json(text, status)

    async def stream(self, content: Path | bytes) -> None:
        """Send a file (or bytes) in pieces, flushing each, then finish."""
        if isinstance(content, bytes):
            for start in range(0, len(content), CHUNK_BYTES):
                self.write(content[start : start + CHUNK_BYTES])
                await self.flush()
        else:
            with open(content, "rb") as stream:
                while chunk := stream.read(CHUNK_BYTES):
                    self.write(chunk)
                    await self.flush()
        self.finish()
