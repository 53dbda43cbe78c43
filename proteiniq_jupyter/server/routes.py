"""The REST routes under ``{base_url}proteiniq/api/v1/``. Each is thin: read the
request, call one service method off the event loop, render the resource."""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.utils import url_path_join

from ..jobs.errors import NotFound, ValidationError
from ..jobs.model import JobInput
from ..jobs.ports import JobFilter
from ..jobs.status import JobStatus
from ..resources import (
    job_resource,
    list_resource,
    page_resource,
    result_resource,
    share_resource,
    status_resource,
)
from .base import PiqHandler, authenticated

API = "/proteiniq/api/v1"
JOB_ID = r"(?P<job_id>[A-Za-z0-9_\-]+)"


def api_url(handler: PiqHandler, *parts: str) -> str:
    return url_path_join(handler.base_url, "proteiniq", "api", "v1", *parts)


def public_url(handler: PiqHandler, job_id: str) -> str:
    return url_path_join(handler.base_url, "proteiniq", "public", "jobs", job_id)


#: Where an input's content may come from, and the field each kind must name.
_SOURCE_FIELDS = {"text": None, "file": "file_id", "pdb": "id"}


def _source_problem(source: object) -> tuple[str, str] | None:
    """(where in ``source``, what is wrong) with an input's source, if anything."""
    if not isinstance(source, dict):
        return "", "must be an object"
    kind = source.get("type", "text")
    if kind not in _SOURCE_FIELDS:
        return ".type", f"must be one of {', '.join(_SOURCE_FIELDS)}, not {kind!r}"
    needed = _SOURCE_FIELDS[kind]
    if needed is not None and not isinstance(source.get(needed), str):
        return f".{needed}", f"must be a string for a {kind} source"
    return None


def parse_inputs(body: dict[str, Any]) -> list[JobInput]:
    """``input.inputs[]`` of a submission, each checked for its shape."""
    raw = (body.get("input") or {}).get("inputs") if isinstance(body.get("input"), dict) else None
    if not isinstance(raw, list):
        raise ValidationError(
            "input.inputs must be a list of input items",
            errors=[{"field": "input.inputs", "message": "must be a list"}],
        )
    errors = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            errors.append({"field": f"input.inputs[{index}]", "message": "must be an object"})
            continue
        for key in ("slotId", "content"):
            if not isinstance(item.get(key), str):
                errors.append(
                    {"field": f"input.inputs[{index}].{key}", "message": "must be a string"}
                )
        # Optional, but text when given: a number or a list would be stored as
        # is (label) or as its Python repr (the others) and come back so.
        for key in ("id", "kind", "format", "label"):
            if item.get(key) is not None and not isinstance(item[key], str):
                errors.append(
                    {"field": f"input.inputs[{index}].{key}", "message": "must be a string"}
                )
        source = item.get("source")
        if source is not None:
            problem = _source_problem(source)
            if problem is not None:
                errors.append(
                    {"field": f"input.inputs[{index}].source{problem[0]}", "message": problem[1]}
                )
    if errors:
        raise ValidationError(
            "; ".join(f"{e['field']} {e['message']}" for e in errors), errors=errors
        )
    return [JobInput.from_api(item) for item in raw]


def settings_of(body: dict[str, Any]) -> dict[str, Any] | None:
    settings = body.get("settings")
    if settings is not None and not isinstance(settings, dict):
        raise ValidationError(
            "settings must be an object",
            errors=[{"field": "settings", "message": "must be an object"}],
        )
    return settings


def tool_of(body: dict[str, Any]) -> str:
    tool = body.get("tool")
    if not isinstance(tool, str) or not tool:
        raise ValidationError(
            "tool is required", errors=[{"field": "tool", "message": "a tool id is required"}]
        )
    return tool


def optional_name(body: dict[str, Any]) -> str | None:
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise ValidationError(
            "name must be a string", errors=[{"field": "name", "message": "must be a string"}]
        )
    return name


class AccountHandler(PiqHandler):
    @authenticated
    async def get(self) -> None:
        actor = await self.actor()
        account = await self.call(self.state.service.account, actor)
        self.send(account.to_api())


class ToolsHandler(PiqHandler):
    @authenticated
    async def get(self) -> None:
        tools = [tool.summary() for tool in self.state.engine.tools]
        self.send(list_resource(tools, None))


class ToolHandler(PiqHandler):
    @authenticated
    async def get(self, tool_id: str) -> None:
        self.send(self.state.engine.tools.get(tool_id).detail())


class QuoteHandler(PiqHandler):
    @authenticated
    async def post(self) -> None:
        body = self.json_body()
        actor = await self.actor()
        quote = await self.call(
            self.state.service.quote, actor, tool_of(body), parse_inputs(body), settings_of(body)
        )
        self.send(quote.to_api())


class JobsHandler(PiqHandler):
    @authenticated
    async def get(self) -> None:
        statuses = []
        for value in self.get_query_arguments("status"):
            for part in value.split(","):
                try:
                    statuses.append(JobStatus(part.strip().upper()))
                except ValueError:
                    raise ValidationError(
                        f"unknown status {part!r}",
                        errors=[{"field": "status", "message": f"unknown status {part!r}"}],
                    ) from None
        job_filter = JobFilter(
            tool=self.get_query_argument("tool", None),
            statuses=tuple(statuses),
            submitter_id=self.get_query_argument("submitter", None),
            name_contains=self.get_query_argument("q", None),
            batch_id=self.get_query_argument("batch", None),
        )
        actor = await self.actor()
        if self.get_query_argument("mine", "") in ("1", "true"):
            job_filter = JobFilter(**{**job_filter.__dict__, "submitter_id": actor.user_id})
        starting_after = self.get_query_argument("starting_after", None)
        limit = self.query_int("limit", 20)
        service = self.state.service

        def page_json() -> str:
            # One trip to the pool for the page, the names and the JSON: every trip
            # is two thread switches, the biggest cost of a page on a busy machine.
            page = service.list_jobs(actor, job_filter, starting_after=starting_after, limit=limit)
            return json.dumps(page_resource(page, service.usernames(actor)), default=str)

        body = await self.call(page_json)
        self.set_header("Content-Type", "application/json")
        self.finish(body)

    @authenticated
    async def post(self) -> None:
        body = self.json_body()
        key = self.request.headers.get("Idempotency-Key") or self.request.headers.get(
            "X-Idempotency-Key"
        )
        actor = await self.actor()
        job = await self.call(
            self.state.service.submit,
            actor,
            tool_of(body),
            parse_inputs(body),
            settings_of(body),
            name=optional_name(body),
            idempotency_key=key,
        )
        view = await self.call(self.state.service.get, actor, job.id)
        usernames = await self.call(self.state.service.usernames, actor)
        self.set_header("Location", api_url(self, "jobs", job.id))
        self.send(job_resource(view, usernames), status=201)


class JobHandler(PiqHandler):
    @authenticated
    async def get(self, job_id: str) -> None:
        actor = await self.actor()
        view = await self.call(self.state.service.get, actor, job_id)
        usernames = await self.call(self.state.service.usernames, actor)
        self.send(job_resource(view, usernames))

    @authenticated
    async def patch(self, job_id: str) -> None:
        body = self.json_body()
        unknown = sorted(set(body) - {"name"})
        if unknown or "name" not in body:
            raise ValidationError(
                "only the name of a job can be changed",
                errors=[{"field": k, "message": "cannot be changed"} for k in unknown]
                or [{"field": "name", "message": "required"}],
            )
        name = body["name"]
        if not isinstance(name, str):
            raise ValidationError(
                "name must be a string", errors=[{"field": "name", "message": "must be a string"}]
            )
        actor = await self.actor()
        await self.call(self.state.service.rename, actor, job_id, name)
        view = await self.call(self.state.service.get, actor, job_id)
        usernames = await self.call(self.state.service.usernames, actor)
        self.send(job_resource(view, usernames))

    @authenticated
    async def delete(self, job_id: str) -> None:
        actor = await self.actor()
        await self.call(self.state.service.delete, actor, job_id)
        self.send({"id": job_id, "object": "job", "deleted": True})


class JobActionHandler(PiqHandler):
    """POST jobs/{id}/cancel, retry and duplicate."""

    @authenticated
    async def post(self, job_id: str, action: str) -> None:
        actor = await self.actor()
        service = self.state.service
        if action == "cancel":
            await self.call(service.cancel, actor, job_id)
            target = job_id
        elif action == "retry":
            target = (await self.call(service.retry, actor, job_id)).id
        else:
            body = self.json_body() if self.request.body else {}
            job = await self.call(
                service.duplicate,
                actor,
                job_id,
                settings=settings_of(body),
                name=optional_name(body),
            )
            target = job.id
        view = await self.call(service.get, actor, target)
        usernames = await self.call(service.usernames, actor)
        self.send(job_resource(view, usernames), status=200 if action == "cancel" else 201)


class JobStatusHandler(PiqHandler):
    @authenticated
    async def get(self, job_id: str) -> None:
        actor = await self.actor()
        view = await self.call(self.state.service.get, actor, job_id)
        self.send(status_resource(view.job))


class ResultHandler(PiqHandler):
    @authenticated
    async def get(self, job_id: str) -> None:
        actor = await self.actor()
        job = await self.call(self.state.service.result, actor, job_id)
        files_url = api_url(self, "jobs", job_id, "files", "{name}")
        self.send(result_resource(job, files_url))


class ExportHandler(PiqHandler):
    @authenticated
    async def get(self, job_id: str) -> None:
        fmt = self.get_query_argument("format", "json")
        actor = await self.actor()
        text = await self.call(self.state.service.export, actor, job_id, fmt)
        content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
        self.set_header("Content-Type", content_type)
        self.set_header("Content-Disposition", f'attachment; filename="{job_id}.{fmt}"')
        data = text.encode("utf-8")
        chunk = 64 * 1024
        for start in range(0, len(data), chunk):
            self.write(data[start : start + chunk])
            await self.flush()
        self.finish()


class ShareHandler(PiqHandler):
    @authenticated
    async def get(self, job_id: str) -> None:
        actor = await self.actor()
        share = await self.call(self.state.service.get_share, actor, job_id)
        self.send(share_resource(share, self._public(share)))

    @authenticated
    async def put(self, job_id: str) -> None:
        body = self.json_body()
        invite = body.get("invite", body.get("invited_emails", []))
        uninvite = body.get("uninvite", [])
        for field, value in (("invite", invite), ("uninvite", uninvite)):
            if not isinstance(value, list) or not all(isinstance(e, str) for e in value):
                raise ValidationError(
                    f"{field} must be a list of emails",
                    errors=[{"field": field, "message": "must be a list of emails"}],
                )
        actor = await self.actor()
        share = await self.call(
            self.state.service.share,
            actor,
            job_id,
            body.get("visibility"),
            invite=invite,
            uninvite=uninvite,
        )
        self.send(share_resource(share, self._public(share)))

    def _public(self, share: Any) -> str | None:
        return public_url(self, share.job_id) if str(share.visibility) == "public" else None


class JobFileHandler(PiqHandler):
    """One output file of a job (what ``results/{id}`` lists)."""

    @authenticated
    async def get(self, job_id: str, name: str) -> None:
        actor = await self.actor()
        path, entry = await self.call(self.state.service.job_file, actor, job_id, name)
        self.set_header("Content-Type", entry.content_type)
        if self.get_query_argument("download", "1") != "0":
            self.set_header("Content-Disposition", f'attachment; filename="{entry.name}"')
        with open(path, "rb") as stream:
            while chunk := stream.read(64 * 1024):
                self.write(chunk)
                await self.flush()
        self.finish()


class BatchesHandler(PiqHandler):
    @authenticated
    async def get(self) -> None:
        actor = await self.actor()
        summaries, cursor = await self.call(
            self.state.service.list_batches,
            actor,
            starting_after=self.get_query_argument("starting_after", None),
            limit=self.query_int("limit", 20),
        )
        self.send(list_resource((s.to_api() for s in summaries), cursor))

    @authenticated
    async def post(self) -> None:
        body = self.json_body()
        if "items" not in body and "input" in body:
            actor = await self.actor()
            summary = await self.call(
                self.state.service.submit_batch_input,
                actor,
                tool_of(body),
                parse_inputs(body),
                settings_of(body),
                name=optional_name(body),
            )
            self.send(summary.to_api(), status=201)
            return
        items = body.get("items")
        if not isinstance(items, list) or not items:
            raise ValidationError(
                "items must be a non-empty list, each with its own input.inputs (or give "
                "one input for the tool to split)",
                errors=[{"field": "items", "message": "must be a non-empty list"}],
            )
        parsed = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise ValidationError(
                    f"items[{index}] must be an object",
                    errors=[{"field": f"items[{index}]", "message": "must be an object"}],
                )
            try:
                parsed.append(parse_inputs(item))
            except ValidationError as exc:
                # Name the field where it is in this body: items[i].input...
                errors = [{**e, "field": f"items[{index}].{e['field']}"} for e in exc.errors]
                raise ValidationError(
                    "; ".join(f"{e['field']} {e['message']}" for e in errors), errors=errors
                ) from None
        actor = await self.actor()
        summary = await self.call(
            self.state.service.submit_batch,
            actor,
            tool_of(body),
            parsed,
            settings_of(body),
            name=optional_name(body),
        )
        self.send(summary.to_api(), status=201)


class BatchHandler(PiqHandler):
    @authenticated
    async def get(self, batch_id: str) -> None:
        actor = await self.actor()
        summary = await self.call(self.state.service.get_batch, actor, batch_id)
        self.send(summary.to_api())


class BatchActionHandler(PiqHandler):
    @authenticated
    async def post(self, batch_id: str, action: str) -> None:
        actor = await self.actor()
        if action == "cancel":
            summary = await self.call(self.state.service.cancel_batch, actor, batch_id)
            self.send(summary.to_api())
            return
        jobs = await self.call(self.state.service.retry_failed_children, actor, batch_id)
        summary = await self.call(self.state.service.get_batch, actor, batch_id)
        self.send({**summary.to_api(), "retried_job_ids": [j.id for j in jobs]}, status=201)


class NotFoundHandler(PiqHandler):
    """Anything else under the API prefix: the error envelope, not an HTML page."""

    @authenticated
    async def get(self, path: str) -> None:
        raise NotFound(f"no route {self.request.path}")

    post = put = patch = delete = get


def route_table() -> list[tuple[str, type[PiqHandler]]]:
    return [
        (rf"{API}/account", AccountHandler),
        (rf"{API}/tools", ToolsHandler),
        (rf"{API}/tools/(?P<tool_id>[A-Za-z0-9_.\-]+)", ToolHandler),
        (rf"{API}/jobs/quote", QuoteHandler),
        (rf"{API}/jobs", JobsHandler),
        (rf"{API}/jobs/{JOB_ID}", JobHandler),
        (rf"{API}/jobs/{JOB_ID}/(?P<action>cancel|retry|duplicate)", JobActionHandler),
        (rf"{API}/jobs/{JOB_ID}/status", JobStatusHandler),
        (rf"{API}/jobs/{JOB_ID}/export", ExportHandler),
        (rf"{API}/jobs/{JOB_ID}/share", ShareHandler),
        (rf"{API}/jobs/{JOB_ID}/files/(?P<name>[^/]+)", JobFileHandler),
        (rf"{API}/results/{JOB_ID}", ResultHandler),
        (rf"{API}/batches", BatchesHandler),
        (rf"{API}/batches/(?P<batch_id>[A-Za-z0-9_\-]+)", BatchHandler),
        (
            rf"{API}/batches/(?P<batch_id>[A-Za-z0-9_\-]+)/(?P<action>cancel|retry-failed)",
            BatchActionHandler,
        ),
    ]
